# Design: fast mode's convolution and max pooling (docs/SPEC.md, "Fast
# mode"), in the dtype of the network (float32 or float64), never
# materialising the whole `col`.
#
# - `col` is kept transposed, (C*FH*FW, n_block*OH*OW): each run of OW
#   outputs of one filter offset is then one contiguous copy (the book's
#   row layout makes it a copy of FW elements).
# - A layer's pass (conv_forward, conv_backward) walks
#   the batch in blocks of images whose `col` fits in cache (about 256
#   window positions, fastdl/fast.py's choice) with no Python call between
#   its steps: it unfolds a block into a scratch matrix, and one BLAS
#   product per block (np.matmul, passed in) gives the block's
#   (FN, n_block*OH*OW) output. Backward unfolds the block's `col` again
#   rather than keeping it (the whole `col` is the largest array of the
#   exact step), lays the block's `dout` out as (FN, n*OH*OW) (masked by a
#   fused ReLU, summing `db` in float64 in eight lanes), and sets the
#   block's images of `dx` from its `dcol` (W.T @ dout, in col's memory);
#   where padding makes the output larger than the input, fast.py has it
#   convolve the gradient with the flipped filters instead.
# - The `*_block` and `im2col_planes` entry points are a pass's steps, one
#   block each, on the same loops: the tests check each against the
#   reference, edge cases included.
# - A padded image is copied once into a scratch with its border of zeros,
#   so that unfolding and folding it back are plain runs of OW copies or
#   sums, with no test for the border (col2im sums into the scratch, then
#   copies its inside to `dx`). Stride-1 runs go in blocks of 8 elements
#   (copy_rows, add_rows), whole vectors for the book's widths.
# - Sums run in a fixed order for a given batch and block size, so results
#   are deterministic; they differ from the exact path's by rounding only.
# - Max pooling keeps each window's first arg-max as a uint8 offset inside
#   the window (NaN counts as the maximum), in the output's layout: an
#   eighth of the exact path's intp `arg_max`. The book's 2x2 windows are
#   compared with `>` alone, which vectorises (fastdl_pool22): a row of
#   windows where one may hold a NaN is done again by np.argmax's rule.
# - Convolution + ReLU + pooling fused (bias_relu_pool_block): the block's
#   product, still in cache, gets the bias and the ReLU in place and is
#   pooled at once, so the convolution's output is never stored; backward
#   (pool_gradient_block) scatters the pooled gradient straight into the
#   block's (FN, n*OH*OW) gradient matrix (2x2 windows that tile the image
#   write their four entries each, with bit-mask selects that vectorise).
#
# Single-threaded: the matrix products (BLAS) are the step's bulk and use
# BLAS's threads. The `def` wrappers validate shapes and ranges before
# `nogil`; fastdl/fast.py decides what reaches them.
from libc.stdlib cimport calloc, free
from libc.string cimport memset

cimport numpy as cnp

import numpy as np

cnp.import_array()

ctypedef fused real_t:
    float
    double

cdef extern from *:
    # Runs the compiler vectorises without first checking whether they
    # overlap (they never do: one is in a scratch matrix): a copy, a sum,
    # and the ReLU's mask (0 where the gate is <= 0; a NaN gate lets s through;
    # s read whatever the gate, so that the mask is a select, not a branch).
    """
    #if defined(__GNUC__) && !defined(__clang__)
    /* gcc would turn the copy into a call of memcpy, slower for runs of a few elements */
    #define FASTDL_INLINE_LOOP __attribute__((optimize("no-tree-loop-distribute-patterns")))
    #else
    #define FASTDL_INLINE_LOOP
    #endif
    #define FASTDL_RUNS(T) \
        static inline FASTDL_INLINE_LOOP void fastdl_copy_##T(T *__restrict__ d, const T *__restrict__ s, Py_ssize_t n) { \
            for (Py_ssize_t i = 0; i < n; i++) d[i] = s[i]; } \
        static inline void fastdl_mask_##T(T *__restrict__ d, const T *__restrict__ s, \
                                           const T *__restrict__ g, Py_ssize_t n) { \
            for (Py_ssize_t i = 0; i < n; i++) { T v = s[i]; d[i] = g[i] <= 0 ? (T)0 : v; } }
    FASTDL_RUNS(float)
    FASTDL_RUNS(double)
    /* `rows` runs of n elements from s to d (each ld_s and ld_d apart): copied, or added into d. Runs of
       n >= 8 go in blocks of 8 elements, which compile to whole vectors; a copy's last block overlaps the
       one before where 8 does not divide n, so that it has no loop's tail either */
    #define FASTDL_ROWS(T) \
        static inline void fastdl_copy_rows_##T(T *__restrict__ d, Py_ssize_t ld_d, const T *__restrict__ s, \
                                                Py_ssize_t ld_s, Py_ssize_t rows, Py_ssize_t n) { \
            Py_ssize_t r, i, k; \
            for (r = 0; r < rows; r++, d += ld_d, s += ld_s) { \
                if (n < 8) { \
                    for (i = 0; i < n; i++) d[i] = s[i]; \
                    continue; } \
                for (i = 0; i + 8 <= n; i += 8) \
                    for (k = 0; k < 8; k++) d[i + k] = s[i + k]; \
                if (i < n) \
                    for (k = n - 8; k < n; k++) d[k] = s[k]; } } \
        static inline void fastdl_add_rows_##T(T *__restrict__ d, Py_ssize_t ld_d, const T *__restrict__ s, \
                                               Py_ssize_t ld_s, Py_ssize_t rows, Py_ssize_t n) { \
            Py_ssize_t r, i, k; \
            for (r = 0; r < rows; r++, d += ld_d, s += ld_s) { \
                for (i = 0; i + 8 <= n; i += 8) \
                    for (k = 0; k < 8; k++) d[i + k] += s[i + k]; \
                for (; i < n; i++) d[i] += s[i]; } }
    FASTDL_ROWS(float)
    FASTDL_ROWS(double)
    /* 2x2 max pooling of one row of windows (rows r0, r1): each window's maximum and its offset, by `>` only,
       so that it vectorises; returns whether a window may hold a NaN (a sum is NaN), where `>` is not
       np.argmax's rule. The offsets are first kept as integers of T's width (I), 64 windows at a time:
       uint8 lanes would make a vector as many windows as the book's rows are wide, or more. */
    #define FASTDL_POOL22(T, I) \
        static inline int fastdl_pool22_##T(const T *__restrict__ r0, const T *__restrict__ r1, Py_ssize_t n, \
                                            T *__restrict__ out, unsigned char *__restrict__ arg) { \
            int nan = 0; \
            I best[64]; \
            for (Py_ssize_t i0 = 0; i0 < n; i0 += 64) { \
                Py_ssize_t k = n - i0 < 64 ? n - i0 : 64, i; \
                for (i = 0; i < k; i++) { \
                    Py_ssize_t x = 2 * (i0 + i); \
                    T a = r0[x], b = r0[x + 1], c = r1[x], d = r1[x + 1], m = a, s; \
                    I bi = 0; \
                    if (b > m) { m = b; bi = 1; } \
                    if (c > m) { m = c; bi = 2; } \
                    if (d > m) { m = d; bi = 3; } \
                    s = (a + b) + (c + d); \
                    nan |= s != s; \
                    out[i0 + i] = m; \
                    best[i] = bi; } \
                for (i = 0; i < k; i++) arg[i0 + i] = (unsigned char)best[i]; } \
            return nan; }
    FASTDL_POOL22(float, int)
    FASTDL_POOL22(double, long long)
    /* Selects written as bit masks (v & -(U)test): gcc compiles `test ? v : 0` on floats to branches, which
       random data mispredicts, and does not vectorise them. */
    #include <stdint.h>
    #include <string.h>
    #define FASTDL_BITS(T, U) \
        static inline U fastdl_bits_##T(T v) { U u; memcpy(&u, &v, sizeof u); return u; } \
        static inline T fastdl_value_##T(U u) { T v; memcpy(&v, &u, sizeof v); return v; }
    /* The sum in float64 of a run's values, 0 where a gate g is <= 0 (a NaN gate lets the value through)
       where g is given: eight partial sums (vector lanes), added pairwise at the end, a fixed order. */
    #define FASTDL_SUM(T, U) \
        static inline double fastdl_sum_##T(const T *__restrict__ s, const T *__restrict__ g, Py_ssize_t n) { \
            double a[8] = {0, 0, 0, 0, 0, 0, 0, 0}; \
            Py_ssize_t i = 0, k; \
            if (g == NULL) { \
                for (; i + 8 <= n; i += 8) \
                    for (k = 0; k < 8; k++) a[k] += s[i + k]; \
                for (k = 0; i < n; i++, k++) a[k] += s[i]; \
            } else { \
                for (; i + 8 <= n; i += 8) \
                    for (k = 0; k < 8; k++) \
                        a[k] += fastdl_value_##T(fastdl_bits_##T(s[i + k]) & -(U)!(g[i + k] <= 0)); \
                for (k = 0; i < n; i++, k++) \
                    a[k] += fastdl_value_##T(fastdl_bits_##T(s[i]) & -(U)!(g[i] <= 0)); } \
            return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7])); }
    /* The backward of a row of 2x2 windows, stride 2 (rows r0, r1 of the gradient): each window's gradient
       (0 where the pooled output p is <= 0, the ReLU's mask) at its maximum's offset a, 0 at the other three. */
    #define FASTDL_UNPOOL22(T, U) \
        static inline void fastdl_unpool22_##T(const T *__restrict__ g, const T *__restrict__ p, \
                                               const unsigned char *__restrict__ a, Py_ssize_t n, \
                                               T *__restrict__ r0, T *__restrict__ r1) { \
            for (Py_ssize_t i = 0; i < n; i++) { \
                U v = fastdl_bits_##T(g[i]) & -(U)!(p[i] <= 0), at = a[i]; \
                r0[2 * i] = fastdl_value_##T(v & -(U)(at == 0)); \
                r0[2 * i + 1] = fastdl_value_##T(v & -(U)(at == 1)); \
                r1[2 * i] = fastdl_value_##T(v & -(U)(at == 2)); \
                r1[2 * i + 1] = fastdl_value_##T(v & -(U)(at == 3)); } }
    /* d = max(s + bias, 0) as the book's ReLU has it: 0 where s + bias <= 0, a NaN kept; or d in place */
    #define FASTDL_BIAS_RELU(T, U) \
        static inline T fastdl_relu_##T(T v) { return fastdl_value_##T(fastdl_bits_##T(v) & -(U)!(v <= 0)); } \
        static inline void fastdl_bias_relu_##T(T *__restrict__ d, const T *__restrict__ s, T bias, Py_ssize_t n) { \
            for (Py_ssize_t i = 0; i < n; i++) d[i] = fastdl_relu_##T(s[i] + bias); } \
        static inline void fastdl_bias_relu_inplace_##T(T *d, T bias, Py_ssize_t n) { \
            for (Py_ssize_t i = 0; i < n; i++) d[i] = fastdl_relu_##T(d[i] + bias); } \
        static inline void fastdl_add_bias_##T(T *__restrict__ d, const T *__restrict__ s, T bias, Py_ssize_t n) { \
            for (Py_ssize_t i = 0; i < n; i++) d[i] = s[i] + bias; }
    FASTDL_BITS(float, uint32_t)
    FASTDL_BITS(double, uint64_t)
    FASTDL_SUM(float, uint32_t)
    FASTDL_SUM(double, uint64_t)
    FASTDL_BIAS_RELU(float, uint32_t)
    FASTDL_BIAS_RELU(double, uint64_t)
    FASTDL_UNPOOL22(float, uint32_t)
    FASTDL_UNPOOL22(double, uint64_t)
    """
    void copy_float "fastdl_copy_float"(float* dst, const float* src, Py_ssize_t n) noexcept nogil
    void copy_double "fastdl_copy_double"(double* dst, const double* src, Py_ssize_t n) noexcept nogil
    void copy_rows_float "fastdl_copy_rows_float"(float* dst, Py_ssize_t ld_dst, const float* src, Py_ssize_t ld_src,
                                                  Py_ssize_t rows, Py_ssize_t n) noexcept nogil
    void copy_rows_double "fastdl_copy_rows_double"(double* dst, Py_ssize_t ld_dst, const double* src,
                                                    Py_ssize_t ld_src, Py_ssize_t rows, Py_ssize_t n) noexcept nogil
    void add_rows_float "fastdl_add_rows_float"(float* dst, Py_ssize_t ld_dst, const float* src, Py_ssize_t ld_src,
                                                Py_ssize_t rows, Py_ssize_t n) noexcept nogil
    void add_rows_double "fastdl_add_rows_double"(double* dst, Py_ssize_t ld_dst, const double* src,
                                                  Py_ssize_t ld_src, Py_ssize_t rows, Py_ssize_t n) noexcept nogil
    void mask_float "fastdl_mask_float"(float* dst, const float* src, const float* gate, Py_ssize_t n) noexcept nogil
    void mask_double "fastdl_mask_double"(double* dst, const double* src, const double* gate,
                                          Py_ssize_t n) noexcept nogil
    double sum_float "fastdl_sum_float"(const float* values, const float* gate, Py_ssize_t n) noexcept nogil
    double sum_double "fastdl_sum_double"(const double* values, const double* gate, Py_ssize_t n) noexcept nogil
    void bias_relu_float "fastdl_bias_relu_float"(float* dst, const float* src, float bias, Py_ssize_t n) noexcept nogil
    void bias_relu_double "fastdl_bias_relu_double"(double* dst, const double* src, double bias,
                                                    Py_ssize_t n) noexcept nogil
    void add_bias_float "fastdl_add_bias_float"(float* dst, const float* src, float bias, Py_ssize_t n) noexcept nogil
    void add_bias_double "fastdl_add_bias_double"(double* dst, const double* src, double bias,
                                                  Py_ssize_t n) noexcept nogil
    void bias_relu_inplace_float "fastdl_bias_relu_inplace_float"(float* run, float bias, Py_ssize_t n) noexcept nogil
    void bias_relu_inplace_double "fastdl_bias_relu_inplace_double"(double* run, double bias,
                                                                    Py_ssize_t n) noexcept nogil
    void unpool22_float "fastdl_unpool22_float"(const float* dout, const float* pooled, const unsigned char* arg,
                                                Py_ssize_t n, float* r0, float* r1) noexcept nogil
    void unpool22_double "fastdl_unpool22_double"(const double* dout, const double* pooled,
                                                  const unsigned char* arg, Py_ssize_t n, double* r0,
                                                  double* r1) noexcept nogil
    bint pool22_float "fastdl_pool22_float"(const float* r0, const float* r1, Py_ssize_t n, float* out,
                                            unsigned char* arg) noexcept nogil
    bint pool22_double "fastdl_pool22_double"(const double* r0, const double* r1, Py_ssize_t n, double* out,
                                              unsigned char* arg) noexcept nogil


cdef inline Py_ssize_t out_size(Py_ssize_t size, Py_ssize_t window, Py_ssize_t stride,
                                Py_ssize_t pad) noexcept nogil:
    return (size + 2 * pad - window) // stride + 1


def _check_block(Py_ssize_t n0, Py_ssize_t n1, Py_ssize_t N):
    if not 0 <= n0 < n1 <= N:
        raise ValueError(f"block [{n0}, {n1}) is not a non-empty range of the batch of {N}")


def _check_geometry(Py_ssize_t H, Py_ssize_t W, Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride, Py_ssize_t pad):
    if FH < 1 or FW < 1 or stride < 1 or pad < 0 or H + 2 * pad < FH or W + 2 * pad < FW:
        raise ValueError("window, stride or pad describe no window inside the padded image")


def _check_col(Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t n0, Py_ssize_t n1,
               Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t rows, Py_ssize_t cols):
    """``(OH, OW)`` after checking a block's range, the geometry and its `col`'s shape ``(rows, cols)``."""
    _check_block(n0, n1, N)
    _check_geometry(H, W, FH, FW, stride, pad)
    OH, OW = out_size(H, FH, stride, pad), out_size(W, FW, stride, pad)
    if rows != C * FH * FW or cols != (n1 - n0) * OH * OW:
        raise ValueError(f"col has shape ({rows}, {cols}), needs ({C * FH * FW}, {(n1 - n0) * OH * OW})")
    return OH, OW


cdef void pad_image(const real_t* img, Py_ssize_t cs, real_t* padded, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W,
                    Py_ssize_t pad) noexcept nogil:
    # IN img (C, H, W), its planes cs apart; OUT padded (C, H + 2*pad, W + 2*pad): img inside a border of zeros.
    # Only the inside is written: `padded` is a scratch of padding_scratch, zeros from the start, where
    # nothing else writes (unfolding reads it; folding sums in a scratch of its own).
    cdef Py_ssize_t WP = W + 2 * pad, HP = H + 2 * pad, c
    for c in range(C):
        if real_t is float:
            copy_rows_float(padded + (c * HP + pad) * WP + pad, WP, img + c * cs, W, H, W)
        else:
            copy_rows_double(padded + (c * HP + pad) * WP + pad, WP, img + c * cs, W, H, W)


cdef void windows_image(real_t* img, Py_ssize_t cs, real_t* col, Py_ssize_t ld, Py_ssize_t C, Py_ssize_t HP,
                        Py_ssize_t WP, Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride, Py_ssize_t OH, Py_ssize_t OW,
                        bint fold) noexcept nogil:
    # img (C, HP, WP), padded, its planes cs apart; col (C*FH*FW, OH*OW) with rows ld apart: row (c, y, x),
    # column (oy, ox), `col` transposed, so that each run of OW outputs is a run of one row of the image.
    # Unfold (im2col: OUT col, IN img) or, with `fold`, add each window back (col2im: IN col, IN/OUT img).
    cdef Py_ssize_t c, y, x, _oy, ox
    cdef real_t* at_img
    cdef real_t* at_col
    for c in range(C):
        for y in range(FH):
            for x in range(FW):
                at_img = img + c * cs + y * WP + x
                at_col = col + ((c * FH + y) * FW + x) * ld
                if stride == 1:  # runs of OW, WP apart in the image, one after another in `col`
                    if real_t is float:
                        if fold:
                            add_rows_float(at_img, WP, at_col, OW, OH, OW)
                        else:
                            copy_rows_float(at_col, OW, at_img, WP, OH, OW)
                    elif fold:
                        add_rows_double(at_img, WP, at_col, OW, OH, OW)
                    else:
                        copy_rows_double(at_col, OW, at_img, WP, OH, OW)
                    continue
                for _oy in range(OH):
                    for ox in range(OW):
                        if fold:
                            at_img[ox * stride] += at_col[ox]
                        else:
                            at_col[ox] = at_img[ox * stride]
                    at_img += stride * WP
                    at_col += OW


cdef real_t* padding_scratch(Py_ssize_t C, Py_ssize_t H, Py_ssize_t W, Py_ssize_t pad, real_t* of_type) except? NULL:
    """A padded image's memory (C, H + 2*pad, W + 2*pad), zeros, for the caller to free, or NULL without ``pad``.

    ``of_type`` only selects the element type.
    """
    if pad == 0:
        return NULL
    cdef real_t* scratch = <real_t*>calloc(C * (H + 2 * pad) * (W + 2 * pad), sizeof(real_t))
    if scratch == NULL:
        raise MemoryError()
    return scratch


cdef void unfold_image(const real_t* img, Py_ssize_t cs, real_t* col, Py_ssize_t ld, Py_ssize_t C, Py_ssize_t H,
                       Py_ssize_t W, Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t OH,
                       Py_ssize_t OW, real_t* padded) noexcept nogil:
    # IN img (C, H, W), its planes cs apart; OUT col (C*FH*FW, OH*OW), rows ld apart; `padded` the scratch
    # (padding_scratch) where pad > 0.
    if pad == 0:
        windows_image(<real_t*>img, cs, col, ld, C, H, W, FH, FW, stride, OH, OW, False)  # (reads img only)
    else:
        pad_image(img, cs, padded, C, H, W, pad)
        windows_image(padded, (H + 2 * pad) * (W + 2 * pad), col, ld, C, H + 2 * pad, W + 2 * pad, FH, FW, stride,
                      OH, OW, False)


def im2col_block(const real_t[:, :, :, ::1] x, Py_ssize_t n0, Py_ssize_t n1, Py_ssize_t FH, Py_ssize_t FW,
                 Py_ssize_t stride, Py_ssize_t pad, real_t[:, ::1] col):
    """Unfold the windows of images ``n0..n1-1`` of ``x`` into ``col``, transposed.

    IN x (N, C, H, W); OUT col (C*FH*FW, (n1-n0)*OH*OW): ``col[(c, y, x), (n-n0, oy, ox)]``.
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3], OH, OW
    OH, OW = _check_col(N, C, H, W, n0, n1, FH, FW, stride, pad, col.shape[0], col.shape[1])
    cdef real_t* padded = padding_scratch(C, H, W, pad, &col[0, 0])
    with nogil:
        unfold_block(x, n0, n1, &col[0, 0], col.shape[1], FH, FW, stride, pad, OH, OW, padded)
        free(padded)


def im2col_planes(const real_t[:, ::1] planes, Py_ssize_t H, Py_ssize_t W, Py_ssize_t FH, Py_ssize_t FW,
                  Py_ssize_t pad, real_t[:, ::1] col):
    """``im2col_block`` (stride 1) of a block laid out by channel, as ``gradient_block`` writes one.

    IN planes (C, nb*H*W): image n's channel c at ``planes[c, n*H*W:(n+1)*H*W]``;
    OUT col (C*FH*FW, nb*OH*OW), as ``im2col_block`` lays it out.
    """
    cdef Py_ssize_t C = planes.shape[0], n, OH, OW, nb = planes.shape[1] // (H * W) if H > 0 and W > 0 else 0
    if H < 1 or W < 1 or nb < 1 or planes.shape[1] != nb * H * W:
        raise ValueError(f"planes of shape ({C}, {planes.shape[1]}) do not hold whole {H} x {W} images")
    OH, OW = _check_col(nb, C, H, W, 0, nb, FH, FW, 1, pad, col.shape[0], col.shape[1])
    cdef Py_ssize_t P = OH * OW
    cdef real_t* padded = padding_scratch(C, H, W, pad, &col[0, 0])
    with nogil:
        for n in range(nb):
            unfold_image(&planes[0, 0] + n * H * W, nb * H * W, &col[0, 0] + n * P, col.shape[1], C, H, W, FH, FW,
                         1, pad, OH, OW, padded)
        free(padded)


cdef inline double run_sum(const real_t* run, const real_t* gate, Py_ssize_t n) noexcept nogil:
    # fastdl_sum: the sum of a run in float64 (0 where a given gate is <= 0), in a fixed order.
    if real_t is float:
        return sum_float(run, gate, n)
    else:
        return sum_double(run, gate, n)


cdef inline double gradient_run(real_t* dst, const real_t* src, const real_t* gate, bint masked,
                                Py_ssize_t n) noexcept nogil:
    # OUT dst = src, 0 where `masked` and gate <= 0 (a NaN gate lets src through); returns its run_sum.
    # The copy and the sum are separate loops: the copy vectorises (a compare and a mask, no branch).
    if masked:
        if real_t is float:
            mask_float(dst, src, gate, n)
        else:
            mask_double(dst, src, gate, n)
    elif real_t is float:
        copy_float(dst, src, n)
    else:
        copy_double(dst, src, n)
    return run_sum(dst, NULL, n)


cdef void gradient_rows(const real_t* dout, const real_t* gate, bint masked, Py_ssize_t nb, Py_ssize_t FN,
                        Py_ssize_t P, real_t* block, Py_ssize_t ld, double* db) noexcept nogil:
    # IN dout, gate (nb, FN, P); OUT block (FN, nb*P), rows ld apart; IN/OUT db (FN,): gradient_block's loop.
    cdef Py_ssize_t n, f
    cdef double s
    for f in range(FN):
        s = 0.0
        for n in range(nb):
            s += gradient_run(block + f * ld + n * P, dout + (n * FN + f) * P, gate + (n * FN + f) * P, masked, P)
        db[f] += s


def gradient_block(const real_t[:, :, ::1] dout, const real_t[:, :, ::1] relu_out, bint masked,
                   Py_ssize_t n0, Py_ssize_t n1, real_t[:, ::1] block, double[::1] db):
    """Images ``n0..n1-1`` of ``dout`` as the block's ``(FN, n*P)`` matrix; their sum over images and positions added to ``db``.

    IN dout (N, FN, P), relu_out (N, FN, P): where ``masked``, the entries
    whose ``relu_out`` is ``<= 0`` count as 0 (a fused ReLU's backward; a
    NaN output lets the gradient through, as the book's mask does);
    OUT block (FN, (n1-n0)*P); IN/OUT db (FN,) float64.
    """
    cdef Py_ssize_t N = dout.shape[0], FN = dout.shape[1], P = dout.shape[2]
    _check_block(n0, n1, N)
    if (relu_out.shape[0] != N or relu_out.shape[1] != FN or relu_out.shape[2] != P or block.shape[0] != FN
            or block.shape[1] != (n1 - n0) * P or db.shape[0] != FN):
        raise ValueError("dout, relu_out, block and db do not fit together")
    with nogil:
        gradient_rows(&dout[n0, 0, 0], &relu_out[n0, 0, 0], masked, n1 - n0, FN, P, &block[0, 0], block.shape[1],
                      &db[0])


cdef void fold_images(const real_t* col, Py_ssize_t ld, real_t* dx, Py_ssize_t nb, Py_ssize_t C, Py_ssize_t H,
                      Py_ssize_t W, Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t OH,
                      Py_ssize_t OW, real_t* padded) noexcept nogil:
    # IN col (C*FH*FW, nb*OH*OW), rows ld apart; OUT dx (nb, C, H, W): col2im_block's loop (`padded` the
    # scratch where pad > 0).
    cdef Py_ssize_t P = OH * OW, WP = W + 2 * pad, n, c
    cdef real_t* image
    cdef real_t* inside
    for n in range(nb):
        image = dx + n * C * H * W
        if padded == NULL:
            memset(image, 0, C * H * W * sizeof(real_t))
            windows_image(image, H * W, <real_t*>col + n * P, ld, C, H, W, FH, FW, stride, OH, OW, True)
            continue
        # Summed in the padded scratch, whose inside is then the image's.
        memset(padded, 0, C * (H + 2 * pad) * WP * sizeof(real_t))
        windows_image(padded, (H + 2 * pad) * WP, <real_t*>col + n * P, ld, C, H + 2 * pad, WP, FH, FW, stride,
                      OH, OW, True)
        for c in range(C):
            inside = padded + (c * (H + 2 * pad) + pad) * WP + pad
            if real_t is float:
                copy_rows_float(image + c * H * W, W, inside, WP, H, W)
            else:
                copy_rows_double(image + c * H * W, W, inside, WP, H, W)


def col2im_block(const real_t[:, ::1] col, real_t[:, :, :, ::1] dx, Py_ssize_t n0, Py_ssize_t n1,
                 Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride, Py_ssize_t pad):
    """Set images ``n0..n1-1`` of ``dx`` to the sums of their windows in ``col`` (laid out as ``im2col_block`` writes them).

    IN col (C*FH*FW, (n1-n0)*OH*OW); OUT dx (N, C, H, W): images ``n0..n1-1``.
    Each pixel's windows are summed from +0.0, in the order of the rows of ``col``.
    """
    cdef Py_ssize_t N = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3], OH, OW
    OH, OW = _check_col(N, C, H, W, n0, n1, FH, FW, stride, pad, col.shape[0], col.shape[1])
    cdef real_t* padded = padding_scratch(C, H, W, pad, &dx[0, 0, 0, 0])
    with nogil:
        fold_images(&col[0, 0], col.shape[1], &dx[n0, 0, 0, 0], n1 - n0, C, H, W, FH, FW, stride, pad, OH, OW,
                    padded)
        free(padded)


cdef inline bint takes(real_t v, real_t m) noexcept nogil:
    # v replaces the maximum so far m: larger, or the first NaN (np.argmax's rule)
    return (v > m) | ((v != v) & (m == m))


cdef void pool_row(const real_t* row, Py_ssize_t W, Py_ssize_t OW, Py_ssize_t pool_h, Py_ssize_t pool_w,
                   Py_ssize_t stride, real_t* out, unsigned char* arg) noexcept nogil:
    # IN row: the window's first input row, of W pixels (pool_h rows follow, W apart);
    # OUT out (OW,), arg (OW,): each window's first maximum and its offset y*pool_w + x
    cdef Py_ssize_t ox, y, x
    cdef real_t m, v
    cdef unsigned char best
    if pool_h == 2 and pool_w == 2 and stride == 2:  # the book's networks' pooling, vectorised
        if real_t is float:
            if not pool22_float(row, row + W, OW, out, arg):
                return
        elif not pool22_double(row, row + W, OW, out, arg):
            return
        # a NaN (or inf - inf) in some window: the rule below, which np.argmax's is
    for ox in range(OW):
        m = row[ox * stride]
        best = 0
        for y in range(pool_h):
            for x in range(pool_w):
                v = row[y * W + ox * stride + x]
                if takes(v, m):
                    m = v
                    best = <unsigned char>(y * pool_w + x)
        out[ox] = m
        arg[ox] = best


cdef void bias_rows(const real_t* prod, Py_ssize_t ld, const real_t* b, bint relu, Py_ssize_t nb, Py_ssize_t FN,
                    Py_ssize_t P, real_t* out) noexcept nogil:
    # IN prod (FN, nb*P), rows ld apart; OUT out (nb, FN, P) = prod + b, through the ReLU where `relu`.
    cdef Py_ssize_t n, f
    for n in range(nb):
        for f in range(FN):
            if real_t is float:
                if relu:
                    bias_relu_float(out + (n * FN + f) * P, prod + f * ld + n * P, b[f], P)
                else:
                    add_bias_float(out + (n * FN + f) * P, prod + f * ld + n * P, b[f], P)
            elif relu:
                bias_relu_double(out + (n * FN + f) * P, prod + f * ld + n * P, b[f], P)
            else:
                add_bias_double(out + (n * FN + f) * P, prod + f * ld + n * P, b[f], P)


def bias_relu_block(const real_t[:, ::1] prod, const real_t[::1] b, Py_ssize_t n0, real_t[:, :, ::1] out):
    """Convolution + bias + ReLU of a block: ``out[n0 + n, f] = max(0, prod[f, n*P:(n+1)*P] + b[f])``.

    IN prod (FN, nb*P), b (FN,); OUT out (N, FN, P): images ``n0..n0+nb-1``
    (0 where the sum is <= 0, a NaN kept, as the book's ReLU).
    """
    cdef Py_ssize_t FN = prod.shape[0], P = out.shape[2]
    cdef Py_ssize_t nb = prod.shape[1] // P if P > 0 else 0
    if (P < 1 or nb < 1 or prod.shape[1] != nb * P or b.shape[0] != FN or out.shape[1] != FN
            or not 0 <= n0 <= out.shape[0] - nb):
        raise ValueError("prod, b and out do not fit together")
    with nogil:
        bias_rows(&prod[0, 0], prod.shape[1], &b[0], True, nb, FN, P, &out[n0, 0, 0])


cdef void bias_relu_pool(real_t* prod, Py_ssize_t ld, const real_t* b, Py_ssize_t FN, Py_ssize_t nb, Py_ssize_t OH,
                         Py_ssize_t OW, Py_ssize_t pool_h, Py_ssize_t pool_w, Py_ssize_t stride, real_t* out,
                         unsigned char* arg, Py_ssize_t PH, Py_ssize_t PW) noexcept nogil:
    # IN/OUT prod (FN, nb*OH*OW), rows ld apart; OUT out, arg (nb, FN, PH, PW): bias_relu_pool_block's loop.
    cdef Py_ssize_t P = OH * OW, f, n, py
    cdef real_t* plane
    for f in range(FN):
        for n in range(nb):
            plane = prod + f * ld + n * P
            if real_t is float:
                bias_relu_inplace_float(plane, b[f], P)
            else:
                bias_relu_inplace_double(plane, b[f], P)
            for py in range(PH):
                pool_row(plane + py * stride * OW, OW, PW, pool_h, pool_w, stride,
                         out + ((n * FN + f) * PH + py) * PW, arg + ((n * FN + f) * PH + py) * PW)


def _pooled_size(Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t pool_h, Py_ssize_t pool_w, Py_ssize_t stride):
    """``(PH, PW)``, the pooled size of ``OH`` x ``OW`` maps, after checking the windows (at most 255 elements)."""
    if OH < 1 or OW < 1 or pool_h < 1 or pool_w < 1 or stride < 1 or pool_h > OH or pool_w > OW or pool_h * pool_w > 255:
        raise ValueError("pooling windows that do not fit the maps")
    return (OH - pool_h) // stride + 1, (OW - pool_w) // stride + 1


def _check_pool(Py_ssize_t FN, Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t pool_h, Py_ssize_t pool_w, Py_ssize_t stride,
                tuple out_shape, tuple arg_shape, Py_ssize_t n0, Py_ssize_t nb):
    """That ``out`` and ``arg`` hold images ``n0..n0+nb-1`` of pooling ``FN`` maps of ``OH`` x ``OW``."""
    if (OH < 1 or OW < 1 or pool_h < 1 or pool_w < 1 or stride < 1 or pool_h > OH or pool_w > OW
            or pool_h * pool_w > 255 or nb < 1 or len(out_shape) != 4 or out_shape[1] != FN
            or not 0 <= n0 <= out_shape[0] - nb or out_shape[2:] != _pooled_size(OH, OW, pool_h, pool_w, stride)
            or arg_shape != out_shape):
        raise ValueError("prod, b, out and arg do not fit together")


def bias_relu_pool_block(real_t[:, ::1] prod, const real_t[::1] b, Py_ssize_t n0, Py_ssize_t OH, Py_ssize_t OW,
                         Py_ssize_t pool_h, Py_ssize_t pool_w, Py_ssize_t stride,
                         real_t[:, :, :, ::1] out, unsigned char[:, :, :, ::1] arg):
    """Convolution + bias + ReLU + max pooling of a block: pool each image's ``max(0, prod + b)``.

    IN/OUT prod (FN, nb*OH*OW): the block's convolution, which gets the bias
    and the ReLU in place (a NaN stays, as the book's mask keeps it);
    b (FN,); OUT out (N, FN, PH, PW) and arg (same shape, uint8) for images
    ``n0..n0+nb-1``, as ``pool_forward`` computes them.
    """
    cdef Py_ssize_t FN = prod.shape[0], P = OH * OW
    cdef Py_ssize_t nb = prod.shape[1] // P if P > 0 else 0
    if P <= 0 or nb < 1 or prod.shape[1] != nb * P or b.shape[0] != FN:
        raise ValueError("prod, b, out and arg do not fit together")
    _check_pool(FN, OH, OW, pool_h, pool_w, stride, (out.shape[0], out.shape[1], out.shape[2], out.shape[3]),
                (arg.shape[0], arg.shape[1], arg.shape[2], arg.shape[3]), n0, nb)
    with nogil:
        bias_relu_pool(&prod[0, 0], prod.shape[1], &b[0], FN, nb, OH, OW, pool_h, pool_w, stride,
                       &out[n0, 0, 0, 0], &arg[n0, 0, 0, 0], out.shape[2], out.shape[3])


# Passes: a layer's whole forward or backward pass, block by block, as fastdl/fast.py runs it. The loop and
# the steps between the products run here, without a Python call per step; the products are `matmul`'s
# (np.matmul, BLAS), called with the block's columns of the scratch matrices (rows as far apart as in a
# whole block: `col_[:, :nb*P]`).

cdef tuple _pass_shapes(const real_t[:, :, :, ::1] x, filters, Py_ssize_t FN, Py_ssize_t FH, Py_ssize_t FW,
                        Py_ssize_t stride, Py_ssize_t pad, col_, prod_):
    """``(OH, OW, step)`` after checking a pass's arrays: col_ (C*FH*FW, step*OH*OW), prod_ (FN, step*OH*OW)."""
    _check_geometry(x.shape[2], x.shape[3], FH, FW, stride, pad)
    cdef Py_ssize_t OH = out_size(x.shape[2], FH, stride, pad), OW = out_size(x.shape[3], FW, stride, pad)
    cdef Py_ssize_t K = x.shape[1] * FH * FW, step = col_.shape[1] // (OH * OW)
    if (step < 1 or tuple(col_.shape) != (K, step * OH * OW) or tuple(prod_.shape) != (FN, step * OH * OW)
            or tuple(filters.shape) != (FN, K)):
        raise ValueError("filters and the scratch matrices do not fit x")
    return OH, OW, step


cdef void unfold_block(const real_t[:, :, :, ::1] x, Py_ssize_t n0, Py_ssize_t n1, real_t* col, Py_ssize_t ld,
                       Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride, Py_ssize_t pad, Py_ssize_t OH, Py_ssize_t OW,
                       real_t* padded) noexcept nogil:
    # im2col_block's loop: images n0..n1-1 of x into col, rows ld apart.
    cdef Py_ssize_t n
    for n in range(n0, n1):
        unfold_image(&x[n, 0, 0, 0], x.shape[2] * x.shape[3], col + (n - n0) * OH * OW, ld, x.shape[1], x.shape[2],
                     x.shape[3], FH, FW, stride, pad, OH, OW, padded)


def conv_forward(const real_t[:, :, :, ::1] x, filters, const real_t[::1] b, Py_ssize_t FH, Py_ssize_t FW,
                 Py_ssize_t stride, Py_ssize_t pad, col_, prod_, matmul, bint relu, Py_ssize_t pool_h,
                 Py_ssize_t pool_w, Py_ssize_t pool_stride, real_t[:, :, ::1] out, unsigned char[:, :, ::1] arg):
    """A Convolution's forward pass (and its ReLU's, where ``relu``) over the batch, in blocks of ``step`` images.

    IN x (N, C, H, W), filters (FN, C*FH*FW) (an array ``matmul`` multiplies), b (FN,); scratch col_
    (C*FH*FW, step*OH*OW), prod_ (FN, step*OH*OW); ``matmul(a, b, out=c)`` is ``np.matmul``.
    Without pooling (``pool_h == 0``): OUT out (N, FN, OH*OW) = ``filters @ im2col + b``, through the ReLU
    where ``relu`` (as ``bias_relu_block``); arg is not read. With pooling (the ReLU fused too): OUT out,
    arg (N, FN, PH*PW), as ``bias_relu_pool_block`` computes them.
    """
    cdef Py_ssize_t N = x.shape[0], FN = b.shape[0], OH, OW, step, n0, n1, PH = 0, PW = 0
    OH, OW, step = _pass_shapes(x, filters, FN, FH, FW, stride, pad, col_, prod_)
    if pool_h > 0:
        PH, PW = _pooled_size(OH, OW, pool_h, pool_w, pool_stride)
    cdef Py_ssize_t G = PH * PW if pool_h > 0 else OH * OW
    if out.shape[0] != N or out.shape[1] != FN or out.shape[2] != G:
        raise ValueError("out does not fit x and b")
    if pool_h > 0 and (arg.shape[0] != N or arg.shape[1] != FN or arg.shape[2] != G):
        raise ValueError("arg does not fit out")
    cdef real_t[:, ::1] col = col_
    cdef real_t[:, ::1] prod = prod_
    cdef real_t* padded = padding_scratch(x.shape[1], x.shape[2], x.shape[3], pad, &col[0, 0])
    try:
        for n0 in range(0, N, step):
            n1 = min(N, n0 + step)
            with nogil:
                unfold_block(x, n0, n1, &col[0, 0], col.shape[1], FH, FW, stride, pad, OH, OW, padded)
            matmul(filters, col_ if n1 - n0 == step else col_[:, :(n1 - n0) * OH * OW],
                   out=prod_ if n1 - n0 == step else prod_[:, :(n1 - n0) * OH * OW])
            with nogil:
                if pool_h > 0:
                    bias_relu_pool(&prod[0, 0], prod.shape[1], &b[0], FN, n1 - n0, OH, OW, pool_h, pool_w,
                                   pool_stride, &out[n0, 0, 0], &arg[n0, 0, 0], PH, PW)
                else:
                    bias_rows(&prod[0, 0], prod.shape[1], &b[0], relu, n1 - n0, FN, OH * OW, &out[n0, 0, 0])
    finally:
        free(padded)


cdef void add_part(double* acc, const real_t* part, Py_ssize_t n) noexcept nogil:
    # acc += part, in float64: a block's dW product into the pass's sum.
    cdef Py_ssize_t i
    for i in range(n):
        acc[i] += part[i]


def conv_backward(const real_t[:, :, :, ::1] x, filters, Py_ssize_t FH, Py_ssize_t FW, Py_ssize_t stride,
                  Py_ssize_t pad, col_, block_, part_, matmul, double[:, ::1] dW, double[::1] db,
                  const real_t[:, :, ::1] dout, const real_t[:, :, ::1] gate, bint masked,
                  const unsigned char[:, :, ::1] arg, Py_ssize_t pool_h, Py_ssize_t pool_w, Py_ssize_t pool_stride,
                  dx_, back_filters, windows_, product_):
    """A Convolution's backward pass over the batch, in the forward pass's blocks: ``dW``, ``db`` and ``dx``.

    IN x (N, C, H, W), filters (FN, C*FH*FW) as in ``conv_forward``; scratch col_ (C*FH*FW, step*OH*OW),
    block_ (FN, step*OH*OW), part_ (C*FH*FW, FN). The gradient: without pooling (``pool_h == 0``) dout
    (N, FN, OH*OW), masked by gate (the fused ReLU's output) where ``masked``, as ``gradient_block``;
    with pooling dout, gate (the pooled output) and arg (N, FN, PH*PW), as ``pool_gradient_block``.
    IN/OUT dW (C*FH*FW, FN) float64 += each block's ``col @ block.T``; db (FN,) float64 += the sums.
    OUT dx_ (N, C, H, W), where not None: ``col2im(filters.T @ block)`` where ``back_filters`` is None;
    else (stride 1) the convolution of the gradient, padded with FH-1-pad zeros, with ``back_filters``
    (C, FN*FH*FW), the flipped filters, its windows in windows_ (FN*FH*FW, step*H*W) (``im2col_planes``),
    product_ (C, step*H*W) its scratch for blocks of several images. arg's offsets are checked first.
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3], FN = filters.shape[0]
    cdef Py_ssize_t OH, OW, step, P, n0, n1, nb, PH = 0, PW = 0, back_pad = FH - 1 - pad
    cdef bint bad = False
    OH, OW, step = _pass_shapes(x, filters, FN, FH, FW, stride, pad, col_, block_)
    P = OH * OW
    if pool_h > 0:
        PH, PW = _pooled_size(OH, OW, pool_h, pool_w, pool_stride)
    cdef Py_ssize_t G = PH * PW if pool_h > 0 else P
    if (dout.shape[0] != N or dout.shape[1] != FN or dout.shape[2] != G or gate.shape[0] != N
            or gate.shape[1] != FN or gate.shape[2] != G
            or (pool_h > 0 and (arg.shape[0] != N or arg.shape[1] != FN or arg.shape[2] != G))
            or tuple(part_.shape) != (C * FH * FW, FN) or dW.shape[0] != C * FH * FW or dW.shape[1] != FN
            or db.shape[0] != FN):
        raise ValueError("dout, gate, arg, part, dW and db do not fit x and filters")
    cdef bint flipped = back_filters is not None
    if dx_ is not None and tuple(dx_.shape) != (N, C, H, W):
        raise ValueError("dx does not fit x")
    if flipped and (stride != 1 or FH != FW or not 0 <= pad < FH or tuple(back_filters.shape) != (C, FN * FH * FW)
                    or tuple(windows_.shape) != (FN * FH * FW, step * H * W)
                    or tuple(product_.shape) != (C, step * H * W)):
        raise ValueError("back_filters, windows and product do not fit")
    if pool_h > 0:
        with nogil:
            bad = offsets_outside(&arg[0, 0, 0], N * FN * G, pool_h * pool_w)
        if bad:
            raise ValueError("arg holds an offset outside the window")
    cdef real_t[:, ::1] col = col_
    cdef real_t[:, ::1] block = block_
    cdef real_t[:, ::1] part = part_
    cdef real_t[:, :, :, ::1] dx
    cdef real_t[:, ::1] windows
    if dx_ is not None:
        dx = dx_
    if flipped:
        windows = windows_
    filters_T = filters.T
    cdef real_t* padded = NULL
    cdef real_t* padded_back = NULL
    cdef real_t* sums = NULL  # fold_images' scratch: it sums in its border, which padded keeps as zeros
    cdef Py_ssize_t n
    try:
        padded = padding_scratch(C, H, W, pad, &col[0, 0])
        if dx_ is not None and not flipped:
            sums = padding_scratch(C, H, W, pad, &col[0, 0])
        if flipped:
            padded_back = padding_scratch(FN, OH, OW, back_pad, &col[0, 0])
        for n0 in range(0, N, step):
            n1 = min(N, n0 + step)
            nb = n1 - n0
            col_b = col_ if nb == step else col_[:, :nb * P]
            block_b = block_ if nb == step else block_[:, :nb * P]
            with nogil:
                if pool_h > 0:
                    pool_gradient_rows(&dout[n0, 0, 0], &gate[n0, 0, 0], &arg[n0, 0, 0], nb, FN, PH, PW, OH, OW,
                                       pool_h, pool_w, pool_stride, &block[0, 0], block.shape[1], &db[0])
                else:
                    gradient_rows(&dout[n0, 0, 0], &gate[n0, 0, 0], masked, nb, FN, P, &block[0, 0],
                                  block.shape[1], &db[0])
                unfold_block(x, n0, n1, &col[0, 0], col.shape[1], FH, FW, stride, pad, OH, OW, padded)
            matmul(col_b, block_b.T, out=part_)
            with nogil:
                add_part(&dW[0, 0], &part[0, 0], C * FH * FW * FN)
            if dx_ is None:
                continue
            if not flipped:  # dcol in col's memory: col is read
                matmul(filters_T, block_b, out=col_b)
                with nogil:
                    fold_images(&col[0, 0], col.shape[1], &dx[n0, 0, 0, 0], nb, C, H, W, FH, FW, stride, pad, OH,
                                OW, sums)
                continue
            with nogil:
                for n in range(nb):
                    unfold_image(&block[0, 0] + n * P, block.shape[1], &windows[0, 0] + n * H * W, windows.shape[1],
                                 FN, OH, OW, FH, FW, 1, back_pad, H, W, padded_back)
            if nb == 1:
                matmul(back_filters, windows_ if step == 1 else windows_[:, :H * W],
                       out=dx_[n0].reshape(C, H * W))
            else:
                product = product_ if nb == step else product_[:, :nb * H * W]
                matmul(back_filters, windows_ if nb == step else windows_[:, :nb * H * W], out=product)
                np.copyto(dx_[n0:n1].reshape(nb, C, H * W), product.reshape(C, nb, H * W).transpose(1, 0, 2))
    finally:
        free(padded)
        free(padded_back)
        free(sums)


cdef void pool_gradient_rows(const real_t* dout, const real_t* pooled, const unsigned char* arg, Py_ssize_t nb,
                             Py_ssize_t FN, Py_ssize_t PH, Py_ssize_t PW, Py_ssize_t OH, Py_ssize_t OW,
                             Py_ssize_t pool_h, Py_ssize_t pool_w, Py_ssize_t stride, real_t* block, Py_ssize_t ld,
                             double* db) noexcept nogil:
    # IN dout, pooled, arg (nb, FN, PH, PW), offsets checked; OUT block (FN, nb*OH*OW), rows ld apart;
    # IN/OUT db (FN,): pool_gradient_block's loop.
    cdef Py_ssize_t P = OH * OW, plane = PH * PW, f, n, py, px, a, i
    cdef Py_ssize_t offset[256]  # a window's offset `a` as a position in the image: no division per value
    cdef double s
    cdef real_t g
    cdef real_t* dst
    cdef const real_t* d
    cdef const real_t* p
    cdef const unsigned char* at
    for a in range(pool_h * pool_w):
        offset[a] = (a // pool_w) * OW + a % pool_w
    cdef bint tiled = pool_h == 2 and pool_w == 2 and stride == 2 and OH == 2 * PH and OW == 2 * PW
    for f in range(FN):
        s = 0.0
        if not tiled:
            memset(block + f * ld, 0, nb * P * sizeof(real_t))
        for n in range(nb):
            dst = block + f * ld + n * P
            d, p, at = dout + (n * FN + f) * plane, pooled + (n * FN + f) * plane, arg + (n * FN + f) * plane
            if tiled:  # the book's pooling, whose windows tile the image: each sets its four gradients
                for py in range(PH):
                    if real_t is float:
                        unpool22_float(d + py * PW, p + py * PW, at + py * PW, PW, dst + 2 * py * OW,
                                       dst + (2 * py + 1) * OW)
                    else:
                        unpool22_double(d + py * PW, p + py * PW, at + py * PW, PW, dst + 2 * py * OW,
                                        dst + (2 * py + 1) * OW)
                s += run_sum(d, p, plane)
                continue
            for py in range(PH):
                for px in range(PW):
                    i = py * PW + px
                    g = d[i]
                    g = 0 if p[i] <= 0 else g  # both read first: a select, not a branch
                    dst[py * stride * OW + px * stride + offset[at[i]]] += g
                    s += g
        db[f] += s


cdef bint offsets_outside(const unsigned char* arg, Py_ssize_t n, Py_ssize_t window) noexcept nogil:
    # Whether an offset of arg[:n] is outside a window of `window` elements (checked before any write).
    cdef bint bad = False
    cdef Py_ssize_t i
    for i in range(n):
        bad |= arg[i] >= window
    return bad


def pool_gradient_block(const real_t[:, :, :, ::1] dout, const real_t[:, :, :, ::1] pooled,
                        const unsigned char[:, :, :, ::1] arg, Py_ssize_t n0, Py_ssize_t n1,
                        Py_ssize_t OH, Py_ssize_t OW, Py_ssize_t pool_h, Py_ssize_t pool_w, Py_ssize_t stride,
                        real_t[:, ::1] block, double[::1] db):
    """The backward of ``bias_relu_pool_block`` for images ``n0..n1-1``, as ``gradient_block`` lays it out.

    IN dout, pooled, arg (N, FN, PH, PW): each ``dout`` value (0 where the
    pooled output is ``<= 0``: the ReLU's mask) goes to its window's maximum;
    OUT block (FN, (n1-n0)*OH*OW), zero elsewhere (overlapping windows add);
    IN/OUT db (FN,) float64 += the block's sums.
    """
    cdef Py_ssize_t N = dout.shape[0], FN = dout.shape[1], PH = dout.shape[2], PW = dout.shape[3]
    cdef bint bad
    _check_block(n0, n1, N)
    if (pooled.shape[0] != N or pooled.shape[1] != FN or pooled.shape[2] != PH or pooled.shape[3] != PW
            or arg.shape[0] != N or arg.shape[1] != FN or arg.shape[2] != PH or arg.shape[3] != PW
            or pool_h < 1 or pool_w < 1 or stride < 1 or pool_h > OH or pool_w > OW or pool_h * pool_w > 255
            or PH != (OH - pool_h) // stride + 1 or PW != (OW - pool_w) // stride + 1
            or block.shape[0] != FN or block.shape[1] != (n1 - n0) * OH * OW or db.shape[0] != FN):
        raise ValueError("dout, pooled, arg, block and db do not fit together")
    with nogil:
        bad = offsets_outside(&arg[n0, 0, 0, 0], (n1 - n0) * FN * PH * PW, pool_h * pool_w)
    if bad:
        raise ValueError("arg holds an offset outside the window")
    with nogil:
        pool_gradient_rows(&dout[n0, 0, 0, 0], &pooled[n0, 0, 0, 0], &arg[n0, 0, 0, 0], n1 - n0, FN, PH, PW, OH, OW,
                           pool_h, pool_w, stride, &block[0, 0], block.shape[1], &db[0])


def pool_forward(const real_t[:, :, :, ::1] x, Py_ssize_t pool_h, Py_ssize_t pool_w, Py_ssize_t stride):
    """Max pooling without padding: ``(out, arg)``, ``arg`` the first maximum's offset ``y*pool_w + x`` (uint8).

    IN x (N, C, H, W); OUT out (N, C, OH, OW) of x's dtype, arg (N, C, OH, OW) uint8.
    A NaN counts as the maximum. Windows of more than 255 elements are refused (ValueError).
    """
    cdef Py_ssize_t N = x.shape[0], C = x.shape[1], H = x.shape[2], W = x.shape[3]
    _check_geometry(H, W, pool_h, pool_w, stride, 0)
    if pool_h * pool_w > 255:
        raise ValueError("pooling windows of more than 255 elements")
    cdef Py_ssize_t OH = out_size(H, pool_h, stride, 0), OW = out_size(W, pool_w, stride, 0)
    dtype = np.float32 if real_t is float else np.float64
    out_ = np.empty((N, C, OH, OW), dtype=dtype)
    arg_ = np.empty((N, C, OH, OW), dtype=np.uint8)
    cdef real_t[:, :, :, ::1] out = out_
    cdef unsigned char[:, :, :, ::1] arg = arg_
    cdef Py_ssize_t plane, oy
    cdef Py_ssize_t planes = N * C
    with nogil:
        for plane in range(planes):
            for oy in range(OH):
                pool_row(&x[0, 0, 0, 0] + (plane * H + oy * stride) * W, W, OW, pool_h, pool_w, stride,
                         &out[0, 0, 0, 0] + (plane * OH + oy) * OW, &arg[0, 0, 0, 0] + (plane * OH + oy) * OW)
    return out_, arg_


def pool_backward(const real_t[:, :, :, ::1] dout, const unsigned char[:, :, :, ::1] arg,
                  real_t[:, :, :, ::1] dx, Py_ssize_t pool_h, Py_ssize_t pool_w, Py_ssize_t stride):
    """Add each ``dout`` value into its window's maximum in ``dx`` (zeros on entry; overlapping windows add).

    IN dout (N, C, OH, OW), arg (same shape, uint8); IN/OUT dx (N, C, H, W).
    """
    cdef Py_ssize_t N = dx.shape[0], C = dx.shape[1], H = dx.shape[2], W = dx.shape[3]
    _check_geometry(H, W, pool_h, pool_w, stride, 0)
    cdef Py_ssize_t OH = out_size(H, pool_h, stride, 0), OW = out_size(W, pool_w, stride, 0)
    if (dout.shape[0] != N or dout.shape[1] != C or dout.shape[2] != OH or dout.shape[3] != OW
            or arg.shape[0] != N or arg.shape[1] != C or arg.shape[2] != OH or arg.shape[3] != OW):
        raise ValueError("dout, arg and dx do not fit together")
    cdef Py_ssize_t n, c, oy, ox, a
    cdef bint bad
    with nogil:
        bad = offsets_outside(&arg[0, 0, 0, 0], N * C * OH * OW, pool_h * pool_w)
    if bad:
        raise ValueError("arg holds an offset outside the window")
    with nogil:
        for n in range(N):
            for c in range(C):
                for oy in range(OH):
                    for ox in range(OW):
                        a = arg[n, c, oy, ox]
                        dx[n, c, oy * stride + a // pool_w, ox * stride + a % pool_w] += dout[n, c, oy, ox]

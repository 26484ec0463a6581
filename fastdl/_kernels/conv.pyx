# Design: the book's convolution and max pooling (fastdl/reference/util.py,
# fastdl/reference/layers.py), one pass over memory per step, each image
# (the batch axis) a unit of work.
#
# - im2col writes the final (N*OH*OW, C*FH*FW) float64 matrix directly,
#   reading the input where the padded image has a pixel and writing 0.0
#   where it has padding (no padded copy, no 6-D intermediate). float32
#   converts to double by a C cast, float16 by its bits (both exact, as
#   NumPy's conversions are). Windows 3 pixels wide (DeepConvNet's) are
#   copied in runs of three, as col2im folds them.
# - col2im adds into each pixel in the reference's order: filter offset y,
#   then x, ascending, from +0.0. For one pixel, ascending (y, x) is
#   descending (oy, ox) (oy*stride + y is the pixel's row), so the loop walks
#   the rows of `col` from the last to the first, reading each row once, in
#   order. Each image is folded into a padded image as the reference's
#   (a thread's scratch, then copied out), so no window needs bounds checks.
#   The result is C-ordered, except where NumPy would round later sums and
#   products differently for the reference's layout (see
#   reference_layout_matters): then it is the reference's padded view.
# - Convolution's output `np.dot(col, col_W) + b` reshaped (N, OH, OW, FN)
#   and transposed to (N, FN, OH, OW) is one transposing pass with the bias
#   add; its backward's (N*OH*OW, FN) `dout` is one transposing pass, and
#   `db` the column sums of that matrix row by row from +0.0 as NumPy sums
#   over axis 0. The matrix products stay NumPy's (BLAS), on arrays of the
#   reference's values and layout. Large ones, with NumPy's OpenBLAS, are
#   made a block of rows at a time (see product_block_rows), so that the
#   transposing pass and col2im read each block's result from cache; BLAS's
#   threads share each block's product, and those passes run on one thread.
# - Max pooling forward finds each window's maximum and its first position
#   in one scan (np.argmax: a NaN is the maximum), reading the input in place;
#   the windows of a row of outputs are scanned side by side (vectorised).
#   Where a window's maximum is a zero tied with a zero of the other sign,
#   np.max's choice of sign depends on its SIMD code, so the kernel reports
#   it and the caller runs the reference. Backward adds each `dout` value into
#   the pixel of its window's maximum, windows in descending (oy, ox) order
#   (the reference's per-pixel order, as in col2im), folded as col2im folds;
#   the zeros the reference adds elsewhere change no bits (every pixel
#   starts at +0.0, so none is ever -0.0).
#
# Threads: fastdl._kernels.threads.threads_for decides from the elements
# written (or read, for pooling) and the images how many threads share the
# images; each thread writes whole images and nothing is reduced across
# images, so results do not depend on the thread count (db is summed per
# column, each column by one thread, over all images in order).
#
# The `def` wrappers decide what the loops cover (types, layouts, sizes)
# and return None for the rest; the callers then run the reference.
from cython.parallel cimport prange
from libc.stdint cimport uint16_t, uint64_t
from libc.string cimport memcpy, memset

cimport numpy as cnp

from fastdl._kernels.common cimport omp_get_max_threads, omp_get_thread_num, prefetch
from fastdl._kernels.threads cimport threads_for


import numpy as np

cnp.import_array()

ctypedef fused source_t:
    double
    float
    uint16_t  # float16, as its bits

cdef enum:
    # Rows of a transposing pass handled together, so that both sides stay in cache.
    TILE = 16
    # Pooling windows of a row of outputs scanned side by side (bounds the scratch).
    WINDOWS = 64
    # How far ahead (in doubles) col2im prefetches the rows of `col` it walks
    # backwards, which the hardware prefetchers follow poorly.
    PREFETCH_DISTANCE = 1024
    # A block of a matrix product: its result in cache (bytes), and its least work (M*N*K).
    BLOCK_BYTES = 512 * 1024
    MIN_BLOCK_WORK = 2000000


cdef inline double half_to_double(uint16_t h) noexcept nogil:
    """The float16 with bits ``h`` as a double, exactly (NaN payloads kept)."""
    cdef uint64_t sign = (<uint64_t>(h & 0x8000u)) << 48
    cdef uint64_t exponent = (h >> 10) & 0x1fu
    cdef uint64_t mantissa = h & 0x3ffu
    cdef uint64_t bits
    cdef double value
    if exponent == 0:
        value = <double>mantissa * 5.9604644775390625e-08  # mantissa * 2**-24: zero or subnormal
        return -value if sign else value
    if exponent == 0x1f:
        bits = sign | 0x7ff0000000000000u | (mantissa << 42)  # inf, NaN
    else:
        bits = sign | ((exponent + 1008) << 52) | (mantissa << 42)  # rebias 15 -> 1023
    memcpy(&value, &bits, 8)
    return value


cdef inline double to_double(source_t v) noexcept nogil:
    if source_t is uint16_t:
        return half_to_double(v)
    else:
        return <double>v


cdef struct Geometry:
    Py_ssize_t C, H, W          # one input image
    Py_ssize_t FH, FW           # filter (or pooling window)
    Py_ssize_t stride, pad
    Py_ssize_t OH, OW           # output positions
    Py_ssize_t HP, WP           # the reference's padded gradient image: H + 2*pad + stride - 1, ...
    # (C*FH*FW,), or (FH*FW,) for pooling: where entry (c, y, x) of a window
    # lies in the image (the padded one for col2im), from its top-left pixel
    const Py_ssize_t* offsets


cdef void set_offsets(Py_ssize_t* offsets,        # OUT (channels*FH*FW,)
                      const Geometry* g, Py_ssize_t channels,
                      Py_ssize_t H, Py_ssize_t W) noexcept nogil:
    # In an image of H x W pixels.
    cdef Py_ssize_t c, y, x
    cdef Py_ssize_t k = 0
    for c in range(channels):
        for y in range(g.FH):
            for x in range(g.FW):
                offsets[k] = (c * H + y) * W + x
                k += 1


cdef inline bint inside(const Geometry* g, Py_ssize_t iy0, Py_ssize_t ix0) noexcept nogil:
    """Whether the window with top-left pixel (iy0, ix0) lies in the image, clear of the padding."""
    return iy0 >= 0 and ix0 >= 0 and iy0 + g.FH <= g.H and ix0 + g.FW <= g.W


# ---- im2col / col2im -------------------------------------------------------------

cdef void im2col_image(const source_t* x,       # IN  (C, H, W) one image
                       double* col,             # OUT (OH*OW, C*FH*FW) its rows
                       const Geometry* g) noexcept nogil:
    cdef Py_ssize_t oy, ox, c, y, i, k, iy, iy0, ix0, lo, hi
    cdef Py_ssize_t K = g.C * g.FH * g.FW
    cdef const source_t* src
    cdef const source_t* run
    cdef double* entry
    for oy in range(g.OH):
        iy0 = oy * g.stride - g.pad
        for ox in range(g.OW):
            ix0 = ox * g.stride - g.pad
            if inside(g, iy0, ix0):
                src = x + iy0 * g.W + ix0
                if g.FW == 3:  # DeepConvNet's filters: a fixed-length run per (c, y)
                    for k in range(0, K, 3):
                        run = src + g.offsets[k]
                        col[k] = to_double(run[0])      # col[...] = padded[n, c, oy*stride + y, ox*stride + x]
                        col[k + 1] = to_double(run[1])
                        col[k + 2] = to_double(run[2])
                else:
                    for k in range(K):
                        col[k] = to_double(src[g.offsets[k]])  # col[...] = padded[n, c, oy*stride + y, ox*stride + x]
                col += K
                continue
            lo = max(0, -ix0)                         # offsets x in [lo, hi) fall inside the image
            hi = min(g.FW, g.W - ix0)
            entry = col
            for c in range(g.C):
                for y in range(g.FH):
                    iy = iy0 + y
                    if iy < 0 or iy >= g.H or hi <= lo:
                        for i in range(g.FW):
                            entry[i] = 0.0            # padding
                    else:
                        src = x + (c * g.H + iy) * g.W + ix0
                        for i in range(lo):
                            entry[i] = 0.0
                        for i in range(lo, hi):
                            entry[i] = to_double(src[i])
                        for i in range(hi, g.FW):
                            entry[i] = 0.0
                    entry += g.FW
            col += K


cdef void im2col_batch(const source_t* x,       # IN  (N, C, H, W)
                       double* col,             # OUT (N*OH*OW, C*FH*FW)
                       Py_ssize_t N, const Geometry* g) noexcept nogil:
    cdef Py_ssize_t n
    cdef Py_ssize_t image = g.C * g.H * g.W
    cdef Py_ssize_t rows = g.OH * g.OW * g.C * g.FH * g.FW
    cdef int n_threads = threads_for(N * rows, N)
    if n_threads == 1:
        for n in range(N):
            im2col_image(x + n * image, col + n * rows, g)
        return
    for n in prange(N, num_threads=n_threads, schedule="static"):
        im2col_image(x + n * image, col + n * rows, g)


cdef void col2im_image(const double* col,       # IN  (OH*OW, C*FH*FW) one image's rows
                       double* img,             # OUT (C, HP, WP) padded, as the reference's
                       const Geometry* g) noexcept nogil:
    cdef Py_ssize_t oy, ox, k
    cdef Py_ssize_t K = g.C * g.FH * g.FW
    cdef const double* row
    cdef double* dst
    cdef double* run
    memset(img, 0, g.C * g.HP * g.WP * sizeof(double))  # img = np.zeros(...): +0.0
    # Descending (oy, ox) is the reference's ascending (y, x) for every
    # pixel; one row adds at most once into each pixel.
    for oy in range(g.OH - 1, -1, -1):
        for ox in range(g.OW - 1, -1, -1):
            row = col + (oy * g.OW + ox) * K
            if row - col >= PREFETCH_DISTANCE:
                for k in range(0, K, 8):  # a cache line holds 8 doubles
                    prefetch(row - PREFETCH_DISTANCE + k)
            dst = img + oy * g.stride * g.WP + ox * g.stride
            if g.FW == 3:  # DeepConvNet's filters: a fixed-length run per (c, y)
                for k in range(0, K, 3):
                    run = dst + g.offsets[k]
                    run[0] += row[k]                  # img[:, :, y:y_max:stride, x:x_max:stride] += col[:, :, y, x]
                    run[1] += row[k + 1]
                    run[2] += row[k + 2]
            else:
                for k in range(K):
                    dst[g.offsets[k]] += row[k]       # img[:, :, y:y_max:stride, x:x_max:stride] += col[:, :, y, x]


cdef void copy_interior(const double* padded,      # IN  (C, HP, WP)
                        double* img,                # OUT (C, H, W)
                        const Geometry* g) noexcept nogil:
    cdef Py_ssize_t c, iy
    for c in range(g.C):
        for iy in range(g.H):
            memcpy(img + (c * g.H + iy) * g.W, padded + (c * g.HP + iy + g.pad) * g.WP + g.pad,
                   g.W * sizeof(double))            # img[:, :, pad:H + pad, pad:W + pad]


cdef inline double* fold_into(double* out, double* scratch, Py_ssize_t n, int thread,
                              bint padded_out, const Geometry* g) noexcept nogil:
    """Where image n is folded: its block of the padded output, or the thread's scratch."""
    if padded_out:
        return out + n * g.C * g.HP * g.WP
    return scratch + thread * g.C * g.HP * g.WP


cdef void col2im_one(const double* col, double* out, double* scratch, Py_ssize_t n, int thread,
                     bint padded_out, const Geometry* g) noexcept nogil:
    cdef Py_ssize_t rows = g.OH * g.OW * g.C * g.FH * g.FW
    cdef double* img = fold_into(out, scratch, n, thread, padded_out, g)
    col2im_image(col + n * rows, img, g)
    if not padded_out:
        copy_interior(img, out + n * g.C * g.H * g.W, g)


cdef void col2im_batch(const double* col,       # IN  (N*OH*OW, C*FH*FW)
                       double* out,             # OUT (N, C, HP, WP) if padded_out, else (N, C, H, W)
                       double* scratch,         # (threads, C, HP, WP) unless padded_out
                       bint padded_out, Py_ssize_t N, const Geometry* g) noexcept nogil:
    cdef Py_ssize_t n
    cdef int n_threads = threads_for(N * g.OH * g.OW * g.C * g.FH * g.FW, N)
    if n_threads == 1:
        for n in range(N):
            col2im_one(col, out, scratch, n, 0, padded_out, g)
        return
    for n in prange(N, num_threads=n_threads, schedule="static"):
        col2im_one(col, out, scratch, n, omp_get_thread_num(), padded_out, g)


# ---- Convolution's transposes -----------------------------------------------------

cdef void add_bias_transposed(const double* prod,   # IN  (p_end - p_begin, FN): rows p_begin.. of one image's np.dot(col, col_W)
                              const double* b,      # IN  (FN,)
                              double* out,          # OUT (FN, P) the image's output, columns p_begin..p_end-1
                              Py_ssize_t p_begin, Py_ssize_t p_end, Py_ssize_t P, Py_ssize_t FN) noexcept nogil:
    cdef Py_ssize_t p0 = p_begin, p, f, tile_end
    while p0 < p_end:  # (a `range` step must be a literal for Cython to compile a C loop)
        tile_end = min(p0 + TILE, p_end)
        for f in range(FN):
            for p in range(p0, tile_end):
                # (np.dot(col, col_W) + b).reshape(N, OH, OW, FN).transpose(0, 3, 1, 2)
                out[f * P + p] = prod[(p - p_begin) * FN + f] + b[f]
        p0 = tile_end


cdef void transpose_image(const double* dout,     # IN  (FN, P) one image's output gradient
                          double* flat,           # OUT (P, FN)
                          double* sums,           # IN/OUT (FN,) running column sums, or NULL
                          Py_ssize_t P, Py_ssize_t FN) noexcept nogil:
    cdef Py_ssize_t p0 = 0, p, f, p_end
    cdef double v
    if sums == NULL:
        while p0 < P:
            p_end = min(p0 + TILE, P)
            for f in range(FN):
                for p in range(p0, p_end):
                    flat[p * FN + f] = dout[f * P + p]  # dout.transpose(0, 2, 3, 1).reshape(-1, FN)
            p0 = p_end
        return
    # Row by row: each column's sum in row order (n, then p), and
    # consecutive additions go to different columns (no dependency chain).
    for p in range(P):
        for f in range(FN):
            v = dout[f * P + p]
            flat[p * FN + f] = v
            sums[f] = sums[f] + v                     # np.sum(dout, axis=0)


cdef void column_sum(const double* dout,          # IN  (N, FN, P)
                     double* db,                  # OUT (FN,), entry f
                     Py_ssize_t f, Py_ssize_t N, Py_ssize_t FN, Py_ssize_t P) noexcept nogil:
    # Rows (n, p) in order from +0.0: np.sum(dout2, axis=0) for FN >= 2.
    cdef Py_ssize_t n, p
    cdef const double* src
    cdef double acc = 0.0
    for n in range(N):
        src = dout + (n * FN + f) * P
        for p in range(P):
            acc = acc + src[p]
    db[f] = acc


# ---- max pooling ------------------------------------------------------------------

cdef void read_window(const source_t* plane,  # IN  (H, W) one channel
                      double* values,           # OUT (FH*FW,) the padded window, y-major
                      const Geometry* g, Py_ssize_t iy0, Py_ssize_t ix0) noexcept nogil:
    cdef Py_ssize_t y, x, iy, ix, k
    cdef const source_t* src
    if inside(g, iy0, ix0):
        src = plane + iy0 * g.W + ix0
        for k in range(g.FH * g.FW):
            values[k] = to_double(src[g.offsets[k]])
        return
    k = 0
    for y in range(g.FH):
        for x in range(g.FW):
            iy = iy0 + y
            ix = ix0 + x
            values[k] = to_double(plane[iy * g.W + ix]) if 0 <= iy < g.H and 0 <= ix < g.W else 0.0  # np.pad's zeros
            k += 1


cdef inline void argmax_step(double v, Py_ssize_t k,
                             double* best, Py_ssize_t* best_k) noexcept nogil:
    # np.argmax's step: take v if not (v <= best), unless best is already a
    # NaN (the first NaN wins). Bit masks rather than a branch, which random
    # data would mispredict (gcc turns a plain `if` or ternary into a jump).
    cdef uint64_t mask = 0 - <uint64_t>((not (v <= best[0])) & (best[0] == best[0]))
    cdef uint64_t v_bits, best_bits
    memcpy(&v_bits, &v, 8)
    memcpy(&best_bits, best, 8)
    best_bits = (v_bits & mask) | (best_bits & ~mask)
    memcpy(best, &best_bits, 8)
    best_k[0] = <Py_ssize_t>((<uint64_t>k & mask) | (<uint64_t>best_k[0] & ~mask))


cdef inline bint zero_tie(const double* values, Py_ssize_t n, Py_ssize_t stride) noexcept nogil:
    """Whether the window ``values[0:n*stride:stride]`` holds zeros of both signs (its maximum being a zero)."""
    cdef Py_ssize_t k
    cdef uint64_t bits, plus = 0, minus = 0
    for k in range(n):
        memcpy(&bits, &values[k * stride], 8)  # the bits: +0.0 == -0.0 as doubles
        plus |= bits == 0
        minus |= bits == 0x8000000000000000u
    return (plus & minus) != 0


cdef Py_ssize_t pool_window(const source_t* plane, double* out, cnp.npy_intp* arg_max,
                            double* values, const Geometry* g, Py_ssize_t oy, Py_ssize_t ox) noexcept nogil:
    # One window (any position): its maximum and first arg-max; 1 for a zero tie.
    cdef Py_ssize_t k
    cdef Py_ssize_t best_k = 0
    cdef double best
    read_window(plane, values, g, oy * g.stride - g.pad, ox * g.stride - g.pad)
    best = values[0]
    for k in range(1, g.FH * g.FW):
        argmax_step(values[k], k, &best, &best_k)
    out[oy * g.OW + ox] = best                        # np.max(col, axis=1)
    arg_max[(oy * g.OW + ox) * g.C] = best_k          # np.argmax(col, axis=1)
    return best == 0.0 and zero_tie(values, g.FH * g.FW, 1)


cdef void window_maxima(const double* values,   # IN  (K, n): entry k of n windows
                        Py_ssize_t K, Py_ssize_t n,
                        double* best,             # OUT (n,) each window's maximum
                        double* best_k) noexcept nogil:  # OUT (n,) its first position
    # np.argmax's step for every window at once: take v if not (v <= best),
    # unless best is already a NaN (the first NaN wins). Written so that gcc
    # vectorises the loop over windows with SSE2: loads before the selects,
    # a pointer per k (with -fwrapv, k * n + i is not an affine index), and
    # the position as a double (a double select, where an int64 one is not
    # vectorised).
    cdef Py_ssize_t i, k
    cdef double v, b, position, best_position
    cdef bint take
    cdef const double* entries
    for i in range(n):
        best[i] = values[i]
        best_k[i] = 0.0
    for k in range(1, K):
        entries = values + k * n
        position = <double>k
        for i in range(n):
            v = entries[i]
            b = best[i]
            best_position = best_k[i]
            take = (not (v <= b)) & (b == b)
            best[i] = v if take else b
            best_k[i] = position if take else best_position


cdef inline Py_ssize_t pool_scratch(const Geometry* g) noexcept nogil:
    """Doubles of scratch one thread's pool_forward_image needs."""
    return g.FH * g.FW * (WINDOWS + 1) + 2 * WINDOWS


cdef Py_ssize_t pool_forward_image(const source_t* x,        # IN  (C, H, W) one image
                                   double* out,              # OUT (C, OH, OW)
                                   cnp.npy_intp* arg_max,    # OUT (OH*OW, C) its rows of arg_max
                                   double* scratch,          # (pool_scratch(g),)
                                   const Geometry* g) noexcept nogil:
    # Returns how many windows have a zero maximum tied with a zero of the
    # other sign (np.max's sign there is not the kernel's to choose).
    # The windows inside the image along a row of outputs are gathered
    # offset-major, up to WINDOWS at a time, and scanned together (each
    # window's steps still in the reference's order).
    cdef Py_ssize_t c, oy, ox, k, i, n, m, first, iy0, lo, hi
    cdef Py_ssize_t K = g.FH * g.FW
    cdef Py_ssize_t ties = 0
    cdef double* values = scratch
    cdef double* row_values = scratch + K
    cdef double* best = row_values + K * WINDOWS
    cdef double* best_k = best + WINDOWS
    cdef const source_t* plane
    cdef const source_t* src
    cdef double* out_row
    cdef cnp.npy_intp* arg_max_row
    cdef Py_ssize_t channels = g.C  # a local: the stores below could alias *g
    cdef Py_ssize_t zero_maxima
    lo = (g.pad + g.stride - 1) // g.stride           # the first window clear of the left padding
    hi = min(g.OW, (g.W + g.pad - g.FW) // g.stride + 1)
    for c in range(g.C):
        plane = x + c * g.H * g.W
        for oy in range(g.OH):
            iy0 = oy * g.stride - g.pad
            n = hi - lo if iy0 >= 0 and iy0 + g.FH <= g.H and hi > lo else 0
            for ox in range(g.OW):
                if ox < lo or ox >= lo + n:
                    ties += pool_window(plane, out + c * g.OH * g.OW, arg_max + c, values, g, oy, ox)
            first = lo
            while first < lo + n:  # (a `range` step must be a literal for Cython to compile a C loop)
                m = min(WINDOWS, lo + n - first)
                src = plane + iy0 * g.W + first * g.stride - g.pad
                for k in range(K):
                    for i in range(m):
                        row_values[k * m + i] = to_double(src[g.offsets[k] + i * g.stride])
                window_maxima(row_values, K, m, best, best_k)
                out_row = out + (c * g.OH + oy) * g.OW + first
                arg_max_row = arg_max + (oy * g.OW + first) * g.C + c
                zero_maxima = 0
                for i in range(m):
                    out_row[i] = best[i]                                     # np.max(col, axis=1)
                    arg_max_row[i * channels] = <cnp.npy_intp>best_k[i]      # np.argmax(col, axis=1)
                    zero_maxima += best[i] == 0.0
                if zero_maxima:
                    for i in range(m):
                        if best[i] == 0.0:
                            ties += zero_tie(row_values + i, K, m)
                first += m
    return ties


cdef Py_ssize_t pool_forward_batch(const source_t* x, double* out, cnp.npy_intp* arg_max,
                                   double* values,        # scratch (threads, pool_scratch(g))
                                   Py_ssize_t N, const Geometry* g) noexcept nogil:
    cdef Py_ssize_t n
    cdef Py_ssize_t image = g.C * g.H * g.W
    cdef Py_ssize_t windows = g.C * g.OH * g.OW
    cdef Py_ssize_t ties = 0
    cdef int n_threads = threads_for(N * image, N)
    if n_threads == 1:
        for n in range(N):
            ties += pool_forward_image(x + n * image, out + n * windows, arg_max + n * windows, values, g)
        return ties
    for n in prange(N, num_threads=n_threads, schedule="static"):
        ties += pool_forward_image(x + n * image, out + n * windows, arg_max + n * windows,
                                   values + omp_get_thread_num() * pool_scratch(g), g)
    return ties


cdef void pool_backward_image(const double* dout,            # IN  (C, OH, OW) one image
                              const cnp.npy_intp* arg_max,   # IN  (OH*OW, C) its rows of arg_max
                              double* dx,                    # OUT (C, HP, WP) padded, as the reference's
                              const Geometry* g) noexcept nogil:
    cdef Py_ssize_t c, oy, ox
    memset(dx, 0, g.C * g.HP * g.WP * sizeof(double))
    for c in range(g.C):
        # Descending (oy, ox): the reference's order of additions per pixel.
        for oy in range(g.OH - 1, -1, -1):
            for ox in range(g.OW - 1, -1, -1):
                # dmax[rows, arg_max] = dout; col2im(dmax, ...)
                dx[(c * g.HP + oy * g.stride) * g.WP + ox * g.stride + g.offsets[arg_max[(oy * g.OW + ox) * g.C + c]]] \
                    += dout[(c * g.OH + oy) * g.OW + ox]


cdef inline bint windows_tile(const Geometry* g, bint padded_out) noexcept nogil:
    """Whether the windows tile the unpadded result (stride = window, no pad): one window per pixel."""
    return not padded_out and g.stride == g.FH and g.stride == g.FW and g.pad == 0


cdef void pool_backward_tiled_image(const double* dout,            # IN  (C, OH, OW) one image
                                    const cnp.npy_intp* arg_max,   # IN  (OH*OW, C) its rows of arg_max
                                    double* dx,                    # OUT (C, H, W)
                                    const Geometry* g) noexcept nogil:
    # Each pixel has at most one window: 0.0 + dout at its maximum, else 0.0.
    cdef Py_ssize_t c, oy, ox
    cdef Py_ssize_t C = g.C, OW = g.OW, FW = g.FW  # locals: the stores below could alias *g
    cdef const Py_ssize_t* offsets = g.offsets
    cdef double* window
    cdef const cnp.npy_intp* positions
    memset(dx, 0, g.C * g.H * g.W * sizeof(double))
    for c in range(g.C):
        for oy in range(g.OH):
            window = dx + (c * g.H + oy * g.FH) * g.W
            positions = arg_max + oy * OW * C + c
            for ox in range(OW):
                window[ox * FW + offsets[positions[ox * C]]] = 0.0 + dout[ox]
            dout += OW


cdef void pool_backward_one(const double* dout, const cnp.npy_intp* arg_max, double* out, double* scratch,
                            Py_ssize_t n, int thread, bint padded_out, const Geometry* g) noexcept nogil:
    cdef Py_ssize_t windows = g.C * g.OH * g.OW
    cdef double* img
    if windows_tile(g, padded_out):
        pool_backward_tiled_image(dout + n * windows, arg_max + n * windows, out + n * g.C * g.H * g.W, g)
        return
    img = fold_into(out, scratch, n, thread, padded_out, g)
    pool_backward_image(dout + n * windows, arg_max + n * windows, img, g)
    if not padded_out:
        copy_interior(img, out + n * g.C * g.H * g.W, g)


cdef void pool_backward_batch(const double* dout,            # IN  (N, C, OH, OW)
                              const cnp.npy_intp* arg_max,   # IN  (N*OH*OW*C,)
                              double* out,                   # OUT (N, C, HP, WP) if padded_out, else (N, C, H, W)
                              double* scratch,               # (threads, C, HP, WP) unless padded_out
                              bint padded_out, Py_ssize_t N, const Geometry* g) noexcept nogil:
    cdef Py_ssize_t n
    cdef int n_threads = threads_for(N * g.C * g.HP * g.WP, N)
    if n_threads == 1:
        for n in range(N):
            pool_backward_one(dout, arg_max, out, scratch, n, 0, padded_out, g)
        return
    for n in prange(N, num_threads=n_threads, schedule="static"):
        pool_backward_one(dout, arg_max, out, scratch, n, omp_get_thread_num(), padded_out, g)


# ---- the Python entry points ------------------------------------------------------
#
# Each declines input it does not cover by returning None, having written
# nothing; it raises only MemoryError. A source array of another layout
# (strided, Fortran-ordered, misaligned, byte-swapped) is read from a
# C-ordered native copy: the same values, so the same results.

cdef int source_type(cnp.ndarray a) noexcept:
    """NumPy's type number of float16/32/64 ``a`` (any byte order), else -1."""
    cdef int t = cnp.PyArray_TYPE(a)
    return t if t == cnp.NPY_FLOAT64 or t == cnp.NPY_FLOAT32 or t == cnp.NPY_FLOAT16 else -1


cdef object source_array(object a_, int ndim):
    """``a_`` as the loops read it, an aligned, native, C-contiguous float16/32/64
    ndarray of ``ndim`` dimensions (a copy where it is laid out otherwise); None
    where ``a_`` is not a non-empty exact float16/32/64 ndarray of ``ndim``
    dimensions (the reference's reshapes decide about empty ones)."""
    if not cnp.PyArray_CheckExact(a_):
        return None
    cdef cnp.ndarray a = <cnp.ndarray>a_
    if cnp.PyArray_NDIM(a) != ndim or source_type(a) < 0 or cnp.PyArray_SIZE(a) == 0:
        return None
    if cnp.PyArray_IS_C_CONTIGUOUS(a) and cnp.PyArray_ISALIGNED(a) and cnp.PyArray_ISNOTSWAPPED(a):
        return a
    return np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))


cdef object float64_array(object a_, int ndim):
    """``a_`` as an aligned, native, C-contiguous float64 array (float16/32
    convert exactly, as the reference's float64 arithmetic converts them); None
    where it is not an exact float16/32/64 ndarray of ``ndim`` dimensions."""
    cdef object a = source_array(a_, ndim)
    if a is None or cnp.PyArray_TYPE(<cnp.ndarray>a) == cnp.NPY_FLOAT64:
        return a
    return np.ascontiguousarray(a, dtype=np.float64)


cdef bint is_size(object v) noexcept:
    """Whether ``v`` is an int (or NumPy integer) the loops can index with."""
    if type(v) is not int and not isinstance(v, np.integer):
        return False
    return -(1 << 40) < v < (1 << 40)  # far below any overflow of the products below


cdef bint make_geometry(Geometry* g, object C, object H, object W, object FH, object FW,
                        object stride, object pad) noexcept:
    """Fill ``g`` (offsets unset); False where the sizes are not integers
    describing a window inside the padded image."""
    cdef object v
    for v in (C, H, W, FH, FW, stride, pad):
        if not is_size(v):
            return False
    g.C, g.H, g.W, g.FH, g.FW, g.stride, g.pad = C, H, W, FH, FW, stride, pad
    if (g.C < 0 or g.H < 0 or g.W < 0 or g.FH < 1 or g.FW < 1 or g.stride < 1 or g.pad < 0
            or g.H + 2 * g.pad < g.FH or g.W + 2 * g.pad < g.FW):
        return False
    g.OH = (g.H + 2 * g.pad - g.FH) // g.stride + 1
    g.OW = (g.W + 2 * g.pad - g.FW) // g.stride + 1
    g.HP = g.H + 2 * g.pad + g.stride - 1
    g.WP = g.W + 2 * g.pad + g.stride - 1
    g.offsets = NULL
    return True


cdef bint image_shape(object shape, Py_ssize_t* N) noexcept:
    """Whether ``shape`` is a tuple of 4 sizes, the first (set in ``N``) at least 0."""
    if type(shape) is not tuple or len(<tuple>shape) != 4 or not is_size(shape[0]) or shape[0] < 0:
        return False
    N[0] = shape[0]
    return True


cdef cnp.ndarray window_offsets(Geometry* g, Py_ssize_t channels, bint padded):
    """Set ``g.offsets`` for windows of ``channels`` channels in the input
    (or the padded gradient) image; the caller keeps the array alive."""
    cdef cnp.npy_intp k = channels * g.FH * g.FW
    cdef cnp.ndarray offsets = cnp.PyArray_EMPTY(1, &k, cnp.NPY_INTP, 0)
    if padded:
        set_offsets(<Py_ssize_t*>cnp.PyArray_DATA(offsets), g, channels, g.HP, g.WP)
    else:
        set_offsets(<Py_ssize_t*>cnp.PyArray_DATA(offsets), g, channels, g.H, g.W)
    g.offsets = <const Py_ssize_t*>cnp.PyArray_DATA(offsets)
    return offsets


cdef bint reference_layout_matters(Py_ssize_t N, Py_ssize_t C, Py_ssize_t H, Py_ssize_t W) noexcept:
    # Convolution.backward's `dout.transpose(0, 2, 3, 1).reshape(-1, FN)` is
    # a view, whose sums and products NumPy rounds differently from a copy's,
    # for a C-contiguous dout of one image, one channel or one pixel; for the
    # reference's padded view it is a copy. Elsewhere no book layer sees a
    # difference, and a C-ordered result is cheaper for the next ones (Relu).
    return N == 1 or C == 1 or H * W == 1


cdef tuple fold_arrays(const Geometry* g, Py_ssize_t N, bint padded_out):
    """The result array of a fold (padded as the reference's, or not) and the threads' scratch."""
    cdef cnp.npy_intp shape[4]
    shape[0] = N
    shape[1] = g.C
    shape[2] = g.HP if padded_out else g.H
    shape[3] = g.WP if padded_out else g.W
    cdef cnp.ndarray result = cnp.PyArray_EMPTY(4, shape, cnp.NPY_FLOAT64, 0)
    shape[0] = 0 if padded_out else min(<Py_ssize_t>omp_get_max_threads(), N)
    shape[2] = g.HP
    shape[3] = g.WP
    return result, cnp.PyArray_EMPTY(4, shape, cnp.NPY_FLOAT64, 0)


cdef cnp.ndarray im2col_array(cnp.ndarray x, Geometry* g):
    """``col`` of ``x``, a C-ordered native float16/32/64 ``(N, C, H, W)`` array of ``g``'s sizes."""
    cdef Py_ssize_t N = cnp.PyArray_DIM(x, 0)
    cdef int t = cnp.PyArray_TYPE(x)
    cdef cnp.npy_intp shape[2]
    shape[0] = N * g.OH * g.OW
    shape[1] = g.C * g.FH * g.FW
    cdef cnp.ndarray col = cnp.PyArray_EMPTY(2, shape, cnp.NPY_FLOAT64, 0)
    cdef double* col_data = <double*>cnp.PyArray_DATA(col)
    cdef cnp.ndarray _offsets = window_offsets(g, g.C, False)
    with nogil:
        if t == cnp.NPY_FLOAT64:
            im2col_batch(<const double*>cnp.PyArray_DATA(x), col_data, N, g)
        elif t == cnp.NPY_FLOAT32:
            im2col_batch(<const float*>cnp.PyArray_DATA(x), col_data, N, g)
        else:
            im2col_batch(<const uint16_t*>cnp.PyArray_DATA(x), col_data, N, g)
    if N == 1:
        # The reference's transpose-and-reshape is then a view, Fortran-ordered,
        # and NumPy's matrix products take another path (other bits) for it.
        return np.asfortranarray(col)
    return col


cdef object col2im_array(object col_, Py_ssize_t N, Geometry* g):
    """The reference's ``col2im`` of ``col_`` (float16/32/64, ``N*OH*OW*C*FH*FW`` entries), or None."""
    cdef Py_ssize_t rows = N * g.OH * g.OW
    cdef Py_ssize_t K = g.C * g.FH * g.FW
    if not cnp.PyArray_CheckExact(col_) or source_type(<cnp.ndarray>col_) < 0:
        return None
    if cnp.PyArray_SIZE(<cnp.ndarray>col_) != rows * K or rows * K == 0:
        return None
    cdef cnp.ndarray col = float64_array(col_.reshape(rows, K), 2)
    cdef cnp.ndarray _offsets = window_offsets(g, g.C, True)
    cdef cnp.ndarray img, scratch
    cdef bint padded_out = reference_layout_matters(N, g.C, g.H, g.W)
    img, scratch = fold_arrays(g, N, padded_out)
    with nogil:
        col2im_batch(<const double*>cnp.PyArray_DATA(col), <double*>cnp.PyArray_DATA(img),
                     <double*>cnp.PyArray_DATA(scratch), padded_out, N, g)
    return img[:, :, g.pad:g.H + g.pad, g.pad:g.W + g.pad] if padded_out else img


def im2col(x_, filter_h, filter_w, stride, pad):
    """``col`` (float64, ``(N*OH*OW, C*FH*FW)``) of ``x_`` ``(N, C, H, W)``: the reference's ``im2col``.

    C-ordered, or Fortran-ordered for one image, as the reference's. None
    unless ``x_`` is a float16/32/64 ndarray and the sizes integers of a
    window inside the padded image.
    """
    cdef Geometry g
    x = source_array(x_, 4)
    if x is None or not make_geometry(&g, x.shape[1], x.shape[2], x.shape[3], filter_h, filter_w, stride, pad):
        return None
    return im2col_array(x, &g)


def col2im(col_, input_shape, filter_h, filter_w, stride, pad):
    """The reference's ``col2im`` of float16/32/64 ``col_`` ``(N*OH*OW, C*FH*FW)``, as float64.

    A new C-ordered array, or the reference's view of a padded image where
    the layout can change later results (one image, one channel or one
    pixel). None for other input or an empty image.
    """
    cdef Geometry g
    cdef Py_ssize_t N
    if (not image_shape(input_shape, &N)
            or not make_geometry(&g, input_shape[1], input_shape[2], input_shape[3], filter_h, filter_w, stride, pad)):
        return None
    return col2im_array(col_, N, &g)


cdef cnp.ndarray bias_transposed_output(cnp.ndarray prod, cnp.ndarray b, Py_ssize_t N, const Geometry* g):
    """``(prod + b).reshape(N, OH, OW, FN).transpose(0, 3, 1, 2)`` as a new C-ordered array.

    ``prod`` float64 ``(N*OH*OW, FN)``, ``b`` float64 ``(FN,)``, both C-ordered.
    """
    cdef Py_ssize_t P = g.OH * g.OW
    cdef Py_ssize_t FN = cnp.PyArray_DIM(prod, 1)
    cdef cnp.npy_intp shape[4]
    shape[0], shape[1], shape[2], shape[3] = N, FN, g.OH, g.OW
    cdef cnp.ndarray result = cnp.PyArray_EMPTY(4, shape, cnp.NPY_FLOAT64, 0)
    cdef const double* prod_data = <const double*>cnp.PyArray_DATA(prod)
    cdef const double* b_data = <const double*>cnp.PyArray_DATA(b)
    cdef double* result_data = <double*>cnp.PyArray_DATA(result)
    cdef Py_ssize_t n
    cdef int n_threads = threads_for(N * P * FN, N)
    with nogil:
        if n_threads == 1:
            for n in range(N):
                add_bias_transposed(prod_data + n * P * FN, b_data, result_data + n * P * FN, 0, P, P, FN)
        else:
            for n in prange(N, num_threads=n_threads, schedule="static"):
                add_bias_transposed(prod_data + n * P * FN, b_data, result_data + n * P * FN, 0, P, P, FN)
    return result


def _blas_multiplies_rows_alike():
    # What product_block_rows relies on was checked on NumPy's OpenBLAS only.
    try:
        return "openblas" in np.show_config(mode="dicts")["Build Dependencies"]["blas"]["name"].lower()
    except Exception:
        return False


cdef bint blocks_allowed = _blas_multiplies_rows_alike()


cdef Py_ssize_t product_block_rows(Py_ssize_t rows, Py_ssize_t K, Py_ssize_t FN, Py_ssize_t unit) noexcept:
    """Rows per block (a multiple of ``unit``) for a matrix product of ``rows`` rows, ``K`` columns
    and ``FN`` filters made in blocks of rows, or 0 for one product of all rows.

    A block's result (``FN`` or ``K`` columns) stays in the core's cache for
    the pass that reads it. Each block multiplies at least MIN_BLOCK_WORK:
    NumPy's OpenBLAS then computes every row as the whole product does
    (tests/test_parity_conv.py compares them bit for bit), where smaller
    products may take other kernels. The caller joins a last block shorter
    than the others to the one before (see ``block_end``). A product with
    one row or column (FN or K of 1) is NumPy's gemv, not gemm: not blocked.
    """
    if not blocks_allowed or K < 2 or FN < 2:
        return 0
    cdef Py_ssize_t least = (MIN_BLOCK_WORK + K * FN - 1) // (K * FN)
    cdef Py_ssize_t wanted = max(least, BLOCK_BYTES // (max(K, FN) * <Py_ssize_t>sizeof(double)))
    wanted = (wanted + unit - 1) // unit * unit
    return wanted if rows >= 2 * wanted else 0


cdef inline Py_ssize_t block_end(Py_ssize_t start, Py_ssize_t R, Py_ssize_t rows) noexcept nogil:
    # The end of the block from `start`: R rows, or all the rest where fewer than R would be left.
    return rows if rows - start < 2 * R else start + R


def _product_block_rows(rows, K, FN, unit):
    """``product_block_rows``, for the tests."""
    return product_block_rows(rows, K, FN, unit)


cdef cnp.ndarray blocked_output(cnp.ndarray col, object col_W, cnp.ndarray b, Py_ssize_t N, Py_ssize_t R,
                                const Geometry* g):
    """``bias_transposed_output(np.dot(col, col_W), b, N, g)``, the product made ``R`` rows at a time."""
    cdef Py_ssize_t P = g.OH * g.OW, rows = N * P
    cdef Py_ssize_t FN = cnp.PyArray_DIM(b, 0)
    cdef cnp.npy_intp shape[4]
    shape[0], shape[1], shape[2], shape[3] = N, FN, g.OH, g.OW
    cdef cnp.ndarray result = cnp.PyArray_EMPTY(4, shape, cnp.NPY_FLOAT64, 0)
    shape[0], shape[1] = min(rows, 2 * R), FN
    cdef cnp.ndarray scratch = cnp.PyArray_EMPTY(2, shape, cnp.NPY_FLOAT64, 0)
    cdef const double* prod = <const double*>cnp.PyArray_DATA(scratch)
    cdef const double* b_data = <const double*>cnp.PyArray_DATA(b)
    cdef double* out = <double*>cnp.PyArray_DATA(result)
    cdef Py_ssize_t r0 = 0, r1, n, p_begin, p_end
    while r0 < rows:
        r1 = block_end(r0, R, rows)
        np.dot(col[r0:r1], col_W, out=scratch[:r1 - r0])
        with nogil:
            for n in range(r0 // P, (r1 - 1) // P + 1):
                p_begin = max(r0 - n * P, 0)
                p_end = min(r1 - n * P, P)
                add_bias_transposed(prod + (n * P + p_begin - r0) * FN, b_data, out + n * FN * P,
                                    p_begin, p_end, P, FN)
        r0 = r1
    return result


cdef cnp.ndarray blocked_input_gradient(cnp.ndarray flat, object filters, Py_ssize_t N, Py_ssize_t images,
                                        Geometry* g):
    """``col2im_array(np.dot(flat, filters), N, g)``, the product made ``images`` images at a time."""
    cdef Py_ssize_t P = g.OH * g.OW
    cdef Py_ssize_t K = g.C * g.FH * g.FW
    cdef cnp.ndarray _offsets = window_offsets(g, g.C, True)
    cdef bint padded_out = reference_layout_matters(N, g.C, g.H, g.W)
    cdef cnp.ndarray img, scratch
    img, scratch = fold_arrays(g, N, padded_out)
    cdef cnp.npy_intp shape[2]
    shape[0], shape[1] = min(N, 2 * images) * P, K
    cdef cnp.ndarray block = cnp.PyArray_EMPTY(2, shape, cnp.NPY_FLOAT64, 0)
    cdef Py_ssize_t per_image = g.C * (g.HP * g.WP if padded_out else g.H * g.W)
    cdef Py_ssize_t n0 = 0, n1
    while n0 < N:
        n1 = block_end(n0, images, N)
        np.dot(flat[n0 * P:n1 * P], filters, out=block[:(n1 - n0) * P])
        with nogil:
            col2im_batch(<const double*>cnp.PyArray_DATA(block), <double*>cnp.PyArray_DATA(img) + n0 * per_image,
                         <double*>cnp.PyArray_DATA(scratch), padded_out, n1 - n0, g)
        n0 = n1
    return img[:, :, g.pad:g.H + g.pad, g.pad:g.W + g.pad] if padded_out else img


def conv_forward(x_, W_, b_, stride, pad):
    """Convolution's forward pass: ``(out, col, col_W)`` as the reference computes and keeps them.

    ``out`` is C-ordered (the reference's is a transposed view), with the
    reference's values; ``col = im2col(x_, ...)``, ``col_W = W_.reshape(FN,
    -1).T`` and the product ``np.dot(col, col_W)`` are the reference's. None
    unless ``x_`` ``(N, C, H, W)`` and ``W_`` ``(FN, C, FH, FW)`` are
    float16/32/64 ndarrays, ``b_`` a float16/32/64 ``(FN,)`` ndarray and the
    sizes integers of a window inside the padded image.
    """
    cdef Geometry g
    x = source_array(x_, 4)
    b = float64_array(b_, 1)  # `+ b` converts float16/32 exactly
    if x is None or b is None or not cnp.PyArray_CheckExact(W_):
        return None
    cdef cnp.ndarray W = <cnp.ndarray>W_
    if cnp.PyArray_NDIM(W) != 4 or source_type(W) < 0:
        return None
    FN, C, FH, FW = W_.shape
    N, channels, H, width = x.shape
    if channels != C or b.shape[0] != FN or not make_geometry(&g, C, H, width, FH, FW, stride, pad):
        return None
    col = im2col_array(x, &g)
    col_W = W.reshape(FN, -1).T
    cdef Py_ssize_t R = 0
    if N >= 2 and cnp.PyArray_TYPE(W) == cnp.NPY_FLOAT64:
        R = product_block_rows(N * g.OH * g.OW, g.C * g.FH * g.FW, FN, 1)
    if R:
        return blocked_output(col, col_W, b, N, R, &g), col, col_W
    prod = np.dot(col, col_W)  # float64 for any float W, as the reference's
    if not cnp.PyArray_IS_C_CONTIGUOUS(prod) or cnp.PyArray_TYPE(prod) != cnp.NPY_FLOAT64:
        prod = np.ascontiguousarray(prod, dtype=np.float64)
    return bias_transposed_output(prod, b, N, &g), col, col_W


cdef tuple flat_gradient(cnp.ndarray dout, Py_ssize_t FN):
    """``(dout.transpose(0, 2, 3, 1).reshape(-1, FN), db)`` of C-ordered native float64 ``dout``.

    ``db`` is ``np.sum`` of the flat gradient over axis 0 as NumPy computes
    it for a copy of two or more columns: row by row from +0.0.
    """
    cdef Py_ssize_t N = cnp.PyArray_DIM(dout, 0)
    cdef Py_ssize_t P = cnp.PyArray_DIM(dout, 2) * cnp.PyArray_DIM(dout, 3)
    cdef cnp.npy_intp shape[2]
    shape[0], shape[1] = N * P, FN
    cdef cnp.ndarray flat = cnp.PyArray_EMPTY(2, shape, cnp.NPY_FLOAT64, 0)
    cdef cnp.ndarray db = cnp.PyArray_ZEROS(1, &shape[1], cnp.NPY_FLOAT64, 0)  # +0.0
    cdef const double* dout_data = <const double*>cnp.PyArray_DATA(dout)
    cdef double* flat_data = <double*>cnp.PyArray_DATA(flat)
    cdef double* db_data = <double*>cnp.PyArray_DATA(db)
    cdef Py_ssize_t n, f
    cdef int n_threads = threads_for(N * P * FN, N)
    with nogil:
        if n_threads == 1:
            for n in range(N):
                transpose_image(dout_data + n * FN * P, flat_data + n * P * FN, db_data, P, FN)
        else:
            for n in prange(N, num_threads=n_threads, schedule="static"):
                transpose_image(dout_data + n * FN * P, flat_data + n * P * FN, NULL, P, FN)
            for f in prange(FN, num_threads=n_threads, schedule="static"):
                column_sum(dout_data, db_data, f, N, FN, P)
    return flat, db


def conv_backward(dout_, col_, col_W_, input_shape, filter_h, filter_w, stride, pad, bint input_gradient):
    """Convolution's backward pass from the forward pass's ``col``, ``col_W``: ``(dx, dW, db)``.

    The reference's values: ``dW``, ``db`` and, if ``input_gradient``, ``dx``
    (else None), laid out as ``col2im``'s. None unless ``dout_`` is an
    ndarray ``(N, FN, OH, OW)`` of ``input_shape``'s convolution, ``col_`` a
    float64 ``(N*OH*OW, C*FH*FW)`` ndarray and ``col_W_`` a float16/32/64
    ``(C*FH*FW, FN)`` ndarray.
    """
    cdef Geometry g
    cdef Py_ssize_t N
    if (not image_shape(input_shape, &N)
            or not make_geometry(&g, input_shape[1], input_shape[2], input_shape[3], filter_h, filter_w, stride, pad)):
        return None
    if not (cnp.PyArray_CheckExact(dout_) and cnp.PyArray_CheckExact(col_) and cnp.PyArray_CheckExact(col_W_)):
        return None
    cdef cnp.ndarray dout = <cnp.ndarray>dout_
    cdef cnp.ndarray col = <cnp.ndarray>col_
    cdef cnp.ndarray col_W = <cnp.ndarray>col_W_
    if cnp.PyArray_NDIM(dout) != 4 or cnp.PyArray_NDIM(col_W) != 2 or source_type(col_W) < 0:
        return None
    FN = dout_.shape[1]
    if (dout_.shape != (N, FN, g.OH, g.OW) or col_W_.shape != (g.C * g.FH * g.FW, FN)
            or col_.shape != (N * g.OH * g.OW, g.C * g.FH * g.FW) or cnp.PyArray_TYPE(col) != cnp.NPY_FLOAT64):
        return None
    # The reference's transpose-and-reshape copies a C-ordered dout into C
    # order unless N, FN or OH*OW is 1 (then it is a view, which NumPy sums
    # and multiplies in another order): the kernel stands in for that copy only.
    if (cnp.PyArray_TYPE(dout) == cnp.NPY_FLOAT64 and cnp.PyArray_IS_C_CONTIGUOUS(dout)
            and cnp.PyArray_ISALIGNED(dout) and cnp.PyArray_ISNOTSWAPPED(dout)
            and N >= 2 and FN >= 2 and g.OH * g.OW >= 2):
        flat, db = flat_gradient(dout, FN)
    else:
        flat = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        db = np.sum(flat, axis=0)
    dW = np.dot(col.T, flat).transpose(1, 0).reshape(FN, g.C, g.FH, g.FW)
    if not input_gradient:
        return None, dW, db
    cdef Py_ssize_t R = 0
    if N >= 2 and cnp.PyArray_TYPE(col_W) == cnp.NPY_FLOAT64:
        R = product_block_rows(N * g.OH * g.OW, g.C * g.FH * g.FW, FN, g.OH * g.OW)
    if R:
        return blocked_input_gradient(flat, col_W.T, N, R // (g.OH * g.OW), &g), dW, db
    dx = col2im_array(np.dot(flat, col_W.T), N, &g)
    if dx is None:  # an empty image: the reference's own col2im
        return None
    return dx, dW, db


def pool_forward(x_, pool_h, pool_w, stride, pad):
    """``(out, arg_max)`` of max pooling ``x_`` ``(N, C, H, W)``, the reference's values.

    ``out`` is float64 ``(N, C, OH, OW)``, ``arg_max`` intp over windows
    ``(n, oy, ox, c)``. None unless ``x_`` is a float16/32/64 ndarray, the
    sizes integers of a window inside the padded image, and the book's
    ``int(1 + (H - pool_h) / stride)`` (which ignores ``pad``) is
    ``im2col``'s output size; None too where a window's maximum is a zero
    tied with a zero of the other sign.
    """
    cdef Geometry g
    x = source_array(x_, 4)
    if x is None or not make_geometry(&g, x.shape[1], x.shape[2], x.shape[3], pool_h, pool_w, stride, pad):
        return None
    # The reference's out_h = int(1 + (H - pool_h) / stride): a double quotient, truncated.
    if (g.OH != <Py_ssize_t>(1.0 + <double>(g.H - g.FH) / <double>g.stride)
            or g.OW != <Py_ssize_t>(1.0 + <double>(g.W - g.FW) / <double>g.stride)):
        return None
    cdef Py_ssize_t N = cnp.PyArray_DIM(<cnp.ndarray>x, 0)
    cdef int t = cnp.PyArray_TYPE(<cnp.ndarray>x)
    cdef const void* x_data = cnp.PyArray_DATA(<cnp.ndarray>x)
    cdef cnp.npy_intp shape[4]
    shape[0], shape[1], shape[2], shape[3] = N, g.C, g.OH, g.OW
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(4, shape, cnp.NPY_FLOAT64, 0)
    shape[0] = N * g.C * g.OH * g.OW
    cdef cnp.ndarray arg_max = cnp.PyArray_EMPTY(1, shape, cnp.NPY_INTP, 0)
    cdef double* out_data = <double*>cnp.PyArray_DATA(out)
    cdef cnp.npy_intp* arg_max_data = <cnp.npy_intp*>cnp.PyArray_DATA(arg_max)
    cdef cnp.ndarray _offsets = window_offsets(&g, 1, False)
    shape[0] = omp_get_max_threads() * pool_scratch(&g)
    cdef cnp.ndarray scratch = cnp.PyArray_EMPTY(1, shape, cnp.NPY_FLOAT64, 0)
    cdef double* scratch_data = <double*>cnp.PyArray_DATA(scratch)
    cdef Py_ssize_t ties
    with nogil:
        if t == cnp.NPY_FLOAT64:
            ties = pool_forward_batch(<const double*>x_data, out_data, arg_max_data, scratch_data, N, &g)
        elif t == cnp.NPY_FLOAT32:
            ties = pool_forward_batch(<const float*>x_data, out_data, arg_max_data, scratch_data, N, &g)
        else:
            ties = pool_forward_batch(<const uint16_t*>x_data, out_data, arg_max_data, scratch_data, N, &g)
    return None if ties else (out, arg_max)


def pool_backward(dout_, arg_max_, input_shape, pool_h, pool_w, stride, pad):
    """The reference's max pooling ``dx``, laid out as ``col2im``'s.

    ``dout_`` is float16/32/64 ``(N, C, OH, OW)``; ``arg_max_`` the forward
    pass's. None for other input, an ``arg_max_`` that is not a C-contiguous
    intp array of one entry per window inside the window, or an empty image.
    """
    cdef Geometry g
    cdef Py_ssize_t N
    if (not image_shape(input_shape, &N)
            or not make_geometry(&g, input_shape[1], input_shape[2], input_shape[3], pool_h, pool_w, stride, pad)):
        return None
    dout_ = float64_array(dout_, 4)  # the reference's float64 dmax converts float16/32 exactly
    if dout_ is None or dout_.shape != (N, g.C, g.OH, g.OW) or N * g.C * g.H * g.W == 0:
        return None
    cdef cnp.ndarray dout = <cnp.ndarray>dout_
    if (not cnp.PyArray_CheckExact(arg_max_) or cnp.PyArray_TYPE(<cnp.ndarray>arg_max_) != cnp.NPY_INTP
            or not cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>arg_max_)
            or not cnp.PyArray_ISALIGNED(<cnp.ndarray>arg_max_)
            or not cnp.PyArray_ISNOTSWAPPED(<cnp.ndarray>arg_max_)
            or cnp.PyArray_SIZE(dout) != cnp.PyArray_SIZE(<cnp.ndarray>arg_max_)):
        return None
    cdef cnp.ndarray arg_max = <cnp.ndarray>arg_max_
    cdef const cnp.npy_intp* arg_max_data = <const cnp.npy_intp*>cnp.PyArray_DATA(arg_max)
    cdef Py_ssize_t i, size = cnp.PyArray_SIZE(arg_max)
    cdef size_t window = g.FH * g.FW
    cdef size_t outside = 0
    with nogil:
        for i in range(size):
            outside |= <size_t>arg_max_data[i] >= window  # a negative entry wraps to a large one; no branch: vectorised
    if outside:
        return None
    cdef cnp.ndarray dx, scratch
    cdef bint padded_out = reference_layout_matters(N, g.C, g.H, g.W)
    dx, scratch = fold_arrays(&g, N, padded_out)
    cdef cnp.ndarray _offsets = window_offsets(&g, 1, not windows_tile(&g, padded_out))
    with nogil:
        pool_backward_batch(<const double*>cnp.PyArray_DATA(dout), arg_max_data, <double*>cnp.PyArray_DATA(dx),
                            <double*>cnp.PyArray_DATA(scratch), padded_out, N, &g)
    return dx[:, :, g.pad:g.H + g.pad, g.pad:g.W + g.pad] if padded_out else dx

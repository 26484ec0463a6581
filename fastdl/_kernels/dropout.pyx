# Design: the book's dropout (fastdl/reference/layers.py) with the draw of
# the mask fused with its use: one pass draws, keeps the mask and writes
# `x * mask`, where the reference makes a float64 array of draws, compares
# it and multiplies by a bool array (a mixed-dtype loop).
#
# The stream-compatible kernel calls the `next_double` of the bit generator
# behind NumPy's global RandomState, under that generator's lock, once per
# element in C order: that is exactly what `np.random.rand` does, so masks,
# outputs and the stream's state afterwards are the reference's.
#
# The fast kernel takes the bit generator of a `numpy.random.Generator` and
# draws 64 bits per two elements, compared as two 32-bit integers with the
# threshold `floor(ratio * 2**32)` (P(keep) = 1 - ratio to within 2**-32);
# the draws are batched so that the compare and multiply loops vectorise.
# It is reproducible for a given seed but not NumPy's stream.
#
# The `def` wrappers take ndarrays (any number of dimensions, C-contiguous
# float32/float64, checked again here); fastdl/layers.py decides.
from cython cimport floating
from libc.stdint cimport int64_t, uint32_t, uint64_t
from cpython.pycapsule cimport PyCapsule_GetPointer

cimport numpy as cnp
from numpy.random cimport bitgen_t

cnp.import_array()

cdef enum:
    DRAWS = 128  # 64-bit draws per batch of the fast kernel (two elements each)


cdef void forward_stream(const floating* x,                # IN  (n,)
                         floating* out,                    # OUT (n,) x * mask
                         cnp.npy_bool* mask,               # OUT (n,)
                         Py_ssize_t n, double ratio,
                         bitgen_t* bitgen) noexcept nogil:
    cdef Py_ssize_t i
    cdef bint keep
    for i in range(n):
        keep = bitgen.next_double(bitgen.state) > ratio  # np.random.rand(*x.shape) > self.dropout_ratio
        mask[i] = keep
        out[i] = x[i] * <floating>keep                    # x * self.mask


cdef void forward_fast(const floating* x,                  # IN  (n,)
                       floating* out,                      # OUT (n,) x * mask
                       cnp.npy_bool* mask,                 # OUT (n,)
                       Py_ssize_t n, int64_t threshold,
                       bitgen_t* bitgen) noexcept nogil:
    cdef uint64_t draws[DRAWS]
    cdef const uint32_t* halves = <const uint32_t*>draws
    cdef Py_ssize_t start = 0, m, k, i
    cdef bint keep
    while start < n:
        m = min(2 * DRAWS, n - start)
        for k in range((m + 1) // 2):
            draws[k] = bitgen.next_uint64(bitgen.state)
        for i in range(m):
            keep = <int64_t>halves[i] > threshold        # u32 / 2**32 > dropout_ratio
            mask[start + i] = keep
            out[start + i] = x[start + i] * <floating>keep
        start += m


cdef void apply_mask(const floating* dout,                 # IN  (n,)
                     const cnp.npy_bool* mask,             # IN  (n,)
                     floating* dx,                         # OUT (n,)
                     Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dx[i] = dout[i] * <floating>mask[i]               # dout * self.mask


cdef int check_float(cnp.ndarray a, str name) except -1:
    cdef int t = cnp.PyArray_TYPE(a)
    if (t != cnp.NPY_FLOAT64 and t != cnp.NPY_FLOAT32) or not cnp.PyArray_IS_C_CONTIGUOUS(a):
        raise ValueError(f"dropout kernel: {name} must be a C-contiguous float32 or float64 array")
    return 0


cdef bitgen_t* bitgen_of(object bit_generator) except NULL:
    return <bitgen_t*>PyCapsule_GetPointer(bit_generator.capsule, "BitGenerator")


def forward_stream_kernel(cnp.ndarray x, double ratio, object bit_generator):
    """``mask = draws > ratio`` from ``bit_generator``'s ``next_double``; returns ``(x*mask, mask)``."""
    check_float(x, "x")
    cdef int t = cnp.PyArray_TYPE(x)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), t, 0)
    cdef cnp.ndarray mask = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), cnp.NPY_BOOL, 0)
    cdef bitgen_t* bitgen = bitgen_of(bit_generator)
    with bit_generator.lock:
        if t == cnp.NPY_FLOAT64:
            with nogil:
                forward_stream[double](<double*>cnp.PyArray_DATA(x), <double*>cnp.PyArray_DATA(out),
                                       <cnp.npy_bool*>cnp.PyArray_DATA(mask), n, ratio, bitgen)
        else:
            with nogil:
                forward_stream[float](<float*>cnp.PyArray_DATA(x), <float*>cnp.PyArray_DATA(out),
                                      <cnp.npy_bool*>cnp.PyArray_DATA(mask), n, ratio, bitgen)
    return out, mask


def forward_fast_kernel(cnp.ndarray x, double ratio, object bit_generator):
    """Like ``forward_stream_kernel`` with 32-bit draws from ``next_uint64``."""
    check_float(x, "x")
    cdef int64_t threshold
    if ratio < 0:
        threshold = -1                                    # keep every element
    elif not ratio < 1:                                   # also a NaN ratio: keep none, as the reference
        threshold = 0xFFFFFFFF
    else:
        threshold = <int64_t>(ratio * 4294967296.0)       # exact: a power-of-two scaling, then floor
    cdef int t = cnp.PyArray_TYPE(x)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), t, 0)
    cdef cnp.ndarray mask = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), cnp.NPY_BOOL, 0)
    cdef bitgen_t* bitgen = bitgen_of(bit_generator)
    with bit_generator.lock:
        if t == cnp.NPY_FLOAT64:
            with nogil:
                forward_fast[double](<double*>cnp.PyArray_DATA(x), <double*>cnp.PyArray_DATA(out),
                                     <cnp.npy_bool*>cnp.PyArray_DATA(mask), n, threshold, bitgen)
        else:
            with nogil:
                forward_fast[float](<float*>cnp.PyArray_DATA(x), <float*>cnp.PyArray_DATA(out),
                                    <cnp.npy_bool*>cnp.PyArray_DATA(mask), n, threshold, bitgen)
    return out, mask


def backward_kernel(cnp.ndarray dout, cnp.ndarray mask):
    """``dout * mask`` for a bool ``mask`` of the same shape."""
    check_float(dout, "dout")
    if (cnp.PyArray_TYPE(mask) != cnp.NPY_BOOL or not cnp.PyArray_IS_C_CONTIGUOUS(mask)
            or not cnp.PyArray_SAMESHAPE(dout, mask)):
        raise ValueError("dropout kernel: mask must be a C-contiguous bool array shaped like dout")
    cdef int t = cnp.PyArray_TYPE(dout)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(dout)
    cdef cnp.ndarray dx = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(dout), cnp.PyArray_DIMS(dout), t, 0)
    if t == cnp.NPY_FLOAT64:
        with nogil:
            apply_mask[double](<double*>cnp.PyArray_DATA(dout), <cnp.npy_bool*>cnp.PyArray_DATA(mask),
                               <double*>cnp.PyArray_DATA(dx), n)
    else:
        with nogil:
            apply_mask[float](<float*>cnp.PyArray_DATA(dout), <cnp.npy_bool*>cnp.PyArray_DATA(mask),
                              <float*>cnp.PyArray_DATA(dx), n)
    return dx

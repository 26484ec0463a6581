# Design: the book's ReLU (fastdl/reference/layers.py) in one pass each
# way. Forward writes the bool mask `x <= 0` and the output together, where
# the reference compares, copies and then scatters zeros through a boolean
# index; backward zeroes `dout` where the mask is set, in place as the book
# does. Only comparisons and copies: results are the reference's bit for
# bit (a zeroed entry is +0.0, NaN is kept since `NaN <= 0` is false).
#
# The `def` wrappers take ndarrays (any number of dimensions, C-contiguous
# float32/float64, checked again here); fastdl/layers.py decides.
from cython cimport floating

cimport numpy as cnp

cnp.import_array()


cdef void relu_forward_pass(const floating* x,             # IN  (n,)
                            floating* out,                 # OUT (n,)
                            cnp.npy_bool* mask,            # OUT (n,)
                            Py_ssize_t n) noexcept nogil:
    # Two loops: gcc vectorises neither a loop that mixes the bool and the
    # float64 stores nor one with a branch, but both selects below.
    cdef Py_ssize_t i
    for i in range(n):
        out[i] = 0 if x[i] <= 0 else x[i]                 # out = x.copy(); out[self.mask] = 0
    for i in range(n):
        mask[i] = x[i] <= 0                               # self.mask = (x <= 0)


cdef void relu_backward_pass(floating* dout,               # IN/OUT (n,)
                             const cnp.npy_bool* mask,     # IN  (n,)
                             Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        dout[i] = 0 if mask[i] else dout[i]               # dout[self.mask] = 0


cdef int check_float(cnp.ndarray a, str name) except -1:
    cdef int t = cnp.PyArray_TYPE(a)
    if ((t != cnp.NPY_FLOAT64 and t != cnp.NPY_FLOAT32) or not cnp.PyArray_IS_C_CONTIGUOUS(a)
            or not cnp.PyArray_ISALIGNED(a) or not cnp.PyArray_ISNOTSWAPPED(a)):
        raise ValueError(f"relu kernel: {name} must be an aligned, native, C-contiguous float32 or float64 array")
    return 0


def relu_forward(cnp.ndarray x):
    """Return ``(out, mask)`` with ``mask = x <= 0`` and ``out`` zero there, ``x`` elsewhere."""
    check_float(x, "x")
    cdef int t = cnp.PyArray_TYPE(x)
    cdef Py_ssize_t n = cnp.PyArray_SIZE(x)
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), t, 0)
    cdef cnp.ndarray mask = cnp.PyArray_EMPTY(cnp.PyArray_NDIM(x), cnp.PyArray_DIMS(x), cnp.NPY_BOOL, 0)
    if t == cnp.NPY_FLOAT64:
        with nogil:
            relu_forward_pass[double](<double*>cnp.PyArray_DATA(x), <double*>cnp.PyArray_DATA(out),
                                      <cnp.npy_bool*>cnp.PyArray_DATA(mask), n)
    else:
        with nogil:
            relu_forward_pass[float](<float*>cnp.PyArray_DATA(x), <float*>cnp.PyArray_DATA(out),
                                     <cnp.npy_bool*>cnp.PyArray_DATA(mask), n)
    return out, mask


def relu_backward(cnp.ndarray dout, cnp.ndarray mask):
    """Zero ``dout`` in place where the bool ``mask`` is set."""
    check_float(dout, "dout")
    if not cnp.PyArray_ISWRITEABLE(dout):
        raise ValueError("relu kernel: dout is read-only")
    if (cnp.PyArray_TYPE(mask) != cnp.NPY_BOOL or not cnp.PyArray_IS_C_CONTIGUOUS(mask)
            or not cnp.PyArray_SAMESHAPE(dout, mask)):
        raise ValueError("relu kernel: mask must be a C-contiguous bool array shaped like dout")
    cdef Py_ssize_t n = cnp.PyArray_SIZE(dout)
    if cnp.PyArray_TYPE(dout) == cnp.NPY_FLOAT64:
        with nogil:
            relu_backward_pass[double](<double*>cnp.PyArray_DATA(dout),
                                       <cnp.npy_bool*>cnp.PyArray_DATA(mask), n)
    else:
        with nogil:
            relu_backward_pass[float](<float*>cnp.PyArray_DATA(dout),
                                      <cnp.npy_bool*>cnp.PyArray_DATA(mask), n)

# Design: the book's ReLU (fastdl/reference/layers.py) in one pass each
# way. Forward writes the bool mask `x <= 0` and the output together, where
# the reference compares, copies and then scatters zeros through a boolean
# index; backward zeroes `dout` where the mask is set, in place as the book
# does. Only comparisons and copies: results are the reference's bit for
# bit (a zeroed entry is +0.0, NaN is kept since `NaN <= 0` is false).
#
# The `def` wrappers take any object and return None, having written
# nothing, where the kernel does not apply (fastdl/_kernels/README.md).
from cython cimport floating

cimport numpy as cnp

from fastdl._kernels.common cimport bool_like, empty_like, float_type

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


def relu_forward(object x):
    """Return ``(out, mask)`` with ``mask = x <= 0`` and ``out`` zero there, ``x`` elsewhere.

    ``None`` where the kernel does not apply (x not an aligned, native,
    C-contiguous float32/float64 ndarray of at least one dimension: the
    reference's mask of a 0-d x is a NumPy bool scalar).
    """
    cdef int t = float_type(x)
    if t < 0 or cnp.PyArray_NDIM(x) == 0:
        return None
    cdef cnp.ndarray out = empty_like(x, t)
    cdef cnp.ndarray mask = empty_like(x, cnp.NPY_BOOL)
    if t == cnp.NPY_FLOAT64:
        forward_arrays(<double*>cnp.PyArray_DATA(x), out, mask)
    else:
        forward_arrays(<float*>cnp.PyArray_DATA(x), out, mask)
    return out, mask


cdef void forward_arrays(floating* x_data, cnp.ndarray out, cnp.ndarray mask) noexcept:
    cdef Py_ssize_t n = cnp.PyArray_SIZE(out)
    cdef floating* out_data = <floating*>cnp.PyArray_DATA(out)
    cdef cnp.npy_bool* mask_data = <cnp.npy_bool*>cnp.PyArray_DATA(mask)
    with nogil:
        relu_forward_pass(x_data, out_data, mask_data, n)


def relu_backward(object dout_, object mask_):
    """Zero ``dout`` in place where the bool ``mask`` is set; returns ``dout``.

    ``None`` (nothing written) where the kernel does not apply: dout not a
    writeable, aligned, native, C-contiguous float32/float64 ndarray, or
    mask not a C-contiguous bool ndarray of its shape.
    """
    cdef int t = float_type(dout_)
    if t < 0 or not cnp.PyArray_ISWRITEABLE(<cnp.ndarray>dout_) or not bool_like(mask_, dout_):
        return None
    cdef cnp.ndarray dout = dout_, mask = mask_
    if t == cnp.NPY_FLOAT64:
        backward_arrays(<double*>cnp.PyArray_DATA(dout), mask)
    else:
        backward_arrays(<float*>cnp.PyArray_DATA(dout), mask)
    return dout


cdef void backward_arrays(floating* dout_data, cnp.ndarray mask) noexcept:
    cdef Py_ssize_t n = cnp.PyArray_SIZE(mask)
    cdef cnp.npy_bool* mask_data = <cnp.npy_bool*>cnp.PyArray_DATA(mask)
    with nogil:
        relu_backward_pass(dout_data, mask_data, n)

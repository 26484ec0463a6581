"""The book's ``common/util.py``: ``im2col``/``col2im`` compiled, the rest the reference's.

``im2col`` and ``col2im`` run a Cython kernel for float16/float32/float64
arrays and integer sizes that describe a valid convolution, with the
reference's values bit for bit; anything else runs the reference's NumPy
code. ``col2im`` returns a C-ordered array, except for one image, one
channel or one pixel, where it returns the reference's view of a padded
image: NumPy's transpose-and-reshape in ``Convolution.backward`` is then a
view or a copy depending on the layout, and sums them in different orders.
"""
from __future__ import annotations

import numpy as np

from fastdl import _backend
from fastdl.reference.util import col2im as _reference_col2im
from fastdl.reference.util import conv_output_size, shuffle_dataset, smooth_curve
from fastdl.reference.util import im2col as _reference_im2col

_conv = _backend.load("conv")

_SOURCE_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


def _is_int(value: object) -> bool:
    return type(value) is int or isinstance(value, np.integer)


def _valid_window(H: int, W: int, filter_h: int, filter_w: int, stride: int, pad: int) -> bool:
    """Whether these sizes are integers the kernels take, with the filter inside the padded image."""
    return (all(_is_int(v) for v in (H, W, filter_h, filter_w, stride, pad))
            and filter_h >= 1 and filter_w >= 1 and stride >= 1 and pad >= 0
            and H + 2 * pad >= filter_h and W + 2 * pad >= filter_w)


def _kernel_image(x: object) -> np.ndarray | None:
    """``x`` as the kernels read it (C-ordered, same values), or None where they do not apply.

    Float16/32/64 4-D ndarrays apply; a non-C-contiguous one is copied.
    """
    if type(x) is not np.ndarray or x.ndim != 4 or x.dtype not in _SOURCE_DTYPES:
        return None
    return x if x.flags.c_contiguous and x.flags.aligned else np.ascontiguousarray(x)


def im2col(input_data: np.ndarray, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """The reference's ``im2col`` (``fastdl.reference.util.im2col``): ``(N, C, H, W)``
    images to a float64 ``(N*out_h*out_w, C*filter_h*filter_w)`` matrix of their windows."""
    x = _kernel_image(input_data)
    if _conv is None or x is None or not _valid_window(*x.shape[2:], filter_h, filter_w, stride, pad):
        return _reference_im2col(input_data, filter_h, filter_w, stride, pad)
    return _conv.im2col(x, filter_h, filter_w, stride, pad)


def col2im(col: np.ndarray, input_shape: tuple[int, int, int, int], filter_h: int, filter_w: int,
           stride: int = 1, pad: int = 0) -> np.ndarray:
    """The reference's ``col2im`` (``fastdl.reference.util.col2im``), the adjoint of ``im2col``.

    Returns
    -------
    float64 ndarray of shape ``input_shape``
        C-ordered, or the reference's view of a padded image for one
        image, channel or pixel (see the module's docstring).
    """
    if (_conv is None or type(col) is not np.ndarray or col.dtype not in _SOURCE_DTYPES
            or len(input_shape) != 4 or not all(_is_int(v) for v in input_shape) or min(input_shape) < 1
            or not _valid_window(*input_shape[2:], filter_h, filter_w, stride, pad)):
        return _reference_col2im(col, input_shape, filter_h, filter_w, stride, pad)
    N, C, H, W = (int(v) for v in input_shape)
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    if col.size != N * out_h * out_w * C * filter_h * filter_w:
        return _reference_col2im(col, input_shape, filter_h, filter_w, stride, pad)
    # Float16/32 entries convert exactly, as the reference's float64 `+=` converts them.
    col = np.ascontiguousarray(col, dtype=np.float64).reshape(N * out_h * out_w, -1)
    return _conv.col2im(col, (N, C, H, W), filter_h, filter_w, stride, pad)


__all__ = ["im2col", "col2im", "smooth_curve", "shuffle_dataset", "conv_output_size"]

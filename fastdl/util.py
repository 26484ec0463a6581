"""The book's ``common/util.py``: ``im2col``/``col2im`` compiled, the rest the reference's.

``im2col`` and ``col2im`` run a Cython kernel for float16/float32/float64
arrays (any layout or byte order) and integer sizes that describe a valid
convolution, with the reference's values bit for bit; anything else runs
the reference's NumPy code. ``col2im`` returns a C-ordered array, except
for one image, one channel or one pixel, where it returns the reference's
view of a padded image: NumPy's transpose-and-reshape in ``Convolution.backward`` is then a
view or a copy depending on the layout, and sums them in different orders.
"""
from __future__ import annotations

import numpy as np

from fastdl import _backend
from fastdl.reference.util import col2im as _reference_col2im
from fastdl.reference.util import conv_output_size, shuffle_dataset, smooth_curve
from fastdl.reference.util import im2col as _reference_im2col

# The one handle on the convolution kernels: every convolution and pooling
# path (here and in fastdl.layers) reads it at each call, so setting it to
# None runs the reference everywhere.
_conv = _backend.load("conv")


def im2col(input_data: np.ndarray, filter_h: int, filter_w: int, stride: int = 1, pad: int = 0) -> np.ndarray:
    """The reference's ``im2col`` (``fastdl.reference.util.im2col``): ``(N, C, H, W)``
    images to a float64 ``(N*out_h*out_w, C*filter_h*filter_w)`` matrix of their windows."""
    col = None if _conv is None else _conv.im2col(input_data, filter_h, filter_w, stride, pad)
    return _reference_im2col(input_data, filter_h, filter_w, stride, pad) if col is None else col


def col2im(col: np.ndarray, input_shape: tuple[int, int, int, int], filter_h: int, filter_w: int,
           stride: int = 1, pad: int = 0) -> np.ndarray:
    """The reference's ``col2im`` (``fastdl.reference.util.col2im``), the adjoint of ``im2col``.

    Returns
    -------
    float64 ndarray of shape ``input_shape``
        C-ordered, or the reference's view of a padded image for one
        image, channel or pixel (see the module's docstring).
    """
    img = None if _conv is None else _conv.col2im(col, input_shape, filter_h, filter_w, stride, pad)
    return _reference_col2im(col, input_shape, filter_h, filter_w, stride, pad) if img is None else img


__all__ = ["im2col", "col2im", "smooth_curve", "shuffle_dataset", "conv_output_size"]

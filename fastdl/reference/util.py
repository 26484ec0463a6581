"""The book's data and image helpers (``common/util.py``)."""
import numpy as np


def smooth_curve(x):
    """Smooth a loss curve for plotting, as the book's figures do.

    The curve is mirrored by 10 points at each end, convolved with a
    normalised Kaiser window of 11 points (beta 2), and trimmed back to
    ``len(x)`` points.
    """
    window_len = 11
    mirrored = np.r_[x[window_len - 1:0:-1], x, x[-1:-window_len:-1]]
    window = np.kaiser(window_len, 2)
    smoothed = np.convolve(window / window.sum(), mirrored, mode="valid")
    return smoothed[5:len(smoothed) - 5]


def shuffle_dataset(x, t):
    """Shuffle ``x`` and ``t`` with one ``np.random.permutation`` of the first axis."""
    permutation = np.random.permutation(x.shape[0])
    return x[permutation], t[permutation]


def conv_output_size(input_size, filter_size, stride=1, pad=0):
    """``(input_size + 2*pad - filter_size) / stride + 1``, a true division as in the book."""
    return (input_size + 2 * pad - filter_size) / stride + 1


def im2col(input_data, filter_h, filter_w, stride=1, pad=0):
    """Unfold the filter windows of ``(N, C, H, W)`` images into the rows of a matrix.

    Parameters
    ----------
    input_data : ndarray of shape (N, C, H, W)
    filter_h, filter_w : int
    stride, pad : int
        ``pad`` zeros are added on both sides of both spatial axes.

    Returns
    -------
    col : float64 ndarray of shape (N*out_h*out_w, C*filter_h*filter_w)
        Row ``(n, oy, ox)``, column ``(c, y, x)`` holds the padded
        ``input_data[n, c, oy*stride + y, ox*stride + x]``, whatever the
        input dtype; ``out_h = (H + 2*pad - filter_h)//stride + 1``,
        likewise ``out_w``.
    """
    N, C, H, W = input_data.shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    padded = np.pad(input_data, [(0, 0), (0, 0), (pad, pad), (pad, pad)], "constant")
    # Axis order (n, c, y, x, oy, ox): one strided copy per filter offset.
    col = np.zeros((N, C, filter_h, filter_w, out_h, out_w))
    for y in range(filter_h):
        for x in range(filter_w):
            col[:, :, y, x, :, :] = padded[:, :, y:y + stride * out_h:stride, x:x + stride * out_w:stride]
    return col.transpose(0, 4, 5, 1, 2, 3).reshape(N * out_h * out_w, -1)


def col2im(col, input_shape, filter_h, filter_w, stride=1, pad=0):
    """Fold ``col`` back into images: the adjoint of ``im2col``.

    A float64 image padded by ``pad`` (and ``stride - 1`` more rows and
    columns) starts at ``+0.0``; for each filter offset ``y``, then ``x``
    (the order of the additions, so of the rounding), the columns ``(c, y,
    x)`` of every row ``(n, oy, ox)`` are added into pixel
    ``(n, c, oy*stride + y, ox*stride + x)``.

    Returns
    -------
    ndarray of shape ``input_shape``
        A view of the padded float64 image without its padding.
    """
    N, C, H, W = input_shape
    out_h = (H + 2 * pad - filter_h) // stride + 1
    out_w = (W + 2 * pad - filter_w) // stride + 1
    windows = col.reshape(N, out_h, out_w, C, filter_h, filter_w).transpose(0, 3, 4, 5, 1, 2)
    img = np.zeros((N, C, H + 2 * pad + stride - 1, W + 2 * pad + stride - 1))
    for y in range(filter_h):
        for x in range(filter_w):
            img[:, :, y:y + stride * out_h:stride, x:x + stride * out_w:stride] += windows[:, :, y, x, :, :]
    return img[:, :, pad:H + pad, pad:W + pad]

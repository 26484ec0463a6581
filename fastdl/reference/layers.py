"""The book's layers: ``forward`` remembers what ``backward`` needs."""
import numpy as np

from fastdl.reference.functions import cross_entropy_error, sigmoid, softmax
from fastdl.reference.util import col2im, im2col


def _as_dtype(a, dtype):
    """``a`` converted to ``dtype``; ``None`` leaves it as it is (the book's float64)."""
    return a if dtype is None else a.astype(dtype, copy=False)


class Relu:
    """``max(0, x)``; ``mask`` marks the zeroed entries (``x <= 0``)."""

    def __init__(self):
        self.mask = None

    def forward(self, x):
        self.mask = (x <= 0)
        out = x.copy()
        out[self.mask] = 0
        return out

    def backward(self, dout):
        dout[self.mask] = 0  # in place, as the book does
        return dout


class Sigmoid:
    """Logistic activation; ``out`` is kept for the backward pass."""

    def __init__(self):
        self.out = None

    def forward(self, x):
        self.out = sigmoid(x)
        return self.out

    def backward(self, dout):
        return dout * (1.0 - self.out) * self.out


class Affine:
    """``x @ W + b`` on ``x`` flattened to ``(N, -1)``; holds ``W``, ``b`` by reference."""

    def __init__(self, W, b):
        self.W = W
        self.b = b
        self.x = None
        self.original_x_shape = None
        self.dW = None
        self.db = None

    def forward(self, x):
        self.original_x_shape = x.shape
        x = x.reshape(x.shape[0], -1)
        self.x = x
        return np.dot(self.x, self.W) + self.b

    def backward(self, dout):
        dx = np.dot(dout, self.W.T)
        self.backward_weights(dout)
        return dx.reshape(*self.original_x_shape)

    def backward_weights(self, dout):
        """Set ``dW`` and ``db`` only: ``backward`` without the input's gradient."""
        self.dW = np.dot(self.x.T, dout)
        self.db = np.sum(dout, axis=0)


class SoftmaxWithLoss:
    """Softmax followed by the mean cross-entropy against labels or one-hot ``t``.

    ``dtype`` (keyword-only, beyond the book): the dtype one-hot ``t`` is
    converted to in ``backward``, so that float64 one-hot labels (the book's
    ``load_mnist(one_hot_label=True)``) keep a float32 network's gradients
    float32; ``None`` leaves ``t`` as it is (the book's).
    """

    def __init__(self, *, dtype=None):
        self.dtype = dtype
        self.loss = None
        self.y = None
        self.t = None

    def forward(self, x, t):
        self.t = t
        self.y = softmax(x)
        self.loss = cross_entropy_error(self.y, self.t)
        return self.loss

    def backward(self, dout=1):
        batch_size = self.t.shape[0]
        if self.t.size == self.y.size:  # one-hot labels
            return (self.y - _as_dtype(self.t, self.dtype)) / batch_size
        dx = self.y.copy()
        dx[np.arange(batch_size), self.t] -= 1
        return dx / batch_size


class Dropout:
    """Dropout with the book's (non-inverted) scaling.

    Training draws ``mask = np.random.rand(*x.shape) > dropout_ratio`` from
    the global NumPy stream; test mode returns ``x * (1 - dropout_ratio)``.
    """

    def __init__(self, dropout_ratio=0.5):
        self.dropout_ratio = dropout_ratio
        self.mask = None

    def forward(self, x, train_flg=True):
        if train_flg:
            self.mask = np.random.rand(*x.shape) > self.dropout_ratio
            return x * self.mask
        return x * (1.0 - self.dropout_ratio)

    def backward(self, dout):
        return dout * self.mask


class BatchNormalization:
    """Batch normalisation per feature (a 4-D input is flattened to ``(N, C*H*W)``).

    ``gamma`` and ``beta`` are held by reference. Running statistics start as
    zeros of ``dtype`` (``None``, the book's: float64) on the first
    ``forward`` and are replaced (not updated in place) by
    ``momentum*old + (1-momentum)*new``; the variance is biased. A float32
    network passes ``dtype=np.float32`` so that test mode stays float32.
    """

    def __init__(self, gamma, beta, momentum=0.9, running_mean=None, running_var=None, *, dtype=None):
        self.dtype = dtype
        self.gamma = gamma
        self.beta = beta
        self.momentum = momentum
        self.input_shape = None
        self.running_mean = running_mean
        self.running_var = running_var
        self.batch_size = None
        self.xc = None
        self.xn = None
        self.std = None
        self.dgamma = None
        self.dbeta = None

    def forward(self, x, train_flg=True):
        self.input_shape = x.shape
        if x.ndim != 2:
            x = x.reshape(x.shape[0], -1)
        out = self._forward(x, train_flg)
        return out.reshape(*self.input_shape)

    def _forward(self, x, train_flg):
        if self.running_mean is None:
            D = x.shape[1]
            self.running_mean = np.zeros(D, dtype=self.dtype)
            self.running_var = np.zeros(D, dtype=self.dtype)

        if train_flg:
            mu = x.mean(axis=0)
            xc = x - mu
            var = np.mean(xc ** 2, axis=0)
            std = np.sqrt(var + 10e-7)
            xn = xc / std

            self.batch_size = x.shape[0]
            self.xc = xc
            self.xn = xn
            self.std = std
            self.running_mean = self.momentum * self.running_mean + (1 - self.momentum) * mu
            self.running_var = self.momentum * self.running_var + (1 - self.momentum) * var
        else:
            xc = x - self.running_mean
            xn = xc / np.sqrt(self.running_var + 10e-7)

        return self.gamma * xn + self.beta

    def backward(self, dout):
        if dout.ndim != 2:
            dout = dout.reshape(dout.shape[0], -1)
        dx = self._backward(dout)
        return dx.reshape(*self.input_shape)

    def _backward(self, dout):
        dbeta = dout.sum(axis=0)
        dgamma = np.sum(self.xn * dout, axis=0)
        dxn = self.gamma * dout
        dxc = dxn / self.std
        dstd = -np.sum((dxn * self.xc) / (self.std * self.std), axis=0)
        dvar = 0.5 * dstd / self.std
        dxc += (2.0 / self.batch_size) * self.xc * dvar
        dmu = np.sum(dxc, axis=0)
        dx = dxc - dmu / self.batch_size

        self.dgamma = dgamma
        self.dbeta = dbeta
        return dx


class Convolution:
    """Convolution of ``(N, C, H, W)`` images with filters ``W`` of shape ``(FN, C, FH, FW)``.

    ``W`` and ``b`` (shape ``(FN,)``) are held by reference and read at
    every call. Forward keeps ``x``, ``col = im2col(x, ...)`` (float64) and
    ``col_W = W.reshape(FN, -1).T``; the output is
    ``np.dot(col, col_W) + b`` as ``(N, FN, out_h, out_w)``. Backward sets
    ``dW`` and ``db`` and returns ``dx = col2im(dout @ col_W.T, ...)``.

    ``dtype`` (keyword-only, beyond the book) is the dtype ``col`` and
    ``dx`` are converted to: ``None`` (the default) keeps ``im2col``'s and
    ``col2im``'s float64, as the book does (so float16 input still computes
    in float64). A float32 network passes ``np.float32``: ``col`` holds
    the input's values exactly, the products run in float32, and ``dx`` is
    ``col2im``'s float64 sum rounded once to float32.
    """

    def __init__(self, W, b, stride=1, pad=0, *, dtype=None):
        self.dtype = dtype
        self.W = W
        self.b = b
        self.stride = stride
        self.pad = pad
        self.x = None
        self.col = None
        self.col_W = None
        self.dW = None
        self.db = None

    def forward(self, x):
        FN, C, FH, FW = self.W.shape
        N, _, H, W = x.shape
        out_h = 1 + int((H + 2 * self.pad - FH) / self.stride)
        out_w = 1 + int((W + 2 * self.pad - FW) / self.stride)

        col = _as_dtype(im2col(x, FH, FW, self.stride, self.pad), self.dtype)
        col_W = self.W.reshape(FN, -1).T
        out = np.dot(col, col_W) + self.b
        out = out.reshape(N, out_h, out_w, -1).transpose(0, 3, 1, 2)

        self.x = x
        self.col = col
        self.col_W = col_W
        return out

    def backward(self, dout):
        FN, C, FH, FW = self.W.shape
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, FN)
        self.db = np.sum(dout, axis=0)
        self._set_dW(dout)
        dcol = np.dot(dout, self.col_W.T)
        return _as_dtype(col2im(dcol, self.x.shape, FH, FW, self.stride, self.pad), self.dtype)

    def backward_weights(self, dout):
        """Set ``dW`` and ``db`` only: ``backward`` without the input's gradient."""
        dout = dout.transpose(0, 2, 3, 1).reshape(-1, self.W.shape[0])
        self.db = np.sum(dout, axis=0)
        self._set_dW(dout)

    def _set_dW(self, dout):
        """``dW`` from the ``(N*out_h*out_w, FN)`` gradient of the output."""
        FN, C, FH, FW = self.W.shape
        self.dW = np.dot(self.col.T, dout).transpose(1, 0).reshape(FN, C, FH, FW)


class Pooling:
    """Max pooling over ``pool_h`` x ``pool_w`` windows of ``(N, C, H, W)`` images.

    Forward keeps ``x`` and ``arg_max``, the first position of each
    window's maximum (``np.argmax``: a NaN counts as the maximum; windows
    run over ``(n, oy, ox, c)``); the output is the float64 window maximum
    (NaN propagates), ``(N, C, out_h, out_w)`` with
    ``out_h = int(1 + (H - pool_h)/stride)``. Backward sends each ``dout``
    value to its window's ``arg_max`` and folds the windows back with
    ``col2im`` (overlapping windows add up). ``stride`` defaults to the
    book's 2 (windows side by side for a 2 x 2 pool).

    ``dtype`` (keyword-only, beyond the book): as ``Convolution``'s, the
    dtype the windows and ``dx`` are converted to; ``None`` keeps the
    book's float64.
    """

    def __init__(self, pool_h, pool_w, stride=2, pad=0, *, dtype=None):
        self.dtype = dtype
        self.pool_h = pool_h
        self.pool_w = pool_w
        self.stride = stride
        self.pad = pad
        self.x = None
        self.arg_max = None

    def forward(self, x):
        N, C, H, W = x.shape
        out_h = int(1 + (H - self.pool_h) / self.stride)
        out_w = int(1 + (W - self.pool_w) / self.stride)

        col = _as_dtype(im2col(x, self.pool_h, self.pool_w, self.stride, self.pad), self.dtype)
        col = col.reshape(-1, self.pool_h * self.pool_w)
        arg_max = np.argmax(col, axis=1)
        out = np.max(col, axis=1)
        out = out.reshape(N, out_h, out_w, C).transpose(0, 3, 1, 2)

        self.x = x
        self.arg_max = arg_max
        return out

    def backward(self, dout):
        dout = dout.transpose(0, 2, 3, 1)
        pool_size = self.pool_h * self.pool_w
        dmax = np.zeros((dout.size, pool_size))
        dmax[np.arange(self.arg_max.size), self.arg_max.flatten()] = dout.flatten()
        dmax = dmax.reshape(dout.shape + (pool_size,))
        dcol = dmax.reshape(dmax.shape[0] * dmax.shape[1] * dmax.shape[2], -1)
        return _as_dtype(col2im(dcol, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad), self.dtype)

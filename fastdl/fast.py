"""Fast mode's layers: the exact layers, whose passes take the fast kernels in fast mode.

``fastdl.nets`` builds its networks from these classes. Each pass decides
once: in fast mode (``fastdl.mode``) and where ``fastdl._kernels.fastconv``
covers the input, the fast kernel runs; anywhere else the exact layer's
pass runs. A backward pass follows whichever forward pass ran, whatever the
mode is by then.

Fast mode computes in the layer's dtype (``dtype=`` of the network:
float32 or float64) without materialising ``col``: the batch goes through
in blocks of images whose rows of ``col`` fit in cache (see
``fastdl/_kernels/fastconv.pxi``), and the block's ``col`` is unfolded
again in the backward pass instead of being kept. After a fast forward
pass, ``Convolution.col`` is ``None`` (``col_W`` is kept, a view of
``W``) and ``Pooling.arg_max`` is ``None`` (the positions are kept in a
private uint8 array); ``x``, ``W``, ``b``, ``dW``, ``db`` are as in exact
mode.
"""
from __future__ import annotations

import numpy as np

from fastdl import _backend, layers
from fastdl._mode import is_fast
from fastdl._pool import pooled

_fastconv = _backend.load_fastest("fastconv")

# Window positions per block (at least one image): DeepConvNet's first four layers then go an image
# at a time (784, 784, 196, 256 positions), its last two four 8 x 8 images at a time. A block's col,
# (288, 256) float32 for the fourth layer, is 288 KB, in the core's L2 cache while BLAS multiplies it.
# 128, 256 and 384 gave DeepConvNet's fastest step, 1.8 % faster in float32 (1.2 % in float64) than
# 512 and 5 % than 1024 (bench/bench_fast.py's step, 15 interleaved rounds).
BLOCK_ROWS = 256

# The kernels' passes make the blocks' products with np.matmul: the same BLAS call as np.dot's (every
# operand is a contiguous matrix, its first columns or its transpose), without np.dot's clearing of `out`
# before it (3 % of the float32 step).

_FAST_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _fast_image(x: object, dtype: np.dtype) -> np.ndarray | None:
    """``x`` as a C-ordered array of ``dtype`` (a copy where it must convert), or None where fast mode declines.

    float16/32/64 input converts exactly to float64; float64 input of a
    float32 layer rounds, as the layer's exact ``col`` does.
    """
    if (type(x) is not np.ndarray or x.ndim != 4 or x.size == 0 or x.dtype.kind != "f"
            or x.dtype.itemsize > 8 or dtype not in _FAST_DTYPES):
        return None
    return _kernel_array(x, dtype)


def _kernel_array(a: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """``a`` as a C-ordered, aligned, native array of ``dtype`` (a copy only where it is not one)."""
    return np.require(a, dtype=dtype, requirements=["C", "A"])


def _check_real(dout: np.ndarray, layer: str) -> None:
    # After a fast forward pass there is no exact state to fall back on.
    if dout.dtype.kind not in "biuf" or dout.dtype.itemsize > 8:
        raise TypeError(f"{layer}.backward needs real numbers of at most 64 bits, not {dout.dtype}")


def _block_images(N: int, rows_per_image: int) -> int:
    """Images per block: about ``BLOCK_ROWS`` rows, at least one, at most the batch."""
    return min(N, max(1, BLOCK_ROWS // max(1, rows_per_image)))


_NO_OFFSETS = np.empty((0, 0, 0), dtype=np.uint8)  # the passes' offsets without pooling


class _ConvState:
    """What a fast forward pass keeps for its backward pass."""

    __slots__ = ("x", "col_W", "out_h", "out_w", "relu_out", "pool", "pooled", "arg")

    def __init__(self, x: np.ndarray, col_W: np.ndarray, out_h: int, out_w: int) -> None:
        self.x, self.col_W, self.out_h, self.out_w = x, col_W, out_h, out_w
        self.relu_out: np.ndarray | None = None  # the output, where the next ReLU was fused in
        self.pool: tuple[int, int, int] | None = None  # (pool_h, pool_w, stride) where ReLU and pooling were
        self.pooled: np.ndarray | None = None  # the pooled output then, and its windows' arg-max offsets
        self.arg: np.ndarray | None = None


class Convolution(layers.Convolution):
    __doc__ = layers.Convolution.__doc__

    _fast: _ConvState | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._fast = None
        out = self._fast_forward(x) if is_fast() else None
        return super().forward(x) if out is None else out

    def forward_fused(self, x: np.ndarray, relu: Relu, pool: Pooling | None = None) -> np.ndarray:
        """``relu.forward(self.forward(x))`` (then ``pool.forward``), as one pass where fast mode covers it.

        For fast networks (``forward``): the fused ReLU and Pooling layers
        then pass ``dout`` through in backward, and this layer takes the
        pooled gradient.
        """
        self._fast = None
        fusable = pool is not None and pool._fusable(layers._compute_dtype(self))
        out = self._fast_forward(x, relu=True, pool=pool if fusable else None) if is_fast() else None
        if out is None:
            out = relu.forward(super().forward(x))
        else:
            relu.fused()
            if fusable:
                pool.fused()
                return out
        return out if pool is None else pool.forward(out)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return super().backward(dout) if self._fast is None else self._fast_backward(dout, True)

    def backward_weights(self, dout: np.ndarray) -> None:
        """Set ``dW`` and ``db`` only: ``backward`` without the input's gradient."""
        if self._fast is None:
            super().backward_weights(dout)
        else:
            self._fast_backward(dout, False)

    @pooled
    def _fast_forward(self, x: np.ndarray, relu: bool = False, pool: Pooling | None = None) -> np.ndarray | None:
        W, b = self.W, self.b
        dtype = layers._compute_dtype(self)
        if (_fastconv is None or type(W) is not np.ndarray or W.ndim != 4 or W.dtype != dtype
                or type(b) is not np.ndarray or b.dtype != dtype or b.shape != (W.shape[0],)):
            return None
        image = _fast_image(x, dtype)
        if image is None or image.shape[1] != W.shape[1]:
            return None  # the exact path gives the error or the reference's result
        FN, C, FH, FW = W.shape
        N, _, H, Wd = image.shape
        layers._check_window("Convolution", H, Wd, FH, FW, self.stride, self.pad)
        out_h = (H + 2 * self.pad - FH) // self.stride + 1
        out_w = (Wd + 2 * self.pad - FW) // self.stride + 1
        P = out_h * out_w
        if pool is not None and layers._pool_output_size(pool, out_h, out_w) is None:
            return None
        filters = W.reshape(FN, -1)  # (FN, K), a view as the exact layer's col_W: backward reads W then
        K = C * FH * FW
        state = _ConvState(image, filters, out_h, out_w)
        if pool is None:
            out = np.empty((N, FN, P), dtype=dtype)
        else:
            state.pool = (pool.pool_h, pool.pool_w, pool.stride)
            out = np.empty((N, FN, *layers._pool_output_size(pool, out_h, out_w)), dtype=dtype)
            state.pooled, state.arg = out, np.empty(out.shape, dtype=np.uint8)
        step = _block_images(N, P)
        col = np.empty((K, step * P), dtype=dtype)
        prod = np.empty((FN, step * P), dtype=dtype)
        arg, pooling = (_NO_OFFSETS, (0, 0, 0)) if pool is None else (state.arg.reshape(N, FN, -1), state.pool)
        _fastconv.conv_forward(image, filters, b, FH, FW, self.stride, self.pad, col, prod, np.matmul, relu,
                               *pooling, out.reshape(N, FN, -1), arg)
        if pool is None:
            out = out.reshape(N, FN, out_h, out_w)
            if relu:
                state.relu_out = out
        self.x = x
        self.col = None
        self.col_W = filters.T
        self._fast = state
        return out

    @pooled
    def _fast_backward(self, dout: np.ndarray, want_dx: bool) -> np.ndarray | bool:
        """``dx`` (or ``True`` without ``want_dx``) after setting ``dW`` and ``db``."""
        state = self._fast
        image, filters = state.x, state.col_W
        N, C, H, Wd = image.shape
        FN, K = filters.shape
        P = state.out_h * state.out_w
        expected = (N, FN, state.out_h, state.out_w) if state.pooled is None else state.pooled.shape
        if not isinstance(dout, np.ndarray):
            raise TypeError(f"Convolution.backward expects a NumPy array, not {type(dout).__name__}")
        if dout.shape != expected:
            raise ValueError(f"Convolution: dout has shape {dout.shape} but the forward pass's output had {expected}")
        _check_real(dout, "Convolution")
        if self.W.ndim != 4 or self.W.shape[:2] != (FN, C) or self.W.shape[2] * self.W.shape[3] * C != K:
            raise ValueError(f"Convolution: W has shape {np.shape(self.W)} since the forward pass, which had "
                             f"{FN} filters of {K} weights")
        FH, FW = self.W.shape[2:]
        dtype = image.dtype
        grad = _kernel_array(dout, dtype)
        masked = state.relu_out is not None  # the fused ReLU's backward
        gate = state.relu_out if masked else grad
        step = _block_images(N, P)
        col = np.empty((K, step * P), dtype=dtype)
        block = np.empty((FN, step * P), dtype=dtype)
        # dx, where the padding makes the output larger than the input (DeepConvNet's fourth layer): the
        # convolution of the gradient, padded with FH-1-pad zeros, with the filters flipped and their axes
        # swapped, a product of (C, FN*FH*FW) and the gradient's windows, over fewer positions than
        # W.T @ gradient has columns, and no col2im (stride 1, square filters, FN <= C: no more windows
        # to unfold). Anywhere else W.T @ gradient and col2im, which measured faster there.
        flipped = (want_dx and self.stride == 1 and FH == FW and 0 <= self.pad < FH and FN <= C
                   and H * Wd < P)
        back_filters = windows = product = None
        if flipped:
            back_filters = np.ascontiguousarray(filters.reshape(FN, C, FH, FW)[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
            back_filters = back_filters.reshape(C, FN * FH * FW)
            # in col's memory (no larger: FN <= C and H*W < P), which the dW product has read by then
            windows = col.reshape(-1)[:FN * FH * FW * step * H * Wd].reshape(FN * FH * FW, step * H * Wd)
            product = np.empty((C, step * H * Wd), dtype=dtype)
        # dW's product as col @ block.T, (K, FN): with OpenBLAS about twice as fast in float32 as
        # block @ col.T for these shapes (inner dimension the block's columns, FN small).
        part = np.empty((K, FN), dtype=dtype)
        dW = np.zeros((K, FN))  # float64 accumulators over blocks, transposed
        db = np.zeros(FN)
        dx = np.empty(image.shape, dtype=dtype) if want_dx else None  # every block sets its images
        if state.pooled is None:
            grad, gate, arg, pool = grad.reshape(N, FN, P), gate.reshape(N, FN, P), _NO_OFFSETS, (0, 0, 0)
        else:
            grad, gate = grad.reshape(N, FN, -1), state.pooled.reshape(N, FN, -1)
            arg, pool = state.arg.reshape(N, FN, -1), state.pool
        _fastconv.conv_backward(image, filters, FH, FW, self.stride, self.pad, col, block, part, np.matmul, dW, db,
                                grad, gate, masked, arg, *pool, dx, back_filters, windows, product)
        self.dW = np.ascontiguousarray(dW.T, dtype=dtype).reshape(FN, C, FH, FW)
        self.db = db.astype(dtype)
        return dx if want_dx else True


class Relu(layers.Relu):
    __doc__ = layers.Relu.__doc__

    _fused = False  # the Convolution before computed this layer's output and will mask its gradient

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._fused = False
        return super().forward(x)

    def fused(self) -> None:
        """Record that the layer before ran this layer's forward pass (``mask`` is then None)."""
        self._fused = True
        self.mask = None

    def backward(self, dout: np.ndarray) -> np.ndarray:
        return dout if self._fused else super().backward(dout)


def forward(net: object, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
    """A convolutional network's ``predict`` in fast mode: its layers in turn, each Convolution
    followed by a ReLU (and a Pooling) running fused. ``train_flg`` reaches the Dropout layers only."""
    stack = net._stack()
    i = 0
    while i < len(stack):
        layer = stack[i]
        if isinstance(layer, Convolution) and i + 1 < len(stack) and isinstance(stack[i + 1], Relu):
            pool = stack[i + 2] if i + 2 < len(stack) and isinstance(stack[i + 2], Pooling) else None
            x = layer.forward_fused(x, stack[i + 1], pool)
            i += 2 if pool is None else 3
            continue
        x = layer.forward(x, train_flg) if isinstance(layer, layers.Dropout) else layer.forward(x)
        i += 1
    return x


class Pooling(layers.Pooling):
    __doc__ = layers.Pooling.__doc__

    _fast: tuple[np.ndarray, tuple[int, ...]] | None = None
    _fused = False  # the Convolution before computed this layer's output and takes its gradient

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._fast = None
        self._fused = False
        out = self._fast_forward(x) if is_fast() else None
        return super().forward(x) if out is None else out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self._fused:
            return dout
        return super().backward(dout) if self._fast is None else self._fast_backward(dout)

    def _fusable(self, dtype: np.dtype) -> bool:
        """Whether a Convolution of ``dtype`` may pool for this layer (``bias_relu_pool_block``)."""
        return (_fastconv is not None and self.pad == 0 and layers._compute_dtype(self) == dtype
                and all(layers._is_int(v) and v >= 1 for v in (self.pool_h, self.pool_w, self.stride))
                and self.pool_h * self.pool_w <= 255)

    def fused(self) -> None:
        """Record that the layer before ran this layer's forward pass (``x`` and ``arg_max`` are then None)."""
        self._fast = None
        self._fused = True
        self.x = None
        self.arg_max = None

    def _fast_forward(self, x: np.ndarray) -> np.ndarray | None:
        dtype = layers._compute_dtype(self)
        if _fastconv is None or self.pad != 0 or type(x) is not np.ndarray or x.dtype != dtype:
            return None
        image = _fast_image(x, dtype)
        if image is None:
            return None
        H, W = image.shape[2:]
        layers._check_window("Pooling", H, W, self.pool_h, self.pool_w, self.stride, self.pad)
        if (self.pool_h * self.pool_w > 255 or layers._pool_output_size(self, H, W) is None):
            return None
        out, arg = _fastconv.pool_forward(image, self.pool_h, self.pool_w, self.stride)
        self.x = x
        self.arg_max = None
        self._fast = (arg, image.shape)
        return out

    def _fast_backward(self, dout: np.ndarray) -> np.ndarray:
        arg, shape = self._fast
        if not isinstance(dout, np.ndarray):
            raise TypeError(f"Pooling.backward expects a NumPy array, not {type(dout).__name__}")
        if dout.shape != arg.shape:
            raise ValueError(f"Pooling: dout has shape {dout.shape} but the forward pass's output had {arg.shape}")
        _check_real(dout, "Pooling")
        dtype = layers._compute_dtype(self)
        dx = np.zeros(shape, dtype=dtype)
        _fastconv.pool_backward(_kernel_array(dout, dtype), arg, dx,
                                self.pool_h, self.pool_w, self.stride)
        return dx


__all__ = ["Convolution", "Relu", "Pooling", "forward"]

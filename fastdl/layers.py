"""The book's layers, drop-in for its ``common.layers``.

``BatchNormalization``, ``Dropout`` and ``Relu`` are the reference classes
(same constructor, defaults and attributes) whose hot steps run compiled
kernels wherever a kernel computes exactly what the reference would, and
the reference's own NumPy code everywhere else; bad input gets a clear
error, and a kernel only ever sees input it covers. ``Sigmoid``, ``Affine``
and ``SoftmaxWithLoss`` are the reference's: ``Affine``'s time is BLAS's
matrix products, and softmax runs once per step. ``Convolution`` and
``Pooling`` (chapters 7-8) run compiled ``im2col``, ``col2im`` and
max-pooling kernels around NumPy's matrix products, allocating from
fastdl's memory pool (``fastdl.configure_memory``).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from fastdl import _backend, util
from fastdl._pool import pooled
from fastdl.reference import layers as reference
from fastdl.reference.layers import Affine, Sigmoid, SoftmaxWithLoss

_batchnorm = _backend.load_fastest("batchnorm")
_dropout = _backend.load("dropout")
_activations = _backend.load("activations")

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))
_REAL_KINDS = "biuf"


def _is_python_number(x: object) -> bool:
    # NumPy 2 rounds a Python number to the array's dtype (NEP 50); a NumPy
    # scalar may promote differently, so it takes the reference path.
    return type(x) in (float, int)


def _float_array(a: object) -> bool:
    """True for a plain, aligned, C-contiguous float32/float64 ndarray of native byte order."""
    return (type(a) is np.ndarray and a.dtype in _FLOAT_DTYPES  # dtype equality checks byte order
            and a.flags.c_contiguous and a.flags.aligned)


_mt19937_layout_checked: bool | None = None


def _global_stream() -> tuple[np.random.BitGenerator, bool]:
    """The bit generator behind ``np.random.rand``, and whether the kernel may run it inline.

    The one place fastdl relies on NumPy's internals: ``np.random.mtrand._rand``
    (the global ``RandomState``) and the layout of ``MT19937``'s state, which
    ``mt19937_layout_matches`` checks once against NumPy's own draws.
    """
    global _mt19937_layout_checked
    bit_generator = np.random.mtrand._rand._bit_generator
    if type(bit_generator) is not np.random.MT19937:
        return bit_generator, False
    if _mt19937_layout_checked is None:
        _mt19937_layout_checked = _dropout.mt19937_layout_matches()
    return bit_generator, _mt19937_layout_checked


def _exact_as_double(ratio: Any) -> bool:
    """Whether ``draws > ratio`` compares with ``float(ratio)`` in NumPy (not a ``longdouble``, say)."""
    if type(ratio) is int:
        return -2**53 <= ratio <= 2**53
    return isinstance(ratio, (float, np.float64, np.float32, np.float16, np.integer))


def _check_mt19937_position() -> None:
    """ValueError if the global MT19937's position is outside 0..624.

    NumPy 2.0-2.4's ``np.random.set_state`` accepts any position (2.5
    refuses one outside 0..624 itself), but NumPy's own draws then read
    outside the 624 state words (and crash for large ones): no result to
    reproduce, so fastdl refuses, drawing nothing.
    """
    pos = np.random.get_state()[2]
    if not 0 <= pos <= 624:
        raise ValueError(f"the global MT19937 state has position {pos}, outside 0..624 "
                         "(np.random.set_state of NumPy < 2.5 accepts it, but drawing from it reads outside the state)")


class Relu(reference.Relu):
    """``max(0, x)``; ``mask`` marks the zeroed entries (``x <= 0``).

    Forward makes ``mask`` and the output in one call, without the
    reference's boolean-index scatter; backward zeroes ``dout[mask]`` in
    place, as the book does. Exactly the reference's results (the kernel
    only compares and copies).
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``x`` with its entries ``<= 0`` zeroed (a new array); sets ``mask``."""
        result = None if _activations is None else _activations.relu_forward(x)
        if result is None:
            return super().forward(x)
        out, self.mask = result
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """``dout`` with the masked entries zeroed, in place."""
        if _activations is None or _activations.relu_backward(dout, self.mask) is None:
            return super().backward(dout)
        return dout


class Dropout(reference.Dropout):
    """Dropout with the book's (non-inverted) scaling.

    Training keeps each element where a uniform draw exceeds
    ``dropout_ratio`` and returns ``x * mask``; test mode returns
    ``x * (1 - dropout_ratio)``. ``mask`` is a bool array, so
    ``dout * mask`` works as in the book.

    Parameters
    ----------
    dropout_ratio : float, default 0.5
        Probability of dropping an element.
    rng : numpy.random.Generator, optional
        Without it (the default) the mask is drawn from NumPy's global
        stream exactly as ``np.random.rand(*x.shape) > dropout_ratio``
        draws it: after ``np.random.seed(s)`` masks, outputs and the
        stream's state afterwards equal the reference's. With a Generator
        each call takes one 64-bit draw from it and expands it with
        SplitMix64 into 32 random bits per element: faster, reproducible
        for a given seed, but **not** the reference's stream.
    """

    def __init__(self, dropout_ratio: float = 0.5, *, rng: np.random.Generator | None = None) -> None:
        super().__init__(dropout_ratio)
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, not {type(rng).__name__}")
        self.rng = rng

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        """``x * mask`` with a new ``mask`` in training, ``x * (1 - dropout_ratio)`` otherwise."""
        if not train_flg:
            return super().forward(x, train_flg)
        if not isinstance(x, np.ndarray):
            raise TypeError(f"Dropout.forward expects a NumPy array, not {type(x).__name__}")
        ratio = self.dropout_ratio
        if type(ratio) is not float and (not isinstance(ratio, (int, float, np.integer, np.floating))
                                         or isinstance(ratio, bool)):
            raise TypeError(f"dropout_ratio must be a real number, not {type(ratio).__name__}")
        # np.random.rand() of no shape returns a float, not an array: 0-d x
        # takes the reference path.
        if _float_array(x) and x.ndim > 0:  # the common case: nothing to convert
            kernel = _dropout is not None
        else:
            native = x.dtype.newbyteorder("=")
            kernel = (_dropout is not None and type(x) is np.ndarray and native in _FLOAT_DTYPES
                      and x.ndim > 0)
            if kernel:
                # An elementwise product pairs x[i] with the i-th draw in C
                # order whatever the layout, so a C-ordered, aligned, native
                # copy changes nothing (NumPy's own output is native too).
                x = np.require(x, native, "CA")
        if self.rng is None:
            if not kernel or (type(ratio) is not float and not _exact_as_double(ratio)):
                return super().forward(x, train_flg)
            result = _dropout.forward_stream(x, float(ratio), *_global_stream())
            if result is None:
                _check_mt19937_position()
                return super().forward(x, train_flg)
            out, self.mask = result
            return out
        if _dropout is None:
            raise RuntimeError("Dropout with rng= needs fastdl's compiled kernels, which did not import: "
                               f"{_backend.missing.get('dropout')}")
        if not kernel:
            raise TypeError(f"Dropout with rng= supports float32 and float64 arrays, not {x.dtype} of {x.ndim} dimensions")
        out, self.mask = _dropout.forward_fast(x, float(ratio), self.rng.bit_generator)
        return out

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """``dout * mask``."""
        mask = self.mask
        if mask is None:
            raise RuntimeError("Dropout.backward called before a training forward pass")
        if np.shape(dout) != np.shape(mask):
            raise ValueError(f"dout has shape {np.shape(dout)} but the forward pass had {np.shape(mask)}")
        dx = None if _dropout is None else _dropout.backward(dout, mask)
        return super().backward(dout) if dx is None else dx


class BatchNormalization(reference.BatchNormalization):
    """Batch normalisation with the book's formulas and attributes.

    Parameters
    ----------
    gamma, beta : ndarray of shape (D,)
        Scale and shift, held by reference (the network's ``params``).
    momentum : float, default 0.9
        Weight of the old running statistics.
    running_mean, running_var : ndarray of shape (D,), optional
        Start as zeros of ``dtype`` (``None``: float64) on the first ``forward``.
    spatial : bool, default False
        Opt-in per-channel normalisation of 4-D ``(N, C, H, W)`` input:
        statistics over ``N, H, W`` for each channel, ``gamma``/``beta``
        and the running statistics of length ``C``. It is the book's
        formulas applied to the ``(N*H*W, C)`` matrix of the input's
        channels-last layout, so ``batch_size``, ``xc``, ``xn`` are those
        of that matrix. The default is the book's per-feature normalisation
        (a non-2-D input is flattened to ``(N, C*H*W)``).

    Notes
    -----
    Float32/float64 input of at least two features, with ``gamma``,
    ``beta`` of the same dtype and float64 running statistics (or, in
    training mode, float32 ones with float32 input: a float32 network's
    layer), runs compiled kernels (training and test mode) whose results equal the
    reference's bit for bit: they perform NumPy's operations in NumPy's
    order (column sums row by row, ``mean`` as the sum divided by N, Python
    floats rounded to the array's dtype, true divisions). Anything else
    (mixed dtypes, which NumPy promotes; integer input; a single feature,
    which NumPy sums pairwise; a NumPy scalar ``momentum``;
    non-C-contiguous 2-D input) runs the reference's code, so results
    never differ. Input of fewer than two dimensions is rejected (the
    reference would treat a 1-D array as N samples of one feature).

    With batch size 1 or a constant feature, ``var`` is 0, ``std`` is
    ``sqrt(1e-6)`` (0.001), ``xn`` is 0 and the output is ``beta``; the
    gradient is finite: 0 for a batch of one, about
    ``gamma * (dout - dout.mean(0)) / 0.001`` for a constant feature. NaN
    in the input propagates as in the reference.

    Every result is a new array: an array the layer handed out (``xc``,
    ``xn``, an output, a gradient) is never written again.
    """

    def __init__(self, gamma: np.ndarray, beta: np.ndarray, momentum: float = 0.9,
                 running_mean: np.ndarray | None = None, running_var: np.ndarray | None = None,
                 *, spatial: bool = False, dtype: np.typing.DTypeLike | None = None) -> None:
        super().__init__(gamma, beta, momentum, running_mean, running_var, dtype=dtype)
        self.spatial = spatial

    def forward(self, x: np.ndarray, train_flg: bool = True) -> np.ndarray:
        """Normalise ``x`` (batch statistics in training, running ones otherwise)."""
        fast = type(x) is np.ndarray and x.ndim == 2 and not self.spatial
        matrix = x if fast else self._input_matrix(x)
        self.input_shape = x.shape
        return self._from_matrix(self._forward(matrix, train_flg))

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """The gradient of the input; sets ``dgamma`` and ``dbeta``."""
        if self.xc is None:
            raise RuntimeError("BatchNormalization.backward called before a training forward pass")
        fast = (type(dout) is np.ndarray and dout.ndim == 2 and not self.spatial
                and dout.shape == self.input_shape)
        matrix = dout if fast else self._dout_matrix(dout)
        return self._from_matrix(self._backward(matrix))

    def _forward(self, x: np.ndarray, train_flg: bool) -> np.ndarray:
        """The forward pass on the ``(rows, features)`` matrix: the kernel, or the reference where it declines."""
        if self.running_mean is None and _float_array(x):
            self.running_mean = np.zeros(x.shape[1], dtype=self.dtype)
            self.running_var = np.zeros(x.shape[1], dtype=self.dtype)
        if _batchnorm is not None:
            if not train_flg:
                out = _batchnorm.forward_test(x, self.gamma, self.beta,
                                              self.running_mean, self.running_var)
                if out is not None:
                    return out
            elif _is_python_number(self.momentum):
                result = _batchnorm.forward_train(x, self.gamma, self.beta, self.running_mean,
                                                  self.running_var, self.momentum, 1 - self.momentum)
                if result is not None:
                    out, self.xc, self.xn, self.std, self.running_mean, self.running_var = result
                    self.batch_size = x.shape[0]
                    return out
        if x.dtype.kind not in _REAL_KINDS:
            raise TypeError(f"BatchNormalization needs real numbers, not {x.dtype}")
        self._check_parameters(x.shape[1])
        return super()._forward(x, train_flg)

    def _backward(self, dout: np.ndarray) -> np.ndarray:
        """The backward pass on the ``(rows, features)`` matrix: the kernel, or the reference where it declines."""
        if _batchnorm is not None and dout.shape[0] == self.batch_size:
            result = _batchnorm.backward(dout, self.xc, self.xn, self.std, self.gamma)
            if result is not None:
                dx, self.dgamma, self.dbeta = result
                return dx
        if dout.shape != np.shape(self.xc):
            raise ValueError(f"dout flattens to {dout.shape} but the last training forward pass "
                             f"kept xc of shape {np.shape(self.xc)}")
        return super()._backward(dout)

    def _input_matrix(self, x: Any) -> np.ndarray:
        """The ``(rows, features)`` matrix of ``x`` the formulas run on; an error for input the layer does not take."""
        if not isinstance(x, np.ndarray):
            raise TypeError(f"BatchNormalization.forward expects a NumPy array, not {type(x).__name__}")
        if self.spatial:
            if x.ndim != 4:
                raise ValueError(f"spatial BatchNormalization expects (N, C, H, W) input, not {x.ndim}-D")
            N, C, H, W = x.shape
            return np.ascontiguousarray(x.transpose(0, 2, 3, 1).reshape(N * H * W, C))
        if x.ndim < 2:
            raise ValueError(f"BatchNormalization expects (N, D) or (N, C, H, W) input, not {x.ndim}-D")
        return x.reshape(x.shape[0], -1)

    def _dout_matrix(self, dout: Any) -> np.ndarray:
        """``dout`` as the ``(rows, features)`` matrix of the last forward pass; an error if it does not fit."""
        if not isinstance(dout, np.ndarray):
            raise TypeError(f"BatchNormalization.backward expects a NumPy array, not {type(dout).__name__}")
        if dout.shape != self.input_shape:
            raise ValueError(f"dout has shape {dout.shape} but the last forward pass had {self.input_shape}")
        return self._input_matrix(dout)

    def _from_matrix(self, out: np.ndarray) -> np.ndarray:
        """A result on the matrix, back in the input's shape."""
        if self.spatial:
            N, C, H, W = self.input_shape
            return np.ascontiguousarray(out.reshape(N, H, W, C).transpose(0, 3, 1, 2))
        return out if out.shape == self.input_shape else out.reshape(*self.input_shape)

    def _check_parameters(self, D: int) -> None:
        for name in ("gamma", "beta"):
            value = getattr(self, name)
            if isinstance(value, (int, float, np.integer, np.floating)):
                continue  # a real scalar broadcasts, as in the reference
            if not isinstance(value, np.ndarray) or value.dtype.kind not in _REAL_KINDS:
                raise TypeError(f"{name} must be a real NumPy array, not {type(value).__name__}")
            if value.shape != (D,):
                raise ValueError(f"{name} has shape {value.shape} but the input has {D} features")
        for name in ("running_mean", "running_var"):
            value = getattr(self, name)
            if value is not None and np.shape(value) != (D,):
                raise ValueError(f"{name} has shape {np.shape(value)} but the input has {D} features")


def _compute_dtype(layer: reference.Convolution | reference.Pooling) -> np.dtype:
    """The dtype the layer computes in: its ``dtype`` (any spelling NumPy takes), or the book's float64."""
    return np.dtype(np.float64) if layer.dtype is None else np.dtype(layer.dtype)


def _book_float64(layer: reference.Convolution | reference.Pooling) -> bool:
    """Whether the layer computes in the book's float64, as the kernels do."""
    return _compute_dtype(layer) == np.float64


def _pool_output_size(pool: reference.Pooling, H: int, W: int) -> tuple[int, int] | None:
    """``(out_h, out_w)`` of pooling an ``H`` x ``W`` image, or None where the book's
    ``int(1 + (H - pool_h)/stride)`` (which ignores ``pad``) is another size: the reference's reshapes
    decide there."""
    out_h = (H + 2 * pool.pad - pool.pool_h) // pool.stride + 1
    out_w = (W + 2 * pool.pad - pool.pool_w) // pool.stride + 1
    if (out_h, out_w) != (int(1 + (H - pool.pool_h) / pool.stride), int(1 + (W - pool.pool_w) / pool.stride)):
        return None
    return out_h, out_w


def _is_int(value: object) -> bool:
    return type(value) is int or isinstance(value, np.integer)


def _check_images(x: object, layer: str) -> None:
    """Reject what is not a non-empty ``(N, C, H, W)`` array, with a clear message."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{layer}.forward expects a NumPy array, not {type(x).__name__}")
    if x.ndim != 4:
        raise ValueError(f"{layer} expects (N, C, H, W) input, not {x.ndim}-D of shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{layer} got an empty batch (N = 0)")


def _check_window(layer: str, H: int, W: int, filter_h: object, filter_w: object, stride: object, pad: object) -> None:
    """Reject sizes that describe no window position inside the padded image."""
    for name, value in (("filter height", filter_h), ("filter width", filter_w), ("stride", stride), ("pad", pad)):
        if not _is_int(value):
            raise TypeError(f"{layer}: the {name} must be an integer, not {type(value).__name__}")
    if filter_h < 1 or filter_w < 1:
        raise ValueError(f"{layer}: the window must be at least 1x1, not {filter_h}x{filter_w}")
    if stride < 1:
        raise ValueError(f"{layer}: stride must be at least 1, not {stride}")
    if pad < 0:
        raise ValueError(f"{layer}: pad must be at least 0, not {pad}")
    if H + 2 * pad < filter_h or W + 2 * pad < filter_w:
        raise ValueError(f"{layer}: the {filter_h}x{filter_w} window is larger than the padded input "
                         f"({H + 2 * pad}x{W + 2 * pad})")


class Convolution(reference.Convolution):
    """Convolution of ``(N, C, H, W)`` images with filters ``W`` ``(FN, C, FH, FW)`` and bias ``b`` ``(FN,)``.

    The reference layer (same constructor and attributes: ``x``, ``col``,
    ``col_W``, ``dW``, ``db``), with ``W`` and ``b`` read at every call.
    ``im2col``, the bias add with the output's transpose, the output
    gradient's transpose with ``db``, and ``col2im`` run compiled kernels;
    the matrix products are NumPy's on arrays of the reference's values and
    layout, so every result equals the reference's bit for bit. The output
    is C-ordered where the reference's is a transposed view (the book's
    layers after it copy it either way); ``dx`` is laid out as
    ``fastdl.util.col2im``'s. Every array it returns or keeps is new.

    Float16/32/64 input of any layout with float16/32/64 ``W`` and ``b`` of
    shape ``(FN,)`` runs the kernels; other dtypes run the reference's code.
    Input that is not a non-empty 4-D array matching ``W``'s channels, a
    stride below 1, a negative pad or a filter larger than the padded input
    raise a ValueError or TypeError.
    """

    @pooled
    def forward(self, x: np.ndarray) -> np.ndarray:
        FN, C, FH, FW = self._filter_shape()
        _check_images(x, "Convolution")
        _, channels, H, W = x.shape
        if channels != C:
            raise ValueError(f"Convolution: x has {channels} channels but W {self.W.shape} expects {C}")
        _check_window("Convolution", H, W, FH, FW, self.stride, self.pad)
        kernels = util._conv if _book_float64(self) else None
        result = None if kernels is None else kernels.conv_forward(x, self.W, self.b, self.stride, self.pad)
        if result is None:
            return super().forward(x)
        out, self.col, self.col_W = result
        self.x = x
        return out

    def _filter_shape(self) -> tuple[int, int, int, int]:
        W = self.W
        if not isinstance(W, np.ndarray) or W.ndim != 4:
            raise ValueError(f"Convolution: W must be a 4-D (FN, C, FH, FW) array, not {np.shape(W)}")
        return W.shape

    @pooled
    def backward(self, dout: np.ndarray) -> np.ndarray:
        return self._backward(dout, True)

    @pooled
    def backward_weights(self, dout: np.ndarray) -> None:
        """Set ``dW`` and ``db`` only: ``backward`` without the input's gradient."""
        self._backward(dout, False)

    def _backward(self, dout: np.ndarray, input_gradient: bool) -> np.ndarray | None:
        """Set ``dW`` and ``db``; return ``dx`` if ``input_gradient``."""
        if self.col is None:
            raise RuntimeError("Convolution.backward called before forward")
        if not isinstance(dout, np.ndarray):
            raise TypeError(f"Convolution.backward expects a NumPy array, not {type(dout).__name__}")
        FN, _, FH, FW = self._filter_shape()
        N, _, H, W = self.x.shape
        expected = (N, FN, (H + 2 * self.pad - FH) // self.stride + 1, (W + 2 * self.pad - FW) // self.stride + 1)
        if dout.shape != expected:
            raise ValueError(f"Convolution: dout has shape {dout.shape} but the forward pass's output had {expected}")
        kernels = util._conv if _book_float64(self) else None
        result = None if kernels is None else kernels.conv_backward(
            dout, self.col, self.col_W, self.x.shape, FH, FW, self.stride, self.pad, input_gradient)
        if result is None:
            return super().backward(dout) if input_gradient else super().backward_weights(dout)
        dx, self.dW, self.db = result
        return dx


class Pooling(reference.Pooling):
    """Max pooling over ``pool_h`` x ``pool_w`` windows of ``(N, C, H, W)`` images.

    The reference layer (same constructor, ``stride=2`` by default as in
    the book, and attributes ``x``, ``arg_max``), whose forward pass
    (maximum and first arg-max together) and backward pass (scatter and
    fold together) run compiled kernels with the reference's results bit
    for bit; the output is C-ordered float64 where the reference's is a
    transposed view, ``dx`` laid out as ``fastdl.util.col2im``'s.

    Float16/32/64 input runs the kernels; other dtypes, windows whose
    maximum is a zero tied with a zero of the other sign (NumPy's sign of
    the maximum then depends on its SIMD code), and padded cases where the
    book's ``out_h = int(1 + (H - pool_h)/stride)`` (which ignores ``pad``)
    differs from ``im2col``'s run the reference's code. Input that is not a
    non-empty 4-D array, a stride below 1, a negative pad or a window larger
    than the padded input raise a ValueError or TypeError.
    """

    @pooled
    def forward(self, x: np.ndarray) -> np.ndarray:
        _check_images(x, "Pooling")
        H, W = x.shape[2:]
        _check_window("Pooling", H, W, self.pool_h, self.pool_w, self.stride, self.pad)
        kernels = util._conv if _book_float64(self) else None
        result = None if kernels is None else kernels.pool_forward(x, self.pool_h, self.pool_w, self.stride, self.pad)
        if result is None:
            return super().forward(x)
        out, self.arg_max = result
        self.x = x
        return out

    @pooled
    def backward(self, dout: np.ndarray) -> np.ndarray:
        if self.arg_max is None:
            raise RuntimeError("Pooling.backward called before forward")
        if not isinstance(dout, np.ndarray):
            raise TypeError(f"Pooling.backward expects a NumPy array, not {type(dout).__name__}")
        N, C, H, W = self.x.shape
        size = _pool_output_size(self, H, W)
        if size is not None and dout.shape != (N, C, *size):
            raise ValueError(f"Pooling: dout has shape {dout.shape} but the forward pass's output had {(N, C, *size)}")
        kernels = util._conv if _book_float64(self) else None
        dx = None if kernels is None else kernels.pool_backward(
            dout, self.arg_max, self.x.shape, self.pool_h, self.pool_w, self.stride, self.pad)
        return super().backward(dout) if dx is None else dx


__all__ = ["Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "Dropout", "BatchNormalization",
           "Convolution", "Pooling"]

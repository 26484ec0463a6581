"""The chapter's fully connected networks.

Layer classes are class attributes, so a subclass swaps in faster layers
(``fastdl.nets``) without repeating the wiring below.
"""
from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import numpy as np

from fastdl.reference import layers
from fastdl.reference.gradient import numerical_gradient


def init_scale(weight_init_std, n_in):
    """Standard deviation of the initial weights of a layer with ``n_in`` inputs.

    ``'relu'``/``'he'`` give He's ``sqrt(2/n_in)``, ``'sigmoid'``/``'xavier'``
    Xavier's ``sqrt(1/n_in)``; a number is used as it is.
    """
    name = str(weight_init_std).lower()
    if name in ("relu", "he"):
        return np.sqrt(2.0 / n_in)
    if name in ("sigmoid", "xavier"):
        return np.sqrt(1.0 / n_in)
    return weight_init_std


def net_dtype(dtype):
    """``dtype`` as a NumPy dtype, float32 or float64 (``None`` is float64, as in NumPy); else a ValueError."""
    try:
        checked = np.dtype(dtype)
    except TypeError:
        checked = None
    # Compare types: a dtype compares equal to None and to its name.
    if checked is None or checked.type not in (np.float32, np.float64) or not checked.isnative:
        raise ValueError(f"a network's dtype must be float32 or float64, not {dtype!r}")
    return checked


class LayerClasses:
    """The layer classes the networks build from, as class attributes that
    ``fastdl.nets`` overrides with its faster layers.

    ``dtype`` (keyword-only in every network, beyond the book; float32 or
    float64, default float64) is the dtype of the parameters, activations
    and gradients: the initial weights are the dtype's roundings of the
    book's float64 draws (the same draws from NumPy's global stream), and
    the layers that the book computes in float64 whatever the input
    (``Convolution``, ``Pooling``, ``BatchNormalization``'s running
    statistics) get ``dtype=`` too. A float64 network passes them
    ``dtype=None``: the book's code, unchanged.
    """

    dtype = np.dtype(np.float64)

    def _set_dtype(self, dtype):
        self.dtype = net_dtype(dtype)

    @property
    def _layer_dtype(self):
        """What the network passes as the layers' ``dtype=``: None (the book's) for float64."""
        return None if self.dtype == np.float64 else self.dtype

    def _draw(self, scale, *shape):
        """``scale * np.random.randn(*shape)`` (one draw from the global stream) in the network's dtype."""
        return (scale * np.random.randn(*shape)).astype(self.dtype, copy=False)

    Affine = layers.Affine
    Relu = layers.Relu
    Sigmoid = layers.Sigmoid
    BatchNormalization = layers.BatchNormalization
    Dropout = layers.Dropout
    SoftmaxWithLoss = layers.SoftmaxWithLoss
    Convolution = layers.Convolution
    Pooling = layers.Pooling


class _FullyConnectedNet(LayerClasses):

    def _init_weight(self, weight_init_std):
        all_size_list = [self.input_size] + self.hidden_size_list + [self.output_size]
        for idx in range(1, len(all_size_list)):
            scale = init_scale(weight_init_std, all_size_list[idx - 1])
            self.params["W" + str(idx)] = self._draw(scale, all_size_list[idx - 1], all_size_list[idx])
            self.params["b" + str(idx)] = np.zeros(all_size_list[idx], dtype=self.dtype)

    def _activation(self, activation):
        return {"sigmoid": self.Sigmoid, "relu": self.Relu}[activation]()

    def _weight_decay(self):
        weight_decay = 0
        for idx in range(1, self.hidden_layer_num + 2):
            W = self.params["W" + str(idx)]
            weight_decay += 0.5 * self.weight_decay_lambda * np.sum(W ** 2)
        return weight_decay

    def accuracy(self, x: np.ndarray, t: np.ndarray) -> float:
        """Fraction of rows of ``x`` whose arg-max prediction equals ``t``."""
        y = np.argmax(self.predict(x), axis=1)
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        return np.sum(y == t) / float(x.shape[0])

    def _stack(self):
        """Every layer but the loss, from the input up, as a list."""
        return list(self.layers.values())

    def _backprop(self):
        """Run every layer's ``backward``, from the loss down to the input."""
        dout = self.last_layer.backward(1)
        for layer in reversed(self._stack()):
            dout = layer.backward(dout)

    def _backward(self):
        """Backpropagate from the loss; return the grads of ``W{i}``, ``b{i}`` in order."""
        self._backprop()
        grads = {}
        for idx in range(1, self.hidden_layer_num + 2):
            affine = self.layers["Affine" + str(idx)]
            grads["W" + str(idx)] = affine.dW + self.weight_decay_lambda * affine.W
            grads["b" + str(idx)] = affine.db
            self._extra_grads(grads, idx)
        return grads

    def _extra_grads(self, grads, idx):
        pass


class MultiLayerNet(_FullyConnectedNet):
    """Affine -> activation per hidden layer, a last Affine, softmax with loss.

    Parameters
    ----------
    input_size, hidden_size_list, output_size : int, list of int, int
    activation : {'relu', 'sigmoid'}
    weight_init_std : float or {'relu', 'he', 'sigmoid', 'xavier'}
    weight_decay_lambda : float
        L2 penalty ``0.5*lambda*sum(W**2)`` added to the loss.
    dtype : {numpy.float64, numpy.float32}, keyword-only
        Beyond the book: the dtype of the parameters and of everything
        computed from them (see ``LayerClasses``).
    """

    def __init__(self, input_size: int, hidden_size_list: Sequence[int], output_size: int,
                 activation: str = "relu", weight_init_std: str | float = "relu",
                 weight_decay_lambda: float = 0, *, dtype: np.typing.DTypeLike = np.float64) -> None:
        self._set_dtype(dtype)
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size_list = hidden_size_list
        self.hidden_layer_num = len(hidden_size_list)
        self.weight_decay_lambda = weight_decay_lambda
        self.params = {}
        self._init_weight(weight_init_std)

        self.layers = OrderedDict()
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers["Affine" + str(idx)] = self.Affine(self.params["W" + str(idx)], self.params["b" + str(idx)])
            self.layers["Activation_function" + str(idx)] = self._activation(activation)
        idx = self.hidden_layer_num + 1
        self.layers["Affine" + str(idx)] = self.Affine(self.params["W" + str(idx)], self.params["b" + str(idx)])
        self.last_layer = self.SoftmaxWithLoss(dtype=self._layer_dtype)

    def predict(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x: np.ndarray, t: np.ndarray) -> float:
        y = self.predict(x)
        return self.last_layer.forward(y, t) + self._weight_decay()

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Gradient of ``loss`` by central differences (slow; for checking)."""
        loss_W = lambda W: self.loss(x, t)
        grads = {}
        for idx in range(1, self.hidden_layer_num + 2):
            grads["W" + str(idx)] = numerical_gradient(loss_W, self.params["W" + str(idx)])
            grads["b" + str(idx)] = numerical_gradient(loss_W, self.params["b" + str(idx)])
        return grads

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Gradient of ``loss`` by backpropagation, ``dW + lambda*W`` for weights."""
        self.loss(x, t)
        return self._backward()


class MultiLayerNetExtend(_FullyConnectedNet):
    """``MultiLayerNet`` with optional batch normalisation and dropout.

    Per hidden layer: Affine -> [BatchNormalization] -> activation ->
    [Dropout]. With batch normalisation, ``params`` also holds ``gamma{i}``
    (ones) and ``beta{i}`` (zeros). ``dropout_ration`` is the book's spelling.
    ``dtype`` (keyword-only, beyond the book) as in ``MultiLayerNet``.
    """

    def __init__(self, input_size: int, hidden_size_list: Sequence[int], output_size: int,
                 activation: str = "relu", weight_init_std: str | float = "relu",
                 weight_decay_lambda: float = 0, use_dropout: bool = False,
                 dropout_ration: float = 0.5, use_batchnorm: bool = False, *,
                 dtype: np.typing.DTypeLike = np.float64) -> None:
        self._set_dtype(dtype)
        self.input_size = input_size
        self.output_size = output_size
        self.hidden_size_list = hidden_size_list
        self.hidden_layer_num = len(hidden_size_list)
        self.use_dropout = use_dropout
        self.weight_decay_lambda = weight_decay_lambda
        self.use_batchnorm = use_batchnorm
        self.params = {}
        self._init_weight(weight_init_std)

        self.layers = OrderedDict()
        for idx in range(1, self.hidden_layer_num + 1):
            self.layers["Affine" + str(idx)] = self.Affine(self.params["W" + str(idx)], self.params["b" + str(idx)])
            if self.use_batchnorm:
                self.params["gamma" + str(idx)] = np.ones(hidden_size_list[idx - 1], dtype=self.dtype)
                self.params["beta" + str(idx)] = np.zeros(hidden_size_list[idx - 1], dtype=self.dtype)
                self.layers["BatchNorm" + str(idx)] = self.BatchNormalization(
                    self.params["gamma" + str(idx)], self.params["beta" + str(idx)], dtype=self._layer_dtype)
            self.layers["Activation_function" + str(idx)] = self._activation(activation)
            if self.use_dropout:
                self.layers["Dropout" + str(idx)] = self.Dropout(dropout_ration)
        idx = self.hidden_layer_num + 1
        self.layers["Affine" + str(idx)] = self.Affine(self.params["W" + str(idx)], self.params["b" + str(idx)])
        self.last_layer = self.SoftmaxWithLoss(dtype=self._layer_dtype)

    def predict(self, x: np.ndarray, train_flg: bool = False) -> np.ndarray:
        for key, layer in self.layers.items():
            if "Dropout" in key or "BatchNorm" in key:
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def loss(self, x: np.ndarray, t: np.ndarray, train_flg: bool = False) -> float:
        y = self.predict(x, train_flg)
        return self.last_layer.forward(y, t) + self._weight_decay()

    def numerical_gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Gradient of the training-mode ``loss`` by central differences."""
        loss_W = lambda W: self.loss(x, t, train_flg=True)
        grads = {}
        for idx in range(1, self.hidden_layer_num + 2):
            grads["W" + str(idx)] = numerical_gradient(loss_W, self.params["W" + str(idx)])
            grads["b" + str(idx)] = numerical_gradient(loss_W, self.params["b" + str(idx)])
            if self.use_batchnorm and idx != self.hidden_layer_num + 1:
                grads["gamma" + str(idx)] = numerical_gradient(loss_W, self.params["gamma" + str(idx)])
                grads["beta" + str(idx)] = numerical_gradient(loss_W, self.params["beta" + str(idx)])
        return grads

    def gradient(self, x: np.ndarray, t: np.ndarray) -> dict[str, np.ndarray]:
        """Backprop gradient of the training-mode loss, with ``gamma{i}``/``beta{i}``."""
        self.loss(x, t, train_flg=True)
        return self._backward()

    def _extra_grads(self, grads, idx):
        if self.use_batchnorm and idx != self.hidden_layer_num + 1:
            grads["gamma" + str(idx)] = self.layers["BatchNorm" + str(idx)].dgamma
            grads["beta" + str(idx)] = self.layers["BatchNorm" + str(idx)].dbeta

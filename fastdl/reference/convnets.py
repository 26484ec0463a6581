"""The book's convolutional networks: ``SimpleConvNet`` (chapter 7), ``DeepConvNet`` (chapter 8).

Layer classes are class attributes, so a subclass swaps in faster layers
(``fastdl.nets``) without repeating the wiring below.
"""
import pickle
from collections import OrderedDict

import numpy as np

from fastdl.reference import layers
from fastdl.reference.gradient import numerical_gradient
from fastdl.reference.nets import LayerClasses


class _ConvNet(LayerClasses):

    def _stack(self):
        """Every layer but the loss, from the input up, as a list."""
        raise NotImplementedError

    def _weighted_layers(self):
        """The layers holding ``W1, b1``, ``W2, b2``, ... in that order."""
        raise NotImplementedError

    def accuracy(self, x, t, batch_size=100):
        """Fraction of ``x`` classified as ``t``, predicted ``batch_size`` rows at a time.

        Rows after the last full batch are not predicted but still count in
        the denominator ``x.shape[0]``, as in the book.
        """
        if t.ndim != 1:
            t = np.argmax(t, axis=1)
        acc = 0.0
        for i in range(int(x.shape[0] / batch_size)):
            tx = x[i * batch_size:(i + 1) * batch_size]
            tt = t[i * batch_size:(i + 1) * batch_size]
            y = np.argmax(self.predict(tx), axis=1)
            acc += np.sum(y == tt)
        return acc / x.shape[0]

    def _backprop(self):
        """Run every layer's ``backward``, from the loss down to the input."""
        dout = self.last_layer.backward(1)
        for layer in reversed(self._stack()):
            dout = layer.backward(dout)

    def gradient(self, x, t):
        """Gradient of ``loss`` by backpropagation: ``W1, b1, ...`` from the layers' ``dW``, ``db``."""
        self.loss(x, t)
        self._backprop()
        grads = {}
        for idx, layer in enumerate(self._weighted_layers(), start=1):
            grads["W" + str(idx)] = layer.dW
            grads["b" + str(idx)] = layer.db
        return grads

    def save_params(self, file_name="params.pkl"):
        """Pickle a dict of ``params`` to ``file_name``."""
        params = dict(self.params)
        with open(file_name, "wb") as f:
            pickle.dump(params, f)

    def load_params(self, file_name="params.pkl"):
        """Load pickled ``params`` and rebind the layers' ``W`` and ``b`` to them."""
        with open(file_name, "rb") as f:
            params = pickle.load(f)
        for key, val in params.items():
            self.params[key] = val
        for idx, layer in enumerate(self._weighted_layers(), start=1):
            layer.W = self.params["W" + str(idx)]
            layer.b = self.params["b" + str(idx)]


class SimpleConvNet(_ConvNet):
    """Conv1 -> Relu1 -> Pool1 (2x2, stride 2) -> Affine1 -> Relu2 -> Affine2, softmax with loss.

    Parameters
    ----------
    input_dim : tuple of int
        ``(C, H, W)`` of one image; ``H`` sets the sizes (square images).
    conv_param : dict
        ``filter_num``, ``filter_size``, ``pad``, ``stride`` of Conv1.
    hidden_size, output_size : int
    weight_init_std : float
        Standard deviation of every initial weight (``W1``, ``W2``,
        ``W3`` drawn in that order from ``np.random.randn``); biases are 0.
    dtype : {numpy.float64, numpy.float32}, keyword-only
        Beyond the book: the dtype of the parameters and of everything
        computed from them (see ``fastdl.reference.nets.LayerClasses``).
    """

    def __init__(self, input_dim=(1, 28, 28),
                 conv_param={"filter_num": 30, "filter_size": 5, "pad": 0, "stride": 1},  # noqa: B006 (the book's; never mutated)
                 hidden_size=100, output_size=10, weight_init_std=0.01, *, dtype=np.float64):
        self._set_dtype(dtype)
        filter_num = conv_param["filter_num"]
        filter_size = conv_param["filter_size"]
        filter_pad = conv_param["pad"]
        filter_stride = conv_param["stride"]
        input_size = input_dim[1]
        conv_output_size = (input_size - filter_size + 2 * filter_pad) / filter_stride + 1
        pool_output_size = int(filter_num * (conv_output_size / 2) * (conv_output_size / 2))

        self.params = {}
        self.params["W1"] = self._draw(weight_init_std, filter_num, input_dim[0], filter_size, filter_size)
        self.params["b1"] = np.zeros(filter_num, dtype=self.dtype)
        self.params["W2"] = self._draw(weight_init_std, pool_output_size, hidden_size)
        self.params["b2"] = np.zeros(hidden_size, dtype=self.dtype)
        self.params["W3"] = self._draw(weight_init_std, hidden_size, output_size)
        self.params["b3"] = np.zeros(output_size, dtype=self.dtype)

        self.layers = OrderedDict()
        self.layers["Conv1"] = self.Convolution(self.params["W1"], self.params["b1"],
                                                conv_param["stride"], conv_param["pad"], dtype=self._layer_dtype)
        self.layers["Relu1"] = self.Relu()
        self.layers["Pool1"] = self.Pooling(pool_h=2, pool_w=2, stride=2, dtype=self._layer_dtype)
        self.layers["Affine1"] = self.Affine(self.params["W2"], self.params["b2"])
        self.layers["Relu2"] = self.Relu()
        self.layers["Affine2"] = self.Affine(self.params["W3"], self.params["b3"])
        self.last_layer = self.SoftmaxWithLoss(dtype=self._layer_dtype)

    def _stack(self):
        return list(self.layers.values())

    def _weighted_layers(self):
        return [self.layers["Conv1"], self.layers["Affine1"], self.layers["Affine2"]]

    def predict(self, x):
        for layer in self.layers.values():
            x = layer.forward(x)
        return x

    def loss(self, x, t):
        """Cross-entropy loss of the prediction for ``x`` against ``t``."""
        return self.last_layer.forward(self.predict(x), t)

    def numerical_gradient(self, x, t):
        """Gradient of ``loss`` by central differences (slow; for checking)."""
        loss_w = lambda w: self.loss(x, t)
        grads = {}
        for idx in (1, 2, 3):
            grads["W" + str(idx)] = numerical_gradient(loss_w, self.params["W" + str(idx)])
            grads["b" + str(idx)] = numerical_gradient(loss_w, self.params["b" + str(idx)])
        return grads


# Positions of the convolution and affine layers in DeepConvNet.layers.
_DEEP_WEIGHTED = (0, 2, 5, 7, 10, 12, 15, 18)


class DeepConvNet(_ConvNet):
    """The book's network of chapter 8 (over 99 % on MNIST).

    conv-relu-conv-relu-pool three times (3x3 filters), then
    affine-relu-dropout-affine-dropout, softmax with loss. ``layers`` is a
    list; He initial weights ``sqrt(2/fan_in)`` with the book's fan-ins
    ``9, 144, 144, 288, 288, 576, 1024, hidden_size``.

    Parameters
    ----------
    input_dim : tuple of int
        ``(C, H, W)`` of one image.
    conv_param_1, ..., conv_param_6 : dict
        ``filter_num``, ``filter_size``, ``pad``, ``stride`` of each convolution.
    hidden_size, output_size : int
    dtype : {numpy.float64, numpy.float32}, keyword-only
        Beyond the book, as in ``SimpleConvNet``.
    """

    def __init__(self, input_dim=(1, 28, 28),
                 conv_param_1={"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},  # noqa: B006
                 conv_param_2={"filter_num": 16, "filter_size": 3, "pad": 1, "stride": 1},  # noqa: B006
                 conv_param_3={"filter_num": 32, "filter_size": 3, "pad": 1, "stride": 1},  # noqa: B006
                 conv_param_4={"filter_num": 32, "filter_size": 3, "pad": 2, "stride": 1},  # noqa: B006
                 conv_param_5={"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},  # noqa: B006
                 conv_param_6={"filter_num": 64, "filter_size": 3, "pad": 1, "stride": 1},  # noqa: B006
                 hidden_size=50, output_size=10, *, dtype=np.float64):
        self._set_dtype(dtype)
        conv_params = [conv_param_1, conv_param_2, conv_param_3, conv_param_4, conv_param_5, conv_param_6]
        # The book's fan-ins, fixed whatever the input's channels.
        pre_node_nums = np.array([1 * 3 * 3, 16 * 3 * 3, 16 * 3 * 3, 32 * 3 * 3, 32 * 3 * 3,
                                  64 * 3 * 3, 64 * 4 * 4, hidden_size])
        weight_init_scales = np.sqrt(2.0 / pre_node_nums)

        self.params = {}
        pre_channel_num = input_dim[0]
        for idx, conv_param in enumerate(conv_params):
            self.params["W" + str(idx + 1)] = self._draw(
                weight_init_scales[idx],
                conv_param["filter_num"], pre_channel_num, conv_param["filter_size"], conv_param["filter_size"])
            self.params["b" + str(idx + 1)] = np.zeros(conv_param["filter_num"], dtype=self.dtype)
            pre_channel_num = conv_param["filter_num"]
        self.params["W7"] = self._draw(weight_init_scales[6], 64 * 4 * 4, hidden_size)
        self.params["b7"] = np.zeros(hidden_size, dtype=self.dtype)
        self.params["W8"] = self._draw(weight_init_scales[7], hidden_size, output_size)
        self.params["b8"] = np.zeros(output_size, dtype=self.dtype)

        self.layers = []
        for idx, conv_param in enumerate(conv_params):
            self.layers.append(self.Convolution(self.params["W" + str(idx + 1)], self.params["b" + str(idx + 1)],
                                                conv_param["stride"], conv_param["pad"], dtype=self._layer_dtype))
            self.layers.append(self.Relu())
            if idx % 2 == 1:
                self.layers.append(self.Pooling(pool_h=2, pool_w=2, stride=2, dtype=self._layer_dtype))
        self.layers.append(self.Affine(self.params["W7"], self.params["b7"]))
        self.layers.append(self.Relu())
        self.layers.append(self.Dropout(0.5))
        self.layers.append(self.Affine(self.params["W8"], self.params["b8"]))
        self.layers.append(self.Dropout(0.5))
        self.last_layer = self.SoftmaxWithLoss(dtype=self._layer_dtype)

    def _stack(self):
        return self.layers

    def _weighted_layers(self):
        return [self.layers[i] for i in _DEEP_WEIGHTED]

    def predict(self, x, train_flg=False):
        """Forward pass; ``train_flg`` reaches the Dropout layers only."""
        for layer in self.layers:
            if isinstance(layer, layers.Dropout):
                x = layer.forward(x, train_flg)
            else:
                x = layer.forward(x)
        return x

    def loss(self, x, t):
        """Cross-entropy loss of the training-mode prediction (Dropout on)."""
        return self.last_layer.forward(self.predict(x, train_flg=True), t)

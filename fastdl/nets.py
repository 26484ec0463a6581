"""The reference networks wired to fastdl's layers."""
from __future__ import annotations

from fastdl import fast, layers
from fastdl._mode import is_fast
from fastdl.reference import convnets as reference_convnets
from fastdl.reference import layers as reference_layers
from fastdl.reference import nets as reference


class _FastNet:
    """fastdl's layers, and a backprop that skips work nobody reads.

    ``Convolution``, ``Relu`` and ``Pooling`` are ``fastdl.fast``'s, which
    run fast mode's kernels in fast mode (``fastdl.mode``) and the exact
    layers' passes otherwise; in fast mode the convolutional networks'
    ``predict`` runs each Convolution and the ReLU after it fused.
    """

    def _backprop(self) -> None:
        # The reference's backprop, except that the first Affine or
        # Convolution skips the gradient of the network's input, which
        # nothing reads: for an Affine a (batch, 784) matrix product, about a
        # tenth of the book's step; for a Convolution a matrix product and a
        # col2im.
        stack = self._stack()
        if not isinstance(stack[0], (reference_layers.Affine, reference_layers.Convolution)):
            return super()._backprop()
        dout = self.last_layer.backward(1)
        for layer in reversed(stack[1:]):
            dout = layer.backward(dout)
        stack[0].backward_weights(dout)


# Every layer class the networks build from (reference.LayerClasses), fastdl's:
# Convolution, Relu and Pooling from fastdl.fast, the others from fastdl.layers.
_FAST_LAYERS = {"Convolution": fast.Convolution, "Relu": fast.Relu, "Pooling": fast.Pooling}
for _name, _value in vars(reference.LayerClasses).items():
    if isinstance(_value, type):
        setattr(_FastNet, _name, _FAST_LAYERS.get(_name) or getattr(layers, _name))


class MultiLayerNet(_FastNet, reference.MultiLayerNet):
    __doc__ = reference.MultiLayerNet.__doc__


class MultiLayerNetExtend(_FastNet, reference.MultiLayerNetExtend):
    __doc__ = reference.MultiLayerNetExtend.__doc__


class SimpleConvNet(_FastNet, reference_convnets.SimpleConvNet):
    __doc__ = reference_convnets.SimpleConvNet.__doc__

    def predict(self, x):
        return fast.forward(self, x) if is_fast() else super().predict(x)


class DeepConvNet(_FastNet, reference_convnets.DeepConvNet):
    __doc__ = reference_convnets.DeepConvNet.__doc__

    def predict(self, x, train_flg=False):
        return fast.forward(self, x, train_flg) if is_fast() else super().predict(x, train_flg)


__all__ = ["MultiLayerNet", "MultiLayerNetExtend", "SimpleConvNet", "DeepConvNet"]

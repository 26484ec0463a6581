"""The reference networks wired to fastdl's layers."""
from __future__ import annotations

from fastdl import layers
from fastdl.reference import convnets as reference_convnets
from fastdl.reference import layers as reference_layers
from fastdl.reference import nets as reference


class _FastNet:
    """fastdl's layers, and a backprop that skips work nobody reads."""

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


# Every layer class the networks build from (reference.LayerClasses), fastdl's.
for _name in vars(reference.LayerClasses):
    if not _name.startswith("_"):
        setattr(_FastNet, _name, getattr(layers, _name))


class MultiLayerNet(_FastNet, reference.MultiLayerNet):
    __doc__ = reference.MultiLayerNet.__doc__


class MultiLayerNetExtend(_FastNet, reference.MultiLayerNetExtend):
    __doc__ = reference.MultiLayerNetExtend.__doc__


class SimpleConvNet(_FastNet, reference_convnets.SimpleConvNet):
    __doc__ = reference_convnets.SimpleConvNet.__doc__


class DeepConvNet(_FastNet, reference_convnets.DeepConvNet):
    __doc__ = reference_convnets.DeepConvNet.__doc__


__all__ = ["MultiLayerNet", "MultiLayerNetExtend", "SimpleConvNet", "DeepConvNet"]

"""The reference networks wired to fastdl's layers."""
from fastdl import layers
from fastdl.reference import nets as reference


class _FastLayers:
    Affine = layers.Affine
    Relu = layers.Relu
    Sigmoid = layers.Sigmoid
    BatchNormalization = layers.BatchNormalization
    Dropout = layers.Dropout
    SoftmaxWithLoss = layers.SoftmaxWithLoss


class MultiLayerNet(_FastLayers, reference.MultiLayerNet):
    __doc__ = reference.MultiLayerNet.__doc__


class MultiLayerNetExtend(_FastLayers, reference.MultiLayerNetExtend):
    __doc__ = reference.MultiLayerNetExtend.__doc__


__all__ = ["MultiLayerNet", "MultiLayerNetExtend"]

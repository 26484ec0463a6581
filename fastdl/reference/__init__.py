"""The NumPy reference of the book (chapter 6, and chapters 7-8's convolutional layers).

The oracle every fast path must match.

Pure Python and NumPy; nothing here imports compiled code. The semantics
(formulas, defaults, attribute names, order of operations) are those of
``shared/SPEC.md``.
"""
from fastdl.reference.functions import (
    cross_entropy_error, relu, sigmoid, softmax,
)
from fastdl.reference.convnets import DeepConvNet, SimpleConvNet
from fastdl.reference.gradient import numerical_gradient
from fastdl.reference.layers import (
    Affine, BatchNormalization, Convolution, Dropout, Pooling, Relu, Sigmoid, SoftmaxWithLoss,
)
from fastdl.reference.nets import MultiLayerNet, MultiLayerNetExtend
from fastdl.reference.optim import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop
from fastdl.reference.trainer import Trainer
from fastdl.reference.util import col2im, conv_output_size, im2col, shuffle_dataset, smooth_curve

__all__ = [
    "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam",
    "Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "Dropout", "BatchNormalization",
    "Convolution", "Pooling",
    "softmax", "cross_entropy_error", "sigmoid", "relu",
    "numerical_gradient", "MultiLayerNet", "MultiLayerNetExtend", "Trainer",
    "SimpleConvNet", "DeepConvNet",
    "shuffle_dataset", "smooth_curve", "conv_output_size", "im2col", "col2im",
]

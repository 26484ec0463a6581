"""The NumPy reference of chapter 6: the oracle every fast path must match.

Pure Python and NumPy; nothing here imports compiled code. The semantics
(formulas, defaults, attribute names, order of operations) are those of
``docs/SPEC.md``.
"""
from fastdl.reference.functions import (
    cross_entropy_error, relu, sigmoid, softmax,
)
from fastdl.reference.gradient import numerical_gradient
from fastdl.reference.layers import (
    Affine, BatchNormalization, Dropout, Relu, Sigmoid, SoftmaxWithLoss,
)
from fastdl.reference.nets import MultiLayerNet, MultiLayerNetExtend
from fastdl.reference.optim import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop
from fastdl.reference.trainer import Trainer
from fastdl.reference.util import shuffle_dataset

__all__ = [
    "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam",
    "Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "Dropout", "BatchNormalization",
    "softmax", "cross_entropy_error", "sigmoid", "relu",
    "numerical_gradient", "MultiLayerNet", "MultiLayerNetExtend", "Trainer",
    "shuffle_dataset",
]

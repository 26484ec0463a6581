"""The chapter's layers, drop-in for the book's ``common.layers``."""
from fastdl.reference.layers import (
    Affine, BatchNormalization, Dropout, Relu, Sigmoid, SoftmaxWithLoss,
)

__all__ = ["Relu", "Sigmoid", "Affine", "SoftmaxWithLoss", "Dropout", "BatchNormalization"]

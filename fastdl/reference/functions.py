"""Activation and loss functions of the book, in NumPy."""
import numpy as np


def sigmoid(x):
    """Logistic function ``1 / (1 + exp(-x))``."""
    return 1 / (1 + np.exp(-x))


def relu(x):
    """Rectified linear unit ``max(0, x)``."""
    return np.maximum(0, x)


def softmax(x):
    """Softmax over the last axis, with the row maximum subtracted first."""
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def cross_entropy_error(y, t):
    """Mean cross-entropy of probabilities ``y`` against labels or one-hot ``t``.

    ``log(y + 1e-7)`` keeps a zero probability finite, as in the book.
    """
    if y.ndim == 1:
        t = t.reshape(1, t.size)
        y = y.reshape(1, y.size)
    if t.size == y.size:  # one-hot labels
        t = t.argmax(axis=1)
    batch_size = y.shape[0]
    return -np.sum(np.log(y[np.arange(batch_size), t] + 1e-7)) / batch_size


__all__ = ["sigmoid", "relu", "softmax", "cross_entropy_error"]

"""Activation and loss functions of the book, in NumPy."""
import numpy as np


def identity_function(x):
    """The identity: returns ``x`` itself (the output activation of regression)."""
    return x


def step_function(x):
    """1 where ``x > 0``, else 0, as a NumPy integer array."""
    return np.array(x > 0, dtype=int)


def sigmoid(x):
    """Logistic function ``1 / (1 + exp(-x))``."""
    return 1 / (1 + np.exp(-x))


def sigmoid_grad(x):
    """Derivative of :func:`sigmoid` at ``x``: ``(1 - sigmoid(x)) * sigmoid(x)``."""
    return (1.0 - sigmoid(x)) * sigmoid(x)


def relu(x):
    """Rectified linear unit ``max(0, x)``."""
    return np.maximum(0, x)


def relu_grad(x):
    """Derivative of :func:`relu` at ``x``: 1 where ``x >= 0`` (zero included), else 0, in ``x``'s dtype."""
    grad = np.zeros_like(x)
    grad[x >= 0] = 1
    return grad


def softmax(x):
    """Softmax over the last axis, with the row maximum subtracted first."""
    x = x - np.max(x, axis=-1, keepdims=True)
    return np.exp(x) / np.sum(np.exp(x), axis=-1, keepdims=True)


def sum_squared_error(y, t):
    """Half the sum of squared differences, ``0.5 * sum((y - t)**2)`` (over the whole batch, not its mean)."""
    return 0.5 * np.sum((y - t) ** 2)


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


def softmax_loss(X, t):
    """Cross-entropy of ``softmax(X)`` against ``t``: :class:`SoftmaxWithLoss`'s forward as a function."""
    return cross_entropy_error(softmax(X), t)


__all__ = [
    "identity_function", "step_function", "sigmoid", "sigmoid_grad", "relu", "relu_grad", "softmax",
    "sum_squared_error", "cross_entropy_error", "softmax_loss",
]

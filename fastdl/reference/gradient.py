"""Numerical gradients by central differences (``h = 1e-4``), as in the book."""
import numpy as np


def _central_difference(f, x, idx, through_float):
    """``(f(x + h e_idx) - f(x - h e_idx)) / 2h`` with ``x[idx]`` moved in place, then restored.

    The book moves the element up in two ways: ``numerical_gradient`` adds
    ``h`` in ``x``'s dtype (a float32 element rounds in float32), its
    per-row helper adds it to the element as a Python float (rounded once,
    when stored). ``through_float`` picks the second.
    """
    h = 1e-4
    tmp_val = x[idx]
    x[idx] = float(tmp_val) + h if through_float else tmp_val + h
    fxh1 = f(x)
    x[idx] = tmp_val - h
    fxh2 = f(x)
    x[idx] = tmp_val
    return (fxh1 - fxh2) / (2 * h)


def numerical_gradient(f, x):
    """Central-difference gradient of ``f`` at ``x``, an array of any shape.

    ``x`` is perturbed in place, one element at a time, and restored; ``f``
    takes ``x`` (and usually ignores it, reading the same array through a
    network) and returns a scalar. The gradient has ``x``'s shape and dtype.
    """
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        grad[it.multi_index] = _central_difference(f, x, it.multi_index, through_float=False)
        it.iternext()
    return grad


def _numerical_gradient_1d(f, x):
    grad = np.zeros_like(x)
    for idx in range(x.size):
        grad[idx] = _central_difference(f, x, idx, through_float=True)
    return grad


def numerical_gradient_2d(f, X):
    """Central-difference gradient of ``f`` at a vector, or at each row of a matrix.

    For a 2-D ``X``, ``f`` is called with the row being perturbed (a view
    of ``X``), not with ``X``: row ``i`` of the result is the gradient of
    ``f`` at ``X[i]``. ``X`` is perturbed in place and restored.
    """
    if X.ndim == 1:
        return _numerical_gradient_1d(f, X)
    grad = np.zeros_like(X)
    for idx, x in enumerate(X):
        grad[idx] = _numerical_gradient_1d(f, x)
    return grad


__all__ = ["numerical_gradient", "numerical_gradient_2d"]

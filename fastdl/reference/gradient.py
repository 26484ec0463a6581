"""Numerical gradient by central differences."""
import numpy as np


def numerical_gradient(f, x):
    """Central-difference gradient of ``f`` at ``x`` (``h = 1e-4``).

    ``x`` is perturbed in place, one element at a time, and restored; ``f``
    takes ``x`` (and usually ignores it, reading the same array through a
    network) and returns a scalar.
    """
    h = 1e-4
    grad = np.zeros_like(x)
    it = np.nditer(x, flags=["multi_index"], op_flags=[["readwrite"]])
    while not it.finished:
        idx = it.multi_index
        tmp_val = x[idx]
        x[idx] = float(tmp_val) + h
        fxh1 = f(x)
        x[idx] = tmp_val - h
        fxh2 = f(x)
        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp_val
        it.iternext()
    return grad


__all__ = ["numerical_gradient"]

"""The chapter's optimizers, drop-in for the book's ``common.optimizer``.

Each class is the reference class (same constructor, defaults, attributes
and state) whose ``update`` runs a compiled kernel for every key where one
applies, and the reference's own per-key step everywhere else, so the
results are the reference's in every case.
"""
import numpy as np

from fastdl import _backend
from fastdl.reference import optim as reference

_kernels = _backend.load("optim")

_FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def _is_python_number(x):
    # NumPy 2 rounds a Python float to the array's dtype (NEP 50); a NumPy
    # scalar hyper-parameter would promote differently, so it takes the
    # reference path.
    return type(x) in (float, int)


def _kernel_applies(p, g):
    """True where a kernel computes exactly what the reference would."""
    return (type(p) is np.ndarray and type(g) is np.ndarray
            and p.dtype in _FLOAT_DTYPES and g.dtype == p.dtype
            and p.shape == g.shape
            and p.flags.c_contiguous and g.flags.c_contiguous
            and p.flags.writeable
            and not np.may_share_memory(p, g))


class SGD(reference.SGD):
    """Stochastic gradient descent, ``p -= lr*g`` in place.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate.
    """

    def update(self, params, grads):
        fast = _kernels is not None and _is_python_number(self.lr)
        for key in params.keys():
            p, g = params[key], grads[key]
            if fast and _kernel_applies(p, g):
                _kernels.sgd_update(p.reshape(-1), g.reshape(-1), self.lr)
            else:
                self._step(params, grads, key)


Momentum = reference.Momentum
Nesterov = reference.Nesterov
AdaGrad = reference.AdaGrad
RMSprop = reference.RMSprop
Adam = reference.Adam

__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]

"""The chapter's optimizers, drop-in for the book's ``common.optimizer``.

Each class is the reference class (same constructor, defaults, attributes
and state) whose ``update`` makes one call into compiled code for all the
keys of ``params``. That call updates in place every key whose arrays the
kernel takes (exact ``ndarray``, float32 or float64, C-contiguous, one
dtype and shape for the parameter, gradient and state, writeable, no two
sharing memory) and runs the reference's own per-key step for every other
key, in the reference's key order. The results are the reference's in
every case, to the bit; what differs:

- NumPy's floating-point warnings (overflow, invalid value) are not issued
  for keys the kernel updates.
- ``Momentum`` updates ``v[key]`` in place where the reference binds a new
  array to it (same values).
- NaN payloads may differ (NaN stays NaN).
"""
import numpy as np

from fastdl import _backend
from fastdl.reference import optim as reference

_kernels = _backend.load("optim")


def _python_floats(*values):
    # NumPy 2 rounds a Python float to the array's dtype (NEP 50), which is
    # what the kernels do; ints and NumPy scalars promote differently, so
    # they take the reference path.
    return _kernels is not None and all(type(x) is float for x in values)


class SGD(reference.SGD):
    """Stochastic gradient descent, ``p -= lr*g`` in place.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate.
    """

    def update(self, params, grads):
        if not _python_floats(self.lr):
            return super().update(params, grads)
        _kernels.sgd_update(list(params.keys()), params, grads, self.lr,
                            lambda key: self._step(params, grads, key))


class Momentum(reference.Momentum):
    """SGD with momentum: ``v = momentum*v - lr*g``; ``p += v``.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate.
    momentum : float, default 0.9
        Fraction of the velocity kept from one step to the next.
    """

    def update(self, params, grads):
        if not _python_floats(self.lr, self.momentum):
            return super().update(params, grads)
        if self.v is None:
            self.v = reference._zeros_like_params(params)
        _kernels.momentum_update(list(params.keys()), params, grads, self.v,
                                 self.lr, self.momentum,
                                 lambda key: self._step(params, grads, key))


class Nesterov(reference.Nesterov):
    """Nesterov's accelerated gradient, in the book's rearranged form.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate.
    momentum : float, default 0.9
        Fraction of the velocity kept from one step to the next.
    """

    def update(self, params, grads):
        if not _python_floats(self.lr, self.momentum):
            return super().update(params, grads)
        if self.v is None:
            self.v = reference._zeros_like_params(params)
        _kernels.nesterov_update(list(params.keys()), params, grads, self.v,
                                 self.lr, self.momentum,
                                 lambda key: self._step(params, grads, key))


class AdaGrad(reference.AdaGrad):
    """AdaGrad: ``h += g*g``; ``p -= lr*g / (sqrt(h) + 1e-7)``.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate.
    """

    def update(self, params, grads):
        if not _python_floats(self.lr):
            return super().update(params, grads)
        if self.h is None:
            self.h = reference._zeros_like_params(params)
        _kernels.adagrad_update(list(params.keys()), params, grads, self.h, self.lr,
                                lambda key: self._step(params, grads, key))


class RMSprop(reference.RMSprop):
    """RMSprop: ``h = decay_rate*h + (1-decay_rate)*g*g``; ``p -= lr*g / (sqrt(h) + 1e-7)``.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate.
    decay_rate : float, default 0.99
        Fraction of ``h`` kept from one step to the next.
    """

    def update(self, params, grads):
        if not _python_floats(self.lr, self.decay_rate):
            return super().update(params, grads)
        if self.h is None:
            self.h = reference._zeros_like_params(params)
        _kernels.rmsprop_update(list(params.keys()), params, grads, self.h,
                                self.lr, self.decay_rate,
                                lambda key: self._step(params, grads, key))


class Adam(reference.Adam):
    """Adam with the bias correction folded into the step size ``lr_t``.

    For float32 parameters ``lr_t*m / (sqrt(v) + 1e-7)`` is computed in
    float64 and rounded once, as NumPy does with the float64 scalar ``lr_t``.

    Parameters
    ----------
    lr : float, default 0.001
        Learning rate.
    beta1, beta2 : float, default 0.9, 0.999
        Decay rates of the first and second moment estimates ``m`` and ``v``.
    """

    def update(self, params, grads):
        if not _python_floats(self.beta1, self.beta2):
            return super().update(params, grads)
        if self.m is None:
            self.m = reference._zeros_like_params(params)
            self.v = reference._zeros_like_params(params)
        self.iter += 1
        lr_t = self._lr_t()
        if type(lr_t) is not np.float64:
            for key in params.keys():
                self._step(params, grads, key, lr_t)
            return
        _kernels.adam_update(list(params.keys()), params, grads, self.m, self.v,
                             lr_t, self.beta1, self.beta2,
                             lambda key: self._step(params, grads, key, lr_t))


__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]

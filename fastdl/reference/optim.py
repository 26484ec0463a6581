"""The chapter's six optimizers, exactly as the book computes them.

``update(params, grads)`` changes the arrays of ``params`` in place, key by
key; each line of ``_step`` is one NumPy operation, and their order is the
order of rounding that the fast kernels reproduce. State (``v``, ``h``,
``m``) is ``None`` until the first update, then ``np.zeros_like`` of each
parameter.
"""
import numpy as np

EPS = 1e-7

#: The six optimizers' names, in the book's order (fastdl.optim, the tests,
#: the benchmarks and the chapter import this list).
NAMES = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam")


def _zeros_like_params(params):
    return {key: np.zeros_like(val) for key, val in params.items()}


class SGD:
    """Stochastic gradient descent: ``p -= lr*g``."""

    def __init__(self, lr=0.01):
        self.lr = lr

    def update(self, params, grads):
        for key in params.keys():
            self._step(params, grads, key)

    def _step(self, params, grads, key):
        params[key] -= self.lr * grads[key]


class Momentum:
    """SGD with momentum: ``v = momentum*v - lr*g``; ``p += v``."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = _zeros_like_params(params)
        for key in params.keys():
            self._step(params, grads, key)

    def _step(self, params, grads, key):
        self.v[key] = self.momentum * self.v[key] - self.lr * grads[key]
        params[key] += self.v[key]


class Nesterov:
    """Nesterov's accelerated gradient, in the book's rearranged form."""

    def __init__(self, lr=0.01, momentum=0.9):
        self.lr = lr
        self.momentum = momentum
        self.v = None

    def update(self, params, grads):
        if self.v is None:
            self.v = _zeros_like_params(params)
        for key in params.keys():
            self._step(params, grads, key)

    def _step(self, params, grads, key):
        params[key] += self.momentum * self.momentum * self.v[key]
        params[key] -= (1 + self.momentum) * self.lr * grads[key]
        self.v[key] *= self.momentum
        self.v[key] -= self.lr * grads[key]


class AdaGrad:
    """AdaGrad: ``h += g*g``; ``p -= lr*g / (sqrt(h) + 1e-7)``."""

    def __init__(self, lr=0.01):
        self.lr = lr
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = _zeros_like_params(params)
        for key in params.keys():
            self._step(params, grads, key)

    def _step(self, params, grads, key):
        self.h[key] += grads[key] * grads[key]
        params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + EPS)


class RMSprop:
    """RMSprop: a leaky AdaGrad, ``h = decay_rate*h + (1-decay_rate)*g*g``."""

    def __init__(self, lr=0.01, decay_rate=0.99):
        self.lr = lr
        self.decay_rate = decay_rate
        self.h = None

    def update(self, params, grads):
        if self.h is None:
            self.h = _zeros_like_params(params)
        for key in params.keys():
            self._step(params, grads, key)

    def _step(self, params, grads, key):
        self.h[key] *= self.decay_rate
        self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
        params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + EPS)


class Adam:
    """Adam with the bias correction folded into the step size ``lr_t``.

    ``lr_t`` is a NumPy float64 scalar, so for float32 parameters NumPy
    computes ``lr_t*m / (sqrt(v) + 1e-7)`` in float64 and rounds once.
    """

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999):
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.iter = 0
        self.m = None
        self.v = None

    def update(self, params, grads):
        if self.m is None:
            self.m = _zeros_like_params(params)
            self.v = _zeros_like_params(params)
        self.iter += 1
        lr_t = self._lr_t()
        for key in params.keys():
            self._step(params, grads, key, lr_t)

    def _lr_t(self):
        return self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)

    def _step(self, params, grads, key, lr_t):
        self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
        self.v[key] += (1 - self.beta2) * (grads[key] * grads[key] - self.v[key])
        params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + EPS)

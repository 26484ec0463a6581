"""The chapter's six optimizers, exactly as the book computes them.

``update(params, grads)`` changes the arrays of ``params`` in place, key by
key; each line of ``_step`` is one NumPy operation, and their order is the
order of rounding that the fast kernels reproduce. State (``v``, ``h``,
``m``) is ``None`` until the first update, then ``np.zeros_like`` of each
parameter.

Beyond the book, every optimizer takes the keyword-only options
``weight_decay``, ``decoupled`` and ``maximize`` (``Adam`` also
``amsgrad``); their defaults give the book's update, operation for
operation. They are defined here, in ``_Optimizer._grad`` and
``Adam._step``, and ``fastdl.optim`` computes them as these lines do.
"""
import numpy as np

EPS = 1e-7

#: The six optimizers' names, in the book's order (fastdl.optim, the tests,
#: the benchmarks and the chapter import this list).
NAMES = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam")


def _zeros_like_params(params):
    return {key: np.zeros_like(val) for key, val in params.items()}


class _Optimizer:
    """What the six share: the options beyond the book, the lazy state and the loop over keys.

    Parameters
    ----------
    weight_decay : float, default 0.0
        With ``decoupled=False``, L2 regularisation: the step uses
        ``g + weight_decay*p`` as the gradient. With ``decoupled=True``
        (AdamW, SGDW), ``p -= lr*weight_decay*p`` before the step, with the
        constructor's ``lr`` (not Adam's ``lr_t``).
    decoupled : bool, default False
        See ``weight_decay``.
    maximize : bool, default False
        Ascend: the step uses ``-g`` as the gradient (negated first, then
        weight decay is added).
    """

    _state = ()  # names of the per-key state dicts: None, then zeros from the first update

    def __init__(self, weight_decay, decoupled, maximize):
        self.weight_decay = weight_decay
        self.decoupled = decoupled
        self.maximize = maximize

    def update(self, params, grads):
        self._create_state(params)
        self._steps(params, grads)

    def _create_state(self, params):
        for name in self._state:
            if getattr(self, name) is None:
                setattr(self, name, _zeros_like_params(params))

    def _steps(self, params, grads, *lr_t):
        for key in params.keys():
            self._step(params, grads, key, *lr_t)

    def _grad(self, params, grads, key):
        """The gradient the step uses: ``grads[key]`` itself under the defaults.

        With ``decoupled`` weight decay it shrinks ``params[key]`` first.
        """
        g = -grads[key] if self.maximize else grads[key]
        if self.weight_decay != 0:
            if self.decoupled:
                params[key] -= self.lr * self.weight_decay * params[key]
            else:
                g = g + self.weight_decay * params[key]
        return g


class SGD(_Optimizer):
    """Stochastic gradient descent: ``p -= lr*g``, learning rate ``lr`` (default 0.01).

    The keyword-only options beyond the book are ``_Optimizer``'s.
    """

    def __init__(self, lr=0.01, *, weight_decay=0.0, decoupled=False, maximize=False):
        super().__init__(weight_decay, decoupled, maximize)
        self.lr = lr

    def _step(self, params, grads, key):
        params[key] -= self.lr * self._grad(params, grads, key)


class _Velocity(_Optimizer):
    """What Momentum and Nesterov share: ``lr``, ``momentum`` and the velocity ``v``.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate.
    momentum : float, default 0.9
        Fraction of the velocity kept from one step to the next.
    weight_decay, decoupled, maximize
        Options beyond the book, off by default; see ``_Optimizer``.
    """

    _state = ("v",)

    def __init__(self, lr=0.01, momentum=0.9, *, weight_decay=0.0, decoupled=False, maximize=False):
        super().__init__(weight_decay, decoupled, maximize)
        self.lr = lr
        self.momentum = momentum
        self.v = None


class Momentum(_Velocity):
    """SGD with momentum: ``v = momentum*v - lr*g``; ``p += v`` (parameters: see ``_Velocity``)."""

    def _step(self, params, grads, key):
        g = self._grad(params, grads, key)
        self.v[key] = self.momentum * self.v[key] - self.lr * g
        params[key] += self.v[key]


class Nesterov(_Velocity):
    """Nesterov's accelerated gradient, in the book's rearranged form (parameters: see ``_Velocity``)."""

    def _step(self, params, grads, key):
        g = self._grad(params, grads, key)
        params[key] += self.momentum * self.momentum * self.v[key]
        params[key] -= (1 + self.momentum) * self.lr * g
        self.v[key] *= self.momentum
        self.v[key] -= self.lr * g


class AdaGrad(_Optimizer):
    """AdaGrad: ``h += g*g``; ``p -= lr*g / (sqrt(h) + 1e-7)``, learning rate ``lr`` (default 0.01).

    The keyword-only options beyond the book are ``_Optimizer``'s.
    """

    _state = ("h",)

    def __init__(self, lr=0.01, *, weight_decay=0.0, decoupled=False, maximize=False):
        super().__init__(weight_decay, decoupled, maximize)
        self.lr = lr
        self.h = None

    def _step(self, params, grads, key):
        g = self._grad(params, grads, key)
        self.h[key] += g * g
        params[key] -= self.lr * g / (np.sqrt(self.h[key]) + EPS)


class RMSprop(_Optimizer):
    """RMSprop: a leaky AdaGrad, ``h = decay_rate*h + (1-decay_rate)*g*g``.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate.
    decay_rate : float, default 0.99
        Fraction of ``h`` kept from one step to the next.
    weight_decay, decoupled, maximize
        Options beyond the book, off by default; see ``_Optimizer``.
    """

    _state = ("h",)

    def __init__(self, lr=0.01, decay_rate=0.99, *, weight_decay=0.0, decoupled=False, maximize=False):
        super().__init__(weight_decay, decoupled, maximize)
        self.lr = lr
        self.decay_rate = decay_rate
        self.h = None

    def _step(self, params, grads, key):
        g = self._grad(params, grads, key)
        self.h[key] *= self.decay_rate
        self.h[key] += (1 - self.decay_rate) * g * g
        params[key] -= self.lr * g / (np.sqrt(self.h[key]) + EPS)


class Adam(_Optimizer):
    """Adam with the bias correction folded into the step size ``lr_t``.

    ``lr_t`` is a NumPy float64 scalar, so for float32 parameters NumPy
    computes ``lr_t*m / (sqrt(v) + 1e-7)`` in float64 and rounds once.

    Parameters
    ----------
    lr : float, default 0.001
        Learning rate.
    beta1, beta2 : float, default 0.9, 0.999
        Decay rates of the first and second moment estimates ``m`` and ``v``.
    amsgrad : bool, default False
        Beyond the book: keep ``v_max``, the running maximum of ``v``
        (``np.maximum``, so NaN propagates), and divide by
        ``sqrt(v_max) + 1e-7`` instead of ``sqrt(v) + 1e-7``.
    weight_decay, decoupled, maximize
        Options beyond the book, off by default; see ``_Optimizer``.
        ``weight_decay=w, decoupled=True`` is AdamW.
    """

    _state = ("m", "v", "v_max")  # v_max only with amsgrad (_create_state)

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, *, amsgrad=False, weight_decay=0.0,
                 decoupled=False, maximize=False):
        super().__init__(weight_decay, decoupled, maximize)
        self.lr = lr
        self.beta1 = beta1
        self.beta2 = beta2
        self.amsgrad = amsgrad
        self.iter = 0
        self.m = None
        self.v = None
        self.v_max = None

    def update(self, params, grads):
        self._create_state(params)
        self.iter += 1
        self._steps(params, grads, self._lr_t())

    def _create_state(self, params):
        if self.m is None:
            self.m = _zeros_like_params(params)
            self.v = _zeros_like_params(params)
        if self.amsgrad and self.v_max is None:
            self.v_max = _zeros_like_params(params)

    def _lr_t(self):
        return self.lr * np.sqrt(1.0 - self.beta2 ** self.iter) / (1.0 - self.beta1 ** self.iter)

    def _step(self, params, grads, key, lr_t):
        g = self._grad(params, grads, key)
        self.m[key] += (1 - self.beta1) * (g - self.m[key])
        self.v[key] += (1 - self.beta2) * (g * g - self.v[key])
        v = self.v
        if self.amsgrad:
            np.maximum(self.v_max[key], self.v[key], out=self.v_max[key])
            v = self.v_max
        params[key] -= lr_t * self.m[key] / (np.sqrt(v[key]) + EPS)

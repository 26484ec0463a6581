"""The chapter's optimizers, drop-in for the book's ``common.optimizer``.

Each class is the reference class (same constructor, defaults, attributes
and state) whose ``update`` makes one call into compiled code for all the
keys of ``params``. That call updates in place every key whose arrays the
kernel takes (exact ``ndarray``, float32 or float64, C-contiguous, one
dtype and shape for the parameter, gradient and state, writeable, no two
sharing memory) and runs the reference's own per-key step for every other
key, in the reference's key order. The results are the reference's in
every case, to the bit (float32 included, with NumPy 2's promotion). What
differs:

- hyper-parameters that are neither Python floats nor NumPy float64
  scalars take the reference path, and so do float32 keys with NumPy
  float64 hyper-parameters, since NumPy promotes those differently;
- a ``ValueError`` from a key (shapes that do not broadcast, a read-only
  parameter) names the key;
- NumPy's floating-point warnings (overflow, invalid value) are not issued
  for keys the kernel updates, and NaN payloads may differ (NaN stays NaN).

``Momentum``'s reference binds a new array to ``v[key]``; the kernel updates
it in place only when nothing but the dict ``v`` refers to that array, so
no one can tell the difference.

Beyond the book, every class takes the keyword-only options
``weight_decay``, ``decoupled`` and ``maximize`` (``Adam`` also
``amsgrad``), whose defaults are the book's update, and has
``state_dict()``/``load_state_dict()``. The kernels compute the options
too; ``_Options._step`` is their NumPy definition (the reference path).
"""
import numpy as np

from fastdl import _backend
from fastdl.reference import optim as reference

_kernels = _backend.load_fastest("optim")


def _kernel_dtypes(*values):
    """Which keys the kernels may update with these hyper-parameters.

    NumPy 2 rounds a Python float to the array's dtype (NEP 50), as the
    kernels do: ``"all"``. A NumPy float64 scalar (the book's search draws
    ``lr = 10 ** np.random.uniform(-6, -2)``) acts like a Python float on
    float64 arrays but turns float32 work into float64: ``"float64"``, and
    float32 keys take the reference path. Anything else (ints, float32
    scalars) takes the reference path: ``None``.
    """
    if _kernels is None:
        return None
    dtypes = "all"
    for x in values:
        if type(x) is np.float64:
            dtypes = "float64"
        elif type(x) is not float:
            return None
    return dtypes


class _Options:
    """Options beyond the book, ``state_dict`` and the per-key fallback.

    Every optimizer takes these keyword-only arguments.

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

    _hyper = ("lr",)   # constructor arguments, in state_dict
    _state = ()        # per-key state dicts, in state_dict

    def _set_options(self, weight_decay, decoupled, maximize):
        self.weight_decay = weight_decay
        self.decoupled = decoupled
        self.maximize = maximize

    def _book_rule(self):
        """True when the options leave the book's update unchanged."""
        return not self.maximize and self.weight_decay == 0

    def _rule_step(self, params, grads, key, *lr_t):
        """The optimizer's own formula for one key: the reference's step."""
        super()._step(params, grads, key, *lr_t)

    def _step(self, params, grads, key, *lr_t):
        if self._book_rule():
            return self._rule_step(params, grads, key, *lr_t)
        g = grads[key]
        if self.maximize:
            g = -g
        if self.weight_decay != 0:
            if self.decoupled:
                params[key] -= self.lr * self.weight_decay * params[key]
            else:
                g = g + self.weight_decay * params[key]
        self._rule_step(params, {key: g}, key, *lr_t)

    def _reference_steps(self, params, grads, *lr_t):
        """The reference's step as ``step(key)``; a ValueError names the key."""
        def step(key):
            try:
                self._step(params, grads, key, *lr_t)
            except ValueError as exc:
                raise ValueError(f"{type(self).__name__}, key {key!r}: {exc}") from exc
        return step

    def _kernel_options(self):
        """The options as the kernels' bits."""
        options = _kernels.OPTIONS
        bits = options["maximize"] if self.maximize else 0
        if self.weight_decay != 0:
            bits |= options["decoupled_decay"] if self.decoupled else options["l2_decay"]
        return bits

    def _run(self, kernel, hyper, params, grads, *args, lr_t=(), **more):
        """Update every key: ``kernel`` where it applies, the reference step elsewhere.

        ``hyper`` holds the hyper-parameters the kernel's arithmetic uses.
        """
        keys = list(params.keys())
        step = self._reference_steps(params, grads, *lr_t)
        if self.weight_decay != 0:
            hyper = hyper + (self.lr, self.weight_decay)
        dtypes = _kernel_dtypes(*hyper)
        if dtypes is None:
            for key in keys:
                step(key)
            return
        bits = self._kernel_options()
        float32 = dtypes == "all"
        if bits == 0:
            kernel(keys, params, grads, *args, step, float32=float32)
        else:
            kernel(keys, params, grads, *args, step, weight_decay=self.weight_decay,
                   options=bits, float32=float32, **more)

    def state_dict(self):
        """Hyper-parameters, options and state as plain numbers and NumPy arrays (copies)."""
        out = {name: getattr(self, name) for name in self._hyper}
        out.update(weight_decay=self.weight_decay, decoupled=self.decoupled,
                   maximize=self.maximize)
        for name in self._state:
            state = getattr(self, name)
            out[name] = None if state is None else {
                key: np.array(value, copy=True) for key, value in state.items()}
        return out

    def load_state_dict(self, state_dict):
        """Restore what ``state_dict()`` returned; training continues bit-identically."""
        for name, value in state_dict.items():
            if isinstance(value, dict):
                value = {key: np.array(array, copy=True) for key, array in value.items()}
            setattr(self, name, value)


class SGD(_Options, reference.SGD):
    """Stochastic gradient descent, ``p -= lr*g`` in place.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate.
    weight_decay, decoupled, maximize
        Options beyond the book, off by default; see ``fastdl.optim._Options``.
    """

    def __init__(self, lr=0.01, *, weight_decay=0.0, decoupled=False, maximize=False):
        super().__init__(lr)
        self._set_options(weight_decay, decoupled, maximize)

    def update(self, params, grads):
        self._run(_kernels and _kernels.sgd_update, (self.lr,),
                  params, grads, self.lr)


class _Velocity(_Options):
    """What Momentum and Nesterov share: ``lr``, ``momentum`` and the velocity ``v``."""

    _hyper = ("lr", "momentum")
    _state = ("v",)
    _kernel = None  # name of the kernels' entry point

    def __init__(self, lr=0.01, momentum=0.9, *, weight_decay=0.0, decoupled=False,
                 maximize=False):
        super().__init__(lr, momentum)
        self._set_options(weight_decay, decoupled, maximize)

    def update(self, params, grads):
        if self.v is None:
            self.v = reference._zeros_like_params(params)
        self._run(_kernels and getattr(_kernels, self._kernel), (self.lr, self.momentum),
                  params, grads, self.v, self.lr, self.momentum)


class Momentum(_Velocity, reference.Momentum):
    """SGD with momentum: ``v = momentum*v - lr*g``; ``p += v``.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate.
    momentum : float, default 0.9
        Fraction of the velocity kept from one step to the next.
    weight_decay, decoupled, maximize
        Options beyond the book, off by default; see ``fastdl.optim._Options``.
    """

    _kernel = "momentum_update"


class Nesterov(_Velocity, reference.Nesterov):
    """Nesterov's accelerated gradient, in the book's rearranged form.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate.
    momentum : float, default 0.9
        Fraction of the velocity kept from one step to the next.
    weight_decay, decoupled, maximize
        Options beyond the book, off by default; see ``fastdl.optim._Options``.
    """

    _kernel = "nesterov_update"


class AdaGrad(_Options, reference.AdaGrad):
    """AdaGrad: ``h += g*g``; ``p -= lr*g / (sqrt(h) + 1e-7)``.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate.
    weight_decay, decoupled, maximize
        Options beyond the book, off by default; see ``fastdl.optim._Options``.
    """

    _state = ("h",)

    def __init__(self, lr=0.01, *, weight_decay=0.0, decoupled=False, maximize=False):
        super().__init__(lr)
        self._set_options(weight_decay, decoupled, maximize)

    def update(self, params, grads):
        if self.h is None:
            self.h = reference._zeros_like_params(params)
        self._run(_kernels and _kernels.adagrad_update, (self.lr,),
                  params, grads, self.h, self.lr)


class RMSprop(_Options, reference.RMSprop):
    """RMSprop: ``h = decay_rate*h + (1-decay_rate)*g*g``; ``p -= lr*g / (sqrt(h) + 1e-7)``.

    Parameters
    ----------
    lr : float, default 0.01
        Learning rate.
    decay_rate : float, default 0.99
        Fraction of ``h`` kept from one step to the next.
    weight_decay, decoupled, maximize
        Options beyond the book, off by default; see ``fastdl.optim._Options``.
    """

    _hyper = ("lr", "decay_rate")
    _state = ("h",)

    def __init__(self, lr=0.01, decay_rate=0.99, *, weight_decay=0.0, decoupled=False,
                 maximize=False):
        super().__init__(lr, decay_rate)
        self._set_options(weight_decay, decoupled, maximize)

    def update(self, params, grads):
        if self.h is None:
            self.h = reference._zeros_like_params(params)
        self._run(_kernels and _kernels.rmsprop_update,
                  (self.lr, self.decay_rate),
                  params, grads, self.h, self.lr, self.decay_rate)


class Adam(_Options, reference.Adam):
    """Adam with the bias correction folded into the step size ``lr_t``.

    For float32 parameters ``lr_t*m / (sqrt(v) + 1e-7)`` is computed in
    float64 and rounded once, as NumPy does with the float64 scalar ``lr_t``.

    Parameters
    ----------
    lr : float, default 0.001
        Learning rate.
    beta1, beta2 : float, default 0.9, 0.999
        Decay rates of the first and second moment estimates ``m`` and ``v``.
    amsgrad : bool, default False
        Keep ``v_max``, the running maximum of ``v`` (``np.maximum``, so NaN
        propagates), and divide by ``sqrt(v_max) + 1e-7`` instead of
        ``sqrt(v) + 1e-7``.
    weight_decay, decoupled, maximize
        Options beyond the book, off by default; see ``fastdl.optim._Options``.
        ``weight_decay=w, decoupled=True`` is AdamW.
    """

    _hyper = ("lr", "beta1", "beta2", "amsgrad", "iter")
    _state = ("m", "v", "v_max")

    def __init__(self, lr=0.001, beta1=0.9, beta2=0.999, *, amsgrad=False,
                 weight_decay=0.0, decoupled=False, maximize=False):
        super().__init__(lr, beta1, beta2)
        self.amsgrad = amsgrad
        self.v_max = None
        self._set_options(weight_decay, decoupled, maximize)

    def _book_rule(self):
        return not self.amsgrad and super()._book_rule()

    def _kernel_options(self):
        bits = super()._kernel_options()
        if bits is None or not self.amsgrad:
            return bits
        return bits | _kernels.OPTIONS["amsgrad"]

    def update(self, params, grads):
        if self.m is None:
            self.m = reference._zeros_like_params(params)
            self.v = reference._zeros_like_params(params)
        if self.amsgrad and self.v_max is None:
            self.v_max = reference._zeros_like_params(params)
        self.iter += 1
        lr_t = self._lr_t()
        # lr_t is a NumPy float64 scalar whenever lr is a float: float32 keys
        # divide in double, as the kernel does.
        hyper = (self.beta1, self.beta2) if type(lr_t) is np.float64 else (None,)
        self._run(_kernels and _kernels.adam_update, hyper, params, grads,
                  self.m, self.v, lr_t, self.beta1, self.beta2, lr_t=(lr_t,),
                  lr=self.lr, v_max=self.v_max)

    def _rule_step(self, params, grads, key, lr_t):
        if not self.amsgrad:
            return super()._rule_step(params, grads, key, lr_t)
        self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
        self.v[key] += (1 - self.beta2) * (grads[key] * grads[key] - self.v[key])
        np.maximum(self.v_max[key], self.v[key], out=self.v_max[key])
        params[key] -= lr_t * self.m[key] / (np.sqrt(self.v_max[key]) + reference.EPS)


__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]

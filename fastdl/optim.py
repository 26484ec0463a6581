"""The chapter's optimizers, drop-in for the book's ``common.optimizer``.

Each class is the reference class (same constructor, defaults, attributes
and state) whose ``update`` hands all the keys of ``params`` to one
compiled kernel, ``fastdl._kernels.optim.update``. The kernel updates in
place every key whose arrays it takes (exact ``ndarray``, float32 or
float64, C-contiguous, one dtype and shape for the parameter, gradient and
state, writeable, no two sharing memory) and declines the others; for a
declined key ``update`` runs ``_step``, the reference's own step, and the
keys stay in the reference's order. The results are the reference's in
every case, to the bit (float32 included, with NumPy 2's promotion). What
differs:

- hyper-parameters that are neither Python floats nor NumPy float64
  scalars take the reference path, and so do float32 keys with NumPy
  float64 hyper-parameters, since NumPy promotes those differently;
- a ``ValueError`` from a key (shapes that do not broadcast, a read-only
  parameter) names the key;
- NumPy's floating-point warnings (overflow, invalid value) are not issued
  for keys the kernel updates, and NaN payloads may differ (NaN stays NaN).

No array is written after it was handed out: ``Momentum`` binds a new
velocity array to ``v[key]`` at each step, as the reference does.

Beyond the book, every class takes the reference's keyword-only options
``weight_decay``, ``decoupled`` and ``maximize`` (``Adam`` also
``amsgrad``), defined in ``fastdl.reference.optim``, which the kernels
compute too, and has ``state_dict()``/``load_state_dict()``.
"""
from __future__ import annotations

import numbers
from collections.abc import Hashable, Mapping, MutableMapping
from typing import Any

import numpy as np

from fastdl import _backend
from fastdl.reference import optim as reference

_kernels = _backend.load_fastest("optim")

NAMES = reference.NAMES

Params = MutableMapping[Hashable, Any]


class _KernelOptimizer:
    """The part the six fast optimizers share: ``state_dict`` and the path into the kernel.

    A fast optimizer inherits everything else from its reference class
    (constructor, options, lazy state, ``update``) and overrides only
    ``_steps``, the loop over the keys.
    """

    _rule = "sgd"                       # the kernel's name for this optimizer
    _hyper: tuple[str, ...] = ("lr",)   # hyper-parameters the kernel rounds to the array's dtype
    _saved: tuple[str, ...] = ()        # other attributes state_dict saves
    _options: tuple[str, ...] = ("weight_decay", "decoupled", "maximize")
    _optional_state: tuple[str, ...] = ()  # states that may stay None once the others exist
    # From the reference class: _state, the per-key state dicts, in the kernel's order.
    _state: tuple[str, ...]

    def _kernel_hyper(self) -> tuple[dict[str, Any], bool | None]:
        """The hyper-parameters the kernel rounds to the array's dtype, and which keys it may take.

        NumPy 2 rounds a Python float to the array's dtype (NEP 50), as the
        kernel does: every key (True). A NumPy float64 scalar (the book's
        search draws ``lr = 10 ** np.random.uniform(-6, -2)``) acts like a
        Python float on float64 arrays but turns float32 work into float64:
        float64 keys only (False). Anything else (ints, float32 scalars): no
        key (None), and without compiled kernels none either.
        """
        if _kernels is None:
            return {}, None
        names = self._hyper + ("weight_decay",) if self.weight_decay != 0 else self._hyper
        hyper = {}
        float32 = True
        for name in names:
            value = hyper[name] = getattr(self, name)
            if type(value) is np.float64:
                float32 = False
            elif type(value) is not float:
                return hyper, None
        return hyper, float32

    def _kernel_options(self) -> int:
        """The options as the kernel's ``OPTIONS`` bits."""
        bits = _kernels.OPTIONS["maximize"] if self.maximize else 0
        if self.weight_decay != 0:
            bits |= _kernels.OPTIONS["decoupled_decay" if self.decoupled else "l2_decay"]
        return bits

    def _steps(self, params: Params, grads: Params, *lr_t: Any) -> None:
        """Every key through the kernel, or through the reference's ``_step`` where the kernel declines it.

        ``lr_t`` is Adam's step size for this update, passed to the kernel
        and to ``_step``.
        """
        keys = list(params.keys())
        hyper, float32 = self._kernel_hyper()
        if lr_t:
            hyper["lr_t"] = lr_t[0]
        states = [getattr(self, name) for name in self._state]
        options = 0 if float32 is None else self._kernel_options()
        i = 0
        while i < len(keys):
            if float32 is not None:
                i = _kernels.update(self._rule, keys, i, params, grads, states, hyper, options, float32)
                if i == len(keys):
                    break
            key = keys[i]
            try:
                self._step(params, grads, key, *lr_t)
            except ValueError as exc:
                raise ValueError(f"{type(self).__name__}, key {key!r}: {exc}") from exc
            i += 1

    def state_dict(self) -> dict[str, Any]:
        """Hyper-parameters, options and state as plain numbers and NumPy arrays (copies).

        The format, version 1: a dict with ``"version": 1``, one entry per
        hyper-parameter (``lr``, ``momentum``, ``decay_rate``, ``beta1``,
        ``beta2``: the class's own), per option (``weight_decay``,
        ``decoupled``, ``maximize``, Adam's ``amsgrad``), Adam's ``iter``,
        and per state (``v``, ``h``, Adam's ``m``, ``v``, ``v_max``): ``None``
        before the first update, else a dict from each parameter's key to a
        NumPy array.
        """
        out: dict[str, Any] = {"version": STATE_DICT_VERSION}
        out.update({name: getattr(self, name) for name in self._hyper + self._saved + self._options})
        for name in self._state:
            state = getattr(self, name)
            out[name] = None if state is None else {
                key: np.array(value, copy=True) for key, value in state.items()}
        return out

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore what ``state_dict()`` returned; training continues bit-identically.

        Raises
        ------
        TypeError
            ``state_dict`` is not a mapping, or a value has the wrong type.
        KeyError
            A key this class does not own, a missing key, or state dicts
            whose parameter keys differ from each other or from the state
            already held.
        ValueError
            An unknown version, or state arrays whose shape or dtype differ
            from each other or from the state already held.

        The optimizer is unchanged when it raises.
        """
        cls = type(self).__name__
        if not isinstance(state_dict, Mapping):
            raise TypeError(f"{cls}.load_state_dict: expected a dict, got {type(state_dict).__name__}")
        owned = {"version", *self._hyper, *self._saved, *self._options, *self._state}
        unknown = [name for name in state_dict if name not in owned]
        if unknown:
            raise KeyError(f"{cls}.load_state_dict: keys {cls} does not own: {unknown!r}")
        missing = sorted(owned.difference(state_dict))
        if missing:
            raise KeyError(f"{cls}.load_state_dict: missing keys: {missing!r}")
        if state_dict["version"] != STATE_DICT_VERSION or type(state_dict["version"]) is not int:
            raise ValueError(f"{cls}.load_state_dict: unknown state_dict version "
                             f"{state_dict['version']!r} (expected {STATE_DICT_VERSION})")
        for name in self._hyper + self._saved + self._options:
            _check_scalar(cls, name, state_dict[name])
        states = {name: _copy_state(cls, name, state_dict[name]) for name in self._state}
        required = [name for name in self._state if name not in self._optional_state]
        if len({states[name] is None for name in required}) > 1:
            raise ValueError(f"{cls}.load_state_dict: {required!r} must all be None or all be dicts")
        held = [(f"held {name}", getattr(self, name)) for name in self._state]
        _check_same_layout(cls, [(name, state) for name, state in states.items()] + held)
        for name in self._hyper + self._saved + self._options:
            setattr(self, name, state_dict[name])
        for name, state in states.items():
            setattr(self, name, state)


STATE_DICT_VERSION = 1
_FLAGS = ("decoupled", "maximize", "amsgrad")


def _check_scalar(cls: str, name: str, value: Any) -> None:
    """TypeError unless ``value`` suits the hyper-parameter, option or counter ``name``."""
    if name in _FLAGS:
        ok = isinstance(value, (bool, np.bool_))
        want = "a bool"
    elif name == "iter":
        ok = isinstance(value, numbers.Integral) and not isinstance(value, (bool, np.bool_))
        want = "an int"
    else:
        ok = isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
        want = "a real number"
    if not ok:
        raise TypeError(f"{cls}.load_state_dict: {name!r} must be {want}, got {type(value).__name__}")


def _copy_state(cls: str, name: str, state: Any) -> dict[Hashable, np.ndarray] | None:
    """A copy of one per-key state (``None`` or a dict of numeric arrays); TypeError otherwise."""
    if state is None:
        return None
    if not isinstance(state, Mapping):
        raise TypeError(f"{cls}.load_state_dict: {name!r} must be None or a dict, "
                        f"got {type(state).__name__}")
    copy = {}
    for key, array in state.items():
        if not isinstance(array, np.ndarray) or not np.issubdtype(array.dtype, np.number):
            raise TypeError(f"{cls}.load_state_dict: {name}[{key!r}] must be a numeric NumPy array, "
                            f"got {type(array).__name__}")
        copy[key] = np.array(array, copy=True)
    return copy


def _check_same_layout(cls: str, states: list[tuple[str, Any]]) -> None:
    """KeyError/ValueError unless every non-None state has the same keys, shapes and dtypes."""
    known = [(name, state) for name, state in states if state is not None]
    if not known:
        return
    first_name, first = known[0]
    for name, state in known[1:]:
        if set(state) != set(first):
            raise KeyError(f"{cls}.load_state_dict: {name} has keys {sorted(map(repr, state))}, "
                           f"{first_name} has {sorted(map(repr, first))}")
        for key, array in state.items():
            if array.shape != first[key].shape or array.dtype != first[key].dtype:
                raise ValueError(f"{cls}.load_state_dict: {name}[{key!r}] is {array.dtype}{array.shape}, "
                                 f"{first_name}[{key!r}] is {first[key].dtype}{first[key].shape}")


class SGD(_KernelOptimizer, reference.SGD):
    """Stochastic gradient descent, ``p -= lr*g`` in place; parameters as ``fastdl.reference.optim.SGD``."""


class Momentum(_KernelOptimizer, reference.Momentum):
    """SGD with momentum: ``v = momentum*v - lr*g``; ``p += v``; parameters as the reference's."""

    _rule = "momentum"
    _hyper = ("lr", "momentum")


class Nesterov(_KernelOptimizer, reference.Nesterov):
    """Nesterov's accelerated gradient in the book's rearranged form; parameters as the reference's."""

    _rule = "nesterov"
    _hyper = ("lr", "momentum")


class AdaGrad(_KernelOptimizer, reference.AdaGrad):
    """AdaGrad: ``h += g*g``; ``p -= lr*g / (sqrt(h) + 1e-7)``; parameters as the reference's."""

    _rule = "adagrad"


class RMSprop(_KernelOptimizer, reference.RMSprop):
    """RMSprop: ``h = decay_rate*h + (1-decay_rate)*g*g``; parameters as the reference's."""

    _rule = "rmsprop"
    _hyper = ("lr", "decay_rate")


class Adam(_KernelOptimizer, reference.Adam):
    """Adam with the bias correction folded into ``lr_t``, AMSGrad optional; parameters as the reference's.

    For float32 parameters ``lr_t*m / (sqrt(v) + 1e-7)`` is computed in
    float64 and rounded once, as NumPy does with the float64 scalar ``lr_t``.
    """

    _rule = "adam"
    # lr enters only through lr_t, a NumPy float64 for a Python float lr;
    # checking lr sends every other lr (and so lr_t) to the reference.
    _hyper = ("lr", "beta1", "beta2")
    _saved = ("iter",)
    _optional_state = ("v_max",)
    _options = _KernelOptimizer._options + ("amsgrad",)

    def _kernel_options(self) -> int:
        amsgrad = _kernels.OPTIONS["amsgrad"] if self.amsgrad else 0
        return super()._kernel_options() | amsgrad


__all__ = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam", "NAMES"]

"""load_state_dict under hostile dicts: a clear error naming the problem, the optimizer unchanged."""
import copy
import pickle

import numpy as np
import pytest

from fastdl import optim
from fastdl.reference.optim import NAMES


def trained(name, **options):
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal((3, 4)), "b": rng.standard_normal(4)}
    opt = getattr(optim, name)(**options)
    for _ in range(2):
        opt.update(params, {k: rng.standard_normal(p.shape) for k, p in params.items()})
    return opt


def snapshot(opt):
    return pickle.dumps(vars(opt))


def assert_rejected(opt, state_dict, error, match):
    before = snapshot(opt)
    with pytest.raises(error, match=match):
        opt.load_state_dict(state_dict)
    assert snapshot(opt) == before


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_is_versioned_and_owns_its_keys(name):
    opt = trained(name)
    state = opt.state_dict()
    assert state["version"] == 1
    fresh = getattr(optim, name)()
    fresh.load_state_dict(state)
    assert fresh.state_dict().keys() == state.keys()


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("extra", [{"update": None}, {"__class__": optim.Adam}, {"__dict__": {}},
                                   {"nonsense": 1}])
def test_foreign_keys_raise_keyerror(name, extra):
    opt = trained(name)
    assert_rejected(opt, {**opt.state_dict(), **extra}, KeyError, "does not own")


@pytest.mark.parametrize("name", NAMES)
def test_missing_keys_raise_keyerror(name):
    opt = trained(name)
    for key in opt.state_dict():
        state = opt.state_dict()
        del state[key]
        assert_rejected(opt, state, KeyError, f"missing keys: \\['{key}'\\]")


def test_momentum_dict_into_adam_raises_and_adds_nothing():
    adam = trained("Adam")
    assert_rejected(adam, optim.Momentum().state_dict(), KeyError, "momentum")
    assert not hasattr(adam, "momentum")
    assert_rejected(optim.SGD(), trained("Momentum").state_dict(), KeyError, "'v'")


@pytest.mark.parametrize("version", [0, 2, "1", 1.0, None])
def test_unknown_version_raises_valueerror(version):
    opt = trained("Momentum")
    assert_rejected(opt, {**opt.state_dict(), "version": version}, ValueError, "version")


@pytest.mark.parametrize("key, value", [("lr", None), ("lr", "0.1"), ("lr", True), ("lr", [0.1]),
                                        ("weight_decay", None), ("maximize", 1),
                                        ("decoupled", None), ("amsgrad", "yes"), ("iter", 2.0),
                                        ("iter", True), ("m", 3), ("m", [np.zeros(4)]),
                                        ("v", {"W": [[0.0]], "b": np.zeros(4)}),
                                        ("v", {"W": np.zeros((3, 4), dtype=object), "b": np.zeros(4)})])
def test_wrong_types_raise_typeerror(key, value):
    opt = trained("Adam")
    assert_rejected(opt, {**opt.state_dict(), key: value}, TypeError, repr(key).strip("'") + "")


def test_not_a_mapping_raises_typeerror():
    assert_rejected(trained("SGD"), [("lr", 0.1)], TypeError, "expected a dict")


@pytest.mark.parametrize("name", ["Momentum", "AdaGrad", "Adam"])
def test_wrong_shape_or_dtype_against_held_state_raises_valueerror(name):
    opt = trained(name)
    state = opt.state_dict()
    key = opt._state[0]
    for bad in (np.zeros((4, 3)), np.zeros((3, 4), dtype=np.float32), np.zeros(12)):
        assert_rejected(opt, {**state, key: {**state[key], "W": bad}}, ValueError, r"\['W'\]")
    assert_rejected(opt, {**state, key: {"W": state[key]["W"]}}, KeyError, "keys")


def test_adam_states_must_agree_with_each_other():
    state = trained("Adam", amsgrad=True).state_dict()
    fresh = optim.Adam(amsgrad=True)
    assert_rejected(fresh, {**state, "v": {**state["v"], "b": np.zeros(5)}}, ValueError, r"v\['b'\]")
    assert_rejected(fresh, {**state, "v_max": {"W": state["v_max"]["W"]}}, KeyError, "v_max")
    assert_rejected(fresh, {**state, "v": None}, ValueError, "all be None")


def test_state_is_copied_on_load():
    state = trained("Adam").state_dict()
    opt = optim.Adam()
    opt.load_state_dict(state)
    state["m"]["W"][...] = 7
    assert not (opt.m["W"] == 7).any()


def test_loaded_state_continues_like_the_original():
    opt = trained("Adam", amsgrad=True)
    other = optim.Adam()
    other.load_state_dict(copy.deepcopy(opt.state_dict()))
    assert other.amsgrad and other.iter == opt.iter

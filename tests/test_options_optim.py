"""Options beyond the book (weight decay, AdamW, AMSGrad, maximize) and state_dict.

The options are defined by the reference classes: their formulas are
checked here against the book's update on changed gradients, then the fast
classes against the reference with the same options, bit for bit.
"""
import copy

import numpy as np
import pytest

from fastdl import optim, reference
from fastdl.reference.optim import NAMES

# The book's update: the reference classes at their defaults, which
# test_reference_optim.py checks against the book's formulas.
BOOK = {name: getattr(reference, name) for name in NAMES}


def make_case(dtype=np.float64, seed=0, steps=4):
    rng = np.random.default_rng(seed)
    params = {"W": rng.standard_normal((3, 4)).astype(dtype), "b": rng.standard_normal(4).astype(dtype)}
    grads = [{k: rng.standard_normal(p.shape).astype(dtype) for k, p in params.items()}
             for _ in range(steps)]
    return params, grads


def train(opt, params, grads):
    params = copy.deepcopy(params)
    for g in grads:
        opt.update(params, g)
    return params


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("module", [reference, optim])
def test_defaults_are_the_book(name, module):
    params, grads = make_case()
    book = train(BOOK[name](), params, grads)
    ours = train(getattr(module, name)(weight_decay=0.0, decoupled=True), params, grads)
    assert all(np.array_equal(ours[k], book[k]) for k in book)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_l2_weight_decay_is_the_book_with_g_plus_wd_p(name, dtype):
    """weight_decay=w steps with g + w*p, p taken before the step."""
    params, grads = make_case(dtype)
    fast, ref = getattr(reference, name)(weight_decay=0.01), BOOK[name]()
    p_fast, p_ref = copy.deepcopy(params), copy.deepcopy(params)
    for g in grads:
        fast.update(p_fast, g)
        ref.update(p_ref, {k: g[k] + 0.01 * p_ref[k] for k in g})
    assert all(np.array_equal(p_fast[k], p_ref[k]) for k in p_ref)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_decoupled_weight_decay_shrinks_p_first(name, dtype):
    params, grads = make_case(dtype)
    fast = getattr(reference, name)(weight_decay=0.1, decoupled=True)
    ref = BOOK[name]()
    p_fast, p_ref = copy.deepcopy(params), copy.deepcopy(params)
    for g in grads:
        fast.update(p_fast, g)
        for k in p_ref:
            p_ref[k] -= ref.lr * 0.1 * p_ref[k]
        ref.update(p_ref, g)
    assert all(np.array_equal(p_fast[k], p_ref[k]) for k in p_ref)


@pytest.mark.parametrize("name", NAMES)
def test_maximize_is_descent_on_minus_g(name):
    params, grads = make_case()
    up = train(getattr(reference, name)(maximize=True), params, grads)
    down = train(BOOK[name](), params, [{k: -g[k] for k in g} for g in grads])
    assert all(np.array_equal(up[k], down[k]) for k in up)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_amsgrad_divides_by_the_running_max_of_v(dtype):
    params, grads = make_case(dtype, steps=6)
    opt = reference.Adam(lr=0.1, amsgrad=True)
    p = copy.deepcopy(params)
    m = {k: np.zeros_like(v) for k, v in p.items()}
    v = {k: np.zeros_like(x) for k, x in p.items()}
    v_max = {k: np.zeros_like(x) for k, x in p.items()}
    for it, g in enumerate(grads, 1):
        opt.update(params, g)
        lr_t = 0.1 * np.sqrt(1.0 - 0.999 ** it) / (1.0 - 0.9 ** it)
        for k in p:
            m[k] += (1 - 0.9) * (g[k] - m[k])
            v[k] += (1 - 0.999) * (g[k] * g[k] - v[k])
            v_max[k] = np.maximum(v_max[k], v[k])
            p[k] -= lr_t * m[k] / (np.sqrt(v_max[k]) + 1e-7)
    assert all(np.array_equal(params[k], p[k]) for k in p)
    assert all(np.array_equal(opt.v_max[k], v_max[k]) for k in p)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("options", [{}, {"weight_decay": 0.01, "decoupled": True},
                                     {"maximize": True}])
def test_state_dict_round_trip_continues_bit_identically(name, options):
    params, grads = make_case(steps=6)
    whole = getattr(optim, name)(**options)
    p_whole = train(whole, params, grads)

    first = getattr(optim, name)(**options)
    p_half = train(first, params, grads[:3])
    state = first.state_dict()
    for value in state.values():
        assert value is None or isinstance(value, (bool, int, float, dict))
        if isinstance(value, dict):
            assert all(type(a) is np.ndarray for a in value.values())
    second = getattr(optim, name)()
    second.load_state_dict(state)
    for g in grads[3:]:
        second.update(p_half, g)
    assert all(np.array_equal(p_half[k], p_whole[k]) for k in p_whole)


def test_state_dict_holds_copies():
    params, grads = make_case()
    opt = optim.Adam()
    train(opt, params, grads)
    state = opt.state_dict()
    state["m"]["W"][...] = 0
    assert opt.m["W"].any()
    assert state["iter"] == 4 and state["v_max"] is None


OPTION_SETS = [{"maximize": True}, {"weight_decay": 0.03}, {"weight_decay": 0.03, "decoupled": True},
               {"weight_decay": 0.03, "decoupled": True, "maximize": True},
               {"weight_decay": 0.03, "maximize": True}]


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("options", OPTION_SETS + [{"amsgrad": True},
                                                   {"amsgrad": True, "weight_decay": 0.1,
                                                    "decoupled": True}])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_fast_computes_the_options_as_the_reference(name, options, dtype):
    if "amsgrad" in options and name != "Adam":
        pytest.skip("amsgrad is Adam's")
    params, grads = make_case(dtype, steps=5)
    grads[2]["W"][0, 0] = np.nan
    grads[3]["b"][1] = np.inf
    fast = getattr(optim, name)(**options)
    slow = getattr(reference, name)(**options)
    with np.errstate(all="ignore"):
        p_fast = train(fast, params, grads)
        p_slow = train(slow, params, grads)
    assert all(np.array_equal(p_fast[k], p_slow[k], equal_nan=True) for k in p_slow)
    for state in ("v", "h", "m", "v_max"):
        a, b = getattr(fast, state, None), getattr(slow, state, None)
        if b is not None:
            assert all(np.array_equal(a[k], b[k], equal_nan=True) for k in b), state


@pytest.mark.parametrize("name", NAMES)
def test_options_take_the_kernel(name, monkeypatch):
    if optim._kernels is None:
        pytest.skip("compiled kernels not built")
    opt = getattr(optim, name)(weight_decay=0.1, decoupled=True, maximize=True)
    def refuse(*args):
        raise AssertionError("the NumPy step ran")
    monkeypatch.setattr(opt, "_step", refuse)
    p = {"W": np.ones(5)}
    opt.update(p, {"W": np.ones(5)})

"""Inputs the kernels do not take: the reference's result or its error, never a crash."""

import numpy as np
import pytest

from fastdl import optim, reference
from fastdl.reference.optim import NAMES

STATE = {"SGD": (), "Momentum": ("v",), "Nesterov": ("v",), "AdaGrad": ("h",),
         "RMSprop": ("h",), "Adam": ("m", "v")}


def outcome(opt, params, grads, steps=3):
    """Params after ``steps`` updates, or the exception the first failing update raised."""
    try:
        for _ in range(steps):
            opt.update(params, grads)
    except Exception as exc:  # compared with the reference's below
        return exc
    return params


def assert_same_outcome(name, make_params, make_grads, hyper=None, prepare=None, steps=3):
    hyper = hyper or {}
    fast, ref = getattr(optim, name)(**hyper), getattr(reference, name)(**hyper)
    p_fast, p_ref = make_params(), make_params()
    g_fast, g_ref = make_grads(p_fast), make_grads(p_ref)
    if prepare:
        prepare(fast, p_fast)
        prepare(ref, p_ref)
    got, want = outcome(fast, p_fast, g_fast, steps), outcome(ref, p_ref, g_ref, steps)
    if isinstance(want, Exception):
        assert isinstance(got, type(want)), (got, want)
        return got
    assert not isinstance(got, Exception), got
    for key in want:
        a, b = np.asarray(got[key]), np.asarray(want[key])
        assert a.dtype == b.dtype and a.shape == b.shape, key
        assert np.array_equal(a, b, equal_nan=True), key
    for state in STATE[name]:
        for key, b in getattr(ref, state).items():
            a = getattr(fast, state)[key]
            assert np.array_equal(np.asarray(a), np.asarray(b), equal_nan=True), (state, key)
    return got


def normal(shape, dtype=np.float64, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


@pytest.mark.parametrize("name, lr", [("SGD", 0.95), ("Momentum", 0.1), ("Nesterov", 0.1),
                                      ("AdaGrad", 1.5), ("RMSprop", 0.1), ("Adam", 0.3)])
def test_python_floats_as_in_the_2d_demo(name, lr):
    """f(x, y) = x**2/20 + y**2 from (-7, 2), 30 steps, with plain floats."""
    fast, ref = getattr(optim, name)(lr=lr), getattr(reference, name)(lr=lr)
    p_fast, p_ref = {"x": -7.0, "y": 2.0}, {"x": -7.0, "y": 2.0}
    for _ in range(30):
        for opt, p in ((fast, p_fast), (ref, p_ref)):
            opt.update(p, {"x": p["x"] / 10.0, "y": 2.0 * p["y"]})
    assert p_fast == p_ref


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("layout", ["strided_param", "strided_grad", "fortran", "transposed_grad"])
def test_non_contiguous_arrays(name, layout):
    def params():
        base = normal((6, 10))
        return {"W": base[:, ::2] if layout == "strided_param" else
                np.asfortranarray(base) if layout == "fortran" else base}

    def grads(p):
        g = normal((6, 10), seed=1)
        if layout == "strided_grad":
            g = normal((6, 20), seed=1)[:, ::2]
        if layout == "strided_param":
            g = g[:, :5]
        if layout == "transposed_grad":
            g = normal((10, 6), seed=1).T
        return {"W": g}
    assert_same_outcome(name, params, grads)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("p_dtype, g_dtype", [(np.float32, np.float64), (np.float64, np.float32),
                                              (np.float64, np.int64), (np.float16, np.float16),
                                              (np.float64, np.float16)])
def test_mixed_and_other_float_dtypes(name, p_dtype, g_dtype):
    assert_same_outcome(name, lambda: {"W": normal((4, 5), p_dtype)},
                        lambda p: {"W": normal((4, 5), g_dtype, seed=1)})


@pytest.mark.parametrize("name", NAMES)
def test_integer_params_raise_numpys_casting_error(name):
    exc = assert_same_outcome(name, lambda: {"W": np.arange(6).reshape(2, 3)},
                              lambda p: {"W": normal((2, 3))})
    assert isinstance(exc, TypeError)


@pytest.mark.parametrize("name", NAMES)
def test_shape_mismatch_names_the_key(name):
    exc = assert_same_outcome(name, lambda: {"b": normal(3), "W": normal((3, 4))},
                              lambda p: {"b": normal(3), "W": normal((4, 3))})
    assert isinstance(exc, ValueError) and "'W'" in str(exc)


@pytest.mark.parametrize("name", NAMES)
def test_broadcastable_grad_is_accepted_as_by_the_reference(name):
    assert_same_outcome(name, lambda: {"W": normal((3, 4))}, lambda p: {"W": normal(4)})


@pytest.mark.parametrize("name", NAMES)
def test_missing_grad_raises_key_error(name):
    exc = assert_same_outcome(name, lambda: {"W": normal(3), "b": normal(2)},
                              lambda p: {"W": normal(3)})
    assert isinstance(exc, KeyError)


@pytest.mark.parametrize("name", NAMES)
def test_read_only_params_raise_value_error(name):
    def params():
        p = normal(5)
        p.flags.writeable = False
        return {"W": p}
    exc = assert_same_outcome(name, params, lambda p: {"W": normal(5)})
    assert isinstance(exc, ValueError) and "'W'" in str(exc)


@pytest.mark.parametrize("name", NAMES)
def test_read_only_grads_are_fine(name):
    def grads(p):
        g = normal(5, seed=1)
        g.flags.writeable = False
        return {"W": g}
    assert_same_outcome(name, lambda: {"W": normal(5)}, grads)


# A state aliasing the parameter can go negative: the reference's sqrt warns.
@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("how", ["same", "overlap", "state"])
def test_grad_sharing_memory_with_its_param(name, how):
    def params():
        base = normal(11)
        return {"W": base if how != "overlap" else base[:10], "base": base}

    def grads(p):
        if how == "overlap":
            return {"W": p["base"][1:], "base": normal(11, seed=2)}
        return {"W": p["W"], "base": p["base"]}
    if how == "state":
        # the user points a state array at the parameter itself
        def prepare(opt, p):
            opt.update({"W": np.zeros(11), "base": np.zeros(11)},
                       {"W": np.zeros(11), "base": np.zeros(11)})
            for state in STATE[name]:
                getattr(opt, state)["W"] = p["W"]
        grads_of = lambda p: {"W": normal(11, seed=3), "base": normal(11, seed=4)}  # noqa: E731
        assert_same_outcome(name, params, grads_of, prepare=prepare)
    else:
        assert_same_outcome(name, params, grads)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_nan_and_inf_propagate_as_in_the_reference(name, dtype):
    special = np.array([np.nan, np.inf, -np.inf, 0.0, -0.0, 1e38, -1e38, 1e-45, 3.0], dtype)

    def grads(p):
        return {"W": special.copy(), "b": special[::-1].copy()}
    with np.errstate(all="ignore"):
        assert_same_outcome(name, lambda: {"W": special[::-1].copy(), "b": special.copy()}, grads)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("change", ["dtype", "shape", "broadcastable", "list", "missing",
                                    "read_only", "shared"])
def test_state_replaced_between_updates(name, change):
    if not STATE[name]:
        pytest.skip("SGD has no state")

    def prepare(opt, p):
        opt.update(p, {k: normal(v.shape, seed=5) for k, v in p.items()})
        state = getattr(opt, STATE[name][0])
        if change == "dtype":
            state["W"] = state["W"].astype(np.float32)
        elif change == "shape":
            state["W"] = np.zeros(7)
        elif change == "broadcastable":
            state["W"] = np.zeros(())
        elif change == "list":
            state["W"] = [0.0] * 4
        elif change == "missing":
            del state["W"]
        elif change == "read_only":
            state["W"].flags.writeable = False
        elif change == "shared":
            state["W"] = state["b"]
    assert_same_outcome(name, lambda: {"W": normal(4), "b": normal(4, seed=1)},
                        lambda p: {"W": normal(4, seed=2), "b": normal(4, seed=3)},
                        prepare=prepare)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("lr", [1, np.float32(0.1), np.float64(0.1), True, 1e300])
def test_hyper_parameters_of_other_types(name, lr):
    with np.errstate(all="ignore"):
        for dtype in (np.float32, np.float64):
            assert_same_outcome(name, lambda dtype=dtype: {"W": normal(9, dtype)},
                                lambda p, dtype=dtype: {"W": normal(9, dtype, seed=1)}, hyper={"lr": lr})


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")  # np.matrix on purpose
@pytest.mark.filterwarnings("ignore:invalid value encountered in sqrt:RuntimeWarning")
def test_other_array_types_and_byte_orders(name):
    assert_same_outcome(name, lambda: {"W": normal(5).astype(">f8"), "M": np.asmatrix(normal((2, 2)))},
                        lambda p: {"W": normal(5, seed=1), "M": np.asmatrix(normal((2, 2), seed=1))})


@pytest.mark.parametrize("name", NAMES)
def test_keys_sharing_memory_are_updated_in_the_reference_order(name):
    """A strided key (reference path) overlapping a contiguous one (kernel)."""
    def params():
        base = normal(12)
        return {"a": base[:6], "b": base[::2], "c": base[6:]}
    assert_same_outcome(name, params, lambda p: {k: normal(v.shape, seed=7) for k, v in p.items()})


@pytest.mark.parametrize("name", NAMES)
def test_tied_parameters(name):
    """The same array under two keys is updated twice, as in the reference."""
    def params():
        w = normal(8)
        return {"W1": w, "W2": w}
    assert_same_outcome(name, params, lambda p: {"W1": normal(8, seed=1), "W2": normal(8, seed=2)})


@pytest.mark.parametrize("name", NAMES)
def test_empty_and_non_dict_containers(name):
    assert_same_outcome(name, lambda: {}, lambda p: {})
    from collections import OrderedDict
    assert_same_outcome(name, lambda: OrderedDict(W=normal(3), b=normal(2)),
                        lambda p: OrderedDict(b=normal(2, seed=1), W=normal(3, seed=2)))


def test_momentum_velocity_held_by_the_user_is_not_changed():
    """The reference binds a new v[key]; an array the user kept must stay as it was."""
    for module in (optim, reference):
        opt = module.Momentum()
        p = {"W": normal(6)}
        opt.update(p, {"W": normal(6, seed=1)})
        kept = opt.v["W"]
        before = kept.copy()
        opt.update(p, {"W": normal(6, seed=2)})
        assert np.array_equal(kept, before) and opt.v["W"] is not kept

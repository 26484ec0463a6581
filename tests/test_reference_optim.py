"""The reference optimizers against the formulas of SPEC section 1.

Each formula is written again here on NumPy scalars, one operation at a
time: an independent oracle. NumPy 2 gives a Python-float hyper-parameter
the dtype of the array it meets (NEP 50), while Adam's ``lr_t`` is a NumPy
float64 scalar; ``p -= x`` rounds the result to ``p``'s dtype.
"""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastdl.reference import SGD, AdaGrad, Adam, Momentum, Nesterov, RMSprop

EPS = 1e-7


def scalar_sgd(p, g, s, lr=0.01):
    return p - lr * g, s


def scalar_momentum(p, g, s, lr=0.01, momentum=0.9):
    v = momentum * s.get("v", p * 0) - lr * g
    return p + v, {"v": v}


def scalar_nesterov(p, g, s, lr=0.01, momentum=0.9):
    v = s.get("v", p * 0)
    p = p + momentum * momentum * v
    p = p - (1 + momentum) * lr * g
    v = v * momentum
    v = v - lr * g
    return p, {"v": v}


def scalar_adagrad(p, g, s, lr=0.01):
    h = s.get("h", p * 0) + g * g
    return p - lr * g / (np.sqrt(h) + EPS), {"h": h}


def scalar_rmsprop(p, g, s, lr=0.01, decay_rate=0.99):
    h = s.get("h", p * 0) * decay_rate
    h = h + (1 - decay_rate) * g * g
    return p - lr * g / (np.sqrt(h) + EPS), {"h": h}


def scalar_adam(p, g, s, lr=0.001, beta1=0.9, beta2=0.999):
    it = s.get("iter", 0) + 1
    lr_t = np.float64(lr * np.sqrt(1.0 - beta2 ** it) / (1.0 - beta1 ** it))
    m = s.get("m", p * 0)
    v = s.get("v", p * 0)
    m = m + (1 - beta1) * (g - m)
    v = v + (1 - beta2) * (g * g - v)
    step = lr_t * m / (np.sqrt(v) + EPS)  # float64 even for float32 p
    return (p - step).astype(p.dtype), {"iter": it, "m": m, "v": v}


ORACLES = {SGD: scalar_sgd, Momentum: scalar_momentum, Nesterov: scalar_nesterov,
           AdaGrad: scalar_adagrad, RMSprop: scalar_rmsprop, Adam: scalar_adam}

unit = st.floats(0.01, 0.999)
HYPER = {
    SGD: st.fixed_dictionaries({"lr": st.floats(1e-4, 2.0)}),
    Momentum: st.fixed_dictionaries({"lr": st.floats(1e-4, 1.0), "momentum": unit}),
    Nesterov: st.fixed_dictionaries({"lr": st.floats(1e-4, 1.0), "momentum": unit}),
    AdaGrad: st.fixed_dictionaries({"lr": st.floats(1e-4, 2.0)}),
    RMSprop: st.fixed_dictionaries({"lr": st.floats(1e-4, 1.0), "decay_rate": unit}),
    Adam: st.fixed_dictionaries({"lr": st.floats(1e-4, 1.0), "beta1": unit, "beta2": unit}),
}


def check_against_oracle(cls, kwargs, dtype, shape, seed, steps):
    rng = np.random.default_rng(seed)
    p = rng.standard_normal(shape).astype(dtype)
    expected = [x for x in p.ravel()]  # NumPy scalars of dtype
    states = [{} for _ in expected]
    opt = cls(**kwargs)
    for _ in range(steps):
        g = rng.standard_normal(shape).astype(dtype)
        opt.update({"W": p}, {"W": g})
        for i, gi in enumerate(g.ravel()):
            expected[i], states[i] = ORACLES[cls](expected[i], gi, states[i], **kwargs)
        assert p.dtype == dtype
        assert np.array_equal(p.ravel(), np.array(expected, dtype=dtype))


@pytest.mark.parametrize("cls", list(ORACLES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_defaults_match_the_formula_bit_for_bit(cls, dtype):
    check_against_oracle(cls, {}, dtype, (3, 5), seed=1, steps=4)


@pytest.mark.parametrize("cls", list(ORACLES))
@settings(max_examples=25, deadline=None)
@given(data=st.data(), dtype=st.sampled_from([np.float32, np.float64]),
       shape=st.sampled_from([(), (1,), (7,), (2, 3), (2, 1, 3)]),
       seed=st.integers(0, 2**32 - 1), steps=st.integers(1, 4))
def test_random_hyper_parameters_match_the_formula(cls, data, dtype, shape, seed, steps):
    kwargs = data.draw(HYPER[cls])
    check_against_oracle(cls, kwargs, dtype, shape, seed, steps)


def test_hand_computed_values():
    p = np.array([1.0, 2.0])
    SGD(lr=0.5).update({"p": p}, {"p": np.array([2.0, -4.0])})
    assert p.tolist() == [0.0, 4.0]

    p = np.array([1.0])
    opt = Momentum(lr=0.5, momentum=0.5)
    opt.update({"p": p}, {"p": np.array([1.0])})   # v = -0.5, p = 0.5
    opt.update({"p": p}, {"p": np.array([1.0])})   # v = -0.25 - 0.5, p = -0.25
    assert opt.v["p"].tolist() == [-0.75] and p.tolist() == [-0.25]

    p = np.array([0.0])
    opt = AdaGrad(lr=1.0)
    opt.update({"p": p}, {"p": np.array([2.0])})   # h = 4, p = -2/(2+eps)
    assert opt.h["p"].tolist() == [4.0] and p.tolist() == [-2.0 / (2.0 + 1e-7)]

    p = np.array([0.0])
    opt = Adam(lr=0.1)
    opt.update({"p": p}, {"p": np.array([1.0])})   # first step moves by ~lr
    assert opt.iter == 1
    assert p[0] == pytest.approx(-0.1, rel=1e-5)  # eps shortens the step by ~3e-6


@pytest.mark.parametrize("cls", [SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam])
def test_defaults_attributes_and_lazy_state(cls):
    opt = cls()
    defaults = {"lr": 0.001 if cls is Adam else 0.01}
    if cls in (Momentum, Nesterov):
        defaults["momentum"] = 0.9
    if cls is RMSprop:
        defaults["decay_rate"] = 0.99
    if cls is Adam:
        defaults.update(beta1=0.9, beta2=0.999, iter=0)
    for name, value in defaults.items():
        assert getattr(opt, name) == value
    state_names = {Momentum: ["v"], Nesterov: ["v"], AdaGrad: ["h"], RMSprop: ["h"], Adam: ["m", "v"]}
    for name in state_names.get(cls, []):
        assert getattr(opt, name) is None
    params = {"W1": np.ones((2, 3), dtype=np.float32), "b1": np.ones(3)}
    opt.update(params, {k: np.ones_like(v) for k, v in params.items()})
    for name in state_names.get(cls, []):
        state = getattr(opt, name)
        assert list(state) == ["W1", "b1"]
        assert state["W1"].dtype == np.float32 and state["W1"].shape == (2, 3)


@pytest.mark.parametrize("cls", [SGD, Momentum, Nesterov, AdaGrad, RMSprop, Adam])
def test_update_is_in_place_so_layers_see_it(cls):
    from fastdl.reference import Affine
    W = np.ones((2, 2))
    params = {"W": W}
    layer = Affine(params["W"], np.zeros(2))
    cls().update(params, {"W": np.ones((2, 2))})
    assert params["W"] is W and layer.W is W
    assert not np.array_equal(W, np.ones((2, 2)))


@pytest.mark.parametrize("cls, lr", [(SGD, 0.95), (Momentum, 0.1), (AdaGrad, 1.5), (Adam, 0.3)])
def test_book_2d_demo_with_python_floats(cls, lr):
    """The update-path demo: params values are floats, rebound each step."""
    params = {"x": -7.0, "y": 2.0}
    opt = cls(lr=lr)
    for _ in range(30):
        grads = {"x": params["x"] / 10.0, "y": 2.0 * params["y"]}
        opt.update(params, grads)
    assert abs(params["x"]) < 7.0 and abs(params["y"]) < 2.0


def test_float32_follows_numpy_promotion():
    """Adam's ``lr_t*m`` is float64 (``lr_t`` is a NumPy float64 scalar)."""
    rng = np.random.default_rng(2)
    p32 = rng.standard_normal(50).astype(np.float32)
    g32 = rng.standard_normal(50).astype(np.float32)
    opt = Adam(lr=0.01)
    start = p32.copy()
    opt.update({"p": p32}, {"p": g32})
    m = np.float32(1 - 0.9) * g32
    v = np.float32(1 - 0.999) * (g32 * g32)
    lr_t = 0.01 * np.sqrt(1.0 - 0.999) / (1.0 - 0.9)
    step = lr_t * m.astype(np.float64) / (np.sqrt(v) + np.float32(1e-7)).astype(np.float64)
    assert p32.dtype == np.float32
    assert np.array_equal(p32, (start.astype(np.float64) - step).astype(np.float32))

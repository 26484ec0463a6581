"""Fast optimizers against the reference, bit for bit."""
import copy

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastdl import _backend, optim, reference
from fastdl.reference.optim import NAMES

STATE = {"SGD": (), "Momentum": ("v",), "Nesterov": ("v",), "AdaGrad": ("h",),
         "RMSprop": ("h",), "Adam": ("m", "v")}
SHAPES = [(), (0,), (1,), (7,), (3, 5), (2, 3, 4, 5), (1031,)]

# Mostly ordinary values, sometimes ones that overflow or underflow float32.
extreme = st.sampled_from([0.0, -0.5, 1e-40, 3e38, 1e300])
lr = st.one_of(st.floats(1e-4, 2.0), extreme)
unit = st.one_of(st.floats(0.0, 1.0), extreme)
hyper_parameters = {
    "SGD": st.fixed_dictionaries({"lr": lr}),
    "Momentum": st.fixed_dictionaries({"lr": lr, "momentum": unit}),
    "Nesterov": st.fixed_dictionaries({"lr": lr, "momentum": unit}),
    "AdaGrad": st.fixed_dictionaries({"lr": lr}),
    "RMSprop": st.fixed_dictionaries({"lr": lr, "decay_rate": unit}),
    "Adam": st.fixed_dictionaries({"lr": lr, "beta1": st.floats(0.0, 0.999),
                                   "beta2": st.floats(0.0, 0.9999)}),
}


def kernel_builds():
    """The compiled variants this machine can run: the baseline, and AVX2 where the CPU has it."""
    if _backend.load("optim") is None:
        return [None]
    return _backend.builds("optim")


@pytest.fixture(params=kernel_builds())
def build(request, monkeypatch):
    """Run the test with ``fastdl.optim`` using each compiled variant in turn."""
    if request.param is not None:
        monkeypatch.setattr(optim, "_kernels", _backend.load(request.param))
    return request.param


def run_both(name, hyper, params, grad_steps):
    """Update copies of ``params`` with fastdl and the reference; return both optimizers and params."""
    fast, ref = getattr(optim, name)(**hyper), getattr(reference, name)(**hyper)
    p_fast, p_ref = copy.deepcopy(params), copy.deepcopy(params)
    for grads in grad_steps:
        fast.update(p_fast, grads)
        ref.update(p_ref, grads)
    return fast, ref, p_fast, p_ref


def assert_same(fast, ref, p_fast, p_ref, name):
    for key in p_ref:
        assert p_fast[key].dtype == p_ref[key].dtype
        assert np.array_equal(p_fast[key], p_ref[key], equal_nan=True), key
        for state in STATE[name]:
            a, b = getattr(fast, state)[key], getattr(ref, state)[key]
            assert a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True), (state, key)
    if name == "Adam":
        assert fast.iter == ref.iter


@st.composite
def cases(draw):
    name = draw(st.sampled_from(NAMES))
    hyper = draw(hyper_parameters[name])
    n_keys = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    steps = draw(st.integers(1, 4))
    rng = np.random.default_rng(seed)
    shapes = [draw(st.sampled_from(SHAPES)) for _ in range(n_keys)]
    dtypes = [draw(st.sampled_from([np.float32, np.float64])) for _ in range(n_keys)]
    params = {f"W{i}": rng.standard_normal(s).astype(d) for i, (s, d) in enumerate(zip(shapes, dtypes))}
    grad_steps = [{k: rng.standard_normal(p.shape).astype(p.dtype) for k, p in params.items()}
                  for _ in range(steps)]
    return name, hyper, params, grad_steps


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=cases())
def test_matches_reference_bit_for_bit(build, case):
    name, hyper, params, grad_steps = case
    with np.errstate(all="ignore"):  # extreme hyper-parameters overflow on purpose
        result = run_both(name, hyper, params, grad_steps)
    assert_same(*result, name)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
def test_defaults_match_reference(build, name, dtype, shape):
    rng = np.random.default_rng(0)
    params = {"W": rng.standard_normal(shape).astype(dtype),
              "b": rng.standard_normal(shape).astype(dtype)}
    grad_steps = [{k: rng.standard_normal(shape).astype(dtype) for k in params} for _ in range(5)]
    assert_same(*run_both(name, {}, params, grad_steps), name)


@pytest.mark.parametrize("name", NAMES)
def test_book_network_matches_reference(build, name):
    """The chapter's MNIST comparison: MultiLayerNet(784, [100]*4, 10), many steps."""
    net = reference.MultiLayerNet(784, [100] * 4, 10)
    rng = np.random.default_rng(1)
    grad_steps = [{k: 0.1 * rng.standard_normal(p.shape) for k, p in net.params.items()}
                  for _ in range(5)]
    assert_same(*run_both(name, {}, net.params, grad_steps), name)


@pytest.mark.parametrize("name", NAMES)
def test_kernel_takes_contiguous_float_arrays(name, monkeypatch):
    """The fast path really runs: the reference's per-key step is never called."""
    if optim._kernels is None:
        pytest.skip("compiled kernels not built")
    def refuse(*args):
        raise AssertionError("the reference step ran")
    opt = getattr(optim, name)()
    monkeypatch.setattr(opt, "_step", refuse)
    params = {"W": np.ones((3, 4)), "b": np.ones(4, np.float32)}
    opt.update(params, {"W": np.ones((3, 4)), "b": np.ones(4, np.float32)})


def test_avx2_build_is_used_where_the_cpu_has_avx2():
    if optim._kernels is None:
        pytest.skip("compiled kernels not built")
    want = _backend.builds("optim")[-1]
    assert optim._kernels.__name__ == f"fastdl._kernels.{want}"


@pytest.mark.parametrize("name", NAMES)
def test_training_loop_matches_reference(name):
    """Gradients from the network itself, so every step feeds the next (the chapter's comparison)."""
    rng = np.random.default_rng(3)
    x = rng.standard_normal((32, 50))
    t = rng.integers(0, 10, 32)
    losses = []
    for module in (optim, reference):
        np.random.seed(0)
        net = reference.MultiLayerNet(50, [20] * 4, 10)
        opt = getattr(module, name)()
        trace = []
        for _ in range(20):
            opt.update(net.params, net.gradient(x, t))
            trace.append(net.loss(x, t))
        losses.append((trace, {k: v.copy() for k, v in net.params.items()}))
    (fast_trace, fast_params), (ref_trace, ref_params) = losses
    assert fast_trace == ref_trace
    assert all(np.array_equal(fast_params[k], ref_params[k]) for k in ref_params)


HYPER_NAMES = {"SGD": ("lr",), "Momentum": ("lr", "momentum"), "Nesterov": ("lr", "momentum"),
               "AdaGrad": ("lr",), "RMSprop": ("lr", "decay_rate"), "Adam": ("lr", "beta1", "beta2")}


@pytest.mark.parametrize("name", sorted(HYPER_NAMES))
@pytest.mark.parametrize("weight_decay", [0.0, np.float64(1e-3)])
def test_numpy_float64_hyper_parameters_use_the_kernel_for_float64_keys(name, weight_decay, monkeypatch):
    """The book's search passes ``lr = 10**np.random.uniform(...)``, a NumPy float64.

    On float64 arrays that promotes like a Python float, so the kernel runs;
    float32 keys take the reference step (NumPy computes them in float64).
    """
    if optim._kernels is None:
        pytest.skip("compiled kernels not built")
    hyper = {h: np.float64(v) for h, v in
             {"lr": 0.01, "momentum": 0.8, "decay_rate": 0.9, "beta1": 0.85, "beta2": 0.99}.items()
             if h in HYPER_NAMES[name]}
    rng = np.random.default_rng(3)
    params = {"W64": rng.standard_normal((4, 6)), "W32": rng.standard_normal(7).astype(np.float32)}
    grads = {k: rng.standard_normal(v.shape).astype(v.dtype) for k, v in params.items()}
    ref_params = {k: v.copy() for k, v in params.items()}
    fast = getattr(optim, name)(**hyper, weight_decay=weight_decay)
    ref = getattr(reference, name)(**hyper, weight_decay=weight_decay)
    stepped = []
    original_step = type(fast)._step
    monkeypatch.setattr(fast, "_step", lambda p, g, key, *a: (stepped.append(key), original_step(fast, p, g, key, *a)))
    for _ in range(3):
        fast.update(params, grads)
        ref.update(ref_params, grads)
    assert set(stepped) == {"W32"}
    for key in params:
        assert params[key].dtype == ref_params[key].dtype
        assert np.array_equal(params[key], ref_params[key]), key

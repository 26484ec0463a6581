"""Optimizer benchmarks: the reference, fastdl and (if installed) torch in one group.

Run: ``PYTHONPATH=$PWD python -m pytest bench/bench_optim.py`` (see bench/README.md).
"""
import copy

import numpy as np
import pytest

import fastdl
from fastdl import optim, reference

try:
    import torch
except ImportError:
    torch = None

NAMES = ["SGD", "Momentum", "Nesterov", "AdaGrad", "RMSprop", "Adam"]
SIZES = [10**3, 10**4, 10**5, 10**6, 10**7]
# Arrays read plus arrays written per element: parameter, gradient, state.
STREAMS = {"SGD": 3, "Momentum": 5, "Nesterov": 5, "AdaGrad": 5, "RMSprop": 5, "Adam": 7}
# (rounds, iterations): enough rounds for a median, few at the largest sizes.
ROUNDS = {10**3: (200, 20), 10**4: (100, 5), 10**5: (40, 1), 10**6: (15, 1), 10**7: (5, 1)}


def arrays(size, dtype):
    rng = np.random.default_rng(0)
    return ({"W": rng.standard_normal(size).astype(dtype)},
            {"W": (0.01 * rng.standard_normal(size)).astype(dtype)})


def run(benchmark, step, size):
    rounds, iterations = ROUNDS[size]
    benchmark.pedantic(step, rounds=rounds, iterations=iterations, warmup_rounds=1)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("impl", ["reference", "fastdl"])
def test_optimizer(benchmark, roofline, one_thread, impl, name, size, dtype):
    benchmark.group = f"{name} n={size:.0e} {dtype}"
    params, grads = arrays(size, dtype)
    opt = getattr(reference if impl == "reference" else optim, name)()
    run(benchmark, lambda: opt.update(params, grads), size)
    roofline(benchmark, STREAMS[name] * size * np.dtype(dtype).itemsize)


@pytest.mark.skipif(torch is None, reason="torch is not installed")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", SIZES)
def test_optimizer_torch_fused(benchmark, roofline, one_thread, size, dtype):
    """torch.optim.Adam(fused=True) on the CPU, one thread, in Adam's group."""
    benchmark.group = f"Adam n={size:.0e} {dtype}"
    benchmark.name = benchmark.name.replace("test_optimizer_torch_fused", "test_optimizer[torch-Adam")
    params, grads = arrays(size, dtype)
    p = torch.nn.Parameter(torch.from_numpy(params["W"]))
    p.grad = torch.from_numpy(grads["W"])
    opt = torch.optim.Adam([p], lr=0.001, fused=True)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        run(benchmark, opt.step, size)
    finally:
        torch.set_num_threads(threads)
    roofline(benchmark, STREAMS["Adam"] * size * np.dtype(dtype).itemsize)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("impl", ["reference", "fastdl"])
def test_book_network_update(benchmark, one_thread, impl, name):
    """One update of MultiLayerNet(784, [100]*4, 10)'s 10 arrays (float64)."""
    benchmark.group = f"book net update {name}"
    net = reference.MultiLayerNet(784, [100] * 4, 10)
    params = net.params
    rng = np.random.default_rng(0)
    grads = {k: 0.01 * rng.standard_normal(p.shape) for k, p in params.items()}
    opt = getattr(reference if impl == "reference" else optim, name)()
    benchmark.pedantic(lambda: opt.update(params, grads), rounds=200, iterations=5,
                       warmup_rounds=2)


@pytest.mark.parametrize("impl", ["reference", "fastdl"])
def test_per_array_overhead(benchmark, one_thread, impl):
    """Adam on 100 one-element arrays: the time is per-array overhead (divide by 100)."""
    benchmark.group = "per-array overhead: Adam, 100 arrays of 1 element"
    params = {f"W{i}": np.zeros(1) for i in range(100)}
    grads = {key: np.ones(1) for key in params}
    opt = getattr(reference if impl == "reference" else optim, "Adam")()
    benchmark.pedantic(lambda: opt.update(params, grads), rounds=100, iterations=5,
                       warmup_rounds=2)
    benchmark.extra_info["per_array_us"] = benchmark.stats.stats.median / 100 * 1e6


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", [10**5, 10**6, 10**7])
@pytest.mark.parametrize("threads", [1, 2])
def test_adam_threads(benchmark, roofline, threads, size, dtype):
    """fastdl Adam with 1 and 2 OpenMP threads (the whole machine here)."""
    benchmark.group = f"Adam threads n={size:.0e} {dtype}"
    saved = fastdl.get_num_threads()
    fastdl.set_num_threads(threads)
    try:
        params, grads = arrays(size, dtype)
        opt = optim.Adam()
        run(benchmark, lambda: opt.update(params, grads), size)
    finally:
        fastdl.set_num_threads(saved)
    roofline(benchmark, STREAMS["Adam"] * size * np.dtype(dtype).itemsize)

"""Optimizer benchmarks: the reference, fastdl and (if installed) torch in one group.

Run: ``PYTHONPATH=$PWD python -m pytest bench/bench_optim.py`` (see bench/README.md).
"""
import numpy as np
import pytest

import fastdl
from bench.conftest import interleave
from fastdl import optim, reference

try:
    import torch
except ImportError:
    torch = None

from fastdl.reference.optim import NAMES

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
    opt = (reference if impl == "reference" else optim).Adam()
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


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_adam_1e7_interleaved(benchmark, one_thread, head_to_head, dtype):
    """Adam at n = 1e7: reference, fastdl and torch fused (if installed), alternating."""
    benchmark.group = f"Adam n=1e7 {dtype}, interleaved rounds"
    size = 10**7
    impls = {}
    for impl in ("reference", "fastdl"):
        params, grads = arrays(size, dtype)
        opt = (reference if impl == "reference" else optim).Adam()
        impls[impl] = lambda opt=opt, params=params, grads=grads: opt.update(params, grads)
    if torch is not None:
        params, grads = arrays(size, dtype)
        p = torch.nn.Parameter(torch.from_numpy(params["W"]))
        p.grad = torch.from_numpy(grads["W"])
        impls["torch fused"] = torch.optim.Adam([p], lr=0.001, fused=True).step
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
    try:
        medians = interleave(benchmark, impls, rounds=7)
    finally:
        if torch is not None:
            torch.set_num_threads(threads)
    head_to_head(benchmark.group, medians, STREAMS["Adam"] * size * np.dtype(dtype).itemsize)


@pytest.mark.parametrize("name", NAMES)
def test_book_network_interleaved(benchmark, one_thread, head_to_head, name):
    """The book net's update, reference and fastdl alternating."""
    benchmark.group = f"book net update {name}, interleaved rounds"
    impls = {}
    for impl in ("reference", "fastdl"):
        net = reference.MultiLayerNet(784, [100] * 4, 10)
        rng = np.random.default_rng(0)
        grads = {k: 0.01 * rng.standard_normal(p.shape) for k, p in net.params.items()}
        opt = getattr(reference if impl == "reference" else optim, name)()
        impls[impl] = lambda opt=opt, params=net.params, grads=grads: opt.update(params, grads)
    head_to_head(benchmark.group, interleave(benchmark, impls, rounds=300), None)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("size", [10**5, 10**6, 10**7])
def test_adam_threads_interleaved(benchmark, head_to_head, size, dtype):
    """fastdl Adam with 1 and 2 threads, alternating."""
    benchmark.group = f"Adam threads n={size:.0e} {dtype}, interleaved rounds"
    saved = fastdl.get_num_threads()
    impls = {}
    for threads in (1, 2):
        params, grads = arrays(size, dtype)
        opt = optim.Adam()

        def update(opt=opt, params=params, grads=grads, threads=threads):
            fastdl.set_num_threads(threads)
            opt.update(params, grads)
        impls[f"{threads} thread{'s' if threads > 1 else ''}"] = update
    try:
        medians = interleave(benchmark, impls, rounds=ROUNDS[size][0])
    finally:
        fastdl.set_num_threads(saved)
    head_to_head(benchmark.group, medians, STREAMS["Adam"] * size * np.dtype(dtype).itemsize)

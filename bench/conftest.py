"""Shared fixtures for the benchmarks: thread count and the memory-bandwidth roofline.

``bandwidth`` measures, at the start of the session, the best rate at
which NumPy streams arrays far larger than the caches (a copy and a triad);
a kernel that reads and writes ``B`` bytes cannot take less than
``B / bandwidth`` seconds, its roofline. Every benchmark that calls
``roofline(...)`` has its median reported as a multiple of that time, in
``extra_info`` (saved with ``--benchmark-json``) and in a table at the end
of the run. On a shared machine one probe can land in a busy moment, so the
probe runs again at the end and the table uses the higher of the two.
"""
import os
import statistics
import time

import numpy as np
import pytest

import fastdl
from fastdl import _backend, layers, optim

try:
    import torch
except ImportError:
    torch = None

_rows = []  # (benchmark name, median seconds, bytes read and written)
_probes = []  # bandwidths measured, bytes per second
_head_to_head = []  # (group, {implementation: median seconds}, bytes or None)
_load_at_start = []  # os.getloadavg()[0] when the session started


def _best_rate(run, n_bytes, repeat=10):
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return n_bytes / best


def probe_bandwidth():
    """Bytes per second that one thread streams through memory (best of copy and triad)."""
    n = 16 * 2**20  # 128 MiB of float64 per array: far beyond any cache
    a, b, c = np.ones(n), np.ones(n), np.empty(n)
    copy = _best_rate(lambda: np.copyto(c, a), 2 * a.nbytes)
    triad = _best_rate(lambda: np.add(a, b, out=c), 3 * a.nbytes)
    _probes.append(max(copy, triad))
    return copy, triad


@pytest.fixture(scope="session")
def bandwidth():
    copy, triad = probe_bandwidth()
    print(f"\nmemory bandwidth: copy {copy / 1e9:.1f} GB/s, triad {triad / 1e9:.1f} GB/s")
    return max(copy, triad)


@pytest.fixture
def one_thread():
    """Run fastdl on one thread; restore afterwards."""
    n = fastdl.get_num_threads()
    fastdl.set_num_threads(1)
    yield
    fastdl.set_num_threads(n)


@pytest.fixture(autouse=True)
def _torch_one_thread():
    """torch, when installed, computes on one thread in every benchmark, like the others."""
    if torch is None:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture
def roofline(bandwidth):
    """``roofline(benchmark, n_bytes)``: record the median as a multiple of ``n_bytes / bandwidth``."""
    def record(benchmark, n_bytes):
        floor = n_bytes / bandwidth
        median = benchmark.stats.stats.median
        benchmark.extra_info["bytes"] = n_bytes
        benchmark.extra_info["bandwidth"] = bandwidth
        benchmark.extra_info["roofline_multiple"] = median / floor
        _rows.append((benchmark.name, median, n_bytes))
    return record


@pytest.fixture
def head_to_head():
    """``head_to_head(group, medians, n_bytes)``: report interleaved medians side by side."""
    def record(group, medians, n_bytes):
        _head_to_head.append((group, medians, n_bytes))
    return record


def pytest_sessionstart(session):
    """Stop at once if fastdl runs without its kernels: its timings would be the reference's."""
    _load_at_start.append(os.getloadavg()[0])
    if _backend.missing:
        pytest.exit(f"fastdl imported from {fastdl.__path__[0]} lacks compiled kernels "
                    f"({', '.join(sorted(_backend.missing))}): build them in place, or run the "
                    "installed package with `pytest bench/...` (`python -m pytest` puts the "
                    "current folder first on sys.path)", returncode=1)


def pytest_benchmark_update_machine_info(config, machine_info):
    """Stamp the saved JSON with the load around the run and the build that ran (bench/render.py prints them)."""
    machine_info["load_average"] = [_load_at_start[0] if _load_at_start else None, os.getloadavg()[0]]
    machine_info["fastdl"] = {
        "version": fastdl.__version__,
        "kernels": [getattr(module, "__name__", None) for module in (optim._kernels, layers._batchnorm)],
        "openmp": bool(fastdl._threads is not None and fastdl._threads.OPENMP),
        "threads": fastdl.get_num_threads(),
        "numpy": np.__version__,
    }


def interleave(benchmark, impls, rounds, inner=1):
    """Time ``impls`` (name -> callable) in turn, round after round; medians into extra_info.

    pytest-benchmark runs one test after another, so a burst of load from a
    neighbour can land on one implementation only; alternating them within
    each round gives every one the same conditions, and so fairer ratios.
    Each round calls each one ``inner`` times. ``extra_info["median_<name>"]``
    holds each one's median seconds per call (bench/render.py reads
    ``median_reference`` and ``median_fastdl``).
    """
    times = {name: [] for name in impls}

    def one_round():
        for name, fn in impls.items():
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            times[name].append((time.perf_counter() - start) / inner)
    benchmark.pedantic(one_round, rounds=rounds, iterations=1, warmup_rounds=1)
    medians = {name: float(np.median(t[1:])) for name, t in times.items()}  # t[0]: warm-up
    benchmark.extra_info.update({f"median_{name}": m for name, m in medians.items()})
    return medians


def interleaved(name, reference_step, fastdl_step, inner, rounds):
    """Alternate the two steps; print and return the medians and the median paired ratio.

    On a machine shared with other work the load drifts during a
    pytest-benchmark run, which times one implementation after the other;
    pairing each reference round with the fastdl round next to it cancels
    most of that drift. For the ``__main__`` mode of the benchmark files.

    Returns
    -------
    tuple of float
        Median seconds of the reference and of fastdl, and the median of
        the per-round ratios reference / fastdl.
    """
    reference_step()
    fastdl_step()
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(inner):
            reference_step()
        t1 = time.perf_counter()
        for _ in range(inner):
            fastdl_step()
        t2 = time.perf_counter()
        times.append(((t1 - t0) / inner, (t2 - t1) / inner))
    reference_median = statistics.median(r for r, _ in times)
    fastdl_median = statistics.median(f for _, f in times)
    ratio = statistics.median(r / f for r, f in times)
    print(f"{name}: reference {reference_median * 1e3:.3f} ms, fastdl {fastdl_median * 1e3:.3f} ms, "
          f"median paired speed-up {ratio:.2f}x", flush=True)
    return reference_median, fastdl_median, ratio


def pytest_terminal_summary(terminalreporter):
    if not _rows and not _head_to_head:
        return
    copy, triad = probe_bandwidth()
    rate = max(_probes)
    write = terminalreporter.write_line
    write("")
    for group, medians, n_bytes in _head_to_head:
        fastest = min(medians.values())
        cells = ", ".join(f"{name} {m * 1e3:.3f} ms ({m / fastest:.2f})" for name, m in medians.items())
        roof = "" if n_bytes is None else f"; roofline {n_bytes / rate * 1e3:.3f} ms"
        write(f"{group}: {cells}{roof}")
    write("")
    write(f"memory bandwidth at the end: copy {copy / 1e9:.1f} GB/s, triad {triad / 1e9:.1f} GB/s; "
          f"roofline below uses the best probe, {rate / 1e9:.1f} GB/s")
    write(f"{'benchmark':70s} {'median':>11s} {'roofline':>11s} {'multiple':>8s}")
    for name, median, n_bytes in _rows:
        floor = n_bytes / rate
        write(f"{name:70s} {median * 1e3:9.3f}ms {floor * 1e3:9.3f}ms {median / floor:8.2f}")

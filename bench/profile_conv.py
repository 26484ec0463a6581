"""Where a convolutional network's training step spends its time, and how much memory it needs.

Run, one thread everywhere::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONPATH=$PWD python bench/profile_conv.py profile
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONPATH=$PWD python bench/profile_conv.py layers
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONPATH=$PWD python bench/profile_conv.py memory
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONPATH=$PWD python bench/profile_conv.py faults

``profile``: cProfile of a few steps (``gradient`` + ``Adam.update``, batch
100) of each network, reference and fastdl: the functions that take the most
time, and the share of ``np.dot`` (the matrix products, i.e. BLAS).

``layers``: each Convolution layer of the two networks, forward+backward,
reference and fastdl, against its three matrix products (``np.dot`` on the
layer's own ``col``, ``col_W`` and ``dout``) alone: the time fastdl cannot
go below without changing BLAS. Best of 15 rounds.

``memory``: each (network, implementation) in a fresh process. The peak of
the NumPy memory a steady-state step holds (``tracemalloc`` traced from
before the network is built; NumPy reports its array buffers to it: it does
not see BLAS's own buffers) and the process's peak resident size
(``ru_maxrss``), with the resident size before the first step beside it.

``faults``: each (network, implementation) in a fresh process: the minor
page faults (``ru_minflt``: fresh pages the kernel had to clear) of a
steady-state step, median over 10 steps after 3 warm-up steps, alone and
with a step of the other implementation between (its faults not counted),
as when the book's classes run between fastdl's calls.
"""
import cProfile
import pstats
import resource
import subprocess
import sys
import time
import tracemalloc

import numpy as np

from bench.bench_conv import CONV_LAYERS, NETS, conv_arrays, conv_step, train_step
from fastdl import layers

MiB = 2**20


def profile(net, impl, steps=5, top=8):
    """Print the ``top`` functions by own time over ``steps`` steps and the BLAS share."""
    step = train_step(impl, net)
    step()
    real_dot = np.dot

    def dot(*args, **kwargs):
        # np.dot is a dispatcher object, which cProfile does not time on its
        # own: a Python function around it makes the matrix products a row.
        return real_dot(*args, **kwargs)
    np.dot = dot
    profiler = cProfile.Profile()
    try:
        profiler.enable()
        for _ in range(steps):
            step()
        profiler.disable()
    finally:
        np.dot = real_dot
    stats = pstats.Stats(profiler).stats
    rows = sorted(((own, calls, func) for func, (_, calls, own, _, _) in stats.items()), reverse=True)
    total = sum(own for own, _, _ in rows)
    blas = stats[(__file__, dot.__code__.co_firstlineno, "dot")][3]
    print(f"{net} [{impl}]: {total / steps * 1e3:.1f} ms per step, of which np.dot (BLAS) "
          f"{blas / steps * 1e3:.1f} ms = {blas / total:.0%}")
    for own, calls, (file, line, name) in rows[:top]:
        where = name if file == "~" else f"{file.rsplit('/', 2)[-2]}/{file.rsplit('/', 1)[-1]}:{line}({name})"
        print(f"  {own / total:5.1%} {own / steps * 1e3:8.2f} ms {calls // steps:5d} calls/step  {where}")


def best_of(step, rounds):
    """The shortest of ``rounds`` timings of ``step()``: what the load on a shared machine adds least to."""
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        step()
        best = min(best, time.perf_counter() - start)
    return best


def conv_products(layer, rounds=15):
    """Print a Convolution layer's forward+backward time against that of its three matrix products alone."""
    x, W, b, dout = conv_arrays(layer)
    conv = layers.Convolution(W, b, *CONV_LAYERS[layer][3:])
    conv.forward(x)
    flat = np.ascontiguousarray(dout.transpose(0, 2, 3, 1)).reshape(-1, W.shape[0])

    def products():
        np.dot(conv.col, conv.col_W)  # forward
        np.dot(conv.col.T, flat)  # dW
        np.dot(flat, conv.col_W.T)  # dcol
    reference_time = best_of(conv_step("reference", layer), rounds)
    fastdl_time = best_of(conv_step("fastdl", layer), rounds)
    blas = best_of(products, rounds)
    print(f"conv fwd+bwd {layer}: reference {reference_time * 1e3:.1f} ms, fastdl {fastdl_time * 1e3:.1f} ms "
          f"({reference_time / fastdl_time:.2f}x), its 3 matrix products {blas * 1e3:.1f} ms = "
          f"{blas / fastdl_time:.0%} of fastdl's time; reference / products = {reference_time / blas:.2f}x "
          f"(best of {rounds})")


def measure_memory(net, impl):
    """One line: traced peak and held memory of a steady-state step, peak RSS (MiB)."""
    tracemalloc.start()
    step = train_step(impl, net)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    step()  # the layers now hold a step's activations, as between steps in training
    tracemalloc.reset_peak()
    step()
    held, peak = tracemalloc.get_traced_memory()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{net:14s} {impl:10s} traced peak {peak / MiB:7.1f} MiB, held between steps {held / MiB:7.1f} MiB, "
          f"peak RSS {rss:7.1f} MiB (before the first step {rss_before:6.1f} MiB)", flush=True)


def minor_faults(step):
    """The minor page faults of one call of ``step``."""
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    step()
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before


def measure_faults(net, impl, steps=10):
    """One line: minor page faults per steady-state step, alone and interleaved with the other implementation."""
    step = train_step(impl, net)
    other = train_step("reference" if impl == "fastdl" else "fastdl", net)
    for _ in range(3):
        step()
        other()
    alone = sorted(minor_faults(step) for _ in range(steps))
    interleaved = []
    for _ in range(steps):
        other()
        interleaved.append(minor_faults(step))
    interleaved.sort()
    print(f"{net:14s} {impl:10s} minor page faults per step: {alone[steps // 2]:6d} alone "
          f"(min {alone[0]}, max {alone[-1]}), {interleaved[steps // 2]:6d} with the other's step between "
          f"(min {interleaved[0]}, max {interleaved[-1]})", flush=True)


def in_fresh_processes(command):
    """Run this script's ``command`` once per (network, implementation), each in a fresh process."""
    for net in NETS:
        for impl in ("reference", "fastdl"):
            subprocess.run([sys.executable, __file__, command, net, impl], check=True)


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "profile"
    if command == "profile":
        for net in NETS:
            for impl in ("reference", "fastdl"):
                profile(net, impl)
    elif command == "layers":
        for layer in CONV_LAYERS:
            conv_products(layer)
    elif command in ("memory", "faults"):
        in_fresh_processes(f"measure-{command}")
    elif command == "measure-memory":
        measure_memory(*sys.argv[2:4])
    elif command == "measure-faults":
        measure_faults(*sys.argv[2:4])
    else:
        sys.exit(f"usage: {sys.argv[0]} profile|layers|memory|faults")

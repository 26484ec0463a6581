"""Where a convolutional network's training step spends its time, and how much memory it needs.

Run, one thread everywhere::

    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONPATH=$PWD python bench/profile_conv.py profile
    OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 PYTHONPATH=$PWD python bench/profile_conv.py memory

``profile``: cProfile of a few steps (``gradient`` + ``Adam.update``, batch
100) of each network, reference and fastdl: the functions that take the most
time, and the share of ``numpy.dot`` (the matrix products, i.e. BLAS).

``memory``: each (network, implementation) in a fresh process. The peak of
the NumPy memory a steady-state step holds (``tracemalloc`` traced from
before the network is built; NumPy reports its array buffers to it: it does
not see BLAS's own buffers) and the process's peak resident size
(``ru_maxrss``), with the resident size before the first step beside it.
"""
import cProfile
import pstats
import resource
import subprocess
import sys
import tracemalloc

from bench.bench_conv import NETS, train_step

MiB = 2**20


def profile(net, impl, steps=5, top=8):
    """Print the ``top`` functions by own time over ``steps`` steps and the BLAS share."""
    step = train_step(impl, net)
    step()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(steps):
        step()
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    rows = sorted(((own, calls, func) for func, (_, calls, own, _, _) in stats.items()), reverse=True)
    total = sum(own for own, _, _ in rows)
    blas = sum(own for own, _, (_, _, name) in rows if name.endswith(".dot>"))
    print(f"{net} [{impl}]: {total / steps * 1e3:.1f} ms per step, numpy.dot (BLAS) "
          f"{blas / steps * 1e3:.1f} ms = {blas / total:.0%}")
    for own, calls, (file, line, name) in rows[:top]:
        where = name if file == "~" else f"{file.rsplit('/', 2)[-2]}/{file.rsplit('/', 1)[-1]}:{line}({name})"
        print(f"  {own / total:5.1%} {own / steps * 1e3:8.2f} ms {calls // steps:5d} calls/step  {where}")


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


if __name__ == "__main__":
    command = sys.argv[1] if len(sys.argv) > 1 else "profile"
    if command == "profile":
        for net in NETS:
            for impl in ("reference", "fastdl"):
                profile(net, impl)
    elif command == "memory":
        for net in NETS:
            for impl in ("reference", "fastdl"):
                subprocess.run([sys.executable, __file__, "measure-memory", net, impl], check=True)
    elif command == "measure-memory":
        measure_memory(*sys.argv[2:4])
    else:
        sys.exit(f"usage: {sys.argv[0]} profile|memory")

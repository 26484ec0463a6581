"""Thread scaling: the book's step and fastdl's at 1, 2, ... N threads and at the defaults.

Cases (float64 unless said; batch 100 for the networks):

- ``simple``: ``SimpleConvNet.gradient`` + ``Adam.update``;
- ``deep``: ``DeepConvNet.gradient`` + ``Adam.update``;
- ``mlp-sgd``, ``mlp-adam``: ``MultiLayerNetExtend(784, [100]*5, 10,
  use_batchnorm=True, use_dropout=True)``'s gradient + ``SGD``/``Adam``;
- ``adam``: ``Adam.update`` of one 10**7-element parameter;
- ``bn``: ``BatchNormalization`` forward (training) + backward at 1024x4096.

"The book" is ``fastdl.reference`` (the book's code in plain NumPy).

Script mode (what the README's table comes from)::

    python bench/bench_threads.py [--cases simple,deep,...] [--rounds 5]

Every measurement runs in a fresh interpreter whose environment has no
thread variable (``OMP_*``, ``GOMP_*``, ``KMP_*``, ``OPENBLAS_*``,
``MKL_*``, ...), so it sees what a user who set nothing sees. Settings:

- ``default``: nothing set (fastdl's defaults, BLAS on all its threads);
- ``n``: ``fastdl.set_num_threads(n)`` and threadpoolctl's BLAS limit ``n``
  (the book's step gets the same BLAS limit).

A round runs every (implementation, setting) once, in a shuffled order,
each process timing ``inner`` steps after a warm-up step; the table shows
the median over rounds of each process's median step, and the speed-up
over the book as the median of the per-round ratios (each fastdl process
paired with the book process of the same setting and round). On a shared
machine the load drifts; the load average is printed before and after.

``python bench/bench_threads.py threshold`` measures the work size from
which a second (third, ...) thread pays off (``fastdl.calibrate_threads``,
whose docstring has the method) and prints it.

pytest mode (one process, so not "fresh"; groups ``threads <case>``)::

    python -m pytest bench/bench_threads.py --benchmark-columns=median,iqr,rounds
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import time

import numpy as np

# Variables that set a thread count or an OpenMP/BLAS wait policy.
THREAD_VARIABLE_PREFIXES = ("OMP_", "GOMP_", "KMP_", "OPENBLAS_", "GOTO_", "MKL_", "BLIS_",
                            "VECLIB_", "NUMEXPR_", "FASTDL_THREAD")
# The preamble of --openmp-first: GNU OpenMP loaded as another library linked to it would.
OPENMP_FIRST = "import ctypes, ctypes.util; ctypes.CDLL(ctypes.util.find_library('gomp'))"
CASES = {  # name: steps timed per process
    "simple": 10, "deep": 3, "mlp-sgd": 20, "mlp-adam": 20, "adam": 10, "bn": 10,
}


def make_step(case, impl):
    """A callable running one step of ``case`` with ``impl`` ("book" or "fastdl")."""
    from fastdl import layers, nets, optim, reference
    fast = impl == "fastdl"
    rng = np.random.default_rng(0)
    np.random.seed(0)
    if case in ("simple", "deep", "mlp-sgd", "mlp-adam"):
        if case in ("simple", "deep"):
            name = "SimpleConvNet" if case == "simple" else "DeepConvNet"
            network = getattr(nets if fast else reference, name)()
            x = rng.random((100, 1, 28, 28)).astype(np.float32)  # MNIST-like float32 pixels
        else:
            network = (nets if fast else reference).MultiLayerNetExtend(
                784, [100] * 5, 10, use_batchnorm=True, use_dropout=True)
            x = rng.random((100, 784)).astype(np.float32)
        t = rng.integers(0, 10, 100)
        optimizer = getattr(optim if fast else reference, "SGD" if case == "mlp-sgd" else "Adam")()
        return lambda: optimizer.update(network.params, network.gradient(x, t))
    if case == "adam":
        params, grads = {"W": rng.standard_normal(10**7)}, {"W": rng.standard_normal(10**7)}
        optimizer = (optim if fast else reference).Adam()
        return lambda: optimizer.update(params, grads)
    if case == "bn":
        layer = (layers if fast else reference).BatchNormalization(np.ones(4096), np.zeros(4096))
        x, dout = rng.standard_normal((1024, 4096)), rng.standard_normal((1024, 4096))
        return lambda: (layer.forward(x, train_flg=True), layer.backward(dout))
    raise ValueError(f"unknown case {case!r}")


def set_threads(setting):
    """Apply a setting ("default" or a count) in this process."""
    if setting == "default":
        return
    import threadpoolctl

    import fastdl
    n = int(setting)
    fastdl.set_num_threads(n)
    # Kept referenced for the life of the process: the limit holds while it lives.
    set_threads.limits = threadpoolctl.threadpool_limits(n, user_api="blas")


def worker(case, impl, setting, inner):
    """Time ``inner`` steps in this (fresh) process; print their seconds as JSON."""
    import fastdl
    set_threads(setting)
    step = make_step(case, impl)
    step()
    times = []
    for _ in range(inner):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    print(json.dumps({"times": times, "fastdl_threads": fastdl.get_num_threads()}))


def clean_environment():
    return {k: v for k, v in os.environ.items() if not k.startswith(THREAD_VARIABLE_PREFIXES)}


def run_worker(case, impl, setting, inner, env=None, preamble=""):
    """Median step time (seconds) of a fresh process running ``worker``."""
    code = (f"{preamble}\nimport sys; sys.path.insert(0, {os.path.dirname(__file__)!r})\n"
            f"import bench_threads; bench_threads.worker({case!r}, {impl!r}, {setting!r}, {inner})")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env=env or clean_environment(), timeout=600, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{case} {impl} {setting}: {result.stderr}")
    return statistics.median(json.loads(result.stdout.splitlines()[-1])["times"])


def available_cpus():
    import fastdl
    fastdl.get_num_threads()
    from fastdl import _backend
    threads = _backend.load("threads")
    return threads.available_cpus() if hasattr(threads, "available_cpus") else os.cpu_count()


def scaling(cases, rounds, settings, preamble=""):
    """Interleaved rounds over (impl, setting); print and return the table rows."""
    rows = []
    for case in cases:
        inner = CASES[case]
        runs = [(impl, s) for s in settings for impl in ("book", "fastdl")]
        times = {run: [] for run in runs}
        for _ in range(rounds):
            random.shuffle(runs)
            for impl, s in runs:
                times[impl, s].append(run_worker(case, impl, s, inner, preamble=preamble))
        one = times["fastdl", settings[0]]
        for s in settings:
            book, fast = times["book", s], times["fastdl", s]
            row = {"case": case, "threads": s,
                   "book_ms": 1e3 * statistics.median(book),
                   "fastdl_ms": 1e3 * statistics.median(fast),
                   "vs_book": statistics.median(b / f for b, f in zip(book, fast)),
                   "vs_fastdl_1": statistics.median(o / f for o, f in zip(one, fast))}
            rows.append(row)
            print(f"{case:9s} {s:>8s}: book {row['book_ms']:8.2f} ms  fastdl {row['fastdl_ms']:8.2f} ms"
                  f"  {row['vs_book']:5.2f}x the book  {row['vs_fastdl_1']:5.2f}x fastdl at "
                  f"{settings[0]} thread", flush=True)
    return rows


def markdown(rows):
    """The rows as the README's table."""
    lines = ["| step | threads | book | fastdl | × the book | × fastdl on 1 thread |",
             "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['case']} | {r['threads']} | {r['book_ms']:.1f} ms | {r['fastdl_ms']:.1f} ms "
                     f"| {r['vs_book']:.2f} | {r['vs_fastdl_1']:.2f} |")
    return "\n".join(lines)


def load():
    return os.getloadavg() if hasattr(os, "getloadavg") else None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("mode", nargs="?", default="scaling", choices=["scaling", "threshold"])
    parser.add_argument("--cases", default=",".join(CASES))
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", help="comma-separated counts (default: 1 .. the CPUs)")
    parser.add_argument("--json", help="write the rows here")
    parser.add_argument("--openmp-first", action="store_true",
                        help="load GNU OpenMP (ctypes) before fastdl in every process, as a "
                             "library linked to it would")
    args = parser.parse_args(argv)
    preamble = OPENMP_FIRST if args.openmp_first else ""
    print(f"load average before: {load()}", flush=True)
    if args.mode == "threshold":
        import fastdl
        print(f"threshold: {fastdl.calibrate_threads(verbose=True)}")
    else:
        counts = args.threads.split(",") if args.threads else [
            str(n) for n in range(1, available_cpus() + 1)]
        rows = scaling(args.cases.split(","), args.rounds, counts + ["default"], preamble)
        print(markdown(rows))
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"rows": rows, "load": load()}, f, indent=1)
    print(f"load average after: {load()}", flush=True)


# ---- pytest-benchmark groups (in this process) ------------------------------

try:
    import pytest
except ImportError:  # script mode needs no pytest
    pytest = None

if pytest is not None:
    @pytest.fixture
    def thread_setting(request):
        import threadpoolctl

        import fastdl
        saved = fastdl.get_num_threads()
        setting = request.param
        if setting == "default":
            yield setting
            return
        fastdl.set_num_threads(int(setting))
        with threadpoolctl.threadpool_limits(int(setting), user_api="blas"):
            yield setting
        fastdl.set_num_threads(saved)

    @pytest.mark.parametrize("thread_setting", ["1", "2", "default"], indirect=True)
    @pytest.mark.parametrize("impl", ["book", "fastdl"])
    @pytest.mark.parametrize("case", list(CASES))
    def test_threads(benchmark, case, impl, thread_setting):
        benchmark.group = f"threads {case}"
        step = make_step(case, impl)
        benchmark.pedantic(step, rounds=max(3, CASES[case]), iterations=1, warmup_rounds=1)


if __name__ == "__main__":
    main()

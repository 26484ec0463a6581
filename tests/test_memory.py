"""fastdl's memory pool (fastdl/_kernels/memory.pyx): reuse, bounds, zeros, threads, fork."""
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

import fastdl
from fastdl import _backend, layers

memory = _backend.load("memory")
pytestmark = pytest.mark.skipif(memory is None, reason="compiled kernels not built")

try:
    from numpy._core.multiarray import get_handler_name
except ImportError:  # NumPy 1.x
    from numpy.core.multiarray import get_handler_name

MiB = 2**20
BIG = (1024, 1024)  # 8 MiB of float64: well above min_bytes


@pytest.fixture(autouse=True)
def fresh_pool():
    # pytestmark's skip comes before fixtures: memory is never None here.
    knobs = memory.stats()
    memory.release()
    yield
    memory.configure(knobs["cap_bytes"], knobs["min_bytes"], knobs["idle_seconds"])
    memory.release()


def address(a):
    return a.__array_interface__["data"][0]


def pooled(make):
    previous = memory.install()
    try:
        return make()
    finally:
        memory.restore(previous)


def test_a_freed_block_is_reused_and_small_arrays_are_not_pooled():
    a = pooled(lambda: np.ones(BIG))
    assert get_handler_name(a) == "fastdl_pool"
    where = address(a)
    del a
    assert memory.stats()["cached_blocks"] == 1
    reuses = memory.stats()["reuses"]
    b = pooled(lambda: np.empty(BIG))
    assert address(b) == where and memory.stats()["reuses"] == reuses + 1
    small = pooled(lambda: np.ones(100))
    del small
    assert memory.stats()["cached_blocks"] == 0  # b still owns its block; the small one went to the system


def test_outside_the_pool_numpy_uses_its_own_allocator():
    assert get_handler_name(np.ones(BIG)) == "default_allocator"


def test_calloc_gives_zeros_in_a_recycled_block():
    a = pooled(lambda: np.full(BIG, 7.0))
    where = address(a)
    del a
    z = pooled(lambda: np.zeros(BIG))
    assert address(z) == where and not z.any()


def test_an_array_outliving_the_pool_returns_to_it_when_freed():
    a = pooled(lambda: np.ones(BIG))
    assert memory.stats()["cached_blocks"] == 0
    del a  # freed outside install/restore
    assert memory.stats()["cached_blocks"] == 1


def test_the_cap_is_respected_and_release_empties_the_pool():
    memory.configure(cap_bytes=20 * MiB)
    arrays = pooled(lambda: [np.ones((i + 1) * MiB // 8) for i in range(8)])  # 1..8 MiB
    del arrays
    stats = memory.stats()
    assert 0 < stats["cached_bytes"] <= 20 * MiB
    fastdl.release_memory()
    assert memory.stats()["cached_bytes"] == 0 and memory.stats()["cached_blocks"] == 0
    memory.configure(cap_bytes=0)
    pooled(lambda: np.ones(BIG))  # freed at once
    assert memory.stats()["cached_blocks"] == 0


def test_idle_blocks_are_given_back():
    memory.configure(idle_seconds=0)
    pooled(lambda: np.ones(BIG))  # freed at once
    assert memory.stats()["cached_blocks"] == 1
    time.sleep(1.1)  # the clock has whole seconds
    memory.restore(memory.install())
    assert memory.stats()["cached_blocks"] == 0


def test_configure_rejects_bad_values():
    for bad in (-1, 1.5, True, "1"):
        with pytest.raises(ValueError):
            fastdl.configure_memory(cap_bytes=bad)


def test_resize_keeps_the_values():
    a = pooled(lambda: np.arange(BIG[0] * BIG[1], dtype=np.float64))
    pooled(lambda: a.resize(2 * a.size, refcheck=False))
    assert np.array_equal(a[:BIG[0] * BIG[1]], np.arange(BIG[0] * BIG[1], dtype=np.float64))
    pooled(lambda: a.resize(10, refcheck=False))  # below min_bytes
    assert np.array_equal(a, np.arange(10.0))


def test_layers_allocate_from_the_pool():
    x = np.random.default_rng(0).random((10, 3, 20, 20))
    conv = layers.Convolution(np.ones((4, 3, 3, 3)), np.zeros(4), 1, 1)
    out = conv.forward(x)
    assert get_handler_name(out) == "fastdl_pool" and get_handler_name(conv.col) == "fastdl_pool"
    assert get_handler_name(conv.backward(out)) == "fastdl_pool"
    assert get_handler_name(np.ones(BIG)) == "default_allocator"  # restored after the call


def test_threads_hammering_the_pool_never_share_a_block():
    sizes = [MiB // 8 * k for k in (1, 2, 3)]
    errors = []
    kept = []  # arrays one thread made and another frees

    def work(seed):
        rng = np.random.default_rng(seed)
        previous = memory.install()
        try:
            for i in range(300):
                a = np.full(sizes[rng.integers(3)], float(seed))
                if i % 7 == 0:
                    kept.append(a)
                if i % 5 == 0 and kept:
                    kept.pop(0)  # freed in whichever thread gets here
                b = np.zeros(sizes[rng.integers(3)])
                if (a != seed).any() or b.any():
                    errors.append(seed)
        finally:
            memory.restore(previous)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(1, 7)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(thread.is_alive() for thread in threads) and not errors
    kept.clear()
    assert memory.stats()["cached_bytes"] <= memory.stats()["cap_bytes"]


def run_python(code, timeout=120):
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          timeout=timeout, env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork on this platform")
def test_a_forked_child_allocates_without_hanging():
    # Threads allocate and free from the pool while the main thread forks;
    # each child allocates from the pool and exits. In a subprocess, bounded.
    result = run_python("""
        import os, threading, warnings
        import numpy as np
        from fastdl._kernels import memory

        warnings.simplefilter("ignore", DeprecationWarning)  # fork() with threads running
        stop = False
        def churn():
            previous = memory.install()
            while not stop:
                np.ones(300_000)
            memory.restore(previous)
        threads = [threading.Thread(target=churn) for _ in range(3)]
        for t in threads:
            t.start()
        for _ in range(20):
            pid = os.fork()
            if pid == 0:
                previous = memory.install()
                a = np.ones(300_000); del a
                b = np.zeros(300_000)
                os._exit(0 if not b.any() else 1)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 0
        stop = True
        for t in threads:
            t.join()
        print("ok")
    """)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr


def test_a_reused_block_takes_no_fresh_pages():
    # Deterministic: the second 64 MiB array reuses the first one's pages,
    # already mapped, where a fresh one faults in 16384 pages.
    result = run_python("""
        import resource
        import numpy as np
        from fastdl._kernels import memory

        def faults(make):
            before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
            a = make()
            a[...] = 1.0
            return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before, a

        previous = memory.install()
        first, a = faults(lambda: np.empty(8 * 2**20))
        del a
        second, b = faults(lambda: np.empty(8 * 2**20))
        print(first, second)
    """)
    first, second = map(int, result.stdout.split())
    assert first > 10_000 and second < 500, (first, second, result.stderr)

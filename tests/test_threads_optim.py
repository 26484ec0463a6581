"""Thread count: settable, visible to threadpoolctl, and without effect on results."""
import copy

import numpy as np
import pytest

import fastdl
from fastdl import _backend, optim
from fastdl.reference.optim import NAMES


@pytest.fixture
def restore_threads():
    n = fastdl.get_num_threads()
    yield
    fastdl.set_num_threads(n)


def require_openmp():
    if optim._kernels is None:
        pytest.skip("compiled kernels not built")
    if not fastdl._threads.OPENMP:
        pytest.skip("built without OpenMP: every thread count runs one thread")


@pytest.fixture
def small_thread_threshold():
    """Split even small arrays across threads, so that the threaded path runs here."""
    require_openmp()
    old = _backend.load("threads")._set_thread_threshold(1)
    yield
    _backend.load("threads")._set_thread_threshold(old)


def test_set_and_get(restore_threads):
    require_openmp()
    fastdl.set_num_threads(1)
    assert fastdl.get_num_threads() == 1
    fastdl.set_num_threads(3)
    assert fastdl.get_num_threads() == 3


def test_one_thread_without_openmp(restore_threads):
    if fastdl._threads is not None and fastdl._threads.OPENMP:
        pytest.skip("built with OpenMP (test_set_and_get)")
    fastdl.set_num_threads(3)
    assert fastdl.get_num_threads() == 1


@pytest.mark.parametrize("n", [0, -2])
def test_at_least_one_thread(n):
    with pytest.raises(ValueError):
        fastdl.set_num_threads(n)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("size", [1, 63, 64, 1000, 20011])
def test_results_do_not_depend_on_the_thread_count(name, dtype, size, restore_threads,
                                                   small_thread_threshold):
    rng = np.random.default_rng(size)
    params = {"W": rng.standard_normal(size).astype(dtype), "b": rng.standard_normal(7).astype(dtype)}
    grads = [{k: rng.standard_normal(p.shape).astype(dtype) for k, p in params.items()}
             for _ in range(3)]
    results = []
    for n_threads in (1, 2, 3, 5):
        fastdl.set_num_threads(n_threads)
        assert fastdl.get_num_threads() == n_threads
        p, opt = copy.deepcopy(params), getattr(optim, name)()
        for g in grads:
            opt.update(p, g)
        results.append(p)
    for p in results[1:]:
        assert all(np.array_equal(p[k], results[0][k]) for k in p)


def test_threadpoolctl_sees_and_limits_openmp(restore_threads):
    threadpoolctl = pytest.importorskip("threadpoolctl")
    require_openmp()
    fastdl.set_num_threads(2)
    info = threadpoolctl.threadpool_info()
    assert any(lib["user_api"] == "openmp" for lib in info), info
    with threadpoolctl.threadpool_limits(limits=1, user_api="openmp"):
        assert fastdl.get_num_threads() == 1
    assert fastdl.get_num_threads() == 2

# Design: fastdl's kernels use OpenMP's own thread count (the ICV that
# OMP_NUM_THREADS sets and threadpoolctl reads and limits), so the two
# public functions only wrap omp_get_max_threads/omp_set_num_threads. Built
# without OpenMP, there is one thread and setting it is a no-op. The size
# from which a kernel splits an array across threads lives here once, for
# every kernel module and its AVX2 twin (cimported through threads.pxd).
#
# GNU OpenMP's thread pool does not survive fork(): a child that enters a
# parallel region its parent had used waits forever for threads that no
# longer exist. So in a forked child no array reaches the threshold, and
# every kernel runs on the calling thread (same results, by design).
from cpython.pyport cimport PY_SSIZE_T_MAX

from fastdl._kernels.common cimport FASTDL_HAS_OPENMP, omp_get_max_threads, omp_set_num_threads

import operator
import os

OPENMP = bool(FASTDL_HAS_OPENMP)

# Below this many elements arrays are not split across threads. On a quiet
# 2-core machine a second thread already paid at 4,096 elements (Adam
# float64: 1.4x; 1.8x from 16,384), but where other processes keep the
# cores busy each parallel region can wait ~10 ms for the second thread.
# 2**18 keeps every array of the book's networks (at most 784*100) on one
# thread and splits only arrays whose update takes 0.3 ms or more
# (see bench/README.md).
THREAD_THRESHOLD = 2**18
cdef Py_ssize_t _threshold = THREAD_THRESHOLD
cdef bint _in_forked_child = False

# More threads than this is never useful, and libgomp ends the process
# (no exception) when it cannot allocate a team of the size asked for.
MAX_THREADS = 1024


def _after_fork_in_child():
    global _in_forked_child
    _in_forked_child = True


os.register_at_fork(after_in_child=_after_fork_in_child)


cdef Py_ssize_t thread_threshold() noexcept nogil:
    if _in_forked_child:
        return PY_SSIZE_T_MAX
    return _threshold


def _set_thread_threshold(Py_ssize_t n):
    """Split arrays of at least ``n`` elements across threads; returns the old value (for tests and benchmarks)."""
    global _threshold
    old, _threshold = _threshold, max(n, 1)
    return old


def get_num_threads():
    """The number of threads the kernels use for large arrays (1 in a forked child)."""
    return 1 if _in_forked_child else omp_get_max_threads()


def set_num_threads(n):
    """Use ``n`` threads (an integer from 1 to ``MAX_THREADS``) for large arrays in the calling thread."""
    n = check_num_threads(n)
    omp_set_num_threads(n)


def check_num_threads(n):
    """``n`` as an int if it is a valid thread count, else TypeError/ValueError."""
    if isinstance(n, bool):
        raise TypeError(f"the number of threads must be an integer, not {n!r}")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"the number of threads must be an integer, not {n!r}") from None
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"the number of threads must be from 1 to {MAX_THREADS}, not {n}")
    return n

# Design: fastdl's kernels use OpenMP's own thread count (the ICV that
# OMP_NUM_THREADS sets and threadpoolctl reads and limits), so the two
# public functions only wrap omp_get_max_threads/omp_set_num_threads. Built
# without OpenMP, there is one thread and setting it is a no-op. The size
# from which a kernel splits an array across threads lives here once, for
# every kernel module and its AVX2 twin (cimported through threads.pxd).
from fastdl._kernels.common cimport FASTDL_HAS_OPENMP, omp_get_max_threads, omp_set_num_threads

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


cdef Py_ssize_t thread_threshold() noexcept nogil:
    return _threshold


def _set_thread_threshold(Py_ssize_t n):
    """Split arrays of at least ``n`` elements across threads; returns the old value (for tests and benchmarks)."""
    global _threshold
    old, _threshold = _threshold, max(n, 1)
    return old


def get_num_threads():
    """The number of threads the kernels use for large arrays."""
    return omp_get_max_threads()


def set_num_threads(int n):
    """Use ``n`` threads (``n >= 1``) for large arrays in the calling thread."""
    if n < 1:
        raise ValueError(f"the number of threads must be at least 1, not {n}")
    omp_set_num_threads(n)

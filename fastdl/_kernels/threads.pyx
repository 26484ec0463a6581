# Design: the one place that decides how many threads a kernel uses.
#
# A kernel with `units` independent pieces of work (images, slices of an
# array) and `work` elements in all asks threads_for(work, units) and runs
# serially where it answers 1, else splits its pieces over that many
# OpenMP threads. Each piece is computed by one thread, in the serial
# order, so results do not depend on the answer. The answer is 1 below the
# threshold, for a single piece, and in a forked child; else the OpenMP
# thread count (omp_get_max_threads: the ICV that OMP_NUM_THREADS sets and
# threadpoolctl and set_num_threads change), capped by the CPUs this process
# may use unless the user chose the count (OMP_NUM_THREADS at start-up, or
# set_num_threads), as scikit-learn's _openmp_effective_n_threads does.
# batchnorm, dropout (which draws its random stream in order) and
# activations are not split: they run on the calling thread.
#
# The CPUs a process may use: its affinity mask, and its cgroup's CPU quota
# (cgroup v2 cpu.max of its group and each parent, or v1
# cpu.cfs_quota_us/cpu.cfs_period_us), rounded up, as loky counts them.
# OpenMP's own default counts only the affinity mask, so in a container
# limited to 2 CPUs of 64 it would start 64 threads that share 2 CPUs.
#
# The threshold is the work size from which a second thread pays off, which
# depends on the machine and on what else runs on it: calibrate() measures
# it (fastdl.calibrate_threads), and FASTDL_THREAD_THRESHOLD sets it for
# every process. Without either it is THREAD_THRESHOLD, which keeps every
# array of the book's networks (at most 784*100) on one thread and splits
# Adam updates of 0.3 ms or more (README.md, "Threads by default", has what
# calibrate() gave on the project's 2-core machine).
#
# GNU OpenMP's thread pool does not survive fork(): a child that enters a
# parallel region its parent had used waits forever for threads that no
# longer exist. So in a forked child every kernel runs on the calling
# thread (same results, by design).
import math
import os
import statistics
import time

import numpy as np

from cpython.pyport cimport PY_SSIZE_T_MAX

from fastdl._kernels.common cimport FASTDL_HAS_OPENMP, omp_get_max_threads, omp_set_num_threads

from fastdl._kernels import _openmp

OPENMP = bool(FASTDL_HAS_OPENMP)

THREAD_THRESHOLD = 2**18


def _threshold_from_environment():
    value = os.environ.get("FASTDL_THREAD_THRESHOLD")
    if value is None:
        return THREAD_THRESHOLD
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise ValueError(f"FASTDL_THREAD_THRESHOLD must be a positive integer, not {value!r}")
    return n


def _cgroup_v2_quota(root, relative):
    """The smallest cpu.max quota (CPUs) of the group at ``root/relative`` and its parents."""
    quota = None
    parts = [part for part in relative.split("/") if part]
    for depth in range(len(parts), -1, -1):
        try:
            with open(os.path.join(root, *parts[:depth], "cpu.max")) as f:
                limit, period = f.read().split()[:2]
            if limit == "max" or int(period) <= 0:
                continue
            cpus = int(limit) / int(period)
        except (OSError, ValueError):  # unreadable or malformed: no limit from this group
            continue
        quota = cpus if quota is None else min(quota, cpus)
    return quota


def _cgroup_v1_quota(root):
    try:
        with open(os.path.join(root, "cpu", "cpu.cfs_quota_us")) as f:
            limit = int(f.read())
        with open(os.path.join(root, "cpu", "cpu.cfs_period_us")) as f:
            period = int(f.read())
    except (OSError, ValueError):
        return None
    return limit / period if limit > 0 and period > 0 else None


def available_cpus(cgroup_root="/sys/fs/cgroup", proc_cgroup="/proc/self/cgroup"):
    """The CPUs this process may use: its affinity mask, capped by its cgroup's CPU quota."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cpus = os.cpu_count() or 1
    relative = ""
    try:
        with open(proc_cgroup) as f:
            for line in f:
                if line.startswith("0::"):
                    relative = line[3:].strip()
    except OSError:
        pass
    quota = _cgroup_v2_quota(cgroup_root, relative)
    if quota is None:
        quota = _cgroup_v1_quota(cgroup_root)
    if quota is not None:
        cpus = min(cpus, max(1, math.ceil(quota)))
    return cpus


cdef Py_ssize_t _threshold = _threshold_from_environment()
# The most threads a kernel uses: the CPUs this process may use, unless the user chose the
# count (OMP_NUM_THREADS, or set_num_threads above it); never more than MAX_THREADS, a team
# libgomp might fail to create (it ends the process then).
cdef int _cpu_cap = _openmp.MAX_THREADS
if "OMP_NUM_THREADS" not in os.environ:
    _cpu_cap = min(available_cpus(), _openmp.MAX_THREADS)
cdef bint _in_forked_child = False


def _after_fork_in_child():
    global _in_forked_child
    _in_forked_child = True


os.register_at_fork(after_in_child=_after_fork_in_child)


cdef int max_threads() noexcept nogil:
    cdef int n
    if _in_forked_child:
        return 1
    n = omp_get_max_threads()
    return _cpu_cap if n > _cpu_cap else n


cdef int threads_for(Py_ssize_t work, Py_ssize_t units) noexcept nogil:
    if work < _threshold or units < 2:
        return 1
    return <int>min(<Py_ssize_t>max_threads(), units)


def _set_thread_threshold(Py_ssize_t n):
    """Split work of at least ``n`` elements across threads; returns the old value (for tests and benchmarks)."""
    global _threshold
    old, _threshold = _threshold, max(n, 1)
    return old


def calibrate(rounds=15, sizes=tuple(2**k for k in range(12, 23)), verbose=False):
    """Measure the work size from which all threads beat one; use it; return it.

    The work: the Adam update of one float64 array of each size (the
    threaded kernel with the least work per element, so the largest
    threshold). For each size, rounds alternate one thread and all threads;
    a size pays off where the median of the paired time ratios is at least
    1.1. The threshold is the smallest size from which every larger size
    pays off; ``None`` where none does, and then the kernels run on one
    thread. ``verbose`` prints each size's ratio.
    """
    from fastdl import optim  # the kernel to time; imported here to avoid an import cycle

    cdef Py_ssize_t old = _threshold
    cdef int n = max_threads()
    cdef int saved = omp_get_max_threads()
    found = None
    if n < 2:
        return None
    try:
        _set_thread_threshold(1)
        for size in sizes:
            params, grads = {"W": np.ones(size)}, {"W": np.full(size, 1e-3)}
            adam = optim.Adam()
            inner = max(1, 2**22 // size)
            ratios = []
            for _ in range(rounds):
                pair = []
                for count in (1, n):
                    omp_set_num_threads(count)
                    adam.update(params, grads)
                    start = time.perf_counter()
                    for _ in range(inner):
                        adam.update(params, grads)
                    pair.append(time.perf_counter() - start)
                ratios.append(pair[0] / pair[1])
            if verbose:
                print(f"{size:>9d} elements: {n} threads {statistics.median(ratios):.2f}x one thread")
            if statistics.median(ratios) >= 1.1:
                found = size if found is None else found
            else:
                found = None
    finally:
        omp_set_num_threads(saved)
        _set_thread_threshold(old)
    _set_thread_threshold(found if found is not None else PY_SSIZE_T_MAX)
    return found


def get_thread_threshold():
    """The work size (elements) from which kernels split their work across threads; ``None`` for never."""
    return None if _threshold == PY_SSIZE_T_MAX else _threshold


def get_num_threads():
    """The number of threads the kernels use for large arrays (1 in a forked child)."""
    return max_threads()


def set_num_threads(n):
    """Use ``n`` threads (an integer from 1 to ``_openmp.MAX_THREADS``) for large arrays in the calling thread."""
    global _cpu_cap
    n = _openmp.check_num_threads(n)
    # OpenMP's count is the calling thread's, the cap the process's: raising it to n leaves
    # other threads (OpenMP's default: every CPU of the machine) within the CPUs they may use.
    _cpu_cap = max(_cpu_cap, n)
    omp_set_num_threads(n)

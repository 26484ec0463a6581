"""What must happen before fastdl's OpenMP runtime loads, and the check of a thread count.

Pure Python, so that it runs first (``fastdl/_kernels/__init__.py`` calls
``load_runtime`` before any kernel module is imported) and so that the
build without kernels validates thread counts the same way.

The wait policy. An OpenMP runtime keeps its workers spinning for a while
after each parallel region (GNU OpenMP: some 300,000 spins by default), to
start the next region sooner. fastdl's regions alternate with BLAS calls
(NumPy's ``dot``), whose own threads then find every core taken by a
spinning OpenMP worker, and the other way round: at the defaults a
convnet's training step got slower on two threads than on one. Where the
user has set none of ``WAIT_VARIABLES``, fastdl sets
``OMP_WAIT_POLICY=PASSIVE`` (workers sleep at once) while its runtime
loads, and removes it again, so child processes inherit the user's
environment unchanged. The runtime reads these variables once, when it
loads; so the user's settings always win, and a runtime that another
library loaded first (same shared library) keeps whatever it read then:
fastdl cannot change it and ``wait_policy`` says so. A library that brings
its own copy of the runtime (the wheels of torch and scikit-learn vendor a
renamed libgomp) does not share fastdl's.
"""
import operator
import os
import re

# More threads than this is never useful, and GNU OpenMP ends the process
# (no exception) when it cannot allocate a team of the size asked for.
MAX_THREADS = 1024

# Variables by which a user chooses how idle OpenMP workers wait (OpenMP,
# GNU OpenMP, LLVM/Intel OpenMP).
WAIT_VARIABLES = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME")
DEFAULT_WAIT_POLICY = "PASSIVE"

# How idle workers of fastdl's OpenMP runtime wait, in words (show_config).
wait_policy = "none (the kernels are not loaded)"
# The file of the OpenMP runtime that loaded with fastdl's kernels (None if
# none did: no OpenMP, loaded before, or not known on this platform).
runtime = None

_RUNTIME = re.compile(r"(^|/)lib(gomp|omp|iomp5)[-.][^/]*$")


def check_num_threads(n):
    """``n`` as an int if it is a thread count from 1 to ``MAX_THREADS``.

    Raises
    ------
    TypeError
        For anything but an integer (``bool`` included).
    ValueError
        For an integer out of range.
    """
    if isinstance(n, bool):
        raise TypeError(f"the number of threads must be an integer, not {n!r}")
    try:
        n = operator.index(n)
    except TypeError:
        raise TypeError(f"the number of threads must be an integer, not {n!r}") from None
    if not 1 <= n <= MAX_THREADS:
        raise ValueError(f"the number of threads must be from 1 to {MAX_THREADS}, not {n}")
    return n


def openmp_runtimes():
    """Paths of the OpenMP runtimes mapped into this process (``None`` where it cannot be read)."""
    try:
        with open("/proc/self/maps") as maps:
            fields = [line.split(None, 5) for line in maps]
    except OSError:
        return None
    return {f[5].strip() for f in fields if len(f) == 6 and _RUNTIME.search(f[5].strip())}


def load_runtime(import_threads):
    """Call ``import_threads()`` (which loads fastdl's OpenMP runtime) under the wait policy."""
    global wait_policy, runtime
    users = [f"{name}={os.environ[name]}" for name in WAIT_VARIABLES if name in os.environ]
    before = openmp_runtimes()
    if not users:
        os.environ["OMP_WAIT_POLICY"] = DEFAULT_WAIT_POLICY
    try:
        threads = import_threads()
    finally:
        if not users:
            del os.environ["OMP_WAIT_POLICY"]
    after = openmp_runtimes()
    if threads is None:
        return None
    if threads.OPENMP and before is not None and after is not None and after - before:
        runtime = ", ".join(sorted(after - before))
    if not threads.OPENMP:
        wait_policy = "none (built without OpenMP)"
    elif users:
        wait_policy = f"{', '.join(users)} (yours)"
    elif before is None or after is None:
        wait_policy = f"{DEFAULT_WAIT_POLICY} (set by fastdl, unless OpenMP was loaded before it)"
    elif runtime is not None:
        wait_policy = f"{DEFAULT_WAIT_POLICY} (set by fastdl)"
    else:
        wait_policy = ("the runtime's own: OpenMP was loaded before fastdl "
                       f"({', '.join(sorted(before))}); set OMP_WAIT_POLICY=PASSIVE before Python starts to change it")
    return threads

# Design: fastdl's kernels use OpenMP's own thread count (the ICV that
# OMP_NUM_THREADS sets and threadpoolctl reads and limits), so these two
# functions only wrap omp_get_max_threads/omp_set_num_threads. Built
# without OpenMP, there is one thread and setting it is a no-op.
cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FASTDL_HAS_OPENMP 1
    #else
    #define FASTDL_HAS_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    static void omp_set_num_threads(int n) { (void)n; }
    #endif
    """
    int FASTDL_HAS_OPENMP
    int omp_get_max_threads() noexcept nogil
    void omp_set_num_threads(int n) noexcept nogil

OPENMP = bool(FASTDL_HAS_OPENMP)


def get_num_threads():
    """The number of threads the kernels use for large arrays."""
    return omp_get_max_threads()


def set_num_threads(int n):
    """Use ``n`` threads (``n >= 1``) for large arrays in the calling thread."""
    if n < 1:
        raise ValueError(f"the number of threads must be at least 1, not {n}")
    omp_set_num_threads(n)

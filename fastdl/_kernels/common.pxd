# Helpers every kernel module shares: cimport them from here, never copy.
from cython cimport floating
from libc.math cimport sqrt, sqrtf

cimport numpy as cnp

cdef extern from *:
    """
    #ifdef _OPENMP
    #include <omp.h>
    #define FASTDL_HAS_OPENMP 1
    #else
    #define FASTDL_HAS_OPENMP 0
    static int omp_get_max_threads(void) { return 1; }
    static void omp_set_num_threads(int n) { (void)n; }
    static int omp_get_thread_num(void) { return 0; }
    #endif
    #if defined(__GNUC__) || defined(__clang__)
    #define FASTDL_PREFETCH(p) __builtin_prefetch(p)
    #else
    #define FASTDL_PREFETCH(p) ((void)(p))
    #endif
    """
    int FASTDL_HAS_OPENMP
    int omp_get_max_threads() noexcept nogil
    void omp_set_num_threads(int n) noexcept nogil
    int omp_get_thread_num() noexcept nogil
    # A hint to fetch the cache line at p (never faults); nothing where the compiler has no builtin.
    void prefetch "FASTDL_PREFETCH"(const void* p) noexcept nogil


cdef inline floating root(floating x) noexcept nogil:
    """``np.sqrt`` in the array's dtype."""
    if floating is float:
        return sqrtf(x)
    else:
        return sqrt(x)


cdef inline int float_type(object a) noexcept:
    """NPY_FLOAT64 or NPY_FLOAT32 for an exact ndarray the kernels can read
    (aligned, native byte order, C-contiguous); -1 for anything else."""
    if not cnp.PyArray_CheckExact(a):
        return -1
    cdef cnp.ndarray arr = <cnp.ndarray>a
    cdef int t = cnp.PyArray_TYPE(arr)
    if ((t != cnp.NPY_FLOAT64 and t != cnp.NPY_FLOAT32) or not cnp.PyArray_IS_C_CONTIGUOUS(arr)
            or not cnp.PyArray_ISALIGNED(arr) or not cnp.PyArray_ISNOTSWAPPED(arr)):
        return -1
    return t


cdef inline bint bool_like(object mask, cnp.ndarray a) noexcept:
    """True for an exact, C-contiguous bool ndarray shaped like ``a``."""
    return (cnp.PyArray_CheckExact(mask) and cnp.PyArray_TYPE(<cnp.ndarray>mask) == cnp.NPY_BOOL
            and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>mask)
            and cnp.PyArray_SAMESHAPE(<cnp.ndarray>mask, a))


cdef inline cnp.ndarray empty_like(cnp.ndarray a, int typenum):
    """A new C-ordered array of ``a``'s shape and dtype ``typenum``."""
    return cnp.PyArray_EMPTY(cnp.PyArray_NDIM(a), cnp.PyArray_DIMS(a), typenum, 0)

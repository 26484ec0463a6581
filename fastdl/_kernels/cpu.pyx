# Design: what this CPU can run, asked once at import by fastdl._backend to
# choose between a kernel module and its *_avx2 build (the same source
# compiled with -mavx2, still without FMA, so the results are the same).
cdef extern from *:
    """
    #if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
    static int fastdl_cpu_has_avx2(void) {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2");
    }
    #else
    static int fastdl_cpu_has_avx2(void) { return 0; }
    #endif
    """
    int fastdl_cpu_has_avx2() noexcept nogil


def has_avx2():
    """True if this CPU (and its OS) can run the ``*_avx2`` kernel builds."""
    return bool(fastdl_cpu_has_avx2())

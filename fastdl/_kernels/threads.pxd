# The thread count for a kernel of `units` independent pieces and `work` elements in all.
cdef int threads_for(Py_ssize_t work, Py_ssize_t units) noexcept nogil

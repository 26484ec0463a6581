cdef Py_ssize_t thread_threshold() noexcept nogil

# Design: one kernel per optimizer, each a single pass over memory that
# performs the reference's NumPy operations (fastdl/reference/optim.py) in
# the same order, element by element. Hyper-parameters arrive as C doubles
# and are cast once to the array's dtype, as NumPy 2 does with Python floats
# (NEP 50). The `def` wrappers take 1-D contiguous views; fastdl/optim.py
# has already checked dtype, shape, contiguity, writeability and aliasing.
# Loops run over raw pointers so that gcc vectorises them.
from cython cimport floating


cdef void sgd_step(floating* p,            # IN/OUT parameter
                   const floating* g,      # IN gradient
                   Py_ssize_t n,
                   floating lr) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        p[i] -= lr * g[i]                  # params[key] -= self.lr * grads[key]


def sgd_update(floating[::1] p, const floating[::1] g, double lr):
    """``p -= lr*g`` in place; ``lr`` is rounded to the dtype of ``p``."""
    if p.shape[0] != g.shape[0]:
        raise ValueError("p and g differ in length")
    if p.shape[0] == 0:
        return
    with nogil:
        sgd_step(&p[0], &g[0], p.shape[0], <floating>lr)

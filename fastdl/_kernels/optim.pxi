# Design: one kernel per optimizer, each a single pass over memory that
# performs the reference's NumPy operations (fastdl/reference/optim.py) in
# the same order, element by element. Hyper-parameters arrive as C doubles
# and are cast once to the array's dtype, as NumPy 2 does with Python floats
# (NEP 50); Adam's step is computed in double where NumPy does (``lr_t`` is a
# NumPy float64 scalar).
#
# Multi-tensor: one ``update`` call takes the keys of an update in order.
# For each key it takes the buffers of the parameter, the gradient and the
# state arrays, with the GIL held; at the first key whose arrays are not all
# exact ``ndarray``s of one native float dtype, C-contiguous, of one shape,
# writeable (all but the gradient) and pairwise disjoint in memory, it
# stops, runs the keys taken so far without the GIL and returns that key's
# index: the caller runs the reference's step for it (fastdl/_kernels/
# README.md). Keys run one after another; an array of at least
# ``threads.THREAD_THRESHOLD`` elements is split into one contiguous piece
# per OpenMP thread. Every element is computed on its own, so the result
# does not depend on the number of threads.
#
# Every array is the caller's or new: Momentum writes its velocity into a
# new array, bound to ``v[key]`` after the kernel ran, as the reference
# binds a new one; the others update in place, as the reference does.
#
# The options beyond the book (weight decay, maximize, AMSGrad) are bits of
# ``Hyper.options``; with none set, each kernel runs the book's loop.
#
# Loops run over raw pointers so that gcc vectorises them. optim.pyx and
# optim_avx2.pyx (x86-64 only, built with AVX2) both include this file.
from cpython.buffer cimport (PyBUF_C_CONTIGUOUS, PyBUF_FORMAT, PyBUF_WRITABLE,
                             PyBuffer_Release, PyObject_GetBuffer)
from cython cimport floating
from cython.parallel cimport prange
from libc.stdlib cimport calloc, free
from libc.string cimport memcmp, memset

import numpy as np

cimport numpy as cnp

from fastdl._kernels.common cimport omp_get_max_threads, root
from fastdl._kernels.threads cimport thread_threshold

cnp.import_array()

cdef enum Rule:
    SGD, MOMENTUM, NESTEROV, ADAGRAD, RMSPROP, ADAM

# Options beyond the book (defined in fastdl/reference/optim.py), as bits of Hyper.options.
cdef enum:
    MAXIMIZE = 1
    L2_DECAY = 2         # g + weight_decay*p
    DECOUPLED_DECAY = 4  # p -= lr*weight_decay*p first
    AMSGRAD = 8

OPTIONS = {"maximize": MAXIMIZE, "l2_decay": L2_DECAY,
           "decoupled_decay": DECOUPLED_DECAY, "amsgrad": AMSGRAD}

cdef struct Hyper:
    double lr, momentum, decay_rate, beta1, beta2, lr_t, weight_decay
    int options
    bint float32          # float32 keys may run here (see fastdl.optim._KernelOptimizer._kernel_hyper)

cdef struct Task:
    char kind             # b'f' (float32) or b'd' (float64)
    Py_ssize_t n          # elements
    int n_arrays          # parameter, gradient, then the states
    Py_buffer views[5]

cdef object ndarray = np.ndarray


# ---- kernels: [lo, lo+n) of one key's arrays ---------------------------------
# ``options == 0`` is the book's update; gcc unswitches each loop on it, so
# the book's loop stays free of the options' branches.

cdef inline floating option_grad(floating* p,      # IN/OUT parameter element
                                 floating g,       # IN gradient element
                                 int options, floating weight_decay,
                                 floating lr_weight_decay) noexcept nogil:
    """The gradient the step uses, under the options; applies decoupled decay to ``p``."""
    if options & MAXIMIZE:
        g = -g                                    # g = -g
    if options & DECOUPLED_DECAY:
        p[0] -= lr_weight_decay * p[0]            # params[key] -= self.lr * self.weight_decay * params[key]
    elif options & L2_DECAY:
        g = g + weight_decay * p[0]               # g = g + self.weight_decay * params[key]
    return g


cdef void sgd_step(floating* p,            # IN/OUT parameter
                   const floating* g,      # IN gradient
                   Py_ssize_t n, floating lr,
                   int options, floating wd, floating lr_wd) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating gi
    for i in range(n):
        gi = g[i]
        if options:
            gi = option_grad(&p[i], gi, options, wd, lr_wd)
        p[i] -= lr * gi                    # params[key] -= self.lr * grads[key]


cdef void momentum_step(floating* p,            # IN/OUT parameter
                        const floating* g,      # IN gradient
                        const floating* v,      # IN velocity
                        floating* v_new,        # OUT the new velocity (a new array, as in the reference)
                        Py_ssize_t n, floating lr, floating momentum,
                        int options, floating wd, floating lr_wd) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating gi
    for i in range(n):
        gi = g[i]
        if options:
            gi = option_grad(&p[i], gi, options, wd, lr_wd)
        v_new[i] = momentum * v[i] - lr * gi  # self.v[key] = self.momentum*self.v[key] - self.lr*grads[key]
        p[i] += v_new[i]                      # params[key] += self.v[key]


cdef void nesterov_step(floating* p,       # IN/OUT parameter
                        const floating* g,  # IN gradient
                        floating* v,        # IN/OUT velocity
                        Py_ssize_t n, floating lr, floating momentum,
                        floating momentum2,  # momentum*momentum
                        floating lr1,        # (1 + momentum)*lr
                        int options, floating wd, floating lr_wd) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating gi
    for i in range(n):
        gi = g[i]
        if options:
            gi = option_grad(&p[i], gi, options, wd, lr_wd)
        p[i] += momentum2 * v[i]           # params[key] += self.momentum * self.momentum * self.v[key]
        p[i] -= lr1 * gi                   # params[key] -= (1 + self.momentum) * self.lr * grads[key]
        v[i] *= momentum                   # self.v[key] *= self.momentum
        v[i] -= lr * gi                    # self.v[key] -= self.lr * grads[key]


cdef void adagrad_step(floating* p,        # IN/OUT parameter
                       const floating* g,  # IN gradient
                       floating* h,        # IN/OUT sum of squared gradients
                       Py_ssize_t n, floating lr,
                       int options, floating wd, floating lr_wd) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating gi
    cdef floating eps = <floating>1e-7
    for i in range(n):
        gi = g[i]
        if options:
            gi = option_grad(&p[i], gi, options, wd, lr_wd)
        h[i] += gi * gi                         # self.h[key] += grads[key] * grads[key]
        p[i] -= lr * gi / (root(h[i]) + eps)    # params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + EPS)


cdef void rmsprop_step(floating* p,        # IN/OUT parameter
                       const floating* g,  # IN gradient
                       floating* h,        # IN/OUT running mean of squared gradients
                       Py_ssize_t n, floating lr, floating decay_rate,
                       floating keep,      # 1 - decay_rate
                       int options, floating wd, floating lr_wd) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating gi
    cdef floating eps = <floating>1e-7
    for i in range(n):
        gi = g[i]
        if options:
            gi = option_grad(&p[i], gi, options, wd, lr_wd)
        h[i] *= decay_rate                      # self.h[key] *= self.decay_rate
        h[i] += keep * gi * gi                  # self.h[key] += (1 - self.decay_rate) * grads[key] * grads[key]
        p[i] -= lr * gi / (root(h[i]) + eps)    # params[key] -= self.lr * grads[key] / (np.sqrt(self.h[key]) + EPS)


cdef void adam_step(floating* p,           # IN/OUT parameter
                    const floating* g,     # IN gradient
                    floating* m,           # IN/OUT first moment
                    floating* v,           # IN/OUT second moment
                    floating* v_max,       # IN/OUT running maximum of v (AMSGRAD only)
                    Py_ssize_t n, double lr_t,
                    floating one_minus_beta1, floating one_minus_beta2,
                    int options, floating wd, floating lr_wd) noexcept nogil:
    cdef Py_ssize_t i
    cdef floating gi, vi
    cdef floating eps = <floating>1e-7
    if options == 0:
        # The book's loop, written out: gcc does not unswitch the one below.
        for i in range(n):
            m[i] += one_minus_beta1 * (g[i] - m[i])         # self.m[key] += (1 - self.beta1) * (grads[key] - self.m[key])
            v[i] += one_minus_beta2 * (g[i] * g[i] - v[i])  # self.v[key] += (1 - self.beta2) * (grads[key]*grads[key] - self.v[key])
            # lr_t is a NumPy float64 scalar: NumPy divides in double, and p -= rounds once:
            # params[key] -= lr_t * self.m[key] / (np.sqrt(self.v[key]) + EPS)
            p[i] = <floating>(<double>p[i] - lr_t * <double>m[i] / <double>(root(v[i]) + eps))
        return
    for i in range(n):
        gi = option_grad(&p[i], g[i], options, wd, lr_wd)
        m[i] += one_minus_beta1 * (gi - m[i])
        v[i] += one_minus_beta2 * (gi * gi - v[i])
        vi = v[i]
        if options & AMSGRAD:
            if not (v_max[i] >= vi or v_max[i] != v_max[i]):
                v_max[i] = vi                               # np.maximum(self.v_max[key], self.v[key], out=self.v_max[key])
            vi = v_max[i]
        p[i] = <floating>(<double>p[i] - lr_t * <double>m[i] / <double>(root(vi) + eps))


cdef void run_typed(Rule rule, floating* p, floating* g, floating* s1, floating* s2,
                    floating* s3, Py_ssize_t lo, Py_ssize_t n, const Hyper* h) noexcept nogil:
    cdef int options = h.options
    cdef floating wd = <floating>h.weight_decay
    cdef floating lr_wd = <floating>(h.lr * h.weight_decay)
    p += lo
    g += lo
    if rule == SGD:
        sgd_step(p, g, n, <floating>h.lr, options, wd, lr_wd)
    elif rule == MOMENTUM:
        momentum_step(p, g, s1 + lo, s2 + lo, n, <floating>h.lr, <floating>h.momentum,
                      options, wd, lr_wd)
    elif rule == NESTEROV:
        nesterov_step(p, g, s1 + lo, n, <floating>h.lr, <floating>h.momentum,
                      <floating>(h.momentum * h.momentum),
                      <floating>((1.0 + h.momentum) * h.lr), options, wd, lr_wd)
    elif rule == ADAGRAD:
        adagrad_step(p, g, s1 + lo, n, <floating>h.lr, options, wd, lr_wd)
    elif rule == RMSPROP:
        rmsprop_step(p, g, s1 + lo, n, <floating>h.lr, <floating>h.decay_rate,
                     <floating>(1.0 - h.decay_rate), options, wd, lr_wd)
    else:
        adam_step(p, g, s1 + lo, s2 + lo, s3 + lo if s3 != NULL else NULL, n, h.lr_t,
                  <floating>(1.0 - h.beta1), <floating>(1.0 - h.beta2), options, wd, lr_wd)


cdef void run_piece(Rule rule, const Task* t, Py_ssize_t lo, Py_ssize_t n,
                    const Hyper* h) noexcept nogil:
    if t.kind == b'd':
        run_typed(rule, <double*>t.views[0].buf, <double*>t.views[1].buf,
                  <double*>t.views[2].buf, <double*>t.views[3].buf,
                  <double*>t.views[4].buf, lo, n, h)
    else:
        run_typed(rule, <float*>t.views[0].buf, <float*>t.views[1].buf,
                  <float*>t.views[2].buf, <float*>t.views[3].buf,
                  <float*>t.views[4].buf, lo, n, h)


cdef void run_task(Rule rule, const Task* t, const Hyper* h) noexcept nogil:
    cdef int n_threads = 1
    cdef int k
    cdef Py_ssize_t piece, lo
    if t.n >= thread_threshold():
        n_threads = omp_get_max_threads()
    if n_threads <= 1:
        run_piece(rule, t, 0, t.n, h)
        return
    # Pieces are multiples of 64 elements so that every piece starts on the
    # same alignment as the array.
    piece = ((t.n + n_threads - 1) // n_threads + 63) // 64 * 64
    for k in prange(n_threads, num_threads=n_threads, schedule="static"):
        lo = k * piece
        if lo < t.n:
            run_piece(rule, t, lo, min(piece, t.n - lo), h)


# ---- validation and the multi-tensor driver ------------------------------------

cdef bint take_view(object array, Py_buffer* view, bint writable):
    """Fill ``view`` if ``array`` is a kernel-ready ndarray; False otherwise."""
    if type(array) is not ndarray:
        return False
    try:
        PyObject_GetBuffer(array, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT
                           | (PyBUF_WRITABLE if writable else 0))
    except Exception:  # not C-contiguous, read-only, ...: the reference decides
        return False
    if (view.format[1] != 0 or view.format[0] not in b"fd"
            or view.itemsize != (4 if view.format[0] == b"f" else 8)):
        PyBuffer_Release(view)
        return False
    return True


cdef bint same_layout(const Py_buffer* a, const Py_buffer* b) noexcept:
    return (a.format[0] == b.format[0] and a.ndim == b.ndim and a.len == b.len
            and (a.ndim == 0 or memcmp(a.shape, b.shape, a.ndim * sizeof(Py_ssize_t)) == 0))


cdef bint disjoint(const Py_buffer* a, const Py_buffer* b) noexcept:
    cdef char* a0 = <char*>a.buf
    cdef char* b0 = <char*>b.buf
    return a.len == 0 or b.len == 0 or a0 + a.len <= b0 or b0 + b.len <= a0


cdef bint prepare(Rule rule, Task* t, object key, object params, object grads, tuple states,
                  bint float32, list new_velocities):
    """Take the views of one key's arrays into ``t``; False (nothing taken) where the kernel declines."""
    cdef int i, j
    cdef list arrays
    try:
        arrays = [params[key], grads[key]]
        for state in states:
            arrays.append(state[key])
    except Exception:  # missing keys and odd containers: the reference raises
        return False
    if rule == MOMENTUM and type(states[0]) is not dict:
        return False
    t.n_arrays = 0
    for i in range(len(arrays)):
        # Momentum's velocity is only read: the kernel writes a new one.
        if not take_view(arrays[i], &t.views[i], i != 1 and not (rule == MOMENTUM and i == 2)):
            release(t)
            return False
        t.n_arrays += 1
        if i > 0 and not same_layout(&t.views[0], &t.views[i]):
            release(t)
            return False
        for j in range(i):
            if not disjoint(&t.views[i], &t.views[j]):
                release(t)
                return False
    t.kind = t.views[0].format[0]
    # 0-d Momentum: the reference binds a NumPy scalar, not an array, to v[key].
    if (t.kind == b'f' and not float32) or (rule == MOMENTUM and t.views[0].ndim == 0):
        release(t)
        return False
    if rule == MOMENTUM:
        # The reference binds a new array to v[key]: the kernel writes one
        # that nobody else can reach until it is bound, after the kernel.
        velocity = cnp.PyArray_EMPTY(t.views[2].ndim, <cnp.npy_intp*>t.views[2].shape,
                                     cnp.NPY_FLOAT32 if t.kind == b'f' else cnp.NPY_FLOAT64, 0)
        take_view(velocity, &t.views[3], True)
        t.n_arrays += 1
    for i in range(t.n_arrays, 5):
        t.views[i].buf = NULL
    t.n = t.views[0].len // t.views[0].itemsize
    if rule == MOMENTUM:
        new_velocities.append((key, velocity))
    return True


cdef void release(Task* t) noexcept:
    cdef int i
    for i in range(t.n_arrays):
        PyBuffer_Release(&t.views[i])
    t.n_arrays = 0


cdef Py_ssize_t drive(Rule rule, list keys, Py_ssize_t start, object params, object grads,
                      tuple states, Hyper* h) except -1:
    """Update keys from ``start`` on; return the index of the first key declined (``len(keys)``: none)."""
    cdef Py_ssize_t n_keys = len(keys)
    cdef Py_ssize_t pending = 0, i, stop = start
    cdef list new_velocities = []
    cdef Task* tasks = <Task*>calloc(max(n_keys - start, 1), sizeof(Task))
    if tasks == NULL:
        raise MemoryError()
    try:
        while stop < n_keys and prepare(rule, &tasks[pending], keys[stop], params, grads, states,
                                        h.float32, new_velocities):
            pending += 1
            stop += 1
        with nogil:
            for i in range(pending):
                run_task(rule, &tasks[i], h)
    finally:
        for i in range(pending):
            release(&tasks[i])
        free(tasks)
    for key, velocity in new_velocities:
        states[0][key] = velocity
    return stop


# ---- the one entry point -------------------------------------------------------

RULES = {"sgd": SGD, "momentum": MOMENTUM, "nesterov": NESTEROV, "adagrad": ADAGRAD,
         "rmsprop": RMSPROP, "adam": ADAM}


def update(str rule, list keys, Py_ssize_t start, params, grads, list states, dict hyper,
           int options=0, bint float32=True):
    """Run optimizer ``rule`` on ``keys[start:]`` in order, up to the first key it declines.

    Returns that key's index (``len(keys)`` when it declined none): the
    keys before it are updated, nothing of it is written, and the caller
    runs the reference's step for it, then calls again from the next key.
    ``states`` are the rule's per-key state dicts (Momentum and Nesterov
    ``[v]``, AdaGrad and RMSprop ``[h]``, Adam ``[m, v, v_max]``, ``v_max``
    read only with ``AMSGRAD``); ``hyper`` maps the names of fastdl.optim
    (``lr``, ``momentum``, ``decay_rate``, ``beta1``, ``beta2``, ``lr_t``,
    ``weight_decay``) to numbers, absent ones are 0; ``options`` are
    ``OPTIONS`` bits (0: the book's update); ``float32=False`` declines
    float32 keys.
    """
    cdef Hyper h
    memset(&h, 0, sizeof(Hyper))
    for name, value in hyper.items():
        if name == "lr":
            h.lr = value
        elif name == "momentum":
            h.momentum = value
        elif name == "decay_rate":
            h.decay_rate = value
        elif name == "beta1":
            h.beta1 = value
        elif name == "beta2":
            h.beta2 = value
        elif name == "lr_t":
            h.lr_t = value
        elif name == "weight_decay":
            h.weight_decay = value
    h.options = options
    h.float32 = float32
    cdef Rule r = RULES[rule]
    cdef tuple used = tuple(states[:2] if r == ADAM and not options & AMSGRAD else states)
    return drive(r, keys, start, params, grads, used, &h)

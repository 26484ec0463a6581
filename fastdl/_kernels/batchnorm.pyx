# Design: the book's batch normalisation (fastdl/reference/layers.py) on a
# C-contiguous (N, D) matrix, float32 or float64 from one fused source.
#
# Within a column the arithmetic is NumPy's, operation by operation, so
# results are the reference's bit for bit: a reduction over axis 0 of a
# C-ordered array starts from 0 and adds row after row (D > 1; a single
# column is summed pairwise by NumPy and stays on the reference path),
# `mean` is that sum divided by N in double (NumPy divides by an intp),
# Python floats are rounded to the array's dtype (NEP 50), and the
# per-element divisions stay divisions (no reciprocal multiplication).
#
# The passes stream rows and accumulate column statistics in D-long arrays,
# four rows per sweep over an accumulator (each row still added in turn),
# which quarters the accumulator loads and stores that bound these loops.
# Centring and the sum of squares share one sweep over a block of four
# rows (8 row streams). The backward pass's three column sums share one
# sweep too (12 row streams: 3 arrays x 4 rows), which lets the divider
# work while the other sums load (5.3 -> 3.9 us at 100 x 100), but only
# where the four rows of a block fall into different L1 sets: the L1
# (8 ways) indexes sets by address mod 4 KiB, and where rows 1, 2 or 3
# apart lie (nearly) a multiple of 4 KiB apart (256 x 1024 float64: rows
# 8 KiB apart) the 12 streams evict one another and the fused sweep was
# 2-3.7 times slower. There the backward pass runs one loop per column
# sum on the block, which it then reads from cache
# (`rows_spread_over_sets`).
# At the book's size the arrays (80 KB) live in L2 and the passes are
# bound by its bandwidth, not by the divisions (replacing them with
# multiplications gains nothing there). Non-temporal (streaming) stores
# for arrays of 8 MiB and more cut 1024 x 4096 by 15 % in most runs but
# made some runs 5-15 times slower on the VM they were measured on, so
# they are not used.
# Also tried and slower: recomputing dxc in the last pass instead of
# storing it; eight rows per sweep; walking a block of columns down the
# rows (accumulators in registers, or all passes over one L1-, L2- or
# L3-sized block), at the book's size and at 1024 x 4096: strided rows
# defeat the prefetcher, and power-of-two row strides thrash cache sets.
#
# The `def` wrappers take plain objects rather than typed memoryviews: at
# the book's size (100 x 100) the Python-level checks and the acquisition of
# a memoryview per argument cost a large share of a call. They decide in C
# whether the kernel applies (dtype, shape, contiguity of every argument)
# and return None where it does not, for fastdl/layers.py to run the
# reference; no call can make a kernel read out of bounds.
from cython cimport floating
from libc.math cimport sqrt, sqrtf

cimport numpy as cnp

cnp.import_array()


cdef inline floating root(floating v) noexcept nogil:
    if floating is float:
        return sqrtf(v)                                   # np.sqrt on float32
    else:
        return sqrt(v)


cdef inline void add_rows(floating* acc,                  # IN/OUT (D,)
                         const floating* a,                 # IN  (rows, D)
                         Py_ssize_t rows, Py_ssize_t D) noexcept nogil:
    # acc += a[0]; acc += a[1]; ... row after row, as NumPy's sum over axis
    # 0 does; four rows in one sweep over acc round exactly as four sweeps.
    cdef Py_ssize_t j
    if rows == 4:
        for j in range(D):
            acc[j] = (((acc[j] + a[j]) + a[D + j]) + a[2 * D + j]) + a[3 * D + j]
    else:
        for j in range(D):
            acc[j] = acc[j] + a[j]


cdef inline void add_products(floating* acc,              # IN/OUT (D,)
                              const floating* a,            # IN  (rows, D)
                              const floating* b,            # IN  (rows, D)
                              Py_ssize_t rows, Py_ssize_t D) noexcept nogil:
    # acc += a[r] * b[r] row after row; each product is rounded before it
    # is added, as with a product array.
    cdef Py_ssize_t j
    if rows == 4:
        for j in range(D):
            acc[j] = ((((acc[j] + a[j] * b[j]) + a[D + j] * b[D + j])
                       + a[2 * D + j] * b[2 * D + j]) + a[3 * D + j] * b[3 * D + j])
    else:
        for j in range(D):
            acc[j] = acc[j] + a[j] * b[j]


cdef inline void center_rows(const floating* x,             # IN  (rows, D)
                             floating* xc,                  # OUT (rows, D) x - mu
                             const floating* mu,            # IN  (D,)
                             floating* acc,                 # IN/OUT (D,) sum of xc ** 2
                             Py_ssize_t rows, Py_ssize_t D) noexcept nogil:
    # xc = x - mu and acc += xc * xc row after row, in one sweep over a block
    cdef Py_ssize_t j
    cdef floating t0, t1, t2, t3
    if rows == 4:
        for j in range(D):
            t0 = x[j] - mu[j]
            t1 = x[D + j] - mu[j]
            t2 = x[2 * D + j] - mu[j]
            t3 = x[3 * D + j] - mu[j]
            xc[j] = t0
            xc[D + j] = t1
            xc[2 * D + j] = t2
            xc[3 * D + j] = t3
            acc[j] = (((acc[j] + t0 * t0) + t1 * t1) + t2 * t2) + t3 * t3
    else:
        for j in range(D):
            t0 = x[j] - mu[j]
            xc[j] = t0
            acc[j] = acc[j] + t0 * t0


cdef inline Py_ssize_t block_rows(Py_ssize_t i, Py_ssize_t N) noexcept nogil:
    # Rows are taken four at a time while they fit: each sweep over the
    # column accumulators then adds four rows, read once.
    return 4 if i + 4 <= N else 1


cdef void forward_train(const floating* x,                  # IN  (N, D)
                        floating* xc,                       # OUT (N, D) x - mu
                        floating* xn,                       # OUT (N, D) xc / std
                        floating* out,                      # OUT (N, D) gamma*xn + beta
                        const floating* gamma,              # IN  (D,)
                        const floating* beta,               # IN  (D,)
                        floating* mu,                       # OUT (D,) x.mean(axis=0)
                        floating* var,                      # OUT (D,) np.mean(xc ** 2, axis=0)
                        floating* std,                      # OUT (D,) np.sqrt(var + 10e-7)
                        Py_ssize_t N, Py_ssize_t D) noexcept nogil:
    cdef Py_ssize_t i, j, rows
    cdef const floating* xci
    cdef floating* xni
    cdef floating* outi
    cdef floating t
    cdef floating eps = <floating>10e-7
    for j in range(D):
        mu[j] = 0
        var[j] = 0
    i = 0
    while i < N:
        rows = block_rows(i, N)
        add_rows(mu, x + i * D, rows, D)                 # x.mean(axis=0): the sum ...
        i += rows
    for j in range(D):
        mu[j] = <floating>(<double>mu[j] / <double>N)    # ... divided by an intp
    i = 0
    while i < N:
        rows = block_rows(i, N)
        # xc = x - mu; np.mean(xc ** 2, axis=0): the sum ...
        center_rows(x + i * D, xc + i * D, mu, var, rows, D)
        i += rows
    for j in range(D):
        var[j] = <floating>(<double>var[j] / <double>N)  # ... divided by an intp
        std[j] = root(var[j] + eps)                      # std = np.sqrt(var + 10e-7)
    for i in range(N):
        xci = xc + i * D
        xni = xn + i * D
        outi = out + i * D
        for j in range(D):
            t = xci[j] / std[j]                          # xn = xc / std
            xni[j] = t
            outi[j] = gamma[j] * t + beta[j]             # self.gamma * xn + self.beta


cdef void update_running(const double* old,               # IN  (D,) running statistic
                         const floating* new,             # IN  (D,) batch statistic
                         double* updated,                 # OUT (D,) a new array
                         Py_ssize_t D, double momentum, floating one_minus_momentum) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(D):
        # momentum * running_mean + (1 - momentum) * mu: the second product
        # is in mu's dtype, the sum in float64 (running_mean is float64).
        updated[j] = momentum * old[j] + <double>(one_minus_momentum * new[j])


cdef void forward_test(const floating* x,                  # IN  (N, D)
                       double* out,                        # OUT (N, D) float64: running_mean is float64
                       const floating* gamma, const floating* beta,  # IN (D,)
                       const double* running_mean,         # IN  (D,)
                       double* scale,                      # OUT (D,) np.sqrt(running_var + 10e-7)
                       const double* running_var,          # IN  (D,)
                       Py_ssize_t N, Py_ssize_t D) noexcept nogil:
    cdef Py_ssize_t i, j
    cdef const floating* xi
    cdef double* outi
    for j in range(D):
        scale[j] = sqrt(running_var[j] + 10e-7)           # np.sqrt(self.running_var + 10e-7)
    for i in range(N):
        xi = x + i * D
        outi = out + i * D
        for j in range(D):
            # xn = (x - running_mean) / sqrt(...); gamma * xn + beta
            outi[j] = <double>gamma[j] * ((<double>xi[j] - running_mean[j]) / scale[j]) + <double>beta[j]


cdef inline void add_dvar_terms(floating* acc,            # IN/OUT (D,)
                                const floating* dout,       # IN  (rows, D)
                                const floating* xc,         # IN  (rows, D)
                                const floating* gamma,      # IN  (D,)
                                const floating* std2,       # IN  (D,) std * std
                                Py_ssize_t rows, Py_ssize_t D) noexcept nogil:
    # acc += ((gamma * dout) * xc) / (std * std), row after row
    cdef Py_ssize_t j
    if rows == 4:
        for j in range(D):
            acc[j] = ((((acc[j] + ((gamma[j] * dout[j]) * xc[j]) / std2[j])
                        + ((gamma[j] * dout[D + j]) * xc[D + j]) / std2[j])
                       + ((gamma[j] * dout[2 * D + j]) * xc[2 * D + j]) / std2[j])
                      + ((gamma[j] * dout[3 * D + j]) * xc[3 * D + j]) / std2[j])
    else:
        for j in range(D):
            acc[j] = acc[j] + ((gamma[j] * dout[j]) * xc[j]) / std2[j]


cdef inline void add_grad_terms(floating* dbeta,           # IN/OUT (D,) sum of dout
                                floating* dgamma,           # IN/OUT (D,) sum of xn * dout
                                floating* dvar,             # IN/OUT (D,) sum of (dxn * xc) / (std * std)
                                const floating* dout,       # IN  (4, D)
                                const floating* xc,         # IN  (4, D)
                                const floating* xn,         # IN  (4, D)
                                const floating* gamma,      # IN  (D,)
                                const floating* std2,       # IN  (D,) std * std
                                Py_ssize_t D) noexcept nogil:
    # The three column sums of add_rows, add_products and add_dvar_terms
    # over a block of four rows in one sweep, each row added in turn.
    cdef Py_ssize_t j
    cdef floating d0, d1, d2, d3
    for j in range(D):
        d0 = dout[j]
        d1 = dout[D + j]
        d2 = dout[2 * D + j]
        d3 = dout[3 * D + j]
        dbeta[j] = (((dbeta[j] + d0) + d1) + d2) + d3
        dgamma[j] = (((dgamma[j] + xn[j] * d0) + xn[D + j] * d1)
                     + xn[2 * D + j] * d2) + xn[3 * D + j] * d3
        dvar[j] = ((((dvar[j] + ((gamma[j] * d0) * xc[j]) / std2[j])
                     + ((gamma[j] * d1) * xc[D + j]) / std2[j])
                    + ((gamma[j] * d2) * xc[2 * D + j]) / std2[j])
                   + ((gamma[j] * d3) * xc[3 * D + j]) / std2[j])


cdef inline bint rows_spread_over_sets(Py_ssize_t row_bytes) noexcept nogil:
    # Whether rows 1, 2 and 3 apart lie at least two cache lines from one
    # another modulo 4 KiB, the period of L1 set indexing.
    cdef Py_ssize_t k, offset
    for k in range(1, 4):
        offset = (k * row_bytes) % 4096
        if offset < 128 or offset > 4096 - 128:
            return False
    return True


cdef void backward(const floating* dout,                    # IN  (N, D)
                   const floating* xc,                      # IN  (N, D)
                   const floating* xn,                      # IN  (N, D)
                   const floating* std,                     # IN  (D,)
                   const floating* gamma,                   # IN  (D,)
                   floating* dx,                            # OUT (N, D)
                   floating* dgamma,                        # OUT (D,)
                   floating* dbeta,                         # OUT (D,)
                   floating* work,                          # scratch (3D,)
                   Py_ssize_t N, Py_ssize_t D) noexcept nogil:
    cdef Py_ssize_t i, j, r, rows
    cdef const floating* douti
    cdef const floating* xci
    cdef floating* dxi
    cdef floating* std2 = work
    cdef floating* dvar = work + D
    cdef floating* dmu = work + 2 * D
    cdef floating two_over_n = <floating>(2.0 / N)
    cdef floating half = <floating>0.5
    cdef bint fused = rows_spread_over_sets(D * <Py_ssize_t>sizeof(floating))  # add_grad_terms
    for j in range(D):
        dbeta[j] = 0
        dgamma[j] = 0
        dvar[j] = 0
        dmu[j] = 0
        std2[j] = std[j] * std[j]                        # self.std * self.std
    i = 0
    while i < N:                                         # the three column sums, one block at a time
        rows = block_rows(i, N)
        if fused and rows == 4:
            add_grad_terms(dbeta, dgamma, dvar, dout + i * D, xc + i * D, xn + i * D, gamma, std2, D)
        else:
            add_rows(dbeta, dout + i * D, rows, D)           # dbeta = dout.sum(axis=0)
            add_products(dgamma, xn + i * D, dout + i * D, rows, D)  # dgamma = np.sum(self.xn * dout, axis=0)
            # np.sum((dxn * self.xc) / (self.std * self.std), axis=0), dxn = self.gamma * dout
            add_dvar_terms(dvar, dout + i * D, xc + i * D, gamma, std2, rows, D)
        i += rows
    for j in range(D):
        dvar[j] = (half * (-dvar[j])) / std[j]           # dstd = -sum; dvar = 0.5 * dstd / self.std
    i = 0
    while i < N:
        rows = block_rows(i, N)
        for r in range(i, i + rows):
            douti = dout + r * D
            xci = xc + r * D
            dxi = dx + r * D
            for j in range(D):
                # dxc = (dxn = self.gamma * dout) / self.std
                # dxc += (2.0 / self.batch_size) * self.xc * dvar
                dxi[j] = (gamma[j] * douti[j]) / std[j] + (two_over_n * xci[j]) * dvar[j]
        add_rows(dmu, dx + i * D, rows, D)               # dmu = np.sum(dxc, axis=0)
        i += rows
    for j in range(D):
        dmu[j] = dmu[j] / <floating>N                    # dmu / self.batch_size (a Python int)
    for i in range(N - 1, -1, -1):                      # last rows first: they are still cached
        dxi = dx + i * D
        for j in range(D):
            dxi[j] = dxi[j] - dmu[j]                     # dx = dxc - dmu / self.batch_size


cdef bint fits(object a, int typenum, int ndim, Py_ssize_t n0, Py_ssize_t n1):
    """A plain, aligned, native-byte-order C-contiguous ndarray of this dtype and shape (n1 only for 2-D)."""
    if not cnp.PyArray_CheckExact(a):
        return False
    cdef cnp.ndarray arr = <cnp.ndarray>a
    return (cnp.PyArray_TYPE(arr) == typenum and cnp.PyArray_NDIM(arr) == ndim
            and cnp.PyArray_IS_C_CONTIGUOUS(arr) and cnp.PyArray_ISALIGNED(arr)
            and cnp.PyArray_ISNOTSWAPPED(arr) and cnp.PyArray_DIM(arr, 0) == n0
            and (ndim == 1 or cnp.PyArray_DIM(arr, 1) == n1))


cdef int float_type(object a):
    """The float typenum of a plain ndarray, or -1."""
    if not cnp.PyArray_CheckExact(a):
        return -1
    cdef int t = cnp.PyArray_TYPE(<cnp.ndarray>a)
    return t if t == cnp.NPY_FLOAT64 or t == cnp.NPY_FLOAT32 else -1


cdef list usable_spares(tuple spare, tuple inputs, int t, Py_ssize_t N, Py_ssize_t D):
    """The arrays of ``spare`` that can take an (N, D) result: distinct, writeable, owning their data."""
    cdef list usable = []
    for a in spare:
        if (fits(a, t, 2, N, D) and cnp.PyArray_ISWRITEABLE(<cnp.ndarray>a)
                and cnp.PyArray_BASE(<cnp.ndarray>a) == NULL
                and not any(a is b for b in usable) and not any(a is b for b in inputs)):
            usable.append(a)
    return usable


cdef cnp.ndarray empty(int ndim, Py_ssize_t n0, Py_ssize_t n1, int typenum):
    cdef cnp.npy_intp dims[2]
    dims[0] = n0
    dims[1] = n1
    return cnp.PyArray_EMPTY(ndim, dims, typenum, 0)


cdef int forward_type(object x_, object gamma_, object beta_,
                      object running_mean_, object running_var_):
    """x's NumPy type number if the forward kernels apply to these arguments, else -1."""
    cdef int t = float_type(x_)
    if t < 0 or cnp.PyArray_NDIM(<cnp.ndarray>x_) != 2:
        return -1
    cdef Py_ssize_t N = cnp.PyArray_DIM(<cnp.ndarray>x_, 0), D = cnp.PyArray_DIM(<cnp.ndarray>x_, 1)
    if (N < 1 or D < 2 or not fits(x_, t, 2, N, D) or not fits(gamma_, t, 1, D, 0)
            or not fits(beta_, t, 1, D, 0) or not fits(running_mean_, cnp.NPY_FLOAT64, 1, D, 0)
            or not fits(running_var_, cnp.NPY_FLOAT64, 1, D, 0)):
        return -1
    return t


def forward_train_kernel(object x_, object gamma_, object beta_,
                         object running_mean_, object running_var_,
                         double momentum, double one_minus_momentum, tuple spare=()):
    """Training-mode forward pass of a C-contiguous ``(N, D)`` float array.

    Returns ``(out, xc, xn, std, running_mean, running_var)`` (the running
    statistics new float64 arrays), or ``None`` where the kernel does not
    apply: x not C-contiguous float32/float64 with N >= 1 and D >= 2,
    gamma/beta not C-contiguous ``(D,)`` arrays of x's dtype, running
    statistics not C-contiguous float64 ``(D,)``. The caller then runs the
    reference. ``spare`` may hold arrays of earlier results that nothing
    else references: those that fit are overwritten instead of allocating
    (fresh large arrays cost a page fault per page on first touch).
    """
    cdef int t = forward_type(x_, gamma_, beta_, running_mean_, running_var_)
    if t < 0:
        return None
    cdef Py_ssize_t N = cnp.PyArray_DIM(<cnp.ndarray>x_, 0), D = cnp.PyArray_DIM(<cnp.ndarray>x_, 1)
    cdef cnp.ndarray x = <cnp.ndarray>x_
    cdef cnp.ndarray gamma = <cnp.ndarray>gamma_
    cdef cnp.ndarray beta = <cnp.ndarray>beta_
    cdef cnp.ndarray running_mean = <cnp.ndarray>running_mean_
    cdef cnp.ndarray running_var = <cnp.ndarray>running_var_
    cdef list spares = usable_spares(spare, (x_, gamma_, beta_), t, N, D)
    cdef cnp.ndarray xc = spares.pop(0) if spares else empty(2, N, D, t)
    cdef cnp.ndarray xn = spares.pop(0) if spares else empty(2, N, D, t)
    cdef cnp.ndarray out = spares.pop(0) if spares else empty(2, N, D, t)
    cdef cnp.ndarray stats = empty(1, 2 * D, 0, t)        # mu, var
    cdef cnp.ndarray std = empty(1, D, 0, t)
    cdef cnp.ndarray new_mean = empty(1, D, 0, cnp.NPY_FLOAT64)
    cdef cnp.ndarray new_var = empty(1, D, 0, cnp.NPY_FLOAT64)
    if t == cnp.NPY_FLOAT64:
        with nogil:
            forward_train[double](<double*>cnp.PyArray_DATA(x), <double*>cnp.PyArray_DATA(xc),
                                  <double*>cnp.PyArray_DATA(xn), <double*>cnp.PyArray_DATA(out),
                                  <double*>cnp.PyArray_DATA(gamma), <double*>cnp.PyArray_DATA(beta),
                                  <double*>cnp.PyArray_DATA(stats), <double*>cnp.PyArray_DATA(stats) + D,
                                  <double*>cnp.PyArray_DATA(std), N, D)
            update_running[double](<double*>cnp.PyArray_DATA(running_mean), <double*>cnp.PyArray_DATA(stats),
                                   <double*>cnp.PyArray_DATA(new_mean), D, momentum, one_minus_momentum)
            update_running[double](<double*>cnp.PyArray_DATA(running_var), <double*>cnp.PyArray_DATA(stats) + D,
                                   <double*>cnp.PyArray_DATA(new_var), D, momentum, one_minus_momentum)
    else:
        with nogil:
            forward_train[float](<float*>cnp.PyArray_DATA(x), <float*>cnp.PyArray_DATA(xc),
                                 <float*>cnp.PyArray_DATA(xn), <float*>cnp.PyArray_DATA(out),
                                 <float*>cnp.PyArray_DATA(gamma), <float*>cnp.PyArray_DATA(beta),
                                 <float*>cnp.PyArray_DATA(stats), <float*>cnp.PyArray_DATA(stats) + D,
                                 <float*>cnp.PyArray_DATA(std), N, D)
            update_running[float](<double*>cnp.PyArray_DATA(running_mean), <float*>cnp.PyArray_DATA(stats),
                                  <double*>cnp.PyArray_DATA(new_mean), D, momentum, <float>one_minus_momentum)
            update_running[float](<double*>cnp.PyArray_DATA(running_var), <float*>cnp.PyArray_DATA(stats) + D,
                                  <double*>cnp.PyArray_DATA(new_var), D, momentum, <float>one_minus_momentum)
    return out, xc, xn, std, new_mean, new_var


def forward_test_kernel(object x_, object gamma_, object beta_,
                        object running_mean_, object running_var_):
    """Test-mode forward pass; the output is float64 as the reference's is.

    ``None`` where the kernel does not apply (as ``forward_train_kernel``).
    """
    cdef int t = forward_type(x_, gamma_, beta_, running_mean_, running_var_)
    if t < 0:
        return None
    cdef Py_ssize_t N = cnp.PyArray_DIM(<cnp.ndarray>x_, 0), D = cnp.PyArray_DIM(<cnp.ndarray>x_, 1)
    cdef cnp.ndarray x = <cnp.ndarray>x_
    cdef cnp.ndarray gamma = <cnp.ndarray>gamma_
    cdef cnp.ndarray beta = <cnp.ndarray>beta_
    cdef cnp.ndarray running_mean = <cnp.ndarray>running_mean_
    cdef cnp.ndarray running_var = <cnp.ndarray>running_var_
    cdef cnp.ndarray out = empty(2, N, D, cnp.NPY_FLOAT64)
    cdef cnp.ndarray scale = empty(1, D, 0, cnp.NPY_FLOAT64)
    if t == cnp.NPY_FLOAT64:
        with nogil:
            forward_test[double](<double*>cnp.PyArray_DATA(x), <double*>cnp.PyArray_DATA(out),
                                 <double*>cnp.PyArray_DATA(gamma), <double*>cnp.PyArray_DATA(beta),
                                 <double*>cnp.PyArray_DATA(running_mean), <double*>cnp.PyArray_DATA(scale),
                                 <double*>cnp.PyArray_DATA(running_var), N, D)
    else:
        with nogil:
            forward_test[float](<float*>cnp.PyArray_DATA(x), <double*>cnp.PyArray_DATA(out),
                                <float*>cnp.PyArray_DATA(gamma), <float*>cnp.PyArray_DATA(beta),
                                <double*>cnp.PyArray_DATA(running_mean), <double*>cnp.PyArray_DATA(scale),
                                <double*>cnp.PyArray_DATA(running_var), N, D)
    return out


def backward_kernel(object dout_, object xc_, object xn_, object std_, object gamma_, tuple spare=()):
    """Backward pass; returns ``(dx, dgamma, dbeta)``.

    ``None`` where the kernel does not apply: dout not C-contiguous
    float32/float64 ``(N, D)`` with N >= 1, D >= 2, or xc, xn, std, gamma
    not C-contiguous arrays of dout's dtype shaped ``(N, D)``, ``(N, D)``,
    ``(D,)``, ``(D,)``. ``spare`` as in ``forward_train_kernel``.
    """
    cdef int t = float_type(dout_)
    if t < 0 or cnp.PyArray_NDIM(<cnp.ndarray>dout_) != 2:
        return None
    cdef Py_ssize_t N = cnp.PyArray_DIM(<cnp.ndarray>dout_, 0), D = cnp.PyArray_DIM(<cnp.ndarray>dout_, 1)
    if (N < 1 or D < 2 or not fits(dout_, t, 2, N, D) or not fits(xc_, t, 2, N, D)
            or not fits(xn_, t, 2, N, D) or not fits(std_, t, 1, D, 0) or not fits(gamma_, t, 1, D, 0)):
        return None
    cdef cnp.ndarray dout = <cnp.ndarray>dout_
    cdef cnp.ndarray xc = <cnp.ndarray>xc_
    cdef cnp.ndarray xn = <cnp.ndarray>xn_
    cdef cnp.ndarray std = <cnp.ndarray>std_
    cdef cnp.ndarray gamma = <cnp.ndarray>gamma_
    cdef list spares = usable_spares(spare, (dout_, xc_, xn_, std_, gamma_), t, N, D)
    cdef cnp.ndarray dx = spares.pop(0) if spares else empty(2, N, D, t)
    cdef cnp.ndarray dgamma = empty(1, D, 0, t)
    cdef cnp.ndarray dbeta = empty(1, D, 0, t)
    cdef cnp.ndarray work = empty(1, 3 * D, 0, t)
    if t == cnp.NPY_FLOAT64:
        with nogil:
            backward[double](<double*>cnp.PyArray_DATA(dout), <double*>cnp.PyArray_DATA(xc),
                             <double*>cnp.PyArray_DATA(xn), <double*>cnp.PyArray_DATA(std),
                             <double*>cnp.PyArray_DATA(gamma), <double*>cnp.PyArray_DATA(dx),
                             <double*>cnp.PyArray_DATA(dgamma), <double*>cnp.PyArray_DATA(dbeta),
                             <double*>cnp.PyArray_DATA(work), N, D)
    else:
        with nogil:
            backward[float](<float*>cnp.PyArray_DATA(dout), <float*>cnp.PyArray_DATA(xc),
                            <float*>cnp.PyArray_DATA(xn), <float*>cnp.PyArray_DATA(std),
                            <float*>cnp.PyArray_DATA(gamma), <float*>cnp.PyArray_DATA(dx),
                            <float*>cnp.PyArray_DATA(dgamma), <float*>cnp.PyArray_DATA(dbeta),
                            <float*>cnp.PyArray_DATA(work), N, D)
    return dx, dgamma, dbeta

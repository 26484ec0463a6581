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
# rows. The backward pass's three column sums share one sweep too (12 row
# streams), but only where the four rows of a block fall into different L1
# sets (`rows_spread_over_sets`): the L1 indexes sets by address mod 4 KiB,
# and rows (nearly) a multiple of 4 KiB apart would evict one another;
# there it runs one loop per column sum on the block, which it then reads
# from cache. bench/bench_layers.py measures the passes against the reference.
#
# Every output is a new array; nothing the caller holds is written.
#
# The `def` wrappers take plain objects rather than typed memoryviews: at
# the book's size (100 x 100) the acquisition of a memoryview per argument
# costs a large share of a call. They decide in C whether the kernel
# applies (dtype, shape, contiguity of every argument) and return None,
# having written nothing, where it does not (fastdl/_kernels/README.md);
# no call can make a kernel read out of bounds. batchnorm.pyx and
# batchnorm_avx2.pyx (x86-64 only, built with AVX2) include this file.
from cython cimport floating
from libc.math cimport sqrt

cimport numpy as cnp

from fastdl._kernels.common cimport float_type, root

cnp.import_array()


cdef inline void add_rows(floating* acc,                   # IN/OUT (D,)
                          const floating* a,                # IN  (rows, D)
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


cdef void forward_train_pass(const floating* x,                  # IN  (N, D)
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


cdef void update_running_same_dtype(const floating* old,     # IN  (D,) running statistic, x's dtype
                                    const floating* new,     # IN  (D,) batch statistic
                                    floating* updated,       # OUT (D,) a new array
                                    Py_ssize_t D, floating momentum, floating one_minus_momentum) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(D):
        # momentum * running_mean + (1 - momentum) * mu, all in x's dtype (a float32 network's
        # running statistics are float32).
        updated[j] = momentum * old[j] + one_minus_momentum * new[j]


cdef void forward_test_pass(const floating* x,                  # IN  (N, D)
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


cdef void backward_pass(const floating* dout,                    # IN  (N, D)
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
    if float_type(a) != typenum:
        return False
    cdef cnp.ndarray arr = <cnp.ndarray>a
    return (cnp.PyArray_TYPE(arr) == typenum and cnp.PyArray_NDIM(arr) == ndim
            and cnp.PyArray_DIM(arr, 0) == n0 and (ndim == 1 or cnp.PyArray_DIM(arr, 1) == n1))


cdef cnp.ndarray empty(int ndim, Py_ssize_t n0, Py_ssize_t n1, int typenum):
    cdef cnp.npy_intp dims[2]
    dims[0] = n0
    dims[1] = n1
    return cnp.PyArray_EMPTY(ndim, dims, typenum, 0)


cdef inline floating* data(cnp.ndarray a, floating* like) noexcept:
    """``a``'s data as the pointer type of ``like``."""
    return <floating*>cnp.PyArray_DATA(a)


cdef inline double* data64(cnp.ndarray a) noexcept:
    return <double*>cnp.PyArray_DATA(a)


cdef int forward_type(object x_, object gamma_, object beta_,
                      object running_mean_, object running_var_, int running_type=cnp.NPY_FLOAT64):
    """x's NumPy type number if the forward kernels apply to these arguments, with running
    statistics of ``running_type``, else -1."""
    cdef int t = float_type(x_)
    if t < 0 or cnp.PyArray_NDIM(<cnp.ndarray>x_) != 2:
        return -1
    cdef Py_ssize_t N = cnp.PyArray_DIM(<cnp.ndarray>x_, 0), D = cnp.PyArray_DIM(<cnp.ndarray>x_, 1)
    if (N < 1 or D < 2 or not fits(gamma_, t, 1, D, 0) or not fits(beta_, t, 1, D, 0)
            or not fits(running_mean_, running_type, 1, D, 0)
            or not fits(running_var_, running_type, 1, D, 0)):
        return -1
    return t


cdef void train_arrays(floating* x_data, cnp.ndarray xc, cnp.ndarray xn, cnp.ndarray out,
                       cnp.ndarray gamma, cnp.ndarray beta, cnp.ndarray stats, cnp.ndarray std,
                       cnp.ndarray running_mean, cnp.ndarray running_var,
                       cnp.ndarray new_mean, cnp.ndarray new_var,
                       double momentum, double one_minus_momentum) noexcept:
    cdef Py_ssize_t N = cnp.PyArray_DIM(xc, 0), D = cnp.PyArray_DIM(xc, 1)
    cdef floating* xc_data = data(xc, x_data)
    cdef floating* xn_data = data(xn, x_data)
    cdef floating* out_data = data(out, x_data)
    cdef floating* gamma_data = data(gamma, x_data)
    cdef floating* beta_data = data(beta, x_data)
    cdef floating* stats_data = data(stats, x_data)        # mu, then var
    cdef floating* std_data = data(std, x_data)
    # The running statistics: float64, or x's dtype (same_dtype)
    cdef bint same_dtype = cnp.PyArray_TYPE(running_mean) == cnp.PyArray_TYPE(xc)
    cdef void* running_mean_data = cnp.PyArray_DATA(running_mean)
    cdef void* running_var_data = cnp.PyArray_DATA(running_var)
    cdef void* new_mean_data = cnp.PyArray_DATA(new_mean)
    cdef void* new_var_data = cnp.PyArray_DATA(new_var)
    with nogil:
        forward_train_pass(x_data, xc_data, xn_data, out_data, gamma_data, beta_data,
                           stats_data, stats_data + D, std_data, N, D)
        if same_dtype:
            update_running_same_dtype(<floating*>running_mean_data, stats_data, <floating*>new_mean_data, D,
                                      <floating>momentum, <floating>one_minus_momentum)
            update_running_same_dtype(<floating*>running_var_data, stats_data + D, <floating*>new_var_data, D,
                                      <floating>momentum, <floating>one_minus_momentum)
        else:
            update_running(<double*>running_mean_data, stats_data, <double*>new_mean_data, D, momentum,
                           <floating>one_minus_momentum)
            update_running(<double*>running_var_data, stats_data + D, <double*>new_var_data, D, momentum,
                           <floating>one_minus_momentum)


def forward_train(object x_, object gamma_, object beta_,
                  object running_mean_, object running_var_,
                  double momentum, double one_minus_momentum):
    """Training-mode forward pass of a C-contiguous ``(N, D)`` float array.

    Returns ``(out, xc, xn, std, running_mean, running_var)``, all new
    arrays (the running statistics of the given ones' dtype), or ``None``
    where the kernel does not apply: x not C-contiguous float32/float64
    with N >= 1 and D >= 2, gamma/beta not C-contiguous ``(D,)`` arrays of
    x's dtype, running statistics not C-contiguous ``(D,)`` float64 or, for
    float32 x, float32.
    """
    # float32 statistics for float32 x only (a float32 network's layer); float64 otherwise
    cdef int running_type = (cnp.NPY_FLOAT32 if float_type(x_) == cnp.NPY_FLOAT32
                             and float_type(running_mean_) == cnp.NPY_FLOAT32 else cnp.NPY_FLOAT64)
    cdef int t = forward_type(x_, gamma_, beta_, running_mean_, running_var_, running_type)
    if t < 0:
        return None
    cdef cnp.ndarray x = x_, gamma = gamma_, beta = beta_
    cdef cnp.ndarray running_mean = running_mean_, running_var = running_var_
    cdef Py_ssize_t N = cnp.PyArray_DIM(x, 0), D = cnp.PyArray_DIM(x, 1)
    cdef cnp.ndarray xc = empty(2, N, D, t)
    cdef cnp.ndarray xn = empty(2, N, D, t)
    cdef cnp.ndarray out = empty(2, N, D, t)
    cdef cnp.ndarray stats = empty(1, 2 * D, 0, t)        # mu, var
    cdef cnp.ndarray std = empty(1, D, 0, t)
    cdef cnp.ndarray new_mean = empty(1, D, 0, running_type)
    cdef cnp.ndarray new_var = empty(1, D, 0, running_type)
    if t == cnp.NPY_FLOAT64:
        train_arrays(<double*>cnp.PyArray_DATA(x), xc, xn, out, gamma, beta, stats, std,
                     running_mean, running_var, new_mean, new_var, momentum, one_minus_momentum)
    else:
        train_arrays(<float*>cnp.PyArray_DATA(x), xc, xn, out, gamma, beta, stats, std,
                     running_mean, running_var, new_mean, new_var, momentum, one_minus_momentum)
    return out, xc, xn, std, new_mean, new_var


cdef void test_arrays(floating* x_data, cnp.ndarray out, cnp.ndarray gamma, cnp.ndarray beta,
                      cnp.ndarray running_mean, cnp.ndarray scale, cnp.ndarray running_var) noexcept:
    cdef Py_ssize_t N = cnp.PyArray_DIM(out, 0), D = cnp.PyArray_DIM(out, 1)
    cdef double* out_data = data64(out)
    cdef floating* gamma_data = data(gamma, x_data)
    cdef floating* beta_data = data(beta, x_data)
    cdef double* running_mean_data = data64(running_mean)
    cdef double* scale_data = data64(scale)
    cdef double* running_var_data = data64(running_var)
    with nogil:
        forward_test_pass(x_data, out_data, gamma_data, beta_data, running_mean_data, scale_data,
                          running_var_data, N, D)


def forward_test(object x_, object gamma_, object beta_,
                 object running_mean_, object running_var_):
    """Test-mode forward pass; the output is float64 as the reference's is.

    ``None`` where the kernel does not apply (as ``forward_train``).
    """
    cdef int t = forward_type(x_, gamma_, beta_, running_mean_, running_var_)
    if t < 0:
        return None
    cdef cnp.ndarray x = x_, gamma = gamma_, beta = beta_
    cdef cnp.ndarray running_mean = running_mean_, running_var = running_var_
    cdef Py_ssize_t N = cnp.PyArray_DIM(x, 0), D = cnp.PyArray_DIM(x, 1)
    cdef cnp.ndarray out = empty(2, N, D, cnp.NPY_FLOAT64)
    cdef cnp.ndarray scale = empty(1, D, 0, cnp.NPY_FLOAT64)
    if t == cnp.NPY_FLOAT64:
        test_arrays(<double*>cnp.PyArray_DATA(x), out, gamma, beta, running_mean, scale, running_var)
    else:
        test_arrays(<float*>cnp.PyArray_DATA(x), out, gamma, beta, running_mean, scale, running_var)
    return out


cdef void backward_arrays(floating* dout_data, cnp.ndarray xc, cnp.ndarray xn, cnp.ndarray std,
                          cnp.ndarray gamma, cnp.ndarray dx, cnp.ndarray dgamma, cnp.ndarray dbeta,
                          cnp.ndarray work) noexcept:
    cdef Py_ssize_t N = cnp.PyArray_DIM(dx, 0), D = cnp.PyArray_DIM(dx, 1)
    cdef floating* xc_data = data(xc, dout_data)
    cdef floating* xn_data = data(xn, dout_data)
    cdef floating* std_data = data(std, dout_data)
    cdef floating* gamma_data = data(gamma, dout_data)
    cdef floating* dx_data = data(dx, dout_data)
    cdef floating* dgamma_data = data(dgamma, dout_data)
    cdef floating* dbeta_data = data(dbeta, dout_data)
    cdef floating* work_data = data(work, dout_data)
    with nogil:
        backward_pass(dout_data, xc_data, xn_data, std_data, gamma_data, dx_data, dgamma_data,
                      dbeta_data, work_data, N, D)


def backward(object dout_, object xc_, object xn_, object std_, object gamma_):
    """Backward pass; returns ``(dx, dgamma, dbeta)``, new arrays.

    ``None`` where the kernel does not apply: dout not C-contiguous
    float32/float64 ``(N, D)`` with N >= 1, D >= 2, or xc, xn, std, gamma
    not C-contiguous arrays of dout's dtype shaped ``(N, D)``, ``(N, D)``,
    ``(D,)``, ``(D,)``.
    """
    cdef int t = float_type(dout_)
    if t < 0 or cnp.PyArray_NDIM(<cnp.ndarray>dout_) != 2:
        return None
    cdef cnp.ndarray dout = <cnp.ndarray>dout_
    cdef Py_ssize_t N = cnp.PyArray_DIM(dout, 0), D = cnp.PyArray_DIM(dout, 1)
    if (N < 1 or D < 2 or not fits(xc_, t, 2, N, D) or not fits(xn_, t, 2, N, D)
            or not fits(std_, t, 1, D, 0) or not fits(gamma_, t, 1, D, 0)):
        return None
    cdef cnp.ndarray xc = xc_, xn = xn_, std = std_, gamma = gamma_
    cdef cnp.ndarray dx = empty(2, N, D, t)
    cdef cnp.ndarray dgamma = empty(1, D, 0, t)
    cdef cnp.ndarray dbeta = empty(1, D, 0, t)
    cdef cnp.ndarray work = empty(1, 3 * D, 0, t)
    if t == cnp.NPY_FLOAT64:
        backward_arrays(<double*>cnp.PyArray_DATA(dout), xc, xn, std, gamma, dx, dgamma, dbeta, work)
    else:
        backward_arrays(<float*>cnp.PyArray_DATA(dout), xc, xn, std, gamma, dx, dgamma, dbeta, work)
    return dx, dgamma, dbeta

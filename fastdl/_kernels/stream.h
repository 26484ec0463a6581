/* Rows of BatchNormalization's elementwise passes written with
 * non-temporal (streaming) stores, for arrays far larger than the caches:
 * an ordinary store first reads the line it writes, a streaming store does
 * not, which saves one pass over memory per array written.
 *
 * The arithmetic is batchnorm.pyx's, operation by operation, in SSE2
 * (every x86-64 CPU has it): each result is the same IEEE operation on the
 * same operands, so rows are bit-identical to the plain loops. Elsewhere
 * FASTDL_STREAM_STORES is 0 and batchnorm.pyx keeps its plain loops.
 * After a run of rows the caller issues fastdl_stream_fence() so the
 * stores are visible before the arrays are returned. */
#ifndef FASTDL_STREAM_H
#define FASTDL_STREAM_H

#include <stddef.h>
#include <stdint.h>

#if defined(__SSE2__) || defined(_M_X64)
#define FASTDL_STREAM_STORES 1
#include <emmintrin.h>

static inline void fastdl_stream_fence(void) { _mm_sfence(); }

/* Leading elements until p + j is 16-byte aligned (at most n). */
#define FASTDL_HEAD(p, n, size) \
    ((ptrdiff_t)(((16 - ((uintptr_t)(p) & 15)) & 15) / (size)) < (n) \
     ? (ptrdiff_t)(((16 - ((uintptr_t)(p) & 15)) & 15) / (size)) : (n))

/* xc = x - mu; acc += xc * xc, one row. */
static void fastdl_center_row_f64(const double *x, double *xc, const double *mu, double *acc, ptrdiff_t D)
{
    ptrdiff_t j = 0, head = FASTDL_HEAD(xc, D, sizeof(double));
    for (; j < head; j++) {
        double t = x[j] - mu[j];
        xc[j] = t;
        acc[j] = acc[j] + t * t;
    }
    for (; j + 2 <= D; j += 2) {
        __m128d t = _mm_sub_pd(_mm_loadu_pd(x + j), _mm_loadu_pd(mu + j));
        _mm_stream_pd(xc + j, t);
        _mm_storeu_pd(acc + j, _mm_add_pd(_mm_loadu_pd(acc + j), _mm_mul_pd(t, t)));
    }
    for (; j < D; j++) {
        double t = x[j] - mu[j];
        xc[j] = t;
        acc[j] = acc[j] + t * t;
    }
}

static void fastdl_center_row_f32(const float *x, float *xc, const float *mu, float *acc, ptrdiff_t D)
{
    ptrdiff_t j = 0, head = FASTDL_HEAD(xc, D, sizeof(float));
    for (; j < head; j++) {
        float t = x[j] - mu[j];
        xc[j] = t;
        acc[j] = acc[j] + t * t;
    }
    for (; j + 4 <= D; j += 4) {
        __m128 t = _mm_sub_ps(_mm_loadu_ps(x + j), _mm_loadu_ps(mu + j));
        _mm_stream_ps(xc + j, t);
        _mm_storeu_ps(acc + j, _mm_add_ps(_mm_loadu_ps(acc + j), _mm_mul_ps(t, t)));
    }
    for (; j < D; j++) {
        float t = x[j] - mu[j];
        xc[j] = t;
        acc[j] = acc[j] + t * t;
    }
}

/* xn = xc / std; out = gamma * xn + beta, one row. */
static void fastdl_normalize_row_f64(const double *xc, double *xn, double *out, const double *std,
                                     const double *gamma, const double *beta, ptrdiff_t D)
{
    ptrdiff_t j = 0, head = FASTDL_HEAD(xn, D, sizeof(double));
    int aligned = (((uintptr_t)(xn + head) | (uintptr_t)(out + head)) & 15) == 0;
    if (aligned) {
        for (; j < head; j++) {
            double t = xc[j] / std[j];
            xn[j] = t;
            out[j] = gamma[j] * t + beta[j];
        }
        for (; j + 2 <= D; j += 2) {
            __m128d t = _mm_div_pd(_mm_loadu_pd(xc + j), _mm_loadu_pd(std + j));
            _mm_stream_pd(xn + j, t);
            _mm_stream_pd(out + j, _mm_add_pd(_mm_mul_pd(_mm_loadu_pd(gamma + j), t), _mm_loadu_pd(beta + j)));
        }
    }
    for (; j < D; j++) {
        double t = xc[j] / std[j];
        xn[j] = t;
        out[j] = gamma[j] * t + beta[j];
    }
}

static void fastdl_normalize_row_f32(const float *xc, float *xn, float *out, const float *std,
                                     const float *gamma, const float *beta, ptrdiff_t D)
{
    ptrdiff_t j = 0, head = FASTDL_HEAD(xn, D, sizeof(float));
    int aligned = (((uintptr_t)(xn + head) | (uintptr_t)(out + head)) & 15) == 0;
    if (aligned) {
        for (; j < head; j++) {
            float t = xc[j] / std[j];
            xn[j] = t;
            out[j] = gamma[j] * t + beta[j];
        }
        for (; j + 4 <= D; j += 4) {
            __m128 t = _mm_div_ps(_mm_loadu_ps(xc + j), _mm_loadu_ps(std + j));
            _mm_stream_ps(xn + j, t);
            _mm_stream_ps(out + j, _mm_add_ps(_mm_mul_ps(_mm_loadu_ps(gamma + j), t), _mm_loadu_ps(beta + j)));
        }
    }
    for (; j < D; j++) {
        float t = xc[j] / std[j];
        xn[j] = t;
        out[j] = gamma[j] * t + beta[j];
    }
}

/* dxc = (gamma * dout) / std + (two_over_n * xc) * dvar, one row;
 * dmu += dxc. */
static void fastdl_dxc_row_f64(double *dxc, double *dmu, const double *dout, const double *xc,
                               const double *gamma, const double *std, const double *dvar,
                               double two_over_n, ptrdiff_t D)
{
    ptrdiff_t j = 0, head = FASTDL_HEAD(dxc, D, sizeof(double));
    __m128d c = _mm_set1_pd(two_over_n);
    for (; j < head; j++) {
        double t = (gamma[j] * dout[j]) / std[j] + (two_over_n * xc[j]) * dvar[j];
        dxc[j] = t;
        dmu[j] = dmu[j] + t;
    }
    for (; j + 2 <= D; j += 2) {
        __m128d t = _mm_add_pd(
            _mm_div_pd(_mm_mul_pd(_mm_loadu_pd(gamma + j), _mm_loadu_pd(dout + j)), _mm_loadu_pd(std + j)),
            _mm_mul_pd(_mm_mul_pd(c, _mm_loadu_pd(xc + j)), _mm_loadu_pd(dvar + j)));
        _mm_stream_pd(dxc + j, t);
        _mm_storeu_pd(dmu + j, _mm_add_pd(_mm_loadu_pd(dmu + j), t));
    }
    for (; j < D; j++) {
        double t = (gamma[j] * dout[j]) / std[j] + (two_over_n * xc[j]) * dvar[j];
        dxc[j] = t;
        dmu[j] = dmu[j] + t;
    }
}

static void fastdl_dxc_row_f32(float *dxc, float *dmu, const float *dout, const float *xc,
                               const float *gamma, const float *std, const float *dvar,
                               float two_over_n, ptrdiff_t D)
{
    ptrdiff_t j = 0, head = FASTDL_HEAD(dxc, D, sizeof(float));
    __m128 c = _mm_set1_ps(two_over_n);
    for (; j < head; j++) {
        float t = (gamma[j] * dout[j]) / std[j] + (two_over_n * xc[j]) * dvar[j];
        dxc[j] = t;
        dmu[j] = dmu[j] + t;
    }
    for (; j + 4 <= D; j += 4) {
        __m128 t = _mm_add_ps(
            _mm_div_ps(_mm_mul_ps(_mm_loadu_ps(gamma + j), _mm_loadu_ps(dout + j)), _mm_loadu_ps(std + j)),
            _mm_mul_ps(_mm_mul_ps(c, _mm_loadu_ps(xc + j)), _mm_loadu_ps(dvar + j)));
        _mm_stream_ps(dxc + j, t);
        _mm_storeu_ps(dmu + j, _mm_add_ps(_mm_loadu_ps(dmu + j), t));
    }
    for (; j < D; j++) {
        float t = (gamma[j] * dout[j]) / std[j] + (two_over_n * xc[j]) * dvar[j];
        dxc[j] = t;
        dmu[j] = dmu[j] + t;
    }
}

#else
#define FASTDL_STREAM_STORES 0
static inline void fastdl_stream_fence(void) {}
static void fastdl_center_row_f64(const double *x, double *xc, const double *mu, double *acc, ptrdiff_t D) {}
static void fastdl_center_row_f32(const float *x, float *xc, const float *mu, float *acc, ptrdiff_t D) {}
static void fastdl_normalize_row_f64(const double *xc, double *xn, double *out, const double *std,
                                     const double *gamma, const double *beta, ptrdiff_t D) {}
static void fastdl_normalize_row_f32(const float *xc, float *xn, float *out, const float *std,
                                     const float *gamma, const float *beta, ptrdiff_t D) {}
static void fastdl_dxc_row_f64(double *dxc, double *dmu, const double *dout, const double *xc,
                               const double *gamma, const double *std, const double *dvar,
                               double two_over_n, ptrdiff_t D) {}
static void fastdl_dxc_row_f32(float *dxc, float *dmu, const float *dout, const float *xc,
                               const float *gamma, const float *std, const float *dvar,
                               float two_over_n, ptrdiff_t D) {}
#endif

#endif

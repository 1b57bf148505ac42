/* Engine internals shared by the csrc/ files: the per-CPU dispatch macro,
 * a vectorizable exp for float and double, and the kernel declarations.
 *
 * Precision templating: each kernel file is compiled once per REAL through
 * template.h (REAL = float, S(name) = name##_f; REAL = double, name##_d).
 */
#ifndef MLPX_ENGINE_H
#define MLPX_ENGINE_H

#include <stdint.h>
#include <string.h>
#include "mlpx.h"

/* Elementwise kernels get per-CPU variants chosen at load time (no
 * -march=native needed). The vector exp below is inlined into each. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(MLPX_NO_CLONES)
#define MLPX_CLONES __attribute__((target_clones("default", "arch=x86-64-v3", "arch=x86-64-v4")))
#else
#define MLPX_CLONES
#endif

#if defined(__GNUC__)
#define MLPX_INLINE static inline __attribute__((always_inline))
#else
#define MLPX_INLINE static inline
#endif

/* q(r) = (exp(r) - 1 - r) / r^2 = 1/2 + r/6 + ... + r^11/13!, the Taylor
 * tail used by exp and expm1 below (truncation < 2e-17 for |r| <= ln2/2). */
MLPX_INLINE double mlpx_exp_tail_d(double r)
{
    double q = 1.0 / 6227020800.0;
    q = q * r + 1.0 / 479001600.0;
    q = q * r + 1.0 / 39916800.0;
    q = q * r + 1.0 / 3628800.0;
    q = q * r + 1.0 / 362880.0;
    q = q * r + 1.0 / 40320.0;
    q = q * r + 1.0 / 5040.0;
    q = q * r + 1.0 / 720.0;
    q = q * r + 1.0 / 120.0;
    q = q * r + 1.0 / 24.0;
    q = q * r + 1.0 / 6.0;
    return q * r + 0.5;
}

/* The same tail for float, to r^5/7! (truncation < 6e-9). */
MLPX_INLINE float mlpx_exp_tail_f(float r)
{
    float q = 1.0f / 5040.0f;
    q = q * r + 1.0f / 720.0f;
    q = q * r + 1.0f / 120.0f;
    q = q * r + 1.0f / 24.0f;
    q = q * r + 1.0f / 6.0f;
    return q * r + 0.5f;
}

/* exp(x) for double, vectorizable (no libm call, no branches).
 * Cody-Waite: k = round(x log2 e), r = x - k ln2 (ln2 in two parts), |r| <=
 * ln2/2; exp(r) = 1 + (r + r^2 q(r)), the small tail added before the 1
 * (max error 0.95 ulp, ~90% correctly rounded); 2^k built from exponent bits
 * in two factors 2^k1 2^k2 (k1 + k2 = k) so that subnormal results are
 * rounded once and large x overflows to inf. Input clamped to [-746, 710]:
 * beyond, exp is 0 or inf anyway. */
MLPX_INLINE double mlpx_exp_d(double x)
{
    const double shift = 6755399441055744.0; /* 1.5 * 2^52 */
    x = x < -746.0 ? -746.0 : x;
    x = x > 710.0 ? 710.0 : x;
    double kd = (x * 1.44269504088896338700e+00 + shift) - shift;
    double r = x - kd * 6.93147180369123816490e-01; /* ln2 high part, exact */
    r = r - kd * 1.90821492927058770002e-10;        /* ln2 low part */
    double p = 1.0 + (r + (r * r) * mlpx_exp_tail_d(r));
    /* k1 = round(k / 2), k2 = k - k1; bits of (shift + m) = bits(shift) + m,
     * and bits(shift) << 52 vanishes, so (bits + 1023) << 52 = 2^m. */
    double z1 = kd * 0.5 + shift;
    double z2 = (kd - (z1 - shift)) + shift;
    uint64_t b1, b2;
    double s1, s2;
    memcpy(&b1, &z1, 8);
    memcpy(&b2, &z2, 8);
    b1 = (b1 + 1023) << 52;
    b2 = (b2 + 1023) << 52;
    memcpy(&s1, &b1, 8);
    memcpy(&s2, &b2, 8);
    return (p * s1) * s2;
}

/* exp(x) for float, same scheme: ln2 split 0.693359375 + -2.12194440e-4,
 * input clamped to [-104, 89]; max error 1.0 ulp. */
MLPX_INLINE float mlpx_exp_f(float x)
{
    const float shift = 12582912.0f; /* 1.5 * 2^23 */
    x = x < -104.0f ? -104.0f : x;
    x = x > 89.0f ? 89.0f : x;
    float kd = (x * 1.44269504088896341f + shift) - shift;
    float r = x - kd * 0.693359375f;
    r = r - kd * -2.12194440e-4f;
    float p = 1.0f + (r + (r * r) * mlpx_exp_tail_f(r));
    float z1 = kd * 0.5f + shift;
    float z2 = (kd - (z1 - shift)) + shift;
    uint32_t b1, b2;
    float s1, s2;
    memcpy(&b1, &z1, 4);
    memcpy(&b2, &z2, 4);
    b1 = (b1 + 127u) << 23;
    b2 = (b2 + 127u) << 23;
    memcpy(&s1, &b1, 4);
    memcpy(&s2, &b2, 4);
    return (p * s1) * s2;
}

/* expm1(y) = y + y^2 q(y) for |y| <= ln2/2 (used by tanh near 0). */
MLPX_INLINE double mlpx_expm1_small_d(double y)
{
    return y + (y * y) * mlpx_exp_tail_d(y);
}

MLPX_INLINE float mlpx_expm1_small_f(float y)
{
    return y + (y * y) * mlpx_exp_tail_f(y);
}

#define MLPX_DECLARE_KERNELS(REAL, S)                                          \
    /* blas.c: row-major C (M, N) = alpha op(A) op(B) + beta C,                \
     * op(A) (M, Kd), op(B) (Kd, N); ta/tb nonzero = transpose. */             \
    void mlpx_gemm_##S(int ta, int tb, int64_t M, int64_t N, int64_t Kd,       \
                       REAL alpha, const REAL *A, int64_t lda, const REAL *B,  \
                       int64_t ldb, REAL beta, REAL *C, int64_t ldc);          \
    /* activations.c */                                                        \
    void mlpx_bias_act_##S(REAL *H, const REAL *b, int64_t N, int64_t O,       \
                           int act);                                           \
    void mlpx_act_deriv_##S(REAL *Z, const REAL *G, int64_t N, int64_t F,      \
                            int act);                                          \
    /* loss.c */                                                               \
    void mlpx_softmax_##S(REAL *H, const REAL *b, int64_t N, int64_t O);       \
    double mlpx_output_loss_##S(REAL *H, const REAL *b, const REAL *Y,         \
                                const REAL *sw, int64_t N, int64_t O,          \
                                int out_act);                                  \
    /* forward.c */                                                            \
    void mlpx_forward_batch_##S(const mlpx_net *net, const REAL *const *W,     \
                                const REAL *const *b, const REAL *X,           \
                                int64_t N, REAL *const *Z, int out_pass);      \
    /* backward.c */                                                           \
    double mlpx_batch_grad_##S(const mlpx_net *net, const REAL *const *W,      \
                               const REAL *const *b, const REAL *X,            \
                               const REAL *Y, const REAL *sw, int64_t N,       \
                               double alpha, double sq, int finish,            \
                               REAL *const *Z, REAL *tmp, REAL *const *dW,     \
                               REAL *const *db, REAL *s_out,                   \
                               REAL *const *Wsgd, REAL lr);                    \
    /* optim.c */                                                              \
    double mlpx_sum_squares_##S(const REAL *w, int64_t n);                     \
    void mlpx_sgd_##S(REAL *p, const REAL *G, REAL *v, int64_t n, REAL alpha,  \
                      REAL s, REAL lr, REAL mu, int nesterov);                 \
    void mlpx_adam_##S(REAL *p, const REAL *G, REAL *m, REAL *v, int64_t n,    \
                       REAL alpha, REAL s, REAL b1, REAL c1, REAL b2, REAL c2, \
                       double lr_t, REAL eps);

MLPX_DECLARE_KERNELS(float, f)
MLPX_DECLARE_KERNELS(double, d)

#endif

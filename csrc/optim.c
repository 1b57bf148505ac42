/* Optimizer updates, in place, same operation order as the NumPy twin (so
 * float64 results agree to rounding and float32 stays float32).
 *
 * Precision template (template.h): the body below is compiled once per REAL.
 */
#ifndef REAL
#include <math.h>
#include "engine.h"
#define MLPX_TEMPLATE "optim.c"
#include "template.h"
#else

/* sum_j w_j^2 for w (n,), in double with 8 interleaved partial sums (a fixed
 * order that vectorizes). */
double ISA(mlpx_sum_squares)(const REAL *restrict w, int64_t n)
{
    double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t j = 0;
    for (; j + 8 <= n; j += 8)
        for (int l = 0; l < 8; l++) acc[l] += (double)w[j + l] * (double)w[j + l];
    for (int l = 0; j < n; j++, l++) acc[l] += (double)w[j] * (double)w[j];
    return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* The optimizers below take the raw gradient G (Z^T D, or the column sums of
 * D for an intercept) and finish it inline, as the NumPy twin does in a
 * separate pass: g = (G + alpha p) / s  (alpha = 0 for intercepts). When s is
 * a power of two (batch sizes 32, 256, ...), x / s == x * (1 / s) exactly,
 * and the cheaper multiply is used. */
MLPX_INLINE REAL S(finish)(REAL G, REAL p, REAL alpha, REAL s, REAL inv, int pow2)
{
    return pow2 ? (G + alpha * p) * inv : (G + alpha * p) / s;
}

static int S(is_pow2)(REAL s)
{
    int e;
    return frexp((double)s, &e) == 0.5;
}

/* SGD with momentum on n values: v = mu v - lr g;
 * p += (mu v - lr g) if nesterov else v. */
MLPX_INLINE void S(sgd_loop)(REAL *restrict p, const REAL *restrict G,
                             REAL *restrict v, int64_t n, REAL alpha, REAL s,
                             REAL lr, REAL mu, int nesterov, int pow2)
{
    const REAL inv = 1 / s;
    if (nesterov) {
        for (int64_t j = 0; j < n; j++) {
            REAL step = lr * S(finish)(G[j], p[j], alpha, s, inv, pow2);
            REAL vj = v[j] * mu - step;
            v[j] = vj;
            p[j] = p[j] + (mu * vj - step);
        }
    } else {
        for (int64_t j = 0; j < n; j++) {
            REAL vj = v[j] * mu - lr * S(finish)(G[j], p[j], alpha, s, inv, pow2);
            v[j] = vj;
            p[j] = p[j] + vj;
        }
    }
}

void ISA(mlpx_sgd)(REAL *restrict p, const REAL *restrict G, REAL *restrict v,
                   int64_t n, REAL alpha, REAL s, REAL lr, REAL mu, int nesterov)
{
    if (S(is_pow2)(s))
        S(sgd_loop)(p, G, v, n, alpha, s, lr, mu, nesterov, 1);
    else
        S(sgd_loop)(p, G, v, n, alpha, s, lr, mu, nesterov, 0);
}

/* Adam on n values, c1 = 1 - b1, c2 = 1 - b2, lr_t = lr sqrt(1 - b2^t) /
 * (1 - b1^t):  m = b1 m + c1 g;  v = b2 v + c2 g^2;
 * p += -lr_t m / (sqrt(v) + eps).  The update is formed in double (as NumPy
 * does: lr_t is a float64 scalar) and rounded once into p. */
MLPX_INLINE void S(adam_loop)(REAL *restrict p, const REAL *restrict G,
                              REAL *restrict m, REAL *restrict v, int64_t n,
                              REAL alpha, REAL s, REAL b1, REAL c1, REAL b2,
                              REAL c2, double lr_t, REAL eps, int pow2)
{
    const double neg_lr_t = -lr_t;
    const REAL inv = 1 / s;
    for (int64_t j = 0; j < n; j++) {
        REAL g = S(finish)(G[j], p[j], alpha, s, inv, pow2);
        REAL mj = m[j] * b1 + c1 * g;
        REAL vj = v[j] * b2 + c2 * (g * g);
        m[j] = mj;
        v[j] = vj;
        REAL den = (REAL)sqrt((double)vj) + eps;
        p[j] = (REAL)((double)p[j] + (neg_lr_t * (double)mj) / (double)den);
    }
}

void ISA(mlpx_adam)(REAL *restrict p, const REAL *restrict G, REAL *restrict m,
                    REAL *restrict v, int64_t n, REAL alpha, REAL s, REAL b1,
                    REAL c1, REAL b2, REAL c2, double lr_t, REAL eps)
{
    if (S(is_pow2)(s))
        S(adam_loop)(p, G, m, v, n, alpha, s, b1, c1, b2, c2, lr_t, eps, 1);
    else
        S(adam_loop)(p, G, m, v, n, alpha, s, b1, c1, b2, c2, lr_t, eps, 0);
}

#endif

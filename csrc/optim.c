/* Optimizer updates, in place, same operation order as the NumPy twin (so
 * float64 results agree to rounding and float32 stays float32).
 *
 * Precision template: this file includes itself twice, once per REAL.
 */
#ifndef REAL
#include <math.h>
#include "engine.h"
#define REAL float
#define S(name) name##_f
#include "optim.c"
#undef REAL
#undef S
#define REAL double
#define S(name) name##_d
#include "optim.c"
#undef REAL
#undef S
#else

/* SGD with momentum on n values: v = mu v - lr g;
 * p += (mu v - lr g) if nesterov else v. */
MLPX_CLONES
void S(mlpx_sgd)(REAL *restrict p, const REAL *restrict g, REAL *restrict v,
                 int64_t n, REAL lr, REAL mu, int nesterov)
{
    if (nesterov) {
        for (int64_t j = 0; j < n; j++) {
            REAL step = lr * g[j];
            REAL vj = v[j] * mu - step;
            v[j] = vj;
            p[j] = p[j] + (mu * vj - step);
        }
    } else {
        for (int64_t j = 0; j < n; j++) {
            REAL vj = v[j] * mu - lr * g[j];
            v[j] = vj;
            p[j] = p[j] + vj;
        }
    }
}

/* Adam on n values, c1 = 1 - b1, c2 = 1 - b2, lr_t = lr sqrt(1 - b2^t) /
 * (1 - b1^t):  m = b1 m + c1 g;  v = b2 v + c2 g^2;
 * p += -lr_t m / (sqrt(v) + eps).  The update is formed in double (as NumPy
 * does: lr_t is a float64 scalar) and rounded once into p. */
MLPX_CLONES
void S(mlpx_adam)(REAL *restrict p, const REAL *restrict g, REAL *restrict m,
                  REAL *restrict v, int64_t n, REAL b1, REAL c1, REAL b2,
                  REAL c2, double lr_t, REAL eps)
{
    const double neg_lr_t = -lr_t;
    for (int64_t j = 0; j < n; j++) {
        REAL mj = m[j] * b1 + c1 * g[j];
        REAL vj = v[j] * b2 + c2 * (g[j] * g[j]);
        m[j] = mj;
        v[j] = vj;
        REAL den = (REAL)sqrt((double)vj) + eps;
        p[j] = (REAL)((double)p[j] + (neg_lr_t * (double)mj) / (double)den);
    }
}

#endif

/* Output loss and output error in one pass over the output P (N, O).
 *
 * Precision template: this file includes itself twice, once per REAL.
 */
#ifndef REAL
#include <float.h>
#include <math.h>
#include "engine.h"
#define MLPX_EPS_f FLT_EPSILON
#define MLPX_EPS_d DBL_EPSILON
#define REAL float
#define S(name) name##_f
#include "loss.c"
#undef REAL
#undef S
#define REAL double
#define S(name) name##_d
#include "loss.c"
#undef REAL
#undef S
#else

/* Data term of the loss (no penalty), then P <- D = (P - Y) * sw[:, None].
 * P, Y (N, O); sw (N,) or NULL (all ones); s = N or sum(sw).
 *   logistic: -sum_n sw_n sum_o [y log p + (1-y) log(1-p)] / s
 *   softmax:  -sum_n sw_n sum_o  y log p                   / s
 *   identity: 0.5 sum_n sw_n sum_o (y - p)^2 / (s O)
 * p clipped to [eps, 1 - eps] (eps = machine epsilon of REAL) inside the
 * logs, y log p taken as 0 when y == 0 (scipy's xlogy). Accumulated in double. */
double S(mlpx_loss_error)(REAL *restrict P, const REAL *restrict Y,
                          const REAL *restrict sw, int64_t N, int64_t O,
                          int out_act)
{
    const REAL eps = S(MLPX_EPS), one_m_eps = 1 - S(MLPX_EPS);
    double total = 0, s = 0;
    for (int64_t n = 0; n < N; n++) {
        REAL *restrict p = P + n * O;
        const REAL *restrict y = Y + n * O;
        double row = 0;
        for (int64_t o = 0; o < O; o++) {
            if (out_act == MLPX_IDENTITY) {
                REAL e = y[o] - p[o];
                row += (double)(e * e);
            } else {
                REAL pc = p[o] < eps ? eps : p[o];
                pc = pc > one_m_eps ? one_m_eps : pc;
                if (y[o] != 0) row += (double)y[o] * log((double)pc);
                REAL y1 = 1 - y[o];
                if (out_act == MLPX_LOGISTIC && y1 != 0)
                    row += (double)y1 * log((double)(1 - pc));
            }
            p[o] = p[o] - y[o];
        }
        if (sw) {
            const REAL w = sw[n];
            for (int64_t o = 0; o < O; o++) p[o] = p[o] * w;
            total += row * (double)w;
            s += (double)w;
        } else {
            total += row;
        }
    }
    if (!sw) s = (double)N;
    if (out_act == MLPX_IDENTITY) return 0.5 * total / s / (double)O;
    return -total / s;
}

#endif

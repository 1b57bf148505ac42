/* The output layer: softmax, and the loss and output error of a training
 * step in one pass over the output (N, O).
 *
 * Precision template (template.h): the body below is compiled once per REAL.
 */
#ifndef REAL
#include <float.h>
#include <math.h>
#include "engine.h"
#define MLPX_EPS_f FLT_EPSILON
#define MLPX_EPS_d DBL_EPSILON
#define MLPX_TEMPLATE "loss.c"
#include "template.h"
#else

/* softmax of one row: h (O,) <- exp(h + b - m) / sum_o exp(h + b - m),
 * m = max_o (h + b), the same operation order as the NumPy twin.
 * A row whose logits overflowed (m = +-inf, from finite but huge weights)
 * gets softmax's limit instead of NaN: equal shares among the entries equal
 * to m, 0 elsewhere. */
MLPX_INLINE void S(softmax_row)(REAL *restrict h, const REAL *restrict b, int64_t O)
{
    for (int64_t o = 0; o < O; o++) h[o] = h[o] + b[o];
    REAL mx = h[0]; /* NaN-propagating max, as NumPy's */
    for (int64_t o = 1; o < O; o++) mx = (h[o] > mx || h[o] != h[o]) ? h[o] : mx;
    if (mx - mx != 0 && mx == mx) { /* m is +-inf (a NaN row stays NaN) */
        REAL count = 0;
        for (int64_t o = 0; o < O; o++) count += h[o] == mx ? 1 : 0;
        for (int64_t o = 0; o < O; o++) h[o] = h[o] == mx ? 1 / count : 0;
        return;
    }
    REAL sum = 0;
    for (int64_t o = 0; o < O; o++) {
        h[o] = S(mlpx_exp)(h[o] - mx);
        sum += h[o];
    }
    for (int64_t o = 0; o < O; o++) h[o] = h[o] / sum;
}

/* H (N, O) <- softmax of each row of H + b (b (O,) broadcast). */
MLPX_CLONES
void S(mlpx_softmax)(REAL *restrict H, const REAL *restrict b, int64_t N, int64_t O)
{
    for (int64_t n = 0; n < N; n++) S(softmax_row)(H + n * O, b, O);
}

/* One row of the loss, then p (O,) <- p - y:  returns
 *   logistic: sum_o [y log p + (1-y) log(1-p)]
 *   softmax:  sum_o  y log p
 *   identity: sum_o (y - p)^2
 * with p clipped to [eps, 1 - eps] (eps = machine epsilon of REAL) inside the
 * logs and y log p taken as 0 when y == 0 (scipy's xlogy); in double. */
MLPX_INLINE double S(row_loss_error)(REAL *restrict p, const REAL *restrict y,
                                     int64_t O, int out_act)
{
    const REAL eps = S(MLPX_EPS), one_m_eps = 1 - S(MLPX_EPS);
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
    return row;
}

/* The output layer of a training step, from its GEMM result H (N, O):
 * P = f_out(H + b) (softmax: fused with the rest, row by row), the data term
 * of the loss (no penalty), and H <- D = (P - Y) * sw[:, None].
 * Y (N, O); sw (N,) or NULL (all ones); s = N or sum(sw).
 *   logistic: -sum_n sw_n sum_o [y log p + (1-y) log(1-p)] / s
 *   softmax:  -sum_n sw_n sum_o  y log p                   / s
 *   identity: 0.5 sum_n sw_n sum_o (y - p)^2 / (s O) */
MLPX_CLONES
double S(mlpx_output_loss)(REAL *restrict H, const REAL *restrict b,
                           const REAL *restrict Y, const REAL *restrict sw,
                           int64_t N, int64_t O, int out_act)
{
    if (out_act != MLPX_SOFTMAX) S(mlpx_bias_act)(H, b, N, O, out_act);
    double total = 0, s = 0;
    for (int64_t n = 0; n < N; n++) {
        REAL *restrict p = H + n * O;
        if (out_act == MLPX_SOFTMAX) S(softmax_row)(p, b, O);
        double row = S(row_loss_error)(p, Y + n * O, O, out_act);
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

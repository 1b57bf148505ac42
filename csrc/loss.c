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

/* H (N, O) <- softmax of each row of H + b (b (O,) broadcast):
 * exp(h + b - m) / sum_o exp(h + b - m), m = max_o (h + b), the same
 * operation order as the NumPy twin. Three passes, so that the exps run in
 * one flat loop over the whole block (it vectorizes across rows, which short
 * rows such as O = 10 classes do not):
 *   (1) per row: h + b, the max m, h - m;
 *   (2) exp over all N O entries;
 *   (3) per row: the sum (in order) and the division.
 * A NaN entry makes its row's sum, so the whole row, NaN (as in NumPy).
 * A row whose logits overflowed (m = +-inf, from finite but huge weights)
 * gets softmax's limit instead of NaN: pass (1) writes 0 at the entries equal
 * to m and -inf elsewhere, so (2) gives 1 and 0 and (3) equal shares. */
MLPX_CLONES
void S(mlpx_softmax)(REAL *restrict H, const REAL *restrict b, int64_t N, int64_t O)
{
    for (int64_t n = 0; n < N; n++) {
        REAL *restrict h = H + n * O;
        for (int64_t o = 0; o < O; o++) h[o] = h[o] + b[o];
        /* branch-free max and NaN flag (a data-dependent branch per entry
         * mispredicts on random logits) */
        REAL mx = h[0];
        int nan = h[0] != h[0];
        for (int64_t o = 1; o < O; o++) {
            nan |= h[o] != h[o];
            mx = h[o] > mx ? h[o] : mx;
        }
        if (!nan && mx - mx != 0) /* m is +-inf */
            for (int64_t o = 0; o < O; o++) h[o] = h[o] == mx ? 0 : -(REAL)INFINITY;
        else
            for (int64_t o = 0; o < O; o++) h[o] = h[o] - mx;
    }
    const int64_t size = N * O;
    for (int64_t j = 0; j < size; j++) H[j] = S(mlpx_exp)(H[j]);
    for (int64_t n = 0; n < N; n++) {
        REAL *restrict h = H + n * O;
        REAL sum = 0;
        for (int64_t o = 0; o < O; o++) sum += h[o];
        for (int64_t o = 0; o < O; o++) h[o] = h[o] / sum;
    }
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
            if (y[o] != 0) row += (double)y[o] * mlpx_log_d((double)pc);
            REAL y1 = 1 - y[o];
            if (out_act == MLPX_LOGISTIC && y1 != 0)
                row += (double)y1 * mlpx_log_d((double)(1 - pc));
        }
        p[o] = p[o] - y[o];
    }
    return row;
}

/* The output layer of a training step, from its GEMM result H (N, O):
 * P = f_out(H + b), the data term of the loss (no penalty), and
 * H <- D = (P - Y) * sw[:, None].
 * Y (N, O); sw (N,) or NULL (all ones); s = N or sum(sw).
 *   logistic: -sum_n sw_n sum_o [y log p + (1-y) log(1-p)] / s
 *   softmax:  -sum_n sw_n sum_o  y log p                   / s
 *   identity: 0.5 sum_n sw_n sum_o (y - p)^2 / (s O) */
MLPX_CLONES
double S(mlpx_output_loss)(REAL *restrict H, const REAL *restrict b,
                           const REAL *restrict Y, const REAL *restrict sw,
                           int64_t N, int64_t O, int out_act)
{
    S(mlpx_bias_act)(H, b, N, O, out_act);
    double total = 0, s = 0;
    for (int64_t n = 0; n < N; n++) {
        REAL *restrict p = H + n * O;
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

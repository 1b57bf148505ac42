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
/* Short rows (O <= MLPX_TMAX: ten classes, one binary output) run in chunks
 * of MLPX_LANES rows transposed into a stack scratch T (O, MLPX_LANES):
 * every step then runs across 16 rows at once, while along a row of ten it
 * would not vectorize (the row max, the in-order sums, the one log per row
 * of the loss). Longer rows vectorize along the row and keep the row loops. */
#define MLPX_LANES 16
#define MLPX_TMAX 64
#define MLPX_TEMPLATE "loss.c"
#include "template.h"
#else

/* Softmax of one row h (O,) in place, h <- exp(h + b - m) / sum, m the row
 * max: the long-row path of the chunked kernels below, same operations. */
MLPX_INLINE void S(softmax_row)(REAL *restrict h, const REAL *restrict b, int64_t O)
{
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
    for (int64_t o = 0; o < O; o++) h[o] = S(mlpx_exp)(h[o]);
    REAL sum = 0;
    for (int64_t o = 0; o < O; o++) sum += h[o];
    for (int64_t o = 0; o < O; o++) h[o] = h[o] / sum;
}

/* T (O, L) <- (H + b)^T for the nr rows of H (nr, O) (b (O,) broadcast);
 * lanes nr..L-1 are set to 0 (computed on, never read back). */
MLPX_INLINE void S(chunk_in)(REAL *restrict T, const REAL *restrict H,
                             const REAL *restrict b, int64_t nr, int64_t O)
{
    for (int64_t r = 0; r < nr; r++)
        for (int64_t o = 0; o < O; o++) T[o * MLPX_LANES + r] = H[r * O + o] + b[o];
    for (int64_t o = 0; o < O; o++)
        for (int64_t r = nr; r < MLPX_LANES; r++) T[o * MLPX_LANES + r] = 0;
}

/* Softmax down each column of T (O, L), i.e. of each row of the chunk:
 * the row path's operations, lane by lane, in the same order. */
MLPX_INLINE void S(softmax_T)(REAL *restrict T, int64_t O)
{
    enum { L = MLPX_LANES };
    REAL mx[L], nan[L], sum[L];
    for (int r = 0; r < L; r++) {
        mx[r] = T[r];
        nan[r] = T[r] != T[r] ? 1 : 0;
    }
    for (int64_t o = 1; o < O; o++) {
        const REAL *restrict t = T + o * L;
        for (int r = 0; r < L; r++) {
            nan[r] = t[r] != t[r] ? 1 : nan[r];
            mx[r] = t[r] > mx[r] ? t[r] : mx[r];
        }
    }
    int lim = 0;
    for (int r = 0; r < L; r++) lim |= (nan[r] == 0) & (mx[r] - mx[r] != 0);
    for (int64_t o = 0; o < O; o++)
        for (int r = 0; r < L; r++) T[o * L + r] = T[o * L + r] - mx[r];
    /* A row whose max is +-inf (and no NaN) gets softmax's limit. There,
     * h - m is NaN exactly where h == m (inf - inf; all of a row of -inf):
     * those become 0, the others -inf. */
    if (lim)
        for (int64_t o = 0; o < O; o++)
            for (int r = 0; r < L; r++)
                if (nan[r] == 0 && mx[r] - mx[r] != 0) {
                    REAL *t = T + o * L + r;
                    *t = *t != *t ? 0 : -(REAL)INFINITY;
                }
    for (int64_t j = 0; j < O * L; j++) T[j] = S(mlpx_exp)(T[j]);
    for (int r = 0; r < L; r++) sum[r] = 0;
    for (int64_t o = 0; o < O; o++)
        for (int r = 0; r < L; r++) sum[r] += T[o * L + r];
    for (int64_t o = 0; o < O; o++)
        for (int r = 0; r < L; r++) T[o * L + r] = T[o * L + r] / sum[r];
}

/* H (N, O) <- softmax of each row of H + b (b (O,) broadcast):
 * exp(h + b - m) / sum_o exp(h + b - m), m = max_o (h + b), the same
 * operation order as the NumPy twin.
 * A NaN entry makes its row's sum, so the whole row, NaN (as in NumPy).
 * A row whose logits overflowed (m = +-inf, from finite but huge weights)
 * gets softmax's limit instead of NaN: the entries equal to m become 0 and
 * the others -inf before the exp, so the row gets equal shares of 1. */
void ISA(mlpx_softmax)(REAL *restrict H, const REAL *restrict b, int64_t N, int64_t O)
{
    if (O > MLPX_TMAX) {
        for (int64_t n = 0; n < N; n++) S(softmax_row)(H + n * O, b, O);
        return;
    }
    REAL T[MLPX_TMAX * MLPX_LANES];
    for (int64_t n0 = 0; n0 < N; n0 += MLPX_LANES) {
        const int64_t nr = N - n0 < MLPX_LANES ? N - n0 : MLPX_LANES;
        REAL *restrict h = H + n0 * O;
        S(chunk_in)(T, h, b, nr, O);
        S(softmax_T)(T, O);
        for (int64_t r = 0; r < nr; r++)
            for (int64_t o = 0; o < O; o++) h[r * O + o] = T[o * MLPX_LANES + r];
    }
}

/* p clipped to [eps, 1 - eps] (eps = machine epsilon of REAL) */
MLPX_INLINE REAL S(clip)(REAL p)
{
    const REAL eps = S(MLPX_EPS), one_m_eps = 1 - S(MLPX_EPS);
    REAL pc = p < eps ? eps : p;
    return pc > one_m_eps ? one_m_eps : pc;
}

/* One row of the loss, then p (O,) <- p - y:  returns
 *   logistic: sum_o [y log p + (1-y) log(1-p)]
 *   softmax:  sum_o  y log p
 *   identity: sum_o (y - p)^2
 *   exp:      sum_o [y log(y / p) - y + p]   (y log(y / p) = 0 where y == 0)
 * with p clipped (S(clip)) inside the logs and y log p taken as 0 when
 * y == 0 (scipy's xlogy); in double. */
MLPX_INLINE double S(row_loss_error)(REAL *restrict p, const REAL *restrict y,
                                     int64_t O, int out_act)
{
    double row = 0;
    for (int64_t o = 0; o < O; o++) {
        if (out_act == MLPX_IDENTITY) {
            REAL e = y[o] - p[o];
            row += (double)(e * e);
        } else if (out_act == MLPX_EXP) {
            const double yd = (double)y[o], pd = (double)p[o];
            if (y[o] != 0) row += yd * mlpx_log_d(yd / pd);
            row += pd - yd;
        } else {
            REAL pc = S(clip)(p[o]);
            if (y[o] != 0) row += (double)y[o] * mlpx_log_d((double)pc);
            REAL y1 = 1 - y[o];
            if (out_act == MLPX_LOGISTIC && y1 != 0)
                row += (double)y1 * mlpx_log_d((double)(1 - pc));
        }
        p[o] = p[o] - y[o];
    }
    return row;
}

/* The row losses rl[r] of a chunk, P = T (O, L) and Y^T = YT (O, L), lanes
 * 0..nr-1, as row_loss_error computes them (the terms it skips are added as
 * +0.0, which leaves the sum unchanged). The common labels take one log per
 * row (softmax: one nonzero y in every row) or per entry (logistic: y in
 * {0, 1}); other labels take every log and select. */
MLPX_INLINE void S(chunk_loss)(double *restrict rl, const REAL *restrict T,
                               const REAL *restrict YT, int64_t nr, int64_t O,
                               int out_act)
{
    enum { L = MLPX_LANES };
    for (int r = 0; r < L; r++) rl[r] = 0;
    int simple = 1;
    if (out_act == MLPX_SOFTMAX) {
        REAL cnt[L], ps[L], ys[L];
        for (int r = 0; r < L; r++) {
            cnt[r] = 0;
            ps[r] = (REAL)0.5;
            ys[r] = 0;
        }
        for (int64_t o = 0; o < O; o++) {
            const REAL *restrict t = T + o * L, *restrict y = YT + o * L;
            for (int r = 0; r < L; r++) {
                const int nz = y[r] != 0;
                cnt[r] += nz ? 1 : 0;
                ps[r] = nz ? S(clip)(t[r]) : ps[r];
                ys[r] = nz ? y[r] : ys[r];
            }
        }
        for (int64_t r = 0; r < nr; r++) simple &= cnt[r] == 1;
        if (simple) {
            for (int r = 0; r < L; r++)
                rl[r] = rl[r] + (double)ys[r] * mlpx_log_d((double)ps[r]);
            return;
        }
        for (int64_t o = 0; o < O; o++) {
            const REAL *restrict t = T + o * L, *restrict y = YT + o * L;
            for (int r = 0; r < L; r++) {
                const double v = (double)y[r] * mlpx_log_d((double)S(clip)(t[r]));
                rl[r] = rl[r] + (y[r] != 0 ? v : 0.0);
            }
        }
        return;
    }
    /* logistic */
    for (int64_t o = 0; o < O; o++)
        for (int64_t r = 0; r < nr; r++) simple &= YT[o * L + r] == 0 || YT[o * L + r] == 1;
    for (int64_t o = 0; o < O; o++) {
        const REAL *restrict t = T + o * L, *restrict y = YT + o * L;
        if (simple) {
            for (int r = 0; r < L; r++) {
                const REAL pc = S(clip)(t[r]), y1 = 1 - y[r];
                const int nz = y[r] != 0;
                const REAL c = nz ? y[r] : y1, v = nz ? pc : 1 - pc;
                rl[r] = rl[r] + (double)c * mlpx_log_d((double)v);
            }
        } else {
            for (int r = 0; r < L; r++) {
                const REAL pc = S(clip)(t[r]), y1 = 1 - y[r];
                const double a = (double)y[r] * mlpx_log_d((double)pc);
                const double c = (double)y1 * mlpx_log_d((double)(1 - pc));
                rl[r] = rl[r] + (y[r] != 0 ? a : 0.0);
                rl[r] = rl[r] + (y1 != 0 ? c : 0.0);
            }
        }
    }
}

/* The output layer of a training step, from its GEMM result H (N, O):
 * P = f_out(H + b), the data term of the loss (no penalty), and
 * H <- D = (P - Y) * sw[:, None].
 * Row n of Y is Y + yrow[n] O (the batch's rows of the whole data set, not
 * copied), or Y + n O with yrow NULL; sw (N,) or NULL (all ones);
 * s = N or sum(sw).
 *   logistic: -sum_n sw_n sum_o [y log p + (1-y) log(1-p)] / s
 *   softmax:  -sum_n sw_n sum_o  y log p                   / s
 *   identity: 0.5 sum_n sw_n sum_o (y - p)^2 / s
 *   exp:      sum_n sw_n sum_o [y log(y / p) - y + p] / s  (half the Poisson
 *             deviance; P = exp(H + b), so D = P - Y is its gradient in H)
 * (scikit-learn divides the identity loss by O too: mlpx_data_loss does
 * that for net->mean_outputs). */
double ISA(mlpx_output_loss)(REAL *restrict H, const REAL *restrict b,
                             const REAL *restrict Y, const int64_t *restrict yrow,
                             const REAL *restrict sw, int64_t N, int64_t O,
                             int out_act)
{
    double total = 0, s = 0;
    if (out_act == MLPX_IDENTITY || out_act == MLPX_EXP || O > MLPX_TMAX) {
        ISA(mlpx_bias_act)(H, b, N, O, out_act);
        for (int64_t n = 0; n < N; n++) {
            REAL *restrict p = H + n * O;
            const REAL *y = Y + (yrow ? yrow[n] : n) * O;
            double row = S(row_loss_error)(p, y, O, out_act);
            if (sw) {
                const REAL w = sw[n];
                for (int64_t o = 0; o < O; o++) p[o] = p[o] * w;
                total += row * (double)w;
                s += (double)w;
            } else {
                total += row;
            }
        }
    } else {
        /* one logistic output column: its N rows are contiguous, so the
         * logistic runs once over all of them, vectorized along the rows,
         * and each chunk only copies its 16 */
        const int flat = O == 1 && out_act == MLPX_LOGISTIC;
        if (flat) ISA(mlpx_bias_act)(H, b, N, 1, out_act);
        REAL T[MLPX_TMAX * MLPX_LANES], YT[MLPX_TMAX * MLPX_LANES];
        double rl[MLPX_LANES];
        for (int64_t n0 = 0; n0 < N; n0 += MLPX_LANES) {
            const int64_t nr = N - n0 < MLPX_LANES ? N - n0 : MLPX_LANES;
            REAL *restrict h = H + n0 * O;
            if (flat) {
                for (int64_t r = 0; r < nr; r++) T[r] = h[r];
                for (int64_t r = nr; r < MLPX_LANES; r++) T[r] = (REAL)0.5;
            } else {
                S(chunk_in)(T, h, b, nr, O);
                if (out_act == MLPX_SOFTMAX)
                    S(softmax_T)(T, O);
                else
                    for (int64_t j = 0; j < O * MLPX_LANES; j++) T[j] = S(mlpx_logistic)(T[j]);
            }
            for (int64_t r = 0; r < nr; r++) {
                const REAL *y = Y + (yrow ? yrow[n0 + r] : n0 + r) * O;
                for (int64_t o = 0; o < O; o++) YT[o * MLPX_LANES + r] = y[o];
            }
            for (int64_t o = 0; o < O; o++)
                for (int64_t r = nr; r < MLPX_LANES; r++) YT[o * MLPX_LANES + r] = 0;
            S(chunk_loss)(rl, T, YT, nr, O, out_act);
            for (int64_t r = 0; r < nr; r++) {
                const REAL w = sw ? sw[n0 + r] : 1;
                for (int64_t o = 0; o < O; o++) {
                    const REAL d = T[o * MLPX_LANES + r] - YT[o * MLPX_LANES + r];
                    h[r * O + o] = sw ? d * w : d;
                }
                total += sw ? rl[r] * (double)w : rl[r];
                s += sw ? (double)w : 0;
            }
        }
    }
    if (!sw) s = (double)N;
    if (out_act == MLPX_IDENTITY) return 0.5 * total / s;
    if (out_act == MLPX_EXP) return total / s;
    return -total / s;
}

#endif

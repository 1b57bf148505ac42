/* Loss and gradients of one batch: forward, output loss + error, then the
 * backward pass layer by layer (weight-gradient GEMM, bias gradient, and the
 * backprop GEMM followed by the fused activation-derivative product).
 * Every output (dW, db, the work buffers) is overwritten, never accumulated.
 *
 * Precision template (template.h): the body below is compiled once per REAL.
 */
#ifndef REAL
#include <stdlib.h>
#include "engine.h"
#define MLPX_TEMPLATE "backward.c"
#include "template.h"
#else

/* sum_i ||W_i||^2 over the layers, in double. */
static double S(penalty_sum)(const mlpx_net *net, const REAL *const *W)
{
    double total = 0;
    for (int i = 0; i < net->n_layers; i++)
        total += S(mlpx_sum_squares)(W[i], net->widths[i] * net->widths[i + 1]);
    return total;
}

/* s = N, or sum(sw) (added in double, in row order) when sw != NULL: the
 * weight a batch's loss and gradients are divided by. */
REAL S(mlpx_batch_weight)(const REAL *sw, int64_t N)
{
    if (!sw) return (REAL)N;
    double acc = 0;
    for (int64_t n = 0; n < N; n++) acc += (double)sw[n];
    return (REAL)acc;
}

/* Loss of the batch (X (N, n_0), Y (N, n_K) or, with yrow, rows yrow[n] of
 * Y; sw (N,) or NULL) and its
 * gradients into dW[i] (n_i, n_{i+1}), db[i] (n_{i+1},):
 *   loss = L(P, Y) + 0.5 alpha sum_i ||W_i||^2 / s
 *   D_K = (P - Y) sw[:, None]
 *   dW_i = (Z_i^T D_{i+1} + alpha W_i) / s,  db_i = sum_n D_{i+1} / s
 *   D_i = (D_{i+1} W_i^T) * f'(Z_i)
 * s = N or sum(sw), also stored in *s_out. sq = sum_i ||W_i||^2 when the
 * caller knows it, else < 0. finish = 0 leaves the raw Z_i^T D_{i+1} and
 * sum_n D_{i+1} in dW, db (the optimizers finish them inline).
 * Plain SGD folded into the GEMM: with Wsgd != NULL (the coefs themselves),
 * dW is not formed; instead, once W_i has served backprop,
 *   W_i <- (1 - lr alpha / s) W_i + (-lr / s) Z_i^T D_{i+1}   (beta = 1 GEMM),
 * i.e. W_i - lr dW_i up to rounding (intercepts are left to the caller).
 * Work buffers: Z[1..K] (N, n_i) layer outputs, which the backward pass
 * overwrites with the errors D_i; tmp (N, max n_i). */
double S(mlpx_batch_grad)(const mlpx_net *net, const REAL *const *W,
                          const REAL *const *b, const REAL *X, const REAL *Y,
                          const int64_t *yrow, const REAL *sw, int64_t N,
                          double alpha, double sq,
                          int finish, REAL *const *Z, REAL *tmp,
                          REAL *const *dW, REAL *const *db, REAL *s_out,
                          REAL *const *Wsgd, REAL lr)
{
    const int K = net->n_layers;
    const int64_t *w = net->widths;
    S(mlpx_forward_batch)(net, W, b, X, N, Z, 0);
    double loss = mlpx_data_loss(net, S(mlpx_output_loss)(Z[K], b[K - 1], Y, yrow, sw,
                                                          N, w[K], net->out_activation));
    const REAL s = S(mlpx_batch_weight)(sw, N);
    *s_out = s;
    if (alpha != 0)
        loss += 0.5 * alpha * (sq >= 0 ? sq : S(penalty_sum)(net, W)) / (double)s;
    for (int i = K - 1; i >= 0; i--) {
        const int64_t F = w[i], O = w[i + 1];
        const REAL *Zin = i == 0 ? X : Z[i];
        const REAL *D = Z[i + 1];
        if (!Wsgd) S(mlpx_gemm)(1, 0, F, O, N, 1, Zin, F, D, O, 0, dW[i], O);
        S(mlpx_column_sums)(db[i], D, N, O);
        if (finish) S(mlpx_finish_grads)(dW[i], W[i], db[i], F, O, (REAL)alpha, s);
        if (i > 0 && O == 1) /* rank one: no GEMM call */
            S(mlpx_outer_deriv)(tmp, NULL, D, W[i], N, F, MLPX_IDENTITY);
        else if (i > 0)
            S(mlpx_gemm)(0, 1, N, F, O, 1, D, O, W[i], O, 0, tmp, F);
        if (Wsgd)
            S(mlpx_gemm)(1, 0, F, O, N, -(lr / s), Zin, F, D, O,
                         1 - lr * (REAL)alpha / s, Wsgd[i], O);
        if (i > 0) S(mlpx_act_deriv)(Z[i], Z[i], tmp, N, F, net->activation);
    }
    return loss;
}

/* Public: loss and gradients over all N rows, work buffers allocated here;
 * on the tiled scheme (epoch_tiles.c) when its GEMMs are large enough to
 * share. */
int S(mlpx_loss_and_grad)(const mlpx_net *net, const REAL *const *coefs,
                          const REAL *const *intercepts, const REAL *X,
                          const REAL *Y, const REAL *sw, int64_t N,
                          double alpha, double *loss, REAL *const *dW,
                          REAL *const *db)
{
    if (!mlpx_has_blas()) return MLPX_ENOBLAS;
    if (mlpx_epoch_tiled(net, N, (int)sizeof(REAL)))
        return S(mlpx_loss_and_grad_tiles)(net, coefs, intercepts, X, Y, sw, N, alpha, loss,
                                           dW, db);
    const int K = net->n_layers;
    const int64_t *w = net->widths;
    int64_t size = 0, widest = 1;
    for (int i = 1; i <= K; i++) {
        size += N * w[i];
        widest = w[i] > widest ? w[i] : widest;
    }
    REAL *buf = malloc((size_t)(size + N * widest) * sizeof(REAL));
    REAL **Z = malloc((size_t)(K + 1) * sizeof(REAL *));
    if (!buf || !Z) {
        free(buf);
        free(Z);
        return MLPX_ENOMEM;
    }
    REAL *cur = buf;
    Z[0] = NULL;
    for (int i = 1; i <= K; i++) {
        Z[i] = cur;
        cur += N * w[i];
    }
    REAL s;
    *loss = S(mlpx_batch_grad)(net, coefs, intercepts, X, Y, NULL, sw, N, alpha, -1.0,
                               1, Z, cur, dW, db, &s, NULL, 0);
    free(buf);
    free(Z);
    return MLPX_OK;
}

#endif

/* The tiled epoch: every batch cut into parts whose bounds depend on the
 * shapes alone (threads.c), run by mlpx_pool_for on as many threads as the
 * policy allows. Also the gradient of mlpx_loss_and_grad on many rows.
 *
 * Per batch of nb rows (layer i maps n_i -> n_{i+1}, K layers, Z_0 = the
 * batch's X rows):
 *   gather    the shuffled batch's X rows and sample weights, in row chunks
 *             (a copy: any cut gives the same bits);
 *   forward   for i = 0..K-1, H = Z_i W_i in the tiles of
 *             mlpx_gemm_tiles (threads.c), rows or columns of H, each
 *             tile's GEMM followed by bias + activation on the tile (hidden
 *             layers; the output layer's bias and activation come next);
 *   output    on the caller, over the whole batch: output activation, loss
 *             and error D_K = (P - Y) sw (mlpx_output_loss);
 *   backward  for i = K-1..0, rows [f0, f1) of W_i in the tiles of
 *             mlpx_backward_tiles; each tile, reading only rows
 *             f0..f1 of W_i, forms first (i > 0)
 *               D_i[:, f0:f1] = (D_{i+1} W_i[f0:f1]^T) f'(Z_i[:, f0:f1])
 *             then the gradient rows G_i[f0:f1] = Z_i[:, f0:f1]^T D_{i+1}
 *             and steps W_i[f0:f1] and its optimizer state (plain SGD folds
 *             the step into the GEMM, as in the plain loop); one more part
 *             sums D_{i+1} over the rows and steps b_i.
 * Ownership: a part writes only its own tile of H, D_i, G_i, W_i and the
 * state, and its own entry of sq (the squared norm of its new weights).
 * The caller sums the loss and sq (the next batch's penalty) in layer and
 * tile order. Every GEMM is one call on one BLAS thread (blas.c). So the
 * numbers are the same on 1 thread as on 64, whichever thread runs a tile.
 *
 * Precision template (template.h): the body below is compiled once per REAL.
 */
#ifndef REAL
#include <math.h>
#include <stdlib.h>
#include "engine.h"
/* rows per part of the gather */
#define MLPX_GATHER_ROWS 256
#define MLPX_TEMPLATE "epoch_tiles.c"
#include "template.h"
#else
#include "epoch_steps.h"

typedef struct {
    const mlpx_net *net;
    REAL *const *coefs, *const *intercepts, *const *state;
    const mlpx_optim *opt;
    double alpha;
    const REAL *X, *sw;
    const int64_t *order;
    /* Z[0] the batch's X rows, Z[1..K] layer outputs (Z[K]: the output
     * error after the output pass); D[1..K-1] backprop errors, D[K] = Z[K];
     * G[i] gradient of W_i, gb[i] of b_i (grad mode: the caller's dW, db) */
    REAL **Z, **D, **G, **gb;
    REAL *xb, *swb;
    double *sq; /* sq[i * (MLPX_MAX_TILES + 1) + p] */
    int grad;   /* mlpx_loss_and_grad: finish the gradients, no step */
    /* the batch and phase in progress */
    int64_t start, nb;
    int layer, fold;
    mlpx_tiles tiles;
    REAL s_b;
    double lr_t;
} S(tiles_ctx);

static void S(gather_part)(void *arg, int64_t p, int worker)
{
    (void)worker;
    S(tiles_ctx) *c = (S(tiles_ctx) *)arg;
    const int64_t n_in = c->net->widths[0], r0 = p * MLPX_GATHER_ROWS;
    const int64_t n = c->nb - r0 < MLPX_GATHER_ROWS ? c->nb - r0 : MLPX_GATHER_ROWS;
    const int64_t *idx = c->order + c->start + r0;
    S(gather_rows)(c->xb + r0 * n_in, c->X, idx, n, n_in);
    if (c->sw) S(gather_rows)(c->swb + r0, c->sw, idx, n, 1);
}

/* Tile p of layer i's forward GEMM, then its bias + activation. */
static void S(forward_part)(void *arg, int64_t p, int worker)
{
    (void)worker;
    S(tiles_ctx) *c = (S(tiles_ctx) *)arg;
    S(mlpx_forward_tile)(c->net, (const REAL *const *)c->coefs,
                         (const REAL *const *)c->intercepts, c->Z, c->nb, c->layer, c->tiles, p);
}

/* Part p of layer i's backward phase: rows [f0, f1) of W_i (tile p), or,
 * for p == tiles.n, the intercepts b_i. */
static void S(backward_part)(void *arg, int64_t p, int worker)
{
    (void)worker;
    S(tiles_ctx) *c = (S(tiles_ctx) *)arg;
    const mlpx_net *net = c->net;
    const mlpx_optim *opt = c->opt;
    const int i = c->layer, K = net->n_layers;
    const int64_t F = net->widths[i], O = net->widths[i + 1], nb = c->nb;
    const REAL *Dn = c->D[i + 1], *Zin = c->Z[i];
    REAL *W = c->coefs[i];
    const REAL s = c->s_b;
    if (p == c->tiles.n) {
        S(mlpx_column_sums)(c->gb[i], Dn, nb, O);
        if (c->grad)
            for (int64_t o = 0; o < O; o++) c->gb[i][o] = c->gb[i][o] / s;
        else
            S(step_intercepts)(opt, K, i, c->intercepts[i], c->gb[i], c->state, O, s,
                               c->lr_t);
        return;
    }
    const int64_t f0 = p * c->tiles.size;
    const int64_t nf = F - f0 < c->tiles.size ? F - f0 : c->tiles.size;
    if (i > 0) { /* D_i[:, f0:f1], from W_i[f0:f1] before its step */
        REAL *Di = c->D[i];
        if (O == 1) { /* rank one: no GEMM call */
            for (int64_t r = 0; r < nb; r++)
                S(mlpx_outer_deriv)(Di + r * F + f0, Zin + r * F + f0, Dn + r, W + f0, 1, nf,
                                    net->activation);
        } else {
            S(mlpx_gemm)(0, 1, nb, nf, O, 1, Dn, O, W + f0 * O, O, 0, Di + f0, F);
            for (int64_t r = 0; r < nb; r++)
                S(mlpx_act_deriv)(Di + r * F + f0, Zin + r * F + f0, Di + r * F + f0, 1, nf,
                                  net->activation);
        }
    }
    const int64_t j0 = f0 * O, j1 = (f0 + nf) * O;
    double sq = 0;
    if (c->grad) {
        REAL *g = c->G[i];
        const REAL a = (REAL)c->alpha;
        S(mlpx_gemm)(1, 0, nf, O, nb, 1, Zin + f0, F, Dn, O, 0, g + j0, O);
        for (int64_t j = j0; j < j1; j++) g[j] = (g[j] + a * W[j]) / s;
    } else if (c->fold) { /* plain SGD: the step inside the GEMM */
        const REAL lr = (REAL)opt->lr;
        S(mlpx_gemm)(1, 0, nf, O, nb, -(lr / s), Zin + f0, F, Dn, O,
                     1 - lr * (REAL)c->alpha / s, W + j0, O);
        if (c->alpha != 0) sq = S(mlpx_sum_squares)(W + j0, j1 - j0);
    } else {
        S(mlpx_gemm)(1, 0, nf, O, nb, 1, Zin + f0, F, Dn, O, 0, c->G[i] + j0, O);
        sq = S(step_coefs)(opt, K, i, W, c->G[i], c->state, j0, j1, c->alpha, s, c->lr_t);
    }
    c->sq[i * (MLPX_MAX_TILES + 1) + p] = sq;
}

static mlpx_tiles S(backward_tiles)(const mlpx_net *net, int i, int64_t nb)
{
    return mlpx_backward_tiles(net, i, nb, (int)sizeof(REAL));
}

/* One batch: rows [start, start + nb) of the epoch (or all N rows in grad
 * mode); sq: sum ||W_i||^2 of the parameters it starts from. Returns the
 * batch loss with its penalty; leaves sum ||W_i||^2 of the new parameters
 * in *sq_next (train mode). */
static double S(tiles_batch)(S(tiles_ctx) *c, int threads, const REAL *Y, int64_t start,
                             int64_t nb, double sq, double *sq_next)
{
    const mlpx_net *net = c->net;
    const int K = net->n_layers;
    const int64_t *w = net->widths;
    const int64_t n_in = w[0], n_out = w[K];
    c->start = start;
    c->nb = nb;
    const REAL *y = Y + start * n_out, *s = c->sw ? c->sw + start : NULL;
    const int64_t *yrow = NULL;
    c->Z[0] = (REAL *)(c->X + start * n_in);
    if (c->order) {
        const int64_t parts = (nb + MLPX_GATHER_ROWS - 1) / MLPX_GATHER_ROWS;
        mlpx_pool_for(threads, parts, S(gather_part), c);
        S(prefetch_rows)(Y, c->order + start, nb, n_out);
        c->Z[0] = c->xb;
        y = Y;
        yrow = c->order + start;
        s = c->sw ? c->swb : NULL;
    }
    for (int i = 0; i < K; i++) {
        c->layer = i;
        c->tiles = mlpx_gemm_tiles(nb, w[i + 1], w[i], (int)sizeof(REAL));
        mlpx_pool_for(threads, c->tiles.n, S(forward_part), c);
    }
    double loss = mlpx_data_loss(net, S(mlpx_output_loss)(c->Z[K], c->intercepts[K - 1], y,
                                                          yrow, s, nb, n_out,
                                                          net->out_activation));
    const REAL s_b = S(mlpx_batch_weight)(s, nb);
    c->s_b = s_b;
    if (c->alpha != 0) loss += 0.5 * c->alpha * sq / (double)s_b;
    for (int i = K - 1; i >= 0; i--) {
        c->layer = i;
        c->tiles = S(backward_tiles)(net, i, nb);
        mlpx_pool_for(threads, c->tiles.n + 1, S(backward_part), c);
    }
    if (sq_next) {
        double next = 0;
        for (int i = 0; i < K; i++) {
            const int64_t n = S(backward_tiles)(net, i, nb).n;
            for (int64_t p = 0; p < n; p++) next += c->sq[i * (MLPX_MAX_TILES + 1) + p];
        }
        *sq_next = next;
    }
    return loss;
}

/* Work buffers for batches of B rows: Z[1..K], D[1..K-1], G and gb (train
 * mode), the gathered batch, sq. Returns the block to free, or NULL. */
static void *S(tiles_alloc)(S(tiles_ctx) *c, int64_t B, int gather)
{
    const mlpx_net *net = c->net;
    const int K = net->n_layers;
    const int64_t *w = net->widths;
    int64_t size = 0;
    for (int i = 1; i <= K; i++) size += B * w[i] * (i < K ? 2 : 1);
    if (!c->grad)
        for (int i = 0; i < K; i++) size += w[i] * w[i + 1] + w[i + 1];
    if (gather) size += B * (w[0] + 1);
    const size_t nsq = (size_t)K * (MLPX_MAX_TILES + 1);
    const size_t nptr = (size_t)(4 * K + 4);
    char *block = malloc(nsq * sizeof(double) + nptr * sizeof(REAL *) +
                         (size_t)(size > 0 ? size : 1) * sizeof(REAL));
    if (!block) return NULL;
    c->sq = (double *)block;
    REAL **ptrs = (REAL **)(block + nsq * sizeof(double));
    REAL *cur = (REAL *)(ptrs + nptr);
    c->Z = ptrs;
    c->D = ptrs + K + 1;
    if (!c->grad) { /* grad mode: G and gb are the caller's dW and db */
        c->G = ptrs + 2 * K + 2;
        c->gb = ptrs + 3 * K + 2;
    }
    c->Z[0] = NULL;
    c->D[0] = NULL;
    for (int i = 1; i <= K; i++) {
        c->Z[i] = cur;
        cur += B * w[i];
        if (i < K) {
            c->D[i] = cur;
            cur += B * w[i];
        }
    }
    c->D[K] = c->Z[K];
    if (!c->grad)
        for (int i = 0; i < K; i++) {
            c->G[i] = cur;
            cur += w[i] * w[i + 1];
            c->gb[i] = cur;
            cur += w[i + 1];
        }
    c->xb = gather ? cur : NULL;
    c->swb = gather ? cur + B * w[0] : NULL;
    return block;
}

int S(mlpx_train_epoch_tiles)(const mlpx_net *net, REAL *const *coefs, REAL *const *intercepts,
                         const REAL *X, const REAL *Y, const REAL *sw, const int64_t *order,
                         int64_t N, int64_t B, double alpha, const mlpx_optim *opt,
                         REAL *const *state, double *loss)
{
    const int K = net->n_layers;
    S(tiles_ctx) c = {.net = net, .coefs = coefs, .intercepts = intercepts, .state = state,
                      .opt = opt, .alpha = alpha, .X = X, .sw = sw, .order = order};
    void *block = S(tiles_alloc)(&c, B, order != NULL);
    if (!block) return MLPX_ENOMEM;
    const int threads = mlpx_tiles_threads(net, B, (int)sizeof(REAL),
                                           order ? (B + MLPX_GATHER_ROWS - 1) / MLPX_GATHER_ROWS : 0);
    double sq = 0, total = 0;
    if (alpha != 0)
        for (int i = 0; i < K; i++)
            sq += S(mlpx_sum_squares)(coefs[i], net->widths[i] * net->widths[i + 1]);
    int64_t t = opt->t;
    for (int64_t start = 0; start < N; start += B) {
        const int64_t nb = N - start < B ? N - start : B;
        c.fold = S(fold_step)(opt, alpha, start + nb >= N);
        c.lr_t = opt->solver == MLPX_ADAM ? S(adam_lr)(opt, ++t) : 0;
        const double l = S(tiles_batch)(&c, threads, Y, start, nb, sq, &sq);
        total += l * (double)nb;
    }
    *loss = total / (double)N;
    free(block);
    return MLPX_OK;
}

int S(mlpx_loss_and_grad_tiles)(const mlpx_net *net, const REAL *const *coefs,
                           const REAL *const *intercepts, const REAL *X, const REAL *Y,
                           const REAL *sw, int64_t N, double alpha, double *loss,
                           REAL *const *dW, REAL *const *db)
{
    const int K = net->n_layers;
    S(tiles_ctx) c = {.net = net, .coefs = (REAL *const *)coefs,
                      .intercepts = (REAL *const *)intercepts, .alpha = alpha, .X = X,
                      .sw = sw, .grad = 1, .G = (REAL **)dW, .gb = (REAL **)db};
    void *block = S(tiles_alloc)(&c, N, 0);
    if (!block) return MLPX_ENOMEM;
    double sq = 0;
    if (alpha != 0)
        for (int i = 0; i < K; i++)
            sq += S(mlpx_sum_squares)(coefs[i], net->widths[i] * net->widths[i + 1]);
    const int threads = mlpx_tiles_threads(net, N, (int)sizeof(REAL), 0);
    *loss = S(tiles_batch)(&c, threads, Y, 0, N, sq, NULL);
    free(block);
    return MLPX_OK;
}

#endif

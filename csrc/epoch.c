/* One training epoch in one call: the minibatch loop, with one workspace
 * allocated per call (sized by batch_size and the layer widths, not by N).
 *
 * This file is the plain loop, on the calling thread: per batch, the
 * loss and gradients at the current parameters (mlpx_batch_grad,
 * backward.c), then the optimizer step. Batches whose GEMMs are large
 * enough to share (mlpx_epoch_tiled, threads.c) go to the tiled epoch
 * instead (epoch_tiles.c), whose cut into parts is fixed by the shapes,
 * so that the threads that run it change nothing but the time. The
 * largest batches (mlpx_epoch_whole) stay here, their GEMMs whole on the
 * shared BLAS's own threads, and the optimizer step shared out on mlpx's
 * threads in parts of MLPX_STEP_PART values (whole_steps below).
 *
 * Precision template (template.h): the body below is compiled once per REAL.
 */
#ifndef REAL
#include <math.h>
#include <stdlib.h>
#include "engine.h"
/* values of coefs per part of the whole-GEMM epoch's optimizer step */
#define MLPX_STEP_PART (64 * 1024)
/* parts of MLPX_STEP_PART values in n values */
static int64_t step_parts(int64_t n) { return (n + MLPX_STEP_PART - 1) / MLPX_STEP_PART; }
#define MLPX_TEMPLATE "epoch.c"
#include "template.h"
#else
#include "epoch_steps.h"

typedef struct {
    const mlpx_optim *opt;
    int K, fold;
    const int64_t *w;     /* layer widths: coefs[i] holds w[i] w[i + 1] values */
    const int64_t *first; /* first[i]: layer i's first part; first[K]: parts */
    REAL *const *coefs, *const *state;
    REAL *const *dW;
    double alpha, lr_t;
    REAL s_b;
    double *sq; /* one per part */
} S(steps_ctx);

/* Part p of the coef steps: values [j0, j1) of one layer's coefs. */
static void S(step_part)(void *arg, int64_t p, int worker)
{
    (void)worker;
    S(steps_ctx) *c = (S(steps_ctx) *)arg;
    int i = 0;
    while (p >= c->first[i + 1]) i++;
    const int64_t n = c->w[i] * c->w[i + 1];
    const int64_t j0 = (p - c->first[i]) * MLPX_STEP_PART;
    const int64_t j1 = n - j0 < MLPX_STEP_PART ? n : j0 + MLPX_STEP_PART;
    if (c->fold)
        c->sq[p] = c->alpha != 0 ? S(mlpx_sum_squares)(c->coefs[i] + j0, j1 - j0) : 0;
    else
        c->sq[p] = S(step_coefs)(c->opt, c->K, i, c->coefs[i], c->dW[i], c->state, j0, j1,
                                 c->alpha, c->s_b, c->lr_t);
}

/* The whole-GEMM epoch's coef steps (or, folded into the GEMM, the new
 * coefs' squared norm) on up to `threads` threads; returns sum ||W_i||^2
 * of the new coefs, summed in part order. */
static double S(whole_steps)(S(steps_ctx) *c, int threads)
{
    mlpx_pool_for(threads, c->first[c->K], S(step_part), c);
    double sq = 0;
    for (int64_t p = 0; p < c->first[c->K]; p++) sq += c->sq[p];
    return sq;
}

/* Rows visited in `order` (or 0..N-1) in contiguous batches of batch_size,
 * the last holding the rest. Per batch: loss and gradients at the current
 * parameters (mlpx_batch_grad), then one optimizer step in place on coefs,
 * intercepts and state (state: one array per parameter, coefs then
 * intercepts; SGD velocities, or Adam first then second moments).
 * *loss = sum_batches(batch_loss * rows) / N.
 * X (N, n_0), Y (N, n_K), sw (N,) or NULL, order (N,) or NULL. */
int S(mlpx_train_epoch)(const mlpx_net *net, REAL *const *coefs,
                        REAL *const *intercepts, const REAL *X, const REAL *Y,
                        const REAL *sw, const int64_t *order, int64_t N,
                        int64_t batch_size, double alpha,
                        const mlpx_optim *opt, REAL *const *state, double *loss)
{
    if (!mlpx_has_blas()) return MLPX_ENOBLAS;
    const int K = net->n_layers;
    const int64_t *w = net->widths;
    const int64_t B = batch_size < N ? batch_size : N;
    const int64_t n_in = w[0], n_out = w[K];
    const int whole = mlpx_epoch_whole(net, B);
    if (!whole && mlpx_epoch_tiled(net, B, (int)sizeof(REAL)))
        return S(mlpx_train_epoch_tiles)(net, coefs, intercepts, X, Y, sw, order, N, B, alpha,
                                    opt, state, loss);

    /* workspace: Z[1..K] (B, n_i), tmp (B, max n_i), gathered X and sw
     * batches, and one gradient per parameter */
    int64_t size = 0, widest = 1, nparam = 0;
    for (int i = 1; i <= K; i++) {
        size += B * w[i];
        widest = w[i] > widest ? w[i] : widest;
        nparam += w[i - 1] * w[i] + w[i];
    }
    size += B * widest + nparam;
    if (order) size += B * (n_in + (sw ? 1 : 0));
    /* whole-GEMM epoch: the coef steps' parts, first[i] layer i's first
     * (first[K]: all), and their sums */
    int64_t nparts = 0;
    for (int i = 0; whole && i < K; i++) nparts += step_parts(w[i] * w[i + 1]);
    REAL *buf = malloc((size_t)size * sizeof(REAL));
    REAL **ptrs = malloc((size_t)(3 * K + 1) * sizeof(REAL *));
    int64_t *first = malloc((size_t)(K + 1) * sizeof(int64_t));
    double *psq = malloc((size_t)(nparts > 0 ? nparts : 1) * sizeof(double));
    if (!buf || !ptrs || !first || !psq) {
        free(buf);
        free(ptrs);
        free(first);
        free(psq);
        return MLPX_ENOMEM;
    }
    S(steps_ctx) steps = {.opt = opt, .K = K, .w = w, .first = first, .coefs = coefs,
                          .state = state, .alpha = alpha, .sq = psq};
    int threads = 1;
    if (whole) {
        first[0] = 0;
        for (int i = 0; i < K; i++) first[i + 1] = first[i] + step_parts(w[i] * w[i + 1]);
        threads = mlpx_threads_for(nparts, (double)nparts * MLPX_STEP_PART, 0);
        mlpx_gemm_whole(1);
    }
    REAL **Z = ptrs, **dW = ptrs + K + 1, **db = ptrs + 2 * K + 1;
    REAL *cur = buf;
    Z[0] = NULL;
    for (int i = 1; i <= K; i++) {
        Z[i] = cur;
        cur += B * w[i];
    }
    REAL *tmp = cur;
    cur += B * widest;
    for (int i = 0; i < K; i++) {
        dW[i] = cur;
        cur += w[i] * w[i + 1];
        db[i] = cur;
        cur += w[i + 1];
    }
    REAL *xb = cur, *swb = xb + B * n_in;

    const REAL lr = (REAL)opt->lr;
    int64_t t = opt->t;
    double total = 0, sq = 0;
    if (alpha != 0)
        for (int i = 0; i < K; i++)
            sq += S(mlpx_sum_squares)(coefs[i], w[i] * w[i + 1]);

    for (int64_t start = 0; start < N; start += B) {
        const int64_t nb = N - start < B ? N - start : B;
        /* a shuffled batch: X rows gathered for the GEMMs; Y rows read in
         * place by the loss through the indices */
        const REAL *x = X + start * n_in, *y = Y + start * n_out;
        const REAL *s = sw ? sw + start : NULL;
        const int64_t *yrow = NULL;
        if (order) {
            const int64_t *idx = order + start;
            S(gather_rows)(xb, X, idx, nb, n_in);
            if (sw) S(gather_rows)(swb, sw, idx, nb, 1);
            S(prefetch_rows)(Y, idx, nb, n_out);
            x = xb;
            y = Y;
            yrow = idx;
            s = sw ? swb : NULL;
        }
        const int fold = S(fold_step)(opt, alpha, start + nb >= N);
        REAL s_b;
        double l = S(mlpx_batch_grad)(net, (const REAL *const *)coefs,
                                      (const REAL *const *)intercepts, x, y, yrow, s,
                                      nb, alpha, sq, 0, Z, tmp, dW, db, &s_b,
                                      fold ? coefs : NULL, lr);
        total += l * (double)nb;
        double lr_t = 0;
        if (opt->solver == MLPX_ADAM) lr_t = S(adam_lr)(opt, ++t);
        sq = 0;
        if (whole) {
            steps.fold = fold;
            steps.dW = dW;
            steps.s_b = s_b;
            steps.lr_t = lr_t;
            sq = S(whole_steps)(&steps, threads);
        }
        for (int i = 0; i < K; i++) {
            const int64_t n = w[i] * w[i + 1];
            if (!whole && fold && alpha != 0) sq += S(mlpx_sum_squares)(coefs[i], n);
            if (!whole && !fold)
                sq += S(step_coefs)(opt, K, i, coefs[i], dW[i], state, 0, n, alpha, s_b, lr_t);
            S(step_intercepts)(opt, K, i, intercepts[i], db[i], state, w[i + 1], s_b, lr_t);
        }
    }
    if (whole) mlpx_gemm_whole(0);
    *loss = total / (double)N;
    free(buf);
    free(ptrs);
    free(first);
    free(psq);
    return MLPX_OK;
}

#endif

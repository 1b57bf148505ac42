/* One training epoch in one call: the minibatch loop, with one workspace
 * allocated per call (sized by batch_size and the layer widths, not by N).
 *
 * Precision template (template.h): the body below is compiled once per REAL.
 */
#ifndef REAL
#include <math.h>
#include <stdlib.h>
#include "engine.h"
/* optimizer block: values updated before their squares are summed */
#define MLPX_BLOCK 4096
#define MLPX_TEMPLATE "epoch.c"
#include "template.h"
#else

/* dst (nb, n) <- rows idx[0..nb) of A (., n). */
static void S(gather_rows)(REAL *restrict dst, const REAL *restrict A,
                           const int64_t *restrict idx, int64_t nb, int64_t n)
{
    if (n == 1) {
        for (int64_t r = 0; r < nb; r++) dst[r] = A[idx[r]];
        return;
    }
    for (int64_t r = 0; r < nb; r++) {
#if defined(__GNUC__)
        if (r + 8 < nb) {
            const char *ahead = (const char *)(A + idx[r + 8] * n);
            for (size_t c = 0; c < (size_t)n * sizeof(REAL); c += 64)
                __builtin_prefetch(ahead + c);
        }
#endif
        memcpy(dst + r * n, A + idx[r] * n, (size_t)n * sizeof(REAL));
    }
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
    REAL *buf = malloc((size_t)size * sizeof(REAL));
    REAL **ptrs = malloc((size_t)(3 * K + 1) * sizeof(REAL *));
    if (!buf || !ptrs) {
        free(buf);
        free(ptrs);
        return MLPX_ENOMEM;
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

    const REAL lr = (REAL)opt->lr, mu = (REAL)opt->momentum;
    const REAL b1 = (REAL)opt->beta_1, c1 = (REAL)(1 - opt->beta_1);
    const REAL b2 = (REAL)opt->beta_2, c2 = (REAL)(1 - opt->beta_2);
    const REAL eps = (REAL)opt->epsilon;
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
#if defined(__GNUC__)
            /* the loss reads these rows after the forward GEMMs */
            for (int64_t r = 0; r < nb; r++) {
                const REAL *row = Y + idx[r] * n_out;
                __builtin_prefetch(row);
                __builtin_prefetch(row + n_out - 1);
            }
#endif
            x = xb;
            y = Y;
            yrow = idx;
            s = sw ? swb : NULL;
        }
        /* plain SGD (momentum 0): the coef step is folded into the gradient
         * GEMM (beta = 1 - lr alpha / s), except in the last batch, whose
         * velocities are the state the epoch leaves behind. Not in float with
         * a penalty: beta would round to within an ulp of 1 and lose most of
         * the weight decay. */
        const int fold = opt->solver == MLPX_SGD && opt->momentum == 0 && start + nb < N &&
                         (alpha == 0 || sizeof(REAL) == sizeof(double));
        REAL s_b;
        double l = S(mlpx_batch_grad)(net, (const REAL *const *)coefs,
                                      (const REAL *const *)intercepts, x, y, yrow, s,
                                      nb, alpha, sq, 0, Z, tmp, dW, db, &s_b,
                                      fold ? coefs : NULL, lr);
        total += l * (double)nb;
        const REAL a = (REAL)alpha;
        double lr_t = 0;
        if (opt->solver == MLPX_ADAM) {
            t += 1;
            lr_t = opt->lr * sqrt(1 - pow(opt->beta_2, (double)t)) /
                   (1 - pow(opt->beta_1, (double)t));
        }
        /* update in blocks; ||W||^2 of the new coefs (the next batch's
         * penalty) summed while the block is in cache */
        sq = 0;
        for (int i = 0; i < K; i++) {
            const int64_t n = w[i] * w[i + 1];
            if (fold && alpha != 0) sq += S(mlpx_sum_squares)(coefs[i], n);
            for (int64_t j = 0; j < n && !fold; j += MLPX_BLOCK) {
                const int64_t m = n - j < MLPX_BLOCK ? n - j : MLPX_BLOCK;
                if (opt->solver == MLPX_SGD)
                    S(mlpx_sgd)(coefs[i] + j, dW[i] + j, state[i] + j, m, a, s_b,
                                lr, mu, opt->nesterov);
                else
                    S(mlpx_adam)(coefs[i] + j, dW[i] + j, state[i] + j,
                                 state[2 * K + i] + j, m, a, s_b, b1, c1, b2, c2,
                                 lr_t, eps);
                if (alpha != 0) sq += S(mlpx_sum_squares)(coefs[i] + j, m);
            }
            if (opt->solver == MLPX_SGD)
                S(mlpx_sgd)(intercepts[i], db[i], state[K + i], w[i + 1], 0, s_b, lr,
                            mu, opt->nesterov);
            else
                S(mlpx_adam)(intercepts[i], db[i], state[K + i], state[3 * K + i],
                             w[i + 1], 0, s_b, b1, c1, b2, c2, lr_t, eps);
        }
    }
    *loss = total / (double)N;
    free(buf);
    free(ptrs);
    return MLPX_OK;
}

#endif

/* Forward pass: H = Z W + b and Z' = f(H) per layer, the GEMM followed by
 * one fused bias + activation pass; mlpx_forward in row blocks shared by
 * the pool's threads.
 *
 * Precision template (template.h): the body below is compiled once per REAL.
 */
#ifndef REAL
#include <stdlib.h>
#include "engine.h"

#define MLPX_TEMPLATE "forward.c"
#include "template.h"
#else

/* Z[i+1] (N, n_{i+1}) = f_i(Z[i] W_i + b_i) for i = 0..K-1, Z[0] = X (N, n_0)
 * (the entry Z[0] itself is not used); f_i = activation, the last one
 * out_activation. out_pass = 0 leaves the last layer at Z[K-1] W_{K-1}, for
 * the fused output pass of training (mlpx_output_loss). */
void S(mlpx_forward_batch)(const mlpx_net *net, const REAL *const *W,
                           const REAL *const *b, const REAL *X, int64_t N,
                           REAL *const *Z, int out_pass)
{
    const int K = net->n_layers;
    const int64_t *w = net->widths;
    const REAL *in = X;
    for (int i = 0; i < K; i++) {
        const int64_t F = w[i], O = w[i + 1];
        S(mlpx_gemm)(0, 0, N, O, F, 1, in, F, W[i], O, 0, Z[i + 1], O);
        if (i < K - 1)
            S(mlpx_bias_act)(Z[i + 1], b[i], N, O, net->activation);
        else if (out_pass)
            S(mlpx_bias_act)(Z[i + 1], b[i], N, O, net->out_activation);
        in = Z[i + 1];
    }
}

typedef struct {
    const mlpx_net *net;
    const REAL *const *coefs, *const *intercepts;
    const REAL *X;
    REAL *P, *buf;
    REAL **Z;
    int64_t N, R, size;
    int checks, bad, bad_out;
} S(forward_args);

/* Block p: rows [p R, p R + R) of P, its hidden layers in worker's own
 * scratch. With MLPX_CHECK_X, the block's X rows are checked first (while
 * they come into the cache for the GEMM); a NaN or infinity sets bad, which
 * stops the blocks not yet begun. With MLPX_CHECK_OUTPUT, the block's P
 * rows are checked while still in the cache; one not finite sets bad_out. */
static void S(forward_block)(void *arg, int64_t p, int worker)
{
    S(forward_args) *a = (S(forward_args) *)arg;
    const mlpx_net *net = a->net;
    const int K = net->n_layers;
    const int64_t *w = net->widths;
    const int64_t start = p * a->R, nb = a->N - start < a->R ? a->N - start : a->R;
    if (a->checks & MLPX_CHECK_X) {
        if (MLPX_LOAD_RELAXED(a->bad)) return;
        if (!S(mlpx_all_finite)(a->X + start * w[0], nb * w[0])) {
            MLPX_STORE_RELAXED(a->bad, 1);
            return;
        }
    }
    REAL **Z = a->Z + (size_t)worker * (size_t)(K + 1);
    REAL *cur = a->buf + (size_t)worker * (size_t)a->size;
    for (int i = 1; i < K; i++) {
        Z[i] = cur;
        cur += nb * w[i];
    }
    Z[K] = a->P + start * w[K];
    S(mlpx_forward_batch)(net, a->coefs, a->intercepts, a->X + start * w[0], nb, Z, 1);
    if ((a->checks & MLPX_CHECK_OUTPUT) && !S(mlpx_all_finite)(Z[K], nb * w[K]))
        MLPX_STORE_RELAXED(a->bad_out, 1);
}

/* P (N, n_K) = network output for X (N, n_0), in blocks of
 * mlpx_forward_rows rows (fixed by the network, so each row's numbers are
 * the same whichever thread runs its block, and however many there are),
 * shared by mlpx_forward_threads threads. */
int S(mlpx_forward)(const mlpx_net *net, const REAL *const *coefs,
                    const REAL *const *intercepts, const REAL *X, int64_t N,
                    REAL *P, int checks)
{
    if (!mlpx_has_blas()) return MLPX_ENOBLAS;
    const int K = net->n_layers;
    const int64_t *w = net->widths;
    const int64_t R0 = mlpx_forward_rows(net), R = N < R0 ? N : R0;
    const int64_t nblocks = R > 0 ? (N + R - 1) / R : 0;
    const int threads = nblocks > 1 ? mlpx_forward_threads(net, N) : 1;
    int64_t hidden = 0;
    for (int i = 1; i < K; i++) hidden += w[i];
    const int64_t size = R * hidden;
    REAL *buf = malloc((size_t)(threads * size > 0 ? threads * size : 1) * sizeof(REAL));
    REAL **Z = malloc((size_t)threads * (size_t)(K + 1) * sizeof(REAL *));
    if (!buf || !Z) {
        free(buf);
        free(Z);
        return MLPX_ENOMEM;
    }
    S(forward_args) a = {net, coefs, intercepts, X, P, buf, Z, N, R, size, checks, 0, 0};
    mlpx_pool_for(threads, nblocks, S(forward_block), &a);
    free(buf);
    free(Z);
    return a.bad ? MLPX_ENONFINITE : a.bad_out ? MLPX_EOUTPUT : MLPX_OK;
}

#endif

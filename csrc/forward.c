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

void S(mlpx_forward_tile)(const mlpx_net *net, const REAL *const *W, const REAL *const *b,
                          REAL *const *Z, int64_t N, int i, mlpx_tiles t, int64_t p)
{
    const int K = net->n_layers;
    const int64_t F = net->widths[i], O = net->widths[i + 1], a = p * t.size;
    const REAL *in = Z[i];
    REAL *out = Z[i + 1];
    if (t.by_rows) {
        const int64_t n = N - a < t.size ? N - a : t.size;
        S(mlpx_gemm)(0, 0, n, O, F, 1, in + a * F, F, W[i], O, 0, out + a * O, O);
        if (i < K - 1) S(mlpx_bias_act)(out + a * O, b[i], n, O, net->activation);
    } else {
        const int64_t m = O - a < t.size ? O - a : t.size;
        S(mlpx_gemm)(0, 0, N, m, F, 1, in, F, W[i] + a, O, 0, out + a, O);
        if (i < K - 1)
            for (int64_t r = 0; r < N; r++)
                S(mlpx_bias_act)(out + r * O + a, b[i] + a, 1, m, net->activation);
    }
}

/* One block of N rows whose GEMMs are cut into tiles (mlpx_forward_tiled):
 * each layer's tiles on the pool, the output's bias and activation after
 * them on the caller, over whole rows (softmax needs a whole row). The
 * tiles are fixed by the shapes, so the numbers do not depend on threads. */
typedef struct {
    const mlpx_net *net;
    const REAL *const *coefs, *const *intercepts;
    REAL **Z;
    int64_t N;
    int layer;
    mlpx_tiles tiles;
} S(tiled_args);

static void S(tiled_part)(void *arg, int64_t p, int worker)
{
    (void)worker;
    S(tiled_args) *a = (S(tiled_args) *)arg;
    S(mlpx_forward_tile)(a->net, a->coefs, a->intercepts, a->Z, a->N, a->layer, a->tiles, p);
}

/* Z: K + 1 pointers; buf: N (n_1 + ... + n_{K-1}) elements for the hidden
 * layers (mlpx_forward allocates both). */
static int S(forward_tiled)(const mlpx_net *net, const REAL *const *coefs,
                            const REAL *const *intercepts, const REAL *X, int64_t N, REAL *P,
                            int checks, int threads, REAL *buf, REAL **Z)
{
    const int K = net->n_layers;
    const int64_t *w = net->widths;
    if ((checks & MLPX_CHECK_X) && !S(mlpx_all_finite)(X, N * w[0])) return MLPX_ENONFINITE;
    Z[0] = (REAL *)X;
    for (int i = 1; i < K; i++) {
        Z[i] = buf;
        buf += N * w[i];
    }
    Z[K] = P;
    S(tiled_args) a = {net, coefs, intercepts, Z, N, 0, {1, 1, 0}};
    for (int i = 0; i < K; i++) {
        a.layer = i;
        a.tiles = mlpx_gemm_tiles(N, w[i + 1], w[i], (int)sizeof(REAL));
        mlpx_pool_for(threads, a.tiles.n, S(tiled_part), &a);
    }
    S(mlpx_bias_act)(P, intercepts[K - 1], N, w[K], net->out_activation);
    if ((checks & MLPX_CHECK_OUTPUT) && !S(mlpx_all_finite)(P, N * w[K])) return MLPX_EOUTPUT;
    return MLPX_OK;
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
 * shared by mlpx_forward_threads threads; one block with GEMMs large enough
 * to cut is cut into tiles instead (forward_tiled), so that a call on a
 * few rows uses the threads too. */
int S(mlpx_forward)(const mlpx_net *net, const REAL *const *coefs,
                    const REAL *const *intercepts, const REAL *X, int64_t N,
                    REAL *P, int checks)
{
    if (!mlpx_has_blas()) return MLPX_ENOBLAS;
    const int K = net->n_layers;
    const int64_t *w = net->widths;
    const int64_t R0 = mlpx_forward_rows(net), R = N < R0 ? N : R0;
    const int64_t nblocks = R > 0 ? (N + R - 1) / R : 0;
    const int tiled = nblocks == 1 && mlpx_forward_tiled(net, N, (int)sizeof(REAL));
    const int threads = nblocks > 1 || tiled ? mlpx_forward_threads(net, N) : 1;
    /* hidden-layer scratch: one block's worth per worker, or one for the
     * tiled block (its workers share it, each writing its own tiles) */
    const int copies = tiled ? 1 : threads;
    int64_t hidden = 0;
    for (int i = 1; i < K; i++) hidden += w[i];
    const int64_t size = R * hidden;
    REAL *buf = malloc((size_t)(copies * size > 0 ? copies * size : 1) * sizeof(REAL));
    REAL **Z = malloc((size_t)copies * (size_t)(K + 1) * sizeof(REAL *));
    if (!buf || !Z) {
        free(buf);
        free(Z);
        return MLPX_ENOMEM;
    }
    int status;
    if (tiled) {
        status = S(forward_tiled)(net, coefs, intercepts, X, N, P, checks, threads, buf, Z);
    } else {
        S(forward_args) a = {net, coefs, intercepts, X, P, buf, Z, N, R, size, checks, 0, 0};
        mlpx_pool_for(threads, nblocks, S(forward_block), &a);
        status = a.bad ? MLPX_ENONFINITE : a.bad_out ? MLPX_EOUTPUT : MLPX_OK;
    }
    free(buf);
    free(Z);
    return status;
}

#endif

/* Forward pass: H = Z W + b and Z' = f(H) per layer, the GEMM followed by
 * one fused bias + activation pass.
 *
 * Precision template (template.h): the body below is compiled once per REAL.
 */
#ifndef REAL
#include <stdlib.h>
#include "engine.h"

/* the largest n_i n_{i+1} of the network */
static double widest_layer(const mlpx_net *net)
{
    double widest = 1;
    for (int i = 0; i < net->n_layers; i++) {
        const double fo = (double)net->widths[i] * (double)net->widths[i + 1];
        widest = fo > widest ? fo : widest;
    }
    return widest;
}

/* Rows per block of a team member's forward: its GEMMs stay within
 * OpenBLAS's one-thread size (MLPX_TEAM_MAX_MNK / 2), at most 1024; for a
 * network too wide for blocks of 32 such rows, 256-1024 rows by its widest
 * layer (its GEMMs then go through the local BLAS; engine.h). */
int64_t mlpx_team_block(const mlpx_net *net)
{
    const double widest = widest_layer(net);
    const double rows = MLPX_TEAM_MAX_MNK / 2 / widest, local = widest / 1024;
    if (rows >= 32) return rows >= 1024 ? 1024 : (int64_t)rows;
    return local <= MLPX_TEAM_LOCAL_ROWS       ? MLPX_TEAM_LOCAL_ROWS
           : local >= MLPX_TEAM_LOCAL_ROWS_MAX ? MLPX_TEAM_LOCAL_ROWS_MAX
                                               : (int64_t)local;
}

/* Two members sharing the row blocks when there are >= 2^20 multiply-adds
 * to share (tens of microseconds; handing a job to the helper costs a few),
 * the shared BLAS may use two threads, and either blocks of >= 32 rows keep
 * every GEMM on one thread of it or a local BLAS is ready and there are two
 * blocks or more; else 1. */
int mlpx_forward_threads(const mlpx_net *net, int64_t N)
{
    double macs = 0;
    for (int i = 0; i < net->n_layers; i++)
        macs += (double)N * (double)net->widths[i] * (double)net->widths[i + 1];
    if (N < 64 || macs < 1048576.0 || mlpx_blas_threads() < 2) return 1;
    if (MLPX_TEAM_MAX_MNK / 2 / widest_layer(net) >= 32) return 2;
    return mlpx_local_ready() && N >= 2 * mlpx_team_block(net) ? 2 : 1;
}

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

/* Rows [r0, r1) of P (N, n_K), in row blocks of at most B; buf holds the
 * hidden layers of one block, Z has K + 1 entries. bad: NULL, or a flag
 * shared by the members: each block of X is then checked first (while its
 * rows come into the cache for the GEMM), and a NaN or infinity sets *bad;
 * a set flag stops every member before its next block. */
static void S(forward_rows)(const mlpx_net *net, const REAL *const *coefs,
                            const REAL *const *intercepts, const REAL *X, int64_t r0,
                            int64_t r1, int64_t B, REAL *P, REAL *buf, REAL **Z, int *bad)
{
    const int K = net->n_layers;
    const int64_t *w = net->widths;
    for (int64_t start = r0; start < r1; start += B) {
        const int64_t nb = r1 - start < B ? r1 - start : B;
        if (bad && (mlpx_team_flag(bad, 0) ||
                    !S(mlpx_all_finite)(X + start * w[0], nb * w[0]))) {
            mlpx_team_flag(bad, 1);
            return;
        }
        REAL *cur = buf;
        for (int i = 1; i < K; i++) {
            Z[i] = cur;
            cur += nb * w[i];
        }
        Z[K] = P + start * w[K];
        S(mlpx_forward_batch)(net, coefs, intercepts, X + start * w[0], nb, Z, 1);
    }
}

typedef struct {
    const mlpx_net *net;
    const REAL *const *coefs, *const *intercepts;
    const REAL *X;
    REAL *P, *buf;
    REAL **Z;
    int64_t N, B, size, next;
    int *bad;
} S(forward_args);

/* Member t of a team of two: blocks of B rows taken in turn from a shared
 * counter, so a member that runs slower, or starts late, takes fewer (none,
 * when member 0 is done first). Every block's GEMMs stay on one BLAS
 * thread (the local BLAS's, or the shared one's when small enough): falling
 * back to the shared BLAS's threads would wake its worker, which then spins
 * for ~0.1 s on the core the helper needs. */
static void S(forward_member)(void *arg, int t)
{
    S(forward_args) *a = (S(forward_args) *)arg;
    REAL *buf = a->buf + t * a->size;
    REAL **Z = a->Z + t * (a->net->n_layers + 1);
    for (;;) {
        const int64_t start = mlpx_team_take(&a->next, 1) * a->B;
        if (start >= a->N) return;
        const int64_t end = a->N - start < a->B ? a->N : start + a->B;
        S(forward_rows)(a->net, a->coefs, a->intercepts, a->X, start, end, a->B, a->P, buf, Z,
                        a->bad);
        if (a->bad && mlpx_team_flag(a->bad, 0)) return;
    }
}

/* P (N, n_K) = network output for X (N, n_0), in row blocks of at most 1024
 * so the hidden buffers stay small; on a team of two (mlpx_forward_threads)
 * in smaller blocks whose GEMMs stay on one BLAS thread, taken by either
 * member. */
int S(mlpx_forward)(const mlpx_net *net, const REAL *const *coefs,
                    const REAL *const *intercepts, const REAL *X, int64_t N,
                    REAL *P, int check_finite)
{
    if (!mlpx_has_blas()) return MLPX_ENOBLAS;
    const int K = net->n_layers;
    const int64_t *w = net->widths;
    const int team = mlpx_forward_threads(net, N) == 2;
    const int64_t B0 = N < 1024 ? N : 1024, B = team ? mlpx_team_block(net) : B0;
    /* hidden layers of one block: one per member, or B0 rows alone */
    int64_t hidden = 0;
    for (int i = 1; i < K; i++) hidden += w[i];
    const int64_t size = B * hidden, alone = B0 * hidden;
    const int64_t total = team && 2 * size > alone ? 2 * size : alone;
    REAL *buf = malloc((size_t)(total > 0 ? total : 1) * sizeof(REAL));
    REAL **Z = malloc((size_t)(team ? 2 : 1) * (size_t)(K + 1) * sizeof(REAL *));
    if (!buf || !Z) {
        free(buf);
        free(Z);
        return MLPX_ENOMEM;
    }
    int bad = 0;
    S(forward_args) a = {net, coefs, intercepts, X, P, buf, Z, N, B, size, 0,
                         check_finite ? &bad : NULL};
    if (!team || mlpx_team_run(S(forward_member), &a) != 0)
        S(forward_rows)(net, coefs, intercepts, X, 0, N, B0, P, buf, Z, a.bad);
    free(buf);
    free(Z);
    return bad ? MLPX_ENONFINITE : MLPX_OK;
}

#endif

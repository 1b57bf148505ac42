/* Forward pass: H = Z W + b and Z' = f(H) per layer, the GEMM followed by
 * one fused bias + activation pass.
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

/* P (N, n_K) = network output for X (N, n_0), in row blocks of at most 1024
 * so the hidden buffers stay small. */
int S(mlpx_forward)(const mlpx_net *net, const REAL *const *coefs,
                    const REAL *const *intercepts, const REAL *X, int64_t N,
                    REAL *P)
{
    if (!mlpx_has_blas()) return MLPX_ENOBLAS;
    const int K = net->n_layers;
    const int64_t *w = net->widths;
    const int64_t B = N < 1024 ? N : 1024;
    int64_t size = 0;
    for (int i = 1; i < K; i++) size += B * w[i];
    REAL *buf = malloc((size_t)(size > 0 ? size : 1) * sizeof(REAL));
    REAL **Z = malloc((size_t)(K + 1) * sizeof(REAL *));
    if (!buf || !Z) {
        free(buf);
        free(Z);
        return MLPX_ENOMEM;
    }
    for (int64_t start = 0; start < N; start += B) {
        const int64_t nb = N - start < B ? N - start : B;
        REAL *cur = buf;
        for (int i = 1; i < K; i++) {
            Z[i] = cur;
            cur += nb * w[i];
        }
        Z[K] = P + start * w[K];
        S(mlpx_forward_batch)(net, coefs, intercepts, X + start * w[0], nb, Z, 1);
    }
    free(buf);
    free(Z);
    return MLPX_OK;
}

#endif

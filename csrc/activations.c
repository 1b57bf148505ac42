/* Hidden and output activations: fused bias + activation after a GEMM, and
 * the activation-derivative product of backprop.
 *
 * Precision template (template.h): the body below is compiled once per REAL.
 * S(name) appends the precision suffix (_f or _d).
 */
#ifndef REAL
#include "engine.h"
#define MLPX_TEMPLATE "activations.c"
#include "template.h"
#else

/* tanh(h) = sign(h) (1 - e) / (1 + e), e = exp(-2|h|); near 0 (2|h| <
 * ln2/2) from expm1 instead to keep relative accuracy:
 * tanh = -m / (2 + m), m = expm1(-2|h|). */
MLPX_INLINE REAL S(tanh_)(REAL h)
{
    REAL a = h < 0 ? -h : h;
    REAL e = S(mlpx_exp)(-2 * a);
    REAL m = S(mlpx_expm1_small)(-2 * a);
    REAL t = 2 * a < (REAL)0.34 ? -m / (2 + m) : (1 - e) / (1 + e);
    return h < 0 ? -t : t;
}

/* relu(h) = max(h, 0) */
MLPX_INLINE REAL S(relu)(REAL h) { return h > 0 ? h : 0; }

/* identity(h) = h */
MLPX_INLINE REAL S(identity)(REAL h) { return h; }

/* H[n, o] = f(H[n, o] + b[o]) for the row loop; O == 1 runs as one flat loop
 * so that a single-output layer still vectorizes. */
#define BIAS_LOOP(F)                                                          \
    do {                                                                      \
        if (O == 1) {                                                         \
            const REAL b0 = b[0];                                             \
            for (int64_t n = 0; n < N; n++) H[n] = F(H[n] + b0);              \
        } else {                                                              \
            for (int64_t n = 0; n < N; n++) {                                 \
                REAL *restrict h = H + n * O;                                 \
                for (int64_t o = 0; o < O; o++) h[o] = F(h[o] + b[o]);        \
            }                                                                 \
        }                                                                     \
    } while (0)

/* H (N, O) <- f(H + b), b (O,) broadcast over rows; f = act. */
void ISA(mlpx_bias_act)(REAL *restrict H, const REAL *restrict b, int64_t N,
                        int64_t O, int act)
{
    switch (act) {
    case MLPX_LOGISTIC: BIAS_LOOP(S(mlpx_logistic)); break;
    case MLPX_TANH: BIAS_LOOP(S(tanh_)); break;
    case MLPX_RELU: BIAS_LOOP(S(relu)); break;
    case MLPX_SOFTMAX: ISA(mlpx_softmax)(H, b, N, O); break;
    case MLPX_EXP: BIAS_LOOP(S(mlpx_exp)); break;
    default: BIAS_LOOP(S(identity)); break;
    }
}

/* Backprop through the activation, f' written from its output Z:
 * D (N, F) <- G * f'(Z), G (N, F) = D_next @ W^T; D may be Z or G itself
 * (each entry is read before it is written).
 * logistic: (G Z)(1 - Z);  tanh: G (1 - Z^2);  relu: Z == 0 ? 0 : G;
 * identity: G. (Same operation order as the NumPy twin.) */
void ISA(mlpx_act_deriv)(REAL *D, const REAL *Z, const REAL *G, int64_t N,
                         int64_t F, int act)
{
    const int64_t n = N * F;
    switch (act) {
    case MLPX_LOGISTIC:
        for (int64_t j = 0; j < n; j++) D[j] = (G[j] * Z[j]) * (1 - Z[j]);
        break;
    case MLPX_TANH:
        for (int64_t j = 0; j < n; j++) D[j] = G[j] * (1 - Z[j] * Z[j]);
        break;
    case MLPX_RELU:
        for (int64_t j = 0; j < n; j++) D[j] = Z[j] == 0 ? 0 : G[j];
        break;
    default:
        if (D != G) memmove(D, G, (size_t)n * sizeof(REAL));
        break;
    }
}

/* The same with a rank-one G (a layer with one output): G[n, f] = d[n] v[f],
 * the product the K = 1 GEMM D_next @ W^T forms (alpha 1, beta 0: the same
 * bits), without a GEMM call: D (N, F) <- G * f'(Z), D apart from Z. With
 * act = identity, Z is not read: D = G. */
#define OUTER_LOOP(EXPR)                                                      \
    do {                                                                      \
        for (int64_t r = 0; r < N; r++) {                                     \
            const REAL dr = d[r];                                             \
            REAL *restrict Dr = D + r * F;                                    \
            const REAL *restrict Zr = Z + r * F;                              \
            for (int64_t f = 0; f < F; f++) {                                 \
                const REAL g = dr * v[f], z = Zr[f];                          \
                Dr[f] = EXPR;                                                 \
            }                                                                 \
        }                                                                     \
    } while (0)

void ISA(mlpx_outer_deriv)(REAL *restrict D, const REAL *restrict Z, const REAL *restrict d,
                           const REAL *restrict v, int64_t N, int64_t F, int act)
{
    switch (act) {
    case MLPX_LOGISTIC: OUTER_LOOP((g * z) * (1 - z)); break;
    case MLPX_TANH: OUTER_LOOP(g * (1 - z * z)); break;
    case MLPX_RELU: OUTER_LOOP(z == 0 ? 0 : g); break;
    default:
        for (int64_t r = 0; r < N; r++)
            for (int64_t f = 0; f < F; f++) D[r * F + f] = d[r] * v[f];
        break;
    }
}

/* 1 when x[0..n) holds no NaN and no infinity, else 0: v - v is 0 for
 * finite v and NaN otherwise (an OR of compares, so it vectorizes); one
 * test per block of 512, so a bad value stops the scan within a block. */
int ISA(mlpx_all_finite)(const REAL *restrict x, int64_t n)
{
    for (int64_t j0 = 0; j0 < n; j0 += 512) {
        const int64_t j1 = n - j0 < 512 ? n : j0 + 512;
        int bad = 0;
        for (int64_t j = j0; j < j1; j++) {
            const REAL d = x[j] - x[j];
            bad |= d != d;
        }
        if (bad) return 0;
    }
    return 1;
}

#undef OUTER_LOOP
#undef BIAS_LOOP
#endif

/* Gradient kernels of the backward pass: the bias gradient's column sums and
 * the finishing of a full-batch gradient.
 *
 * Precision template (template.h): the body below is compiled once per REAL.
 */
#ifndef REAL
#include "engine.h"
#define MLPX_TEMPLATE "grads.c"
#include "template.h"
#else

/* db (O,) = sum_n D[n, :] for D (N, O), rows added in order. */
void ISA(mlpx_column_sums)(REAL *restrict db, const REAL *restrict D,
                           int64_t N, int64_t O)
{
    for (int64_t o = 0; o < O; o++) db[o] = D[o];
    for (int64_t r = 1; r < N; r++)
        for (int64_t o = 0; o < O; o++) db[o] = db[o] + D[r * O + o];
}

/* dW (F, O) <- (dW + alpha W) / s,  db (O,) <- db / s. */
void ISA(mlpx_finish_grads)(REAL *restrict dW, const REAL *restrict W,
                            REAL *restrict db, int64_t F, int64_t O,
                            REAL alpha, REAL s)
{
    const int64_t n = F * O;
    for (int64_t j = 0; j < n; j++) dW[j] = (dW[j] + alpha * W[j]) / s;
    for (int64_t o = 0; o < O; o++) db[o] = db[o] / s;
}

#endif

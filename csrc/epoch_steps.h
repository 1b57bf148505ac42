/* The pieces of a training step that the plain epoch (epoch.c) and the
 * tiled one (epoch_tiles.c) share: the gather of a shuffled batch, and the
 * optimizer steps with their gradients finished inline. Included inside
 * both files' precision-templated bodies (REAL, S() defined). */
#ifndef MLPX_BLOCK
#define MLPX_BLOCK 4096 /* optimizer block: values updated before their squares are summed */
#endif

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

/* Rows idx[0..nb) of A (., n) fetched towards the cache: the loss reads the
 * batch's Y rows in place after the forward GEMMs. */
static void S(prefetch_rows)(const REAL *A, const int64_t *idx, int64_t nb, int64_t n)
{
#if defined(__GNUC__)
    for (int64_t r = 0; r < nb; r++) {
        const REAL *row = A + idx[r] * n;
        __builtin_prefetch(row);
        __builtin_prefetch(row + n - 1);
    }
#else
    (void)A, (void)idx, (void)nb, (void)n;
#endif
}

/* The optimizer step on values [j0, j1) of coefs[i] (gradient dW, finished
 * inline), in blocks; returns ||coefs[i][j0:j1]||^2 of the new values (the
 * next batch's penalty, summed while the block is in cache) when alpha != 0.
 * Adam's state: first moments state[2K + i], second state[3K + i]. */
static double S(step_coefs)(const mlpx_optim *opt, int K, int i, REAL *coefs,
                            const REAL *dW, REAL *const *state, int64_t j0,
                            int64_t j1, double alpha, REAL s_b, double lr_t)
{
    const REAL a = (REAL)alpha;
    double sq = 0;
    for (int64_t j = j0; j < j1; j += MLPX_BLOCK) {
        const int64_t m = j1 - j < MLPX_BLOCK ? j1 - j : MLPX_BLOCK;
        if (opt->solver == MLPX_SGD)
            S(mlpx_sgd)(coefs + j, dW + j, state[i] + j, m, a, s_b, (REAL)opt->lr,
                        (REAL)opt->momentum, opt->nesterov);
        else
            S(mlpx_adam)(coefs + j, dW + j, state[i] + j, state[2 * K + i] + j, m, a,
                         s_b, (REAL)opt->beta_1, (REAL)(1 - opt->beta_1),
                         (REAL)opt->beta_2, (REAL)(1 - opt->beta_2), lr_t,
                         (REAL)opt->epsilon);
        if (alpha != 0) sq += S(mlpx_sum_squares)(coefs + j, m);
    }
    return sq;
}

/* The optimizer step on intercepts[i] (O values, gradient db). */
static void S(step_intercepts)(const mlpx_optim *opt, int K, int i, REAL *b,
                               const REAL *db, REAL *const *state, int64_t O,
                               REAL s_b, double lr_t)
{
    if (opt->solver == MLPX_SGD)
        S(mlpx_sgd)(b, db, state[K + i], O, 0, s_b, (REAL)opt->lr, (REAL)opt->momentum,
                    opt->nesterov);
    else
        S(mlpx_adam)(b, db, state[K + i], state[3 * K + i], O, 0, s_b,
                     (REAL)opt->beta_1, (REAL)(1 - opt->beta_1), (REAL)opt->beta_2,
                     (REAL)(1 - opt->beta_2), lr_t, (REAL)opt->epsilon);
}

/* Adam's step size after t steps (bias corrections in double). */
static double S(adam_lr)(const mlpx_optim *opt, int64_t t)
{
    return opt->lr * sqrt(1 - pow(opt->beta_2, (double)t)) / (1 - pow(opt->beta_1, (double)t));
}

/* Plain SGD (momentum 0) folds the coef step into the gradient GEMM
 * (beta = 1 - lr alpha / s), except in the last batch, whose velocities are
 * the state the epoch leaves behind. Not in float with a penalty: beta would
 * round to within an ulp of 1 and lose most of the weight decay. */
static int S(fold_step)(const mlpx_optim *opt, double alpha, int last)
{
    return opt->solver == MLPX_SGD && opt->momentum == 0 && !last &&
           (alpha == 0 || sizeof(REAL) == sizeof(double));
}


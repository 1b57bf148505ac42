/* The elementwise kernels compiled once per x86-64 ISA level, and their
 * names.
 *
 * On x86-64 with GCC or Clang, CMake compiles activations.c, loss.c,
 * grads.c and optim.c three times, with -march=x86-64, -march=x86-64-v3 and
 * -march=x86-64-v4 and MLPX_ISA = v1, v3, v4: there ISA(name) (template.h)
 * names that compile's variant, e.g. mlpx_bias_act_f_v3, and dispatch.c
 * defines the public names (mlpx_bias_act_f) as calls through the table of
 * one level, chosen once per process: the best the CPU and the OS support,
 * capped by the environment variable MLPX_CPU. Elsewhere (other CPUs,
 * MSVC) the kernel files are compiled once, without MLPX_ISA, and ISA(name)
 * is the public name itself.
 *
 * MLPX_ISA_KERNELS(X, REAL, S) lists the dispatched kernels as
 * X(return type, "return" or nothing, name, (parameters), (arguments)):
 * the declarations below, dispatch.c's table and its forwarding functions
 * are all made from it. engine.h's MLPX_DECLARE_KERNELS declares the same
 * functions again, documented per file; the compiler checks that both agree.
 */
#ifndef MLPX_ISA_H
#define MLPX_ISA_H

#include <stdint.h>

#ifdef MLPX_ISA
#define MLPX_ISA_CAT_(a, b) a##_##b
#define MLPX_ISA_CAT(a, b) MLPX_ISA_CAT_(a, b)
#define MLPX_ISA_NAME(name) MLPX_ISA_CAT(name, MLPX_ISA)
#else
#define MLPX_ISA_NAME(name) name
#endif

#define MLPX_ISA_KERNELS(X, REAL, S)                                           \
    /* activations.c */                                                        \
    X(void, , mlpx_bias_act_##S,                                               \
      (REAL *H, const REAL *b, int64_t N, int64_t O, int act),                 \
      (H, b, N, O, act))                                                       \
    X(void, , mlpx_act_deriv_##S,                                              \
      (REAL *D, const REAL *Z, const REAL *G, int64_t N, int64_t F, int act),  \
      (D, Z, G, N, F, act))                                                    \
    X(void, , mlpx_outer_deriv_##S,                                            \
      (REAL *D, const REAL *Z, const REAL *d, const REAL *v, int64_t N,        \
       int64_t F, int act),                                                    \
      (D, Z, d, v, N, F, act))                                                 \
    X(int, return, mlpx_all_finite_##S, (const REAL *x, int64_t n), (x, n))    \
    /* loss.c */                                                               \
    X(void, , mlpx_softmax_##S,                                                \
      (REAL *H, const REAL *b, int64_t N, int64_t O), (H, b, N, O))            \
    X(double, return, mlpx_output_loss_##S,                                    \
      (REAL *H, const REAL *b, const REAL *Y, const int64_t *yrow,             \
       const REAL *sw, int64_t N, int64_t O, int out_act),                     \
      (H, b, Y, yrow, sw, N, O, out_act))                                      \
    /* grads.c */                                                              \
    X(void, , mlpx_column_sums_##S,                                            \
      (REAL *db, const REAL *D, int64_t N, int64_t O), (db, D, N, O))          \
    X(void, , mlpx_finish_grads_##S,                                           \
      (REAL *dW, const REAL *W, REAL *db, int64_t F, int64_t O, REAL alpha,    \
       REAL s),                                                                \
      (dW, W, db, F, O, alpha, s))                                             \
    /* optim.c */                                                              \
    X(double, return, mlpx_sum_squares_##S, (const REAL *w, int64_t n),        \
      (w, n))                                                                  \
    X(void, , mlpx_sgd_##S,                                                    \
      (REAL *p, const REAL *G, REAL *v, int64_t n, REAL alpha, REAL s,         \
       REAL lr, REAL mu, int nesterov),                                        \
      (p, G, v, n, alpha, s, lr, mu, nesterov))                                \
    X(void, , mlpx_adam_##S,                                                   \
      (REAL *p, const REAL *G, REAL *m, REAL *v, int64_t n, REAL alpha,        \
       REAL s, REAL b1, REAL c1, REAL b2, REAL c2, double lr_t, REAL eps),     \
      (p, G, m, v, n, alpha, s, b1, c1, b2, c2, lr_t, eps))

/* the public kernels and, inside a per-level compile, its own variants */
#define MLPX_ISA_DECLARE(ret, rk, name, params, args) ret name params;
MLPX_ISA_KERNELS(MLPX_ISA_DECLARE, float, f)
MLPX_ISA_KERNELS(MLPX_ISA_DECLARE, double, d)
#undef MLPX_ISA_DECLARE
#ifdef MLPX_ISA
#define MLPX_ISA_DECLARE(ret, rk, name, params, args) ret MLPX_ISA_NAME(name) params;
MLPX_ISA_KERNELS(MLPX_ISA_DECLARE, float, f)
MLPX_ISA_KERNELS(MLPX_ISA_DECLARE, double, d)
#undef MLPX_ISA_DECLARE
#endif

#endif

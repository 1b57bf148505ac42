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

/* every GEMM of a batch of B rows small enough for one thread of the
 * shared BLAS */
int mlpx_team_small(const mlpx_net *net, int64_t B)
{
    for (int i = 0; i < net->n_layers; i++)
        if ((double)B * (double)net->widths[i] * (double)net->widths[i + 1] > MLPX_TEAM_MAX_MNK)
            return 0;
    return 1;
}

/* A team pays off over many batches of small GEMMs: at least 16 rows per
 * batch and 16 batches, every GEMM at most MLPX_TEAM_MAX_MNK, and a BLAS
 * allowed two threads or more. Larger networks: with a local BLAS, when
 * each member's half of a batch is at least MLPX_TEAM_LOCAL_MACS
 * multiply-adds of forward GEMMs and there are two batches or more (each
 * member then calls the one-thread local BLAS on its own rows; see
 * "large batches" below). */
int mlpx_epoch_threads(const mlpx_net *net, int64_t N, int64_t batch_size)
{
    const int64_t B = batch_size < N ? batch_size : N;
    if (B < 16 || mlpx_blas_threads() < 2) return 1;
    if (mlpx_team_small(net, B)) return N >= 16 * B ? 2 : 1;
    double macs = 0;
    for (int i = 0; i < net->n_layers; i++)
        macs += (double)(B / 2) * (double)net->widths[i] * (double)net->widths[i + 1];
    return mlpx_local_ready() && N >= 2 * B && macs >= MLPX_TEAM_LOCAL_MACS ? 2 : 1;
}

/* The helper's invitations, for both team schemes below. Member 0 runs the
 * first MLPX_TEAM_CAL batches alone (both halves, one after the other: the
 * same numbers), timing them, then invites the helper as soon as it is
 * waiting (gen: the invitation's number, go: its first
 * row). It times MLPX_TEAM_CAL batches of the two together (after two to
 * warm up) and dismisses the helper unless they took at most 9/10 of the
 * time alone, or later, once the members' barrier waits pass
 * 1/MLPX_TEAM_WAIT of the time since the invitation; a dismissed helper
 * waits to be invited again, after 32, 64, 128, ... batches alone. A helper
 * without a core of its own makes the team slower than one thread:
 * OpenBLAS's worker spins ~0.1 s after a threaded call, and the scheduler
 * sometimes wakes the helper on member 0's core, where every barrier costs
 * a spin and a context switch. Seen here in a fifth of the epochs of some
 * runs: 36 us a batch together against 12 us alone on (e); healthy: 8-9 us.
 * A dismissal often lasted for the rest of the epoch, hence the retries. */
#define MLPX_TEAM_CAL 8
#define MLPX_TEAM_WAIT 3
#define MLPX_TEAM_RETRY 32
/* Large batches (a->eager: GEMMs beyond one thread of the shared BLAS, each
 * member's through the local one): alone, member 0 runs both halves on one
 * thread, about twice the time of the two together, so there is nothing to
 * calibrate: it waits up to MLPX_TEAM_EAGER_NS for the helper before the
 * first batch, and dismisses it only once the waits pass half the time
 * (the two then no faster than one). */
#define MLPX_TEAM_EAGER_NS 20000000

/* Member 0's clock for inviting and dismissing the helper, for both ways of
 * sharing a batch (S(team_member), S(units_member)). */
typedef struct {
    int eager, together, timed_alone, timed_together;
    int64_t met, alone_ns, together_ns, invite_at, retry;
} mlpx_team_clock;

static mlpx_team_clock team_clock(int eager)
{
    return (mlpx_team_clock){.eager = eager,
                             .timed_alone = eager ? MLPX_TEAM_CAL : 0,
                             .retry = MLPX_TEAM_RETRY};
}

/* Batch `start`: invite the helper now (it is waiting: *ready)? */
static int clock_may_invite(const mlpx_team_clock *c, int64_t start, int *ready)
{
    return !c->together && c->timed_alone == MLPX_TEAM_CAL && start >= c->invite_at &&
           mlpx_team_flag(ready, 0);
}

/* The helper was invited at t0. */
static void clock_invited(mlpx_team_clock *c, int64_t t0)
{
    c->together = 1;
    c->met = t0;
    c->timed_together = c->eager ? MLPX_TEAM_CAL : -2;
    c->together_ns = 0;
}

/* A full batch alone took ns (the first MLPX_TEAM_CAL count). */
static void clock_alone(mlpx_team_clock *c, int64_t ns)
{
    c->alone_ns += ns;
    c->timed_alone++;
}

static int clock_calibrating(const mlpx_team_clock *c)
{
    return c->timed_together < MLPX_TEAM_CAL;
}

/* A full batch together took ns; 1: the calibration ends in a dismissal. */
static int clock_together(mlpx_team_clock *c, int64_t ns)
{
    if (c->timed_together >= 0) c->together_ns += ns;
    return ++c->timed_together == MLPX_TEAM_CAL && 10 * c->together_ns > 9 * c->alone_ns;
}

/* After the calibration: dismiss, with the members' barrier waits at
 * `waited` ns at time `now`? */
static int clock_waits(const mlpx_team_clock *c, int64_t waited, int64_t now)
{
    return waited > (now - c->met) / (c->eager ? 2 : MLPX_TEAM_WAIT);
}

/* The helper was dismissed at batch `start` (B rows a batch). */
static void clock_dismissed(mlpx_team_clock *c, int64_t start, int64_t B)
{
    c->together = 0;
    c->invite_at = start + B * c->retry;
    c->retry *= 2;
}

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

/* ---- The epoch on a team of two (team.c), by rows ----
 * For networks so small that the BLAS runs each GEMM on one thread, or,
 * with a local BLAS (mlpx.h), batches large enough to share
 * (mlpx_epoch_threads), the batch is shared by the caller (member 0) and a
 * helper (member 1), each member's GEMMs on one thread (of the local BLAS
 * when there is one). With one hidden layer of small GEMMs, the members
 * split its units (see S(units_member) below); else the batch's rows, with
 * two barriers per batch:
 *   1. rows: each member gathers, runs forward, loss and output error for
 *      its half of the batch's rows, and the errors back through the
 *      layers, D_i = (D_{i+1} W_i^T) f'(Z_i), into buffers of their own
 *      (Z_i stays: the weight gradients need it); under the partial
 *      scheme (S(team_by_rows)) also its rows' gradients P_i = Z_i^T D_{i+1}
 *      and column sums of D_{i+1};
 *   2. weights: each member updates rows [f0, f1) of every W_i, by rows
 *      from the whole batch, W_i[f0:f1] <- step(Z_i[:, f0:f1]^T D_{i+1}),
 *      or from the two members' partial gradients added, and the
 *      intercepts of every other layer.
 * Same formulas as the single-thread loop; sums split in two (the loss, the
 * sample weights, ||W||^2, the partial gradients) are added in a fixed
 * order, so results do not depend on timing. */
typedef struct {
    double part, s, sq; /* loss x weight, weight of the member's rows; ||W||^2 */
    char pad[64 - 3 * sizeof(double)];
} S(team_slot);

typedef struct {
    const mlpx_net *net;
    REAL *const *coefs, *const *intercepts, *const *state;
    const REAL *X, *Y, *sw;
    const int64_t *order;
    int64_t N, B;
    double alpha, sq0, total;
    const mlpx_optim *opt;
    REAL **Z, **D, **dW, **db, **rows; /* rows: 2 x (K + 1) per-member views */
    int by_rows;    /* the weight phase's scheme (S(team_by_rows)) */
    int eager;      /* large batches (MLPX_TEAM_EAGER_NS) */
    REAL **P, **pb; /* member t's partial gradients of layer i: P[t K + i], pb[t K + i] */
    REAL *xb, *swb;
    mlpx_barrier bar;
    int ready, finished; /* the helper waits to be invited; the epoch is done */
    int64_t gen, go;     /* invitations so far; the last one's first row */
    int64_t dismissed;   /* the invitation member 0 has ended, or 0 */
    int64_t waited;      /* ns the members waited at barriers, summed */
    S(team_slot) slot[2];
} S(team_args);

/* Phase 1 of a batch (rows [start, start + nb) of the epoch) for member
 * t's half of the rows: gather, forward, loss and output error, and the
 * errors back to layer 1. Writes slot[t].part and slot[t].s. */
static void S(team_rows)(S(team_args) *a, int t, int64_t start, int64_t nb)
{
    const mlpx_net *net = a->net;
    const int K = net->n_layers;
    const int64_t *w = net->widths;
    const int64_t n_in = w[0], n_out = w[K];
    const int64_t half = nb / 2, r0 = t ? half : 0, n = t ? nb - half : half;
    const int64_t *idx = a->order ? a->order + start : NULL;
    const REAL *x = idx ? a->xb : a->X + start * n_in;
    const REAL *sb = a->sw ? (idx ? a->swb : a->sw + start) : NULL;
    REAL *const *W = a->coefs;
    REAL **Zt = a->rows + t * (K + 1);
    double part = 0, s_t = 0;
    if (n > 0) {
        if (idx) {
            S(gather_rows)(a->xb + r0 * n_in, a->X, idx + r0, n, n_in);
            if (a->sw) S(gather_rows)(a->swb + r0, a->sw, idx + r0, n, 1);
            S(prefetch_rows)(a->Y, idx + r0, n, n_out);
        }
        for (int i = 1; i <= K; i++) Zt[i] = a->Z[i] + r0 * w[i];
        S(mlpx_forward_batch)(net, (const REAL *const *)W, (const REAL *const *)a->intercepts,
                              x + r0 * n_in, n, Zt, 0);
        const double l = S(mlpx_output_loss)(
            Zt[K], a->intercepts[K - 1], idx ? a->Y : a->Y + (start + r0) * n_out,
            idx ? idx + r0 : NULL, sb ? sb + r0 : NULL, n, n_out, net->out_activation);
        if (sb)
            for (int64_t r = 0; r < n; r++) s_t += (double)sb[r0 + r];
        else
            s_t = (double)n;
        part = l * s_t;
        const REAL *Dn = Zt[K];
        for (int i = K - 1; i >= 1; i--) {
            const int64_t F = w[i], O = w[i + 1];
            REAL *Di = a->D[i] + r0 * F;
            if (O == 1) { /* rank one: no GEMM call */
                S(mlpx_outer_deriv)(Di, Zt[i], Dn, W[i], n, F, net->activation);
            } else {
                S(mlpx_gemm)(0, 1, n, F, O, 1, Dn, O, W[i], O, 0, Di, F);
                S(mlpx_act_deriv)(Di, Zt[i], Di, n, F, net->activation);
            }
            Dn = Di;
        }
    }
    /* the weight gradients of the member's own rows, for the weight phase
     * when it does not read the rows themselves */
    for (int i = 0; i < K && !a->by_rows; i++) {
        const int64_t F = w[i], O = w[i + 1];
        REAL *P = a->P[t * K + i], *pb = a->pb[t * K + i];
        if (n == 0) {
            memset(P, 0, (size_t)(F * O) * sizeof(REAL));
            memset(pb, 0, (size_t)O * sizeof(REAL));
            continue;
        }
        const REAL *Zin = i == 0 ? x + r0 * n_in : Zt[i];
        const REAL *Dn = i + 1 == K ? Zt[K] : a->D[i + 1] + r0 * O;
        S(mlpx_gemm)(1, 0, F, O, n, 1, Zin, F, Dn, O, 0, P, O);
        S(mlpx_column_sums)(pb, Dn, n, O);
    }
    a->slot[t].part = part;
    a->slot[t].s = s_t;
}

/* Phase 2 of the batch for member t: rows [f0, f1) of every W_i stepped
 * from the whole batch, and the intercepts of layers i with i % 2 == t.
 * s_b: the batch's weight; writes slot[t].sq (||W||^2 of its rows). */
static void S(team_weights)(S(team_args) *a, int t, int64_t start, int64_t nb, REAL s_b,
                            double lr_t)
{
    const mlpx_net *net = a->net;
    const mlpx_optim *opt = a->opt;
    const int K = net->n_layers;
    const int64_t *w = net->widths;
    const REAL lr = (REAL)opt->lr;
    const int fold = S(fold_step)(opt, a->alpha, start + nb >= a->N);
    const REAL *x = a->order ? a->xb : a->X + start * w[0];
    const REAL c = -(lr / s_b), beta = 1 - lr * (REAL)a->alpha / s_b;
    double sq_t = 0;
    for (int i = 0; i < K; i++) {
        const int64_t F = w[i], O = w[i + 1];
        const int64_t f0 = t ? F / 2 : 0, f1 = t ? F : F / 2, j0 = f0 * O, j1 = f1 * O;
        const REAL *Zin = i == 0 ? x : a->Z[i];
        const REAL *Dn = i + 1 == K ? a->Z[K] : a->D[i + 1];
        const REAL *P0 = a->P[i], *P1 = a->P[K + i];
        REAL *Wi = a->coefs[i], *g = a->dW[i];
        if (j1 > j0 && a->by_rows && fold) /* the step inside the GEMM */
            S(mlpx_gemm)(1, 0, f1 - f0, O, nb, c, Zin + f0, F, Dn, O, beta, Wi + j0, O);
        else if (j1 > j0 && a->by_rows)
            S(mlpx_gemm)(1, 0, f1 - f0, O, nb, 1, Zin + f0, F, Dn, O, 0, g + j0, O);
        else
            for (int64_t j = j0; j < j1; j++) g[j] = P0[j] + P1[j];
        if (j1 > j0 && fold) {
            if (!a->by_rows)
                for (int64_t j = j0; j < j1; j++) Wi[j] = beta * Wi[j] + c * g[j];
            if (a->alpha != 0) sq_t += S(mlpx_sum_squares)(Wi + j0, j1 - j0);
        } else if (j1 > j0) {
            sq_t += S(step_coefs)(opt, K, i, Wi, g, a->state, j0, j1, a->alpha, s_b, lr_t);
        }
        if ((i & 1) == t) {
            if (a->by_rows)
                S(mlpx_column_sums)(a->db[i], Dn, nb, O);
            else
                for (int64_t o = 0; o < O; o++) a->db[i][o] = a->pb[i][o] + a->pb[K + i][o];
            S(step_intercepts)(opt, K, i, a->intercepts[i], a->db[i], a->state, O, s_b, lr_t);
        }
    }
    a->slot[t].sq = sq_t;
}

/* The weight phase's scheme, fixed by the shapes (so results depend on
 * nothing else). By rows: member t steps rows [f0, f1) of every W_i from
 * the whole batch, reading the other member's half of the batch's Z_i and
 * D_{i+1} (B/2 sum (n_i + n_{i+1}) values that cross between the cores).
 * Else by partial gradients: each member also computes the gradients of
 * its own rows in phase 1 (a full n_i x n_{i+1} GEMM output, k = B/2), and
 * the weight phase adds the two (sum n_i n_{i+1} values written, added and
 * half of them crossing). The second when it touches fewer values, as on
 * 30-32-1 at batch 64 (992 against 3040; train_epoch 1.37-1.53 -> 1.25x
 * the GEMM-only bound); not on 64-64-10 at batch 32 (4736 against 3232;
 * 1.22-1.24 -> 1.37-1.62x when tried). Both measured before networks of
 * one hidden layer, these two included, moved to S(units_member); the
 * rule now decides for deeper ones (and a hidden layer of one unit). */
static int S(team_by_rows)(const mlpx_net *net, int64_t B)
{
    double whole = 0, rows = 0;
    for (int i = 0; i < net->n_layers; i++) {
        whole += (double)net->widths[i] * (double)net->widths[i + 1];
        rows += (double)(net->widths[i] + net->widths[i + 1]);
    }
    return whole >= (double)(B / 2) * rows;
}

/* Member 1: wait for an invitation (*gen) newer than `seen`, or the end
 * (*finished); *start <- the invitation's first row (*go). */
static int64_t S(team_invited)(int64_t *gen, int64_t *go, int *finished, int64_t seen,
                               int64_t *start)
{
    const int64_t since = mlpx_now_ns();
    for (;;) {
        const int64_t g = mlpx_team_take(gen, 0);
        if (g != seen) {
            *start = mlpx_team_take(go, 0);
            return g;
        }
        if (mlpx_team_flag(finished, 0)) return -1;
        mlpx_team_pause(since);
    }
}

static void S(team_member)(void *arg, int t)
{
    S(team_args) *a = (S(team_args) *)arg;
    const mlpx_optim *opt = a->opt;
    const int64_t N = a->N, B = a->B;
    double sq = a->sq0, total = 0;
    int sense = 0;
    int64_t first = 0, gen = 0;
    mlpx_team_clock c = team_clock(a->eager); /* member 1: only c.together */
    if (t == 1) {
        mlpx_team_flag(&a->ready, 1);
        if ((gen = S(team_invited)(&a->gen, &a->go, &a->finished, 0, &first)) < 0) return;
        c.together = 1;
    } else if (a->eager) { /* large batches: no calibration alone */
        const int64_t since = mlpx_now_ns();
        while (!mlpx_team_flag(&a->ready, 0) && mlpx_now_ns() - since < MLPX_TEAM_EAGER_NS)
            mlpx_team_pause(since);
    }
    for (int64_t start = first; start < N; start += B) {
        const int64_t nb = N - start < B ? N - start : B;
        const int64_t t0 = t == 0 ? mlpx_now_ns() : 0;
        /* a dismissal is written before a barrier and read after it */
        if (t == 1 && mlpx_team_take(&a->dismissed, 0) == gen) {
            if ((gen = S(team_invited)(&a->gen, &a->go, &a->finished, gen, &start)) < 0)
                return;
            start -= B; /* the loop adds it back */
            continue;
        }
        if (t == 0 && clock_may_invite(&c, start, &a->ready)) {
            mlpx_team_set(&a->go, start);
            gen = mlpx_team_take(&a->gen, 1) + 1; /* publishes go */
            clock_invited(&c, t0);
            mlpx_team_set(&a->waited, 0);
        }
        if (!c.together) {
            S(team_rows)(a, 0, start, nb);
            S(team_rows)(a, 1, start, nb);
        } else {
            S(team_rows)(a, t, start, nb);
            mlpx_team_take(&a->waited, mlpx_barrier_wait(&a->bar, &sense));
        }
        const double s_d = a->slot[0].s + a->slot[1].s;
        const REAL s_b = (REAL)s_d;
        double l = (a->slot[0].part + a->slot[1].part) / s_d;
        if (a->alpha != 0) l += 0.5 * a->alpha * sq / (double)s_b;
        total += l * (double)nb;
        const double lr_t =
            opt->solver == MLPX_ADAM ? S(adam_lr)(opt, opt->t + start / B + 1) : 0;
        if (!c.together) {
            S(team_weights)(a, 0, start, nb, s_b, lr_t);
            S(team_weights)(a, 1, start, nb, s_b, lr_t);
            if (t == 0 && nb == B && c.timed_alone < MLPX_TEAM_CAL)
                clock_alone(&c, mlpx_now_ns() - t0);
        } else {
            S(team_weights)(a, t, start, nb, s_b, lr_t);
            int dismiss = 0;
            if (t == 0) {
                const int64_t now = mlpx_now_ns();
                dismiss = clock_calibrating(&c) && nb == B
                              ? clock_together(&c, now - t0)
                              : clock_waits(&c, mlpx_team_take(&a->waited, 0), now);
                if (dismiss) mlpx_team_set(&a->dismissed, gen);
            }
            mlpx_team_take(&a->waited, mlpx_barrier_wait(&a->bar, &sense));
            if (dismiss) clock_dismissed(&c, start, B);
        }
        sq = a->slot[0].sq + a->slot[1].sq;
    }
    if (t == 0) {
        a->total = total;
        mlpx_team_flag(&a->finished, 1); /* a helper waiting to be invited */
    }
}

/* The epoch on a team of two; -1 (nothing done) when no helper thread can
 * be started, else an mlpx_status. Arguments as mlpx_train_epoch. */
static int S(train_epoch_team)(const mlpx_net *net, REAL *const *coefs,
                               REAL *const *intercepts, const REAL *X, const REAL *Y,
                               const REAL *sw, const int64_t *order, int64_t N,
                               int64_t B, double alpha, const mlpx_optim *opt,
                               REAL *const *state, double *loss)
{
    const int K = net->n_layers;
    const int64_t *w = net->widths;
    /* Z[1..K] and D[1..K-1] (B, n_i), one gradient per parameter, the
     * gathered X and sw batches */
    int64_t size = 0;
    for (int i = 1; i <= K; i++) size += B * w[i] * (i < K ? 2 : 1);
    int64_t nparam = 0;
    for (int i = 0; i < K; i++) nparam += w[i] * w[i + 1] + w[i + 1];
    /* the members' partial gradients, each 64 bytes apart */
    const int64_t pad = 64 / (int64_t)sizeof(REAL);
    size += nparam + 2 * (nparam + pad);
    size += B * (w[0] + 1);
    REAL *buf = malloc((size_t)size * sizeof(REAL));
    REAL **ptrs = malloc((size_t)(10 * K + 4) * sizeof(REAL *));
    S(team_args) *a = malloc(sizeof(S(team_args)));
    if (!buf || !ptrs || !a) {
        free(buf);
        free(ptrs);
        free(a);
        return MLPX_ENOMEM;
    }
    *a = (S(team_args)){.net = net, .coefs = coefs, .intercepts = intercepts,
                        .state = state, .X = X, .Y = Y, .sw = sw, .order = order,
                        .N = N, .B = B, .alpha = alpha, .opt = opt, .Z = ptrs,
                        .D = ptrs + K + 1, .dW = ptrs + 2 * K + 2,
                        .db = ptrs + 3 * K + 2, .rows = ptrs + 4 * K + 2,
                        .P = ptrs + 6 * K + 4, .pb = ptrs + 8 * K + 4};
    REAL *cur = buf;
    a->Z[0] = a->D[0] = a->D[K] = NULL;
    for (int i = 1; i <= K; i++) {
        a->Z[i] = cur;
        cur += B * w[i];
        if (i < K) {
            a->D[i] = cur;
            cur += B * w[i];
        }
    }
    for (int i = 0; i < K; i++) {
        a->dW[i] = cur;
        cur += w[i] * w[i + 1];
        a->db[i] = cur;
        cur += w[i + 1];
    }
    for (int t = 0; t < 2; t++) {
        for (int i = 0; i < K; i++) {
            a->P[t * K + i] = cur;
            cur += w[i] * w[i + 1];
            a->pb[t * K + i] = cur;
            cur += w[i + 1];
        }
        cur += pad;
    }
    a->xb = cur;
    a->swb = cur + B * w[0];
    a->by_rows = S(team_by_rows)(net, B);
    a->eager = !mlpx_team_small(net, B);
    if (alpha != 0)
        for (int i = 0; i < K; i++) a->sq0 += S(mlpx_sum_squares)(coefs[i], w[i] * w[i + 1]);
    const int status = mlpx_team_run(S(team_member), a);
    if (status == 0) *loss = a->total / (double)N;
    free(buf);
    free(ptrs);
    free(a);
    return status == 0 ? MLPX_OK : -1;
}

/* ---- The epoch on a team of two, by hidden units (one hidden layer) ----
 * For K == 2 the members split the n_1 hidden units instead of the batch's
 * rows: member t owns units [u0, u0 + h) (those columns of W_0, rows of
 * W_1, entries of b_0, and their optimizer state, in packs of its own,
 * copied in before the epoch and out after it), and member 0 owns b_1.
 * One barrier per batch:
 *   A. each member gathers the whole batch (X rows, sw), forms its units'
 *      Z_t = f(X W_0[:, u] + b_0[u]) and its share of the output layer,
 *      Q_t = Z_t W_1[u, :]; member 0 also takes a copy of b_1;
 *   B. each member forms H = Q_0 + Q_1, the output activation, loss and
 *      error D = (P - Y) sw (mlpx_output_loss, with the copy of b_1), then
 *      D_t = (D W_1[u]^T) f'(Z_t) and steps its own parameters: W_1[u]
 *      from Z_t^T D, W_0[:, u] from X^T D_t, b_0[u] from sum D_t; member 0
 *      also b_1 from sum D.
 * So 2 B n_2 values cross between the cores per batch (128 on 30-32-1 at
 * batch 64, against 992 for the partial gradients and 3040 by rows), for
 * the gather and the output loss done by both. Q, the copy of b_1 and the
 * members' ||W||^2 are kept per batch parity: a member one phase ahead of
 * the other writes the other parity. Alone, member 0 runs A and B of both
 * members (the same numbers). */
typedef struct {
    int64_t u0, h;
    REAL *coefs[2], *b0, *state[8]; /* the pack; state indexed as mlpx_train_epoch's */
    REAL *xb, *swb, *Z, *D, *H, *g[2], *db0, *db1;
    REAL *Q[4], *b1s[2]; /* the shared buffers below, read from here */
    /* written every batch, so kept 64 bytes from the other member's fields */
    const REAL *x, *sw; /* the batch's X rows and weights (its own gather, or member 0's) */
    double s;           /* the batch's weight */
    char pad[64];
} S(units_pack);

typedef struct {
    double sq[2];   /* ||W||^2 of the member's coefs after the batch, by parity */
    int64_t waited; /* ns the member waited at barriers since the invitation */
    char pad[64 - 2 * sizeof(double) - sizeof(int64_t)];
} S(units_slot);

typedef struct {
    const mlpx_net *net;
    REAL *const *intercepts, *const *state;
    const REAL *X, *Y, *sw;
    const int64_t *order;
    int64_t N, B;
    double alpha, sq0, total;
    const mlpx_optim *opt;
    S(units_pack) m[2]; /* Q[2 parity + t] (B, n_2); b1s: b_1 copies by parity */
    mlpx_barrier bar;
    int ready, finished;
    int64_t gen, go, left;
    int64_t dismissed; /* the first row of the batch after which member 1 leaves */
    S(units_slot) slot[2];
} S(units_args);

/* Phase A of member t on the batch [start, start + nb); own: gather the
 * batch itself (else member 0's gathered rows are used). */
static void S(units_a)(S(units_args) *a, int t, int64_t start, int64_t nb, int own)
{
    const mlpx_net *net = a->net;
    S(units_pack) *m = &a->m[t];
    const int64_t n_in = net->widths[0], O = net->widths[2], h = m->h;
    const int p = (int)((start / a->B) & 1);
    const int64_t *idx = a->order ? a->order + start : NULL;
    if (idx && own) {
        S(gather_rows)(m->xb, a->X, idx, nb, n_in);
        if (a->sw) S(gather_rows)(m->swb, a->sw, idx, nb, 1);
        S(prefetch_rows)(a->Y, idx, nb, O);
    }
    m->x = idx ? a->m[own ? t : 0].xb : a->X + start * n_in;
    m->sw = a->sw ? (idx ? a->m[own ? t : 0].swb : a->sw + start) : NULL;
    double s = 0;
    if (m->sw)
        for (int64_t r = 0; r < nb; r++) s += (double)m->sw[r];
    else
        s = (double)nb;
    m->s = s;
    S(mlpx_gemm)(0, 0, nb, h, n_in, 1, m->x, n_in, m->coefs[0], h, 0, m->Z, h);
    S(mlpx_bias_act)(m->Z, m->b0, nb, h, net->activation);
    S(mlpx_gemm)(0, 0, nb, O, h, 1, m->Z, h, m->coefs[1], O, 0, m->Q[2 * p + t], O);
    if (t == 0) memcpy(m->b1s[p], a->intercepts[1], (size_t)O * sizeof(REAL));
}

/* Phase B of member t: the output error (into its H; or D, the error
 * member 0 formed, when it runs both members alone), then its steps.
 * Returns the batch's loss (without the penalty), 0 when D was given. */
static double S(units_b)(S(units_args) *a, int t, int64_t start, int64_t nb,
                         const REAL *D, double lr_t)
{
    const mlpx_net *net = a->net;
    const mlpx_optim *opt = a->opt;
    S(units_pack) *m = &a->m[t];
    const int64_t n_in = net->widths[0], O = net->widths[2], h = m->h;
    const int p = (int)((start / a->B) & 1);
    const REAL s_b = (REAL)m->s;
    double l = 0;
    if (!D) {
        const REAL *Q0 = m->Q[2 * p], *Q1 = m->Q[2 * p + 1];
        for (int64_t j = 0; j < nb * O; j++) m->H[j] = Q0[j] + Q1[j];
        l = S(mlpx_output_loss)(m->H, m->b1s[p], a->order ? a->Y : a->Y + start * O,
                                a->order ? a->order + start : NULL, m->sw, nb, O,
                                net->out_activation);
        D = m->H;
    }
    /* D_t from W_1[u] before its step */
    if (O == 1) {
        S(mlpx_outer_deriv)(m->D, m->Z, D, m->coefs[1], nb, h, net->activation);
    } else {
        S(mlpx_gemm)(0, 1, nb, h, O, 1, D, O, m->coefs[1], O, 0, m->D, h);
        S(mlpx_act_deriv)(m->D, m->Z, m->D, nb, h, net->activation);
    }
    const int fold = S(fold_step)(opt, a->alpha, start + nb >= a->N);
    const REAL lr = (REAL)opt->lr, c = -(lr / s_b), beta = 1 - lr * (REAL)a->alpha / s_b;
    double sq = 0;
    for (int i = 1; i >= 0; i--) {
        const int64_t F = i ? h : n_in, Oi = i ? O : h;
        const REAL *Zin = i ? m->Z : m->x, *Dn = i ? D : m->D;
        if (fold) {
            S(mlpx_gemm)(1, 0, F, Oi, nb, c, Zin, F, Dn, Oi, beta, m->coefs[i], Oi);
            if (a->alpha != 0) sq += S(mlpx_sum_squares)(m->coefs[i], F * Oi);
        } else {
            S(mlpx_gemm)(1, 0, F, Oi, nb, 1, Zin, F, Dn, Oi, 0, m->g[i], Oi);
            sq += S(step_coefs)(opt, 2, i, m->coefs[i], m->g[i], m->state, 0, F * Oi,
                                a->alpha, s_b, lr_t);
        }
    }
    S(mlpx_column_sums)(m->db0, m->D, nb, h);
    S(step_intercepts)(opt, 2, 0, m->b0, m->db0, m->state, h, s_b, lr_t);
    if (t == 0) {
        S(mlpx_column_sums)(m->db1, D, nb, O);
        S(step_intercepts)(opt, 2, 1, a->intercepts[1], m->db1, a->state, O, s_b, lr_t);
    }
    a->slot[t].sq[p] = sq;
    return l;
}

/* The batches of member t; member 0 invites and dismisses member 1 as in
 * S(team_member), here with one barrier per batch: member 0 decides before
 * a batch's barrier (from the batch times so far) and member 1, told after
 * it, finishes that batch's phase B, then leaves (a->left), which member 0
 * awaits before it runs member 1's share alone. */
static void S(units_member)(void *arg, int t)
{
    S(units_args) *a = (S(units_args) *)arg;
    const mlpx_optim *opt = a->opt;
    const int64_t N = a->N, B = a->B;
    int sense = 0;
    int64_t gen = 0, start = 0;
    if (t == 1) {
        mlpx_team_flag(&a->ready, 1);
        if ((gen = S(team_invited)(&a->gen, &a->go, &a->finished, 0, &start)) < 0) return;
        for (; start < N; start += B) {
            const int64_t nb = N - start < B ? N - start : B;
            const double lr_t =
                opt->solver == MLPX_ADAM ? S(adam_lr)(opt, opt->t + start / B + 1) : 0;
            S(units_a)(a, 1, start, nb, 1);
            mlpx_team_take(&a->slot[1].waited, mlpx_barrier_wait(&a->bar, &sense));
            /* a batch tag, not gen: member 0 may already be deciding on the
             * next batch while this one reads */
            const int bye = mlpx_team_take(&a->dismissed, 0) == start;
            S(units_b)(a, 1, start, nb, NULL, lr_t);
            if (bye) {
                mlpx_team_set(&a->left, gen);
                if ((gen = S(team_invited)(&a->gen, &a->go, &a->finished, gen, &start)) < 0)
                    return;
                start -= B; /* the loop adds it back */
            }
        }
        return;
    }
    double total = 0;
    int await_left = 0;
    int64_t prev = 0;
    mlpx_team_clock c = team_clock(0);
    for (start = 0; start < N; start += B) {
        const int64_t nb = N - start < B ? N - start : B;
        const int64_t t0 = mlpx_now_ns();
        const int p = (int)((start / B) & 1);
        const double lr_t =
            opt->solver == MLPX_ADAM ? S(adam_lr)(opt, opt->t + start / B + 1) : 0;
        if (clock_may_invite(&c, start, &a->ready)) { /* member 1 has left: see below */
            mlpx_team_set(&a->go, start);
            gen = mlpx_team_take(&a->gen, 1) + 1; /* publishes go */
            clock_invited(&c, t0);
            prev = 0;
            mlpx_team_set(&a->slot[0].waited, 0);
            mlpx_team_set(&a->slot[1].waited, 0); /* member 1 is not in a batch */
        }
        double l;
        if (c.together) {
            /* the time of the previous batch together, from start to start */
            int dismiss = 0;
            if (prev) {
                if (clock_calibrating(&c)) {
                    dismiss = clock_together(&c, t0 - prev);
                } else if ((start / B) % 8 == 0) { /* member 1's count: a line crossing */
                    const int64_t waited = mlpx_team_take(&a->slot[0].waited, 0) +
                                           mlpx_team_take(&a->slot[1].waited, 0);
                    dismiss = clock_waits(&c, waited, t0);
                }
            }
            if (dismiss) mlpx_team_set(&a->dismissed, start); /* read after the barrier */
            S(units_a)(a, 0, start, nb, 1);
            mlpx_team_take(&a->slot[0].waited, mlpx_barrier_wait(&a->bar, &sense));
            l = S(units_b)(a, 0, start, nb, NULL, lr_t);
            prev = nb == B ? t0 : 0;
            if (dismiss) {
                clock_dismissed(&c, start, B);
                await_left = 1;
            }
        } else {
            S(units_a)(a, 0, start, nb, 1);
            if (await_left) { /* member 1 finishing its last batch */
                const int64_t since = mlpx_now_ns();
                while (mlpx_team_take(&a->left, 0) != gen) mlpx_team_pause(since);
                await_left = 0;
            }
            S(units_a)(a, 1, start, nb, 0);
            l = S(units_b)(a, 0, start, nb, NULL, lr_t);
            S(units_b)(a, 1, start, nb, a->m[0].H, lr_t);
            if (nb == B && c.timed_alone < MLPX_TEAM_CAL) clock_alone(&c, mlpx_now_ns() - t0);
        }
        /* the penalty of the parameters the batch started from */
        if (a->alpha != 0) {
            const double sq = start == 0 ? a->sq0
                                         : a->slot[0].sq[!p] + a->slot[1].sq[!p];
            l += 0.5 * a->alpha * sq / (double)(REAL)a->m[0].s;
        }
        total += l * (double)nb;
    }
    a->total = total;
    mlpx_team_flag(&a->finished, 1); /* a helper waiting to be invited */
}

/* The epoch on a team of two by hidden units (K == 2, n_1 >= 2); -1
 * (nothing done) when no helper thread can be started, else an
 * mlpx_status. Arguments as mlpx_train_epoch. */
static int S(train_epoch_units)(const mlpx_net *net, REAL *const *coefs,
                                REAL *const *intercepts, const REAL *X, const REAL *Y,
                                const REAL *sw, const int64_t *order, int64_t N,
                                int64_t B, double alpha, const mlpx_optim *opt,
                                REAL *const *state, double *loss)
{
    const int64_t *w = net->widths;
    const int64_t n_in = w[0], n1 = w[1], O = w[2];
    const int nst = opt->solver == MLPX_ADAM ? 2 : 1; /* state arrays per parameter */
    /* every member's region and every shared buffer 64-byte aligned */
    const int64_t al = 64 / (int64_t)sizeof(REAL);
#define MLPX_UP(n) (((n) + al - 1) / al * al)
    int64_t size = al + 4 * MLPX_UP(B * O) + 2 * MLPX_UP(O);
    for (int t = 0; t < 2; t++) {
        const int64_t h = t ? n1 - n1 / 2 : n1 / 2, np = n_in * h + h + h * O;
        size += (1 + nst) * MLPX_UP(np) + MLPX_UP(B * n_in) + MLPX_UP(B) +
                2 * MLPX_UP(B * h) + MLPX_UP(B * O) + MLPX_UP(np) + MLPX_UP(O);
    }
    REAL *buf = malloc((size_t)size * sizeof(REAL));
    S(units_args) *a = malloc(sizeof(S(units_args)));
    if (!buf || !a) {
        free(buf);
        free(a);
        return MLPX_ENOMEM;
    }
    *a = (S(units_args)){.net = net, .intercepts = intercepts, .state = state, .X = X,
                         .Y = Y, .sw = sw, .order = order, .N = N, .B = B,
                         .alpha = alpha, .opt = opt, .dismissed = -1};
    REAL *cur = buf + (al - (int64_t)(((uintptr_t)buf / sizeof(REAL)) % (uintptr_t)al)) % al;
    for (int j = 0; j < 4; j++, cur += MLPX_UP(B * O)) a->m[0].Q[j] = a->m[1].Q[j] = cur;
    for (int j = 0; j < 2; j++, cur += MLPX_UP(O)) a->m[0].b1s[j] = a->m[1].b1s[j] = cur;
    for (int t = 0; t < 2; t++) {
        S(units_pack) *m = &a->m[t];
        const int64_t u0 = t ? n1 / 2 : 0, h = t ? n1 - n1 / 2 : n1 / 2;
        const int64_t np = n_in * h + h + h * O;
        m->u0 = u0;
        m->h = h;
        /* pack: W_0[:, u] (n_in, h), W_1[u] (h, O), b_0[u]; state likewise */
        for (int k = 0; k <= nst; k++, cur += MLPX_UP(np)) {
            REAL *W0 = cur, *W1 = cur + n_in * h, *b0 = W1 + h * O;
            const REAL *sW0 = k ? state[4 * (k - 1)] : coefs[0];
            const REAL *sW1 = k ? state[4 * (k - 1) + 1] : coefs[1];
            const REAL *sb0 = k ? state[4 * (k - 1) + 2] : intercepts[0];
            for (int64_t r = 0; r < n_in; r++)
                memcpy(W0 + r * h, sW0 + r * n1 + u0, (size_t)h * sizeof(REAL));
            memcpy(W1, sW1 + u0 * O, (size_t)(h * O) * sizeof(REAL));
            memcpy(b0, sb0 + u0, (size_t)h * sizeof(REAL));
            if (k == 0) {
                m->coefs[0] = W0;
                m->coefs[1] = W1;
                m->b0 = b0;
            } else {
                m->state[4 * (k - 1)] = W0;
                m->state[4 * (k - 1) + 1] = W1;
                m->state[4 * (k - 1) + 2] = b0;
                m->state[4 * (k - 1) + 3] = state[4 * (k - 1) + 3]; /* b_1: member 0's */
            }
        }
        m->xb = cur;
        cur += MLPX_UP(B * n_in);
        m->swb = cur;
        cur += MLPX_UP(B);
        m->Z = cur;
        cur += MLPX_UP(B * h);
        m->D = cur;
        cur += MLPX_UP(B * h);
        m->H = cur;
        cur += MLPX_UP(B * O);
        m->g[0] = cur;
        m->g[1] = cur + n_in * h;
        m->db0 = m->g[1] + h * O;
        cur += MLPX_UP(np);
        m->db1 = cur;
        cur += MLPX_UP(O);
    }
#undef MLPX_UP
    if (alpha != 0)
        for (int i = 0; i < 2; i++) a->sq0 += S(mlpx_sum_squares)(coefs[i], w[i] * w[i + 1]);
    const int status = mlpx_team_run(S(units_member), a);
    if (status == 0) {
        *loss = a->total / (double)N;
        for (int t = 0; t < 2; t++) { /* the packs back */
            const S(units_pack) *m = &a->m[t];
            const int64_t u0 = m->u0, h = m->h;
            for (int k = 0; k <= nst; k++) {
                const REAL *W0 = k ? m->state[4 * (k - 1)] : m->coefs[0];
                const REAL *W1 = k ? m->state[4 * (k - 1) + 1] : m->coefs[1];
                const REAL *b0 = k ? m->state[4 * (k - 1) + 2] : m->b0;
                REAL *dW0 = k ? state[4 * (k - 1)] : coefs[0];
                REAL *dW1 = k ? state[4 * (k - 1) + 1] : coefs[1];
                REAL *db0 = k ? state[4 * (k - 1) + 2] : intercepts[0];
                for (int64_t r = 0; r < n_in; r++)
                    memcpy(dW0 + r * n1 + u0, W0 + r * h, (size_t)h * sizeof(REAL));
                memcpy(dW1 + u0 * O, W1, (size_t)(h * O) * sizeof(REAL));
                memcpy(db0 + u0, b0, (size_t)h * sizeof(REAL));
            }
        }
    }
    free(buf);
    free(a);
    return status == 0 ? MLPX_OK : -1;
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
    if (mlpx_epoch_threads(net, N, B) == 2) {
        const int status =
            K == 2 && w[1] >= 2 && mlpx_team_small(net, B)
                ? S(train_epoch_units)(net, coefs, intercepts, X, Y, sw, order, N, B,
                                       alpha, opt, state, loss)
                : S(train_epoch_team)(net, coefs, intercepts, X, Y, sw, order, N, B,
                                      alpha, opt, state, loss);
        if (status >= 0) return status;
    }

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
        for (int i = 0; i < K; i++) {
            const int64_t n = w[i] * w[i + 1];
            if (fold && alpha != 0) sq += S(mlpx_sum_squares)(coefs[i], n);
            if (!fold)
                sq += S(step_coefs)(opt, K, i, coefs[i], dW[i], state, 0, n, alpha, s_b, lr_t);
            S(step_intercepts)(opt, K, i, intercepts[i], db[i], state, w[i + 1], s_b, lr_t);
        }
    }
    *loss = total / (double)N;
    free(buf);
    free(ptrs);
    return MLPX_OK;
}

#endif

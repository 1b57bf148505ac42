/* A team of two threads for one engine call: the caller is member 0, a
 * helper thread started for the call is member 1, and the two meet at a
 * spinning barrier. Used by the training epoch on networks so small that
 * the BLAS runs every GEMM on one thread (mlpx_epoch_threads in epoch.c), so
 * the second core would otherwise sit idle.
 *
 * POSIX threads and GCC/Clang atomics; elsewhere (or with MLPX_NO_TEAM)
 * mlpx_team_run returns -1 and the caller runs alone.
 */
#include "engine.h"

#if defined(__GNUC__) && (defined(__unix__) || defined(__APPLE__)) && !defined(MLPX_NO_TEAM)
#include <pthread.h>
#include <sched.h>

/* Spin briefly (the other member is normally a few microseconds behind),
 * then yield the core, so that an oversubscribed machine still makes
 * progress instead of burning the waiter's time slice. */
#define MLPX_SPINS 4096

void mlpx_barrier_wait(mlpx_barrier *b, int *sense)
{
    const int s = !*sense;
    *sense = s;
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == 2) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->sense, s, __ATOMIC_RELEASE);
        return;
    }
    for (int spins = 0; __atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) != s; spins++) {
        if (spins < MLPX_SPINS) {
#if defined(__x86_64__) || defined(__i386__)
            __builtin_ia32_pause();
#endif
        } else {
            sched_yield();
        }
    }
}

typedef struct {
    void (*fn)(void *, int);
    void *arg;
} team_start;

static void *team_helper(void *p)
{
    const team_start *s = (const team_start *)p;
    s->fn(s->arg, 1);
    return NULL;
}

int mlpx_team_run(void (*fn)(void *, int), void *arg)
{
    pthread_t helper;
    team_start s = {fn, arg};
    if (pthread_create(&helper, NULL, team_helper, &s) != 0) return -1;
    fn(arg, 0);
    pthread_join(helper, NULL);
    return 0;
}

#else

void mlpx_barrier_wait(mlpx_barrier *b, int *sense)
{
    (void)b;
    (void)sense;
}

int mlpx_team_run(void (*fn)(void *, int), void *arg)
{
    (void)fn;
    (void)arg;
    return -1;
}

#endif

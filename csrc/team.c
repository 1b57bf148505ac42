/* A team of two threads for one engine call: the caller is member 0, the
 * process's one helper thread is member 1, and the two meet at a spinning
 * barrier. Used by the training epoch and the forward pass on networks so
 * small that the BLAS runs every GEMM on one thread (mlpx_epoch_threads,
 * mlpx_forward_threads), so the second core would otherwise sit idle.
 *
 * The helper is started once and kept. After a job it spins MLPX_IDLE_NS
 * (back-to-back calls find it awake), then sleeps on a condition variable.
 * A sleeping or newly started thread took 0.05-4 ms to run on these
 * virtual machines (an idle virtual CPU is slow to wake), so no caller
 * waits for it: member 0 starts alone, and the helper joins in when it
 * runs (mlpx_team_run). A helper busy with another caller is not shared.
 *
 * POSIX threads and GCC/Clang atomics; elsewhere (or with MLPX_NO_TEAM)
 * mlpx_team_run returns -1 and the caller runs alone.
 */
#if defined(__linux__)
#define _GNU_SOURCE /* pthread_setname_np */
#else
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif
#include "engine.h"

#if defined(__GNUC__) && (defined(__unix__) || defined(__APPLE__)) && !defined(MLPX_NO_TEAM)
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>

/* A waiting member spins this long (the other member is normally a few
 * microseconds behind), then yields the core, so that an oversubscribed
 * machine still makes progress. */
#define MLPX_SPIN_NS 5000
/* The helper's spin after a job before it sleeps. */
#define MLPX_IDLE_NS 200000

int64_t mlpx_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

void mlpx_team_pause(int64_t since)
{
    if (mlpx_now_ns() - since < MLPX_SPIN_NS)
        cpu_pause();
    else
        sched_yield();
}

int64_t mlpx_barrier_wait(mlpx_barrier *b, int *sense)
{
    const int s = !*sense;
    *sense = s;
    if (__atomic_add_fetch(&b->count, 1, __ATOMIC_ACQ_REL) == 2) {
        __atomic_store_n(&b->count, 0, __ATOMIC_RELAXED);
        __atomic_store_n(&b->sense, s, __ATOMIC_RELEASE);
        return 0;
    }
    const int64_t t0 = mlpx_now_ns();
    while (__atomic_load_n(&b->sense, __ATOMIC_ACQUIRE) != s) mlpx_team_pause(t0);
    return mlpx_now_ns() - t0;
}

int64_t mlpx_team_take(int64_t *counter, int64_t n)
{
    return __atomic_fetch_add(counter, n, __ATOMIC_ACQ_REL);
}

void mlpx_team_set(int64_t *x, int64_t v) { __atomic_store_n(x, v, __ATOMIC_RELEASE); }

int mlpx_team_flag(int *flag, int set)
{
    if (set) __atomic_store_n(flag, 1, __ATOMIC_RELEASE);
    return __atomic_load_n(flag, __ATOMIC_ACQUIRE);
}

/* A job, shared by the caller and the helper and freed by whichever lets go
 * last. state: PENDING until the helper picks it up (JOINED: it runs
 * fn(arg, 1) and the caller waits for done) or the caller, finished first,
 * gives it up (ABANDONED: fn is never called by the helper). */
enum { PENDING = 0, JOINED = 1, ABANDONED = 2 };

typedef struct {
    void (*fn)(void *, int);
    void *arg;
    int state, refs, done;
} team_job;

/* the helper's mailbox; busy: held by one caller at a time */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    int started, busy, sleeping;
    team_job *job;
} H = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0, 0, NULL};

static void job_release(team_job *job)
{
    if (__atomic_sub_fetch(&job->refs, 1, __ATOMIC_ACQ_REL) == 0) free(job);
}

static int job_settle(team_job *job, int to)
{
    int expected = PENDING;
    if (__atomic_compare_exchange_n(&job->state, &expected, to, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return to;
    return expected;
}

static void *helper_main(void *unused)
{
    (void)unused;
#if defined(__linux__)
    pthread_setname_np(pthread_self(), "mlpx-helper"); /* as top -H shows it */
#endif
    int64_t last = mlpx_now_ns();
    for (;;) {
        team_job *job = __atomic_exchange_n(&H.job, NULL, __ATOMIC_ACQ_REL);
        if (job) {
            if (job_settle(job, JOINED) == JOINED) {
                mlpx_blas_local(1);
                job->fn(job->arg, 1);
                mlpx_blas_local(0);
                __atomic_store_n(&job->done, 1, __ATOMIC_RELEASE);
            }
            job_release(job);
            last = mlpx_now_ns();
        } else if (mlpx_now_ns() - last < MLPX_IDLE_NS) {
            cpu_pause();
        } else {
            /* sleeping, then job here; job, then sleeping in mlpx_team_run:
             * sequentially consistent, so one of the two sees the other's
             * store (a store-load pair that acquire/release may reorder) */
            pthread_mutex_lock(&H.lock);
            __atomic_store_n(&H.sleeping, 1, __ATOMIC_SEQ_CST);
            while (!__atomic_load_n(&H.job, __ATOMIC_SEQ_CST))
                pthread_cond_wait(&H.wake, &H.lock);
            __atomic_store_n(&H.sleeping, 0, __ATOMIC_RELEASE);
            pthread_mutex_unlock(&H.lock);
        }
    }
    return NULL;
}

/* A forked child has no helper thread: it starts its own when needed. */
static void after_fork_child(void)
{
    pthread_mutex_init(&H.lock, NULL);
    pthread_cond_init(&H.wake, NULL);
    H.started = H.busy = H.sleeping = 0;
    H.job = NULL;
}

static int helper_start(void)
{
    static int atfork = 0;
    pthread_attr_t attr;
    pthread_t th;
    if (!atfork && pthread_atfork(NULL, NULL, after_fork_child) != 0) return 0;
    atfork = 1;
    sigset_t all, old;
    if (pthread_attr_init(&attr) != 0) return 0;
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    /* the helper blocks every signal (it inherits this mask), so signals
     * such as Ctrl-C reach the interpreter's threads, not the helper */
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    const int ok = pthread_create(&th, &attr, helper_main, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    pthread_attr_destroy(&attr);
    return ok;
}

int mlpx_team_run(void (*fn)(void *, int), void *arg)
{
    int expected = 0;
    if (!__atomic_compare_exchange_n(&H.busy, &expected, 1, 0, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED))
        return -1; /* the helper works for another caller */
    team_job *job = (team_job *)malloc(sizeof(team_job));
    if (!job || (!H.started && !(H.started = helper_start()))) {
        free(job);
        __atomic_store_n(&H.busy, 0, __ATOMIC_RELEASE);
        return -1;
    }
    job->fn = fn;
    job->arg = arg;
    job->state = PENDING;
    job->refs = 2;
    job->done = 0;
    __atomic_store_n(&H.job, job, __ATOMIC_SEQ_CST);
    if (__atomic_load_n(&H.sleeping, __ATOMIC_SEQ_CST)) {
        pthread_mutex_lock(&H.lock);
        pthread_cond_signal(&H.wake);
        pthread_mutex_unlock(&H.lock);
    }
    mlpx_blas_local(1);
    fn(arg, 0);
    mlpx_blas_local(0);
    if (job_settle(job, ABANDONED) == JOINED) {
        const int64_t since = mlpx_now_ns();
        while (!__atomic_load_n(&job->done, __ATOMIC_ACQUIRE)) mlpx_team_pause(since);
    } else {
        /* never picked up: take it back from the mailbox, or the helper,
         * holding it, drops its own reference */
        team_job *posted = job;
        if (__atomic_compare_exchange_n(&H.job, &posted, NULL, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            job_release(job);
    }
    job_release(job);
    __atomic_store_n(&H.busy, 0, __ATOMIC_RELEASE);
    return 0;
}

#else

int64_t mlpx_now_ns(void) { return 0; }

void mlpx_team_pause(int64_t since) { (void)since; }

int64_t mlpx_barrier_wait(mlpx_barrier *b, int *sense)
{
    (void)b;
    (void)sense;
    return 0;
}

int64_t mlpx_team_take(int64_t *counter, int64_t n)
{
    const int64_t old = *counter;
    *counter += n;
    return old;
}

void mlpx_team_set(int64_t *x, int64_t v) { *x = v; }

int mlpx_team_flag(int *flag, int set)
{
    if (set) *flag = 1;
    return *flag;
}

int mlpx_team_run(void (*fn)(void *, int), void *arg)
{
    (void)fn;
    (void)arg;
    return -1;
}

#endif

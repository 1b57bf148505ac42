/* mlpx's worker threads and the one way the engine shares work among them:
 * a parallel loop over parts fixed in advance (mlpx_pool_for).
 *
 * The invariant that makes results independent of threads and timing: a
 * caller splits its work into parts whose number and bounds depend only on
 * the shapes (never on the thread count, the load or who is free), every
 * part writes only memory of its own, and whatever is summed over parts is
 * summed by the caller after the loop, in part order. Which thread runs a
 * part, and how many threads there are, then changes nothing but the time.
 *
 * The pool: helper threads started on demand (at most MLPX_MAX_THREADS - 1
 * for the process) and kept. One loop runs at a time; a caller that finds
 * the pool busy (another Python thread inside mlpx) runs its parts alone.
 * A loop is published as an odd `state` (2 x generation + 1); helpers that
 * see it take a worker slot (the caller is worker 0) while slots < threads
 * remain, then take parts from a shared counter until none are left; the
 * caller takes parts too, so a helper that is late, asleep or without a
 * core of its own costs time, never a wrong or missing result. The caller
 * then closes the loop (even state) and waits until every helper that
 * entered has left, so the loop's fields are never read after it returns.
 *
 * Waiting: every wait spins for MLPX_SPIN_NS (the other side is normally
 * microseconds away), then blocks on a condition variable, so more threads
 * than cores slows down gracefully instead of burning the cores a
 * descheduled worker needs. An idle helper spins MLPX_IDLE_NS after a loop
 * (the next loop of an epoch is microseconds away), then sleeps.
 *
 * POSIX threads and GCC/Clang atomics; elsewhere (or with MLPX_NO_THREADS)
 * every loop runs on the caller.
 */
#if defined(__linux__)
#define _GNU_SOURCE /* pthread_setname_np */
#else
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#endif
#include "engine.h"

#if defined(__GNUC__) && (defined(__unix__) || defined(__APPLE__)) && !defined(MLPX_NO_THREADS)
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <time.h>

#define MLPX_SPIN_NS 50000
#define MLPX_IDLE_NS 200000

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void cpu_pause(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

#define LINE 64
/* Fields written by different threads sit on cache lines of their own. */
static struct {
    pthread_mutex_t lock;
    pthread_cond_t wake; /* helpers: a new loop */
    pthread_cond_t done_cv; /* the caller: the last part is done */
    int started;         /* helpers started (under lock) */
    int busy;            /* a caller owns the pool */
    char pad0[LINE];
    int64_t state;       /* 2 x generation + (loop open) */
    char pad1[LINE - sizeof(int64_t)];
    /* the loop, written by the caller while the state is even */
    mlpx_part_fn fn;
    void *arg;
    int64_t nparts;
    int threads;
    char pad2[LINE];
    int64_t next;        /* parts handed out */
    char pad3[LINE - sizeof(int64_t)];
    int64_t done;        /* parts finished */
    char pad4[LINE - sizeof(int64_t)];
    int slots;           /* worker slots taken (the caller's is 0) */
    char pad5[LINE - sizeof(int)];
    int active;          /* helpers inside the loop */
    char pad6[LINE - sizeof(int)];
    int sleeping;        /* helpers asleep on wake */
    int waiting;         /* the caller asleep on done_cv */
} P = {.lock = PTHREAD_MUTEX_INITIALIZER,
     .wake = PTHREAD_COND_INITIALIZER,
     .done_cv = PTHREAD_COND_INITIALIZER};

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_SEQ_CST)
#define STORE(x, v) __atomic_store_n(&(x), (v), __ATOMIC_SEQ_CST)
#define ADD(x, v) __atomic_fetch_add(&(x), (v), __ATOMIC_SEQ_CST)

/* Run parts until none are left; returns how many this worker ran. */
static int64_t run_parts(mlpx_part_fn fn, void *arg, int64_t nparts, int worker)
{
    int64_t ran = 0, p;
    while ((p = ADD(P.next, 1)) < nparts) {
        fn(arg, p, worker);
        ran++;
    }
    return ran;
}

static void finish_parts(int64_t ran, int64_t nparts)
{
    if (ran && ADD(P.done, ran) + ran == nparts && LOAD(P.waiting)) {
        pthread_mutex_lock(&P.lock);
        pthread_cond_signal(&P.done_cv);
        pthread_mutex_unlock(&P.lock);
    }
}

static void *helper_main(void *unused)
{
    (void)unused;
#if defined(__linux__)
    pthread_setname_np(pthread_self(), "mlpx-worker"); /* as top -H shows it */
#endif
    int64_t seen = LOAD(P.state), last = now_ns();
    for (;;) {
        const int64_t s = LOAD(P.state);
        if (s != seen && (s & 1)) {
            seen = s;
            ADD(P.active, 1);
            /* still the same loop: its fields are stable until we leave */
            if (LOAD(P.state) == s) {
                const int slot = ADD(P.slots, 1) + 1;
                if (slot < P.threads) {
                    const int64_t nparts = P.nparts;
                    finish_parts(run_parts(P.fn, P.arg, nparts, slot), nparts);
                    last = now_ns();
                }
            }
            ADD(P.active, -1);
        } else if (now_ns() - last < MLPX_IDLE_NS) {
            seen = s & 1 ? seen : s;
            cpu_pause();
        } else {
            pthread_mutex_lock(&P.lock);
            ADD(P.sleeping, 1);
            /* sleep until the state moves on and a caller signals (it
             * signals after its store of the state and reads `sleeping`
             * after that store: one of the two sees the other; a helper not
             * signalled sleeps on, which no loop waits for) */
            while (LOAD(P.state) == s) pthread_cond_wait(&P.wake, &P.lock);
            ADD(P.sleeping, -1);
            pthread_mutex_unlock(&P.lock);
            last = now_ns();
        }
    }
    return NULL;
}

/* A forked child has no helpers: it starts its own when needed. */
static void after_fork_child(void)
{
    pthread_mutex_init(&P.lock, NULL);
    pthread_cond_init(&P.wake, NULL);
    pthread_cond_init(&P.done_cv, NULL);
    P.started = P.busy = P.sleeping = P.waiting = P.active = P.slots = 0;
    P.state &= ~(int64_t)1;
}

/* At least n helpers started (under P.lock); returns how many there are. */
static int start_helpers(int n)
{
    static int atfork = 0;
    if (!atfork && pthread_atfork(NULL, NULL, after_fork_child) != 0) return P.started;
    atfork = 1;
    while (P.started < n) {
        pthread_attr_t attr;
        pthread_t th;
        sigset_t all, old;
        if (pthread_attr_init(&attr) != 0) break;
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        /* helpers block every signal (they inherit this mask), so signals
         * such as Ctrl-C reach the interpreter's threads */
        sigfillset(&all);
        pthread_sigmask(SIG_SETMASK, &all, &old);
        const int ok = pthread_create(&th, &attr, helper_main, NULL) == 0;
        pthread_sigmask(SIG_SETMASK, &old, NULL);
        pthread_attr_destroy(&attr);
        if (!ok) break;
        P.started++;
    }
    return P.started;
}

/* The caller's wait for cond() to hold: spin, then block on done_cv. */
static void wait_parts_done(int64_t nparts)
{
    const int64_t t0 = now_ns();
    while (LOAD(P.done) != nparts) {
        if (now_ns() - t0 < MLPX_SPIN_NS) {
            cpu_pause();
            continue;
        }
        pthread_mutex_lock(&P.lock);
        STORE(P.waiting, 1);
        while (LOAD(P.done) != nparts) pthread_cond_wait(&P.done_cv, &P.lock);
        STORE(P.waiting, 0);
        pthread_mutex_unlock(&P.lock);
    }
}

void mlpx_pool_for(int threads, int64_t nparts, mlpx_part_fn fn, void *arg)
{
    if (threads > nparts) threads = (int)nparts;
    if (threads > MLPX_MAX_THREADS) threads = MLPX_MAX_THREADS;
    int expected = 0;
    if (threads <= 1 ||
        !__atomic_compare_exchange_n(&P.busy, &expected, 1, 0, __ATOMIC_ACQUIRE,
                                     __ATOMIC_RELAXED)) {
        for (int64_t p = 0; p < nparts; p++) fn(arg, p, 0);
        return;
    }
    if (P.started < threads - 1) {
        pthread_mutex_lock(&P.lock);
        start_helpers(threads - 1);
        pthread_mutex_unlock(&P.lock);
    }
    P.fn = fn;
    P.arg = arg;
    P.nparts = nparts;
    P.threads = threads;
    STORE(P.next, 0);
    STORE(P.done, 0);
    STORE(P.slots, 0);
    const int64_t open = LOAD(P.state) + 1;
    STORE(P.state, open);
    /* wake as many sleepers as the loop has worker slots, not all of them:
     * with 63 helpers asleep, a broadcast for a loop of two parts would
     * wake 62 threads for nothing, at every loop */
    const int sleepers = LOAD(P.sleeping);
    if (sleepers) {
        const int wake = threads - 1 < sleepers ? threads - 1 : sleepers;
        pthread_mutex_lock(&P.lock);
        for (int k = 0; k < wake; k++) pthread_cond_signal(&P.wake);
        pthread_mutex_unlock(&P.lock);
    }
    const int64_t ran = run_parts(fn, arg, nparts, 0);
    if (ran) ADD(P.done, ran);
    wait_parts_done(nparts);
    STORE(P.state, open + 1);
    const int64_t t0 = now_ns();
    while (LOAD(P.active)) { /* helpers leaving: they touch no part now */
        if (now_ns() - t0 < MLPX_SPIN_NS)
            cpu_pause();
        else
            sched_yield();
    }
    __atomic_store_n(&P.busy, 0, __ATOMIC_RELEASE);
}

#else

void mlpx_pool_for(int threads, int64_t nparts, mlpx_part_fn fn, void *arg)
{
    (void)threads;
    for (int64_t p = 0; p < nparts; p++) fn(arg, p, 0);
}

#endif

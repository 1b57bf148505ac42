/* Core-to-core latency probe: two threads pass one cache line back and
 * forth n times; returns the mean round trip in nanoseconds (or -1 when no
 * thread can be started). On the benchmark VMs the round trip is 60-160 ns
 * while the host keeps the two virtual CPUs close, 320-410 ns while it
 * keeps them apart; the two-thread paths of mlpx (and OpenBLAS's threads)
 * are slower in the second case. */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <time.h>

static _Alignas(64) volatile int64_t flag;
static int64_t rounds;

static void pause_(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static void *partner(void *unused)
{
    (void)unused;
    for (int64_t i = 0; i < rounds; i++) {
        while (flag != 2 * i + 1) pause_();
        flag = 2 * i + 2;
    }
    return NULL;
}

double corelat_roundtrip_ns(int64_t n)
{
    pthread_t th;
    struct timespec t0, t1;
    flag = 0;
    rounds = n;
    if (pthread_create(&th, NULL, partner, NULL) != 0) return -1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (int64_t i = 0; i < n; i++) {
        flag = 2 * i + 1;
        while (flag != 2 * i + 2) pause_();
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(th, NULL);
    return ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) /
           (double)n;
}

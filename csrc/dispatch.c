/* Run-time choice of the kernel path (isa.h): the public elementwise kernels
 * forward to the variants of one x86-64 ISA level, chosen at the first call
 * of any of them (or of mlpx_kernel_path) and kept for the process:
 *   x86-64-v4: AVX-512 F, BW, CD, DQ, VL, with the OS saving ZMM state;
 *   x86-64-v3: AVX2, FMA, BMI1, BMI2, F16C, MOVBE, LZCNT (and v2's SSE3,
 *              SSSE3, SSE4.1, SSE4.2, POPCNT, CMPXCHG16B), OS saving YMM;
 *   x86-64:    the baseline (SSE2).
 * The best the CPU and the OS support, capped by the environment variable
 * MLPX_CPU, read once: x86-64 (or x86-64-v1, x86-64-v2: there is no v2
 * build), x86-64-v3, x86-64-v4, auto or unset (no cap). A level above what
 * the CPU has gives the best one it has; a value not understood is taken
 * as auto, with one line on stderr.
 * Built without per-level compiles (not x86-64, or not GCC/Clang: the
 * kernel files then define the public names themselves), only
 * mlpx_kernel_path is here, and says "generic". */
#include "engine.h"

#ifndef MLPX_DISPATCH

const char *mlpx_kernel_path(void) { return "generic"; }

#else

#if !defined(__x86_64__) || !defined(__GNUC__)
#error "MLPX_DISPATCH needs x86-64 and GCC or Clang"
#endif

#include <cpuid.h>
#include <stdio.h>
#include <stdlib.h>

#define MLPX_ISA_DECLARE_AT(level)                                             \
    MLPX_ISA_KERNELS(MLPX_ISA_DECLARE_##level, float, f)                       \
    MLPX_ISA_KERNELS(MLPX_ISA_DECLARE_##level, double, d)
#define MLPX_ISA_DECLARE_v1(ret, rk, name, params, args) ret name##_v1 params;
#define MLPX_ISA_DECLARE_v3(ret, rk, name, params, args) ret name##_v3 params;
#define MLPX_ISA_DECLARE_v4(ret, rk, name, params, args) ret name##_v4 params;
MLPX_ISA_DECLARE_AT(v1)
MLPX_ISA_DECLARE_AT(v3)
MLPX_ISA_DECLARE_AT(v4)

/* one level's kernels */
typedef struct {
    const char *name;
#define MLPX_ISA_MEMBER(ret, rk, name, params, args) ret(*name) params;
    MLPX_ISA_KERNELS(MLPX_ISA_MEMBER, float, f)
    MLPX_ISA_KERNELS(MLPX_ISA_MEMBER, double, d)
#undef MLPX_ISA_MEMBER
} mlpx_isa_table;

#define MLPX_ISA_INIT_v1(ret, rk, name, params, args) .name = name##_v1,
#define MLPX_ISA_INIT_v3(ret, rk, name, params, args) .name = name##_v3,
#define MLPX_ISA_INIT_v4(ret, rk, name, params, args) .name = name##_v4,
#define MLPX_ISA_TABLE(level, path)                                            \
    {.name = path, MLPX_ISA_KERNELS(MLPX_ISA_INIT_##level, float, f)           \
                       MLPX_ISA_KERNELS(MLPX_ISA_INIT_##level, double, d)}
/* indexed by level: 1 baseline, 3, 4 (2 runs the baseline) */
static const mlpx_isa_table mlpx_isa_tables[5] = {
    [1] = MLPX_ISA_TABLE(v1, "x86-64"),
    [2] = MLPX_ISA_TABLE(v1, "x86-64"),
    [3] = MLPX_ISA_TABLE(v3, "x86-64-v3"),
    [4] = MLPX_ISA_TABLE(v4, "x86-64-v4"),
};

/* XCR0, the register state the OS saves (xgetbv 0; only when OSXSAVE) */
static uint64_t mlpx_xcr0(void)
{
    uint32_t lo, hi;
    __asm__ __volatile__("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

/* the x86-64 level (1-4) of this CPU and OS */
static int mlpx_cpu_level(void)
{
    unsigned a, b, c, d;
    const unsigned max = __get_cpuid_max(0, NULL);
    if (max < 1) return 1;
    __cpuid(1, a, b, c, d);
    const unsigned c1 = c;
    const int v2 = (c1 & 1u << 0) && (c1 & 1u << 9) && (c1 & 1u << 13) && /* SSE3 SSSE3 CX16 */
                   (c1 & 1u << 19) && (c1 & 1u << 20) && (c1 & 1u << 23);  /* SSE4.1 4.2 POPCNT */
    if (!v2) return 1;
    /* AVX and its state: OSXSAVE, AVX; XCR0 bits 1 (XMM), 2 (YMM) */
    const int osxsave = (c1 & 1u << 27) != 0;
    const uint64_t xcr0 = osxsave ? mlpx_xcr0() : 0;
    if (max < 7 || !(c1 & 1u << 28) || (xcr0 & 0x6) != 0x6) return 2;
    __cpuid_count(7, 0, a, b, c, d);
    const unsigned b7 = b;
    unsigned c81 = 0;
    if ((unsigned)__get_cpuid_max(0x80000000u, NULL) >= 0x80000001u) {
        __cpuid(0x80000001u, a, b, c, d);
        c81 = c;
    }
    const int v3 = (c1 & 1u << 12) && (c1 & 1u << 22) && (c1 & 1u << 29) && /* FMA MOVBE F16C */
                   (b7 & 1u << 3) && (b7 & 1u << 5) && (b7 & 1u << 8) &&    /* BMI1 AVX2 BMI2 */
                   (c81 & 1u << 5);                                         /* LZCNT (ABM) */
    if (!v3) return 2;
    /* AVX-512 F DQ CD BW VL; XCR0 bits 5-7 (opmask, ZMM0-15 upper, ZMM16-31) */
    const int v4 = (b7 & 1u << 16) && (b7 & 1u << 17) && (b7 & 1u << 28) &&
                   (b7 & 1u << 30) && (b7 & 1u << 31) && (xcr0 & 0xe6) == 0xe6;
    return v4 ? 4 : 3;
}

/* MLPX_CPU's cap on the level (4 for none); *bad = 1 when not understood */
static int mlpx_env_level(const char *e, int *bad)
{
    *bad = 0;
    if (!e) return 4;
    char v[16];
    size_t n = 0;
    while (*e == ' ' || *e == '\t') e++;
    for (; *e && n < sizeof v - 1; e++) v[n++] = (char)(*e >= 'A' && *e <= 'Z' ? *e - 'A' + 'a' : *e);
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\n')) n--;
    v[n] = 0;
    if (*e) { /* longer than any value */
        *bad = 1;
        return 4;
    }
    if (!strcmp(v, "") || !strcmp(v, "auto")) return 4;
    if (!strcmp(v, "x86-64") || !strcmp(v, "x86-64-v1")) return 1;
    if (!strcmp(v, "x86-64-v2")) return 2;
    if (!strcmp(v, "x86-64-v3")) return 3;
    if (!strcmp(v, "x86-64-v4")) return 4;
    *bad = 1;
    return 4;
}

static const mlpx_isa_table *mlpx_isa_chosen;

static const mlpx_isa_table *mlpx_isa_choose(void)
{
    const char *e = getenv("MLPX_CPU");
    int bad;
    const int cap = mlpx_env_level(e, &bad), cpu = mlpx_cpu_level();
    const mlpx_isa_table *t = &mlpx_isa_tables[cap < cpu ? cap : cpu], *none = NULL;
    /* the first thread to get here decides (all would decide the same) */
    if (__atomic_compare_exchange_n(&mlpx_isa_chosen, &none, t, 0, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE)) {
        if (bad)
            fprintf(stderr, "mlpx: MLPX_CPU=%s not understood (x86-64, x86-64-v2, "
                            "x86-64-v3, x86-64-v4 or auto); using auto: %s\n", e, t->name);
        return t;
    }
    return none;
}

static inline const mlpx_isa_table *mlpx_isa(void)
{
    const mlpx_isa_table *t = __atomic_load_n(&mlpx_isa_chosen, __ATOMIC_ACQUIRE);
    return __builtin_expect(t != NULL, 1) ? t : mlpx_isa_choose();
}

const char *mlpx_kernel_path(void) { return mlpx_isa()->name; }

/* the public kernels */
#define MLPX_ISA_FORWARD(ret, rk, name, params, args)                          \
    ret name params { rk mlpx_isa()->name args; }
MLPX_ISA_KERNELS(MLPX_ISA_FORWARD, float, f)
MLPX_ISA_KERNELS(MLPX_ISA_FORWARD, double, d)

#endif

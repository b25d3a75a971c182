/*
 * mm_random_native.c - the kernel of tests/guests/sys/mm_random.c as a
 * normal 32-bit Linux program: the native reference of bench/shadow.py.
 *
 *   gcc -m32 -march=i686 -O2 -o mm_random_native mm_random_native.c
 *   ./mm_random_native MIB ITERS [SEED]
 *
 * Same array contents, same LCG, same read-modify-write loop and the same
 * FNV-1a checksum as the guest (its helpers are copied from
 * tests/guests/sys/mm_common.h and mm_random.c: keep them in step), on a
 * malloc'd array of MIB MiB (4 KiB pages unless transparent huge pages are
 * "always" on the host).  Prints the guest's "checksum 0x..." line, which
 * bench/shadow.py compares with the guest's, and "loop seconds: S", the
 * time of the read-modify-write loop alone (CLOCK_MONOTONIC).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define K_MUL 0x9e3779b1u
#define FNV_INIT 0x811c9dc5u

static inline uint32_t mix(uint32_t h)
{
    h *= 0x9e3779b1u;
    h ^= h >> 15;
    h *= 0x85ebca77u;
    h ^= h >> 13;
    return h;
}

static inline uint32_t lcg(uint32_t x)
{
    return x * 1664525u + 1013904223u;
}

static inline uint32_t scale(uint32_t x, uint32_t n)
{
    return (uint32_t)(((uint64_t)x * n) >> 32);
}

/* The guest's timed loop, word for word. */
__attribute__((noinline)) static uint32_t work(uint32_t *a, uint32_t nwords, uint32_t iters, uint32_t x)
{
#pragma GCC unroll 8
    for (uint32_t j = 0; j < iters; j++) {
        x = lcg(x);
        uint32_t i = scale(x, nwords);
        a[i] = a[i] * K_MUL + j;
    }
    return x;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MIB ITERS [SEED]\n", argv[0]);
        return 2;
    }
    uint32_t mib = (uint32_t)strtoul(argv[1], 0, 0);
    uint32_t iters = (uint32_t)strtoul(argv[2], 0, 0);
    uint32_t seed = argc > 3 ? (uint32_t)strtoul(argv[3], 0, 0) : 1;
    if (mib == 0 || mib > 768) {
        fprintf(stderr, "MIB out of range (1..768)\n");
        return 2;
    }
    uint32_t npages = mib << 8, nwords = mib << 18;
    uint32_t *a = malloc((size_t)nwords * 4);
    if (!a) {
        perror("malloc");
        return 1;
    }
    uint32_t tmpl[1024];
    for (int w = 0; w < 1024; w++)
        tmpl[w] = mix((uint32_t)w + 0x1234567u);
    for (uint32_t p = 0; p < npages; p++) {
        memcpy(a + p * 1024, tmpl, 4096);
        a[p * 1024] = mix(p) ^ 0xa5a5a5a5u;
    }
    double t0 = now();
    uint32_t x = work(a, nwords, iters, seed);
    double t1 = now();
    uint32_t h = FNV_INIT;
    for (uint32_t i = 0; i < nwords; i++)
        h = (h ^ a[i]) * 0x01000193u;
    printf("checksum 0x%08x\n", h);
    printf("final LCG state 0x%08x\n", x);
    printf("loop seconds: %.6f\n", t1 - t0);
    free(a);
    return 0;
}

/*
 * mm_random_native.c - the kernel of tests/guests/sys/mm_random.c as a
 * normal 32-bit Linux program: the native reference of bench/shadow.py.
 *
 *   gcc -m32 -march=i686 -O2 -o mm_random_native mm_random_native.c
 *   ./mm_random_native MIB ITERS [SEED]
 *
 * Same array contents, same LCG, same read-modify-write loop and the same
 * FNV-1a checksum as the guest (the loop and its helpers are the guest's
 * own, tests/guests/sys/mm_random_loop.h), on a
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

#include "../../tests/guests/sys/mm_random_loop.h"

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
        tmpl[w] = mm_mix((uint32_t)w + 0x1234567u);
    for (uint32_t p = 0; p < npages; p++) {
        memcpy(a + p * 1024, tmpl, 4096);
        a[p * 1024] = mm_mix(p) ^ 0xa5a5a5a5u;
    }
    double t0 = now();
    uint32_t x = mm_random_work(a, nwords, iters, seed);
    double t1 = now();
    uint32_t h = MM_FNV_INIT;
    for (uint32_t i = 0; i < nwords; i++)
        h = (h ^ a[i]) * 0x01000193u;
    printf("checksum 0x%08x\n", h);
    printf("final LCG state 0x%08x\n", x);
    printf("loop seconds: %.6f\n", t1 - t0);
    free(a);
    return 0;
}

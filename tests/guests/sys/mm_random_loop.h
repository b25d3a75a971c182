/*
 * mm_random_loop.h - what mm_random's guest (tests/guests/sys/mm_random.c)
 * and its native reference (bench/guests/mm_random_native.c) share: the
 * integer mixing, the LCG and the timed read-modify-write loop, so both
 * run the same code. Freestanding: <stdint.h> only.
 */
#ifndef MM_RANDOM_LOOP_H
#define MM_RANDOM_LOOP_H

#include <stdint.h>

static inline uint32_t mm_mix(uint32_t h)
{
    h *= 0x9e3779b1u;
    h ^= h >> 15;
    h *= 0x85ebca77u;
    h ^= h >> 13;
    return h;
}

static inline uint32_t mm_lcg(uint32_t x)
{
    return x * 1664525u + 1013904223u;
}

/* Maps a 32-bit random number onto [0, n): the high half of x * n. */
static inline uint32_t mm_scale(uint32_t x, uint32_t n)
{
    return (uint32_t)(((uint64_t)x * n) >> 32);
}

#define MM_FNV_INIT 0x811c9dc5u
#define MM_K_MUL    0x9e3779b1u

/* The timed loop: ITERS random read-modify-writes over NWORDS words.
 * Returns the final LCG state. */
__attribute__((noinline, unused)) static uint32_t mm_random_work(uint32_t *a, uint32_t nwords, uint32_t iters, uint32_t x)
{
#pragma GCC unroll 8
    for (uint32_t j = 0; j < iters; j++) {
        x = mm_lcg(x);
        uint32_t i = mm_scale(x, nwords);
        a[i] = a[i] * MM_K_MUL + j;
    }
    return x;
}

#endif

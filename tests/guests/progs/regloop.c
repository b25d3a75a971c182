/*
 * regloop.c - register loops: integer arithmetic on values that stay in
 * registers, with no memory access inside the loops.
 *
 *  - a mixing loop of ADD/SUB/XOR/shifts/rotates/IMUL on four values,
 *  - a 64-bit linear congruential generator on register pairs (MUL, ADC),
 *  - bit-by-bit integer square roots (shift/compare loops),
 *  - a leading-zero count by binary search (SETcc/CMOV-style code).
 *
 * Loop trip counts are fixed, so the branches are predictable: the code is
 * bound by the arithmetic, not by branch mispredictions.
 */
#include "io.h"

#ifndef ITERS
#define ITERS 2
#endif

#define NOINLINE __attribute__((noinline))

static NOINLINE uint32_t mix(uint32_t n, uint32_t seed)
{
    uint32_t a = seed, b = 0x9e3779b9u, c = 0x7f4a7c15u, d = 1;
    for (uint32_t i = 0; i < n; i++) {
        a += b;
        b ^= a >> 7;
        c -= a;
        c = c << 11 | c >> 21;
        d = d * 0x2c1b3c6du + c;
        b += d ^ i;
        a ^= b << 3;
    }
    return a ^ b ^ c ^ d;
}

static NOINLINE uint64_t lcg64(uint32_t n, uint64_t x)
{
    for (uint32_t i = 0; i < n; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x;
}

/* floor(sqrt(v)), one result bit per step. */
static uint32_t isqrt(uint32_t v)
{
    uint32_t root = 0, bit = 1u << 30;
    while (bit > v)
        bit >>= 2;
    while (bit) {
        uint32_t t = root + bit;
        root >>= 1;
        if (v >= t) {
            v -= t;
            root += bit;
        }
        bit >>= 2;
    }
    return root;
}

static NOINLINE uint32_t isqrt_sum(uint32_t n)
{
    uint32_t s = 0;
    for (uint32_t i = 1; i <= n; i++)
        s += isqrt(i * 2654435761u);
    return s;
}

/* Leading zeros without BSR: a branch-free binary search. */
static uint32_t clz32(uint32_t x)
{
    uint32_t n = 0, t;
    t = (x <= 0xffffu) << 4; n += t; x <<= t;
    t = (x <= 0xffffffu) << 3; n += t; x <<= t;
    t = (x <= 0xfffffffu) << 2; n += t; x <<= t;
    t = (x <= 0x3fffffffu) << 1; n += t; x <<= t;
    t = x <= 0x7fffffffu; n += t; x <<= t;
    return n + (x == 0);
}

static NOINLINE uint32_t clz_sum(uint32_t n)
{
    uint32_t s = 0, x = 0x12345678u;
    for (uint32_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s += clz32(x >> (i & 31));
    }
    return s;
}

int guest_main(void)
{
    printf("regloop: %d iterations\n", ITERS);
    uint32_t total = 0;
    for (int it = 0; it < ITERS; it++) {
        uint32_t m = mix(1000000u, (uint32_t)it);
        uint64_t l = lcg64(500000u, (uint64_t)it + 1);
        uint32_t q = isqrt_sum(50000u + (uint32_t)it);
        uint32_t z = clz_sum(300000u + (uint32_t)it);
        if (it < 4 || it == ITERS - 1)
            printf("iter %d: mix=%08x lcg=%016llx isqrt=%08x clz=%u\n", it, m, l, q, z);
        total = (total << 5 | total >> 27) ^ m ^ (uint32_t)(l >> 32) ^ (uint32_t)l ^ q ^ z;
    }
    printf("isqrt(0..9):");
    for (uint32_t v = 0; v < 10; v++)
        printf(" %u", isqrt(v));
    printf("\nregloop: total=%08x\n", total);
    return 0;
}

/*
 * sieve.c - sieve of Eratosthenes over a 4 MiB byte array.
 *
 * Mostly strided byte stores over a working set larger than any cache or
 * TLB-like structure an emulator may keep, then a linear scan.  A second,
 * odd-only bit-array sieve (BT/BTS-style shift-and-mask code) must agree with
 * the byte sieve.  Each iteration sieves a slightly smaller range.
 */
#include "io.h"

#ifndef ITERS
#define ITERS 1
#endif

#define SIEVE_SIZE (4u * 1024 * 1024)

static uint8_t composite[SIEVE_SIZE];           /* 1 = not prime */
static uint32_t odd_bits[SIEVE_SIZE / 64 + 1];  /* bit k: 2k+1 is composite */

static void byte_sieve(uint32_t limit)
{
    memset(composite, 0, limit);
    composite[0] = composite[1] = 1;
    for (uint32_t p = 2; p * p < limit; p++) {
        if (composite[p])
            continue;
        for (uint32_t m = p * p; m < limit; m += p)
            composite[m] = 1;
    }
}

/* Counts primes below limit with the odd-only bit sieve. */
static uint32_t bit_sieve_count(uint32_t limit)
{
    uint32_t nbits = limit / 2;                 /* odd numbers 1, 3, ..., < limit */
    memset(odd_bits, 0, (nbits + 31) / 32 * 4);
    for (uint32_t i = 1; (2 * i + 1) * (2 * i + 1) < limit; i++) {
        if (odd_bits[i >> 5] & (1u << (i & 31)))
            continue;
        uint32_t p = 2 * i + 1;
        for (uint32_t j = (p * p) / 2; j < nbits; j += p)
            odd_bits[j >> 5] |= 1u << (j & 31);
    }
    /* Count clear bits a word at a time (popcount is a libgcc call on
     * i686, see lib/libgcc.c); bit 0 stands for 1, which is not prime, and
     * the prime 2 is not represented, so they cancel out. */
    uint32_t count = 0, i;
    for (i = 0; i + 32 <= nbits; i += 32)
        count += 32 - __builtin_popcount(odd_bits[i >> 5]);
    for (; i < nbits; i++)
        count += !(odd_bits[i >> 5] & (1u << (i & 31)));
    return count;
}

int guest_main(void)
{
    printf("sieve: %d iterations, up to %u\n", ITERS, SIEVE_SIZE);

    for (int it = 0; it < ITERS; it++) {
        uint32_t limit = SIEVE_SIZE - (uint32_t)it * 12345u;
        byte_sieve(limit);

        uint32_t count = 0, twins = 0, last = 0, prev = 0, max_gap = 0;
        uint32_t xsum = 0;
        uint64_t sum = 0;
        uint32_t per_decade[7] = {0};                /* primes in [10^k, 10^(k+1)) */
        uint32_t decade = 0, next_power = 10;
        for (uint32_t n = 2; n < limit; n++) {
            if (composite[n])
                continue;
            count++;
            sum += n;
            xsum = (xsum << 3 | xsum >> 29) ^ n;
            if (prev && n - prev == 2)
                twins++;
            if (prev && n - prev > max_gap)
                max_gap = n - prev;
            prev = last = n;
            while (n >= next_power) {           /* entering the next decade */
                decade++;
                next_power *= 10;
            }
            per_decade[decade]++;
        }
        printf("limit %u: %u primes, sum=%llu xsum=%08x last=%u twins=%u max_gap=%u\n",
               limit, count, sum, xsum, last, twins, max_gap);
        printf("  pi(10^k), k=1..6:");
        for (uint32_t k = 0, total = 0; k < 6; k++)
            printf(" %u", total += per_decade[k]);
        printf("\n");

        uint32_t bcount = bit_sieve_count(limit);
        if (bcount != count)
            printf("  MISMATCH: bit sieve counted %u\n", bcount);
    }

    /* A few individual values as a spot check of the last sieve. */
    static const uint32_t probe[] = {2, 97, 561, 7919, 65537, 1000003, 3999971, 4194301};
    for (size_t i = 0; i < sizeof probe / sizeof probe[0]; i++)
        printf("%u is %s\n", probe[i], composite[probe[i]] ? "composite" : "prime");
    return 0;
}

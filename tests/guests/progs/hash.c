/*
 * hash.c - hashes generated data with several classic functions.
 *
 * Byte loads, XOR/multiply chains (32-bit and 64-bit multiplies), table
 * lookups, bit-at-a-time CRC with data-dependent branches, and Adler-32's
 * modulo (DIV).  Each iteration flips a few bytes of the data, so every
 * iteration prints different, deterministic values.
 */
#include "io.h"

#ifndef ITERS
#define ITERS 6
#endif

#define DATA_SIZE (64 * 1024)

static uint8_t data[DATA_SIZE];
static uint32_t crc_table[256];

/* xorshift32: cheap, deterministic pseudo-random bytes. */
static uint32_t rng_state = 0x12345678u;
static uint32_t xorshift32(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

static uint32_t fnv1a32(const uint8_t *p, size_t n)
{
    uint32_t h = 0x811c9dc5u;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x01000193u;
    }
    return h;
}

/* 64-bit multiply on i386: three MULs/IMULs and an ADD chain per byte. */
static uint64_t fnv1a64(const uint8_t *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void crc32_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
}

static uint32_t crc32_table(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++)
        c = crc_table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return ~c;
}

/* The same CRC one bit at a time, with a real branch per bit (gcc would
 * otherwise turn `c & 1 ? a : b` into a mask or a CMOV). */
static uint32_t crc32_bitwise(const uint8_t *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++) {
            if (c & 1) {
                c = (c >> 1) ^ 0xedb88320u;
                __asm__("" : "+r"(c));      /* keep the branch */
            } else {
                c >>= 1;
            }
        }
    }
    return ~c;
}

static uint32_t adler32(const uint8_t *p, size_t n)
{
    uint32_t a = 1, b = 0;
    for (size_t i = 0; i < n; i++) {
        a = (a + p[i]) % 65521u;
        b = (b + a) % 65521u;
    }
    return b << 16 | a;
}

/* MurmurHash3's 32-bit finaliser over 32-bit words: rotates and multiplies. */
static uint32_t murmur_words(const uint8_t *p, size_t n)
{
    uint32_t h = 0x9747b28cu;
    for (size_t i = 0; i + 4 <= n; i += 4) {
        uint32_t k;
        memcpy(&k, p + i, 4);
        k *= 0xcc9e2d51u;
        k = k << 15 | k >> 17;
        k *= 0x1b873593u;
        h ^= k;
        h = h << 13 | h >> 19;
        h = h * 5 + 0xe6546b64u;
    }
    h ^= (uint32_t)n;
    h ^= h >> 16;
    h *= 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h;
}

int guest_main(void)
{
    printf("hash: %d iterations over %d bytes\n", ITERS, DATA_SIZE);

    for (size_t i = 0; i < DATA_SIZE; i++)
        data[i] = (uint8_t)(xorshift32() >> 24);
    crc32_init();
    printf("crc_table[1]=%08x crc_table[255]=%08x\n", crc_table[1], crc_table[255]);

    uint32_t total = 0;
    for (int it = 0; it < ITERS; it++) {
        /* Flip a few bytes so that each round hashes different data. */
        for (int k = 0; k < 4; k++)
            data[xorshift32() % DATA_SIZE] ^= (uint8_t)(it + 1);

        uint32_t f32 = fnv1a32(data, DATA_SIZE);
        uint64_t f64 = fnv1a64(data, DATA_SIZE);
        uint32_t ct = crc32_table(data, DATA_SIZE);
        uint32_t cb = crc32_bitwise(data, DATA_SIZE);
        uint32_t ad = adler32(data, DATA_SIZE);
        uint32_t mm = murmur_words(data, DATA_SIZE);
        printf("iter %d: fnv32=%08x fnv64=%016llx crc32=%08x adler32=%08x murmur=%08x\n",
               it, f32, f64, ct, ad, mm);
        if (ct != cb)
            printf("  MISMATCH: bitwise crc32=%08x\n", cb);
        total ^= f32 ^ (uint32_t)(f64 >> 32) ^ (uint32_t)f64 ^ ct ^ ad ^ mm;
        total = total << 1 | total >> 31;
    }

    /* Known-answer checks on a fixed string. */
    static const char check[] = "123456789";
    printf("check: crc32=%08x adler32=%08x fnv32=%08x fnv64=%016llx\n",
           crc32_table((const uint8_t *)check, 9), adler32((const uint8_t *)check, 9),
           fnv1a32((const uint8_t *)check, 9), fnv1a64((const uint8_t *)check, 9));
    printf("hash: total=%08x\n", total);
    return 0;
}

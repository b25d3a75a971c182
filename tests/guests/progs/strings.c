/*
 * strings.c - the string instructions, through the runtime's string functions
 * (REP MOVSB/STOSB, REPE CMPSB, REPNE SCASB, backwards copies with
 * DF = 1) and through inline asm for the word and dword forms, LODS, and the
 * cases the C functions do not reach (REP with ECX = 0, REPNE SCASD, ...).
 *
 * Buffers are 2 MiB, copies run at varying source/destination alignments,
 * and every result is checked against plain C reference code and printed as
 * a checksum.  (QEMU's TCG executes REP string instructions one iteration
 * at a time through helpers, ~30 ns per byte, so the total number of bytes
 * moved is what sets this program's run time there.)
 */
#include "io.h"

#ifndef ITERS
#define ITERS 1
#endif

#define BUF_SIZE (2u * 1024 * 1024)
#define SLACK 64

static uint8_t src[BUF_SIZE + SLACK];
static uint8_t dst[BUF_SIZE + SLACK];
static uint8_t ref[64 * 1024];

/* Unaligned 32-bit loads are fine on x86; the typedef tells gcc so. */
typedef uint32_t u32_unaligned __attribute__((aligned(1), may_alias));

static uint32_t checksum(const uint8_t *p, size_t n)
{
    uint32_t h = 0x811c9dc5u;
    size_t i = 0;
    for (; i + 4 <= n; i += 4)
        h = (h ^ *(const u32_unaligned *)(p + i)) * 0x01000193u;
    for (; i < n; i++)
        h = (h ^ p[i]) * 0x01000193u;
    return h ^ (uint32_t)n;
}

static uint32_t rng = 0x2545f491u;
static uint32_t next_random(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

/* Reference implementations: byte loops that gcc must not turn back into
 * calls to memmove/memset (which would test nothing). */
#define PLAIN_LOOPS __attribute__((noinline, optimize("no-tree-loop-distribute-patterns")))

static PLAIN_LOOPS void ref_memmove(uint8_t *d, const uint8_t *s, size_t n)
{
    if (d < s) {
        for (size_t i = 0; i < n; i++)
            d[i] = s[i];
    } else {
        for (size_t i = n; i-- > 0;)
            d[i] = s[i];
    }
}

static PLAIN_LOOPS void histogram(const uint8_t *p, size_t n, uint32_t hist[256])
{
    for (size_t i = 0; i < 256; i++)
        hist[i] = 0;
    for (size_t i = 0; i < n; i++)
        hist[p[i]]++;
}

static int sign(int x)
{
    return (x > 0) - (x < 0);
}

/* ---- inline-asm string instructions ------------------------------------ */

static void rep_movsw(void *d, const void *s, size_t words)
{
    __asm__ volatile("rep movsw" : "+D"(d), "+S"(s), "+c"(words) : : "memory");
}

static void rep_movsd(void *d, const void *s, size_t dwords)
{
    __asm__ volatile("rep movsl" : "+D"(d), "+S"(s), "+c"(dwords) : : "memory");
}

/* Copies dwords backwards (DF = 1), starting from the last dword. */
static void rep_movsd_backwards(void *d, const void *s, size_t dwords)
{
    uint32_t *dl = (uint32_t *)d + dwords - 1;
    const uint32_t *sl = (const uint32_t *)s + dwords - 1;
    __asm__ volatile("std; rep movsl; cld" : "+D"(dl), "+S"(sl), "+c"(dwords) : : "memory");
}

static void rep_stosw(void *d, uint16_t v, size_t words)
{
    __asm__ volatile("rep stosw" : "+D"(d), "+c"(words) : "a"(v) : "memory");
}

static void rep_stosd(void *d, uint32_t v, size_t dwords)
{
    __asm__ volatile("rep stosl" : "+D"(d), "+c"(dwords) : "a"(v) : "memory");
}

/* Sums bytes, words and dwords with LODSB/LODSW/LODSD (no REP: a loop). */
static uint32_t lods_sum(const void *p, size_t bytes)
{
    uint32_t sum = 0, tmp;
    size_t n = bytes / 7;                   /* 7 bytes per round: 1 + 2 + 4 */
    __asm__ volatile("1:\n\t"
                     "xorl %%eax, %%eax\n\t"
                     "lodsb\n\t"
                     "addl %%eax, %0\n\t"
                     "lodsw\n\t"
                     "addl %%eax, %0\n\t"
                     "roll $3, %0\n\t"
                     "lodsl\n\t"
                     "xorl %%eax, %0\n\t"
                     "loop 1b"
                     : "+r"(sum), "+S"(p), "+c"(n), "=&a"(tmp)
                     :
                     : "memory", "cc");
    return sum;
}

/* LODSB with DF = 1: a checksum of the bytes read from the end down. */
static uint32_t lodsb_backwards(const uint8_t *p, size_t n)
{
    uint32_t h = 0, tmp;
    const uint8_t *last = p + n - 1;
    __asm__ volatile("std\n"
                     "1:\n\t"
                     "lodsb\n\t"
                     "imull $31, %0, %0\n\t"
                     "addl %%eax, %0\n\t"
                     "decl %%ecx\n\t"
                     "jnz 1b\n\t"
                     "cld"
                     : "+r"(h), "+S"(last), "+c"(n), "=a"(tmp)
                     : "a"(0)
                     : "memory", "cc");
    return h;
}

/* Index of the first dword equal to v (REPNE SCASD), or n if none. */
static size_t find_dword(const uint32_t *p, size_t n, uint32_t v)
{
    size_t left = n;
    if (n == 0)
        return 0;
    __asm__ volatile("repne scasl" : "+D"(p), "+c"(left) : "a"(v) : "memory", "cc");
    /* ECX counts down once per comparison, including the matching one. */
    return p[-1] == v ? n - left - 1 : n;
}

/* Index of the first word differing from v (REPE SCASW), or n if none. */
static size_t skip_words(const uint16_t *p, size_t n, uint16_t v)
{
    size_t left = n;
    if (n == 0)
        return 0;
    __asm__ volatile("repe scasw" : "+D"(p), "+c"(left) : "a"(v) : "memory", "cc");
    return p[-1] != v ? n - left - 1 : n;
}

/* Index of the first differing dword (REPE CMPSD), or n if equal. */
static size_t cmp_dwords(const uint32_t *a, const uint32_t *b, size_t n)
{
    size_t left = n;
    if (n == 0)
        return 0;
    __asm__ volatile("repe cmpsl" : "+S"(a), "+D"(b), "+c"(left) : : "memory", "cc");
    return a[-1] != b[-1] ? n - left - 1 : n;
}

/* REP with ECX = 0 must not touch memory nor move the pointers. */
static int rep_zero_count_ok(void)
{
    uint8_t *d = dst, *s = src;
    size_t n = 0;
    uint8_t before = dst[0];
    __asm__ volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory");
    __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(0x5a) : "memory");
    return d == dst && s == src && dst[0] == before;
}

int guest_main(void)
{
    printf("strings: %d iterations over %u bytes\n", ITERS, BUF_SIZE);

    for (size_t i = 0; i < sizeof src; i += 4)
        *(uint32_t *)(src + i) = next_random();
    printf("src: checksum=%08x\n", checksum(src, BUF_SIZE));

    /* Large copies at varying misalignments (the first one: src + 0 to
     * dst + 1).  The memcmp tests below reuse the last copy. */
    size_t so = 0, doff = 0, len = 0;
    for (int it = 0; it < ITERS; it++) {
        so = (size_t)(it * 3) % 16;
        doff = (size_t)(it * 5 + 1) % 16;
        len = BUF_SIZE - 32 - (size_t)it * 7;
        /* Guard bytes around the destination catch overruns. */
        dst[doff - 1 + (doff == 0)] = dst[doff + len] = 0xee;
        memcpy(dst + doff, src + so, len);
        /* No memcmp here: the checksum, compared with the native run, already
         * proves the copy, and REP CMPSB over 2 MiB is slow under QEMU. */
        printf("memcpy[%d] src+%u -> dst+%u len %u: checksum=%08x guard=%02x,%02x\n", it,
               (unsigned)so, (unsigned)doff, (unsigned)len, checksum(dst + doff, len),
               dst[doff - 1 + (doff == 0)], dst[doff + len]);
    }

    /* memcmp/strcmp on the copy just made: only the sign of the result is
     * specified. */
    const uint8_t *a = src + so;
    uint8_t *b = dst + doff;
    static const uint32_t diff_at[] = {0, 1, 4095, 4096, 300001, BUF_SIZE - 33};
    for (size_t i = 0; i < sizeof diff_at / sizeof diff_at[0]; i++) {
        uint32_t at = diff_at[i];
        uint8_t saved = b[at];
        b[at] = (uint8_t)(saved + 0x80);         /* flips the high bit: unsigned compare */
        printf("memcmp diff at %u: %d %d, equal prefix: %d\n", at, sign(memcmp(a, b, len)),
               sign(memcmp(b, a, at + 1)), memcmp(a + at / 2, b + at / 2, at - at / 2) == 0);
        b[at] = saved;
    }
    printf("strcmp: %d %d %d %d\n", sign(strcmp("abc", "abd")), sign(strcmp("abc", "abc")),
           sign(strcmp("abcd", "abc")), sign(strcmp("\x80", "\x7f")));

    /* Overlapping moves in both directions, against the byte-loop reference. */
    static const struct {
        uint32_t from, to, len;
    } moves[] = {
        {0, 1, 60000}, {1, 0, 60000}, {100, 4196, 40000}, {4196, 100, 40000},
        {7, 7, 1000}, {0, 3, 3}, {3, 0, 3}, {12345, 12346, 1},
    };
    for (size_t i = 0; i < sizeof moves / sizeof moves[0]; i++) {
        memcpy(dst, src, sizeof ref);
        memcpy(ref, src, sizeof ref);
        memmove(dst + moves[i].to, dst + moves[i].from, moves[i].len);
        ref_memmove(ref + moves[i].to, ref + moves[i].from, moves[i].len);
        printf("memmove %u -> %u len %u: %s checksum=%08x\n", moves[i].from, moves[i].to,
               moves[i].len, memcmp(dst, ref, sizeof ref) == 0 ? "ok" : "WRONG",
               checksum(dst, sizeof ref));
    }

    /* memset at odd offsets and lengths (some overlapping); count what
     * landed where. */
#define MEMSET_AREA (512 * 1024)
    memset(dst, 0, MEMSET_AREA);
    for (int it = 0; it < 8; it++) {
        size_t off = (size_t)it * 65521, n = (size_t)(it + 1) * 9973;
        memset(dst + off, 0x41 + it, n);
    }
    static uint32_t hist[256];
    histogram(dst, MEMSET_AREA, hist);
    uint32_t counts = 0;
    for (int v = 0x41; v < 0x49; v++)
        counts = counts * 131 + hist[v];
    printf("memset: zeros=%u counts=%08x checksum=%08x\n", hist[0], counts,
           checksum(dst, MEMSET_AREA));

    /* strlen over strings from empty to 1 MiB. */
    static const uint32_t lengths[] = {0, 1, 2, 3, 15, 16, 17, 4095, 65536, 262147};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        uint32_t off = (uint32_t)i * 3;
        memset(dst + off, 'a' + (int)i, lengths[i]);
        dst[off + lengths[i]] = 0;
        printf("strlen(%u) = %u\n", lengths[i], (unsigned)strlen((const char *)dst + off));
    }

    /* Word and dword forms. */
    for (int it = 0; it < ITERS; it++) {
        size_t n = BUF_SIZE / 16 - (size_t)it * 5;
        rep_movsw(dst + 2, src + 2 * it, n);
        uint32_t c1 = checksum(dst + 2, 2 * n);
        rep_movsd(dst, src + it, n);
        uint32_t c2 = checksum(dst, 4 * n);
        /* Overlapping backwards copy: shift the first n dwords up by 4 bytes. */
        rep_movsd_backwards(dst + 4, dst, n - 1);
        uint32_t c3 = checksum(dst, 4 * n);
        printf("movs[%d]: movsw=%08x movsd=%08x movsd_back=%08x\n", it, c1, c2, c3);
    }

    rep_stosw(dst + 1, 0xbeef, 1000);
    rep_stosd(dst + 2001, 0x12345678u, 1000);
    printf("stos: %08x skip_words=%u\n", checksum(dst, 8000),
           (unsigned)skip_words((const uint16_t *)(dst + 1), 1200, 0xbeef));

    uint32_t *words = (uint32_t *)dst;
    for (uint32_t i = 0; i < 100000; i++)
        words[i] = i * 0x9e3779b9u;
    printf("scasd: %u %u %u\n", (unsigned)find_dword(words, 100000, 0),
           (unsigned)find_dword(words, 100000, 77777u * 0x9e3779b9u),
           (unsigned)find_dword(words, 100000, 1));

    memcpy(dst, src, 400000);
    dst[4 * 77777 + 2] ^= 1;
    printf("cmpsd: %u %u\n", (unsigned)cmp_dwords((const uint32_t *)src, (const uint32_t *)dst, 100000),
           (unsigned)cmp_dwords((const uint32_t *)src, (const uint32_t *)dst, 77777));

    printf("lods: %08x %08x\n", lods_sum(src, 700000), lodsb_backwards(src + 5, 300000));
    printf("rep with ecx=0: %s\n", rep_zero_count_ok() ? "ok" : "WRONG");
    return 0;
}

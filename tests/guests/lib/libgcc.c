/*
 * libgcc.c - the few libgcc helpers that gcc -m32 calls out of line.
 *
 * Guests link with -nostdlib, so there is no libgcc.  On i386 gcc expands
 * 64-bit add/sub/mul/shift inline but calls helpers for 64-bit division and
 * remainder; __builtin_popcount (no POPCNT on i686) and, depending on the
 * tuning, __builtin_ctzll/clzll become calls too.
 * Implementing them here means 64-bit arithmetic in the guests runs our code,
 * and the native reference build (real libgcc) checks it.
 */
#include <stdint.h>

uint64_t __udivmoddi4(uint64_t n, uint64_t d, uint64_t *rem);
int64_t __divmoddi4(int64_t n, int64_t d, int64_t *rem);
uint64_t __udivdi3(uint64_t n, uint64_t d);
uint64_t __umoddi3(uint64_t n, uint64_t d);
int64_t __divdi3(int64_t n, int64_t d);
int64_t __moddi3(int64_t n, int64_t d);
int __popcountsi2(uint32_t x);
int __popcountdi2(uint64_t x);
int __ctzdi2(uint64_t x);
int __clzdi2(uint64_t x);

uint64_t __udivmoddi4(uint64_t n, uint64_t d, uint64_t *rem)
{
    uint32_t nh = (uint32_t)(n >> 32), nl = (uint32_t)n;
    uint32_t dh = (uint32_t)(d >> 32), dl = (uint32_t)d;

    if (dh == 0) {
        /* 32-bit divisor: schoolbook division in two DIVL steps.  The first
         * step's remainder is < dl, so the second quotient fits in 32 bits
         * and DIVL cannot overflow.  dl == 0 raises #DE in the first DIVL,
         * just like the real libgcc. */
        uint32_t qh, r, ql;
        __asm__("divl %4" : "=a"(qh), "=d"(r) : "a"(nh), "d"(0u), "rm"(dl));
        __asm__("divl %4" : "=a"(ql), "=d"(r) : "a"(nl), "d"(r), "rm"(dl));
        if (rem)
            *rem = r;
        return (uint64_t)qh << 32 | ql;
    }

    /* Divisor >= 2^32: the quotient fits in 32 bits.  Plain shift-and-
     * subtract, starting with d aligned to n's leading one (both high words
     * are non-zero here, so BSR is defined). */
    if (n < d) {
        if (rem)
            *rem = n;
        return 0;
    }
    int shift = __builtin_clz(dh) - __builtin_clz(nh);
    uint32_t q = 0;
    d <<= shift;
    for (int i = 0; i <= shift; i++) {
        q <<= 1;
        if (n >= d) {
            n -= d;
            q |= 1;
        }
        d >>= 1;
    }
    if (rem)
        *rem = n;
    return q;
}

int64_t __divmoddi4(int64_t n, int64_t d, int64_t *rem)
{
    /* Work on magnitudes; negate as unsigned so INT64_MIN is fine.  C
     * truncates toward zero: the quotient is negative iff the signs differ,
     * the remainder has the sign of the dividend. */
    uint64_t un = n < 0 ? -(uint64_t)n : (uint64_t)n;
    uint64_t ud = d < 0 ? -(uint64_t)d : (uint64_t)d;
    uint64_t ur;
    uint64_t uq = __udivmoddi4(un, ud, &ur);
    if (rem)
        *rem = (int64_t)(n < 0 ? -ur : ur);
    return (int64_t)((n < 0) != (d < 0) ? -uq : uq);
}

uint64_t __udivdi3(uint64_t n, uint64_t d)
{
    return __udivmoddi4(n, d, 0);
}

uint64_t __umoddi3(uint64_t n, uint64_t d)
{
    uint64_t r;
    __udivmoddi4(n, d, &r);
    return r;
}

int64_t __divdi3(int64_t n, int64_t d)
{
    return __divmoddi4(n, d, 0);
}

int64_t __moddi3(int64_t n, int64_t d)
{
    int64_t r;
    __divmoddi4(n, d, &r);
    return r;
}

int __popcountsi2(uint32_t x)
{
    /* Classic SWAR bit count. */
    x = x - ((x >> 1) & 0x55555555u);
    x = (x & 0x33333333u) + ((x >> 2) & 0x33333333u);
    x = (x + (x >> 4)) & 0x0f0f0f0fu;
    return (int)((x * 0x01010101u) >> 24);
}

int __popcountdi2(uint64_t x)
{
    return __popcountsi2((uint32_t)x) + __popcountsi2((uint32_t)(x >> 32));
}

/* Bit scans of a 64-bit value (undefined for 0, as the built-ins are). */
int __ctzdi2(uint64_t x)
{
    uint32_t lo = (uint32_t)x;
    return lo ? __builtin_ctz(lo) : 32 + __builtin_ctz((uint32_t)(x >> 32));
}

int __clzdi2(uint64_t x)
{
    uint32_t hi = (uint32_t)(x >> 32);
    return hi ? __builtin_clz(hi) : 32 + __builtin_clz((uint32_t)x);
}

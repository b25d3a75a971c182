/*
 * string.c - memory and string functions for guest programs.
 *
 * Deliberately written with the REP-prefixed string instructions rather than
 * fast word-at-a-time loops: every guest that copies or clears memory then
 * exercises MOVSB/STOSB/CMPSB/SCASB with REP/REPE/REPNE, both directions of
 * DF (memmove), and ECX running down to zero or stopping early.
 *
 * The compiler may also call memcpy/memset/memmove/memcmp on its own (struct
 * copies, loops it recognises), which is why all four must exist.
 */
#include "io.h"

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    void *ret = dst;
    __asm__ volatile("rep movsb"
                     : "+D"(dst), "+S"(src), "+c"(n)
                     :
                     : "memory");
    return ret;
}

void *memmove(void *dst, const void *src, size_t n)
{
    void *ret = dst;
    if ((uintptr_t)dst - (uintptr_t)src >= n) {
        /* dst is below src or past its end: a forward copy never reads a
         * byte it has already overwritten. */
        __asm__ volatile("rep movsb"
                         : "+D"(dst), "+S"(src), "+c"(n)
                         :
                         : "memory");
    } else if (n) {
        /* dst overlaps the tail of src: copy backwards from the last byte
         * with DF = 1, then restore DF = 0 as the ABI requires. */
        const char *s = (const char *)src + n - 1;
        char *d = (char *)dst + n - 1;
        __asm__ volatile("std\n\t"
                         "rep movsb\n\t"
                         "cld"
                         : "+D"(d), "+S"(s), "+c"(n)
                         :
                         : "memory");
    }
    return ret;
}

void *memset(void *dst, int c, size_t n)
{
    void *ret = dst;
    __asm__ volatile("rep stosb"
                     : "+D"(dst), "+c"(n)
                     : "a"(c)
                     : "memory");
    return ret;
}

int memcmp(const void *a, const void *b, size_t n)
{
    const unsigned char *p = a, *q = b;
    if (n == 0)
        return 0;   /* REPE with ECX = 0 would not compare at all */
    /* CMPSB compares [ESI] with [EDI] and advances both; REPE stops after
     * the first difference or when ECX reaches zero.  Either way the last
     * pair compared is at p[-1]/q[-1], and it differs iff the buffers do. */
    __asm__ volatile("repe cmpsb"
                     : "+S"(p), "+D"(q), "+c"(n)
                     :
                     : "memory", "cc");
    return (int)p[-1] - (int)q[-1];
}

size_t strlen(const char *s)
{
    /* REPNE SCASB with ECX = -1 scans until it finds AL = 0; ECX is then
     * -(length + 2), i.e. ~ECX = length + 1. */
    size_t c = (size_t)-1;
    __asm__ volatile("repne scasb"
                     : "+D"(s), "+c"(c)
                     : "a"(0)
                     : "memory", "cc");
    return ~c - 1;
}

int strcmp(const char *a, const char *b)
{
    const unsigned char *p = (const unsigned char *)a;
    const unsigned char *q = (const unsigned char *)b;
    while (*p && *p == *q) {
        p++;
        q++;
    }
    return (int)*p - (int)*q;
}

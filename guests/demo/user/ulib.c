/*
 * ulib.c - see ulib.h.
 */
#include "ulib.h"

#include <stdarg.h>

#include "fmt.h"

void exit(int code)
{
    syscall3(SYS_EXIT, (uint32_t)code, 0, 0);
    for (;;)                    /* not reached: the kernel never returns */
        ;
}

int printf(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vfmt(buf, sizeof buf, fmt, ap);
    va_end(ap);
    return write(buf, (unsigned)n);
}

/* REP STOSB / MOVSB: also keeps the compiler from turning these loops into
 * calls to themselves. */
void *memset(void *dst, int c, size_t n)
{
    void *ret = dst;
    __asm__ volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
    return ret;
}

void *memcpy(void *restrict dst, const void *restrict src, size_t n)
{
    void *ret = dst;
    __asm__ volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
    return ret;
}

size_t strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

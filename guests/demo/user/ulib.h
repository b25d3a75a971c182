/*
 * ulib.h - the C library of the demo's user programs: system call wrappers
 * (INT 0x80, see ../common/syscall.h), printf into the task's console, and
 * the few mem/str functions the compiler may call on its own.
 */
#ifndef DEMO_ULIB_H
#define DEMO_ULIB_H

#include <stddef.h>
#include <stdint.h>

#include "syscall.h"

static inline int syscall3(int n, uint32_t a, uint32_t b, uint32_t c)
{
    int ret;
    __asm__ volatile("int $0x80" : "=a"(ret) : "a"(n), "b"(a), "c"(b), "d"(c) : "memory");
    return ret;
}

static inline int write(const void *buf, unsigned len) { return syscall3(SYS_WRITE, (uint32_t)buf, len, 0); }
static inline void yield(void) { syscall3(SYS_YIELD, 0, 0, 0); }
static inline void sleep(unsigned ticks) { syscall3(SYS_SLEEP, ticks, 0, 0); }
static inline int getpid(void) { return syscall3(SYS_GETPID, 0, 0, 0); }
static inline unsigned ticks(void) { return (unsigned)syscall3(SYS_TICKS, 0, 0, 0); }
__attribute__((noreturn)) void exit(int code);

/* Formats into a buffer and writes it with one write() call. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

void *memset(void *dst, int c, size_t n);
void *memcpy(void *restrict dst, const void *restrict src, size_t n);
size_t strlen(const char *s);

int main(void);

#endif /* DEMO_ULIB_H */

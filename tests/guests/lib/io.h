/*
 * io.h - the whole "C library" of a guest program.
 *
 * A guest program is one C file defining `int guest_main(void)`.  It is built
 * twice from the same source:
 *
 *  - as a multiboot kernel (default): this header declares the freestanding
 *    runtime in this directory (COM1 output, printf, string functions built
 *    on REP string instructions, exit through isa-debug-exit);
 *  - as a native 32-bit Linux program (GUEST_NATIVE defined): the same names
 *    come from glibc, and native_main.c calls guest_main.
 *
 * The native program's stdout is the expected COM1 output of the guest, so
 * programs must only use what behaves identically in both worlds: the printf
 * subset below, and memcmp/strcmp results only by their sign.
 */
#ifndef GUEST_IO_H
#define GUEST_IO_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

int guest_main(void);

/*
 * Memory for machine code the program writes and then runs (smc.c):
 *
 *   void *guest_code_buffer(size_t n);
 *
 * returns a new page-aligned (4 KiB) area of at least n bytes, readable,
 * writable and executable, or NULL when none is left (the guest has
 * GUEST_CODE_BUFFER_SIZE bytes in all).  Areas are never freed.
 *
 *  - guest: carved out of a static page-aligned array (paging is off, so all
 *    memory is executable).  It is defined in this header, static inline, so
 *    that only the programs that call it get the array and no other guest's
 *    memory layout changes;
 *  - native: an mmap of PROT_READ | PROT_WRITE | PROT_EXEC (native_main.c).
 *
 * x86 needs no cache flush after code is written, but the new code must be
 * reached by a jump or call after the write (SDM Vol. 3, 11.6; calling it
 * through a function pointer does that).  Put a compiler barrier
 * (__asm__ volatile("" ::: "memory")) between writing the code and calling
 * it, so that the compiler cannot sink the writes past the call.
 */
#define GUEST_CODE_BUFFER_SIZE (64 * 1024)

#ifdef GUEST_NATIVE

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void *guest_code_buffer(size_t n);

#else /* multiboot guest */

static inline void *guest_code_buffer(size_t n)
{
    static uint8_t area[GUEST_CODE_BUFFER_SIZE] __attribute__((aligned(4096)));
    static size_t used;
    size_t size = (n + 4095) & ~(size_t)4095;
    if (n == 0 || size > GUEST_CODE_BUFFER_SIZE - used)
        return NULL;
    void *p = area + used;
    used += size;
    return p;
}

/* Supported conversions: %d %i %u %x %X %o %c %s %%, flags '-' and '0', a
 * field width (digits or '*'), length modifiers l (32-bit) and ll (64-bit).
 * The output matches glibc's for these. */
int printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int vprintf(const char *fmt, va_list ap);
int putchar(int c);
int puts(const char *s);                 /* appends '\n', like the C one */

void *memcpy(void *restrict dst, const void *restrict src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);

/* Ends the program: writes code to the isa-debug-exit port (the emulator
 * exits with status (code << 1) | 1), or halts if that device is absent. */
__attribute__((noreturn)) void exit(int code);

/* Halts with interrupts disabled; vmm treats that as a clean exit (0). */
__attribute__((noreturn)) void halt(void);

/* Saved by crt0.S from EAX/EBX at entry. */
extern uint32_t multiboot_magic;
extern uint32_t multiboot_info;

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

#endif /* GUEST_NATIVE */

#endif /* GUEST_IO_H */

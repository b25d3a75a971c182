/*
 * native_main.c - runs a guest program as an ordinary 32-bit Linux process.
 *
 * Its stdout is the reference the guest's COM1 output is compared with; the
 * process exit status is guest_main's return value (the guest reports the
 * same value through isa-debug-exit).
 */
#include <stdio.h>
#include <sys/mman.h>

#include "io.h"

/* io.h: a new page-aligned read-write-execute area of at least n bytes.
 * The guest hands out GUEST_CODE_BUFFER_SIZE bytes in all; so does this, so
 * that a program that asks for too much fails the same way in both. */
void *guest_code_buffer(size_t n)
{
    static size_t used;
    size_t size = (n + 4095) & ~(size_t)4095;
    if (n == 0 || size > GUEST_CODE_BUFFER_SIZE - used)
        return NULL;
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    used += size;
    return p;
}

int main(void)
{
    int r = guest_main();
    fflush(stdout);
    return r;
}

/*
 * native_main.c - runs a guest program as an ordinary 32-bit Linux process.
 *
 * Its stdout is the reference the guest's COM1 output is compared with; the
 * process exit status is guest_main's return value (the guest reports the
 * same value through isa-debug-exit).
 */
#include <stdio.h>

int guest_main(void);

int main(void)
{
    int r = guest_main();
    fflush(stdout);
    return r;
}

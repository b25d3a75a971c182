/*
 * rogue.c - task "rogue": executes CLI at CPL 3.  With IOPL 0 that raises
 * #GP(0); the kernel reports the fault and kills the task, and the others
 * carry on.  (A VMM traps a guest's privileged instructions the same way.)
 */
#include "ulib.h"

/* At a fixed address (user.ld: .text.fixed follows the 16-byte _start). */
__asm__(".section .text.fixed, \"ax\"\n"
        "try_cli:\n\t"
        "cli\n\t"
        "ret\n\t"
        ".previous");
void try_cli(void);

int main(void)
{
    printf("executing CLI (at 0x%08x) at CPL 3 with IOPL 0\n", (unsigned)try_cli);
    try_cli();
    printf("CLI did not fault!\n");
    return 1;
}

/*
 * snoop.c - task "snoop": reads kernel memory.  The kernel is mapped in
 * every address space, but supervisor-only, so the read at CPL 3 is a page
 * fault (protection violation, error code 5) and the task is killed.
 */
#include "ulib.h"

#define KERNEL_IMAGE 0x00100000u

/* At a fixed address (user.ld): the load is at 0x40000014. */
__asm__(".section .text.fixed, \"ax\"\n"
        "peek:\n\t"
        "movl 4(%esp), %eax\n\t"
        "movl (%eax), %eax\n\t"
        "ret\n\t"
        ".previous");
uint32_t peek(uint32_t addr);

int main(void)
{
    printf("reading the kernel's memory at 0x%08x\n", KERNEL_IMAGE);
    uint32_t v = peek(KERNEL_IMAGE);
    printf("read 0x%08x from the kernel!\n", v);
    return 1;
}

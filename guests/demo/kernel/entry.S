/*
 * entry.S - the first entry into ring 3.
 *
 * void vcpu_enter(struct sys_frame *f): f is a frame laid out exactly like
 * the one the syslib interrupt stubs build (tests/guests/syslib/isr.S), at
 * the top of the kernel stack.  Pop it like the stubs' epilogue does: the
 * segment registers, the general registers, skip vector and error code,
 * then IRET to the task's CS:EIP with its EFLAGS and SS:ESP.  From then on
 * the CPU only comes back to the kernel through interrupts and exceptions,
 * on the stack TSS.ESP0 points to, and every return to ring 3 goes through
 * the stubs' IRET.
 */
        .text
        .globl vcpu_enter
vcpu_enter:
        movl    4(%esp), %esp
        popl    %gs
        popl    %fs
        popl    %es
        popl    %ds
        popal
        addl    $8, %esp
        iretl

        .section .note.GNU-stack, "", @progbits

/*
 * syscalls.S - the system-call paths of syscalls.c: the ring-3 loops and
 * the vsyscall stub (in pages of their own, the only user code pages), and
 * the two kernel entry points (supervisor pages).
 *
 * Kernel entries, as Linux 2.6 on i386 (arch/i386/kernel/entry.S):
 *
 *   sc_int80_entry    INT 0x80 through a DPL 3 trap gate: the CPU switched
 *                     to TSS.SS0:ESP0 and pushed SS, ESP, EFLAGS, CS, EIP.
 *   sc_sysenter_entry SYSENTER: CS/SS from IA32_SYSENTER_CS, ESP from
 *                     IA32_SYSENTER_ESP; the user's ESP is in EBP (the
 *                     vsyscall stub put it there) and its EBP on the user
 *                     stack.  The entry builds the same frame as INT 0x80
 *                     (user SS, ESP, EFLAGS, CS and the stub's return
 *                     address), and leaves with SYSEXIT: EIP = EDX, ESP =
 *                     ECX, CS/SS = IA32_SYSENTER_CS + 16/24 with RPL 3.
 *                     SYSENTER clears IF; with the timer on (sc_irqs_on)
 *                     the entry sets it again and leaves with STI; SYSEXIT
 *                     as Linux does (ring 3 runs with IF set then).
 *
 * Both then save the registers (struct sc_regs in syscalls.c: EBX ECX EDX
 * ESI EDI EBP EAX DS ES orig_EAX, then the frame), load the kernel data
 * segment into DS/ES, check that ESP is where the entry must have left it
 * (counted in sc_bad_entry_stack), and dispatch the call number in EAX
 * through sc_table: handler(EBX, ECX, EDX, &regs), its return value
 * stored into the saved EAX.  A number >= SC_NR returns -ENOSYS (-38).
 * sc_count[nr] (sc_count[SC_NR] for a bad number) counts the calls.  The
 * arguments are pushed again for the C handler rather than used in place,
 * so a handler that writes its argument slots cannot change the registers
 * the user gets back.
 */
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23
#define VEC_USER_EXIT 0x81
#define SC_NR     7             /* calls 0..6; 7 is not a call (-ENOSYS) */
#define ENOSYS    38
#define LCG_MUL   1664525
#define LCG_ADD   1013904223
#define FNV_PRIME 0x01000193

/* struct sc_uargs (syscalls.c), in the user data page. */
#define U_ITERS   0
#define U_X       4
#define U_HASH    8
#define U_I       12
#define U_BAD     16
#define U_CS      20
#define U_SS      24
#define U_BUF     64

/* struct sc_regs: offsets from ESP after SAVE_ALL. */
#define PT_EAX    24
#define SAVE_SIZE 40            /* 10 words */
#define IRET_SIZE 20            /* EIP CS EFLAGS ESP SS */

/* ---- ring 3 -------------------------------------------------------------------- */

        .section .text.sc_user, "ax", @progbits
        .balign 4096
        .globl sc_user_text
sc_user_text:

/*
 * uint32_t sc_user_loop_int80(struct sc_uargs *u) and
 * uint32_t sc_user_loop_sysenter(struct sc_uargs *u): ring 3, for
 * sys_run_user.  For i = u->i .. u->iters - 1:
 *     x = x * LCG_MUL + LCG_ADD
 *     call number  EAX = x >> 29 (7: not a call)
 *     arguments    EBX = x, ECX = i, EDX = &buf[(x >> 23) & 63]
 *     and ESI = rol(x, 7), EDI = ~i, which no call uses
 *     after the call: EBX, ECX, EDX, ESI, EDI (and EBP, which holds u)
 *     must be unchanged, else u->bad++
 *     hash = (hash ^ EAX) * FNV_PRIME;  buf[i & 63] = hash
 * and at the end stores CS and SS into u->cs and u->ss.
 * The state lives in *u (in the user data page), so that ring 0 can check
 * it; the loop leaves ring 3 with INT VEC_USER_EXIT, EAX = the hash.
 */
.macro USER_LOOP name, syscall:vararg
        .globl \name
        .type \name, @function
\name:
        pushl   %ebp
        pushl   %edi
        pushl   %esi
        pushl   %ebx
        movl    20(%esp), %ebp
        movl    U_I(%ebp), %ecx
        cmpl    U_ITERS(%ebp), %ecx
        je      9f
1:      movl    U_X(%ebp), %eax
        imull   $LCG_MUL, %eax, %eax
        addl    $LCG_ADD, %eax
        movl    %eax, U_X(%ebp)
        movl    %eax, %ebx
        movl    U_I(%ebp), %ecx
        movl    %eax, %edx
        shrl    $21, %edx
        andl    $0xfc, %edx
        leal    U_BUF(%ebp,%edx), %edx
        movl    %eax, %esi
        roll    $7, %esi
        movl    %ecx, %edi
        notl    %edi
        shrl    $29, %eax
        \syscall
        cmpl    U_X(%ebp), %ebx
        jne     8f
        cmpl    U_I(%ebp), %ecx
        jne     8f
        notl    %edi
        cmpl    %ecx, %edi
        jne     8f
        rorl    $7, %esi
        cmpl    %ebx, %esi
        jne     8f
        shrl    $21, %esi
        andl    $0xfc, %esi
        leal    U_BUF(%ebp,%esi), %esi
        cmpl    %esi, %edx
        je      2f
8:      incl    U_BAD(%ebp)
2:      movl    U_I(%ebp), %ecx
        xorl    U_HASH(%ebp), %eax
        imull   $FNV_PRIME, %eax, %eax
        movl    %eax, U_HASH(%ebp)
        movl    %ecx, %edx
        andl    $63, %edx
        movl    %eax, U_BUF(%ebp,%edx,4)
        incl    %ecx
        movl    %ecx, U_I(%ebp)
        cmpl    U_ITERS(%ebp), %ecx
        jne     1b
9:      movw    %cs, U_CS(%ebp)         /* after the last return to ring 3 */
        movw    %ss, U_SS(%ebp)
        movl    U_HASH(%ebp), %eax
        popl    %ebx
        popl    %esi
        popl    %edi
        popl    %ebp
        int     $VEC_USER_EXIT
3:      jmp     3b
        .size \name, . - \name
.endm

        USER_LOOP sc_user_loop_int80, int $0x80
        USER_LOOP sc_user_loop_sysenter, call sc_vsyscall

/*
 * The vsyscall stub, as Linux's vDSO __kernel_vsyscall: SYSEXIT will load
 * ECX and EDX into ESP and EIP, so they are saved on the user stack, and
 * EBP, which carries the user's ESP into the kernel.
 */
        .globl sc_vsyscall, sc_sysenter_return
        .type sc_vsyscall, @function
sc_vsyscall:
        pushl   %ecx
        pushl   %edx
        pushl   %ebp
        movl    %esp, %ebp
        sysenter
        /* not reached: the kernel returns to sc_sysenter_return */
        ud2
sc_sysenter_return:
        popl    %ebp
        popl    %edx
        popl    %ecx
        ret
        .size sc_vsyscall, . - sc_vsyscall

        .balign 4096
        .globl sc_user_text_end
sc_user_text_end:

/* ---- ring 0 -------------------------------------------------------------------- */

        .text

.macro SAVE_ALL
        cld
        pushl   %eax                    /* orig_eax */
        pushl   %es
        pushl   %ds
        pushl   %eax
        pushl   %ebp
        pushl   %edi
        pushl   %esi
        pushl   %edx
        pushl   %ecx
        pushl   %ebx
        movl    $SEL_KDATA, %edx
        movw    %dx, %ds
        movw    %dx, %es
.endm

/* Checks ESP against the top of the entry's stack, then calls
 * sc_table[EAX](EBX, ECX, EDX, &regs) and stores its value in the saved
 * EAX (or -ENOSYS). */
.macro DISPATCH stack_top
        cmpl    $(\stack_top - IRET_SIZE - SAVE_SIZE), %esp
        je      1f
        incl    sc_bad_entry_stack
1:      movl    PT_EAX(%esp), %eax
        cmpl    $SC_NR, %eax
        jae     2f
        incl    sc_count(,%eax,4)
        pushl   %esp                    /* &regs (the value before the push) */
        pushl   12(%esp)                /* EDX: regs + 8, above &regs */
        pushl   12(%esp)                /* ECX */
        pushl   12(%esp)                /* EBX */
        call    *sc_table(,%eax,4)
        addl    $16, %esp
        movl    %eax, PT_EAX(%esp)
        jmp     3f
2:      incl    sc_count + 4 * SC_NR
        movl    $-ENOSYS, PT_EAX(%esp)
3:
.endm

        .globl sc_int80_entry
        .type sc_int80_entry, @function
sc_int80_entry:
        SAVE_ALL
        DISPATCH sys_kstack_top
        popl    %ebx
        popl    %ecx
        popl    %edx
        popl    %esi
        popl    %edi
        popl    %ebp
        popl    %eax
        popl    %ds
        popl    %es
        addl    $4, %esp                /* orig_eax */
        iretl
        .size sc_int80_entry, . - sc_int80_entry

        .globl sc_sysenter_entry
        .type sc_sysenter_entry, @function
sc_sysenter_entry:
        pushl   $SEL_UDATA              /* the frame INT 0x80 would have pushed */
        pushl   %ebp                    /* user ESP */
        pushfl
        pushl   $SEL_UCODE
        pushl   $sc_sysenter_return
        movl    (%ebp), %ebp            /* the user's EBP, from the stub's push */
        SAVE_ALL
        cmpl    $0, sc_irqs_on          /* SYSENTER cleared IF: on again (timer=) */
        je      1f
        sti
1:      DISPATCH sc_sysenter_stack_top
        cli
        popl    %ebx
        addl    $8, %esp                /* ECX, EDX: the stub restores them */
        popl    %esi
        popl    %edi
        popl    %ebp
        popl    %eax
        popl    %ds
        popl    %es
        movl    4(%esp), %edx           /* EIP (past orig_eax) */
        movl    16(%esp), %ecx          /* ESP */
        cmpl    $0, sc_irqs_on
        je      2f
        sti                             /* taken after SYSEXIT (STI's shadow) */
        sysexit
2:      sysexit
        .size sc_sysenter_entry, . - sc_sysenter_entry

        .section .note.GNU-stack, "", @progbits

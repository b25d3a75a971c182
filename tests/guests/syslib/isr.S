/*
 * isr.S - interrupt entry stubs, the common frame builder, and the ring-3
 * entry/exit trampolines of the system library (see sys.h).
 */

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UCODE 0x1b
#define SEL_UDATA 0x23
#define VEC_USER_EXIT 0x81

        .text

/*
 * 256 stubs, each 16-byte aligned (sys_isr_stub(v) = sys_isr_stubs + 16 * v).
 * Vectors for which the CPU pushes an error code (8, 10-14, 17, 21, 29, 30)
 * push only the vector; the others push a zero error code first, so that
 * every frame has the same layout.
 */
        .globl sys_isr_stubs
        .align 16
sys_isr_stubs:
        .set vec, 0
        .rept 256
        .align 16
        .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
        .else
        pushl   $0
        .endif
        pushl   $vec
        jmp     sys_isr_common
        .set vec, vec + 1
        .endr

/*
 * Builds struct sys_frame below the vector and error code, switches DS/ES to
 * the kernel data segment (FS and GS are left alone), calls
 * sys_isr_dispatch(frame) and returns through whatever the handler left in
 * the frame.
 */
        .globl sys_isr_common
sys_isr_common:
        pushal
        pushl   %ds
        pushl   %es
        pushl   %fs
        pushl   %gs
        movl    $SEL_KDATA, %eax
        movw    %ax, %ds
        movw    %ax, %es
        cld
        pushl   %esp
        call    sys_isr_dispatch
        addl    $4, %esp
        popl    %gs
        popl    %fs
        popl    %es
        popl    %ds
        popal
        addl    $8, %esp
        iretl

/* void sys_load_segments(void): reloads CS (far return) and the data
 * segment registers with the flat kernel selectors after LGDT. */
        .globl sys_load_segments
sys_load_segments:
        movl    $SEL_KDATA, %eax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
        movw    %ax, %ss
        popl    %eax                    /* return address */
        pushl   $SEL_KCODE
        pushl   %eax
        lret

/*
 * uint32_t sys_run_user(uint32_t (*fn)(uint32_t), uint32_t arg, uint32_t eflags)
 */
        .globl sys_run_user
sys_run_user:
        pushfl
        pushl   %ebp
        pushl   %ebx
        pushl   %esi
        pushl   %edi
        movl    %esp, sys_user_saved_esp
        movl    24(%esp), %edx          /* fn */
        movl    28(%esp), %eax          /* arg */
        movl    32(%esp), %ebx          /* eflags */
        orl     $2, %ebx
        /* The user stack: fn's argument and a return address that leaves
         * ring 3 through INT VEC_USER_EXIT. */
        movl    $sys_ustack_top, %ecx
        subl    $16, %ecx
        movl    %eax, 4(%ecx)
        movl    $sys_user_return, (%ecx)
        pushl   $SEL_UDATA              /* SS */
        pushl   %ecx                    /* ESP */
        pushl   %ebx                    /* EFLAGS */
        pushl   $SEL_UCODE              /* CS */
        pushl   %edx                    /* EIP */
        movl    $SEL_UDATA, %eax
        movw    %ax, %ds
        movw    %ax, %es
        movw    %ax, %fs
        movw    %ax, %gs
        xorl    %eax, %eax
        xorl    %ebx, %ebx
        xorl    %ecx, %ecx
        xorl    %edx, %edx
        xorl    %esi, %esi
        xorl    %edi, %edi
        xorl    %ebp, %ebp
        iretl

/* Ring 3: fn returned with its value in EAX. */
        .globl sys_user_return
sys_user_return:
        int     $VEC_USER_EXIT
1:      jmp     1b                      /* not reached */

/* void sys_user_exit(uint32_t v): ring-3 code ends the call early. */
        .globl sys_user_exit
sys_user_exit:
        movl    4(%esp), %eax
        int     $VEC_USER_EXIT
1:      jmp     1b

/* Vector VEC_USER_EXIT (DPL 3): back on the TSS.ESP0 stack at CPL 0;
 * drop that frame and resume sys_run_user's caller with EAX. */
        .globl sys_user_exit_isr
sys_user_exit_isr:
        movl    $SEL_KDATA, %ecx
        movw    %cx, %ds
        movw    %cx, %es
        movw    %cx, %fs
        movw    %cx, %gs
        movl    sys_user_saved_esp, %esp
        popl    %edi
        popl    %esi
        popl    %ebx
        popl    %ebp
        popfl
        ret

        .section .bss
        .align 4
        .globl sys_user_saved_esp
sys_user_saved_esp:
        .skip 4

        .section .note.GNU-stack, "", @progbits

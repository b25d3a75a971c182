/*
 * mm_spaces.S - the code of mm_spaces.c that runs at CPL 3.
 *
 * It lives in pages of its own (the section is page aligned and padded to
 * a page boundary), so that mm_spaces.c can give exactly these pages the U
 * bit in the identity map and keep the rest of the kernel image
 * supervisor-only.  The ring-3 entry points are for sys_run_user: they get
 * their argument at 4(%esp) and leave ring 3 with INT VEC_USER_EXIT (EAX =
 * the value sys_run_user returns) instead of returning to sys_user_return,
 * which is kernel code.
 */
#define VEC_USER_EXIT 0x81
#define K_MUL   0x9e3779b1
#define LCG_MUL 1664525
#define LCG_ADD 1013904223

        .section .text.mm_user, "ax", @progbits
        .balign 4096
        .globl mm_user_text
mm_user_text:

/*
 * uint32_t mm_slice(uint32_t *args): one slice of a task, callable at any
 * CPL.  args (4 words, in the task's address space): the working set's
 * linear address a, its size in words nwords, the number of
 * read-modify-writes n and the task's LCG state x.  For j = 0 .. n-1:
 *     x = x * LCG_MUL + LCG_ADD;  i = (x * nwords) >> 32;  a[i] = a[i] * K_MUL + j
 * stores x back into args[3] and returns it.  The loop is unrolled 8 times
 * (the n % 8 first iterations one at a time), like the C version GCC made
 * of it before.
 */
        .globl mm_slice
        .type mm_slice, @function
mm_slice:
        pushl   %ebp
        pushl   %edi
        pushl   %esi
        pushl   %ebx
        movl    20(%esp), %eax
        movl    0(%eax), %esi           /* a */
        movl    4(%eax), %edi           /* nwords */
        movl    12(%eax), %ecx          /* x */
        movl    8(%eax), %ebp           /* n: the end of j */
        xorl    %ebx, %ebx              /* j */
        movl    %ebp, %eax              /* the first n % 8 iterations */
        andl    $7, %eax
        jz      2f
1:      imull   $LCG_MUL, %ecx, %ecx
        addl    $LCG_ADD, %ecx
        movl    %ecx, %eax
        mull    %edi
        leal    (%esi,%edx,4), %edx
        imull   $K_MUL, (%edx), %eax
        addl    %ebx, %eax
        incl    %ebx
        movl    %eax, (%edx)
        movl    %ebp, %eax
        andl    $7, %eax
        cmpl    %eax, %ebx
        jne     1b
2:      cmpl    %ebp, %ebx
        je      4f
3:
        .rept 8
        imull   $LCG_MUL, %ecx, %ecx
        addl    $LCG_ADD, %ecx
        movl    %ecx, %eax
        mull    %edi
        leal    (%esi,%edx,4), %edx
        imull   $K_MUL, (%edx), %eax
        addl    %ebx, %eax
        incl    %ebx
        movl    %eax, (%edx)
        .endr
        cmpl    %ebp, %ebx
        jne     3b
4:      movl    20(%esp), %eax
        movl    %ecx, 12(%eax)
        movl    %ecx, %eax
        popl    %ebx
        popl    %esi
        popl    %edi
        popl    %ebp
        ret
        .size mm_slice, . - mm_slice

/* Ring 3, for sys_run_user: mm_slice(arg), then back to ring 0 with its
 * return value. */
        .globl mm_user_slice
        .type mm_user_slice, @function
mm_user_slice:
        pushl   4(%esp)
        call    mm_slice
        int     $VEC_USER_EXIT
1:      jmp     1b
        .size mm_user_slice, . - mm_user_slice

/* Ring 3: returns the word at the linear address arg.  mm_user_read_at is
 * the load (the EIP of a #PF it raises). */
        .globl mm_user_read, mm_user_read_at
        .type mm_user_read, @function
mm_user_read:
        movl    4(%esp), %eax
mm_user_read_at:
        movl    (%eax), %eax
        int     $VEC_USER_EXIT
1:      jmp     1b
        .size mm_user_read, . - mm_user_read

/* Ring 3: arg points to two words {va, value}; stores value at va and
 * returns 0.  mm_user_write_at is the store. */
        .globl mm_user_write, mm_user_write_at
        .type mm_user_write, @function
mm_user_write:
        movl    4(%esp), %eax
        movl    4(%eax), %ecx
        movl    0(%eax), %eax
mm_user_write_at:
        movl    %ecx, (%eax)
        xorl    %eax, %eax
        int     $VEC_USER_EXIT
1:      jmp     1b
        .size mm_user_write, . - mm_user_write

/* Ring 3: the fix-up (sys_fixup) of an exception that mm_user_read or
 * mm_user_write raised: back to ring 0 with 0xfa17fa17. */
        .globl mm_user_fault
mm_user_fault:
        movl    $0xfa17fa17, %eax
        int     $VEC_USER_EXIT
1:      jmp     1b

        .balign 4096
        .globl mm_user_text_end
mm_user_text_end:

        .section .note.GNU-stack, "", @progbits

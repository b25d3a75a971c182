/*
 * ustart.S - entry point of every user program (ring 3).
 *
 * The kernel starts a task at _start (0x40000000) with ESP = 0xc0000000 (the
 * top of its stack page), all general registers zero, DS = ES = FS = GS =
 * SS = the ring-3 data selector and EFLAGS.IF = 1.
 */
        .section .text.start, "ax"
        .globl _start
_start:
        call    main
        pushl   %eax
        call    exit                    /* main's return value is the exit code */
1:      jmp     1b
        .balign 16                      /* .text.fixed starts at 0x40000010 */

        .section .note.GNU-stack, "", @progbits

/*
 * crt0.S - entry point of every guest program (multiboot v1 kernel).
 *
 * The boot loader (vmm or QEMU) enters _start in flat 32-bit protected mode
 * with paging off, interrupts off, EAX = 0x2BADB002 and EBX = physical address
 * of the multiboot information structure.  We only need a stack and a clean
 * EFLAGS before running C code; the segment registers the loader left are
 * flat and are never reloaded, so no GDT of our own is needed.
 */

#define MB_HEADER_MAGIC 0x1BADB002
/* bit 0: page-align modules, bit 1: we want mem_lower/mem_upper and the
 * memory map.  Bit 16 (the a.out kludge) stays clear: we are an ELF file and
 * the loader takes the load addresses from the program headers. */
#define MB_HEADER_FLAGS 0x00000003

/* 1 MiB: recursion.c goes tens of thousands of frames deep. */
#define STACK_SIZE (1024 * 1024)

/* Port of QEMU's isa-debug-exit device (iobase=0xf4): writing v makes the
 * emulator exit with status (v << 1) | 1. */
#define DEBUG_EXIT_PORT 0xf4

        /* The header must lie in the first 8 KiB of the file, 4-byte
         * aligned; the linker script puts .multiboot first in .text. */
        .section .multiboot, "a"
        .align 4
        .long MB_HEADER_MAGIC
        .long MB_HEADER_FLAGS
        .long -(MB_HEADER_MAGIC + MB_HEADER_FLAGS)

        /* The stack lives in .bss so that it costs nothing in the file; the
         * loader zero-fills p_memsz beyond p_filesz. */
        .section .bss
        .align 16
stack_bottom:
        .skip STACK_SIZE
stack_top:

        /* What the loader handed us, for programs that want to look at it
         * (the demo prints the memory map).  In .data, not .bss, so that
         * they are part of the file image. */
        .section .data
        .align 4
        .globl multiboot_magic
multiboot_magic:
        .long 0
        .globl multiboot_info
multiboot_info:
        .long 0

        .text
        .globl _start
        .type _start, @function
_start:
        movl    $stack_top, %esp
        movl    %eax, multiboot_magic
        movl    %ebx, multiboot_info

        /* The C ABI requires DF = 0 on function entry (our REP string
         * helpers rely on it); multiboot promises only IF = 0 and VM = 0,
         * so start from a fully known EFLAGS. */
        pushl   $0
        popfl

#ifdef GUEST_FPU
        /* Programs built with FPU (VMM_GUEST_FPU_PROGRAMS) use the x87 from
         * C.  Multiboot says nothing about CR0 beyond PE = 1, PG = 0 (vmm
         * and QEMU both hand over CR0 = 0x11, PE | ET), nor about the FPU
         * state, so set CR0 the way Linux does (head_32.S, fpu__init_cpu):
         * EM = 0 (no #NM on every x87 instruction), TS = 0, MP = 1 (WAIT
         * obeys TS) and NE = 1 (an unmasked x87 exception raises #MF instead
         * of the legacy FERR#/IRQ 13 path nobody here handles), then FNINIT:
         * FCW = 0x037f (all exceptions masked, 64-bit precision, round to
         * nearest), empty stack, the state a Linux process starts with. */
#define CR0_MP  0x00000002
#define CR0_EM  0x00000004
#define CR0_TS  0x00000008
#define CR0_NE  0x00000020
        movl    %cr0, %eax
        andl    $~(CR0_EM | CR0_TS), %eax
        orl     $(CR0_MP | CR0_NE), %eax
        movl    %eax, %cr0
        fninit
#endif

        /* A zero frame pointer terminates backtraces in a debugger. */
        xorl    %ebp, %ebp
        call    guest_main

        /* Report the return value through isa-debug-exit; a machine without
         * that device falls through to the halt loop below. */
        outb    %al, $DEBUG_EXIT_PORT
1:      cli
        hlt
        jmp     1b
        .size _start, . - _start

        /* No executable stack. */
        .section .note.GNU-stack, "", @progbits

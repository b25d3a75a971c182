/*
 * programs.S - the user programs, linked separately at 0x40000000 (see
 * ../user/user.ld), embedded in the kernel image as ELF files.  The build
 * passes their directory to the assembler (-Wa,-I).
 */
#define PROGRAM(name)                           \
        .balign 16;                             \
        .globl prog_##name;                     \
prog_##name:                                    \
        .incbin PROGRAM_FILE_##name;            \
        .globl prog_##name##_end;               \
prog_##name##_end:

#define PROGRAM_FILE_clock   "clock.elf"
#define PROGRAM_FILE_primes  "primes.elf"
#define PROGRAM_FILE_collatz "collatz.elf"
#define PROGRAM_FILE_heap    "heap.elf"
#define PROGRAM_FILE_rogue   "rogue.elf"
#define PROGRAM_FILE_snoop   "snoop.elf"

        .section .rodata.programs, "a"
PROGRAM(clock)
PROGRAM(primes)
PROGRAM(collatz)
PROGRAM(heap)
PROGRAM(rogue)
PROGRAM(snoop)

        .section .note.GNU-stack, "", @progbits

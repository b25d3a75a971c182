/*
 * hostile.h - shared helpers of the hostile guests (see README.md).
 *
 * Every guest runs on the system library (../syslib): sys_init() first, then
 * its attacks, printing a deterministic report on COM1, then host_done()
 * (isa-debug-exit with value 0: emulator exit status 1).
 *
 * catch_all() installs one handler on every exception vector (0..31) that
 * records the whole frame in `caught` and, when an HTRY fix-up is armed,
 * resumes there (like SYS_TRY, but the guest also sees the registers at the
 * fault, which several attacks need: EAX after an instruction that ran off
 * RAM, ECX/EDI of an interrupted REP).
 */
#ifndef HOSTILE_H
#define HOSTILE_H

#include "sys.h"

struct caught_frame {
    int vector;                 /* -1: nothing since catch_reset() */
    int count;
    uint32_t error, eip, cs, eflags, cr2;
    uint32_t eax, ecx, edx, ebx, esi, edi, ebp;
};
extern volatile struct caught_frame caught;
extern volatile uint32_t catch_resume;

/* HTRY("2f") <insns> "2:" HTRY_END in inline asm: the next exception goes
 * to label 2 (the frame is recorded in `caught` first). */
#define HTRY(label) "movl $" label ", catch_resume\n\t"
#define HTRY_END "\n\tmovl $0, catch_resume\n\t"

void catch_all(void);
void catch_reset(void);
/* The frame handler itself, for guests that chain to it. */
void catch_handler(struct sys_frame *f);

/* A fixed-seed generator (xorshift32): the same sequence on every run. */
static inline uint32_t rng_next(uint32_t *s)
{
    uint32_t x = *s;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return *s = x;
}

/* FNV-1a over 32-bit words, for digests of long results. */
static inline uint32_t digest(uint32_t h, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        h ^= (v >> (8 * i)) & 0xff;
        h *= 16777619u;
    }
    return h;
}
#define DIGEST_INIT 2166136261u

static inline uint32_t rd32(uint32_t a) { return *(volatile uint32_t *)a; }
static inline void wr32(uint32_t a, uint32_t v) { *(volatile uint32_t *)a = v; }
static inline uint8_t rd8(uint32_t a) { return *(volatile uint8_t *)a; }
static inline void wr8(uint32_t a, uint8_t v) { *(volatile uint8_t *)a = v; }

/* Calls code at `addr` as `uint32_t f(uint32_t ecx)` with EAX = eax_in;
 * returns EAX. The callee may clobber EAX, ECX, EDX. */
static inline uint32_t call_code(uint32_t addr, uint32_t eax_in, uint32_t ecx_in)
{
    uint32_t a = eax_in, c = ecx_in, d = 0;
    __asm__ volatile("call *%3" : "+a"(a), "+c"(c), "+d"(d) : "r"(addr) : "memory", "cc");
    return a;
}

/* "name: vector V error E eip X [cr2 Y]" of the last caught exception, or
 * "no exception".  With at != 0, an EIP equal to it prints as "=at" (and a
 * CR2 equal to cr2_at as "=cr2"), so that the report does not depend on
 * where the linker put the code. */
void print_caught_at(const char *name, uint32_t at, uint32_t cr2_at);
static inline void print_caught(const char *name) { print_caught_at(name, 0, 0); }

__attribute__((noreturn)) static inline void host_done(void)
{
    printf("DONE\n");
    exit(0);
}

#endif /* HOSTILE_H */

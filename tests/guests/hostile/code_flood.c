/*
 * code_flood - 65,536 distinct routines generated at run time, each called
 * (so each is a block of its own), in two passes and then in a scattered
 * order: with --tb-size 1 the JIT's code buffer fills and is flushed many
 * times, and the decoded-block cache holds far more blocks than it was sized
 * for.  Then a second generation overwrites every routine (each store hits a
 * page of translated code) and the calls must see the new code.
 */
#include "hostile.h"

#define ROUTINES 65536u
#define STRIDE   16u
#define AREA     0x00400000u           /* 1 MiB of routines at 4 MiB */

static void emit32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Routine i (16 bytes, one slot): MOV EAX, k; XOR EAX, ECX; ROL EAX, k >> 27;
 * ADD EAX, EDX; LEA EAX, [EAX + EAX*2]; RET. */
static void generate(uint32_t gen)
{
    uint32_t seed = 0xc0de + gen;
    for (uint32_t i = 0; i < ROUTINES; i++) {
        uint8_t *p = (uint8_t *)(AREA + i * STRIDE);
        uint32_t k = rng_next(&seed);
        p[0] = 0xb8;
        emit32(p + 1, k);
        p[5] = 0x31; p[6] = 0xc8;                             /* xor eax, ecx */
        p[7] = 0xc1; p[8] = 0xc0; p[9] = (uint8_t)(k >> 27);  /* rol eax, imm8 */
        p[10] = 0x01; p[11] = 0xd0;                           /* add eax, edx */
        p[12] = 0x8d; p[13] = 0x04; p[14] = 0x40;             /* lea eax, [eax+eax*2] */
        p[15] = 0xc3;                                         /* ret */
    }
}

static uint32_t call_all(uint32_t order_seed)
{
    uint32_t h = DIGEST_INIT, seed = order_seed;
    for (uint32_t n = 0; n < ROUTINES; n++) {
        uint32_t i = order_seed ? rng_next(&seed) % ROUTINES : n;
        uint32_t a = i, c = n, d = 0;
        __asm__ volatile("call *%3" : "+a"(a), "+c"(c), "+d"(d) : "r"(AREA + i * STRIDE) : "memory", "cc");
        h = digest(h, a);
    }
    return h;
}

int guest_main(void)
{
    sys_init();
    catch_all();
    generate(0);
    printf("generation 0, in order: digest 0x%08x\n", call_all(0));
    printf("generation 0, in order again: digest 0x%08x\n", call_all(0));
    printf("generation 0, scattered: digest 0x%08x\n", call_all(4242));
    generate(1);
    printf("generation 1, in order: digest 0x%08x\n", call_all(0));
    printf("generation 1, scattered: digest 0x%08x\n", call_all(4243));
    host_done();
}

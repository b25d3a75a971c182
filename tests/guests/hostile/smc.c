/*
 * smc - self-modifying code:
 *   - an instruction that rewrites the immediate of the next instruction in
 *     the same block (MOV BYTE [next+1], imm8; MOV EAX, imm32; RET): the CPU
 *     executes the new bytes (SDM Vol. 3A 8.1.3), 1000 times;
 *   - a loop whose hot counter lives on its own code page (100,000 stores
 *     to a code page that do not touch any instruction);
 *   - aliased code: one physical page mapped at two linear addresses,
 *     rewritten through one, executed through the other, 1000 times;
 *   - a JIT in the guest: a routine written, called, rewritten 10,000 times.
 */
#include "hostile.h"

static uint8_t code[4 * 4096] __attribute__((aligned(4096)));

static void emit32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

int guest_main(void)
{
    sys_init();
    catch_all();

    printf("== rewrite the next instruction\n");
    /* 0: C6 05 <addr of 8> imm8    MOV BYTE [code+8], imm8   (7 bytes)
     * 7: B8 01 00 00 00            MOV EAX, 1 (byte 8 is the imm's low byte)
     * 12: C3                       RET */
    uint8_t *p = code;
    uint32_t c = (uint32_t)code;
    p[0] = 0xc6;
    p[1] = 0x05;
    emit32(p + 2, c + 8);
    p[6] = 0;
    p[7] = 0xb8;
    emit32(p + 8, 1);
    p[12] = 0xc3;
    uint32_t sum = 0, stale = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        uint8_t v = (uint8_t)(i * 7 + 3);
        p[6] = v;                         /* data write: the store's immediate */
        uint32_t r = call_code(c, 0, 0);
        stale += r != v;
        sum += r;
    }
    printf("1000 runs: sum %u, runs that executed the old byte %u\n", sum, stale);

    printf("== hot data on a code page\n");
    /* page 1: 0: B9 <n>  MOV ECX, n
     *         5: FF 05 <addr> INC DWORD [page1+0x800]
     *        11: 49          DEC ECX
     *        12: 75 F7       JNZ 5
     *        14: A1 <addr>   MOV EAX, [page1+0x800]
     *        19: C3          RET */
    uint8_t *q = code + 4096;
    uint32_t qa = (uint32_t)q;
    q[0] = 0xb9;
    emit32(q + 1, 100000);
    q[5] = 0xff;
    q[6] = 0x05;
    emit32(q + 7, qa + 0x800);
    q[11] = 0x49;
    q[12] = 0x75;
    q[13] = 0xf7;
    q[14] = 0xa1;
    emit32(q + 15, qa + 0x800);
    q[19] = 0xc3;
    emit32(q + 0x800, 0);
    printf("100000 increments of a counter on the code page: %u\n", call_code(qa, 0, 0));
    printf("again: %u\n", call_code(qa, 0, 0));

    printf("== aliased code\n");
    uint32_t *pd = pg_identity_dir(16u << 20);
    uint8_t *phys = code + 2 * 4096;
    const uint32_t va_w = 0x50000000u, va_x = 0x60000000u;
    pg_map(pd, va_w, (uint32_t)phys, PTE_P | PTE_W);
    pg_map(pd, va_x, (uint32_t)phys, PTE_P);
    pg_enable(pd);
    sum = stale = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        uint8_t *w = (uint8_t *)va_w;
        w[0] = 0xb8;                          /* MOV EAX, i * 3 + 1; RET */
        emit32(w + 1, i * 3 + 1);
        w[5] = 0xc3;
        uint32_t r = call_code(va_x, 0, 0);
        stale += r != i * 3 + 1;
        sum += r;
    }
    printf("1000 rewrites through one alias, run through the other: sum %u, stale %u\n", sum, stale);
    pg_disable();

    printf("== a JIT in the guest\n");
    uint8_t *j = code + 3 * 4096;
    uint32_t ja = (uint32_t)j, seed = 99;
    sum = 0;
    for (uint32_t i = 0; i < 10000; i++) {
        uint32_t k = rng_next(&seed);
        unsigned n = 0;
        j[n++] = 0xb8;                         /* MOV EAX, k */
        emit32(j + n, k);
        n += 4;
        switch (i % 4) {                       /* op EAX, ECX */
        case 0: j[n++] = 0x01; j[n++] = 0xc8; break;   /* ADD */
        case 1: j[n++] = 0x31; j[n++] = 0xc8; break;   /* XOR */
        case 2: j[n++] = 0x29; j[n++] = 0xc8; break;   /* SUB */
        case 3: j[n++] = 0x0f; j[n++] = 0xaf; j[n++] = 0xc1; break;  /* IMUL EAX, ECX */
        }
        j[n++] = 0xc1;                         /* ROL EAX, i & 31 */
        j[n++] = 0xc0;
        j[n++] = (uint8_t)(i & 31);
        j[n++] = 0xc3;
        sum = digest(sum, call_code(ja, 0, i));
    }
    printf("10000 routines written and run: digest 0x%08x\n", sum);
    host_done();
}

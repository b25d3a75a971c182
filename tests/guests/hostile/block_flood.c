/*
 * block_flood - the largest decoded blocks, as many as the guest can make:
 * 2 MiB of INC EAX with a RET every 64 bytes, called at every 16th byte, so
 * that each call decodes a block of its own of 16 to 64 instructions
 * (131,072 distinct blocks, 5 million instructions decoded; the cache holds
 * 65,536 blocks or a million instructions). vmm's decoded-block
 * cache must stay within its bounds (README, "Bounded resources") by
 * dropping itself, and every call must still return the right count.
 */
#include "hostile.h"

#define AREA  0x00400000u   /* 2 MiB of code at 4 MiB */
#define STEP  16u
#define BYTES 0x00200000u

int guest_main(void)
{
    sys_init();
    catch_all();
    uint8_t *code = (uint8_t *)AREA;
    for (uint32_t i = 0; i < BYTES; i++) code[i] = (i % 64) == 63 ? 0xc3 : 0x40;  /* ret / inc eax */
    for (int pass = 0; pass < 2; pass++) {
        uint32_t wrong = 0, total = 0;
        for (uint32_t at = 0; at < BYTES; at += STEP) {
            uint32_t a = 0;
            __asm__ volatile("call *%1" : "+a"(a) : "r"(AREA + at) : "memory", "cc");
            wrong += a != 63 - at % 64;
            total += a;
        }
        printf("pass %d: %u calls, %u instructions counted, %u wrong\n", pass, BYTES / STEP, total, wrong);
    }
    host_done();
    return 0;
}

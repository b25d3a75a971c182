/*
 * beyond_ram - ordinary MOVs to physical memory that is not RAM (run with
 * -m 16).  vmm's bus answers reads of unassigned memory with all ones
 * (devices/bus.cpp, runtime/softmmu.cpp) and drops writes; vmm maps no MMIO
 * device, so every hole reads as all ones.  The guest reads and writes
 * 0xf0000000 a million times with paging off, then through a page mapped
 * to it, checks byte/word/dword answers, a dword straddling the end of RAM
 * (the RAM bytes, then all ones), and REP MOVS/STOS to and from the hole.
 * The runner bounds the time: the JIT must not take a host fault and an
 * interpreted instruction for every such access.
 */
#include "hostile.h"

#define RAM_END 0x01000000u
#define N 1000000u

static uint32_t loop_read(uint32_t addr, uint32_t n)
{
    uint32_t and_ = 0xffffffffu, or_ = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t v = rd32(addr + (i & 0xff) * 4);
        and_ &= v;
        or_ |= v;
    }
    return and_ == or_ ? and_ : 0xbad;
}

static void loop_write(uint32_t addr, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++)
        wr32(addr + (i & 0xff) * 4, i);
}

static void holes(const char *what, uint32_t base)
{
    printf("%s: %u dword reads: all 0x%08x\n", what, N, loop_read(base, N));
    loop_write(base, N);
    printf("%s: after %u writes, reads 0x%08x\n", what, N, rd32(base + 8));
    printf("%s: byte 0x%02x word 0x%04x dword 0x%08x\n", what, rd8(base + 3),
           *(volatile uint16_t *)(base + 6), rd32(base + 12));
}

int guest_main(void)
{
    sys_init();
    catch_all();

    printf("== paging off\n");
    holes("0xf0000000", 0xf0000000u);
    holes("end of RAM", RAM_END);
    holes("0xfee00000 (no local APIC)", 0xfee00000u);
    static const uint32_t probes[] = {0x20000000u, 0x80000000u, 0xfec00000u, 0xfffffff0u};
    for (unsigned i = 0; i < sizeof probes / sizeof probes[0]; i++)
        printf("read 0x%08x: 0x%08x\n", probes[i], rd32(probes[i]));

    wr32(RAM_END - 4, 0x44332211u);
    printf("dword at end-2: 0x%08x\n", rd32(RAM_END - 2));
    wr32(RAM_END - 2, 0xaabbccddu);
    printf("after writing 0xaabbccdd at end-2: end-4 reads 0x%08x\n", rd32(RAM_END - 4));

    static uint32_t buf[1024];
    uint32_t n = 1024, s = 0xf0000000u, d = (uint32_t)buf;
    __asm__ volatile("cld; rep movsl" : "+c"(n), "+S"(s), "+D"(d) : : "memory");
    uint32_t and_ = 0xffffffffu;
    for (int i = 0; i < 1024; i++)
        and_ &= buf[i];
    printf("rep movsd from the hole: and 0x%08x, ecx %u, esi 0x%08x\n", and_, n, s);
    n = 0x100000;
    d = RAM_END - 0x1000;
    __asm__ volatile("cld; rep stosl" : "+c"(n), "+D"(d) : "a"(0x5a5a5a5au) : "memory");
    printf("rep stosd 4 MiB across the end of RAM: ecx %u, edi 0x%08x, last RAM dword 0x%08x\n", n,
           d, rd32(RAM_END - 4));

    printf("== paging on: a page mapped to 0xf0000000\n");
    uint32_t *pd = pg_identity_dir(RAM_END);
    const uint32_t va = 0x40000000u;
    pg_map(pd, va, 0xf0000000u, PTE_P | PTE_W);
    pg_map(pd, va + 4096, 0xfee00000u, PTE_P | PTE_W | PTE_PCD);
    pg_enable(pd);
    holes("va 0x40000000", va);
    holes("va 0x40001000 (PCD)", va + 4096);
    pg_disable();
    printf("exceptions: %d\n", caught.count);
    host_done();
}

/*
 * ram_end_straddle - instructions that straddle the end of RAM (run with
 * -m 16: RAM ends at 0x01000000).
 *
 * `b8 90` (the first two bytes of MOV EAX, imm32) at 0xfffffe: the other
 * three bytes lie in unassigned memory.  vmm defines a code fetch from
 * outside RAM as #UD (devices/bus.cpp answers data reads only), so an
 * instruction any byte of which lies outside RAM raises #UD at its first
 * byte, identically under every engine; nothing of it executes (QEMU 7.2
 * aborts on an assertion here).  Also: a jump straight to the first byte
 * past RAM, NOPs running off the end, a two-byte opcode split by the end
 * (0F FF, UD0), and with paging on a next page that is not present (#PF on
 * the fetch, error 0, CR2 = the next page, EIP = the instruction), RAM,
 * unassigned memory, and each again after INVLPG: a translation of the
 * instruction made for one mapping of the next page must not outlive it.
 * Each attack runs three times: a second run must not find a stale
 * translation of the first.
 */
#include "hostile.h"

#define RAM_END 0x01000000u

static void attempt(const char *name, uint32_t target)
{
    for (int i = 0; i < 3; i++) {
        catch_reset();
        uint32_t eax = 0x12345678u + (uint32_t)i;
        __asm__ volatile(HTRY("2f") "jmp *%1\n2:" HTRY_END : "+a"(eax) : "r"(target) : "memory", "cc");
        if (caught.vector < 0) {
            printf("%s: returned without an exception\n", name);
            continue;
        }
        printf("%s #%d: vector %d error 0x%x eip 0x%08x", name, i, caught.vector, caught.error, caught.eip);
        if (caught.vector == 14)
            printf(" cr2 0x%08x", caught.cr2);
        if (caught.eax == 0x12345678u + (uint32_t)i)
            printf(" eax unchanged\n");
        else
            printf(" eax 0x%08x\n", caught.eax);
    }
}

static void put(uint32_t addr, const uint8_t *b, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        wr8(addr + i, b[i]);
}

int guest_main(void)
{
    sys_init();
    catch_all();
    static const uint8_t mov_eax[] = {0xb8, 0x90};
    static const uint8_t nops[] = {0x90, 0x90};
    static const uint8_t ud0[] = {0x0f};

    printf("== paging off, RAM ends at 0x%08x\n", RAM_END);
    put(RAM_END - 2, mov_eax, 2);
    attempt("b8 90 at end-2", RAM_END - 2);
    attempt("jump to end", RAM_END);
    put(RAM_END - 2, nops, 2);
    attempt("nops into end", RAM_END - 2);
    put(RAM_END - 1, ud0, 1);
    attempt("0f at end-1", RAM_END - 1);

    printf("== paging on\n");
    uint32_t *pd = pg_identity_dir(RAM_END);
    uint8_t *page = pg_alloc();
    const uint32_t va = 0x20000000u;
    pg_map(pd, va, (uint32_t)page, PTE_P | PTE_W);
    pg_enable(pd);
    put(va + 4096 - 2, mov_eax, 2);
    attempt("b8 90, next page not present", va + 4096 - 2);
    /* The rest of the instruction on a RAM page: MOV EAX, 0x33221190,
     * then UD2 at the next page + 3. */
    uint8_t *page2 = pg_alloc();
    static const uint8_t tail[] = {0x11, 0x22, 0x33, 0x0f, 0x0b};
    put((uint32_t)page2, tail, sizeof tail);
    pg_map(pd, va + 4096, (uint32_t)page2, PTE_P | PTE_W);
    invlpg(va + 4096);
    attempt("b8 90, next page RAM", va + 4096 - 2);
    pg_map(pd, va + 4096, RAM_END, PTE_P | PTE_W);
    invlpg(va + 4096);
    attempt("b8 90, next page unassigned", va + 4096 - 2);
    pg_unmap(pd, va + 4096);
    invlpg(va + 4096);
    attempt("b8 90, next page unmapped again", va + 4096 - 2);
    pg_map(pd, va + 4096, (uint32_t)page2, PTE_P | PTE_W);
    invlpg(va + 4096);
    attempt("b8 90, next page RAM again", va + 4096 - 2);
    put(RAM_END - 2, mov_eax, 2);
    attempt("b8 90 at end-2, identity", RAM_END - 2);
    pg_disable();
    host_done();
}

/*
 * paging.c - 32-bit paging (SDM Vol. 3A, chapter 4):
 *
 *   - an identity map plus a higher-half alias (0xc0000000 + x -> x) of the
 *     same memory: data written through one is read through the other, and
 *     code runs through the alias;
 *   - accessed and dirty bits set by the CPU in PTEs and PDEs (4 KiB and
 *     4 MiB pages);
 *   - the TLB: a changed PTE is used only after INVLPG or a CR3 load; with
 *     CR4.PGE a global translation survives the CR3 load, and clearing
 *     CR4.PGE flushes it;
 *   - 4 MiB pages with CR4.PSE;
 *   - a few #PF error codes (the full set is in exceptions.c).
 *
 * The TLB checks read a stale translation after changing a PTE without
 * invalidating it.  The SDM allows a processor to drop a TLB entry at any
 * time, so staleness is not guaranteed architecturally; it is what the
 * hardware and QEMU do for a translation used just before, and it is the
 * only way to see that INVLPG and CR3 loads (and global pages) do anything.
 */
#include "sys.h"

#define ALIAS   0xc0000000u
#define VA_T    0x50000000u
#define VA_T2   0x50001000u
#define VA_BIG  0x80000000u
#define VA_BIG2 0x80400000u

static uint32_t *pd;

static inline uint32_t rd(uint32_t va) { return *(volatile uint32_t *)va; }
static inline void wr(uint32_t va, uint32_t v) { *(volatile uint32_t *)va = v; }

/* A leaf function without absolute references: runs at any address. */
__attribute__((noinline)) static uint32_t triple(uint32_t x) { return x * 3; }

static void test_alias(void)
{
    sys_section("identity map and higher-half alias");
    static volatile uint32_t cell;
    cell = 0x1234;
    uint32_t alias = ALIAS + (uint32_t)&cell;
    check_eq("read through the alias", rd(alias), 0x1234);
    wr(alias, 0xabcd);
    check_eq("write through the alias, read through the identity map", cell, 0xabcd);
    uint32_t (*f)(uint32_t) = (uint32_t (*)(uint32_t))(ALIAS + (uint32_t)triple);
    check_eq("code runs through the alias", f(14), 42);
    uint32_t eip;
    __asm__ volatile("call 1f\n1:\tpopl %0" : "=r"(eip));
    check("identity-mapped code still runs at its link address", eip < ALIAS);
}

static void test_ad_bits(void)
{
    sys_section("accessed and dirty bits");
    uint32_t *page = pg_alloc();
    page[0] = 77;
    pg_map(pd, VA_T, (uint32_t)page, PTE_P | PTE_W);
    pd[VA_T >> 22] &= ~PTE_A;
    uint32_t *pte = pg_pte(pd, VA_T);
    invlpg(VA_T);
    check("new PTE: A = 0, D = 0", !(*pte & (PTE_A | PTE_D)));
    check_eq("read through the new mapping", rd(VA_T), 77);
    check("after a read: PTE.A = 1", (*pte & PTE_A) != 0);
    check("after a read: PTE.D = 0", !(*pte & PTE_D));
    check("after a read: PDE.A = 1", (pd[VA_T >> 22] & PTE_A) != 0);
    wr(VA_T + 4, 5);
    check("after a write: PTE.D = 1", (*pte & PTE_D) != 0);
    check("PDE has no dirty bit set (4 KiB pages)", !(pd[VA_T >> 22] & PTE_D));

    /* A write as the first access sets both. */
    pg_map(pd, VA_T2, (uint32_t)page, PTE_P | PTE_W);
    pte = pg_pte(pd, VA_T2);
    invlpg(VA_T2);
    wr(VA_T2 + 8, 6);
    check_eq("first access a write: PTE.A and PTE.D set", *pte & (PTE_A | PTE_D), PTE_A | PTE_D);

    /* 4 MiB page. */
    write_cr4(read_cr4() | CR4_PSE);
    pg_map_large(pd, VA_BIG, 0, PTE_P | PTE_W);
    invlpg(VA_BIG);
    (void)rd(VA_BIG + (uint32_t)page);
    check_eq("4 MiB page after a read: PDE A = 1, D = 0", pd[VA_BIG >> 22] & (PTE_A | PTE_D), PTE_A);
    wr(VA_BIG + (uint32_t)page + 12, 9);
    check("4 MiB page after a write: PDE.D = 1", (pd[VA_BIG >> 22] & PTE_D) != 0);
    check_eq("4 MiB page maps to the physical address", page[3], 9);
}

static void test_tlb(void)
{
    sys_section("TLB: INVLPG, CR3 loads, global pages");
    uint32_t *a = pg_alloc(), *b = pg_alloc();
    a[0] = 0xaaaa;
    b[0] = 0xbbbb;

    pg_map(pd, VA_T, (uint32_t)a, PTE_P | PTE_W);
    invlpg(VA_T);
    check_eq("mapping to page A", rd(VA_T), 0xaaaa);
    pg_map(pd, VA_T, (uint32_t)b, PTE_P | PTE_W);
    check_eq("PTE changed to B without INVLPG: cached translation to A used", rd(VA_T), 0xaaaa);
    invlpg(VA_T);
    check_eq("after INVLPG: page B", rd(VA_T), 0xbbbb);

    pg_map(pd, VA_T, (uint32_t)a, PTE_P | PTE_W);
    write_cr3(read_cr3());
    check_eq("after a CR3 load: page A again", rd(VA_T), 0xaaaa);

    /* Global pages: INVLPG flushes them (the CR3 side is vmm-only). */
    write_cr4(read_cr4() | CR4_PGE);
    pg_map(pd, VA_T, (uint32_t)a, PTE_P | PTE_W | PTE_G);
    invlpg(VA_T);
    check_eq("global mapping to A", rd(VA_T), 0xaaaa);
    pg_map(pd, VA_T, (uint32_t)b, PTE_P | PTE_W | PTE_G);
    invlpg(VA_T);
    check_eq("INVLPG flushes a global translation (B)", rd(VA_T), 0xbbbb);
    write_cr4(read_cr4() & ~CR4_PGE);

    /* Unmapped and invalidated: #PF. */
    pg_unmap(pd, VA_T2);
    invlpg(VA_T2);
    uint32_t at;
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tmovl (%1), %%eax\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "r"(VA_T2) : "eax", "memory");
    check_fault("#PF after unmapping and INVLPG", 14, 0, at, "at the load");
}

/* QEMU's TCG flushes its whole TLB on every CR3 load, global pages
 * included (the SDM allows it, the hardware keeps them). */
static void test_global_cr3(void)
{
    sys_section("vmm-only: global pages survive CR3 loads (QEMU's TCG flushes them)");
    uint32_t *a = pg_alloc(), *b = pg_alloc();
    a[0] = 0xaaaa;
    b[0] = 0xbbbb;
    write_cr4(read_cr4() | CR4_PGE);
    pg_map(pd, VA_T, (uint32_t)a, PTE_P | PTE_W | PTE_G);
    pg_map(pd, VA_T2, (uint32_t)a, PTE_P | PTE_W);
    invlpg(VA_T);
    invlpg(VA_T2);
    check_eq("global mapping to A", rd(VA_T), 0xaaaa);
    check_eq("non-global mapping to A", rd(VA_T2), 0xaaaa);
    pg_map(pd, VA_T, (uint32_t)b, PTE_P | PTE_W | PTE_G);
    pg_map(pd, VA_T2, (uint32_t)b, PTE_P | PTE_W);
    write_cr3(read_cr3());
    check_eq("CR3 load with CR4.PGE: global translation kept (A)", rd(VA_T), 0xaaaa);
    check_eq("CR3 load with CR4.PGE: non-global translation flushed (B)", rd(VA_T2), 0xbbbb);
    invlpg(VA_T);
    check_eq("INVLPG flushes a global translation (B)", rd(VA_T), 0xbbbb);

    pg_map(pd, VA_T, (uint32_t)a, PTE_P | PTE_W | PTE_G);
    write_cr3(read_cr3());
    check_eq("global translation to B survives another CR3 load", rd(VA_T), 0xbbbb);
    write_cr4(read_cr4() & ~CR4_PGE);
    check_eq("clearing CR4.PGE flushes global translations (A)", rd(VA_T), 0xaaaa);

    pg_map(pd, VA_T2, (uint32_t)a, PTE_P | PTE_W);
    invlpg(VA_T2);
}

static uint32_t user_write(uint32_t va)
{
    uint32_t at;
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tmovl $1, (%1)\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "r"(va) : "memory");
    return at;
}

static void test_large(void)
{
    sys_section("4 MiB pages");
    /* VA_BIG2 -> physical 0 .. 4 MiB (where this program lives), read-only,
     * user. */
    pg_map_large(pd, VA_BIG2, 0, PTE_P | PTE_U);
    invlpg(VA_BIG2);
    static volatile uint32_t probe = 0x600d;
    check_eq("4 MiB page: read at the offset within the page", rd(VA_BIG2 + (uint32_t)&probe), 0x600d);
    check_eq("4 MiB page: CR4.PSE set", read_cr4() & CR4_PSE, CR4_PSE);

    sys_fault_reset();
    uint32_t at = sys_run_user(user_write, VA_BIG2 + 0x10, 0);
    check_fault("#PF CPL 3 write to a read-only 4 MiB page", 14, 7, at, "at the store");
    check_eq("  CR2", sys_last.cr2, VA_BIG2 + 0x10);

    pd[VA_BIG2 >> 22] = 0;
    invlpg(VA_BIG2);
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tmovl $0, (%1)\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "r"(VA_BIG2 + 0x123456) : "memory");
    check_fault("#PF CPL 0 write, PDE not present", 14, 2, at, "at the store");
    check_eq("  CR2", sys_last.cr2, VA_BIG2 + 0x123456);
}

int guest_main(void)
{
    sys_init();
    pd = pg_identity_dir(16u << 20);
    for (uint32_t a = 0; a < (16u << 20); a += 4096)
        pg_map(pd, ALIAS + a, a, PTE_P | PTE_W | PTE_U);
    pg_enable(pd);
    check("paging enabled: CR0.PG", (read_cr0() & CR0_PG) != 0);
    check_eq("CR3 = page directory", read_cr3(), (uint32_t)pd);
    test_alias();
    test_ad_bits();
    test_tlb();
    test_large();
    if (sys_cmdline_has("vmm-only"))
        test_global_cr3();
    pg_disable();
    sys_finish();
}

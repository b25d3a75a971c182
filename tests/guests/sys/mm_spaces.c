/*
 * mm_spaces.c - many address spaces: round-robin CR3 switches between page
 * directories that map different frames at the same linear address, and
 * the coherence rules a shadow-paging implementation must honour.
 *
 * Work phase.  TASKS tasks (default 16) each own a working set of WS KiB
 * (default 64), made of frames interleaved with the other tasks' (page j
 * of task t is frame j * TASKS + t of a pool), so no working set is
 * physically contiguous.  The tasks live in SPACES address spaces (default
 * TASKS; TASKS must be a multiple of SPACES): task t is in space
 * t % SPACES, at USER_VA + (t / SPACES) * WS.  So with spaces=16 every
 * space maps one working set at the same linear address USER_VA, backed by
 * different frames; with spaces=1 one space maps all 16 side by side.
 * Every space also maps the kernel: the identity map of RAM through page
 * tables shared by all the page directories (as Linux shares its kernel
 * page tables), with PTE.G set when global=1 and the CPU has CR4.PGE
 * (default: global=1), plus one shared page table for the global-page
 * checks.  The timed loop (between "-- begin timed loop" and "-- end timed
 * loop") runs ROUNDS rounds; in each, every task in turn gets a slice: a
 * MOV to CR3 of its space's page directory (executed for every slice, also
 * when it reloads the same value, so spaces=1 and spaces=16 run the same
 * instructions), then OPS random read-modify-writes a[i] = a[i] * K + j on
 * its working set, from the task's own LCG state.  spaces=1 therefore does
 * exactly the same work as spaces=16, and prints the same checksums: only
 * the number of distinct address spaces differs (bench/shadow.py compares
 * the two).  Afterwards each task's working set is read through its space
 * and through the identity map of its frames (they must agree) and its
 * checksum printed; a tag page at TAG_VA, written through every space and
 * read back through every space, shows that a value written through one
 * space is not visible through another at the same linear address.
 *
 * Coherence checks (two more address spaces A and B, before the work):
 * a PTE and a PDE of a non-current space changed through the identity map,
 * then a CR3 load to it; a PTE of the current space changed, then INVLPG or
 * a CR3 reload; a page table written through another alias, and a page
 * directory too; a page table mapped as data into the range it maps
 * (written as data, used as a page table); a recursive page-directory
 * entry (the directory used as a page table); the D bit set by the first
 * write after a read (also after software cleared it, and through a page
 * table shared by two spaces); global pages across CR3 loads: after a
 * global PTE changes, the new translation is checked after INVLPG or a
 * CR4.PGE toggle only, which is all the SDM requires (no check relies on a
 * stale translation).
 *
 * Command line: tasks=N spaces=N ws=KiB rounds=N ops=N global=0|1, e.g.
 *   vmm -m 64 -kernel mm_spaces.elf -append "spaces=1 ws=256 rounds=200 ops=2000"
 */
#include "mm_common.h"

#define USER_VA  0x40000000u
#define TAG_VA   0x5f000000u
#define COH_VA   0x60000000u     /* A and B: one page table each */
#define COH2_VA  0x60400000u     /* A: the page-directory alias check */
#define PTA_VA   0x61000000u     /* A: its COH_VA page table mapped here */
#define PDA_VA   0x61001000u     /* A: its page directory mapped here */
#define SHR_VA   0x64000000u     /* A and B: one page table shared by both */
#define GLB_VA   0x7fc00000u     /* every space: a shared page table, global PTEs */
#define RAM_CAP  USER_VA         /* the identity map stays below USER_VA */
#define K_MUL    0x9e3779b1u
#define MAX_TASKS 64

static uint32_t ntasks, nspaces, ws_pages, rounds, ops, use_global;
static uint32_t *kernel_pd;       /* holds the shared kernel PDEs */
static uint32_t *space_pd[MAX_TASKS];
static uint32_t task_state[MAX_TASKS];
static uint32_t tmpl[1024];

/* ---- address spaces ---------------------------------------------------------------- */

/* A page directory with the kernel part (shared page tables). */
static uint32_t *new_space(void)
{
    uint32_t *pd = mm_palloc(1);
    for (int i = 0; i < 1024; i++)
        pd[i] = kernel_pd[i];
    return pd;
}

static void map(uint32_t *pd, uint32_t va, uint32_t pa, uint32_t flags)
{
    *mm_pte(pd, va) = pa | flags;
}

/* A frame whose words 0 and 1 identify it. */
static uint32_t sig_frame(uint32_t sig)
{
    uint32_t *f = mm_palloc(1);
    f[0] = sig;
    f[1] = ~sig;
    return (uint32_t)f;
}

#define SIG(n) (0x51900000u + (n))

static void check_read(const char *name, uint32_t va, uint32_t sig)
{
    uint32_t at;
    int v = mm_probe_read(va, &at);
    if (v >= 0) {
        check_detail(name, 0, "vector %d at 0x%x, CR2 0x%x", v, sys_last.eip, sys_last.cr2);
        return;
    }
    check_eq(name, mm_rd(va), sig);
}

static void check_no_read(const char *name, uint32_t va)
{
    uint32_t at;
    mm_probe_read(va, &at);
    check_fault(name, 14, 0, at, "at the load");
    check_eq("  CR2", sys_last.cr2, va);
}

/* ---- coherence ---------------------------------------------------------------------- */

static void coherence(void)
{
    uint32_t *pdA = new_space(), *pdB = new_space();
    uint32_t f[16];
    for (int i = 0; i < 16; i++)
        f[i] = sig_frame(SIG(i));
    uint32_t *ptA = mm_pte(pdA, COH_VA), *ptB = mm_pte(pdB, COH_VA);
    ptA[0] = f[0] | PTE_P | PTE_W;
    ptB[0] = f[1] | PTE_P | PTE_W;

    sys_section("non-current address space");
    write_cr3((uint32_t)pdB);
    check_read("space B maps frame 1", COH_VA, SIG(1));
    write_cr3((uint32_t)pdA);
    check_read("space A maps frame 0 at the same address", COH_VA, SIG(0));
    ptB[0] = f[2] | PTE_P | PTE_W;
    write_cr3((uint32_t)pdB);
    check_read("PTE of B changed while A was current: B sees frame 2 after MOV CR3", COH_VA, SIG(2));
    write_cr3((uint32_t)pdA);
    check_read("A still sees frame 0", COH_VA, SIG(0));
    ptB[0] = 0;
    write_cr3((uint32_t)pdB);
    check_no_read("PTE of B cleared while A was current: #PF in B", COH_VA);
    ptB[0] = f[1] | PTE_P | PTE_W;
    check_read("PTE of B set again while B is current (was not present)", COH_VA, SIG(1));
    write_cr3((uint32_t)pdA);
    uint32_t *ptB2 = mm_palloc(1);
    ptB2[0] = f[3] | PTE_P | PTE_W;
    pdB[COH_VA >> 22] = (uint32_t)ptB2 | PTE_P | PTE_W;
    write_cr3((uint32_t)pdB);
    check_read("PDE of B pointed at a new page table while A was current: frame 3", COH_VA, SIG(3));
    check_no_read("  the new page table's empty slot: #PF", COH_VA + 4096);
    write_cr3((uint32_t)pdA);
    pdB[COH_VA >> 22] = (uint32_t)ptB | PTE_P | PTE_W;
    write_cr3((uint32_t)pdB);
    check_read("PDE of B restored while A was current: frame 1", COH_VA, SIG(1));

    sys_section("current address space");
    write_cr3((uint32_t)pdA);
    check_read("A maps frame 0", COH_VA, SIG(0));
    ptA[0] = f[4] | PTE_P | PTE_W;
    invlpg(COH_VA);
    check_read("PTE changed, INVLPG: frame 4", COH_VA, SIG(4));
    ptA[0] = f[5] | PTE_P | PTE_W;
    write_cr3(read_cr3());
    check_read("PTE changed, CR3 reloaded: frame 5", COH_VA, SIG(5));
    ptA[0] = f[0] | PTE_P | PTE_W;
    invlpg(COH_VA);
    check_read("PTE changed back, INVLPG: frame 0", COH_VA, SIG(0));

    sys_section("page tables written through other aliases");
    map(pdA, PTA_VA, (uint32_t)ptA, PTE_P | PTE_W);
    map(pdA, PDA_VA, (uint32_t)pdA, PTE_P | PTE_W);
    write_cr3((uint32_t)pdA);
    volatile uint32_t *pta = (volatile uint32_t *)PTA_VA;
    check_eq("page table read through its alias", pta[0] & ~(uint32_t)(PTE_A | PTE_D), f[0] | PTE_P | PTE_W);
    check("  A bit of the used PTE set, seen through the alias", (pta[0] & PTE_A) != 0);
    pta[0] = f[6] | PTE_P | PTE_W;
    invlpg(COH_VA);
    check_read("PTE written through the alias, INVLPG: frame 6", COH_VA, SIG(6));
    check_eq("  the identity map sees the written PTE", ptA[0] & ~(uint32_t)(PTE_A | PTE_D), f[6] | PTE_P | PTE_W);
    pta[1] = f[7] | PTE_P | PTE_W;
    check_read("PTE of an unused slot written through the alias (no INVLPG needed)", COH_VA + 4096, SIG(7));
    uint32_t *ptC = mm_palloc(1);
    ptC[5] = f[8] | PTE_P | PTE_W;
    volatile uint32_t *pda = (volatile uint32_t *)PDA_VA;
    pda[COH2_VA >> 22] = (uint32_t)ptC | PTE_P | PTE_W;
    check_read("PDE written through the page directory's alias (was not present)", COH2_VA + 5 * 4096, SIG(8));
    ptC[5] = f[9] | PTE_P | PTE_W;
    invlpg(COH2_VA + 5 * 4096);
    check_read("  then its PTE changed, INVLPG: frame 9", COH2_VA + 5 * 4096, SIG(9));
    uint32_t *ptD = mm_palloc(1);
    ptD[5] = f[10] | PTE_P | PTE_W;
    pda[COH2_VA >> 22] = (uint32_t)ptD | PTE_P | PTE_W;
    write_cr3(read_cr3());
    check_read("PDE rewritten through the alias, CR3 reloaded: frame 10", COH2_VA + 5 * 4096, SIG(10));

    sys_section("a page table that is also a data page");
    /* Slot 8 of A's COH_VA page table maps the page table itself. */
    ptA[8] = (uint32_t)ptA | PTE_P | PTE_W;
    volatile uint32_t *self = (volatile uint32_t *)(COH_VA + 8 * 4096);
    check_eq("page table read as data through its own slot", self[0] & ~(uint32_t)(PTE_A | PTE_D),
             f[6] | PTE_P | PTE_W);
    self[9] = f[11] | PTE_P | PTE_W;
    check_read("PTE written as data (slot was not present): frame 11", COH_VA + 9 * 4096, SIG(11));
    self[9] = f[12] | PTE_P | PTE_W;
    invlpg(COH_VA + 9 * 4096);
    check_read("PTE rewritten as data, INVLPG: frame 12", COH_VA + 9 * 4096, SIG(12));
    check_eq("the self-mapping PTE has A and D set (written through it)", self[8] & (PTE_A | PTE_D),
             PTE_A | PTE_D);
    self[10] = 0x12345670u;     /* data with P = 0 */
    check_no_read("data word with P = 0 in the page table: #PF", COH_VA + 10 * 4096);
    self[10] = f[13] | PTE_P | PTE_W;
    check_read("the same word made a present PTE: frame 13", COH_VA + 10 * 4096, SIG(13));
    ptA[8] = 0;
    invlpg(COH_VA + 8 * 4096);

    sys_section("recursive page-directory entry");
    pdA[1023] = (uint32_t)pdA | PTE_P | PTE_W;
    write_cr3(read_cr3());
    volatile uint32_t *ptes = (volatile uint32_t *)0xffc00000u;
    volatile uint32_t *pdes = (volatile uint32_t *)0xfffff000u;
    check_eq("PTE read through the recursive mapping", ptes[(COH_VA >> 12) + 9], ptA[9]);
    check_eq("PDE read through the recursive mapping", pdes[COH_VA >> 22], pdA[COH_VA >> 22]);
    ptes[(COH_VA >> 12) + 14] = f[14] | PTE_P | PTE_W;
    check_read("PTE written through the recursive mapping: frame 14", COH_VA + 14 * 4096, SIG(14));
    ptes[(COH_VA >> 12) + 14] = f[15] | PTE_P | PTE_W;
    invlpg(COH_VA + 14 * 4096);
    check_read("  rewritten, INVLPG: frame 15", COH_VA + 14 * 4096, SIG(15));
    pdA[1023] = 0;
    write_cr3(read_cr3());
    check_no_read("recursive entry removed, CR3 reloaded: #PF", 0xffc00000u + (COH_VA >> 10));

    sys_section("dirty bits");
    uint32_t d = sig_frame(SIG(0x100));
    ptA[11] = d | PTE_P | PTE_W;
    invlpg(COH_VA + 11 * 4096);
    check_read("fresh PTE read", COH_VA + 11 * 4096, SIG(0x100));
    check_eq("  A = 1, D = 0", ptA[11] & (PTE_A | PTE_D), PTE_A);
    mm_wr(COH_VA + 11 * 4096 + 8, 1);
    check_eq("first write after the read sets D", ptA[11] & (PTE_A | PTE_D), PTE_A | PTE_D);
    ptA[11] &= ~(uint32_t)(PTE_A | PTE_D);
    invlpg(COH_VA + 11 * 4096);
    mm_wr(COH_VA + 11 * 4096 + 8, 2);
    check_eq("A and D cleared, INVLPG, write: both set again", ptA[11] & (PTE_A | PTE_D), PTE_A | PTE_D);
    ptA[11] &= ~(uint32_t)PTE_D;
    invlpg(COH_VA + 11 * 4096);
    check_read("D cleared, INVLPG, read", COH_VA + 11 * 4096 + 8, 2);
    check_eq("  D stays clear", ptA[11] & PTE_D, 0);
    mm_wr(COH_VA + 11 * 4096 + 8, 3);
    check_eq("  then a write sets it", ptA[11] & PTE_D, PTE_D);

    /* A page table shared by A and B. */
    uint32_t *shr = mm_pte(pdA, SHR_VA);
    pdB[SHR_VA >> 22] = pdA[SHR_VA >> 22];
    uint32_t s = sig_frame(SIG(0x200));
    shr[0] = s | PTE_P | PTE_W;
    write_cr3((uint32_t)pdA);
    check_read("shared page table: A reads", SHR_VA, SIG(0x200));
    check_eq("  A = 1, D = 0", shr[0] & (PTE_A | PTE_D), PTE_A);
    write_cr3((uint32_t)pdB);
    mm_wr(SHR_VA + 4, 0x5eed);
    check_eq("B writes through the same PTE: D set", shr[0] & PTE_D, PTE_D);
    shr[0] &= ~(uint32_t)PTE_D;
    invlpg(SHR_VA);
    write_cr3((uint32_t)pdA);
    check_eq("A reads B's write", mm_rd(SHR_VA + 4), 0x5eed);
    check_eq("  D (cleared while B was current) still clear after A's read", shr[0] & PTE_D, 0);
    mm_wr(SHR_VA + 4, 0x5eee);
    check_eq("  A's write sets it", shr[0] & PTE_D, PTE_D);

    sys_section("global pages");
    if (!mm_has_pge()) {
        check_skip("global pages", "no CR4.PGE");
    } else {
        uint32_t g[5];
        for (int i = 0; i < 5; i++)
            g[i] = sig_frame(SIG(0x300 + i));
        uint32_t *glb = mm_pte(kernel_pd, GLB_VA);   /* shared by every space */
        uint32_t cr4 = read_cr4();
        write_cr4(cr4 | CR4_PGE);
        glb[0] = g[0] | PTE_P | PTE_W | PTE_G;
        invlpg(GLB_VA);
        write_cr3((uint32_t)pdA);
        check_read("global page in A", GLB_VA, SIG(0x300));
        write_cr3((uint32_t)pdB);
        check_read("  the same in B after MOV CR3", GLB_VA, SIG(0x300));
        glb[0] = g[1] | PTE_P | PTE_W | PTE_G;
        invlpg(GLB_VA);
        check_read("global PTE changed, INVLPG: frame G1", GLB_VA, SIG(0x301));
        write_cr3((uint32_t)pdA);
        check_read("  A sees G1 after MOV CR3", GLB_VA, SIG(0x301));
        glb[0] = g[2] | PTE_P | PTE_W | PTE_G;
        write_cr3((uint32_t)pdB);
        invlpg(GLB_VA);
        check_read("global PTE changed, MOV CR3, INVLPG: G2", GLB_VA, SIG(0x302));
        glb[0] = g[3] | PTE_P | PTE_W | PTE_G;
        write_cr4(cr4 & ~CR4_PGE);
        check_read("global PTE changed, CR4.PGE cleared: G3", GLB_VA, SIG(0x303));
        write_cr4(cr4 | CR4_PGE);
        check_read("  CR4.PGE set again: G3", GLB_VA, SIG(0x303));
        glb[0] = g[4] | PTE_P | PTE_W;
        invlpg(GLB_VA);
        write_cr3((uint32_t)pdA);
        check_read("G bit cleared, INVLPG, MOV CR3: G4", GLB_VA, SIG(0x304));
        glb[0] = 0;
        invlpg(GLB_VA);
        check_no_read("global PTE cleared, INVLPG: #PF", GLB_VA);
        write_cr4(cr4);
    }
    write_cr3((uint32_t)kernel_pd);
}

/* ---- work ------------------------------------------------------------------------- */

/* One slice of a task: OPS read-modify-writes.  Returns the LCG state. */
__attribute__((noinline)) static uint32_t slice(uint32_t *a, uint32_t nwords, uint32_t n, uint32_t x)
{
#pragma GCC unroll 8
    for (uint32_t j = 0; j < n; j++) {
        x = mm_lcg(x);
        uint32_t i = mm_scale(x, nwords);
        a[i] = a[i] * K_MUL + j;
    }
    return x;
}

static uint32_t task_va(uint32_t t)
{
    return USER_VA + (t / nspaces) * ws_pages * 4096;
}

int guest_main(void)
{
    sys_init();
    mm_top = mm_ram_top(RAM_CAP);
    static uint32_t last_bss_word;
    mm_check_kernel_end(&last_bss_word + 1);

    ntasks = mm_arg("tasks", 16);
    nspaces = mm_arg("spaces", ntasks);
    ws_pages = mm_arg("ws", 64) / 4;
    rounds = mm_arg("rounds", 8);
    ops = mm_arg("ops", 500);
    use_global = mm_arg("global", 1) && mm_has_pge();
    if (ntasks == 0 || ntasks > MAX_TASKS || nspaces == 0 || ntasks % nspaces)
        sys_fatal("tasks=%u spaces=%u: need 1 <= tasks <= %u, tasks a multiple of spaces", ntasks, nspaces,
                  MAX_TASKS);
    if (ws_pages == 0 || ntasks / nspaces * ws_pages > (TAG_VA - USER_VA) / 4096)
        sys_fatal("ws=%u KiB out of range", ws_pages * 4);
    printf("mm_spaces: %u tasks of %u KiB, %u rounds of %u read-modify-writes per task\n", ntasks, ws_pages * 4,
           rounds, ops);

    /* The kernel part: identity map of RAM (global pages if use_global),
     * and the page table for the global-page checks. */
    kernel_pd = mm_palloc(1);
    for (uint32_t a = 0; a < mm_top; a += 4096)
        map(kernel_pd, a, a, PTE_P | PTE_W | (use_global ? PTE_G : 0));
    (void)mm_pte(kernel_pd, GLB_VA);
    if (use_global)
        write_cr4(read_cr4() | CR4_PGE);
    pg_enable(kernel_pd);
    write_cr0(read_cr0() | CR0_WP);
    check("paging enabled", (read_cr0() & CR0_PG) != 0);

    coherence();

    /* The work's address spaces, their working sets and tag pages. */
    sys_section("address spaces");
    uint32_t *pool = mm_palloc(ntasks * ws_pages);
    for (uint32_t s = 0; s < nspaces; s++) {
        space_pd[s] = new_space();
        map(space_pd[s], TAG_VA, (uint32_t)mm_palloc(1), PTE_P | PTE_W);
    }
    for (uint32_t t = 0; t < ntasks; t++)
        for (uint32_t j = 0; j < ws_pages; j++)
            map(space_pd[t % nspaces], task_va(t) + j * 4096, (uint32_t)pool + (j * ntasks + t) * 4096,
                PTE_P | PTE_W);
    for (uint32_t s = 0; s < nspaces; s++) {
        write_cr3((uint32_t)space_pd[s]);
        mm_wr(TAG_VA, 0x7a900000u + s);
    }
    uint32_t bad = 0;
    for (uint32_t s = nspaces; s-- > 0;) {
        write_cr3((uint32_t)space_pd[s]);
        bad += mm_rd(TAG_VA) != 0x7a900000u + s;
        bad += *(uint32_t *)(*mm_pte(space_pd[s], TAG_VA) & ~0xfffu) != 0x7a900000u + s;
    }
    check_detail("each space reads its own tag at the same linear address", bad == 0, "%u mismatches", bad);

    for (int w = 0; w < 1024; w++)
        tmpl[w] = mm_mix((uint32_t)w + 0x7654321u);
    for (uint32_t t = 0; t < ntasks; t++) {
        write_cr3((uint32_t)space_pd[t % nspaces]);
        uint32_t *a = (uint32_t *)task_va(t);
        for (uint32_t j = 0; j < ws_pages; j++) {
            memcpy(a + j * 1024, tmpl, 4096);
            a[j * 1024] = mm_mix(t << 16 | j);
        }
        task_state[t] = mm_mix(t + 1);
    }

    uint32_t nwords = ws_pages * 1024;
    printf("-- begin timed loop\n");
    for (uint32_t r = 0; r < rounds; r++)
        for (uint32_t t = 0; t < ntasks; t++) {
            write_cr3((uint32_t)space_pd[t % nspaces]);
            task_state[t] = slice((uint32_t *)task_va(t), nwords, ops, task_state[t]);
        }
    printf("-- end timed loop\n");

    /* Each working set through its space and through the identity map. */
    bad = 0;
    uint32_t all = MM_FNV_INIT;
    for (uint32_t t = 0; t < ntasks; t++) {
        write_cr3((uint32_t)space_pd[t % nspaces]);
        uint32_t *a = (uint32_t *)task_va(t);
        uint32_t h = MM_FNV_INIT;
        for (uint32_t j = 0; j < ws_pages; j++) {
            const uint32_t *frame = (const uint32_t *)((uint32_t)pool + (j * ntasks + t) * 4096);
            bad += memcmp(a + j * 1024, frame, 4096) != 0;
            h = mm_hash_page(h, frame);
        }
        printf("task %2u: checksum 0x%08x, LCG state 0x%08x\n", t, h, task_state[t]);
        all = (all ^ h) * 0x01000193u;
    }
    check_detail("every working set reads the same through its space and through its frames", bad == 0,
                 "%u pages differ", bad);
    write_cr3((uint32_t)kernel_pd);
    printf("checksum 0x%08x\n", all);
    sys_finish();
}

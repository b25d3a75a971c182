/*
 * mm_spaces.c - many address spaces: round-robin CR3 switches between page
 * directories that map different frames at the same linear address, with
 * the per-space work done at CPL 3 as processes do, and the coherence rules
 * a shadow-paging implementation must honour, at CPL 0 and at CPL 3.
 *
 * Work phase.  TASKS tasks (default 16) each own a working set of WS KiB
 * (default 64), made of frames interleaved with the other tasks' (page j
 * of task t is frame j * TASKS + t of a pool), so no working set is
 * physically contiguous.  The tasks live in SPACES address spaces (default
 * TASKS; TASKS must be a multiple of SPACES): task t is in space
 * t % SPACES, at USER_VA + (t / SPACES) * WS, user pages (U set).  So with
 * spaces=16 every space maps one working set at the same linear address
 * USER_VA, backed by different frames; with spaces=1 one space maps all 16
 * side by side.  Each space also has a user page at ARGS_VA with the slice
 * arguments of its tasks (working set address and size, number of
 * operations, the task's LCG state, which the slice updates).
 * Every space also maps the kernel: the identity map of RAM through page
 * tables shared by all the page directories (as Linux shares its kernel
 * page tables), with PTE.G set when global=1 and the CPU has CR4.PGE
 * (default: global=1), plus one shared page table for the global-page
 * checks.  The identity map is supervisor-only except for the pages ring 3
 * needs: the code of mm_spaces.S (pages of its own), the syslib's user
 * stack and one data page (user_data, for the CPL 3 checks).
 * The timed loop (between "-- begin timed loop" and "-- end timed loop")
 * runs ROUNDS rounds; in each, every task in turn gets a slice: a MOV to
 * CR3 of its space's page directory (executed for every slice, also when
 * it reloads the same value, so spaces=1 and spaces=16 run the same
 * instructions), then, at CPL RING (default 3: sys_run_user enters ring 3
 * through IRET, the slice leaves it through INT 0x81; ring=0 calls it
 * directly), OPS random read-modify-writes a[i] = a[i] * K + j on its
 * working set, from the task's own LCG state (mm_slice in mm_spaces.S).
 * spaces=1 therefore does exactly the same work as spaces=16, and prints
 * the same checksums: only the number of distinct address spaces differs
 * (bench/shadow.py compares the two).  Afterwards each task's working set
 * is read through its space and through the identity map of its frames
 * (they must agree) and its checksum printed; a tag page at TAG_VA,
 * written through every space and read back through every space (at CPL 0
 * and at CPL 3), shows that a value written through one space is not
 * visible through another at the same linear address.
 *
 * Coherence checks (two more address spaces A and B, before the work):
 * a PTE and a PDE of a non-current space changed through the identity map,
 * then a CR3 load to it (each read at CPL 3, then at CPL 0; also a user
 * PTE of B made read-only or supervisor-only while A was current, after B
 * wrote to it at CPL 3); a PTE of the current space changed, then INVLPG
 * or a CR3 reload (CPL 3 and CPL 0); a page table written through another
 * alias, and a page directory too; a page table mapped as data into the
 * range it maps (written as data, used as a page table); a recursive
 * page-directory entry (the directory used as a page table); the D bit set
 * by the first write after a read (also after software cleared it, and
 * through a page table shared by two spaces), at CPL 0 and again at CPL 3
 * (there also after D was cleared while another space was current); global
 * pages across CR3 loads: after a global PTE changes, the new translation
 * is checked after INVLPG or a CR4.PGE toggle only, which is all the SDM
 * requires (no check relies on a stale translation).
 *
 * Command line: tasks=N spaces=N ws=KiB rounds=N ops=N global=0|1 ring=0|3,
 * e.g.
 *   vmm -m 64 -kernel mm_spaces.elf -append "spaces=1 ws=256 rounds=200 ops=2000"
 */
#include "mm_common.h"

#define USER_VA  0x40000000u
#define TAG_VA   0x5f000000u     /* every space: its tag page */
#define ARGS_VA  0x5f001000u     /* every space: its tasks' slice arguments */
#define COH_VA   0x60000000u     /* A and B: one page table each */
#define COH2_VA  0x60400000u     /* A: the page-directory alias check */
#define PTA_VA   0x61000000u     /* A: its COH_VA page table mapped here */
#define PDA_VA   0x61001000u     /* A: its page directory mapped here */
#define SHR_VA   0x64000000u     /* A and B: one page table shared by both */
#define GLB_VA   0x7fc00000u     /* every space: a shared page table, global PTEs */
#define RAM_CAP  USER_VA         /* the identity map stays below USER_VA */
#define K_MUL    0x9e3779b1u
#define MAX_TASKS 64
#define UF       (PTE_P | PTE_W | PTE_U)
#define ARGS_WORDS 4             /* a, nwords, n, x: see mm_slice */

/* mm_spaces.S: the code that runs at CPL 3, in pages of its own. */
extern uint8_t mm_user_text[], mm_user_text_end[];
extern uint8_t mm_user_read_at[], mm_user_write_at[], mm_user_fault[];
uint32_t mm_slice(uint32_t *args);          /* any CPL */
uint32_t mm_user_slice(uint32_t args);      /* ring 3, for sys_run_user */
uint32_t mm_user_read(uint32_t va);
uint32_t mm_user_write(uint32_t va_value);
#define USER_FAULTED 0xfa17fa17u            /* what mm_user_fault returns */

static uint32_t ntasks, nspaces, ws_pages, rounds, ops, use_global, ring;
static uint32_t *kernel_pd;       /* holds the shared kernel PDEs */
static uint32_t *space_pd[MAX_TASKS];
static uint32_t *space_args[MAX_TASKS];     /* each space's ARGS_VA frame */
static uint32_t task_state[MAX_TASKS];
static uint32_t tmpl[1024];
/* The only kernel data ring 3 may touch: mm_user_write's {va, value}. */
static volatile uint32_t user_data[1024] __attribute__((aligned(4096)));

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

/* Sets U in the identity map's PTEs of [start, end), which must be whole
 * pages that nothing else shares. */
static void set_user(uint32_t start, uint32_t end)
{
    if ((start | end) & 0xfff)
        sys_fatal("user range 0x%x..0x%x is not page aligned", start, end);
    for (uint32_t a = start; a < end; a += 4096)
        *mm_pte(kernel_pd, a) |= PTE_U;
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

/* ---- CPL 3 accesses (mm_spaces.S through sys_run_user, IF clear) ------------------- */

/* fn(arg) at CPL 3 with a fix-up armed: the vector of the exception it
 * raised, or -1; *ret gets fn's value (USER_FAULTED after an exception). */
static int user_call(uint32_t (*fn)(uint32_t), uint32_t arg, uint32_t *ret)
{
    sys_fault_reset();
    sys_fixup = (uint32_t)mm_user_fault;
    *ret = sys_run_user(fn, arg, 0);
    sys_fixup = 0;
    return sys_last.vector;
}

static int user_read(uint32_t va, uint32_t *v)
{
    return user_call(mm_user_read, va, v);
}

static int user_write(uint32_t va, uint32_t v)
{
    uint32_t r;
    user_data[0] = va;
    user_data[1] = v;
    return user_call(mm_user_write, (uint32_t)user_data, &r);
}

/* "<name> (CPL 3)" */
static const char *cpl3(const char *name)
{
    static char buf[160];
    static const char tail[] = " (CPL 3)";
    size_t n = strlen(name);
    if (n > sizeof buf - sizeof tail)
        n = sizeof buf - sizeof tail;
    memcpy(buf, name, n);
    memcpy(buf + n, tail, sizeof tail);
    return buf;
}

static void fail_fault(const char *name)
{
    check_detail(name, 0, "vector %d error 0x%x at 0x%x, CR2 0x%x", sys_last.vector, sys_last.error,
                 sys_last.eip, sys_last.cr2);
}

static void check_read_user(const char *name, uint32_t va, uint32_t sig)
{
    uint32_t v;
    if (user_read(va, &v) >= 0)
        fail_fault(name);
    else
        check_eq(name, v, sig);
}

static void check_no_read_user(const char *name, uint32_t va, uint32_t error)
{
    uint32_t v;
    user_read(va, &v);
    check_fault(name, 14, error, (uint32_t)mm_user_read_at, "at the CPL 3 load");
    check_eq("  CR2", sys_last.cr2, va);
}

static void check_no_write_user(const char *name, uint32_t va, uint32_t error)
{
    user_write(va, 0x0bad0bad);
    check_fault(name, 14, error, (uint32_t)mm_user_write_at, "at the CPL 3 store");
    check_eq("  CR2", sys_last.cr2, va);
}

/* A CPL 3 store that must not fault: prints nothing unless it does. */
static void write_user(const char *what, uint32_t va, uint32_t v)
{
    if (user_write(va, v) >= 0)
        fail_fault(what);
}

/* The same read at CPL 3 ("<name> (CPL 3)"), then at CPL 0 ("<name>"). */
static void check_read2(const char *name, uint32_t va, uint32_t sig)
{
    check_read_user(cpl3(name), va, sig);
    check_read(name, va, sig);
}

static void check_no_read2(const char *name, uint32_t va)
{
    check_no_read_user(cpl3(name), va, 0x4);
    check_no_read(name, va);
}

/* ---- coherence ---------------------------------------------------------------------- */

static void coherence(void)
{
    uint32_t *pdA = new_space(), *pdB = new_space();
    uint32_t f[16];
    for (int i = 0; i < 16; i++)
        f[i] = sig_frame(SIG(i));
    uint32_t *ptA = mm_pte(pdA, COH_VA), *ptB = mm_pte(pdB, COH_VA);
    /* User pages (U set): each read is done at CPL 3 first, through the
     * user mappings, then at CPL 0. */
    ptA[0] = f[0] | UF;
    ptB[0] = f[1] | UF;

    sys_section("non-current address space");
    write_cr3((uint32_t)pdB);
    check_read2("space B maps frame 1", COH_VA, SIG(1));
    write_cr3((uint32_t)pdA);
    check_read2("space A maps frame 0 at the same address", COH_VA, SIG(0));
    ptB[0] = f[2] | UF;
    write_cr3((uint32_t)pdB);
    check_read2("PTE of B changed while A was current: B sees frame 2 after MOV CR3", COH_VA, SIG(2));
    write_cr3((uint32_t)pdA);
    check_read2("A still sees frame 0", COH_VA, SIG(0));
    ptB[0] = 0;
    write_cr3((uint32_t)pdB);
    check_no_read2("PTE of B cleared while A was current: #PF in B", COH_VA);
    ptB[0] = f[1] | UF;
    check_read2("PTE of B set again while B is current (was not present)", COH_VA, SIG(1));
    write_cr3((uint32_t)pdA);
    uint32_t *ptB2 = mm_palloc(1);
    ptB2[0] = f[3] | UF;
    pdB[COH_VA >> 22] = (uint32_t)ptB2 | UF;
    write_cr3((uint32_t)pdB);
    check_read2("PDE of B pointed at a new page table while A was current: frame 3", COH_VA, SIG(3));
    check_no_read2("  the new page table's empty slot: #PF", COH_VA + 4096);
    write_cr3((uint32_t)pdA);
    pdB[COH_VA >> 22] = (uint32_t)ptB | UF;
    write_cr3((uint32_t)pdB);
    check_read2("PDE of B restored while A was current: frame 1", COH_VA, SIG(1));
    /* B's user mapping made writable (and dirty) by a CPL 3 store, then
     * its rights taken away while A is current. */
    write_user("CPL 3 store in B", COH_VA + 8, 0x600d);
    write_cr3((uint32_t)pdA);
    ptB[0] = f[1] | PTE_P | PTE_U;
    write_cr3((uint32_t)pdB);
    check_no_write_user("PTE of B made read-only while A was current: CPL 3 store #PF", COH_VA + 8, 0x7);
    check_read_user("  CPL 3 still reads frame 1", COH_VA, SIG(1));
    uint32_t at;
    mm_probe_write(COH_VA + 8, 0x0bad0bad, &at);
    check_fault("  CPL 0 store with CR0.WP: #PF", 14, 0x3, at, "at the store");
    check_eq("  the word B stored at CPL 3 is unchanged", mm_rd(COH_VA + 8), 0x600d);
    write_cr3((uint32_t)pdA);
    ptB[0] = f[1] | PTE_P | PTE_W;
    write_cr3((uint32_t)pdB);
    check_no_read_user("PTE of B made supervisor-only while A was current: CPL 3 #PF", COH_VA, 0x5);
    check_read("  CPL 0 still reads frame 1", COH_VA, SIG(1));
    write_cr3((uint32_t)pdA);
    ptB[0] = f[1] | UF;
    write_cr3((uint32_t)pdB);
    check_read_user("PTE of B made a writable user page again while A was current (CPL 3)", COH_VA + 8, 0x600d);
    write_user("CPL 3 store in B", COH_VA + 8, 0x600e);
    check_eq("  CPL 3 store, read at CPL 0", mm_rd(COH_VA + 8), 0x600e);

    sys_section("current address space");
    write_cr3((uint32_t)pdA);
    check_read2("A maps frame 0", COH_VA, SIG(0));
    ptA[0] = f[4] | UF;
    invlpg(COH_VA);
    check_read2("PTE changed, INVLPG: frame 4", COH_VA, SIG(4));
    ptA[0] = f[5] | UF;
    write_cr3(read_cr3());
    check_read2("PTE changed, CR3 reloaded: frame 5", COH_VA, SIG(5));
    ptA[0] = f[0] | PTE_P | PTE_W;
    invlpg(COH_VA);
    check_read("PTE changed back (supervisor page), INVLPG: frame 0", COH_VA, SIG(0));
    check_no_read_user("  not at CPL 3: #PF", COH_VA, 0x5);

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

    /* The same at CPL 3, through a user page. */
    uint32_t du = sig_frame(SIG(0x101)), vu = COH_VA + 12 * 4096;
    ptA[12] = du | UF;
    invlpg(vu);
    check_read_user("CPL 3: fresh PTE read", vu, SIG(0x101));
    check_eq("  A = 1, D = 0", ptA[12] & (PTE_A | PTE_D), PTE_A);
    write_user("CPL 3 store", vu + 8, 1);
    check_eq("CPL 3: first write after the read sets D", ptA[12] & (PTE_A | PTE_D), PTE_A | PTE_D);
    ptA[12] &= ~(uint32_t)(PTE_A | PTE_D);
    invlpg(vu);
    write_user("CPL 3 store", vu + 8, 2);
    check_eq("CPL 3: A and D cleared, INVLPG, write: both set again", ptA[12] & (PTE_A | PTE_D),
             PTE_A | PTE_D);
    ptA[12] &= ~(uint32_t)PTE_D;
    invlpg(vu);
    check_read_user("CPL 3: D cleared, INVLPG, read", vu + 8, 2);
    check_eq("  D stays clear", ptA[12] & PTE_D, 0);
    write_user("CPL 3 store", vu + 8, 3);
    check_eq("  then a write sets it", ptA[12] & PTE_D, PTE_D);
    write_cr3((uint32_t)pdB);
    ptA[12] &= ~(uint32_t)PTE_D;
    write_cr3((uint32_t)pdA);
    check_read_user("CPL 3: D cleared while B was current, MOV CR3 to A, read", vu + 8, 3);
    check_eq("  D stays clear", ptA[12] & PTE_D, 0);
    write_user("CPL 3 store", vu + 8, 4);
    check_eq("  then a write sets it", ptA[12] & PTE_D, PTE_D);
    check_eq("  the value stored at CPL 3, read at CPL 0", mm_rd(vu + 8), 4);

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

    /* The same at CPL 3 (a user PTE in the shared table), and once more
     * after A wrote: A's user mapping was writable and dirty. */
    uint32_t s2 = sig_frame(SIG(0x201)), vs = SHR_VA + 4096;
    shr[1] = s2 | UF;
    check_read_user("CPL 3: shared page table: A reads", vs, SIG(0x201));
    check_eq("  A = 1, D = 0", shr[1] & (PTE_A | PTE_D), PTE_A);
    write_cr3((uint32_t)pdB);
    write_user("CPL 3 store in B", vs + 4, 0x5eed);
    check_eq("CPL 3: B writes through the same PTE: D set", shr[1] & PTE_D, PTE_D);
    shr[1] &= ~(uint32_t)PTE_D;
    invlpg(vs);
    write_cr3((uint32_t)pdA);
    check_read_user("CPL 3: A reads B's write", vs + 4, 0x5eed);
    check_eq("  D (cleared while B was current) still clear after A's read", shr[1] & PTE_D, 0);
    write_user("CPL 3 store in A", vs + 4, 0x5eee);
    check_eq("  A's write sets it", shr[1] & PTE_D, PTE_D);
    write_cr3((uint32_t)pdB);
    shr[1] &= ~(uint32_t)PTE_D;
    invlpg(vs);
    write_cr3((uint32_t)pdA);
    check_read_user("CPL 3: D cleared again while B was current: A reads its write", vs + 4, 0x5eee);
    check_eq("  D still clear", shr[1] & PTE_D, 0);
    write_user("CPL 3 store in A", vs + 4, 0x5eef);
    check_eq("  A's next write sets it", shr[1] & PTE_D, PTE_D);
    write_cr3((uint32_t)pdB);
    check_read_user("  B reads it (CPL 3)", vs + 4, 0x5eef);

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

static uint32_t task_va(uint32_t t)
{
    return USER_VA + (t / nspaces) * ws_pages * 4096;
}

int guest_main(void)
{
    sys_init();
    mm_init(RAM_CAP);

    ntasks = mm_arg("tasks", 16);
    nspaces = mm_arg("spaces", ntasks);
    ws_pages = mm_arg("ws", 64) / 4;
    rounds = mm_arg("rounds", 8);
    ops = mm_arg("ops", 500);
    use_global = mm_arg("global", 1) && mm_has_pge();
    ring = mm_arg("ring", 3);
    if (ring != 0 && ring != 3)
        sys_fatal("ring=%u: the work runs at CPL 0 or 3", ring);
    if (ntasks == 0 || ntasks > MAX_TASKS || nspaces == 0 || ntasks % nspaces)
        sys_fatal("tasks=%u spaces=%u: need 1 <= tasks <= %u, tasks a multiple of spaces", ntasks, nspaces,
                  MAX_TASKS);
    if (ws_pages == 0 || ntasks / nspaces * ws_pages > (TAG_VA - USER_VA) / 4096)
        sys_fatal("ws=%u KiB out of range", ws_pages * 4);
    printf("mm_spaces: %u tasks of %u KiB, %u rounds of %u read-modify-writes per task at CPL %u\n", ntasks,
           ws_pages * 4, rounds, ops, ring);

    /* The kernel part: identity map of RAM (global pages if use_global),
     * and the page table for the global-page checks. */
    kernel_pd = mm_palloc(1);
    for (uint32_t a = 0; a < mm_top; a += 4096)
        map(kernel_pd, a, a, PTE_P | PTE_W | (use_global ? PTE_G : 0));
    (void)mm_pte(kernel_pd, GLB_VA);
    set_user((uint32_t)mm_user_text, (uint32_t)mm_user_text_end);
    set_user((uint32_t)sys_ustack_top - SYS_USTACK_SIZE, (uint32_t)sys_ustack_top);
    set_user((uint32_t)user_data, (uint32_t)user_data + sizeof user_data);
    if (use_global)
        write_cr4(read_cr4() | CR4_PGE);
    pg_enable(kernel_pd);
    write_cr0(read_cr0() | CR0_WP);
    check("paging enabled", (read_cr0() & CR0_PG) != 0);
    check_read_user("CPL 3 reads its data page", (uint32_t)user_data, 0);
    check_no_read_user("the rest of the kernel image is supervisor-only: CPL 3 #PF", (uint32_t)&kernel_pd, 0x5);

    coherence();

    /* The work's address spaces, their working sets and tag pages. */
    sys_section("address spaces");
    uint32_t *pool = mm_palloc(ntasks * ws_pages);
    for (uint32_t s = 0; s < nspaces; s++) {
        space_pd[s] = new_space();
        map(space_pd[s], TAG_VA, (uint32_t)mm_palloc(1), UF);
        space_args[s] = mm_palloc(1);
        map(space_pd[s], ARGS_VA, (uint32_t)space_args[s], UF);
    }
    for (uint32_t t = 0; t < ntasks; t++)
        for (uint32_t j = 0; j < ws_pages; j++)
            map(space_pd[t % nspaces], task_va(t) + j * 4096, (uint32_t)pool + (j * ntasks + t) * 4096, UF);
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
    bad = 0;
    for (uint32_t s = 0; s < nspaces; s++) {
        write_cr3((uint32_t)space_pd[s]);
        uint32_t v;
        bad += user_read(TAG_VA, &v) >= 0 || v != 0x7a900000u + s;
        bad += user_write(TAG_VA + 4, 0x7b900000u + s) >= 0;
    }
    for (uint32_t s = nspaces; s-- > 0;) {
        write_cr3((uint32_t)space_pd[s]);
        uint32_t v;
        bad += user_read(TAG_VA + 4, &v) >= 0 || v != 0x7b900000u + s;
        bad += mm_rd(TAG_VA + 4) != 0x7b900000u + s;
    }
    check_detail("  the same at CPL 3, and a tag written at CPL 3 in each space read back at CPL 3 and 0",
                 bad == 0, "%u mismatches", bad);

    for (int w = 0; w < 1024; w++)
        tmpl[w] = mm_mix((uint32_t)w + 0x7654321u);
    for (uint32_t t = 0; t < ntasks; t++) {
        write_cr3((uint32_t)space_pd[t % nspaces]);
        uint32_t *a = (uint32_t *)task_va(t);
        for (uint32_t j = 0; j < ws_pages; j++) {
            memcpy(a + j * 1024, tmpl, 4096);
            a[j * 1024] = mm_mix(t << 16 | j);
        }
        uint32_t *args = space_args[t % nspaces] + (t / nspaces) * ARGS_WORDS;
        args[0] = task_va(t);
        args[1] = ws_pages * 1024;
        args[2] = ops;
        args[3] = task_state[t] = mm_mix(t + 1);
    }

    printf("-- begin timed loop\n");
    if (ring == 3) {
        for (uint32_t r = 0; r < rounds; r++)
            for (uint32_t t = 0; t < ntasks; t++) {
                write_cr3((uint32_t)space_pd[t % nspaces]);
                task_state[t] = sys_run_user(mm_user_slice, ARGS_VA + (t / nspaces) * ARGS_WORDS * 4, 0);
            }
    } else {
        for (uint32_t r = 0; r < rounds; r++)
            for (uint32_t t = 0; t < ntasks; t++) {
                write_cr3((uint32_t)space_pd[t % nspaces]);
                task_state[t] = mm_slice((uint32_t *)(ARGS_VA + (t / nspaces) * ARGS_WORDS * 4));
            }
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
        bad += space_args[t % nspaces][(t / nspaces) * ARGS_WORDS + 3] != task_state[t];
        printf("task %2u: checksum 0x%08x, LCG state 0x%08x\n", t, h, task_state[t]);
        all = (all ^ h) * 0x01000193u;
    }
    check_detail("every working set reads the same through its space and through its frames, and every "
                 "task's LCG state in its argument page is the one its last slice returned",
                 bad == 0, "%u mismatches", bad);
    write_cr3((uint32_t)kernel_pd);
    printf("checksum 0x%08x\n", all);
    sys_finish();
}

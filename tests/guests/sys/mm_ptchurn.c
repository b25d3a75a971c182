/*
 * mm_ptchurn.c - page-table-heavy loops: mappings made, used and torn down
 * all the time, page-table pages recycled as data pages and back, and
 * fork-like copy-on-write with a #PF handler.
 *
 * Churn (ITERS iterations, default 6000, in the timed loop between
 * "-- begin timed loop" and "-- end timed loop"): each iteration picks a
 * linear page among the PTS page tables' worth (default 4, 16 MiB) at
 * CHURN_VA and a frame of a pool of FRAMES (default 64); it maps the page
 * (a not-present PTE made present: no INVLPG needed), reads a word and
 * checks it against a model of every frame's contents (kept in kernel
 * memory, never through the churned mappings), writes it, and unmaps the
 * page (PTE cleared, INVLPG).  Every 16th iteration also checks that the
 * PTE has A and D set; every 8th remaps the page to another frame while it
 * is mapped (PTE changed, INVLPG) and reads through the new mapping; every
 * 64th checks that the unmapped page faults.  Every 1024th iteration a
 * page table (all its entries are clear by then) trades places with a data
 * frame: the frame, zeroed, becomes the page table (PDE changed, CR3
 * reloaded), the old page table becomes that data frame (zero in the
 * model).  At the end every frame is compared with the model through the
 * identity map.
 *
 * Copy-on-write: a "process" maps COW_PAGES (32) pages at COW_VA, across
 * two page tables.  GENS times (default 6) it forks: the child gets a new
 * page directory and new page tables, the PTEs are copied and both copies
 * made read-only (CR0.WP = 1), frame reference counts raised.  Then writes
 * (WRITES, default 64) go to random words of random pages through parent
 * and child alternately (random order, MOV CR3 on every change of side);
 * the #PF handler copies a shared frame (reference count > 1) or makes the
 * PTE writable again (count 1), then INVLPG.  Reads of random words are
 * checked against each side's model.  After each generation: both sides'
 * pages equal their models; a page neither side wrote is still shared
 * (same frame, read-only in both), a page written is not; the number of
 * faults is one per page written per side.  Then the parent exits (frame
 * references dropped, frames freed) and the child forks next.
 *
 * Command line: iters=N pts=N frames=N gens=N writes=N.
 */
#include "mm_common.h"

#define CHURN_VA   0x50000000u
#define COW_VA     0x6fff0000u    /* 16 pages below a page-table boundary, 16 above */
#define COW_PAGES  32
#define COW_FRAMES 256
#define RAM_CAP    CHURN_VA
#define MAX_PTS    16

static uint32_t *kernel_pd;

/* ---- churn ----------------------------------------------------------------------- */

static uint32_t npts, nframes, iters;
static uint32_t *churn_pt[MAX_PTS];
static uint32_t *frame_of;        /* frame_of[f]: physical address of data frame f */
static uint32_t *model;           /* nframes * 1024 words */

struct churn_result {
    uint32_t bad_reads, bad_ad, no_fault, bad_fault, recycles, x;
};

__attribute__((noinline)) static struct churn_result churn(uint32_t x)
{
    struct churn_result r = {0, 0, 0, 0, 0, 0};
    for (uint32_t n = 0; n < iters; n++) {
        x = mm_lcg(x);
        uint32_t v = mm_scale(x, npts * 1024);
        x = mm_lcg(x);
        uint32_t f = mm_scale(x, nframes);
        x = mm_lcg(x);
        uint32_t w = x >> 22;
        uint32_t va = CHURN_VA + v * 4096;
        uint32_t *pte = &churn_pt[v >> 10][v & 1023];

        *pte = frame_of[f] | PTE_P | PTE_W;
        uint32_t *m = &model[f * 1024 + w];
        uint32_t val = mm_rd(va + w * 4);
        r.bad_reads += val != *m;
        val = val * 3 + n;
        mm_wr(va + w * 4, val);
        *m = val;
        if ((n & 15) == 0)
            r.bad_ad += (*pte & (PTE_A | PTE_D)) != (PTE_A | PTE_D);
        if ((n & 7) == 3) {
            uint32_t f2 = (f + 1 + (x & 7)) % nframes;
            *pte = frame_of[f2] | PTE_P | PTE_W;
            invlpg(va);
            r.bad_reads += mm_rd(va + w * 4) != model[f2 * 1024 + w];
        }
        *pte = 0;
        invlpg(va);
        if ((n & 63) == 0) {
            uint32_t at;
            if (mm_probe_read(va, &at) != 14)
                r.no_fault++;
            else if (sys_last.cr2 != va || sys_last.error != 0 || sys_last.eip != at)
                r.bad_fault++;
        }
        if ((n & 1023) == 1023) {
            /* Page table k trades places with data frame f. */
            uint32_t k = (n >> 10) % npts;
            uint32_t *old = churn_pt[k], *pt = (uint32_t *)frame_of[f];
            memset(pt, 0, 4096);
            kernel_pd[(CHURN_VA >> 22) + k] = (uint32_t)pt | PTE_P | PTE_W;
            write_cr3(read_cr3());
            churn_pt[k] = pt;
            frame_of[f] = (uint32_t)old;
            memset(&model[f * 1024], 0, 4096);
            r.recycles++;
        }
    }
    r.x = x;
    return r;
}

/* ---- copy-on-write ------------------------------------------------------------------ */

struct space {
    uint32_t *pd;
    uint32_t *model;            /* COW_PAGES * 1024 words */
    uint8_t written[COW_PAGES];
};

static uint32_t cow_base;                 /* COW_FRAMES frames */
static uint8_t refcount[COW_FRAMES];
static uint32_t free_list[COW_FRAMES], nfree_frames;
static uint32_t cow_faults, cow_copies, cow_upgrades;

static uint32_t cow_alloc(void)
{
    if (!nfree_frames)
        sys_fatal("copy-on-write frame pool exhausted");
    uint32_t fr = free_list[--nfree_frames];
    refcount[(fr - cow_base) / 4096] = 1;
    return fr;
}

static void cow_put(uint32_t fr)
{
    if (--refcount[(fr - cow_base) / 4096] == 0)
        free_list[nfree_frames++] = fr;
}

static uint32_t *pte_in(uint32_t *pd, uint32_t va)
{
    return &((uint32_t *)(pd[va >> 22] & ~0xfffu))[(va >> 12) & 0x3ff];
}

static void cow_fault(struct sys_frame *f)
{
    uint32_t cr2 = read_cr2();
    if (f->error != (1 | 2) || cr2 - COW_VA >= COW_PAGES * 4096)
        sys_fatal("unexpected #PF: error 0x%x, CR2 0x%x, EIP 0x%x", f->error, cr2, f->eip);
    uint32_t *pte = pte_in((uint32_t *)(read_cr3() & ~0xfffu), cr2);
    uint32_t fr = *pte & ~0xfffu;
    if (refcount[(fr - cow_base) / 4096] > 1) {
        uint32_t copy = cow_alloc();
        memcpy((void *)copy, (const void *)fr, 4096);
        cow_put(fr);
        *pte = copy | PTE_P | PTE_W;
        cow_copies++;
    } else {
        *pte |= PTE_W;
        cow_upgrades++;
    }
    invlpg(cr2);
    cow_faults++;
}

static uint32_t *new_pd(void)
{
    uint32_t *pd = mm_palloc(1);
    for (int i = 0; i < 1024; i++)
        pd[i] = kernel_pd[i];
    pd[COW_VA >> 22] = (uint32_t)mm_palloc(1) | PTE_P | PTE_W;
    pd[(COW_VA >> 22) + 1] = (uint32_t)mm_palloc(1) | PTE_P | PTE_W;
    return pd;
}

static void copy_on_write(uint32_t gens, uint32_t writes)
{
    sys_section("copy-on-write");
    cow_base = (uint32_t)mm_palloc(COW_FRAMES);
    for (uint32_t i = 0; i < COW_FRAMES; i++)
        free_list[nfree_frames++] = cow_base + (COW_FRAMES - 1 - i) * 4096;
    static struct space sp[2];
    struct space *parent = &sp[0], *child = &sp[1];
    sp[0].model = mm_palloc(COW_PAGES);
    sp[1].model = mm_palloc(COW_PAGES);
    parent->pd = new_pd();
    for (uint32_t k = 0; k < COW_PAGES; k++) {
        uint32_t fr = cow_alloc();
        for (int w = 0; w < 1024; w++)
            ((uint32_t *)fr)[w] = parent->model[k * 1024 + w] = mm_mix(k << 16 | (uint32_t)w);
        *pte_in(parent->pd, COW_VA + k * 4096) = fr | PTE_P | PTE_W;
    }
    sys_set_handler(14, cow_fault);

    uint32_t x = 0x600dc0deu, expected = 0, bad_reads = 0, bad_pages = 0, bad_sharing = 0;
    for (uint32_t g = 0; g < gens; g++) {
        /* fork */
        child->pd = new_pd();
        for (uint32_t k = 0; k < COW_PAGES; k++) {
            uint32_t *pp = pte_in(parent->pd, COW_VA + k * 4096);
            *pp &= ~(uint32_t)(PTE_W | PTE_A | PTE_D);
            *pte_in(child->pd, COW_VA + k * 4096) = *pp;
            refcount[((*pp & ~0xfffu) - cow_base) / 4096]++;
        }
        memcpy(child->model, parent->model, COW_PAGES * 4096);
        memset(parent->written, 0, sizeof parent->written);
        memset(child->written, 0, sizeof child->written);
        write_cr3((uint32_t)parent->pd);

        struct space *cur = parent;
        for (uint32_t i = 0; i < writes; i++) {
            x = mm_lcg(x);
            struct space *s = (x >> 31) ? child : parent;
            if (s != cur) {
                write_cr3((uint32_t)s->pd);
                cur = s;
            }
            x = mm_lcg(x);
            uint32_t k = mm_scale(x, COW_PAGES), w = (x >> 8) & 1023;
            x = mm_lcg(x);
            mm_wr(COW_VA + k * 4096 + w * 4, x);
            s->model[k * 1024 + w] = x;
            s->written[k] = 1;
            uint32_t k2 = (k + 7) % COW_PAGES, w2 = x & 1023;
            bad_reads += mm_rd(COW_VA + k2 * 4096 + w2 * 4) != s->model[k2 * 1024 + w2];
        }

        /* check both sides */
        for (int side = 0; side < 2; side++) {
            struct space *s = side ? child : parent;
            write_cr3((uint32_t)s->pd);
            for (uint32_t k = 0; k < COW_PAGES; k++) {
                bad_pages += memcmp((const void *)(COW_VA + k * 4096), &s->model[k * 1024], 4096) != 0;
                expected += s->written[k];
            }
        }
        for (uint32_t k = 0; k < COW_PAGES; k++) {
            uint32_t p = *pte_in(parent->pd, COW_VA + k * 4096), c = *pte_in(child->pd, COW_VA + k * 4096);
            int shared = (p & ~0xfffu) == (c & ~0xfffu);
            if (parent->written[k] || child->written[k])
                bad_sharing += shared || (parent->written[k] && !(p & PTE_W)) ||
                               (child->written[k] && !(c & PTE_W));
            else
                bad_sharing += !shared || (p & PTE_W) || (c & PTE_W) ||
                               refcount[((p & ~0xfffu) - cow_base) / 4096] != 2;
        }

        /* the parent exits; the child forks next */
        write_cr3((uint32_t)child->pd);
        for (uint32_t k = 0; k < COW_PAGES; k++)
            cow_put(*pte_in(parent->pd, COW_VA + k * 4096) & ~0xfffu);
        struct space *t = parent;
        parent = child;
        child = t;
    }
    sys_set_handler(14, 0);

    uint32_t h = MM_FNV_INIT;
    for (uint32_t k = 0; k < COW_PAGES; k++)
        h = mm_hash_page(h, (const uint32_t *)(COW_VA + k * 4096));
    write_cr3((uint32_t)kernel_pd);
    check_detail("reads after each write agree with the writer's model", bad_reads == 0, "%u differ", bad_reads);
    check_detail("after each generation both sides' pages equal their models", bad_pages == 0, "%u pages differ",
                 bad_pages);
    check_detail("pages written are private and writable, the others shared read-only", bad_sharing == 0,
                 "%u pages wrong", bad_sharing);
    check_eq("one #PF per page written per side per generation", cow_faults, expected);
    check_eq("frames left: the last process's pages", COW_FRAMES - nfree_frames, COW_PAGES);
    printf("copy-on-write: %u faults, %u copies, %u made writable; checksum 0x%08x\n", cow_faults, cow_copies,
           cow_upgrades, h);
}

int guest_main(void)
{
    sys_init();
    mm_init(RAM_CAP);

    iters = mm_arg("iters", 6000);
    npts = mm_arg("pts", 4);
    nframes = mm_arg("frames", 64);
    uint32_t gens = mm_arg("gens", 6), writes = mm_arg("writes", 64);
    if (npts == 0 || npts > MAX_PTS || nframes < 8 || nframes > 65536)
        sys_fatal("pts=%u frames=%u out of range (1..%u, 8..65536)", npts, nframes, MAX_PTS);
    printf("mm_ptchurn: %u iterations over %u page tables and %u frames; %u forks of %u writes\n", iters, npts,
           nframes, gens, writes);

    kernel_pd = mm_palloc(1);
    for (uint32_t a = 0; a < mm_top; a += 4096)
        *mm_pte(kernel_pd, a) = a | PTE_P | PTE_W;
    for (uint32_t k = 0; k < npts; k++) {
        churn_pt[k] = mm_palloc(1);
        kernel_pd[(CHURN_VA >> 22) + k] = (uint32_t)churn_pt[k] | PTE_P | PTE_W;
    }
    frame_of = mm_palloc((nframes * 4 + 4095) / 4096);
    model = mm_palloc(nframes);
    uint32_t *data = mm_palloc(nframes);
    for (uint32_t f = 0; f < nframes; f++)
        frame_of[f] = (uint32_t)data + f * 4096;
    for (uint32_t f = nframes - 1, y = 99; f > 0; f--) {   /* shuffled */
        y = mm_lcg(y);
        uint32_t j = mm_scale(y, f + 1), t = frame_of[f];
        frame_of[f] = frame_of[j];
        frame_of[j] = t;
    }
    for (uint32_t f = 0; f < nframes; f++) {
        for (int w = 0; w < 1024; w++)
            model[f * 1024 + w] = ((uint32_t *)frame_of[f])[w] = mm_mix(f << 10 | (uint32_t)w);
    }
    pg_enable(kernel_pd);
    write_cr0(read_cr0() | CR0_WP);
    check("paging enabled, CR0.WP set", (read_cr0() & (CR0_PG | CR0_WP)) == (CR0_PG | CR0_WP));

    sys_section("map, touch, unmap");
    printf("-- begin timed loop\n");
    struct churn_result r = churn(0x1234567u);
    printf("-- end timed loop\n");
    check_detail("reads through fresh mappings agree with the model", r.bad_reads == 0, "%u differ", r.bad_reads);
    check_detail("PTEs have A and D set after a read and a write", r.bad_ad == 0, "%u without", r.bad_ad);
    check_detail("unmapped pages fault (#PF, error 0, CR2, EIP at the load)", r.no_fault == 0 && r.bad_fault == 0,
                 "%u did not fault, %u faulted wrongly", r.no_fault, r.bad_fault);
    uint32_t bad = 0, h = MM_FNV_INIT;
    for (uint32_t f = 0; f < nframes; f++) {
        bad += memcmp((const void *)frame_of[f], &model[f * 1024], 4096) != 0;
        h = mm_hash_page(h, (const uint32_t *)frame_of[f]);
    }
    check_detail("every frame equals the model (read through the identity map)", bad == 0, "%u frames differ", bad);
    uint32_t left = 0;
    for (uint32_t k = 0; k < npts; k++)
        for (int i = 0; i < 1024; i++)
            left += churn_pt[k][i] != 0;
    check_eq("no churn PTE left behind", left, 0);
    printf("churn: %u page-table recycles; checksum 0x%08x, LCG state 0x%08x\n", r.recycles, h, r.x);

    copy_on_write(gens, writes);
    sys_finish();
}

/*
 * pt_rewrite - page tables rewritten while in use:
 *   - a PTE switched between two physical pages under a loop that reads
 *     through it: without INVLPG either page may be seen (the SDM lets a TLB
 *     entry live or die), with INVLPG always the new one (200,000 toggles);
 *   - remapping the page the code runs on: code on a page rewrites that
 *     page's PTE to another physical page and executes INVLPG (serialising):
 *     the next instruction comes from the new page (10,000 times), and the
 *     same with a CR3 reload;
 *   - CR3 toggled between two directories 100,000 times, data and code read
 *     through the changing mapping;
 *   - a PDE pointing at the page directory itself: page tables and the
 *     directory read and written through the recursive mapping.
 */
#include "hostile.h"

#define VA      0x40000000u
#define VA_CODE 0x40400000u
#define REC     0xffc00000u            /* recursive slot 1023 */

static uint8_t pages[4][4096] __attribute__((aligned(4096)));

static void emit32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* The self-remapping routine on page pa: MOV [pte], EDX; INVLPG [VA_CODE]
 * (or MOV EAX, CR3; MOV CR3, EAX); MOV EAX, tag; RET.  Both physical pages
 * hold the same bytes except the tag. */
static void remapper(uint8_t *p, uint32_t pte_addr, int cr3, uint32_t tag)
{
    unsigned n = 0;
    p[n++] = 0x89; p[n++] = 0x15; emit32(p + n, pte_addr); n += 4;      /* mov [pte], edx */
    if (cr3) {
        p[n++] = 0x0f; p[n++] = 0x20; p[n++] = 0xd8;                   /* mov eax, cr3 */
        p[n++] = 0x0f; p[n++] = 0x22; p[n++] = 0xd8;                   /* mov cr3, eax */
    } else {
        p[n++] = 0x0f; p[n++] = 0x01; p[n++] = 0x3d; emit32(p + n, VA_CODE); n += 4;  /* invlpg [VA_CODE] */
    }
    p[n++] = 0xb8; emit32(p + n, tag); n += 4;                         /* mov eax, tag */
    p[n++] = 0xc3;
}

int guest_main(void)
{
    sys_init();
    catch_all();
    uint32_t *pd = pg_identity_dir(16u << 20);
    uint32_t pa = (uint32_t)pages[0], pb = (uint32_t)pages[1];
    wr32(pa, 0xaaaaaaaau);
    wr32(pb, 0xbbbbbbbbu);
    pg_map(pd, VA, pa, PTE_P | PTE_W);
    uint32_t *pte = pg_pte(pd, VA);
    pg_enable(pd);

    printf("== PTE toggled under a reading loop\n");
    uint32_t other = 0;
    for (uint32_t i = 0; i < 200000; i++) {
        *pte = ((i & 1) ? pb : pa) | PTE_P | PTE_W;
        uint32_t v = rd32(VA);
        other += v != 0xaaaaaaaau && v != 0xbbbbbbbbu;
    }
    printf("without INVLPG: values other than the two pages': %u\n", other);
    uint32_t wrong = 0;
    for (uint32_t i = 0; i < 200000; i++) {
        *pte = ((i & 1) ? pb : pa) | PTE_P | PTE_W;
        invlpg(VA);
        wrong += rd32(VA) != ((i & 1) ? 0xbbbbbbbbu : 0xaaaaaaaau);
    }
    printf("with INVLPG: 200000 toggles, %u stale reads\n", wrong);
    *pte = 0;
    invlpg(VA);
    catch_reset();
    uint32_t at;
    __asm__ volatile("movl $1f, %0\n\t" HTRY("2f") "1:\tmovl (%1), %%eax\n2:" HTRY_END
                     : "=&r"(at) : "r"(VA) : "eax", "memory");
    print_caught_at("read after the PTE is cleared", at, VA);

    printf("== remapping the page the code runs on\n");
    uint32_t pc1 = (uint32_t)pages[2], pc2 = (uint32_t)pages[3];
    pg_map(pd, VA_CODE, pc1, PTE_P | PTE_W);
    uint32_t *cpte = pg_pte(pd, VA_CODE);
    for (int cr3 = 0; cr3 < 2; cr3++) {
        remapper(pages[2], (uint32_t)cpte, cr3, 1);
        remapper(pages[3], (uint32_t)cpte, cr3, 2);
        *cpte = pc1 | PTE_P | PTE_W;
        invlpg(VA_CODE);
        uint32_t fresh = 0, stale = 0;
        for (uint32_t i = 0; i < 10000; i++) {
            /* Running on pc1 (i even) or pc2 (i odd), switch to the other. */
            uint32_t next = (i & 1) ? pc1 : pc2, want = (i & 1) ? 1 : 2;
            uint32_t a, c = 0, d = next | PTE_P | PTE_W;
            __asm__ volatile("call *%3" : "=a"(a), "+c"(c), "+d"(d) : "r"(VA_CODE) : "memory", "cc");
            fresh += a == want;
            stale += a == 3 - want;
        }
        printf("%s: 10000 remaps of the running page: new page's code %u times, old page's %u\n",
               cr3 ? "mov cr3" : "invlpg", fresh, stale);
    }

    printf("== CR3 toggling\n");
    uint32_t *pd2 = pg_identity_dir(16u << 20);
    pg_map(pd, VA, pa, PTE_P | PTE_W);
    pg_map(pd2, VA, pb, PTE_P | PTE_W);
    /* Code at VA + 0x100: MOV EAX, [VA]; RET in both pages, reading the
     * page's own tag; and a routine returning a per-directory constant. */
    static const uint8_t rd_tag[] = {0xa1, 0x00, 0x00, 0x00, 0x40, 0xc3};
    memcpy(pages[0] + 0x100, rd_tag, sizeof rd_tag);
    memcpy(pages[1] + 0x100, rd_tag, sizeof rd_tag);
    uint32_t wrong_data = 0, wrong_code = 0;
    for (uint32_t i = 0; i < 100000; i++) {
        int second = i & 1;
        write_cr3((uint32_t)(second ? pd2 : pd));
        uint32_t want = second ? 0xbbbbbbbbu : 0xaaaaaaaau;
        wrong_data += rd32(VA) != want;
        if ((i & 15) < 2)
            wrong_code += call_code(VA + 0x100, 0, 0) != want;
    }
    write_cr3((uint32_t)pd);
    printf("100000 CR3 loads: %u wrong data reads, %u wrong code results\n", wrong_data, wrong_code);

    printf("== a PDE pointing at the page directory\n");
    pd[1023] = (uint32_t)pd | PTE_P | PTE_W;
    write_cr3((uint32_t)pd);
    uint32_t *rec_pd = (uint32_t *)(REC + 1023 * 4096);        /* the directory itself */
    uint32_t *rec_pt = (uint32_t *)(REC + (VA >> 22) * 4096);  /* VA's page table */
    printf("directory through itself: entry 1023 %s, entry for VA %s\n",
           (rec_pd[1023] & ~0xfffu) == (uint32_t)pd ? "matches" : "differs",
           rec_pd[VA >> 22] == pd[VA >> 22] ? "matches" : "differs");
    wrong = 0;
    for (uint32_t i = 0; i < 50000; i++) {
        uint32_t *slot = &rec_pt[(VA >> 12) & 0x3ff];
        *slot = ((i & 1) ? pb : pa) | PTE_P | PTE_W;
        invlpg(VA);
        wrong += rd32(VA) != ((i & 1) ? 0xbbbbbbbbu : 0xaaaaaaaau);
    }
    printf("50000 PTE rewrites through the recursive mapping: %u stale reads\n", wrong);
    printf("PDE 1023 accessed: %s\n", (pd[1023] & PTE_A) ? "yes" : "no");
    rec_pd[1023] = 0;                       /* unmaps the recursive window itself */
    invlpg(REC + 1023 * 4096);
    catch_reset();
    __asm__ volatile("movl $1f, %0\n\t" HTRY("2f") "1:\tmovl (%1), %%eax\n2:" HTRY_END
                     : "=&r"(at) : "r"(rec_pd) : "eax", "memory");
    print_caught_at("read through the removed recursive PDE", at, (uint32_t)rec_pd);
    pg_disable();
    host_done();
}

/*
 * alias_flood - page tables that map far more linear memory than there is
 * RAM, to make the host-MMU path's bookkeeping grow (see the README's
 * "Bounded resources"):
 *   - one physical page aliased at every linear page from 16 MiB to
 *     4 GiB - 8 MiB (one page table used by 1,018 directory entries), a
 *     dword read from each of its 1,042,432 pages and written to every
 *     64th: no two neighbouring pages are physically contiguous, so each
 *     page the JIT mirrors is a host mapping of its own;
 *   - the first 4 MiB of RAM aliased as one contiguous run in every 4 MiB
 *     region of the same range (accessed and dirty bits preset, so whole
 *     regions can be mapped at once), read through 16 page directories,
 *     one after another: 16,288 regions of 4 MiB, 64 GiB of linear memory.
 * Every read must see the aliased page's value; vmm must keep running
 * within its documented memory bounds (the views evict regions).
 */
#include "hostile.h"

#define FIRST_PDE 4u      /* 16 MiB */
#define LAST_PDE  1021u   /* below 4 GiB - 8 MiB (1022, 1023 stay unmapped) */
#define SPACES    16u

static uint32_t alias_page[1024] __attribute__((aligned(4096)));

int guest_main(void)
{
    sys_init();
    catch_all();
    uint32_t *pd = pg_identity_dir(16u << 20);

    printf("== one page at every linear page\n");
    uint32_t *table = pg_alloc();
    for (uint32_t i = 0; i < 1024; i++) table[i] = (uint32_t)alias_page | PTE_P | PTE_W;
    for (uint32_t e = FIRST_PDE; e <= LAST_PDE; e++) pd[e] = (uint32_t)table | PTE_P | PTE_W;
    alias_page[0] = 0x5a5a0001u;
    pg_enable(pd);
    uint32_t wrong = 0, pages = 0;
    for (uint32_t e = FIRST_PDE; e <= LAST_PDE; e++) {
        for (uint32_t i = 0; i < 1024; i++, pages++) {
            uint32_t va = (e << 22) | (i << 12);
            wrong += rd32(va) != 0x5a5a0001u + (pages >> 6);
            if ((pages & 63) == 63) wr32(va, rd32(va) + 1);
        }
    }
    printf("%u pages read, %u wrong values, final value 0x%08x\n", pages, wrong, alias_page[0]);

    printf("== 4 MiB of RAM in every region, %u address spaces\n", SPACES);
    uint32_t *run = pg_alloc();
    for (uint32_t i = 0; i < 1024; i++) run[i] = (i << 12) | PTE_P | PTE_W | PTE_A | PTE_D;
    wr32(0x3ff000u, 0);
    uint32_t wrong2 = 0;
    for (uint32_t s = 0; s < SPACES; s++) {
        uint32_t *dir = pg_identity_dir(16u << 20);
        for (uint32_t e = FIRST_PDE; e <= LAST_PDE; e++) dir[e] = (uint32_t)run | PTE_P | PTE_W | PTE_A;
        pg_enable(dir);
        wr32(0x3ff000u, s + 1);  /* Through the identity map. */
        for (uint32_t e = FIRST_PDE; e <= LAST_PDE; e++) {
            /* Every page of the region (values not checked: low RAM holds
             * the stack), then the one whose value is known. */
            for (uint32_t i = 0; i < 1024; i++) (void)rd32((e << 22) | (i << 12));
            wrong2 += rd32((e << 22) | 0x3ff000u) != s + 1;
        }
    }
    printf("%u regions read through %u directories, %u wrong values\n", SPACES * (LAST_PDE - FIRST_PDE + 1),
           SPACES, wrong2);
    pg_enable(pd);
    host_done();
    return 0;
}

/*
 * paging.c - page directory/table helpers of the system library (see sys.h).
 */
#include "sys.h"

#define POOL_PAGES 96

static uint8_t pool[POOL_PAGES][4096] __attribute__((aligned(4096)));
static int pool_used;

void *pg_alloc(void)
{
    if (pool_used >= POOL_PAGES)
        sys_fatal("paging: page pool exhausted");
    void *p = pool[pool_used++];
    memset(p, 0, 4096);
    return p;
}

uint32_t *pg_new_dir(void)
{
    return pg_alloc();
}

void pg_map(uint32_t *pd, uint32_t va, uint32_t pa, uint32_t flags)
{
    uint32_t *pde = &pd[va >> 22];
    if (!(*pde & PTE_P) || (*pde & PTE_PS))
        *pde = (uint32_t)pg_alloc() | PTE_P | PTE_W | PTE_U;
    uint32_t *pt = (uint32_t *)(*pde & ~0xfffu);
    pt[(va >> 12) & 0x3ff] = (pa & ~0xfffu) | flags;
}

void pg_map_large(uint32_t *pd, uint32_t va, uint32_t pa, uint32_t flags)
{
    pd[va >> 22] = (pa & 0xffc00000u) | flags | PTE_PS;
}

uint32_t *pg_pte(uint32_t *pd, uint32_t va)
{
    uint32_t pde = pd[va >> 22];
    if (!(pde & PTE_P) || (pde & PTE_PS))
        return 0;
    return &((uint32_t *)(pde & ~0xfffu))[(va >> 12) & 0x3ff];
}

void pg_unmap(uint32_t *pd, uint32_t va)
{
    uint32_t *pte = pg_pte(pd, va);
    if (pte)
        *pte = 0;
}

void pg_identity_map(uint32_t *pd, uint32_t start, uint32_t end, uint32_t flags)
{
    for (uint32_t a = start & ~0xfffu; a < end; a += 4096)
        pg_map(pd, a, a, flags);
}

uint32_t *pg_identity_dir(uint32_t bytes)
{
    uint32_t *pd = pg_new_dir();
    pg_identity_map(pd, 0, bytes, PTE_P | PTE_W | PTE_U);
    return pd;
}

void pg_enable(uint32_t *pd)
{
    write_cr3((uint32_t)pd);
    write_cr0(read_cr0() | CR0_PG);
}

void pg_disable(void)
{
    write_cr0(read_cr0() & ~CR0_PG);
}

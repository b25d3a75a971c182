/*
 * mm.c - physical frames, address spaces, the ELF loader (see kernel.h).
 *
 * Every task has its own page directory.  Its first KERNEL_PDES entries
 * point to the kernel's page tables, shared by all directories, which
 * identity-map 4 KiB .. 16 MiB with supervisor-only pages (U clear in the
 * PDE and the PTE): the kernel keeps running after a CR3 switch, and ring 3
 * cannot touch it.  The rest of the directory is the task's: its program at
 * 0x40000000, its heap at 0x50000000 and its stack below 0xc0000000, in
 * frames nobody else maps.
 */
#include "kernel.h"

uint32_t *kernel_pd;
static uint32_t kernel_pd_page[1024] __attribute__((aligned(4096)));
static uint32_t kernel_pts[KERNEL_PDES][1024] __attribute__((aligned(4096)));

/* Frames: a bump pointer over the pool, plus a free list threaded through
 * the freed frames themselves (they are identity-mapped for the kernel). */
static uint32_t pool_next, pool_end;
static uint32_t free_list;
static unsigned nfree, ntotal;

void mm_init(uint32_t ram_top)
{
    /* The frame pool starts at 4 MiB: the kernel image (1 MiB + code, data,
     * and .bss with the boot stack, the syslib page pool, the task table
     * and these page tables) must end below. */
    if ((uint32_t)(kernel_pd_page + 1024) > FRAME_POOL_BASE || (uint32_t)(tasks + MAX_TASKS) > FRAME_POOL_BASE)
        sys_fatal("the kernel image reaches into the frame pool at 0x%08x", FRAME_POOL_BASE);
    kernel_pd = kernel_pd_page;
    for (unsigned i = 0; i < KERNEL_PDES; i++) {
        for (unsigned j = 0; j < 1024; j++) {
            uint32_t pa = (i << 22) | (j << 12);
            kernel_pts[i][j] = pa ? pa | PTE_P | PTE_W : 0;   /* page 0 stays unmapped */
        }
        kernel_pd[i] = (uint32_t)kernel_pts[i] | PTE_P | PTE_W;
    }

    pool_next = FRAME_POOL_BASE;
    pool_end = ram_top < KERNEL_MAPPED_END ? ram_top & ~0xfffu : KERNEL_MAPPED_END;
    if (pool_end < pool_next)
        pool_end = pool_next;
    ntotal = nfree = (pool_end - pool_next) >> 12;

    write_cr3((uint32_t)kernel_pd);
    /* WP: the kernel too respects read-only pages. */
    write_cr0(read_cr0() | CR0_PG | CR0_WP);
}

uint32_t frame_alloc(void)
{
    uint32_t pa;
    if (free_list) {
        pa = free_list;
        free_list = *(uint32_t *)pa;
    } else if (pool_next < pool_end) {
        pa = pool_next;
        pool_next += 4096;
    } else {
        return 0;
    }
    nfree--;
    memset((void *)pa, 0, 4096);
    return pa;
}

void frame_free(uint32_t pa)
{
    *(uint32_t *)pa = free_list;
    free_list = pa;
    nfree++;
}

unsigned frames_free(void)
{
    return nfree;
}

unsigned frames_total(void)
{
    return ntotal;
}

uint32_t *as_create(void)
{
    uint32_t *pd = (uint32_t *)frame_alloc();
    if (pd)
        for (unsigned i = 0; i < KERNEL_PDES; i++)
            pd[i] = kernel_pd[i];
    return pd;
}

int as_map(uint32_t *pd, uint32_t va, uint32_t pa, uint32_t flags)
{
    uint32_t *pde = &pd[va >> 22];
    if (!(*pde & PTE_P)) {
        uint32_t pt = frame_alloc();
        if (!pt)
            return 0;
        *pde = pt | PTE_P | PTE_W | PTE_U;
    }
    uint32_t *pt = (uint32_t *)(*pde & ~0xfffu);
    pt[(va >> 12) & 0x3ff] = (pa & ~0xfffu) | flags;
    return 1;
}

uint32_t as_pte(const uint32_t *pd, uint32_t va)
{
    uint32_t pde = pd[va >> 22];
    if (!(pde & PTE_P))
        return 0;
    uint32_t pte = ((const uint32_t *)(pde & ~0xfffu))[(va >> 12) & 0x3ff];
    return pte & PTE_P ? pte : 0;
}

unsigned as_destroy(uint32_t *pd)
{
    unsigned n = 0;
    for (unsigned i = KERNEL_PDES; i < 1024; i++) {
        if (!(pd[i] & PTE_P))
            continue;
        uint32_t *pt = (uint32_t *)(pd[i] & ~0xfffu);
        for (unsigned j = 0; j < 1024; j++)
            if (pt[j] & PTE_P) {
                frame_free(pt[j] & ~0xfffu);
                n++;
            }
        frame_free((uint32_t)pt);
        n++;
    }
    frame_free((uint32_t)pd);
    return n + 1;
}

/* ---- ELF loader -------------------------------------------------------------- */

struct elf32_ehdr {
    uint8_t ident[16];
    uint16_t type, machine;
    uint32_t version, entry, phoff, shoff, flags;
    uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};

struct elf32_phdr {
    uint32_t type, offset, vaddr, paddr, filesz, memsz, flags, align;
};

#define PT_LOAD 1
#define PF_X_ 1
#define PF_W_ 2

int elf_load(uint32_t *pd, const uint8_t *image, uint32_t size, struct elf_info *info, const char **why)
{
    const struct elf32_ehdr *eh = (const struct elf32_ehdr *)image;
    *why = "not an ELF32 i386 executable";
    if (size < sizeof *eh || memcmp(eh->ident, "\177ELF\1\1", 6) != 0 || eh->type != 2 ||
        eh->machine != 3 || eh->phentsize != sizeof(struct elf32_phdr) ||
        eh->phoff + (uint32_t)eh->phnum * sizeof(struct elf32_phdr) > size)
        return -1;
    info->entry = eh->entry;
    info->text_pages = info->data_pages = 0;

    const struct elf32_phdr *ph = (const struct elf32_phdr *)(image + eh->phoff);
    for (unsigned i = 0; i < eh->phnum; i++, ph++) {
        if (ph->type != PT_LOAD || ph->memsz == 0)
            continue;
        *why = "a segment outside the program area";
        if (ph->vaddr < USER_BASE || ph->memsz > USER_HEAP_BASE - ph->vaddr || ph->filesz > ph->memsz ||
            ph->offset > size || ph->filesz > size - ph->offset)
            return -1;
        uint32_t flags = PTE_P | PTE_U | (ph->flags & PF_W_ ? PTE_W : 0);
        uint32_t end = ph->vaddr + ph->memsz;
        for (uint32_t va = ph->vaddr & ~0xfffu; va < end; va += 4096) {
            *why = "overlapping segments";
            if (as_pte(pd, va))
                return -1;
            *why = "out of memory";
            uint32_t frame = frame_alloc();
            if (!frame || !as_map(pd, va, frame, flags))
                return -1;
            /* Copy the part of the file image that falls into this page
             * (the frame is zeroed: that is .bss). */
            uint32_t lo = va > ph->vaddr ? va : ph->vaddr;
            uint32_t hi = va + 4096 < ph->vaddr + ph->filesz ? va + 4096 : ph->vaddr + ph->filesz;
            if (lo < hi)
                memcpy((void *)(frame + (lo - va)), image + ph->offset + (lo - ph->vaddr), hi - lo);
            if (ph->flags & PF_W_)
                info->data_pages++;
            else
                info->text_pages++;
        }
    }
    *why = "entry point outside the program";
    if (!as_pte(pd, info->entry))
        return -1;
    return 0;
}

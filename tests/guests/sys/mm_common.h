/*
 * mm_common.h - helpers shared by the memory-management workloads
 * mm_random.c, mm_spaces.c and mm_ptchurn.c (and the workloads syscalls.c
 * and portio.c): numeric and keyword command-line words,
 * the top of RAM from the multiboot information, a bump allocator of
 * physical frames above the kernel image, and the integer mixing functions
 * their data and checksums are made of.
 *
 * Physical memory below MM_FREE_BASE (4 MiB) belongs to the kernel image
 * (loaded at 1 MiB: code, data, crt0's 1 MiB boot stack, the syslib page
 * pool and stacks, about 2.5 MiB in all; mm_init() stops the
 * program if that ever grows past it).  Everything the workloads build
 * (page directories, page tables, bookkeeping, data frames) comes from RAM
 * above it, identity mapped once paging is on.
 */
#ifndef MM_COMMON_H
#define MM_COMMON_H

#include "sys.h"
#include "mm_random_loop.h"

#define MM_FREE_BASE 0x00400000u
#define MM_ARG_MAX   0xffffffffu

/* The value of the first command-line word "name=value": its first
 * character, with *end just past it; NULL when there is none. */
static inline const char *mm_arg_text(const char *name, const char **end)
{
    const char *p = sys_cmdline();
    size_t n = strlen(name);
    while (*p) {
        while (*p == ' ')
            p++;
        const char *w = p;
        while (*p && *p != ' ')
            p++;
        if ((size_t)(p - w) > n && memcmp(w, name, n) == 0 && w[n] == '=') {
            *end = p;
            return w + n + 1;
        }
    }
    return NULL;
}

/* The value of the command-line word "name=value" (decimal, 0x hex, or
 * "max" -> MM_ARG_MAX), or def when there is none. */
static inline uint32_t mm_arg(const char *name, uint32_t def)
{
    const char *p;
    const char *v = mm_arg_text(name, &p);
    if (!v)
        return def;
    if (p - v == 3 && memcmp(v, "max", 3) == 0)
        return MM_ARG_MAX;
    uint32_t x = 0, base = 10;
    if (v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        base = 16;
        v += 2;
    }
    for (; v < p; v++) {
        uint32_t d;
        if (*v >= '0' && *v <= '9')
            d = (uint32_t)(*v - '0');
        else if (base == 16 && (*v | 0x20) >= 'a' && (*v | 0x20) <= 'f')
            d = (uint32_t)((*v | 0x20) - 'a' + 10);
        else
            sys_fatal("bad number in the command-line word %s=", name);
        x = x * base + d;
    }
    return x;
}

/* The index in choices (n words) of the value of the command-line word
 * "name=value", or def when there is none; any other value stops the
 * program. */
static inline int mm_arg_choice(const char *name, const char *const *choices, int n, int def)
{
    const char *p;
    const char *v = mm_arg_text(name, &p);
    if (!v)
        return def;
    for (int i = 0; i < n; i++)
        if (strlen(choices[i]) == (size_t)(p - v) && memcmp(v, choices[i], (size_t)(p - v)) == 0)
            return i;
    sys_fatal("bad value in the command-line word %s=", name);
}

/* End of RAM (1 MiB + mem_upper KiB from the multiboot information), at
 * most cap, page aligned. */
static inline uint32_t mm_ram_top(uint32_t cap)
{
    const uint32_t *mbi = (const uint32_t *)multiboot_info;
    if (multiboot_magic != 0x2BADB002 || !mbi || !(mbi[0] & 1))
        sys_fatal("no multiboot memory information");
    uint64_t top = 0x100000ull + (uint64_t)mbi[2] * 1024;
    if (top > cap)
        top = cap;
    return (uint32_t)top & ~0xfffu;
}


/* Bump allocator of physical frames in [MM_FREE_BASE, mm_top). */
static uint32_t mm_bump = MM_FREE_BASE, mm_top;

extern char guest_image_end[];  /* tests/guests/lib/guest.ld */

/* Sets mm_top to the end of RAM, at most cap, and stops the program if the
 * kernel image (stacks and page pool included) reaches MM_FREE_BASE. */
static inline void mm_init(uint32_t cap)
{
    mm_top = mm_ram_top(cap);
    if ((uint32_t)guest_image_end > MM_FREE_BASE || (uint32_t)sys_ustack_top > MM_FREE_BASE ||
        (uint32_t)sys_kstack_top > MM_FREE_BASE)
        sys_fatal("the kernel image reaches beyond MM_FREE_BASE");
}

/* n zeroed, physically contiguous 4 KiB frames (usable by address while
 * paging is off or RAM is identity mapped). */
static inline void *mm_palloc(uint32_t n)
{
    if (n > (mm_top - mm_bump) / 4096)
        sys_fatal("out of physical memory (%u pages wanted, %u left)", n, (mm_top - mm_bump) / 4096);
    void *p = (void *)mm_bump;
    mm_bump += n * 4096;
    memset(p, 0, n * 4096);
    return p;
}

/* The PTE of va in the page directory pd; a missing page table is taken
 * from mm_palloc (PDE: P|W|U, the PTE decides). */
static inline uint32_t *mm_pte(uint32_t *pd, uint32_t va)
{
    uint32_t *pde = &pd[va >> 22];
    if (!(*pde & PTE_P))
        *pde = (uint32_t)mm_palloc(1) | PTE_P | PTE_W | PTE_U;
    return &((uint32_t *)(*pde & ~0xfffu))[(va >> 12) & 0x3ff];
}

/* ---- integer mixing: mm_mix, mm_lcg, mm_scale, MM_FNV_INIT ---------------------- */

/* FNV-1a over the 1024 words of a page. */
static inline uint32_t mm_hash_page(uint32_t h, const volatile uint32_t *p)
{
#pragma GCC unroll 16
    for (int w = 0; w < 1024; w++)
        h = (h ^ p[w]) * 0x01000193u;
    return h;
}

static inline uint32_t mm_rd(uint32_t va) { return *(volatile uint32_t *)va; }
static inline void mm_wr(uint32_t va, uint32_t v) { *(volatile uint32_t *)va = v; }

/* Reads va with a fix-up armed: the vector of the exception it raised, or
 * -1; *at gets the address of the load (for check_fault). */
static inline int mm_probe_read(uint32_t va, uint32_t *at)
{
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tmovl (%1), %%eax\n"
                     "2:" SYS_TRY_END
                     : "=&r"(*at) : "r"(va) : "eax", "memory");
    return sys_last.vector;
}

static inline int mm_probe_write(uint32_t va, uint32_t v, uint32_t *at)
{
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tmovl %2, (%1)\n"
                     "2:" SYS_TRY_END
                     : "=&r"(*at) : "r"(va), "r"(v) : "memory");
    return sys_last.vector;
}

static inline int mm_has_pge(void)
{
    uint32_t a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    return (d >> 13) & 1;
}

#endif /* MM_COMMON_H */

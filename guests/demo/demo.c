/*
 * demo.c - the bundled demo guest (scripts/run-demo.sh boots it).
 *
 * A multiboot v1 kernel that shows, on COM1, what it was given by the boot
 * loader (memory sizes, command line, memory map) and then does some visible
 * work: a table of primes and an ASCII-art Mandelbrot set computed in fixed
 * point (integer only; the guests do not use the FPU).  It ends by halting
 * with interrupts disabled, which vmm treats as a clean power-off (exit 0).
 *
 * Built with the guest runtime of the test programs (tests/guests/lib).
 */
#include "io.h"

#define MULTIBOOT_BOOTLOADER_MAGIC 0x2badb002u

/* Multiboot v1 information structure (the part we read). */
struct multiboot_info {
    uint32_t flags;
    uint32_t mem_lower;             /* KiB below 1 MiB      (flags bit 0) */
    uint32_t mem_upper;             /* KiB above 1 MiB      (flags bit 0) */
    uint32_t boot_device;           /*                      (flags bit 1) */
    uint32_t cmdline;               /* C string             (flags bit 2) */
    uint32_t mods_count;            /*                      (flags bit 3) */
    uint32_t mods_addr;
    uint32_t syms[4];               /*                      (flags bit 4/5) */
    uint32_t mmap_length;           /* bytes                (flags bit 6) */
    uint32_t mmap_addr;
    uint32_t drives_length;         /*                      (flags bit 7) */
    uint32_t drives_addr;
    uint32_t config_table;          /*                      (flags bit 8) */
    uint32_t boot_loader_name;      /* C string             (flags bit 9) */
};

#define MBI_MEMORY (1u << 0)
#define MBI_CMDLINE (1u << 2)
#define MBI_MODS (1u << 3)
#define MBI_MMAP (1u << 6)
#define MBI_LOADER_NAME (1u << 9)

/* One memory map entry; `size` does not count itself, hence the +4 when
 * stepping to the next one.  Packed: base sits at offset 4. */
struct mmap_entry {
    uint32_t size;
    uint64_t base;
    uint64_t length;
    uint32_t type;
} __attribute__((packed));

static const char *mmap_type_name(uint32_t type)
{
    switch (type) {
    case 1: return "available";
    case 2: return "reserved";
    case 3: return "ACPI reclaimable";
    case 4: return "ACPI NVS";
    case 5: return "bad memory";
    default: return "unknown";
    }
}

static void show_boot_info(void)
{
    if (multiboot_magic != MULTIBOOT_BOOTLOADER_MAGIC) {
        printf("not booted by a multiboot loader (EAX=%08x)\n", multiboot_magic);
        return;
    }
    /* Paging is off, so the physical address in EBX is directly usable. */
    const struct multiboot_info *mbi = (const struct multiboot_info *)multiboot_info;
    printf("multiboot info at %08x, flags %08x\n", multiboot_info, mbi->flags);

    if (mbi->flags & MBI_LOADER_NAME)
        printf("  boot loader:  %s\n", (const char *)mbi->boot_loader_name);
    if (mbi->flags & MBI_MEMORY)
        printf("  memory:       %u KiB low, %u KiB above 1 MiB (%u MiB total)\n",
               mbi->mem_lower, mbi->mem_upper, (mbi->mem_upper + 1024 + 512) / 1024);
    if (mbi->flags & MBI_CMDLINE)
        printf("  command line: \"%s\"\n", (const char *)mbi->cmdline);
    if (mbi->flags & MBI_MODS)
        printf("  modules:      %u\n", mbi->mods_count);
    if (mbi->flags & MBI_MMAP) {
        printf("  memory map (%u bytes):\n", mbi->mmap_length);
        uint32_t p = mbi->mmap_addr, end = mbi->mmap_addr + mbi->mmap_length;
        while (p < end) {
            const struct mmap_entry *e = (const struct mmap_entry *)p;
            printf("    %016llx - %016llx  %s\n", e->base, e->base + e->length - 1,
                   mmap_type_name(e->type));
            p += e->size + 4;
        }
    }
}

static void show_primes(void)
{
    enum { LIMIT = 10000 };
    static uint8_t composite[LIMIT];
    uint32_t count = 0;

    for (uint32_t p = 2; p * p < LIMIT; p++)
        if (!composite[p])
            for (uint32_t m = p * p; m < LIMIT; m += p)
                composite[m] = 1;

    printf("\nthe first primes:\n");
    for (uint32_t n = 2; n < LIMIT; n++) {
        if (composite[n])
            continue;
        if (count < 60)
            printf("%5u%s", n, count % 12 == 11 ? "\n" : "");
        count++;
    }
    printf("there are %u primes below %u\n", count, LIMIT);
}

/* The Mandelbrot set in 16.16 fixed point; products go through 64 bits. */
static void show_mandelbrot(void)
{
    enum { WIDTH = 72, HEIGHT = 28, MAX_ITER = 200, FRAC = 16 };
    static const char shades[] = " .:-=+*#%@";
    static const int escape_steps[9] = {2, 3, 4, 6, 8, 12, 20, 40, MAX_ITER};
    const int32_t one = 1 << FRAC;
    const int32_t x0 = -2 * one - one / 4, x1 = one * 3 / 4;  /* real axis: -2.25 .. 0.75 */
    const int32_t y0 = -one * 5 / 4, y1 = one * 5 / 4;        /* imaginary: -1.25 .. 1.25 */

    printf("\nthe Mandelbrot set:\n");
    for (int row = 0; row < HEIGHT; row++) {
        int32_t ci = y0 + (int32_t)((int64_t)(y1 - y0) * row / (HEIGHT - 1));
        for (int col = 0; col < WIDTH; col++) {
            int32_t cr = x0 + (int32_t)((int64_t)(x1 - x0) * col / (WIDTH - 1));
            int32_t zr = 0, zi = 0;
            int iter = 0;
            while (iter < MAX_ITER) {
                int64_t rr = (int64_t)zr * zr >> FRAC;
                int64_t ii = (int64_t)zi * zi >> FRAC;
                if (rr + ii > 4 * (int64_t)one)
                    break;
                int64_t ri = (int64_t)zr * zi >> (FRAC - 1);    /* 2 * zr * zi */
                zr = (int32_t)(rr - ii + cr);
                zi = (int32_t)(ri + ci);
                iter++;
            }
            /* Outside the set, shade by escape time on a roughly
             * logarithmic scale; inside it, the darkest character. */
            int shade = 0;
            while (shade < 9 && iter >= escape_steps[shade])
                shade++;
            putchar(shades[shade]);
        }
        putchar('\n');
    }
}

int guest_main(void)
{
    printf("vmm demo guest\n");
    printf("==============\n");
    show_boot_info();
    show_primes();
    show_mandelbrot();
    printf("\ndone; halting the CPU with interrupts disabled\n");
    /* cli; hlt: nothing can wake us, vmm powers off with status 0.  (Under
     * QEMU this just halts; quit with Ctrl-A X when using -nographic.) */
    halt();
}

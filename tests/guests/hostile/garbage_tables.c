/*
 * garbage_tables - descriptor tables full of garbage (run with -no-reboot):
 *   - a GDT whose entries from index 6 on are random bytes: FS, GS and SS
 *     loaded with 2000 random selectors (each fault's vector and error code
 *     is summarised; loads that succeed are undone);
 *   - a GDT beyond RAM (base 0xf0000000: every descriptor reads as all ones,
 *     a present conforming code segment) and one with limit 0;
 *   - INT n for every vector 0x30..0xff through an IDT whose entries there
 *     are random bytes (#GP/#NP with the IDT error code, or whatever the
 *     garbage gate leads to);
 *   - finally LIDT with limit 0 and INT3: #GP, #DF and a triple fault.  The
 *     VMM must end the run (with -no-reboot: status 3 and a one-line message
 *     in vmm, status 0 in QEMU), identically under every engine and in
 *     lockstep.
 */
#include "hostile.h"

static uint64_t gdt[GDT_ENTRIES] __attribute__((aligned(16)));
static uint64_t idt[256] __attribute__((aligned(16)));

static unsigned hist[32];
static uint32_t err_digest;

static void tally(void)
{
    if (caught.vector >= 0 && caught.vector < 32)
        hist[caught.vector]++;
    err_digest = digest(err_digest, ((uint32_t)caught.vector << 16) ^ caught.error);
}

static void print_hist(const char *name, unsigned ok)
{
    printf("%s: %u loaded", name, ok);
    for (int v = 0; v < 32; v++)
        if (hist[v])
            printf(", #%d x%u", v, hist[v]);
    printf("; digest 0x%08x\n", err_digest);
    memset(hist, 0, sizeof hist);
    err_digest = DIGEST_INIT;
}

/* Loads sel into FS (0), GS (1) or SS (2, restored by the next
 * instruction); returns 1 when the load succeeded. */
static int try_load(int reg, uint16_t sel)
{
    catch_reset();
    uint32_t ok = 0;
    if (reg == 0)
        __asm__ volatile(HTRY("2f") "movw %1, %%fs\n\tmovl $1, %0\n2:" HTRY_END
                         : "+r"(ok) : "r"(sel) : "memory");
    else if (reg == 1)
        __asm__ volatile(HTRY("2f") "movw %1, %%gs\n\tmovl $1, %0\n2:" HTRY_END
                         : "+r"(ok) : "r"(sel) : "memory");
    else
        __asm__ volatile(HTRY("2f") "movw %1, %%ss\n\tmovw %2, %%ss\n\tmovl $1, %0\n2:" HTRY_END
                         : "+r"(ok) : "r"(sel), "r"((uint16_t)SEL_KDATA) : "memory");
    write_fs(SEL_KDATA);
    write_gs(SEL_KDATA);
    if (!ok)
        tally();
    return ok;
}

int guest_main(void)
{
    sys_init();
    catch_all();
    err_digest = DIGEST_INIT;
    uint32_t seed = 0x5eed;

    /* LDTR null: a selector with TI set faults (the reset state of LDTR,
     * base 0 limit 0xffff, is what a loader may leave behind). */
    lldt(0);
    printf("== GDT with random entries\n");
    memcpy(gdt, sys_gdt, sizeof gdt);
    for (int i = GDT_FIRST_FREE; i < GDT_ENTRIES; i++)
        gdt[i] = (uint64_t)rng_next(&seed) << 32 | rng_next(&seed);
    /* The busy TSS descriptor stays as LTR left it. */
    struct sys_dtr g = {sizeof gdt - 1, (uint32_t)gdt};
    lgdt(&g);
    static const char *names[] = {"fs", "gs", "ss"};
    for (int reg = 0; reg < 3; reg++) {
        unsigned ok = 0;
        for (int i = 0; i < 2000; i++) {
            uint16_t sel = (uint16_t)rng_next(&seed);
            int loaded = try_load(reg, sel);
            ok += loaded;
            if (reg == 0 && (sel >> 3) < GDT_ENTRIES && !(sel & SEL_LDT_BIT)) {
                if (loaded)
                    printf("  fs = 0x%04x: loaded\n", sel);
                else
                    printf("  fs = 0x%04x: #%d(0x%x)\n", sel, caught.vector, caught.error);
            }
        }
        print_hist(names[reg], ok);
    }
    /* Selectors pointing at the random entries only. */
    unsigned ok = 0;
    for (int i = 0; i < 2000; i++) {
        uint16_t sel = (uint16_t)((GDT_FIRST_FREE + rng_next(&seed) % (GDT_ENTRIES - GDT_FIRST_FREE)) << 3 |
                                  (i & 3));
        ok += try_load(i % 3, sel);
    }
    print_hist("fs/gs/ss, random entries only", ok);

    printf("== GDT beyond RAM\n");
    struct sys_dtr far = {0xffff, 0xf0000000u};
    lgdt(&far);
    uint32_t fs_ok = 0;
    __asm__ volatile("movw %1, %%fs\n\tmovl $1, %0" : "+r"(fs_ok) : "r"((uint16_t)0x30) : "memory");
    uint32_t lim = 0, zf = 0;
    __asm__ volatile("lsl %2, %0\n\tsetz %b1" : "=r"(lim), "+q"(zf) : "r"((uint32_t)0x30) : "cc");
    lgdt(&g);
    write_fs(SEL_KDATA);
    printf("fs = 0x30 from an all-ones descriptor: %s; lsl 0x%08x zf %u\n", fs_ok ? "loaded" : "faulted",
           lim, zf);

    printf("== GDT with limit 7, only the null entry\n");
    struct sys_dtr tiny = {7, (uint32_t)gdt};
    lgdt(&tiny);
    zf = 0;
    __asm__ volatile("lar %1, %%eax\n\tsetz %b0" : "+q"(zf) : "r"((uint32_t)0x10) : "eax", "cc");
    lgdt(&g);
    printf("lar 0x10 beyond the limit: zf %u\n", zf);

    printf("== INT n through an IDT of random bytes\n");
    memcpy(idt, sys_idt, sizeof idt);
    for (int v = 0x30; v < 256; v++)
        idt[v] = (uint64_t)rng_next(&seed) << 32 | rng_next(&seed);
    struct sys_dtr ig = {sizeof idt - 1, (uint32_t)idt};
    lidt(&ig);
    unsigned entered = 0;
    for (int v = 0x30; v < 256; v++) {
        /* INT imm8 built at run time: CD v; then the fix-up. */
        static uint8_t stub[8] __attribute__((aligned(8)));
        stub[0] = 0xcd;
        stub[1] = (uint8_t)v;
        stub[2] = 0xc3;
        catch_reset();
        /* EBP keeps ESP across the CALL the fault may leave unbalanced. */
        __asm__ volatile("pushl %%ebp\n\tmovl %%esp, %%ebp\n\t" HTRY("2f") "call *%0\n2:" HTRY_END
                         "movl %%ebp, %%esp\n\tpopl %%ebp"
                         : : "r"(stub) : "memory", "cc");
        if (caught.vector < 0)
            entered++;
        else
            tally();
    }
    struct sys_dtr si = {sizeof sys_idt - 1, (uint32_t)sys_idt};
    lidt(&si);
    print_hist("int 0x30..0xff", entered);

    printf("== LIDT limit 0, INT3: triple fault next\n");
    struct sys_dtr none = {0, 0};
    lidt(&none);
    __asm__ volatile("int3");
    printf("FAIL: still running after a triple fault\n");
    exit(1);
}

/*
 * huge_rep - REP string instructions with huge counts (run with -m 16):
 *   - REP STOSD with ECX = 0x40000000 over identity-mapped RAM that runs
 *     into a not-present page: #PF (error 2, CR2 = EDI = the page), ECX
 *     counts the iterations left, EIP at the REP; REP MOVSD whose source
 *     runs into it (error 0, CR2 = ESI);
 *   - REP STOSD of 4 MiB across the end of RAM with paging off: completes
 *     (writes beyond RAM are dropped), ECX = 0;
 *   - the PIT at 1 kHz, IRQ0 unmasked, STI, then REP STOSD / REP MOVSD over
 *     8 MiB, repeated: the CPU takes interrupts between iterations (SDM Vol.
 *     1 7.3.9.1), so ticks arrive with the saved EIP at the REP itself and
 *     ECX/EDI consistent with each other; after resuming, the whole region
 *     is written.  A VMM that keeps interrupts pending for a whole REP
 *     never shows a tick inside one.
 */
#include "hostile.h"

#define BUF     0x00400000u
#define BUF_LEN 0x00800000u            /* 8 MiB */
#define HOLE    0x00c00000u

static volatile uint32_t ticks, ticks_in_rep, inconsistent;
uint32_t rep_eip;
static uint32_t rep_base, rep_src, rep_count, rep_kind;

static void tick(struct sys_frame *f)
{
    ticks++;
    if (f->eip == rep_eip) {
        ticks_in_rep++;
        uint32_t done = rep_count - f->ecx;
        if (f->edi != rep_base + done * 4 || (rep_kind == 1 && f->esi != rep_src + done * 4))
            inconsistent++;
    }
    pic_eoi(0);
}

/* REP STOSD (kind 0) or REP MOVSD (kind 1) with interrupts enabled;
 * returns the final ECX. */
static uint32_t rep_with_irqs(unsigned kind, uint32_t dst, uint32_t src, uint32_t count, uint32_t val,
                              uint32_t *edi_out)
{
    uint32_t c = count, d = dst, s = src;
    rep_kind = kind;
    rep_base = dst;
    rep_src = src;
    rep_count = count;
    if (kind == 0)
        __asm__ volatile("movl $1f, rep_eip\n\tcld\n\tsti\n1:\trep stosl\n\tcli"
                         : "+c"(c), "+D"(d) : "a"(val) : "memory", "cc");
    else
        __asm__ volatile("movl $1f, rep_eip\n\tcld\n\tsti\n1:\trep movsl\n\tcli"
                         : "+c"(c), "+D"(d), "+S"(s) : : "memory", "cc");
    *edi_out = d;
    return c;
}

int guest_main(void)
{
    sys_init();
    catch_all();

    printf("== REP into a not-present page\n");
    uint32_t *pd = pg_identity_dir(16u << 20);
    pg_unmap(pd, HOLE);
    pg_enable(pd);
    uint32_t rep_at;
    catch_reset();
    uint32_t c = 0x40000000u, d = HOLE - 0x10000, s;
    __asm__ volatile("movl $1f, %0\n\t" HTRY("2f") "cld\n1:\trep stosl\n2:" HTRY_END
                     : "=&r"(rep_at), "+c"(c), "+D"(d) : "a"(0x11111111u) : "memory", "cc");
    print_caught_at("rep stosd", rep_at, HOLE);
    printf("  ecx 0x%08x, edi 0x%08x\n", caught.ecx, caught.edi);
    catch_reset();
    c = 0x40000000u, d = BUF, s = HOLE - 0x8000;
    __asm__ volatile("movl $1f, %0\n\t" HTRY("2f") "cld\n1:\trep movsl\n2:" HTRY_END
                     : "=&r"(rep_at), "+c"(c), "+D"(d), "+S"(s) : : "memory", "cc");
    print_caught_at("rep movsd", rep_at, HOLE);
    printf("  ecx 0x%08x, esi 0x%08x, edi 0x%08x\n", caught.ecx, caught.esi, caught.edi);
    catch_reset();
    c = 0x40000000u, d = HOLE + 0x10000;
    __asm__ volatile("movl $1f, %0\n\t" HTRY("2f") "std\n1:\trep stosl\n2:\tcld" HTRY_END
                     : "=&r"(rep_at), "+c"(c), "+D"(d) : "a"(0x22222222u) : "memory", "cc");
    print_caught_at("rep stosd, DF = 1, down into the hole", rep_at, HOLE + 0xffc);
    printf("  ecx 0x%08x, edi 0x%08x\n", caught.ecx, caught.edi);
    pg_disable();

    printf("== REP STOSD across the end of RAM\n");
    c = 0x100000;
    d = (16u << 20) - 0x1000;
    __asm__ volatile("cld; rep stosl" : "+c"(c), "+D"(d) : "a"(0x33333333u) : "memory");
    printf("ecx %u edi 0x%08x\n", c, d);

    printf("== interrupts during REP\n");
    sys_set_irq_handler(0, tick);
    pit_set(0, 2, 1193);                    /* ~1 kHz */
    pic_unmask(0);
    unsigned rounds = 0, bad_end = 0;
    for (unsigned kind = 0; kind < 2; kind++) {
        ticks_in_rep = 0;
        for (rounds = 0; rounds < 200 && ticks_in_rep < 3; rounds++) {
            uint32_t n = kind == 0 ? BUF_LEN / 4 : BUF_LEN / 8;
            uint32_t val = 0x01010101u * (rounds + 1), edi;
            if (kind == 1) {
                __asm__ volatile("cld; rep stosl" : "+c"(n), "=D"(edi) : "a"(val), "1"(BUF) : "memory");
                n = BUF_LEN / 8;
            }
            uint32_t left = rep_with_irqs(kind, kind ? BUF + BUF_LEN / 2 : BUF, BUF, n,
                                          val + 1, &edi);
            uint32_t want = kind ? val : val + 1;
            uint32_t end = kind ? BUF + BUF_LEN : BUF + BUF_LEN;
            int ok = left == 0 && edi == end;
            for (uint32_t a = BUF + (kind ? BUF_LEN / 2 : 0); a < BUF + BUF_LEN; a += 4096)
                ok &= rd32(a) == want && rd32(a + 4092) == want;
            bad_end += !ok;
        }
        printf("%s: ticks inside the REP: %s, ECX/EDI%s consistent at every tick: %s, "
               "every REP completed the whole region: %s\n",
               kind ? "rep movsd" : "rep stosd", ticks_in_rep > 0 ? "ticks>0" : "none",
               kind ? "/ESI" : "", inconsistent == 0 ? "yes" : "no", bad_end == 0 ? "yes" : "no");
    }
    cli();
    pic_mask(0);
    printf("timer ticks: %s\n", ticks > 0 ? "ticks>0" : "none");
    host_done();
}

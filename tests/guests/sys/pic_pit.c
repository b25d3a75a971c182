/*
 * pic_pit.c - the 8259A interrupt controllers and the 8254 timer (Intel
 * 8259A and 82C54 data sheets):
 *
 *   - PIC: masking (an IRQ latched in IRR while masked is delivered when
 *     unmasked), in-service blocking, specific and non-specific EOI,
 *     priority between two pending IRQs (IRQ0 from the PIT, IRQ4 from the
 *     UART's THR-empty interrupt) and against the in-service level, the
 *     slave PIC on IRQ2 (RTC periodic interrupt on IRQ8, vector 0x28);
 *   - PIT: modes 0, 2 and 3 counting down (monotonic decrease, reload,
 *     range), the read-back status byte, OUT of channel 2 on port 0x61;
 *   - IRQ0 delivered periodically: one interrupt per STI; HLT.
 *
 * No timing-dependent number is printed: counts are only compared, and no
 * check depends on how fast the CPU runs against the PIT's 1.193 MHz clock:
 * the guest waits on the count itself (with a bound) instead of spinning a
 * fixed number of iterations, and accepts a count that wrapped around past
 * the terminal count when OUT says it got there. ctest runs it under -icount
 * at virtual speeds from 1 to 1000 MIPS (sys_speed.pic_pit.*).
 * A spurious IRQ7 cannot be provoked deterministically (it needs an IRQ line
 * dropping between INTR and INTA), so that check is skipped.
 */
#include "sys.h"

#define COM1 0x3f8

static volatile uint32_t ticks, irq_order[8];
static volatile int n_order, no_eoi;
static volatile uint16_t isr_in_irq8;

static void record(unsigned irq)
{
    if (n_order < 8)
        irq_order[n_order] = irq;
    n_order++;
}

static void irq0(struct sys_frame *f)
{
    (void)f;
    ticks++;
    record(0);
    if (!no_eoi)
        pic_eoi(0);
}

static void irq4(struct sys_frame *f)
{
    (void)f;
    record(4);
    inb(COM1 + 2);                  /* IIR: reading it clears THRE */
    outb(COM1 + 1, 0);              /* IER: no more interrupts */
    if (!no_eoi)
        pic_eoi(4);
}

static volatile uint32_t rtc_ticks;

static void irq8(struct sys_frame *f)
{
    (void)f;
    if (!rtc_ticks)
        isr_in_irq8 = pic_read_isr();
    rtc_ticks++;
    outb(0x70, 0x0c);               /* acknowledge: read register C */
    inb(0x71);
    pic_eoi(8);
}

/* Channel 0, mode 0 without a count: OUT low, no edges. */
static void pit_quiet(void)
{
    outb(PIT_CMD, 0x30);
}

static void drain(void)
{
    for (int i = 0; i < 4; i++)
        __asm__ volatile("sti\n\tnop\n\tnop\n\tcli" ::: "memory");
}

static int wait_irr(uint16_t bits)
{
    for (uint32_t i = 0; i < 2000000; i++)
        if ((pic_read_irr() & bits) == bits)
            return 1;
    return 0;
}

/* IRQ0 pending: a short one-shot. */
static int irq0_pending(void)
{
    pit_set(0, 0, 200);
    return wait_irr(1);
}

/* IRQ4 pending: THR empty with ETBEI (and OUT2, which gates the IRQ line on
 * a PC). */
static int irq4_pending(void)
{
    outb(COM1 + 4, 0x0b);           /* MCR: DTR | RTS | OUT2 */
    outb(COM1 + 1, 0x02);           /* IER: ETBEI */
    return wait_irr(1u << 4);
}

static void uart_restore(void)
{
    outb(COM1 + 1, 0);
    outb(COM1 + 4, 0x03);
}

/* One HLT with interrupts enabled; interrupts are off again afterwards, so
 * every HLT is woken by exactly one interrupt. */
static void hlt_once(void)
{
    __asm__ volatile("sti\n\thlt\n\tcli" ::: "memory");
}

/* Executes a few instructions with IF = 1. */
static void window(void)
{
    __asm__ volatile("sti\n\tnop\n\tnop\n\tnop\n\tnop\n\tcli" ::: "memory");
}

/* ---- PIC ---------------------------------------------------------------------------- */

static void test_pic(void)
{
    sys_section("8259A PIC");
    cli();
    sys_set_irq_handler(0, irq0);
    sys_set_irq_handler(4, irq4);
    sys_set_irq_handler(8, irq8);
    pit_quiet();

    pic_set_mask(0xfffe);
    check_eq("mask register reads back", pic_get_mask(), 0xfffe);
    pic_set_mask(0xffff);
    check_eq("all masked", pic_get_mask(), 0xffff);

    /* Masked: latched in IRR, not delivered. */
    n_order = 0;
    check("IRQ0 masked: latched in IRR", irq0_pending());
    window();
    check_eq("IRQ0 masked: not delivered", n_order, 0);
    pic_unmask(0);
    window();
    check_eq("IRQ0 unmasked: the latched request is delivered", n_order, 1);
    check_eq("  and IRR bit 0 is clear", pic_read_irr() & 1, 0);
    check_eq("  and ISR bit 0 is clear after the EOI", pic_read_isr() & 1, 0);

    /* In service: blocks the same level until EOI. */
    no_eoi = 1;
    n_order = 0;
    check("IRQ0 pending", irq0_pending());
    window();
    check_eq("IRQ0 delivered, handler sends no EOI", n_order, 1);
    check_eq("  ISR bit 0 set", pic_read_isr() & 1, 1);
    check("IRQ0 pending again", irq0_pending());
    window();
    check_eq("IRQ0 in service blocks another IRQ0", n_order, 1);
    pic_eoi_specific(3);
    window();
    check_eq("specific EOI for IRQ3 leaves IRQ0 in service", pic_read_isr() & 1, 1);
    check_eq("  still blocked", n_order, 1);
    no_eoi = 0;
    pic_eoi_specific(0);
    check_eq("specific EOI for IRQ0: ISR clear", pic_read_isr() & 1, 0);
    window();
    check_eq("  the pending IRQ0 is delivered", n_order, 2);

    no_eoi = 1;
    check("IRQ0 pending", irq0_pending());
    window();
    check_eq("IRQ0 in service (no EOI)", pic_read_isr() & 1, 1);
    outb(PIC1_CMD, 0x20);
    check_eq("non-specific EOI clears it", pic_read_isr() & 1, 0);
    no_eoi = 0;

    /* Priority: IRQ0 before IRQ4 when both are pending. */
    pit_quiet();
    drain();
    pic_unmask(4);
    n_order = 0;
    check("IRQ0 and IRQ4 pending", irq0_pending() && irq4_pending());
    window();
    check_eq("two interrupts delivered", n_order, 2);
    check("IRQ0 first (higher priority)", irq_order[0] == 0 && irq_order[1] == 4);

    /* Against the in-service level: IRQ4 in service does not block IRQ0;
     * IRQ0 in service blocks IRQ4. */
    no_eoi = 1;
    n_order = 0;
    pic_mask(0);
    check("IRQ4 pending", irq4_pending());
    window();
    check("IRQ4 delivered and in service", n_order == 1 && (pic_read_isr() & 0x10));
    check("IRQ0 pending (masked)", irq0_pending());
    pic_unmask(0);
    window();
    check_eq("IRQ0 preempts the in-service IRQ4", n_order, 2);
    check_eq("  both in service", pic_read_isr() & 0x11, 0x11);
    outb(PIC1_CMD, 0x20);
    check_eq("non-specific EOI clears the highest priority (IRQ0)", pic_read_isr() & 0x11, 0x10);
    outb(PIC1_CMD, 0x20);
    check_eq("the next non-specific EOI clears IRQ4", pic_read_isr() & 0x11, 0);

    n_order = 0;
    check("IRQ0 pending", irq0_pending());
    window();
    check("IRQ0 in service", n_order == 1 && (pic_read_isr() & 1));
    pic_mask(0);
    check("IRQ4 pending", irq4_pending());
    window();
    check_eq("IRQ0 in service blocks the lower-priority IRQ4", n_order, 1);
    no_eoi = 0;
    pic_eoi(0);
    window();
    check_eq("after the EOI IRQ4 is delivered", n_order, 2);
    uart_restore();
    pic_set_mask(0xffff);
    pit_quiet();
    drain();

    /* The slave: RTC periodic interrupt on IRQ8. */
    outb(0x70, 0x0a);
    outb(0x71, 0x2a);                   /* 32.768 kHz base, 64 Hz */
    outb(0x70, 0x0b);
    uint8_t b = inb(0x71);
    outb(0x70, 0x0b);
    outb(0x71, b | 0x40);               /* PIE */
    outb(0x70, 0x0c);
    inb(0x71);
    pic_unmask(8);
    rtc_ticks = 0;
    for (int i = 0; i < 5; i++)
        hlt_once();
    /* At least one interrupt per HLT; more only if a handler ever took
     * longer than a period (a JIT translating it, a loaded host). */
    check_detail("RTC periodic interrupt: 5 HLTs each woken by IRQ8 at vector 0x28",
                 rtc_ticks >= 5 && sys_vector_count[0x28] == rtc_ticks, "%u interrupts, %u at 0x28",
                 rtc_ticks, sys_vector_count[0x28]);
    check_eq("  slave ISR bit 0 and master ISR bit 2 (cascade) in service", isr_in_irq8 & 0x0104, 0x0104);
    outb(0x70, 0x0b);
    outb(0x71, b & ~0x40);
    outb(0x70, 0x0c);
    inb(0x71);
    pic_set_mask(0xffff);

    check_skip("spurious IRQ7", "cannot be provoked deterministically");
}

/* ---- PIT ------------------------------------------------------------------------------ */

static void spin(int n)
{
    for (volatile int i = 0; i < n; i++)
        ;
}

/* Reads channel `ch` until its count differs from `from` (at most 2,000,000
 * reads; the count moves every 838 ns) and returns the new count. */
static uint16_t wait_count_change(unsigned ch, uint16_t from)
{
    uint16_t c = from;
    for (uint32_t i = 0; i < 2000000 && c == from; i++)
        c = pit_read_count(ch);
    return c;
}

/* The count of a mode-0 channel moved from `before` to `after` downwards:
 * below it, or past the terminal count (OUT high) and wrapped around, if
 * the CPU was away longer than the count lasts. */
static int counted_down(uint16_t before, uint16_t after, int out)
{
    return after != before && (after < before || out);
}

/* Periodic modes: at least 20000 reads, and on until both a decrease and a
 * reload were seen (at most 2,000,000). */
static int keep_reading(int i, int decreasing, int reloaded)
{
    return i < 20000 || (i < 2000000 && !(decreasing && reloaded));
}

static void test_pit(void)
{
    sys_section("8254 PIT");
    cli();

    pit_set(0, 0, 0xffff);
    uint8_t st = pit_read_status(0);
    check_eq("mode 0: read-back status (RW = LSB/MSB, mode 0)", st & 0x3f, 0x30);
    check_eq("mode 0: OUT low while counting", st >> 7, 0);
    uint16_t c1 = pit_read_count(0);
    uint16_t c2 = wait_count_change(0, c1);
    check("mode 0: counts down", counted_down(c1, c2, pit_read_status(0) >> 7));
    pit_set(0, 0, 100);
    int went_high = 0;
    for (int i = 0; i < 1000000 && !went_high; i++)
        went_high = pit_read_status(0) >> 7;
    check("mode 0: OUT high at terminal count", went_high);

    const uint16_t n = 1000;
    pit_set(0, 2, n);
    st = pit_read_status(0);
    check_eq("mode 2: read-back status", st & 0x3f, 0x34);
    int in_range = 1, reloaded = 0, decreasing = 0;
    uint16_t prev = pit_read_count(0);
    for (int i = 0; keep_reading(i, decreasing, reloaded); i++) {
        uint16_t c = pit_read_count(0);
        if (c == 0 || c > n)
            in_range = 0;
        if (c > prev)
            reloaded = 1;
        else if (c < prev)
            decreasing = 1;
        prev = c;
    }
    check("mode 2: counts stay within 1..N", in_range);
    check("mode 2: counts decrease", decreasing);
    check("mode 2: the count reloads", reloaded);

    pit_set(0, 3, n);
    st = pit_read_status(0);
    check_eq("mode 3: read-back status", st & 0x3f, 0x36);
    int even = 1;
    in_range = 1, reloaded = 0, decreasing = 0;
    prev = pit_read_count(0);
    for (int i = 0; keep_reading(i, decreasing, reloaded); i++) {
        uint16_t c = pit_read_count(0);
        if (c > n)
            in_range = 0;
        if (c & 1)
            even = 0;
        if (c > prev)
            reloaded = 1;
        else if (c < prev)
            decreasing = 1;
        prev = c;
    }
    check("mode 3: counts stay within 0..N", in_range);
    check("mode 3 with an even N: counts are even (decrement by 2)", even);
    check("mode 3: counts decrease", decreasing);
    check("mode 3: the count reloads", reloaded);
    pit_quiet();

    /* Channel 2 and port 0x61. */
    pit_ch2_gate(1);
    pit_set(2, 0, 0xffff);
    check_eq("channel 2 mode 0: OUT (port 0x61 bit 5) low while counting", pit_ch2_out(), 0);
    pit_set(2, 0, 50);
    went_high = 0;
    for (int i = 0; i < 1000000 && !went_high; i++)
        went_high = pit_ch2_out();
    check("channel 2 mode 0: OUT (port 0x61 bit 5) high at terminal count", went_high);
    pit_ch2_gate(0);
}

/* ---- periodic IRQ0 ------------------------------------------------------------------------ */

static void test_periodic(void)
{
    sys_section("periodic IRQ0");
    cli();
    pit_set(0, 2, 11932);               /* ~100 Hz */
    ticks = 0;
    n_order = 0;
    pic_set_mask(0xfffe);
    for (int i = 0; i < 10; i++)
        hlt_once();
    check_detail("mode 2 at ~100 Hz: 10 HLTs each woken by IRQ0", ticks >= 10, "%u interrupts", ticks);
    check_eq("  all at vector 0x20", sys_vector_count[0x20] >= ticks, 1);
    pit_quiet();
    pic_set_mask(0xffff);
    drain();
}

/* ---- vmm-only ------------------------------------------------------------------------------ */

static void test_gate(void)
{
    sys_section("vmm-only: channel 2 gate (QEMU's 8254 ignores the gate in mode 0)");
    cli();
    pit_ch2_gate(0);
    pit_set(2, 0, 0x8000);
    uint16_t c1 = pit_read_count(2);
    spin(20000);
    uint16_t c2 = pit_read_count(2);
    check("channel 2 mode 0, gate low: count holds", c1 == c2);
    pit_ch2_gate(1);
    uint16_t c3 = wait_count_change(2, c2);
    check("channel 2 mode 0, gate high: counts down", counted_down(c2, c3, pit_ch2_out()));
    pit_ch2_gate(0);
}

int guest_main(void)
{
    sys_init();
    test_pic();
    test_pit();
    test_periodic();
    if (sys_cmdline_has("vmm-only"))
        test_gate();
    sys_finish();
}

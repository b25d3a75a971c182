/*
 * uart_irq.c - interrupts of the 16550 UART on COM1 (IRQ4, vector 0x24)
 * (National Semiconductor PC16550D data sheet):
 *
 *   - enabling the THR-empty interrupt (IER.ETBEI) with the THR empty raises
 *     it at once: IIR = THRE, IRQ4 delivered; reading IIR clears it;
 *   - in loopback mode (MCR bit 4) a byte written to THR arrives in RBR:
 *     LSR.DR, a received-data interrupt (FIFO trigger level 1) on IRQ4, IIR
 *     priority RDA over THRE, RBR read back; (vmm-only) the modem status
 *     interrupt for RTS looped back to CTS;
 *   - nothing written in loopback mode reaches the serial output.
 *
 * The output is printed only after the UART is back in its polled setup
 * (interrupts off, no loopback), since printing goes through the same UART.
 * On a PC the UART's IRQ output is gated by MCR.OUT2; OUT2 is set whenever an
 * interrupt is expected.
 */
#include "sys.h"

#define COM1 0x3f8
#define RBR 0
#define THR 0
#define IER 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6

static volatile uint32_t irq4_count, ticks;
static volatile uint8_t iir_in_handler[4];
static volatile int handler_reads_iir = 1;

static void irq4(struct sys_frame *f)
{
    (void)f;
    if (irq4_count < 4 && handler_reads_iir)
        iir_in_handler[irq4_count] = inb(COM1 + IIR);
    irq4_count++;
    if (!handler_reads_iir)
        outb(COM1 + IER, 0);        /* silence a level we do not clear */
    pic_eoi(4);
}

static void irq0(struct sys_frame *f)
{
    (void)f;
    ticks++;
    pic_eoi(0);
}

/* HLT (with the timer as a safety net) until IRQ4 has been delivered
 * `want` times in total, at most 20 timer ticks. */
static void wait_irq4(uint32_t want)
{
    for (int i = 0; i < 20 && irq4_count < want; i++)
        __asm__ volatile("sti\n\thlt\n\tcli" ::: "memory");
}

static void polled_setup(void)
{
    outb(COM1 + IER, 0);
    outb(COM1 + MCR, 0x03);
    outb(COM1 + FCR, 0xc7);
}

int guest_main(void)
{
    sys_init();
    printf("== 16550 interrupts\n");    /* also initialises the UART */
    cli();
    sys_set_irq_handler(4, irq4);
    sys_set_irq_handler(0, irq0);
    pit_set(0, 2, 11932);               /* ~100 Hz safety net for the HLTs */
    pic_set_mask(~(uint16_t)((1u << 0) | (1u << 4)));

    /* ---- THRE ---- */
    uint8_t lsr0 = inb(COM1 + LSR);
    uint8_t iir_idle = inb(COM1 + IIR);
    outb(COM1 + MCR, 0x0b);             /* DTR | RTS | OUT2 */
    outb(COM1 + IER, 0x02);             /* ETBEI */
    uint8_t iir_thre = inb(COM1 + IIR); /* reading it clears THRE ... */
    uint8_t iir_after = inb(COM1 + IIR);
    outb(COM1 + IER, 0x00);
    outb(COM1 + IER, 0x02);             /* ... re-enabling raises it again */
    irq4_count = 0;
    wait_irq4(1);
    uint32_t thre_irqs = irq4_count;
    uint8_t iir_h0 = iir_in_handler[0];
    uint8_t iir_after_irq = inb(COM1 + IIR);
    outb(COM1 + IER, 0x00);

    /* ---- loopback: received data ---- */
    outb(COM1 + FCR, 0x07);             /* FIFO on, cleared, trigger level 1 */
    outb(COM1 + MCR, 0x1b);             /* LOOP | OUT2 | RTS | DTR */
    uint8_t lsr_empty = inb(COM1 + LSR) & 1;
    outb(COM1 + THR, 'Z');
    uint8_t lsr_dr = 0;
    for (int i = 0; i < 100000 && !lsr_dr; i++)
        lsr_dr = inb(COM1 + LSR) & 1;
    uint8_t rbr_polled = inb(COM1 + RBR);
    uint8_t lsr_after = inb(COM1 + LSR) & 1;

    outb(COM1 + IER, 0x01);             /* ERBFI */
    irq4_count = 0;
    handler_reads_iir = 1;
    outb(COM1 + THR, 'q');
    wait_irq4(1);
    uint32_t rda_irqs = irq4_count;
    uint8_t iir_rda = iir_in_handler[0];
    uint8_t rbr_irq = inb(COM1 + RBR);
    uint8_t iir_rda_after = inb(COM1 + IIR);
    outb(COM1 + IER, 0x00);

    /* Both pending: RDA has priority over THRE in IIR. */
    cli();
    outb(COM1 + THR, '7');
    for (int i = 0; i < 100000 && !(inb(COM1 + LSR) & 1); i++)
        ;
    for (int i = 0; i < 100000 && !(inb(COM1 + LSR) & 0x40); i++)
        ;
    outb(COM1 + IER, 0x03);
    uint8_t prio1 = inb(COM1 + IIR);
    uint8_t rbr_prio = inb(COM1 + RBR);
    uint8_t prio2 = inb(COM1 + IIR);
    uint8_t prio3 = inb(COM1 + IIR);
    outb(COM1 + IER, 0x00);
    pic_eoi(4);

    /* Modem status: in loopback RTS drives CTS.  QEMU's 16550 computes the
     * looped-back MSR bits but no delta bits and no modem status
     * interrupt, so this is vmm-only. */
    int vmm_only = sys_cmdline_has("vmm-only");
    uint8_t iir_ms = 0, msr = 0, iir_ms_after = 0;
    if (vmm_only) {
        outb(COM1 + MCR, 0x19);         /* LOOP | OUT2 | DTR (RTS off) */
        (void)inb(COM1 + MSR);          /* clear the deltas */
        outb(COM1 + IER, 0x08);         /* EDSSI */
        outb(COM1 + MCR, 0x1b);         /* RTS on */
        iir_ms = inb(COM1 + IIR);
        msr = inb(COM1 + MSR);
        iir_ms_after = inb(COM1 + IIR);
        outb(COM1 + IER, 0x00);
    }

    polled_setup();
    pic_set_mask(0xffff);
    outb(PIT_CMD, 0x30);
    for (int i = 0; i < 4; i++)
        __asm__ volatile("sti\n\tnop\n\tnop\n\tcli" ::: "memory");

    check_eq("LSR after polled output: THRE and TEMT", lsr0 & 0x60, 0x60);
    check_eq("IIR with IER = 0: no interrupt pending (FIFOs on)", iir_idle, 0xc1);
    check_eq("IER.ETBEI with THR empty: IIR = THRE (FIFOs on)", iir_thre, 0xc2);
    check_eq("reading IIR cleared the THRE interrupt", iir_after, 0xc1);
    check_eq("THRE interrupt delivered on IRQ4", thre_irqs, 1);
    check_eq("  IIR in the handler = THRE", iir_h0, 0xc2);
    check_eq("  and no interrupt pending after the handler read IIR", iir_after_irq, 0xc1);
    check_eq("  vector 0x24", sys_vector_count[0x24] >= 1, 1);
    check_eq("loopback: LSR.DR clear before writing", lsr_empty, 0);
    check_eq("loopback: LSR.DR set after writing THR", lsr_dr, 1);
    check_eq("loopback: RBR returns the byte written", rbr_polled, 'Z');
    check_eq("loopback: LSR.DR clear after reading RBR", lsr_after, 0);
    check_eq("loopback: received-data interrupt delivered on IRQ4", rda_irqs, 1);
    check_eq("  IIR in the handler = received data available", iir_rda, 0xc4);
    check_eq("  RBR returns the byte", rbr_irq, 'q');
    check_eq("  no interrupt pending after reading RBR", iir_rda_after, 0xc1);
    check_eq("RDA and THRE pending: IIR shows RDA first", prio1, 0xc4);
    check_eq("  RBR", rbr_prio, '7');
    check_eq("  then THRE", prio2, 0xc2);
    check_eq("  then nothing (reading IIR cleared THRE)", prio3, 0xc1);
    check_eq("UART back in polled mode: IER", inb(COM1 + IER), 0);
    if (vmm_only) {
        sys_section("vmm-only: modem status interrupt in loopback (not modelled by QEMU)");
        check_eq("loopback RTS -> CTS with EDSSI: IIR = modem status", iir_ms, 0xc0);
        check_eq("  MSR: CTS and DCTS set", msr & 0x11, 0x11);
        check_eq("  reading MSR cleared the interrupt", iir_ms_after, 0xc1);
    }
    sys_finish();
}

/*
 * hw.c - 8259A PIC and 8254 PIT helpers of the system library (see sys.h).
 */
#include "sys.h"

/* ---- 8259A ---------------------------------------------------------------- */

#define ICW1_ICW4 0x01
#define ICW1_INIT 0x10
#define ICW4_8086 0x01
#define OCW2_EOI          0x20
#define OCW2_SPECIFIC_EOI 0x60
#define OCW3_READ_IRR 0x0a
#define OCW3_READ_ISR 0x0b

void pic_init(uint8_t base1, uint8_t base2)
{
    outb(PIC1_CMD, ICW1_INIT | ICW1_ICW4);  /* edge triggered, cascade, ICW4 */
    io_wait();
    outb(PIC2_CMD, ICW1_INIT | ICW1_ICW4);
    io_wait();
    outb(PIC1_DATA, base1);                 /* ICW2: vector base */
    io_wait();
    outb(PIC2_DATA, base2);
    io_wait();
    outb(PIC1_DATA, 0x04);                  /* ICW3: slave on IR2 */
    io_wait();
    outb(PIC2_DATA, 0x02);                  /* ICW3: slave identity 2 */
    io_wait();
    outb(PIC1_DATA, ICW4_8086);
    io_wait();
    outb(PIC2_DATA, ICW4_8086);
    io_wait();
    pic_set_mask(0xffff);
    /* Reads of the command ports return the IRR by default after init;
     * leave them that way. */
    outb(PIC1_CMD, OCW3_READ_IRR);
    outb(PIC2_CMD, OCW3_READ_IRR);
}

void pic_set_mask(uint16_t mask)
{
    outb(PIC1_DATA, (uint8_t)mask);
    outb(PIC2_DATA, (uint8_t)(mask >> 8));
}

uint16_t pic_get_mask(void)
{
    return (uint16_t)(inb(PIC1_DATA) | inb(PIC2_DATA) << 8);
}

void pic_mask(unsigned irq)
{
    pic_set_mask(pic_get_mask() | (uint16_t)(1u << irq));
}

void pic_unmask(unsigned irq)
{
    uint16_t m = pic_get_mask() & (uint16_t)~(1u << irq);
    if (irq >= 8)
        m &= (uint16_t)~(1u << 2);          /* the cascade input too */
    pic_set_mask(m);
}

void pic_eoi(unsigned irq)
{
    if (irq >= 8)
        outb(PIC2_CMD, OCW2_EOI);
    outb(PIC1_CMD, OCW2_EOI);
}

void pic_eoi_specific(unsigned irq)
{
    if (irq >= 8) {
        outb(PIC2_CMD, OCW2_SPECIFIC_EOI | (irq & 7));
        outb(PIC1_CMD, OCW2_SPECIFIC_EOI | 2);
    } else {
        outb(PIC1_CMD, OCW2_SPECIFIC_EOI | irq);
    }
}

static uint16_t pic_read_reg(uint8_t ocw3)
{
    outb(PIC1_CMD, ocw3);
    outb(PIC2_CMD, ocw3);
    uint16_t v = (uint16_t)(inb(PIC1_CMD) | inb(PIC2_CMD) << 8);
    outb(PIC1_CMD, OCW3_READ_IRR);
    outb(PIC2_CMD, OCW3_READ_IRR);
    return v;
}

uint16_t pic_read_irr(void)
{
    return pic_read_reg(OCW3_READ_IRR);
}

uint16_t pic_read_isr(void)
{
    return pic_read_reg(OCW3_READ_ISR);
}

/* ---- 8254 ----------------------------------------------------------------- */

void pit_set(unsigned ch, unsigned mode, uint16_t count)
{
    /* SC = ch, RW = 3 (LSB then MSB), mode, binary. */
    outb(PIT_CMD, (uint8_t)(ch << 6 | 0x30 | (mode & 7) << 1));
    outb((uint16_t)(PIT_CH0 + ch), (uint8_t)count);
    outb((uint16_t)(PIT_CH0 + ch), (uint8_t)(count >> 8));
}

uint16_t pit_read_count(unsigned ch)
{
    outb(PIT_CMD, (uint8_t)(ch << 6));      /* counter latch command */
    uint8_t lo = inb((uint16_t)(PIT_CH0 + ch));
    uint8_t hi = inb((uint16_t)(PIT_CH0 + ch));
    return (uint16_t)(lo | hi << 8);
}

uint8_t pit_read_status(unsigned ch)
{
    /* Read-back: 11, COUNT = 1 (do not latch the count), STATUS = 0 (latch
     * status), channel bit. */
    outb(PIT_CMD, (uint8_t)(0xc0 | 0x20 | (2u << ch)));
    return inb((uint16_t)(PIT_CH0 + ch));
}

void pit_ch2_gate(int on)
{
    uint8_t v = inb(0x61) & 0x0c;            /* keep the NMI enables; speaker off */
    outb(0x61, (uint8_t)(v | (on ? 1 : 0)));
}

int pit_ch2_out(void)
{
    return (inb(0x61) >> 5) & 1;
}

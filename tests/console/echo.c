/*
 * echo.c - the guest of the console tests (tests/console): reads COM1 with
 * its received-data interrupt (IRQ4), halting in between as an idle kernel
 * does, and answers every line (ended by CR, as a terminal in raw mode sends
 * Enter) with "line: <text>", printing control bytes as [xx] in hex. It
 * never ends by itself: vmm's Ctrl-A x, or a signal, ends the run.
 */
#include "sys.h"

#define COM1 0x3f8
#define RBR 0
#define IER 1
#define IIR 2
#define MCR 4
#define LSR 5

static char line[256];
static volatile unsigned len;
static volatile unsigned lines_ready;
static char ready[256];

static void irq4(struct sys_frame *f)
{
    (void)f;
    (void)inb(COM1 + IIR);
    while (inb(COM1 + LSR) & 1) {
        uint8_t c = inb(COM1 + RBR);
        if (c == '\r' || c == '\n') {
            if (!lines_ready) {
                memcpy(ready, line, len);
                ready[len] = 0;
                lines_ready = 1;
            }
            len = 0;
        } else if (c < 0x20 || c == 0x7f) {
            static const char hex[] = "0123456789abcdef";
            if (len + 4 < sizeof line) {
                line[len++] = '[';
                line[len++] = hex[c >> 4];
                line[len++] = hex[c & 15];
                line[len++] = ']';
            }
        } else if (len + 1 < sizeof line) {
            line[len++] = (char)c;
        }
    }
    pic_eoi(4);
}

int guest_main(void)
{
    sys_init();
    printf("echo guest ready\n");   /* also sets the UART up */
    cli();
    sys_set_irq_handler(4, irq4);
    pic_set_mask(~(uint16_t)(1u << 4));
    outb(COM1 + MCR, 0x0b);         /* DTR, RTS, OUT2 (the IRQ line) */
    outb(COM1 + IER, 0x01);         /* received-data interrupt */
    for (;;) {
        sti_hlt();
        cli();
        if (lines_ready) {
            printf("line: %s\n", ready);
            lines_ready = 0;
        }
    }
}

/*
 * reset_loop - a guest that resets the machine 300 times in a row through
 * the keyboard controller's reset pulse (0xfe to port 0x64), counting the
 * resets in CMOS RAM (which a reset keeps; guest RAM is cleared and the
 * kernel loaded again). Every boot runs the same start-up code once: a VMM
 * must not pay a translation for code that runs once per reset. The report
 * is printed by the first and the last boot only.
 */
#include "hostile.h"

#define RESETS 300u
#define CMOS_INDEX 0x70
#define CMOS_DATA 0x71
#define COUNTER_LO 0x40  /* General-purpose CMOS bytes (not RTC registers). */
#define COUNTER_HI 0x41

static uint8_t cmos_read(uint8_t reg)
{
    outb(CMOS_INDEX, reg);
    return inb(CMOS_DATA);
}

static void cmos_write(uint8_t reg, uint8_t v)
{
    outb(CMOS_INDEX, reg);
    outb(CMOS_DATA, v);
}

int guest_main(void)
{
    sys_init();
    const uint32_t n = cmos_read(COUNTER_LO) | ((uint32_t)cmos_read(COUNTER_HI) << 8);
    if (n == 0)
        printf("reset loop: first boot, %u resets to go\n", RESETS);
    if (n < RESETS) {
        cmos_write(COUNTER_LO, (uint8_t)(n + 1));
        cmos_write(COUNTER_HI, (uint8_t)((n + 1) >> 8));
        outb(0x64, 0xfe);  /* Pulse the reset line. */
        for (;;)
            __asm__ volatile("cli; hlt");
    }
    printf("reset loop: boot %u after %u resets\n", n + 1, n);
    return 0;
}

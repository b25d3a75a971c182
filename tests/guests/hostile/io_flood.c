/*
 * io_flood - millions of port accesses: IN/OUT to absent ports (the bus
 * answers all ones and drops writes), to device ports (PIC mask register,
 * PIT channel 2, the UART scratch register, CMOS index/data with a scratch
 * byte of CMOS RAM), and REP INS/OUTS with large counts.  Every value read
 * back is checked; the runner bounds the time.
 */
#include "hostile.h"

#define N 1000000u

int guest_main(void)
{
    sys_init();
    catch_all();

    uint32_t and_ = 0xffffffffu, or_ = 0;
    for (uint32_t i = 0; i < N; i++) {
        uint32_t v = inl(0x1234);
        and_ &= v;
        or_ |= v;
    }
    printf("%u inl from absent port 0x1234: and 0x%08x or 0x%08x\n", N, and_, or_);
    for (uint32_t i = 0; i < N; i++)
        outb(0x1235, (uint8_t)i);
    printf("%u outb to absent port 0x1235, then inb: 0x%02x inw 0x%04x\n", N, inb(0x1235), inw(0x2000));

    uint32_t bad = 0;
    for (uint32_t i = 0; i < N / 4; i++) {
        outb(PIC1_DATA, (uint8_t)i);
        bad += inb(PIC1_DATA) != (uint8_t)i;
    }
    outb(PIC1_DATA, 0xff);
    printf("%u PIC IMR write/read: %u mismatches\n", N / 4, bad);

    bad = 0;
    for (uint32_t i = 0; i < N / 4; i++) {
        outb(0x3ff, (uint8_t)(i * 13));
        bad += inb(0x3ff) != (uint8_t)(i * 13);
    }
    printf("%u UART scratch write/read: %u mismatches\n", N / 4, bad);

    bad = 0;
    for (uint32_t i = 0; i < N / 4; i++) {
        outb(0x70, 0x40);                 /* CMOS RAM byte 0x40, NMI enabled */
        outb(0x71, (uint8_t)(i * 7));
        outb(0x70, 0x40);
        bad += inb(0x71) != (uint8_t)(i * 7);
    }
    printf("%u CMOS 0x40 write/read: %u mismatches\n", N / 4, bad);

    for (uint32_t i = 0; i < N / 4; i++) {
        outb(PIT_CMD, 0xb0);              /* channel 2, lobyte/hibyte, mode 0 */
        outb(0x42, (uint8_t)i);
        outb(0x42, (uint8_t)(i >> 8));
    }
    outb(PIT_CMD, 0xe8);                  /* read-back status of channel 2 */
    printf("%u PIT channel 2 reprogrammings: status 0x%02x\n", N / 4, inb(0x42) & 0x3f);

    static uint8_t buf[65536];
    uint32_t n = sizeof buf, d = (uint32_t)buf;
    __asm__ volatile("cld; rep insb" : "+c"(n), "+D"(d) : "d"(0x1234) : "memory");
    and_ = 0xff;
    for (unsigned i = 0; i < sizeof buf; i++)
        and_ &= buf[i];
    printf("rep insb 64 KiB from an absent port: and 0x%02x ecx %u\n", and_, n);
    n = sizeof buf / 4;
    d = (uint32_t)buf;
    __asm__ volatile("cld; rep insl" : "+c"(n), "+D"(d) : "d"(0x1238) : "memory");
    printf("rep insd 64 KiB: ecx %u, edi advanced 0x%x\n", n, d - (uint32_t)buf);
    for (int r = 0; r < 16; r++) {
        uint32_t s = (uint32_t)buf;
        n = sizeof buf;
        __asm__ volatile("cld; rep outsb" : "+c"(n), "+S"(s) : "d"(0x80) : "memory");
        n = sizeof buf;
        s = (uint32_t)buf;
        __asm__ volatile("cld; rep outsb" : "+c"(n), "+S"(s) : "d"(0x1236) : "memory");
    }
    printf("16 x rep outsb 64 KiB to port 0x80 and to an absent port: ecx %u\n", n);
    for (unsigned i = 0; i < 256; i++)
        buf[i] = (uint8_t)i;
    uint32_t ok = 0;
    for (unsigned i = 0; i < 256; i++) {
        uint32_t s = (uint32_t)buf + i;
        n = 1;
        __asm__ volatile("cld; rep outsb" : "+c"(n), "+S"(s) : "d"(0x3ff) : "memory");
        ok += inb(0x3ff) == i;
    }
    printf("rep outsb to the UART scratch register: %u of 256 read back\n", ok);
    host_done();
}

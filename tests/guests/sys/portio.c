/*
 * portio.c - a port-I/O-heavy and an MMIO-heavy loop, on device state that
 * behaves the same under vmm and QEMU (and on a PC).
 *
 * Port I/O (mode=pio).  ITERS iterations; an LCG picks one of eight
 * operations and its values, each a write and a read-back of a register
 * that is plain storage:
 *
 *   0 uart.scr   16550 scratch register (0x3ff): OUTB, INB
 *   1 uart.lcr   16550 line control register (0x3fb), bits 5..0 (word
 *                length, stop bits, parity; never DLAB or break): OUTB, INB
 *   2 pic1.imr   master 8259A interrupt mask (OCW1, 0x21), IRQ0 kept masked
 *                so that the timer never asserts INTR: OUTB, INB
 *   3 pic2.imr   slave 8259A interrupt mask (0xa1): OUTB, INB
 *   4 cmos       MC146818 NVRAM byte 0x40..0x5f (not a clock or status
 *                byte: plain storage in devices/cmos_rtc.cpp and in QEMU's
 *                RTC): index to 0x70, data to 0x71, index again, data from
 *                0x71
 *   5 pit.status 8254 channel 2 (not channel 0, the timer interrupt):
 *                control word (mode 0..5, access LSB/MSB/both, BCD or
 *                binary), the count bytes that access wants, then a
 *                read-back command latching channel 2's status only
 *                (0xe8) and its read from 0x42; bits 5..0 (access, mode,
 *                BCD) must be what was programmed.  OUT (bit 7) and null
 *                count (bit 6) depend on time and are masked off.
 *   6 uart.rep   REP OUTSB of 1..8 bytes to the scratch register (it keeps
 *                the last), then INB, and REP INSB of as many bytes (each
 *                the last byte written)
 *   7 cmos.word  OUTW to 0x70 (index in the low byte, data in the high:
 *                an 8-bit device, so the bus splits it into 0x70 then
 *                0x71), then INW from 0x70: the high byte is the data, the
 *                low byte the index port read back, which is write-only on
 *                the AT (reads float high: 0xff in vmm and in QEMU)
 *
 * Every value read is checked against what was written and folded into an
 * FNV-1a checksum, which therefore depends only on the command line.
 * Afterwards the last values written must still be there (scratch, LCR,
 * both masks, the 32 NVRAM bytes), then the LCR, the masks (all masked)
 * and the NVRAM bytes get their old values back.
 *
 * MMIO (mode=mmio).  vmm registers no MMIO device, so the loop addresses
 * physical memory that nothing decodes: the 4 KiB page at MMIO_PA
 * (0xfeb00000), mapped with PCD|PWT as a driver's ioremap would.  Under
 * QEMU's PC machine (i440FX, -m 16) it lies in the PCI hole between the
 * BARs SeaBIOS assigns (e1000 at 0xfebc0000, VGA at 0xfd000000 and
 * 0xfebf0000; ROM BARs disabled after boot: "info mtree" shows nothing
 * there), in vmm beyond RAM with no device (devices/bus.cpp: counted as
 * unassigned, logged only with -d unimp).  What such reads return
 * differs: vmm answers all ones (0xffffffff, 0xffff, 0xff), as a PC's
 * host bridge does for a PCI master abort; QEMU 7.2's unassigned memory
 * reads 0 (TCG ignores the decode error).  So nothing value-dependent is
 * printed in the common output: the loop checks
 * only that reads are consistent, whatever the value is: every read of a
 * size returns what the first dword read at the start returned, truncated
 * to that size, also right after a write (writes are dropped).  The
 * operations: a dword store then load, a dword load, a word store and
 * load, a byte store and load, a read-modify-write (ADD to memory) then a
 * load, REP MOVSD of 4 dwords from the page into RAM, REP STOSD of 4
 * dwords into it then a load, XCHG with memory; offsets anywhere in the
 * page.  The checksum is over the operations and offsets (the LCG) only.
 *
 * With the word vmm-only on the command line, the MMIO part ends with the
 * values themselves in a section of its own (portio.vmm-only.expected):
 * all ones, as on a PC, where a read that no device claims ends in a PCI
 * master abort, for which the host bridge returns all ones.
 *
 * Command line: iters=N (default 20000), mode=pio|mmio|both (default
 * both), seed=N (default 1), vmm-only, e.g.
 *   vmm -m 16 -kernel portio.elf -append "iters=1000000 mode=pio"
 * Each loop is between "-- begin timed loop" and "-- end timed loop".
 */
#include "mm_common.h"

#define MMIO_PA    0xfeb00000u
#define UART_LCR   0x3fb
#define UART_SCR   0x3ff
#define CMOS_INDEX 0x70
#define CMOS_DATA  0x71
#define CMOS_FIRST 0x40
#define CMOS_BYTES 32
#define PIT_CH2    0x42
#define FNV_PRIME  0x01000193u

static uint32_t hash;
static uint32_t bad;

static inline void fold(uint32_t v)
{
    hash = (hash ^ v) * FNV_PRIME;
}

static inline void expect(uint32_t got, uint32_t want)
{
    fold(got);
    bad += got != want;
}

/* ---- port I/O ------------------------------------------------------------------ */

static const char *const pio_names[8] = {"uart.scr", "uart.lcr", "pic1.imr", "pic2.imr",
                                         "cmos",     "pit.status", "uart.rep", "cmos.word"};
enum { OP_SCR, OP_LCR, OP_PIC1, OP_PIC2, OP_CMOS, OP_PIT, OP_REP, OP_CMOS_WORD };

static uint8_t cmos_read(uint8_t index)
{
    outb(CMOS_INDEX, index);
    return inb(CMOS_DATA);
}

static void cmos_write(uint8_t index, uint8_t v)
{
    outb(CMOS_INDEX, index);
    outb(CMOS_DATA, v);
}

static void run_pio(uint32_t iters, uint32_t seed)
{
    sys_section("port I/O");
    uint8_t lcr0 = inb(UART_LCR);
    uint8_t nvram0[CMOS_BYTES], nvram[CMOS_BYTES];
    for (int i = 0; i < CMOS_BYTES; i++)
        nvram0[i] = nvram[i] = cmos_read(CMOS_FIRST + i);
    uint32_t count[8] = {0};
    uint8_t last_scr = inb(UART_SCR), last_lcr = lcr0, last_imr1 = inb(PIC1_DATA), last_imr2 = inb(PIC2_DATA);
    uint8_t out_buf[8], in_buf[8];

    hash = MM_FNV_INIT;
    bad = 0;
    uint32_t x = seed;
    printf("-- begin timed loop\n");
    for (uint32_t i = 0; i < iters; i++) {
        x = mm_lcg(x);
        uint32_t op = x >> 29;
        uint8_t v = (uint8_t)(x >> 8);
        count[op]++;
        switch (op) {
        case OP_SCR:
            outb(UART_SCR, v);
            expect(inb(UART_SCR), v);
            last_scr = v;
            break;
        case OP_LCR:
            v &= 0x3f;
            outb(UART_LCR, v);
            expect(inb(UART_LCR), v);
            last_lcr = v;
            break;
        case OP_PIC1:
            v |= 0x01;
            outb(PIC1_DATA, v);
            expect(inb(PIC1_DATA), v);
            last_imr1 = v;
            break;
        case OP_PIC2:
            outb(PIC2_DATA, v);
            expect(inb(PIC2_DATA), v);
            last_imr2 = v;
            break;
        case OP_CMOS: {
            uint8_t index = CMOS_FIRST + ((x >> 16) & (CMOS_BYTES - 1));
            cmos_write(index, v);
            expect(cmos_read(index), v);
            nvram[index - CMOS_FIRST] = v;
            break;
        }
        case OP_PIT: {
            uint32_t mode = ((x >> 16) & 0xff) % 6, access = 1 + ((x >> 24) & 0xf) % 3, bcd = (x >> 3) & 1;
            uint8_t ctrl = (uint8_t)(2u << 6 | access << 4 | mode << 1 | bcd);
            outb(PIT_CMD, ctrl);
            /* Count bytes with valid BCD digits (0..7 each). */
            if (access & 1)
                outb(PIT_CH2, v & 0x77);
            if (access & 2)
                outb(PIT_CH2, (v >> 1) & 0x77);
            outb(PIT_CMD, 0xc0 | 0x20 | 1u << 3);   /* read-back: status only, channel 2 */
            expect(inb(PIT_CH2) & 0x3f, ctrl & 0x3f);
            break;
        }
        case OP_REP: {
            uint32_t n = 1 + ((x >> 16) & 7), k;
            for (k = 0; k < n; k++)
                out_buf[k] = (uint8_t)(v + 37 * k);
            const uint8_t *src = out_buf;
            uint32_t cnt = n;
            __asm__ volatile("rep outsb" : "+S"(src), "+c"(cnt) : "d"(UART_SCR), "m"(out_buf) : "memory");
            uint8_t last = out_buf[n - 1];
            expect(inb(UART_SCR), last);
            uint8_t *dst = in_buf;
            cnt = n;
            __asm__ volatile("rep insb" : "+D"(dst), "+c"(cnt) : "d"(UART_SCR) : "memory");
            for (k = 0; k < n; k++)
                expect(in_buf[k], last);
            last_scr = last;
            break;
        }
        default: { /* OP_CMOS_WORD */
            uint8_t index = CMOS_FIRST + ((x >> 16) & (CMOS_BYTES - 1));
            outw(CMOS_INDEX, (uint16_t)(v << 8 | index));
            expect(inw(CMOS_INDEX), (uint32_t)v << 8 | 0xff);
            nvram[index - CMOS_FIRST] = v;
            break;
        }
        }
    }
    /* The LCR first: everything printed goes out with the old line settings. */
    uint8_t lcr_end = inb(UART_LCR);
    outb(UART_LCR, lcr0);
    printf("-- end timed loop\n");

    check_detail("every value read back equals the value written", bad == 0, "%u mismatches", bad);
    uint32_t stale = 0;
    for (int i = 0; i < CMOS_BYTES; i++)
        stale += cmos_read(CMOS_FIRST + i) != nvram[i];
    check_detail("each NVRAM byte 0x40..0x5f holds the last value written", stale == 0, "%u differ", stale);
    check("the scratch register, LCR and both IMRs hold the last values written",
          inb(UART_SCR) == last_scr && lcr_end == last_lcr && inb(PIC1_DATA) == last_imr1 &&
              inb(PIC2_DATA) == last_imr2);
    pic_set_mask(0xffff);
    for (int i = 0; i < CMOS_BYTES; i++)
        cmos_write(CMOS_FIRST + i, nvram0[i]);
    stale = 0;
    for (int i = 0; i < CMOS_BYTES; i++)
        stale += cmos_read(CMOS_FIRST + i) != nvram0[i];
    check("LCR, masks and NVRAM restored",
          stale == 0 && inb(UART_LCR) == lcr0 && pic_get_mask() == 0xffff);
    printf("pio:");
    for (int op = 0; op < 8; op++)
        printf(" %s %u", pio_names[op], count[op]);
    printf("; checksum 0x%08x\n", hash);
}

/* ---- MMIO ----------------------------------------------------------------------- */

static const char *const mmio_names[8] = {"st32+ld32", "ld32", "st16+ld16", "st8+ld8",
                                          "add32+ld32", "movsd4", "stosd4+ld32", "xchg32"};

static void run_mmio(uint32_t iters, uint32_t seed, uint32_t *pd)
{
    sys_section("MMIO (unassigned physical memory)");
    *mm_pte(pd, MMIO_PA) = MMIO_PA | PTE_P | PTE_W | PTE_PCD | PTE_PWT;
    invlpg(MMIO_PA);
    volatile uint8_t *page = (volatile uint8_t *)MMIO_PA;
    /* What the bus answers (not printed: it differs between emulators). */
    const uint32_t d = *(volatile uint32_t *)page;
    const uint32_t w = d & 0xffff, b = d & 0xff;
    uint32_t count[8] = {0};
    uint32_t ram[4];

    hash = MM_FNV_INIT;
    bad = 0;
    uint32_t x = seed;
    printf("-- begin timed loop\n");
    for (uint32_t i = 0; i < iters; i++) {
        x = mm_lcg(x);
        uint32_t op = x >> 29, off = (x >> 8) & 0xffc, v = x | 0x80000001u;
        volatile uint32_t *p32 = (volatile uint32_t *)(page + off);
        volatile uint16_t *p16 = (volatile uint16_t *)(page + (off | (x & 2)));
        volatile uint8_t *p8 = page + (off | (x & 3));
        count[op]++;
        fold(op << 12 | off);
        switch (op) {
        case 0:
            *p32 = v;
            bad += *p32 != d;
            break;
        case 1:
            bad += *p32 != d;
            break;
        case 2:
            *p16 = (uint16_t)v;
            bad += *p16 != w;
            break;
        case 3:
            *p8 = (uint8_t)v;
            bad += *p8 != b;
            break;
        case 4:
            __asm__ volatile("addl %1, %0" : "+m"(*p32) : "r"(v));
            bad += *p32 != d;
            break;
        case 5: {
            const volatile uint32_t *src = (const volatile uint32_t *)(page + (off & ~0xfu));
            uint32_t *dst = ram, cnt = 4;
            __asm__ volatile("rep movsl" : "+S"(src), "+D"(dst), "+c"(cnt) : : "memory");
            bad += (ram[0] != d) + (ram[1] != d) + (ram[2] != d) + (ram[3] != d);
            break;
        }
        case 6: {
            volatile uint32_t *dst = (volatile uint32_t *)(page + (off & ~0xfu));
            uint32_t cnt = 4;
            __asm__ volatile("rep stosl" : "+D"(dst), "+c"(cnt) : "a"(v) : "memory");
            bad += *p32 != d;
            break;
        }
        default: {
            uint32_t r = v;
            __asm__ volatile("xchgl %0, %1" : "+r"(r), "+m"(*p32) : : "memory");
            bad += r != d;
            break;
        }
        }
    }
    printf("-- end timed loop\n");
    check_detail("reads of unassigned memory are consistent: every dword, word and byte read returns the "
                 "value the first dword read did (truncated), also after writes",
                 bad == 0, "%u reads differ", bad);
    printf("mmio:");
    for (int op = 0; op < 8; op++)
        printf(" %s %u", mmio_names[op], count[op]);
    printf("; checksum 0x%08x\n", hash);
    if (sys_cmdline_has("vmm-only")) {
        sys_section("vmm-only: unassigned physical memory reads all ones (QEMU reads 0)");
        check_eq("dword read", d, 0xffffffffu);
        check_eq("word read", *(volatile uint16_t *)(page + 0x802), 0xffff);
        check_eq("byte read", *(page + 0x7ff), 0xff);
    }
}

int guest_main(void)
{
    sys_init();
    mm_init(0x40000000u);

    uint32_t iters = mm_arg("iters", 20000);
    uint32_t seed = mm_arg("seed", 1);
    static const char *const modes[] = {"pio", "mmio", "both"};
    int mode = mm_arg_choice("mode", modes, 3, 2);
    if (mm_top > MMIO_PA)
        sys_fatal("RAM reaches the MMIO page 0x%x", MMIO_PA);
    printf("portio: %u iterations (%s), seed %u\n", iters,
           mode == 0 ? "port I/O" : mode == 1 ? "MMIO" : "port I/O, then MMIO", seed);

    uint32_t *pd = mm_palloc(1);
    for (uint32_t p = 0; p < mm_top; p += 4096)
        *mm_pte(pd, p) = p | PTE_P | PTE_W;
    pg_enable(pd);
    write_cr0(read_cr0() | CR0_WP);
    check("paging on, CR0.WP set", (read_cr0() & (CR0_PG | CR0_WP)) == (CR0_PG | CR0_WP));

    if (mode != 1)
        run_pio(iters, seed);
    if (mode != 0)
        run_mmio(iters, seed, pd);
    sys_finish();
}

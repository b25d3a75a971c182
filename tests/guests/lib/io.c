/*
 * io.c - console output for guest programs: a polled 16550 UART on COM1 and
 * a small printf on top of it, plus exit().
 */
#include "io.h"

#define COM1 0x3f8
/* 16550 register offsets from the base port. */
#define UART_THR 0      /* transmit holding register (DLAB = 0) */
#define UART_DLL 0      /* divisor latch, low byte (DLAB = 1) */
#define UART_IER 1      /* interrupt enable (DLAB = 0) */
#define UART_DLM 1      /* divisor latch, high byte (DLAB = 1) */
#define UART_FCR 2      /* FIFO control (write only) */
#define UART_LCR 3      /* line control */
#define UART_MCR 4      /* modem control */
#define UART_LSR 5      /* line status */

#define LCR_8N1  0x03   /* 8 data bits, no parity, 1 stop bit */
#define LCR_DLAB 0x80   /* divisor latch access */
#define LSR_THRE 0x20   /* transmit holding register empty */

#define DEBUG_EXIT_PORT 0xf4

static int serial_ready;

/* Programs the UART the way a real driver would, so that a device model that
 * insists on a configured line still works.  115200 baud = divisor 1. */
static void serial_init(void)
{
    outb(COM1 + UART_IER, 0x00);            /* polled: no interrupts */
    outb(COM1 + UART_LCR, LCR_DLAB);
    outb(COM1 + UART_DLL, 1);
    outb(COM1 + UART_DLM, 0);
    outb(COM1 + UART_LCR, LCR_8N1);         /* also clears DLAB */
    outb(COM1 + UART_FCR, 0xc7);            /* enable + clear FIFOs, 14-byte trigger */
    outb(COM1 + UART_MCR, 0x03);            /* DTR | RTS; OUT2 off: no IRQ */
    serial_ready = 1;
}

/* No '\n' -> "\r\n" translation: the output must equal the native stdout
 * byte for byte. */
int putchar(int c)
{
    if (!serial_ready)
        serial_init();
    /* Wait until the transmitter can take a byte.  Emulated UARTs are
     * always ready, but polling keeps the code correct on real ones and
     * exercises IN. */
    while (!(inb(COM1 + UART_LSR) & LSR_THRE))
        ;
    outb(COM1 + UART_THR, (uint8_t)c);
    return (unsigned char)c;
}

int puts(const char *s)
{
    while (*s)
        putchar(*s++);
    putchar('\n');
    return 0;
}

/* ---- printf ------------------------------------------------------------ */

struct spec {
    int left;       /* '-' flag: pad on the right */
    int zero;       /* '0' flag: pad numbers with zeros */
    int width;      /* minimum field width */
};

/* Writes s (len bytes) preceded by an optional sign and padded to the field
 * width the way glibc does: zeros go between the sign and the digits, spaces
 * before the sign (or after everything when left-justified). */
static int emit_field(const struct spec *sp, char sign, const char *s, int len, int numeric)
{
    int body = len + (sign != 0);
    int pad = sp->width > body ? sp->width - body : 0;
    int n = 0;

    if (!sp->left && !(sp->zero && numeric))
        for (; pad > 0; pad--, n++)
            putchar(' ');
    if (sign) {
        putchar(sign);
        n++;
    }
    if (!sp->left && sp->zero && numeric)
        for (; pad > 0; pad--, n++)
            putchar('0');
    for (int i = 0; i < len; i++, n++)
        putchar(s[i]);
    for (; pad > 0; pad--, n++)
        putchar(' ');
    return n;
}

static const char digits_lower[] = "0123456789abcdef";
static const char digits_upper[] = "0123456789ABCDEF";

/* Formats an unsigned value into the end of buf; returns the first digit.
 * The 64-bit path divides with __udivdi3/__umoddi3 (lib/libgcc.c); the 32-bit
 * path is kept separate so that plain %d/%x use the DIV instruction only. */
static char *format_u32(char *end, uint32_t v, unsigned base, const char *digits)
{
    char *p = end;
    do {
        *--p = digits[v % base];
        v /= base;
    } while (v);
    return p;
}

static char *format_u64(char *end, uint64_t v, unsigned base, const char *digits)
{
    char *p = end;
    do {
        *--p = digits[v % base];
        v /= base;
    } while (v);
    return p;
}

int vprintf(const char *fmt, va_list ap)
{
    int n = 0;
    char buf[24];                           /* 2^64 in octal is 22 digits */
    char *end = buf + sizeof buf;

    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            putchar(*fmt);
            n++;
            continue;
        }
        fmt++;

        struct spec sp = {0, 0, 0};
        for (;; fmt++) {
            if (*fmt == '-')
                sp.left = 1;
            else if (*fmt == '0')
                sp.zero = 1;
            else
                break;
        }
        if (*fmt == '*') {
            sp.width = va_arg(ap, int);
            if (sp.width < 0) {             /* as in C: a negative width means '-' */
                sp.left = 1;
                sp.width = -sp.width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                sp.width = sp.width * 10 + (*fmt++ - '0');
        }

        int longs = 0;                      /* number of 'l's */
        while (*fmt == 'l') {
            longs++;
            fmt++;
        }

        char c = *fmt;
        char sign = 0;
        char *p;
        switch (c) {
        case 'd':
        case 'i':
            if (longs >= 2) {
                int64_t v = va_arg(ap, int64_t);
                /* Negate as unsigned: -INT64_MIN would overflow. */
                uint64_t m = v < 0 ? -(uint64_t)v : (uint64_t)v;
                sign = v < 0 ? '-' : 0;
                p = format_u64(end, m, 10, digits_lower);
            } else {
                int32_t v = va_arg(ap, int32_t);
                uint32_t m = v < 0 ? -(uint32_t)v : (uint32_t)v;
                sign = v < 0 ? '-' : 0;
                p = format_u32(end, m, 10, digits_lower);
            }
            n += emit_field(&sp, sign, p, (int)(end - p), 1);
            break;
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            unsigned base = c == 'u' ? 10 : c == 'o' ? 8 : 16;
            const char *digits = c == 'X' ? digits_upper : digits_lower;
            if (longs >= 2)
                p = format_u64(end, va_arg(ap, uint64_t), base, digits);
            else
                p = format_u32(end, va_arg(ap, uint32_t), base, digits);
            n += emit_field(&sp, 0, p, (int)(end - p), 1);
            break;
        }
        case 'c':
            buf[0] = (char)va_arg(ap, int);
            n += emit_field(&sp, 0, buf, 1, 0);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            n += emit_field(&sp, 0, s, (int)strlen(s), 0);
            break;
        }
        case '%':
            putchar('%');
            n++;
            break;
        case '\0':                          /* stray '%' at the end */
            return n;
        default:                            /* unsupported: show it verbatim */
            putchar('%');
            putchar(c);
            n += 2;
            break;
        }
    }
    return n;
}

int printf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

/* ---- exit --------------------------------------------------------------- */

void halt(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

void exit(int code)
{
    outb(DEBUG_EXIT_PORT, (uint8_t)code);
    halt();
}

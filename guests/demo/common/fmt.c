/*
 * fmt.c - see fmt.h.  Compiled into the kernel and into every user program.
 */
#include "fmt.h"

#include <stdint.h>

struct out {
    char *buf;
    size_t size, len;
};

static void put(struct out *o, char c)
{
    if (o->len + 1 < o->size)
        o->buf[o->len++] = c;
}

static void field(struct out *o, int left, char padc, int width, const char *s, int len)
{
    int pad = width > len ? width - len : 0;
    if (!left)
        for (; pad > 0; pad--)
            put(o, padc);
    for (int i = 0; i < len; i++)
        put(o, s[i]);
    for (; pad > 0; pad--)
        put(o, ' ');
}

int vfmt(char *buf, size_t size, const char *fmt, va_list ap)
{
    struct out o = {buf, size, 0};
    char num[12];

    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(&o, *fmt);
            continue;
        }
        fmt++;
        int left = 0, zero = 0, width = 0;
        for (;; fmt++) {
            if (*fmt == '-')
                left = 1;
            else if (*fmt == '0')
                zero = 1;
            else
                break;
        }
        if (*fmt == '*') {
            width = va_arg(ap, int);
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        while (*fmt == 'l')
            fmt++;

        char *end = num + sizeof num, *p = end;
        switch (*fmt) {
        case 'd': {
            int v = va_arg(ap, int);
            uint32_t m = v < 0 ? -(uint32_t)v : (uint32_t)v;
            do {
                *--p = (char)('0' + m % 10);
                m /= 10;
            } while (m);
            if (v < 0)
                *--p = '-';
            field(&o, left, zero ? '0' : ' ', width, p, (int)(end - p));
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            uint32_t v = va_arg(ap, uint32_t);
            unsigned base = *fmt == 'u' ? 10 : 16;
            const char *digits = *fmt == 'X' ? "0123456789ABCDEF" : "0123456789abcdef";
            do {
                *--p = digits[v % base];
                v /= base;
            } while (v);
            field(&o, left, zero ? '0' : ' ', width, p, (int)(end - p));
            break;
        }
        case 'c':
            num[0] = (char)va_arg(ap, int);
            field(&o, left, ' ', width, num, 1);
            break;
        case 's': {
            const char *s = va_arg(ap, const char *);
            if (!s)
                s = "(null)";
            int len = 0;
            while (s[len])
                len++;
            field(&o, left, ' ', width, s, len);
            break;
        }
        case '%':
            put(&o, '%');
            break;
        default:                    /* unknown: print it as it was */
            put(&o, '%');
            if (*fmt)
                put(&o, *fmt);
            else
                fmt--;
            break;
        }
    }
    if (o.size)
        o.buf[o.len] = 0;
    return (int)o.len;
}

int sfmt(char *buf, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vfmt(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

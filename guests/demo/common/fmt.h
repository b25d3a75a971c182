/*
 * fmt.h - a small snprintf for the demo kernel and its user programs (the
 * guest runtime's printf writes straight to the UART; both sides here need
 * to format into memory).
 *
 * Conversions: %d %u %x %X %c %s %%, flags '-' and '0', a field width
 * (digits or '*'), the length modifier l (ignored: int and long are 32 bits).
 */
#ifndef DEMO_FMT_H
#define DEMO_FMT_H

#include <stdarg.h>
#include <stddef.h>

/* Like vsnprintf: writes at most size - 1 characters and a NUL (size > 0),
 * returns the number of characters written (not the would-be length). */
int vfmt(char *buf, size_t size, const char *fmt, va_list ap);
int sfmt(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* DEMO_FMT_H */

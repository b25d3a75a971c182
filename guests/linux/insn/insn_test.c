/* The guest's instruction test: a 32-bit user-space program that exercises
 * the instruction set the way Linux programs use it (integer and x87
 * arithmetic, string instructions, modify_ldt segments and far calls,
 * signals raised by faults and traps, self-modifying code). Its output is
 * deterministic (no addresses, no timing: instruction pointers are printed
 * relative to a label) so that the same static binary prints the same lines
 * natively on an x86 host and inside the guest (tests/linux/run_insn_test.sh).
 *
 *   gcc -m32 -static -O1 -o insn-test insn_test.c
 *
 * Only architecturally defined flags are printed (undefined ones differ
 * between processors).
 */
#define _GNU_SOURCE
#include <asm/ldt.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#define CF 0x001
#define PF 0x004
#define AF 0x010
#define ZF 0x040
#define SF 0x080
#define OF 0x800
#define ARITH (CF | PF | AF | ZF | SF | OF)
#define LOGIC (CF | PF | ZF | SF | OF)

static const char *flagstr(uint32_t f, uint32_t mask)
{
  static char buf[8][32];
  static int n;
  char *p = buf[n++ & 7];
  char *q = p;
  static const struct { uint32_t bit; char c; } fl[] = {
    {OF, 'O'}, {SF, 'S'}, {ZF, 'Z'}, {AF, 'A'}, {PF, 'P'}, {CF, 'C'}};
  for (unsigned i = 0; i < sizeof fl / sizeof fl[0]; i++)
    if (mask & fl[i].bit)
      *q++ = (f & fl[i].bit) ? fl[i].c : '-';
  *q = 0;
  return p;
}

/* ---------------------------------------------------------------- ALU */

#define BINOP(insn, mask)                                                      \
  static void t_##insn(uint32_t a, uint32_t b, uint32_t cf)                    \
  {                                                                            \
    uint32_t r = a, f, fin = 0x202 | cf;                                       \
    __asm__ volatile("push %3\n\tpopf\n\t" #insn "l %2, %0\n\tpushf\n\tpop %1" \
                     : "+r"(r), "=&r"(f)                                       \
                     : "r"(b), "r"(fin)                                        \
                     : "cc");                                                  \
    printf("alu %-4s %08x,%08x cf=%u -> %08x %s\n", #insn, a, b, cf, r,       \
           flagstr(f, mask));                                                  \
  }
BINOP(add, ARITH)
BINOP(adc, ARITH)
BINOP(sub, ARITH)
BINOP(sbb, ARITH)
BINOP(and, LOGIC)
BINOP(or, LOGIC)
BINOP(xor, LOGIC)
BINOP(cmp, ARITH)
BINOP(test, LOGIC)

#define UNOP(insn, mask)                                                       \
  static void t_##insn(uint32_t a, uint32_t cf)                                \
  {                                                                            \
    uint32_t r = a, f, fin = 0x202 | cf;                                       \
    __asm__ volatile("push %2\n\tpopf\n\t" #insn "l %0\n\tpushf\n\tpop %1"     \
                     : "+r"(r), "=&r"(f)                                       \
                     : "r"(fin)                                                \
                     : "cc");                                                  \
    printf("alu %-4s %08x cf=%u -> %08x %s\n", #insn, a, cf, r,               \
           flagstr(f, mask));                                                  \
  }
UNOP(inc, ARITH)
UNOP(dec, ARITH)
UNOP(neg, ARITH)
UNOP(not, ARITH)

/* Shifts and rotates by CL: OF is defined for a count of 1 only, AF never;
 * a count of 0 leaves the flags alone. */
#define SHIFT(insn, mask1, maskn)                                              \
  static void t_##insn(uint32_t a, uint32_t c, uint32_t cf)                    \
  {                                                                            \
    uint32_t r = a, f, fin = 0x202 | cf | (c == 0 ? (OF | AF | ZF) : 0);       \
    __asm__ volatile("push %3\n\tpopf\n\t" #insn "l %%cl, %0\n\tpushf\n\tpop %1" \
                     : "+r"(r), "=&r"(f)                                       \
                     : "c"(c), "r"(fin)                                        \
                     : "cc");                                                  \
    uint32_t m = (c & 31) == 0 ? ARITH : (c & 31) == 1 ? (mask1) : (maskn);    \
    printf("alu %-4s %08x,%u cf=%u -> %08x %s\n", #insn, a, c, cf, r,         \
           flagstr(f, m));                                                     \
  }
SHIFT(shl, LOGIC, CF | PF | ZF | SF)
SHIFT(shr, LOGIC, CF | PF | ZF | SF)
SHIFT(sar, LOGIC, CF | PF | ZF | SF)
SHIFT(rol, CF | OF, CF)
SHIFT(ror, CF | OF, CF)
SHIFT(rcl, CF | OF, CF)
SHIFT(rcr, CF | OF, CF)

#define DSHIFT(insn)                                                           \
  static void t_##insn(uint32_t a, uint32_t b, uint32_t c)                     \
  {                                                                            \
    uint32_t r = a, f, fin = 0x202;                                            \
    __asm__ volatile("push %4\n\tpopf\n\t" #insn "l %%cl, %2, %0\n\tpushf\n\tpop %1" \
                     : "+r"(r), "=&r"(f)                                       \
                     : "r"(b), "c"(c), "r"(fin)                                \
                     : "cc");                                                  \
    uint32_t m = (c & 31) == 0 ? 0 : (c & 31) == 1 ? LOGIC : (CF | PF | ZF | SF); \
    printf("alu %-4s %08x,%08x,%u -> %08x %s\n", #insn, a, b, c, r,           \
           flagstr(f, m));                                                     \
  }
DSHIFT(shld)
DSHIFT(shrd)

static void alu(void)
{
  static const uint32_t v[] = {0, 1, 0x7f, 0x80, 0x7fffffff, 0x80000000, 0xffffffff, 0x12345678,
                               0xfedcba98, 0x0000ffff};
  const int n = sizeof v / sizeof v[0];
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j += 3) {
      for (uint32_t cf = 0; cf < 2; cf++) {
        t_adc(v[i], v[j], cf);
        t_sbb(v[i], v[j], cf);
      }
      t_add(v[i], v[j], 0);
      t_sub(v[i], v[j], 0);
      t_cmp(v[i], v[j], 0);
      t_and(v[i], v[j], 1);
      t_or(v[i], v[j], 1);
      t_xor(v[i], v[j], 1);
      t_test(v[i], v[j], 1);
    }
  for (int i = 0; i < n; i++) {
    t_inc(v[i], 1);
    t_dec(v[i], 0);
    t_neg(v[i], 0);
    t_not(v[i], 1);
    static const uint32_t counts[] = {0, 1, 4, 31, 33};
    for (int k = 0; k < 5; k++)
      for (uint32_t cf = 0; cf < 2; cf++) {
        t_shl(v[i], counts[k], cf);
        t_shr(v[i], counts[k], cf);
        t_sar(v[i], counts[k], cf);
        t_rol(v[i], counts[k], cf);
        t_ror(v[i], counts[k], cf);
        t_rcl(v[i], counts[k], cf);
        t_rcr(v[i], counts[k], cf);
      }
    for (int k = 0; k < 5; k++) {
      t_shld(v[i], 0x9abcdef0, counts[k]);
      t_shrd(v[i], 0x9abcdef0, counts[k]);
    }
  }
  /* bsf/bsr (ZF only), bt/bts/btr/btc (CF), bswap, xadd, cmpxchg, setcc. */
  for (int i = 0; i < n; i++) {
    uint32_t r1 = 0xdead, r2 = 0xdead, f1, f2;
    __asm__ volatile("bsfl %2, %0\n\tpushf\n\tpop %1" : "+r"(r1), "=r"(f1) : "r"(v[i]) : "cc");
    __asm__ volatile("bsrl %2, %0\n\tpushf\n\tpop %1" : "+r"(r2), "=r"(f2) : "r"(v[i]) : "cc");
    if (v[i] == 0)
      r1 = r2 = 0; /* the destination is undefined for a zero source */
    printf("bsf/bsr %08x -> %u %s %u %s\n", v[i], r1, flagstr(f1, ZF), r2, flagstr(f2, ZF));
    uint32_t x = v[i], b = (uint32_t)i * 7, f3, bs = v[i], fs, sw;
    __asm__ volatile("btl %2, %1\n\tpushf\n\tpop %0" : "=r"(f3) : "r"(x), "r"(b) : "cc");
    __asm__ volatile("btcl %2, %0\n\tpushf\n\tpop %1" : "+r"(bs), "=r"(fs) : "r"(b) : "cc");
    sw = v[i];
    __asm__ volatile("bswap %0" : "+r"(sw));
    printf("bt %08x,%u -> %s btc -> %08x %s bswap -> %08x\n", x, b, flagstr(f3, CF), bs,
           flagstr(fs, CF), sw);
  }
  {
    uint32_t a = 5, m = 7, f;
    __asm__ volatile("xaddl %0, %1\n\tpushf\n\tpop %2" : "+r"(a), "+m"(m), "=r"(f) : : "cc");
    printf("xadd -> reg %u mem %u %s\n", a, m, flagstr(f, ARITH));
    uint32_t acc = 9, mem = 9, nv = 42;
    __asm__ volatile("cmpxchgl %3, %1\n\tpushf\n\tpop %2" : "+a"(acc), "+m"(mem), "=r"(f) : "r"(nv) : "cc");
    printf("cmpxchg equal -> eax %u mem %u %s\n", acc, mem, flagstr(f, ARITH));
    acc = 1;
    __asm__ volatile("cmpxchgl %3, %1\n\tpushf\n\tpop %2" : "+a"(acc), "+m"(mem), "=r"(f) : "r"(nv) : "cc");
    printf("cmpxchg differ -> eax %u mem %u %s\n", acc, mem, flagstr(f, ARITH));
    uint32_t lo = 0x11111111, hi = 0x22222222, blo = 0x33333333, chi = 0x44444444;
    uint64_t m64 = 0x2222222211111111ull;
    __asm__ volatile("cmpxchg8b %2\n\tpushf\n\tpop %3"
                     : "+a"(lo), "+d"(hi), "+m"(m64), "=r"(f)
                     : "b"(blo), "c"(chi)
                     : "cc");
    printf("cmpxchg8b -> %08x%08x %s\n", (uint32_t)(m64 >> 32), (uint32_t)m64, flagstr(f, ZF));
  }
  {
    /* BCD and friends: AAA, DAA, DAS with their defined flags. */
    uint32_t a = 0x0f9, f;
    __asm__ volatile("push %2\n\tpopf\n\tdaa\n\tpushf\n\tpop %1" : "+a"(a), "=r"(f) : "r"(0x202) : "cc");
    printf("daa 0xf9 -> %02x %s\n", a & 0xff, flagstr(f, CF | AF | ZF | SF | PF));
    a = 0x00a5;
    __asm__ volatile("push %2\n\tpopf\n\tdas\n\tpushf\n\tpop %1" : "+a"(a), "=r"(f) : "r"(0x203) : "cc");
    printf("das 0xa5 cf=1 -> %02x %s\n", a & 0xff, flagstr(f, CF | AF | ZF | SF | PF));
    a = 0x010b;
    __asm__ volatile("push %2\n\tpopf\n\taaa\n\tpushf\n\tpop %1" : "+a"(a), "=r"(f) : "r"(0x202) : "cc");
    printf("aaa 0x010b -> %04x %s\n", a & 0xffff, flagstr(f, CF | AF));
    a = 0x0507;
    __asm__ volatile("aad\n\tpushf\n\tpop %1" : "+a"(a), "=r"(f) : : "cc");
    printf("aad 0x0507 -> %04x %s\n", a & 0xffff, flagstr(f, ZF | SF | PF));
    a = 0x0047;
    __asm__ volatile("aam\n\tpushf\n\tpop %1" : "+a"(a), "=r"(f) : : "cc");
    printf("aam 0x47 -> %04x %s\n", a & 0xffff, flagstr(f, ZF | SF | PF));
  }
}

/* ------------------------------------------------------------ MUL/DIV */

static void muldiv(void)
{
  static const uint32_t v[] = {0, 1, 3, 0x7fffffff, 0x80000000, 0xffffffff, 0x12345678, 0xfffe0001};
  const int n = sizeof v / sizeof v[0];
  for (int i = 0; i < n; i++)
    for (int j = 0; j < n; j++) {
      uint32_t lo = v[i], hi, f;
      __asm__ volatile("mull %3\n\tpushf\n\tpop %2" : "+a"(lo), "=d"(hi), "=r"(f) : "r"(v[j]) : "cc");
      printf("mul %08x*%08x -> %08x:%08x %s", v[i], v[j], hi, lo, flagstr(f, CF | OF));
      lo = v[i];
      __asm__ volatile("imull %3\n\tpushf\n\tpop %2" : "+a"(lo), "=d"(hi), "=r"(f) : "r"(v[j]) : "cc");
      printf(" imul %08x:%08x %s", hi, lo, flagstr(f, CF | OF));
      uint32_t r = v[i];
      __asm__ volatile("imull %2, %0\n\tpushf\n\tpop %1" : "+r"(r), "=r"(f) : "r"(v[j]) : "cc");
      printf(" imul2 %08x %s", r, flagstr(f, CF | OF));
      __asm__ volatile("imull $-7, %2, %0\n\tpushf\n\tpop %1" : "=r"(r), "=r"(f) : "r"(v[i]) : "cc");
      printf(" imul3 %08x %s\n", r, flagstr(f, CF | OF));
      if (v[j] != 0 && v[j] > (v[i] >> 16)) {
        uint32_t q = v[i] << 16, d = v[i] >> 16;
        __asm__ volatile("divl %2" : "+a"(q), "+d"(d) : "r"(v[j]) : "cc");
        printf("div %08x:%08x/%08x -> q %08x r %08x\n", v[i] >> 16, v[i] << 16, v[j], q, d);
      }
      if (v[j] != 0 && !(v[i] == 0x80000000 && v[j] == 0xffffffff)) {
        int32_t q = (int32_t)v[i], d;
        __asm__ volatile("cltd\n\tidivl %2" : "+a"(q), "=&d"(d) : "r"(v[j]) : "cc");
        printf("idiv %08x/%08x -> q %08x r %08x\n", v[i], v[j], (uint32_t)q, (uint32_t)d);
      }
    }
  uint16_t ax = 0xfff0, dx;
  __asm__ volatile("mulw %2" : "+a"(ax), "=d"(dx) : "r"((uint16_t)0x1234) : "cc");
  printf("mulw -> %04x:%04x\n", dx, ax);
  uint32_t a = 0x0123;
  __asm__ volatile("movb $7, %%cl\n\tdivb %%cl" : "+a"(a) : : "ecx", "cc");
  printf("divb 0x123/7 -> %04x\n", a & 0xffff);
  a = 0x00f9; /* -7 */
  __asm__ volatile("movb $3, %%cl\n\timulb %%cl" : "+a"(a) : : "ecx", "cc");
  printf("imulb -7*3 -> %04x\n", a & 0xffff);
}

/* ---------------------------------------------------------------- x87 */

static void hex80(const char *what, long double x)
{
  unsigned char b[10];
  memcpy(b, &x, 10);
  printf("%s:", what);
  for (int i = 9; i >= 0; i--)
    printf("%02x", b[i]);
  printf("\n");
}

static void x87(void)
{
  volatile double a = 1.0, b = 3.0, c = 2.0;
  double q = a / b;
  printf("x87 1/3 = %.17g\n", q);
  long double ld;
  __asm__ volatile("fld1\n\tfldl %1\n\tfdivrp\n\t" : "=t"(ld) : "m"(b));
  hex80("x87 1/3 (80-bit)", ld);
  __asm__ volatile("fldl %1\n\tfsqrt" : "=t"(ld) : "m"(c));
  hex80("x87 sqrt(2) (80-bit)", ld);
  printf("x87 sqrt(2) = %.17g\n", (double)ld);
  __asm__ volatile("fldpi" : "=t"(ld));
  hex80("x87 pi", ld);
  __asm__ volatile("fldl2e" : "=t"(ld));
  hex80("x87 log2(e)", ld);
  __asm__ volatile("fldln2" : "=t"(ld));
  hex80("x87 ln(2)", ld);
  double s = 0, p = 1;
  for (int i = 1; i <= 1000; i++) {
    s += 1.0 / i;
    p *= 1.001;
  }
  printf("x87 harmonic(1000) = %.17g, 1.001^1000 = %.17g\n", s, p);
  long double ls = 0;
  for (int i = 1; i <= 1000; i++)
    ls += 1.0L / ((long double)i * i);
  hex80("x87 sum 1/i^2 (80-bit)", ls);
  /* fprem, frndint under each rounding mode, fistp, fxtract, fscale. */
  volatile double x = 100.5, y = 7.25;
  long double r;
  __asm__ volatile("fldl %2\n\tfldl %1\n\t1: fprem\n\tfnstsw %%ax\n\ttestb $4, %%ah\n\tjnz 1b\n\tfstp %%st(1)"
                   : "=t"(r) : "m"(x), "m"(y) : "eax");
  printf("x87 fprem(100.5, 7.25) = %.17g\n", (double)r);
  static const char *modes[] = {"nearest", "down", "up", "zero"};
  volatile double vals[] = {2.5, -2.5, 3.5, -0.4};
  for (int m = 0; m < 4; m++) {
    uint16_t cw, ncw;
    __asm__ volatile("fnstcw %0" : "=m"(cw));
    ncw = (cw & ~0x0c00) | (m << 10);
    __asm__ volatile("fldcw %0" : : "m"(ncw));
    printf("x87 round %s:", modes[m]);
    for (int i = 0; i < 4; i++) {
      long double t;
      int32_t iv;
      __asm__ volatile("fldl %1\n\tfrndint" : "=t"(t) : "m"(vals[i]));
      __asm__ volatile("fldl %1\n\tfistpl %0" : "=m"(iv) : "m"(vals[i]) : "st");
      printf(" %g/%d", (double)t, iv);
    }
    printf(" 1/3=%.17g\n", a / b);
    __asm__ volatile("fldcw %0" : : "m"(cw));
  }
  long double e, mnt;
  volatile double z = 1000.0;
  __asm__ volatile("fldl %2\n\tfxtract" : "=t"(mnt), "=u"(e) : "m"(z));
  printf("x87 fxtract(1000) = %.17g * 2^%.17g\n", (double)mnt, (double)e);
  __asm__ volatile("fscale" : "+t"(mnt) : "u"(e));
  printf("x87 fscale back = %.17g\n", (double)mnt);
  /* Comparisons: fcomi flags and fnstsw condition codes. */
  volatile double cmpv[] = {1.0, 2.0, -0.0, 0.0};
  for (int i = 0; i < 4; i += 2) {
    uint32_t f;
    uint16_t sw;
    __asm__ volatile("fldl %2\n\tfldl %3\n\tfcomip %%st(1)\n\tfstp %%st(0)\n\tpushf\n\tpop %0\n\t"
                     "fldl %2\n\tfldl %3\n\tfcompp\n\tfnstsw %1"
                     : "=r"(f), "=a"(sw)
                     : "m"(cmpv[i]), "m"(cmpv[i + 1])
                     : "cc", "st");
    printf("x87 compare %g,%g -> %s sw=%04x\n", cmpv[i + 1], cmpv[i], flagstr(f, ZF | PF | CF),
           sw & 0x4500);
  }
  volatile double big = 1e300;
  double inf = big * big;
  volatile double nan = 0 * inf;
  /* 1e600 fits the 80-bit registers; only the store to double overflows. */
  printf("x87 1e300^2 as double -> %g, 0*x is nan: %d\n", inf, nan != nan);
  uint16_t sw;
  __asm__ volatile("fnstsw %0\n\tfnclex" : "=a"(sw));
  printf("x87 status exception flags: %04x\n", sw & 0x3f);
}

/* ------------------------------------------------------------- strings */

static unsigned char sbuf[256];

static void dumpbuf(const char *what, int from, int len)
{
  printf("%s:", what);
  for (int i = from; i < from + len; i++)
    printf(" %02x", sbuf[i]);
  printf("\n");
}

static void strings(void)
{
  for (int i = 0; i < 256; i++)
    sbuf[i] = (unsigned char)i;
  /* Overlapping forward and backward copies. */
  void *d = sbuf + 8, *s = sbuf;
  uint32_t c = 16;
  __asm__ volatile("cld\n\trep movsb" : "+D"(d), "+S"(s), "+c"(c) : : "memory");
  printf("rep movsb fwd: edi+%d esi+%d ecx=%u\n", (int)((unsigned char *)d - sbuf),
         (int)((unsigned char *)s - sbuf), c);
  dumpbuf("  buf", 0, 28);
  for (int i = 0; i < 256; i++)
    sbuf[i] = (unsigned char)i;
  d = sbuf + 8 + 15;
  s = sbuf + 15;
  c = 16;
  __asm__ volatile("std\n\trep movsb\n\tcld" : "+D"(d), "+S"(s), "+c"(c) : : "memory");
  printf("rep movsb back: edi+%d esi+%d ecx=%u\n", (int)((unsigned char *)d - sbuf),
         (int)((unsigned char *)s - sbuf), c);
  dumpbuf("  buf", 0, 28);
  d = sbuf + 64;
  s = sbuf + 128;
  c = 4;
  __asm__ volatile("cld\n\trep movsl" : "+D"(d), "+S"(s), "+c"(c) : : "memory");
  dumpbuf("rep movsl fwd", 64, 16);
  d = sbuf + 64 + 12;
  s = sbuf + 160 + 12;
  c = 3;
  __asm__ volatile("std\n\trep movsl\n\tcld" : "+D"(d), "+S"(s), "+c"(c) : : "memory");
  printf("rep movsl back: edi+%d esi+%d\n", (int)((unsigned char *)d - sbuf),
         (int)((unsigned char *)s - sbuf));
  dumpbuf("  buf", 64, 16);
  d = sbuf + 100;
  c = 5;
  __asm__ volatile("cld\n\trep stosw" : "+D"(d), "+c"(c) : "a"(0xbeef) : "memory");
  d = sbuf + 120;
  c = 3;
  __asm__ volatile("std\n\trep stosb\n\tcld" : "+D"(d), "+c"(c) : "a"(0x5a) : "memory");
  printf("rep stos: edi+%d\n", (int)((unsigned char *)d - sbuf));
  dumpbuf("  buf", 98, 24);
  /* Comparisons: repe cmpsb stops at the first difference, repne scasb at
   * the first match; both directions. */
  static char s1[] = "the quick brown fox", s2[] = "the quick brawn fox";
  uint32_t f;
  s = s1;
  d = s2;
  c = sizeof s1;
  __asm__ volatile("cld\n\trepe cmpsb\n\tpushf\n\tpop %3"
                   : "+S"(s), "+D"(d), "+c"(c), "=r"(f) : : "cc", "memory");
  printf("repe cmpsb fwd: esi+%d edi+%d ecx=%u %s\n", (int)((char *)s - s1), (int)((char *)d - s2),
         c, flagstr(f, ARITH));
  s = s1 + sizeof s1 - 2;
  d = s2 + sizeof s2 - 2;
  c = sizeof s1 - 1;
  __asm__ volatile("std\n\trepe cmpsb\n\tpushf\n\tpop %3\n\tcld"
                   : "+S"(s), "+D"(d), "+c"(c), "=r"(f) : : "cc", "memory");
  printf("repe cmpsb back: esi+%d edi+%d ecx=%u %s\n", (int)((char *)s - s1),
         (int)((char *)d - s2), c, flagstr(f, ARITH));
  s = s1;
  d = s1;
  c = sizeof s1;
  __asm__ volatile("cld\n\trepe cmpsb\n\tpushf\n\tpop %3"
                   : "+S"(s), "+D"(d), "+c"(c), "=r"(f) : : "cc", "memory");
  printf("repe cmpsb equal: ecx=%u %s\n", c, flagstr(f, ARITH));
  d = s1;
  c = sizeof s1;
  __asm__ volatile("cld\n\trepne scasb\n\tpushf\n\tpop %2"
                   : "+D"(d), "+c"(c), "=r"(f) : "a"('q') : "cc", "memory");
  printf("repne scasb fwd 'q': edi+%d ecx=%u %s\n", (int)((char *)d - s1), c, flagstr(f, ARITH));
  d = s1 + sizeof s1 - 2;
  c = sizeof s1 - 1;
  __asm__ volatile("std\n\trepne scasb\n\tpushf\n\tpop %2\n\tcld"
                   : "+D"(d), "+c"(c), "=r"(f) : "a"('o') : "cc", "memory");
  printf("repne scasb back 'o': edi+%d ecx=%u %s\n", (int)((char *)d - s1), c, flagstr(f, ARITH));
  d = s1;
  c = sizeof s1;
  __asm__ volatile("cld\n\trepne scasb\n\tpushf\n\tpop %2"
                   : "+D"(d), "+c"(c), "=r"(f) : "a"('Z') : "cc", "memory");
  printf("repne scasb missing: edi+%d ecx=%u %s\n", (int)((char *)d - s1), c, flagstr(f, ZF));
  s = s1;
  c = 0;
  uint32_t acc = 0;
  __asm__ volatile("cld\n\tlodsb\n\tlodsb\n\trep lodsb" : "+S"(s), "+a"(acc), "+c"(c) : : "memory");
  printf("lodsb: esi+%d al=%c\n", (int)((char *)s - s1), (char)acc);
}

/* ------------------------------------------------------------- signals */

static struct {
  int signo, code, count;
  uint32_t eip, err, trapno, eax, addr, fs;
} got;
static volatile uint32_t resume;  /* where a fault handler continues; 0: leave EIP */
static uint32_t steps[32];
static int nsteps;

static void handler(int sig, siginfo_t *si, void *ctx)
{
  ucontext_t *uc = ctx;
  got.signo = sig;
  got.code = si->si_code;
  got.addr = (uint32_t)si->si_addr;
  got.eip = uc->uc_mcontext.gregs[REG_EIP];
  got.err = uc->uc_mcontext.gregs[REG_ERR];
  got.trapno = uc->uc_mcontext.gregs[REG_TRAPNO];
  got.eax = uc->uc_mcontext.gregs[REG_EAX];
  got.fs = uc->uc_mcontext.gregs[REG_FS] & 0xffff;
  got.count++;
  if (sig == SIGTRAP && nsteps < 32)
    steps[nsteps++] = got.eip;
  if (resume)
    uc->uc_mcontext.gregs[REG_EIP] = resume;
}

/* Each fault test is a function of its own: eax set to a marker, the
 * faulting instruction at label <name>_insn, execution continuing at
 * <name>_after (the handler moves EIP there). */
#define FAULT(name, setup, insn)                                               \
  __asm__(".text\n\t.globl " #name "\n" #name ":\n\t"                          \
          "push %ebx\n\t" setup "\n" #name "_insn:\n\t" insn "\n"              \
          #name "_after:\n\tpop %ebx\n\tret\n");                              \
  extern char name##_insn[], name##_after[];                                   \
  uint32_t name(uint32_t);

/* The argument is at 8(%esp) after the push. */
FAULT(f_cli, "movl $0x11, %eax", "cli")
FAULT(f_hlt, "movl $0x12, %eax", "hlt")
FAULT(f_in, "movl $0x13, %eax\n\tmovw $0x60, %dx", "inb %dx, %al")
FAULT(f_int40, "movl $0x14, %eax", "int $0x40")
FAULT(f_badsel, "movl $0x8f, %eax", "movw %ax, %fs")
FAULT(f_write, "movl 8(%esp), %ecx\n\tmovl $0x15, %eax", "movl %eax, 0x24(%ecx)")
FAULT(f_read, "movl $0x16, %eax\n\tmovl $0x10, %ecx", "movl (%ecx), %eax")
FAULT(f_div0, "movl $100, %eax\n\txorl %edx, %edx\n\txorl %ecx, %ecx", "divl %ecx")
FAULT(f_idivov, "movl $0x80000000, %eax\n\tcltd\n\tmovl $-1, %ecx", "idivl %ecx")
FAULT(f_divb, "movl $0x1234, %eax\n\tmovb $2, %cl", "divb %cl")
FAULT(f_ud2, "movl $0x18, %eax", "ud2")
FAULT(f_into, "movl $0x7fffffff, %eax\n\taddl $1, %eax", "into")
FAULT(f_fslimit, "movl 8(%esp), %ecx\n\tmovl $0x19, %eax", "movl %fs:(%ecx), %eax")
FAULT(f_int3, "movl $0x1a, %eax", "int3\n\tmovl $0x1b, %eax")
FAULT(f_int3b, "movl $0x1c, %eax", "int $3\n\tmovl $0x1d, %eax")

static const char *signame(int s)
{
  switch (s) {
  case SIGSEGV: return "SIGSEGV";
  case SIGFPE: return "SIGFPE";
  case SIGILL: return "SIGILL";
  case SIGTRAP: return "SIGTRAP";
  case SIGBUS: return "SIGBUS";
  default: return "?";
  }
}

static void fault(const char *what, uint32_t (*fn)(uint32_t), char *insn, char *after,
                  uint32_t arg, int show_addr, uint32_t addr_base)
{
  memset(&got, 0, sizeof got);
  resume = (uint32_t)after;
  uint32_t r = fn(arg);
  resume = 0;
  printf("%s: %s si_code=%d eip=insn%+d trapno=%u err=%#x eax=%#x ret=%#x", what,
         signame(got.signo), got.code, (int)(got.eip - (uint32_t)insn), got.trapno, got.err,
         got.eax, r);
  if (show_addr == 1)
    printf(" si_addr=base%+d", (int)(got.addr - addr_base));
  else if (show_addr == 2)
    printf(" si_addr=insn%+d", (int)(got.addr - (uint32_t)insn));
  printf(" count=%d\n", got.count);
}

/* Single-step: TF set by popf, a SIGTRAP after each instruction until popf
 * clears it (the trap comes after that popf too). */
extern char ss_start[], ss_end[];
uint32_t ss_run(void);
__asm__(".text\n\t.globl ss_run\nss_run:\n"
        "ss_start:\n\t"
        "pushf\n\t"
        "orl $0x100, (%esp)\n\t"
        "popf\n\t"
        "nop\n\t"
        "movl $5, %eax\n\t"
        "addl $3, %eax\n\t"
        "leal 7(%eax,%eax,2), %eax\n\t"
        "jmp 1f\n\t"
        "int3\n"
        "1:\tpushf\n\t"
        "andl $~0x100, (%esp)\n\t"
        "popf\n\t"
        "addl $1, %eax\n"
        "ss_end:\n\t"
        "ret\n");

static void signals(void)
{
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = handler;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGSEGV, &sa, NULL);
  sigaction(SIGFPE, &sa, NULL);
  sigaction(SIGILL, &sa, NULL);
  sigaction(SIGTRAP, &sa, NULL);
  sigaction(SIGBUS, &sa, NULL);

#define F(what, name, arg, show, base) fault(what, name, name##_insn, name##_after, arg, show, base)
  F("cli (#GP)", f_cli, 0, 0, 0);
  F("hlt (#GP)", f_hlt, 0, 0, 0);
  F("in (#GP)", f_in, 0, 0, 0);
  F("int $0x40 (#GP)", f_int40, 0, 0, 0);
  F("mov bad selector to fs (#GP)", f_badsel, 0, 0, 0);
  unsigned char *ro = mmap(NULL, 8192, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  F("write to read-only page (#PF)", f_write, (uint32_t)ro, 1, (uint32_t)ro);
  printf("  page fault error code: present=%u write=%u user=%u\n", got.err & 1, (got.err >> 1) & 1,
         (got.err >> 2) & 1);
  (void)*(volatile unsigned char *)(ro + 0x24); /* now present (read-only) */
  F("write to read-only page (#PF)", f_write, (uint32_t)ro, 1, (uint32_t)ro);
  printf("  page fault error code: present=%u write=%u user=%u\n", got.err & 1, (got.err >> 1) & 1,
         (got.err >> 2) & 1);
  F("read at 0x10 (#PF)", f_read, 0, 1, 0);
  printf("  page fault error code: present=%u write=%u user=%u\n", got.err & 1, (got.err >> 1) & 1,
         (got.err >> 2) & 1);
  /* (No call into a PROT_READ page: whether it faults depends on the
   * kernel using NX, which the guest's non-PAE kernel has not.) */
  munmap(ro, 8192);
  F("div by zero (#DE)", f_div0, 0, 2, 0);
  F("idiv overflow (#DE)", f_idivov, 0, 2, 0);
  F("divb overflow (#DE)", f_divb, 0, 2, 0);
  F("ud2 (#UD)", f_ud2, 0, 2, 0);
  F("into (#OF)", f_into, 0, 0, 0);
  /* Traps: EIP is after the instruction, the handler leaves it. */
  memset(&got, 0, sizeof got);
  uint32_t r = f_int3(0);
  printf("int3: %s si_code=%d eip=insn%+d trapno=%u err=%#x eax=%#x ret=%#x count=%d\n",
         signame(got.signo), got.code, (int)(got.eip - (uint32_t)f_int3_insn), got.trapno, got.err,
         got.eax, r, got.count);
  memset(&got, 0, sizeof got);
  r = f_int3b(0);
  printf("int $3: %s si_code=%d eip=insn%+d trapno=%u err=%#x eax=%#x ret=%#x count=%d\n",
         signame(got.signo), got.code, (int)(got.eip - (uint32_t)f_int3b_insn), got.trapno,
         got.err, got.eax, r, got.count);
  memset(&got, 0, sizeof got);
  nsteps = 0;
  r = ss_run();
  printf("single-step: %d SIGTRAPs, si_code=%d trapno=%u eax=%u, eip=start+", nsteps, got.code,
         got.trapno, r);
  for (int i = 0; i < nsteps; i++)
    printf("%s%d", i ? "," : "", (int)(steps[i] - (uint32_t)ss_start));
  printf(" (end=start+%d)\n", (int)(ss_end - ss_start));
}

/* ------------------------------------------------------ LDT, far calls */

static unsigned char seg_data[4096];

extern char far_target[];
__asm__(".text\n\t.globl far_target\nfar_target:\n\t"
        "movl %cs, %edx\n\t"
        "leal 1(%eax,%eax), %eax\n\t"
        "lret\n");

extern char far_target_imm[];
__asm__(".text\n\t.globl far_target_imm\nfar_target_imm:\n\t"
        "movl %esp, %ecx\n\t"
        "movl 8(%esp), %eax\n\t"
        "lret $4\n");

static void ldt(void)
{
  struct user_desc ud;
  memset(&ud, 0, sizeof ud);
  for (int i = 0; i < 4096; i++)
    seg_data[i] = (unsigned char)(i * 7 + 3);
  /* Entry 0: 32-bit data segment based at seg_data + 16, byte granular,
   * limit 0x7ff. */
  ud.entry_number = 0;
  ud.base_addr = (uint32_t)(seg_data + 16);
  ud.limit = 0x7ff;
  ud.seg_32bit = 1;
  ud.contents = 0;  /* data */
  ud.useable = 1;
  long rc = syscall(SYS_modify_ldt, 1, &ud, sizeof ud);
  printf("modify_ldt data: rc=%ld\n", rc);
  uint32_t v, v2, sel = 0x07, fs_in, old_fs;
  __asm__ volatile("movl %%fs, %0" : "=r"(old_fs));
  __asm__ volatile("movw %w3, %%fs\n\tmovl %%fs:0x20, %0\n\tmovl %%fs:0x7fc, %1\n\t"
                   "movl $0xcafef00d, %%fs:0x40\n\tmovl %%fs, %2\n\tmovw %w4, %%fs"
                   : "=&r"(v), "=&r"(v2), "=&r"(fs_in)
                   : "r"(sel), "r"(old_fs)
                   : "memory");
  printf("ldt data segment: fs=%#x [0x20]=%08x [0x7fc]=%08x write lands at +%d: %02x%02x%02x%02x\n",
         fs_in, v, v2, 0x40 + 16, seg_data[0x53], seg_data[0x52], seg_data[0x51], seg_data[0x50]);
  /* lar/lsl/verr/verw on the selector. */
  uint32_t ar = 0, lim = 0, f1, f2;
  __asm__ volatile("larl %2, %0\n\tlsll %2, %1" : "=&r"(ar), "=&r"(lim) : "r"(sel) : "cc");
  __asm__ volatile("verr %w1\n\tpushf\n\tpop %0" : "=r"(f1) : "r"(sel) : "cc");
  __asm__ volatile("verw %w1\n\tpushf\n\tpop %0" : "=r"(f2) : "r"(sel) : "cc");
  printf("lar=%08x lsl=%#x verr %s verw %s\n", ar & 0x00f0ff00, lim, flagstr(f1, ZF), flagstr(f2, ZF));
  /* Past the limit: #GP(0) through the signal handler. */
  __asm__ volatile("movw %w0, %%fs" : : "r"(sel));
  fault("read past the fs limit (#GP)", f_fslimit, f_fslimit_insn, f_fslimit_after, 0x7fe, 0, 0);
  printf("  fs in the signal context: %#x\n", got.fs);
  __asm__ volatile("movw %w0, %%fs" : : "r"(old_fs));

  /* Entry 1: 32-bit code segment, base 0, 4 GiB; a far call through it. */
  memset(&ud, 0, sizeof ud);
  ud.entry_number = 1;
  ud.base_addr = 0;
  ud.limit = 0xfffff;
  ud.seg_32bit = 1;
  ud.contents = MODIFY_LDT_CONTENTS_CODE;
  ud.limit_in_pages = 1;
  ud.useable = 1;
  rc = syscall(SYS_modify_ldt, 1, &ud, sizeof ud);
  printf("modify_ldt code: rc=%ld\n", rc);
  struct { uint32_t off; uint16_t sel; } __attribute__((packed)) fp = {(uint32_t)far_target, 0x0f};
  uint32_t a = 20, cs_in = 0, cs_out;
  __asm__ volatile("lcall *%2\n\tmovl %%cs, %1" : "+a"(a), "=r"(cs_out), "+m"(fp), "+d"(cs_in) : : "memory");
  printf("lcall through ldt: eax=%u cs inside=%#x cs after=%s\n", a, cs_in & 0xffff,
         (cs_out & 0xffff) == 0x73 || (cs_out & 0xffff) == 0x23 ? "user cs" : "other");
  /* lret $imm pops the argument; a far call through the immediate form
   * would need a fixed address, so the pointer form again. */
  fp.off = (uint32_t)far_target_imm;
  uint32_t esp_before, esp_after, ecx;
  __asm__ volatile("movl %%esp, %0\n\tpushl $0x77\n\tlcall *%3\n\tmovl %%esp, %1"
                   : "=&r"(esp_before), "=&r"(esp_after), "=&a"(a), "+m"(fp), "=&c"(ecx)
                   : : "memory");
  printf("lcall + lret $4: eax=%#x esp delta=%d frame=%d\n", a, (int)(esp_after - esp_before),
         (int)(esp_before - ecx));
  /* Read the LDT back (modify_ldt func 0). */
  unsigned char ldtbuf[16];
  memset(ldtbuf, 0, sizeof ldtbuf);
  rc = syscall(SYS_modify_ldt, 0, ldtbuf, sizeof ldtbuf);
  uint32_t d0[4];
  memcpy(d0, ldtbuf, 16);
  printf("modify_ldt read: rc=%ld entry0 ok=%d entry1 ar=%08x\n", rc,
         d0[0] == (((uint32_t)(seg_data + 16) & 0xffff) << 16 | 0x7ff), d0[3] & 0x00f0ff00);
}

/* ---------------------------------------------------- self-modifying code */

static void smc(void)
{
  unsigned char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  typedef uint32_t (*fn)(void);
  /* mov $imm, %eax; ret */
  p[0] = 0xb8;
  uint32_t imm = 111;
  memcpy(p + 1, &imm, 4);
  p[5] = 0xc3;
  uint32_t r1 = ((fn)p)();
  imm = 222;
  memcpy(p + 1, &imm, 4);
  uint32_t r2 = ((fn)p)();
  /* Now add %eax, %eax before the ret. */
  p[5] = 0x01;
  p[6] = 0xc0;
  p[7] = 0xc3;
  uint32_t r3 = ((fn)p)();
  printf("smc rewrite: %u %u %u\n", r1, r2, r3);
  uint32_t sum = 0;
  for (uint32_t i = 0; i < 200; i++) {
    memcpy(p + 1, &i, 4);
    sum += ((fn)p)();
  }
  printf("smc loop: sum=%u\n", sum);
  /* Code that rewrites the immediate of its own next instruction:
   *   movl $0x5a5a, next+1 ; next: movl $0, %eax ; ret */
  unsigned char *q = p + 64;
  uint32_t target = (uint32_t)(q + 10 + 1), val = 0x5a5a;
  q[0] = 0xc7;
  q[1] = 0x05;
  memcpy(q + 2, &target, 4);
  memcpy(q + 6, &val, 4);
  q[10] = 0xb8;
  memset(q + 11, 0, 4);
  q[15] = 0xc3;
  uint32_t r4 = ((fn)q)();
  uint32_t r5 = ((fn)q)();
  printf("smc next instruction: %#x %#x\n", r4, r5);
  /* Rewrite an opcode through a second, writable mapping is not available
   * for anonymous memory; mprotect instead: RX, then RW, then RX. */
  mprotect(p, 4096, PROT_READ | PROT_EXEC);
  uint32_t r6 = ((fn)p)();
  mprotect(p, 4096, PROT_READ | PROT_WRITE);
  p[0] = 0xb8;
  imm = 0x1234;
  memcpy(p + 1, &imm, 4);
  p[5] = 0xf7; /* neg %eax */
  p[6] = 0xd8;
  p[7] = 0xc3;
  mprotect(p, 4096, PROT_READ | PROT_EXEC);
  uint32_t r7 = ((fn)p)();
  printf("smc mprotect: %u %#x\n", r6, r7);
  munmap(p, 4096);
}

int main(void)
{
  setvbuf(stdout, NULL, _IOLBF, 0);
  printf("insn-test: integer ALU\n");
  alu();
  printf("insn-test: MUL/DIV\n");
  muldiv();
  printf("insn-test: x87\n");
  x87();
  printf("insn-test: string instructions\n");
  strings();
  printf("insn-test: signals\n");
  signals();
  printf("insn-test: modify_ldt and far calls\n");
  ldt();
  printf("insn-test: self-modifying code\n");
  smc();
  printf("insn-test: done\n");
  return 0;
}

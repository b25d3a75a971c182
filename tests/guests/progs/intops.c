/*
 * intops.c - the integer instruction set, operand size by operand size.
 *
 * Most tests run an instruction in inline asm on pseudo-random operands (with
 * a bias towards edge values such as 0, 0x7f, 0x80, 0xffff...), starting from
 * a known EFLAGS, and fold the result and the *architecturally defined*
 * output flags into a per-section checksum.  Flags the SDM leaves undefined
 * (e.g. AF after AND, SF/ZF after MUL, OF after a multi-bit shift) are masked
 * out: real CPUs, QEMU and vmm may legitimately disagree on them.
 *
 * Then compiler-generated code: 8/16-bit C arithmetic, variable shifts and
 * rotates, setcc/cmov patterns, bit scans, bswap, and 64-bit multiplication,
 * shifts and division (the latter through lib/libgcc.c in the guest and the
 * real libgcc natively).  Finally the BCD instructions, exhaustively.
 */
#include "io.h"

#ifndef ITERS
#define ITERS 4
#endif

#define N (1000 * ITERS)        /* random operand pairs per instruction */
#define NOINLINE __attribute__((noinline))

/* EFLAGS bits. */
#define F_CF 0x001u
#define F_PF 0x004u
#define F_AF 0x010u
#define F_ZF 0x040u
#define F_SF 0x080u
#define F_OF 0x800u
#define F_ARITH (F_CF | F_PF | F_AF | F_ZF | F_SF | F_OF)
#define F_LOGIC (F_ARITH & ~F_AF)       /* AND/OR/XOR/TEST: AF undefined */
#define F_SZP (F_SF | F_ZF | F_PF)

/* ---- checksums and operands -------------------------------------------- */

static uint32_t hash;

static void mix(uint32_t v)
{
    hash = (hash ^ v) * 0x01000193u;
    hash ^= hash >> 15;
}

static void mix64(uint64_t v)
{
    mix((uint32_t)v);
    mix((uint32_t)(v >> 32));
}

static uint32_t rng_state = 0xdeadbeefu;

static uint32_t rnd(void)
{
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

/* A random 32-bit value, one time in four an edge value instead. */
static uint32_t operand(void)
{
    static const uint32_t edges[] = {
        0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0x7fff, 0x8000, 0xffff, 0x10000,
        0x7fffffff, 0x80000000u, 0x80000001u, 0xfffffffeu, 0xffffffffu,
    };
    uint32_t r = rnd();
    if ((r & 3) == 0)
        return edges[(r >> 2) % 16] ^ ((r >> 8 & 1) ? 0xffffff00u : 0);
    return rnd();
}

static void section_start(void)
{
    hash = 0x811c9dc5u;
}

static void section_end(const char *name)
{
    printf("%-12s %08x\n", name, hash);
}

/* ---- ALU instructions with flags --------------------------------------- */

/* Every template loads EFLAGS from `fl` (arithmetic flags only; in ring 3
 * the native build cannot change IF, and it does not matter) so that carry
 * inputs and flags an instruction leaves alone are deterministic, runs the
 * instruction, and reads EFLAGS back into `fl`.  R selects the register
 * name size: b = 8-bit, w = 16-bit, k = 32-bit. */
#define ASM_FLAGS_IN "pushl %1\n\tpopfl\n\t"
#define ASM_FLAGS_OUT "\n\tpushfl\n\tpopl %1"

#define DEF_BINOP(fname, insn, T, R)                                               \
    static NOINLINE uint32_t fname(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fout) \
    {                                                                              \
        T x = (T)a;                                                                \
        uint32_t fl = fin & F_ARITH;                                               \
        __asm__(ASM_FLAGS_IN insn " %" R "2, %" R "0" ASM_FLAGS_OUT                \
                : "+q"(x), "+r"(fl)                                                \
                : "q"((T)b)                                                        \
                : "cc");                                                           \
        *fout = fl;                                                                \
        return x;                                                                  \
    }

#define DEF_UNOP(fname, insn, T, R)                                                \
    static NOINLINE uint32_t fname(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fout) \
    {                                                                              \
        T x = (T)a;                                                                \
        uint32_t fl = fin & F_ARITH;                                               \
        (void)b;                                                                   \
        __asm__(ASM_FLAGS_IN insn " %" R "0" ASM_FLAGS_OUT : "+q"(x), "+r"(fl) : : "cc"); \
        *fout = fl;                                                                \
        return x;                                                                  \
    }

/* Shifts and rotates by CL (count = b, all 8 bits of it: the CPU masks). */
#define DEF_SHIFT(fname, insn, T, R)                                               \
    static NOINLINE uint32_t fname(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fout) \
    {                                                                              \
        T x = (T)a;                                                                \
        uint32_t fl = fin & F_ARITH;                                               \
        __asm__(ASM_FLAGS_IN insn " %%cl, %" R "0" ASM_FLAGS_OUT                   \
                : "+q"(x), "+r"(fl)                                                \
                : "c"((uint8_t)b)                                                  \
                : "cc");                                                           \
        *fout = fl;                                                                \
        return x;                                                                  \
    }

#define DEF_ALU_SIZES(name, insn, DEF)      \
    DEF(name##8, insn "b", uint8_t, "b")    \
    DEF(name##16, insn "w", uint16_t, "w")  \
    DEF(name##32, insn "l", uint32_t, "k")

DEF_ALU_SIZES(op_add, "add", DEF_BINOP)
DEF_ALU_SIZES(op_adc, "adc", DEF_BINOP)
DEF_ALU_SIZES(op_sub, "sub", DEF_BINOP)
DEF_ALU_SIZES(op_sbb, "sbb", DEF_BINOP)
DEF_ALU_SIZES(op_cmp, "cmp", DEF_BINOP)
DEF_ALU_SIZES(op_and, "and", DEF_BINOP)
DEF_ALU_SIZES(op_or, "or", DEF_BINOP)
DEF_ALU_SIZES(op_xor, "xor", DEF_BINOP)
DEF_ALU_SIZES(op_test, "test", DEF_BINOP)
DEF_ALU_SIZES(op_neg, "neg", DEF_UNOP)
DEF_ALU_SIZES(op_not, "not", DEF_UNOP)
DEF_ALU_SIZES(op_inc, "inc", DEF_UNOP)
DEF_ALU_SIZES(op_dec, "dec", DEF_UNOP)
DEF_ALU_SIZES(op_shl, "shl", DEF_SHIFT)
DEF_ALU_SIZES(op_shr, "shr", DEF_SHIFT)
DEF_ALU_SIZES(op_sar, "sar", DEF_SHIFT)
DEF_ALU_SIZES(op_rol, "rol", DEF_SHIFT)
DEF_ALU_SIZES(op_ror, "ror", DEF_SHIFT)
DEF_ALU_SIZES(op_rcl, "rcl", DEF_SHIFT)
DEF_ALU_SIZES(op_rcr, "rcr", DEF_SHIFT)

/* Double-precision shifts: x = x:b shifted by CL.  16-bit forms only with
 * counts below 16 (larger counts give undefined results). */
#define DEF_SHXD(fname, insn, T, R)                                                \
    static NOINLINE uint32_t fname(uint32_t a, uint32_t b, uint32_t fin, uint32_t *fout) \
    {                                                                              \
        T x = (T)a;                                                                \
        uint32_t fl = fin & F_ARITH;                                               \
        uint8_t count = (uint8_t)(b >> 16) % (sizeof(T) * 8);                      \
        __asm__(ASM_FLAGS_IN insn " %%cl, %" R "3, %" R "0" ASM_FLAGS_OUT          \
                : "+q"(x), "+r"(fl)                                                \
                : "c"(count), "q"((T)b)                                            \
                : "cc");                                                           \
        *fout = fl;                                                                \
        return x;                                                                  \
    }

DEF_SHXD(op_shld16, "shldw", uint16_t, "w")
DEF_SHXD(op_shld32, "shldl", uint32_t, "k")
DEF_SHXD(op_shrd16, "shrdw", uint16_t, "w")
DEF_SHXD(op_shrd32, "shrdl", uint32_t, "k")

typedef uint32_t (*alu_fn)(uint32_t, uint32_t, uint32_t, uint32_t *);

enum flag_rule {
    FR_ARITH,       /* all six arithmetic flags defined */
    FR_LOGIC,       /* AF undefined */
    FR_SHIFT,       /* SHL/SHR/SAR */
    FR_ROTATE,      /* ROL/ROR */
    FR_RCX,         /* RCL/RCR */
    FR_SHXD,        /* SHLD/SHRD */
};

/* Which output flags the SDM defines, given operand size and count. */
static uint32_t defined_flags(enum flag_rule rule, unsigned bits, uint32_t b)
{
    unsigned count = (uint8_t)b & 31;           /* the CPU masks CL to 5 bits */
    switch (rule) {
    case FR_ARITH:
        return F_ARITH;
    case FR_LOGIC:
        return F_LOGIC;
    case FR_SHIFT:
        if (count == 0)
            return F_ARITH;                     /* flags untouched */
        /* CF is undefined once the count reaches the operand size; OF is
         * defined for 1-bit shifts only; AF is always undefined. */
        return F_SZP | (count < bits ? F_CF : 0) | (count == 1 ? F_OF : 0);
    case FR_ROTATE:
        if (count == 0)
            return F_ARITH;
        /* Only CF and OF change; OF is defined for 1-bit rotates. */
        return F_ARITH & ~(count == 1 ? 0 : F_OF);
    case FR_RCX:
        return F_ARITH & ~(count <= 1 ? 0 : F_OF);
    case FR_SHXD:
        count = (uint8_t)(b >> 16) % bits;
        if (count == 0)
            return F_ARITH;
        return F_SZP | F_CF | (count == 1 ? F_OF : 0);
    }
    return 0;
}

static const struct alu_test {
    const char *name;
    alu_fn fn[3];                   /* 8, 16, 32 bits (0: no such form) */
    enum flag_rule rule;
} alu_tests[] = {
    {"add", {op_add8, op_add16, op_add32}, FR_ARITH},
    {"adc", {op_adc8, op_adc16, op_adc32}, FR_ARITH},
    {"sub", {op_sub8, op_sub16, op_sub32}, FR_ARITH},
    {"sbb", {op_sbb8, op_sbb16, op_sbb32}, FR_ARITH},
    {"cmp", {op_cmp8, op_cmp16, op_cmp32}, FR_ARITH},
    {"and", {op_and8, op_and16, op_and32}, FR_LOGIC},
    {"or", {op_or8, op_or16, op_or32}, FR_LOGIC},
    {"xor", {op_xor8, op_xor16, op_xor32}, FR_LOGIC},
    {"test", {op_test8, op_test16, op_test32}, FR_LOGIC},
    {"neg", {op_neg8, op_neg16, op_neg32}, FR_ARITH},
    {"not", {op_not8, op_not16, op_not32}, FR_ARITH},
    {"inc", {op_inc8, op_inc16, op_inc32}, FR_ARITH},
    {"dec", {op_dec8, op_dec16, op_dec32}, FR_ARITH},
    {"shl", {op_shl8, op_shl16, op_shl32}, FR_SHIFT},
    {"shr", {op_shr8, op_shr16, op_shr32}, FR_SHIFT},
    {"sar", {op_sar8, op_sar16, op_sar32}, FR_SHIFT},
    {"rol", {op_rol8, op_rol16, op_rol32}, FR_ROTATE},
    {"ror", {op_ror8, op_ror16, op_ror32}, FR_ROTATE},
    {"rcl", {op_rcl8, op_rcl16, op_rcl32}, FR_RCX},
    {"rcr", {op_rcr8, op_rcr16, op_rcr32}, FR_RCX},
    {"shld", {0, op_shld16, op_shld32}, FR_SHXD},
    {"shrd", {0, op_shrd16, op_shrd32}, FR_SHXD},
};

static void test_alu(void)
{
    for (size_t t = 0; t < sizeof alu_tests / sizeof alu_tests[0]; t++) {
        const struct alu_test *at = &alu_tests[t];
        section_start();
        for (int size = 0; size < 3; size++) {
            if (!at->fn[size])
                continue;
            unsigned bits = 8u << size;
            for (int i = 0; i < N; i++) {
                uint32_t a = operand(), b = operand(), fin = rnd(), fout;
                if (at->rule == FR_SHIFT || at->rule == FR_ROTATE || at->rule == FR_RCX) {
                    /* Mostly in-range counts, some beyond the operand size
                     * and some above 31 (masked by the CPU). */
                    b = (b & 0x80) ? b & 0xff : b % (bits + 2);
                }
                uint32_t r = at->fn[size](a, b, fin, &fout);
                mix(r);
                mix(fout & defined_flags(at->rule, bits, b));
            }
        }
        /* One fixed example per instruction, readable in a diff. */
        uint32_t fout;
        alu_fn fn = at->fn[2];
        uint32_t r = fn(0x80000001u, 0x50021, F_CF, &fout);
        section_end(at->name);
        printf("  %s32(0x80000001, 0x50021, CF=1) = %08x flags %03x\n", at->name, r,
               fout & defined_flags(at->rule, 32, 0x50021));
    }
}

/* ---- multiply and divide ----------------------------------------------- */

static NOINLINE void test_muldiv(void)
{
    section_start();
    for (int i = 0; i < N; i++) {
        uint32_t a = operand(), b = operand(), fin = rnd() & F_ARITH, fl;
        uint32_t lo, hi;

        /* MUL/IMUL: only CF and OF are defined (upper half significant). */
        lo = a & 0xff;
        __asm__(ASM_FLAGS_IN "mulb %b2" ASM_FLAGS_OUT : "+a"(lo), "=&r"(fl) : "q"((uint8_t)b), "1"(fin) : "cc");
        mix(lo & 0xffff);
        mix(fl & (F_CF | F_OF));
        lo = a & 0xff;
        __asm__(ASM_FLAGS_IN "imulb %b2" ASM_FLAGS_OUT : "+a"(lo), "=&r"(fl) : "q"((uint8_t)b), "1"(fin) : "cc");
        mix(lo & 0xffff);
        mix(fl & (F_CF | F_OF));

        lo = a;
        __asm__(ASM_FLAGS_IN "mulw %w3" ASM_FLAGS_OUT : "+a"(lo), "=&r"(fl), "=d"(hi) : "r"((uint16_t)b), "1"(fin) : "cc");
        mix(lo & 0xffff);
        mix(hi & 0xffff);
        mix(fl & (F_CF | F_OF));
        lo = a;
        __asm__(ASM_FLAGS_IN "imulw %w3" ASM_FLAGS_OUT : "+a"(lo), "=&r"(fl), "=d"(hi) : "r"((uint16_t)b), "1"(fin) : "cc");
        mix(lo & 0xffff);
        mix(hi & 0xffff);
        mix(fl & (F_CF | F_OF));

        lo = a;
        __asm__(ASM_FLAGS_IN "mull %3" ASM_FLAGS_OUT : "+a"(lo), "=&r"(fl), "=d"(hi) : "r"(b), "1"(fin) : "cc");
        mix(lo);
        mix(hi);
        mix(fl & (F_CF | F_OF));
        lo = a;
        __asm__(ASM_FLAGS_IN "imull %3" ASM_FLAGS_OUT : "+a"(lo), "=&r"(fl), "=d"(hi) : "r"(b), "1"(fin) : "cc");
        mix(lo);
        mix(hi);
        mix(fl & (F_CF | F_OF));

        /* Two- and three-operand IMUL (truncating). */
        uint32_t x = a;
        __asm__(ASM_FLAGS_IN "imulw %w2, %w0" ASM_FLAGS_OUT : "+r"(x), "=&r"(fl) : "r"(b), "1"(fin) : "cc");
        mix(x & 0xffff);
        mix(fl & (F_CF | F_OF));
        x = a;
        __asm__(ASM_FLAGS_IN "imull %2, %0" ASM_FLAGS_OUT : "+r"(x), "=&r"(fl) : "r"(b), "1"(fin) : "cc");
        mix(x);
        mix(fl & (F_CF | F_OF));
        __asm__(ASM_FLAGS_IN "imull $-7, %2, %0" ASM_FLAGS_OUT : "=&r"(x), "=&r"(fl) : "r"(a), "1"(fin) : "cc");
        mix(x);
        mix(fl & (F_CF | F_OF));
        __asm__(ASM_FLAGS_IN "imull $100003, %2, %0" ASM_FLAGS_OUT : "=&r"(x), "=&r"(fl) : "r"(a), "1"(fin) : "cc");
        mix(x);
        mix(fl & (F_CF | F_OF));
        __asm__(ASM_FLAGS_IN "imulw $-300, %w2, %w0" ASM_FLAGS_OUT : "=&r"(x), "=&r"(fl) : "r"(a), "1"(fin) : "cc");
        mix(x & 0xffff);
        mix(fl & (F_CF | F_OF));

        /* DIV/IDIV (flags undefined).  Operands are adjusted so that the
         * quotient fits: the high half of the dividend below the divisor for
         * DIV, a quotient within +-(2^(n-1) - 1) for IDIV (checked in C,
         * which truncates toward zero like IDIV). */
        uint32_t d8 = (b & 0xff) | 1, d16 = (b & 0xffff) | 1, d32 = b | 1;
        uint32_t q;

        q = ((a >> 8) % d8) << 8 | (a & 0xff);          /* AH < divisor */
        __asm__("divb %b1" : "+a"(q) : "q"((uint8_t)d8) : "cc");
        mix(q & 0xffff);
        hi = (a >> 16) % d16;
        q = a & 0xffff;
        __asm__("divw %w2" : "+a"(q), "+d"(hi) : "r"((uint16_t)d16) : "cc");
        mix(q & 0xffff);
        mix(hi & 0xffff);
        hi = b % d32;
        q = a;
        __asm__("divl %2" : "+a"(q), "+d"(hi) : "r"(d32) : "cc");
        mix(q);
        mix(hi);

        int32_t n16 = (int16_t)a, n8d = (int8_t)d8;
        if (n16 / n8d > 127 || n16 / n8d < -127)
            n16 = (int8_t)a / 2;        /* |quotient| <= 64 */
        q = (uint16_t)n16;
        __asm__("idivb %b1" : "+a"(q) : "q"((uint8_t)d8) : "cc");
        mix(q & 0xffff);
        int32_t n32 = (int32_t)a, n16d = (int16_t)d16;
        if ((int64_t)n32 / n16d > 32767 || (int64_t)n32 / n16d < -32767)
            n32 = (int16_t)a / 2;
        q = (uint32_t)n32 & 0xffff;
        hi = (uint32_t)n32 >> 16;
        __asm__("idivw %w2" : "+a"(q), "+d"(hi) : "r"((uint16_t)d16) : "cc");
        mix(q & 0xffff);
        mix(hi & 0xffff);
        int64_t n64 = (int64_t)(((uint64_t)b << 32) | a);
        int32_t n32d = (int32_t)d32;
        if (n64 == INT64_MIN || n64 / n32d > 0x7fffffff || n64 / n32d < -0x7fffffff)
            n64 = (int32_t)a / 2;
        q = (uint32_t)n64;
        hi = (uint32_t)((uint64_t)n64 >> 32);
        __asm__("idivl %2" : "+a"(q), "+d"(hi) : "r"(n32d) : "cc");
        mix(q);
        mix(hi);
    }
    section_end("mul/div");

    uint32_t lo = 200, hi, fl;
    __asm__(ASM_FLAGS_IN "mulb %b2" ASM_FLAGS_OUT : "+a"(lo), "=&r"(fl) : "q"((uint8_t)3), "1"(0u) : "cc");
    printf("  mulb 200*3 = %u CF/OF=%x\n", lo & 0xffff, fl & (F_CF | F_OF));
    lo = 0xfff6;                        /* -10 */
    __asm__("idivb %b1" : "+a"(lo) : "q"((uint8_t)3) : "cc");
    printf("  idivb -10/3: al=%d ah=%d\n", (int8_t)lo, (int8_t)(lo >> 8));
    lo = 0x12345678;
    hi = 0x9;
    __asm__("divl %2" : "+a"(lo), "+d"(hi) : "r"(0x10000u) : "cc");
    printf("  divl 0x912345678/0x10000 = %08x rem %08x\n", lo, hi);
}

/* ---- bit scans, bit tests, bswap, exchange ------------------------------ */

static uint32_t bit_array[16];          /* bit strings for BT with memory */

static NOINLINE void test_bits(void)
{
    section_start();
    for (int i = 0; i < N; i++) {
        uint32_t a = operand(), b = operand(), fin = rnd() & F_ARITH, fl, x;
        if ((b & 15) == 0)
            a = 0;                      /* zero source: only ZF is defined */

        x = 0x5a5a5a5a;
        __asm__(ASM_FLAGS_IN "bsfl %2, %0" ASM_FLAGS_OUT : "+r"(x), "=&r"(fl) : "r"(a), "1"(fin) : "cc");
        mix(a ? x : 0);
        mix(fl & F_ZF);
        x = 0x5a5a5a5a;
        __asm__(ASM_FLAGS_IN "bsrl %2, %0" ASM_FLAGS_OUT : "+r"(x), "=&r"(fl) : "r"(a), "1"(fin) : "cc");
        mix(a ? x : 0);
        mix(fl & F_ZF);
        x = 0x5a5a;
        __asm__(ASM_FLAGS_IN "bsfw %w2, %w0" ASM_FLAGS_OUT : "+r"(x), "=&r"(fl) : "r"(a), "1"(fin) : "cc");
        mix((a & 0xffff) ? x & 0xffff : 0);
        mix(fl & F_ZF);
        x = 0x5a5a;
        __asm__(ASM_FLAGS_IN "bsrw %w2, %w0" ASM_FLAGS_OUT : "+r"(x), "=&r"(fl) : "r"(a), "1"(fin) : "cc");
        mix((a & 0xffff) ? x & 0xffff : 0);
        mix(fl & F_ZF);

        /* BT/BTS/BTR/BTC: CF = the old bit, ZF unaffected (so it still
         * holds the input value), OF/SF/AF/PF undefined. */
#define F_BT (F_CF | F_ZF)
        x = a;
        __asm__(ASM_FLAGS_IN "btl %2, %0" ASM_FLAGS_OUT : "+r"(x), "=&r"(fl) : "r"(b), "1"(fin) : "cc");
        mix(fl & F_BT);
        __asm__(ASM_FLAGS_IN "btsl %2, %0" ASM_FLAGS_OUT : "+r"(x), "=&r"(fl) : "r"(b), "1"(fin) : "cc");
        mix(x);
        mix(fl & F_BT);
        __asm__(ASM_FLAGS_IN "btrw %w2, %w0" ASM_FLAGS_OUT : "+r"(x), "=&r"(fl) : "r"(b >> 8), "1"(fin) : "cc");
        mix(x);
        mix(fl & F_BT);
        __asm__(ASM_FLAGS_IN "btcl $19, %0" ASM_FLAGS_OUT : "+r"(x), "=&r"(fl) : "1"(fin) : "cc");
        mix(x);
        mix(fl & F_BT);

        /* Memory bit strings with a register offset address bits outside
         * the dword named by the operand, including below it (the offset
         * is signed): here within bit_array, starting from its middle. */
        int32_t off = (int32_t)(b % 512) - 256;
        uint32_t *middle = &bit_array[8];
        __asm__ volatile(ASM_FLAGS_IN "btcl %2, (%3)" ASM_FLAGS_OUT
                         : "=&r"(x), "=&r"(fl) : "r"(off), "r"(middle), "1"(fin) : "cc", "memory");
        mix(fl & F_BT);
        __asm__ volatile(ASM_FLAGS_IN "btsw %w2, (%3)" ASM_FLAGS_OUT
                         : "=&r"(x), "=&r"(fl) : "r"(off / 4), "r"(middle), "1"(fin) : "cc", "memory");
        mix(fl & F_BT);
        __asm__ volatile(ASM_FLAGS_IN "btl %2, (%3)" ASM_FLAGS_OUT
                         : "=&r"(x), "=&r"(fl) : "r"(-off), "r"(middle), "1"(fin) : "cc", "memory");
        mix(fl & F_BT);

        x = a;
        __asm__("bswap %0" : "+r"(x));
        mix(x);
        mix(__builtin_bswap16((uint16_t)a));
        mix64(__builtin_bswap64((uint64_t)a << 32 | b));

        /* XCHG, XADD (flags as ADD), CMPXCHG (flags as CMP). */
        uint32_t y = b;
        x = a;
        __asm__("xchgl %0, %1" : "+r"(x), "+r"(y));
        mix(x - y);
        __asm__(ASM_FLAGS_IN "xaddl %0, %2" ASM_FLAGS_OUT : "+r"(x), "=&r"(fl), "+r"(y) : "1"(fin) : "cc");
        mix(x);
        mix(y);
        mix(fl & F_ARITH);
        uint32_t mem = a, expected = (b & 1) ? a : b;
        __asm__(ASM_FLAGS_IN "lock cmpxchgl %3, %2" ASM_FLAGS_OUT
                : "+a"(expected), "=&r"(fl), "+m"(mem) : "r"(b ^ 0x1234), "1"(fin) : "cc", "memory");
        mix(expected);
        mix(mem);
        mix(fl & F_ARITH);
        uint8_t mem8 = (uint8_t)a;
        uint32_t exp8 = (b & 2) ? a : b;
        __asm__(ASM_FLAGS_IN "cmpxchgb %b3, %2" ASM_FLAGS_OUT
                : "+a"(exp8), "=&r"(fl), "+m"(mem8) : "q"(b), "1"(fin) : "cc", "memory");
        mix(exp8 & 0xff);
        mix(mem8);
        mix(fl & F_ARITH);
        /* CMPXCHG8B: only ZF changes. */
        uint64_t mem64 = (uint64_t)a << 32 | b;
        uint32_t eax = (b & 4) ? b : a, edx = (b & 4) ? a : b;
        __asm__(ASM_FLAGS_IN "lock cmpxchg8b %2" ASM_FLAGS_OUT
                : "+a"(eax), "=&r"(fl), "+m"(mem64), "+d"(edx)
                : "b"(~a), "c"(b + 1), "1"(fin)
                : "cc", "memory");
        mix(eax);
        mix(edx);
        mix64(mem64);
        mix(fl & F_ARITH);
    }
    for (int i = 0; i < 16; i++)
        mix(bit_array[i]);
    section_end("bits");

    /* Compiler built-ins: BSF/BSR for ctz/clz, SETNP for parity, and calls
     * into lib/libgcc.c for popcount and (gcc 12) ctzll. */
    section_start();
    for (int i = 0; i < N; i++) {
        uint32_t a = operand() | 1u << (rnd() & 31);
        uint64_t w = (uint64_t)operand() << 32 | operand();
        if (!w)
            w = 1;
        mix((uint32_t)__builtin_ctz(a));
        mix((uint32_t)__builtin_clz(a));
        mix((uint32_t)__builtin_popcount(a));
        mix((uint32_t)__builtin_parity(a));
        mix((uint32_t)__builtin_ffs((int)(a & operand())));
        mix((uint32_t)__builtin_ctzll(w));
        mix((uint32_t)__builtin_clzll(w));
        mix((uint32_t)__builtin_popcountll(w));
    }
    section_end("builtins");
    printf("  ctz(0x80)=%d clz(0x80)=%d popcount(0xf0f0)=%d ctzll(1<<40)=%d clzll(1<<40)=%d\n",
           __builtin_ctz(0x80), __builtin_clz(0x80), __builtin_popcount(0xf0f0),
           __builtin_ctzll(1ull << 40), __builtin_clzll(1ull << 40));
}

/* ---- setcc / cmovcc ------------------------------------------------------ */

/* Evaluates all 16 conditions after CMP a, b into a 16-bit mask with SETcc. */
static NOINLINE uint32_t all_setcc(uint32_t a, uint32_t b)
{
    uint8_t c[16];
    __asm__("cmpl %17, %16\n\t"
            "seto %0\n\tsetno %1\n\tsetb %2\n\tsetae %3\n\t"
            "sete %4\n\tsetne %5\n\tsetbe %6\n\tseta %7\n\t"
            "sets %8\n\tsetns %9\n\tsetp %10\n\tsetnp %11\n\t"
            "setl %12\n\tsetge %13\n\tsetle %14\n\tsetg %15"
            : "=m"(c[0]), "=m"(c[1]), "=m"(c[2]), "=m"(c[3]), "=m"(c[4]), "=m"(c[5]),
              "=m"(c[6]), "=m"(c[7]), "=m"(c[8]), "=m"(c[9]), "=m"(c[10]), "=m"(c[11]),
              "=m"(c[12]), "=m"(c[13]), "=m"(c[14]), "=m"(c[15])
            : "r"(a), "r"(b)
            : "cc");
    uint32_t mask = 0;
    for (int i = 0; i < 16; i++)
        mask |= (uint32_t)c[i] << i;
    return mask;
}

/* Eight conditions with CMOVcc (register and memory sources) after a 16-bit
 * compare; bit i of the result says whether the i-th move happened. */
static NOINLINE uint32_t all_cmovcc(uint32_t a, uint32_t b)
{
    uint32_t r0 = 0, r1 = 0, r2 = 0, r3 = 0;
    __asm__("cmpw %w5, %w4\n\t"
            "cmovo %4, %0\n\tcmovb %6, %1\n\tcmove %4, %2\n\tcmovbe %6, %3"
            : "+r"(r0), "+r"(r1), "+r"(r2), "+r"(r3)
            : "r"(a), "r"(b), "m"(a)
            : "cc");
    uint32_t mask = (r0 == a) | (r1 == a) << 1 | (r2 == a) << 2 | (r3 == a) << 3;
    r0 = r1 = r2 = r3 = 0;
    __asm__("cmpw %w5, %w4\n\t"
            "cmovs %6, %0\n\tcmovp %4, %1\n\tcmovl %6, %2\n\tcmovle %4, %3"
            : "+r"(r0), "+r"(r1), "+r"(r2), "+r"(r3)
            : "r"(a), "r"(b), "m"(a)
            : "cc");
    return mask | (r0 == a) << 4 | (r1 == a) << 5 | (r2 == a) << 6 | (r3 == a) << 7;
}

static NOINLINE void test_conditions(void)
{
    section_start();
    for (int i = 0; i < N; i++) {
        uint32_t a = operand(), b = (rnd() & 7) ? operand() : a;
        mix(all_setcc(a, b));
        mix(all_cmovcc(a, b) | (a != 0) << 8);

        /* Compiler-generated SETcc/CMOV: comparisons, min/max, abs, sign. */
        int32_t sa = (int32_t)a, sb = (int32_t)b;
        int16_t ha = (int16_t)a, hb = (int16_t)b;
        int8_t ca = (int8_t)a, cb = (int8_t)b;
        mix((uint32_t)(sa < sb) | (uint32_t)(a < b) << 1 | (uint32_t)(ha <= hb) << 2 |
            (uint32_t)((uint16_t)a > (uint16_t)b) << 3 | (uint32_t)(ca >= cb) << 4 |
            (uint32_t)((uint8_t)a == (uint8_t)b) << 5);
        mix(sa < sb ? a : b);
        mix(a > b ? a : b);
        mix(ha > hb ? (uint32_t)ha : (uint32_t)hb);
        mix(sa == INT32_MIN ? 0 : (uint32_t)(sa < 0 ? -sa : sa));
        mix((uint32_t)((sa > 0) - (sa < 0)));
        mix(a & 1 ? a * 3 + 1 : a >> 1);
    }
    section_end("conditions");
    printf("  setcc(1, 2) = %04x setcc(0x80000000, 1) = %04x cmovcc(5, 5) = %02x\n",
           all_setcc(1, 2), all_setcc(0x80000000u, 1), all_cmovcc(5, 5));
}

/* ---- compiler-generated integer code ----------------------------------- */

static NOINLINE void test_c_arith(void)
{
    section_start();
    uint8_t u8 = 1;
    int8_t s8 = -1;
    uint16_t u16 = 1;
    int16_t s16 = -1;
    for (int i = 0; i < N; i++) {
        uint32_t a = operand(), b = operand();
        unsigned n = b & 31;

        /* 8- and 16-bit arithmetic with wrap-around (all in unsigned types
         * or via explicit truncation: no signed overflow). */
        u8 = (uint8_t)(u8 * 7 + (uint8_t)a);
        s8 = (int8_t)(uint8_t)(s8 ^ (int8_t)(a >> 8));
        u16 = (uint16_t)(u16 * 31 + (uint16_t)b);
        s16 = (int16_t)(uint16_t)((uint16_t)s16 - (uint16_t)(a >> 16));
        mix(u8 | (uint32_t)(uint8_t)s8 << 8 | (uint32_t)u16 << 16);
        mix((uint32_t)(int32_t)s16);                    /* MOVSX */
        mix((uint32_t)(int32_t)s8 + (uint32_t)(uint8_t)(a >> 24));
        mix((uint32_t)((int32_t)(int8_t)a / 3));        /* small signed division */
        mix((uint32_t)((int16_t)b % 10));

        /* Variable shifts and rotates, 8/16/32 bits. */
        mix(a << n);
        mix(a >> n);
        mix((uint32_t)((int32_t)a >> n));
        mix(a << n | a >> (-n & 31));                   /* ROL */
        mix(a >> n | a << (-n & 31));                   /* ROR */
        uint16_t h = (uint16_t)a;
        mix((uint16_t)(h << (n & 15) | h >> (-n & 15)));
        uint8_t c = (uint8_t)a;
        mix((uint8_t)(c >> (n & 7) | c << (-n & 7)));
        mix((uint32_t)(int32_t)(int16_t)((int16_t)h >> (n & 15)));

        /* 32-bit division (DIV/IDIV), avoiding INT_MIN / -1. */
        uint32_t d = b ? b : 7;
        mix(a / d);
        mix(a % d);
        int32_t sa = (int32_t)a, sd = (int32_t)d;
        if (!(sa == INT32_MIN && sd == -1)) {
            mix((uint32_t)(sa / sd));
            mix((uint32_t)(sa % sd));
        }
        mix(a / 10);                                    /* multiply by reciprocal */
        mix((uint32_t)(sa / 7));

        /* Multiplication: high halves via widening multiplies. */
        mix((uint32_t)((uint64_t)a * b >> 32));
        mix((uint32_t)((uint64_t)((int64_t)sa * (int32_t)b) >> 32));
        mix(a * b);
        mix(a * 0x24924925u);                           /* LEA/shift sequences */
        mix(a * 9 + b * 5);
    }
    section_end("c-arith");
}

static NOINLINE void test_64bit(void)
{
    section_start();
    for (int i = 0; i < N; i++) {
        uint64_t a = (uint64_t)operand() << 32 | operand();
        uint64_t b = (uint64_t)operand() << 32 | operand();
        unsigned n = operand() & 63;
        /* Divisors of every magnitude: below 2^32 (two DIVs in
         * __udivmoddi4) and above (the shift-subtract path). */
        uint64_t d = b >> (operand() & 63);
        if (d == 0)
            d = 3;

        mix64(a + b);
        mix64(a - b);
        mix64(a * b);
        mix64(-a);
        mix64(a << n);
        mix64(a >> n);
        mix64((uint64_t)((int64_t)a >> n));
        mix((uint32_t)(a < b) | (uint32_t)((int64_t)a < (int64_t)b) << 1 | (uint32_t)(a == b) << 2);

        mix64(a / d);
        mix64(a % d);
        int64_t sa = (int64_t)a, sd = (int64_t)d;
        if ((operand() & 1))
            sd = -sd;
        if (!(sa == INT64_MIN && sd == -1)) {
            mix64((uint64_t)(sa / sd));
            mix64((uint64_t)(sa % sd));
        }
        mix64(a / 1000000007u);
        mix64((uint64_t)(sa / -77));
    }
    section_end("64-bit");

    uint64_t big = 0xfedcba9876543210ull;
    int64_t neg = -1234567890123456789ll;
    printf("  %llx / %x = %llx rem %llx\n", big, 0x12345u, big / 0x12345u, big % 0x12345u);
    printf("  %llx / %llx = %llx rem %llx\n", big, 0x123456789ull, big / 0x123456789ull,
           big % 0x123456789ull);
    printf("  %lld / %lld = %lld rem %lld\n", neg, 987654321987ll, neg / 987654321987ll,
           neg % 987654321987ll);
    printf("  %lld / %d = %lld rem %lld\n", neg, -7, neg / -7, neg % -7);
    printf("  %llu %lld %lld\n", ~0ull / 3, (long long)INT64_MIN / 2, (long long)INT64_MIN % 10);
}

/* ---- BCD --------------------------------------------------------------- */

/* Runs a BCD adjust instruction with AX = ax and the given CF/AF, returns
 * the new AX and EFLAGS. */
#define BCD_OP(insn)                                                           \
    static NOINLINE uint32_t bcd_##insn(uint32_t ax, uint32_t fin, uint32_t *fout) \
    {                                                                          \
        uint32_t fl = fin & F_ARITH;                                           \
        __asm__(ASM_FLAGS_IN #insn ASM_FLAGS_OUT : "+a"(ax), "+r"(fl) : : "cc"); \
        *fout = fl;                                                            \
        return ax & 0xffff;                                                    \
    }

BCD_OP(daa)
BCD_OP(das)
BCD_OP(aaa)
BCD_OP(aas)

/* AAM/AAD with an arbitrary base: the assembler only takes the base-10
 * mnemonics, so the other bases are spelled as bytes (D4 ib / D5 ib). */
#define BCD_IMM(name, bytes)                                                   \
    static NOINLINE uint32_t name(uint32_t ax, uint32_t fin, uint32_t *fout)   \
    {                                                                          \
        uint32_t fl = fin & F_ARITH;                                           \
        __asm__(ASM_FLAGS_IN bytes ASM_FLAGS_OUT : "+a"(ax), "+r"(fl) : : "cc"); \
        *fout = fl;                                                            \
        return ax & 0xffff;                                                    \
    }

BCD_IMM(bcd_aam10, "aam")
BCD_IMM(bcd_aam16, ".byte 0xd4, 16")
BCD_IMM(bcd_aam7, ".byte 0xd4, 7")
BCD_IMM(bcd_aad10, "aad")
BCD_IMM(bcd_aad16, ".byte 0xd5, 16")
BCD_IMM(bcd_aad3, ".byte 0xd5, 3")

typedef uint32_t (*bcd_fn)(uint32_t, uint32_t, uint32_t *);

static NOINLINE void test_bcd(void)
{
    static const struct {
        const char *name;
        bcd_fn fn;
        uint32_t defined;           /* flags the SDM defines afterwards */
    } ops[] = {
        {"daa", bcd_daa, F_CF | F_AF | F_SZP},          /* OF undefined */
        {"das", bcd_das, F_CF | F_AF | F_SZP},
        {"aaa", bcd_aaa, F_CF | F_AF},                  /* OF SF ZF PF undefined */
        {"aas", bcd_aas, F_CF | F_AF},
        {"aam", bcd_aam10, F_SZP},                      /* OF AF CF undefined */
        {"aam16", bcd_aam16, F_SZP},
        {"aam7", bcd_aam7, F_SZP},
        {"aad", bcd_aad10, F_SZP},
        {"aad16", bcd_aad16, F_SZP},
        {"aad3", bcd_aad3, F_SZP},
    };
    static const uint32_t ah_values[] = {0x00, 0x01, 0x09, 0x7f, 0xff};

    for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
        section_start();
        /* Exhaustive over AL and the CF/AF inputs, for a few AH values. */
        for (size_t h = 0; h < sizeof ah_values / sizeof ah_values[0]; h++)
            for (uint32_t al = 0; al < 256; al++)
                for (uint32_t cfaf = 0; cfaf < 4; cfaf++) {
                    uint32_t fin = (cfaf & 1 ? F_CF : 0) | (cfaf & 2 ? F_AF : 0), fout;
                    uint32_t ax = ops[o].fn(ah_values[h] << 8 | al, fin, &fout);
                    mix(ax);
                    mix(fout & ops[o].defined);
                }
        section_end(ops[o].name);
    }

    /* Worked examples: packed BCD 79 + 35 = 114, 35 - 79 = -44 (56 + borrow),
     * unpacked 9 + 5 = 14, and the AAM/AAD conversions. */
    uint32_t fl, ax;
    ax = bcd_daa(0x79 + 0x35, 0, &fl);
    printf("  daa(0x79+0x35) = %02x CF=%u\n", ax & 0xff, fl & F_CF);
    ax = bcd_das((0x35 - 0x79) & 0xff, F_CF | F_AF, &fl);
    printf("  das(0x35-0x79) = %02x CF=%u\n", ax & 0xff, fl & F_CF);
    ax = bcd_aaa(0x0009 + 0x05, 0, &fl);
    printf("  aaa(9+5) = %04x CF=%u\n", ax, fl & F_CF);
    ax = bcd_aas(0x0003 - 0x08 + 0x10000, F_AF, &fl);
    printf("  aas(3-8) = %04x CF=%u\n", ax, fl & F_CF);
    printf("  aam(99) = %04x aad(0x0907) = %04x aam16(0xab) = %04x aad3(0x0201) = %04x\n",
           bcd_aam10(99, 0, &fl), bcd_aad10(0x0907, 0, &fl), bcd_aam16(0xab, 0, &fl),
           bcd_aad3(0x0201, 0, &fl));
}

int guest_main(void)
{
    printf("intops: %d iterations (%d operand pairs per instruction)\n", ITERS, N);
    test_alu();
    test_muldiv();
    test_bits();
    test_conditions();
    test_c_arith();
    test_64bit();
    test_bcd();
    return 0;
}

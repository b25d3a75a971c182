/*
 * smc.c - self-modifying code, as a JIT compiler running in the guest makes
 * it: machine code written into a buffer (guest_code_buffer, io.h), called,
 * rewritten, called again, for many rounds.
 *
 *  - jit: a small random expression program (add/sub/xor/imul/rotate/...
 *    with random immediates, and a compare-and-branch) is compiled to x86
 *    code, run on 40 arguments and checked against the same program
 *    evaluated in C; every round compiles a new program over the old code,
 *    alternately at the start of a page and straddling a page boundary;
 *  - patch: a routine with a loop is called, then only one immediate byte of
 *    the code that has just run (the loop's addend) or of its loop count is
 *    rewritten, and it is called again at once.  The routine straddles a
 *    page boundary: the count is on the first page, the addend on the
 *    second;
 *  - data page: a routine that adds into counters on its own code page, in a
 *    loop, while the C code also writes other data on that page between
 *    calls: writes near code that must not change what the code does;
 *  - self-patch: a routine that stores a byte of its argument into the
 *    immediate of one of its own later instructions and then jumps to it
 *    (the jump after the write is what x86 asks for; SDM Vol. 3, 11.6).
 *
 * Every byte sequence below was checked with objdump -D -b binary -m i386;
 * the disassembly is next to the bytes.  The generated code follows the
 * cdecl convention: arguments on the stack, result in EAX, clobbers only
 * EAX, ECX and EDX.
 */
#include "io.h"

#ifndef ITERS
#define ITERS 100
#endif

#define NOINLINE __attribute__((noinline))

typedef uint32_t (*code1_fn)(uint32_t);
typedef uint32_t (*code2_fn)(uint32_t, uint32_t);

static uint32_t rng = 0x2545f491u;

static uint32_t xorshift32(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static uint32_t mix(uint32_t h, uint32_t v)
{
    return (h ^ v) * 16777619u;
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* Calls generated code.  The barrier keeps the compiler from moving the
 * stores that wrote the code (or the data it reads) past the call. */
static uint32_t call1(const uint8_t *code, uint32_t a)
{
    __asm__ volatile("" ::: "memory");
    uint32_t r = ((code1_fn)(uintptr_t)code)(a);
    __asm__ volatile("" ::: "memory");
    return r;
}

static uint32_t call2(const uint8_t *code, uint32_t a, uint32_t b)
{
    __asm__ volatile("" ::: "memory");
    uint32_t r = ((code2_fn)(uintptr_t)code)(a, b);
    __asm__ volatile("" ::: "memory");
    return r;
}

/* ---- jit: random expression programs ---------------------------------------------- */

/* The program computes on x (EAX), starting from the argument a (kept in
 * ECX). */
enum op {
    OP_ADD, OP_SUB, OP_XOR, OP_AND, OP_OR, OP_IMUL, OP_ADD8, OP_ROL, OP_SHR,
    OP_NOT, OP_NEG, OP_BSWAP, OP_LEA3, OP_ADDA, OP_XORA, OP_CMPNOT, NOPS
};

/* Encodings: the bytes of each instruction (OP_CMPNOT: of three), with the
 * immediate, imm_size bytes (0, 1 or 4), stored at offset imm_at. */
struct encoding {
    uint8_t len;            /* total length in bytes */
    uint8_t imm_at;         /* offset of the immediate */
    uint8_t imm_size;
    uint8_t bytes[12];
};

static const struct encoding enc[NOPS] = {
    [OP_ADD] = { 5, 1, 4, { 0x05 } },                 /* 05 id      add  eax, imm32 */
    [OP_SUB] = { 5, 1, 4, { 0x2d } },                 /* 2d id      sub  eax, imm32 */
    [OP_XOR] = { 5, 1, 4, { 0x35 } },                 /* 35 id      xor  eax, imm32 */
    [OP_AND] = { 5, 1, 4, { 0x25 } },                 /* 25 id      and  eax, imm32 */
    [OP_OR] = { 5, 1, 4, { 0x0d } },                  /* 0d id      or   eax, imm32 */
    [OP_IMUL] = { 6, 2, 4, { 0x69, 0xc0 } },          /* 69 c0 id   imul eax, eax, imm32 */
    [OP_ADD8] = { 3, 2, 1, { 0x83, 0xc0 } },          /* 83 c0 ib   add  eax, simm8 */
    [OP_ROL] = { 3, 2, 1, { 0xc1, 0xc0 } },           /* c1 c0 ib   rol  eax, imm8 */
    [OP_SHR] = { 3, 2, 1, { 0xc1, 0xe8 } },           /* c1 e8 ib   shr  eax, imm8 */
    [OP_NOT] = { 2, 0, 0, { 0xf7, 0xd0 } },           /* f7 d0      not  eax */
    [OP_NEG] = { 2, 0, 0, { 0xf7, 0xd8 } },           /* f7 d8      neg  eax */
    [OP_BSWAP] = { 2, 0, 0, { 0x0f, 0xc8 } },         /* 0f c8      bswap eax */
    [OP_LEA3] = { 7, 3, 4, { 0x8d, 0x84, 0x40 } },    /* 8d 84 40 id  lea eax, [eax+eax*2+disp32] */
    [OP_ADDA] = { 2, 0, 0, { 0x01, 0xc8 } },          /* 01 c8      add  eax, ecx */
    [OP_XORA] = { 2, 0, 0, { 0x31, 0xc8 } },          /* 31 c8      xor  eax, ecx */
    [OP_CMPNOT] = { 9, 1, 4, { 0x3d, 0, 0, 0, 0,      /* 3d id      cmp  eax, imm32 */
                               0x72, 0x02,            /* 72 02      jb   +2 (over the not) */
                               0xf7, 0xd0 } },        /* f7 d0      not  eax */
};

static const uint8_t jit_prologue[] = {
    0x8b, 0x44, 0x24, 0x04,     /* mov eax, [esp+4] */
    0x89, 0xc1,                 /* mov ecx, eax */
};
static const uint8_t jit_epilogue[] = {
    0xc3,                       /* ret */
};

#define MAX_OPS 12
#define MAX_CODE (sizeof jit_prologue + MAX_OPS * 9 + sizeof jit_epilogue)

struct insn {
    enum op op;
    uint32_t imm;
};

/* What the generated code computes, in C. */
static uint32_t eval(const struct insn *p, int n, uint32_t a)
{
    uint32_t x = a;
    for (int i = 0; i < n; i++) {
        uint32_t k = p[i].imm;
        switch (p[i].op) {
        case OP_ADD: x += k; break;
        case OP_SUB: x -= k; break;
        case OP_XOR: x ^= k; break;
        case OP_AND: x &= k; break;
        case OP_OR: x |= k; break;
        case OP_IMUL: x *= k; break;
        case OP_ADD8: x += (uint32_t)(int32_t)(int8_t)k; break;
        case OP_ROL: x = x << k | x >> (32 - k); break;   /* k in 1..31 */
        case OP_SHR: x >>= k; break;                      /* k in 1..31 */
        case OP_NOT: x = ~x; break;
        case OP_NEG: x = -x; break;
        case OP_BSWAP: x = __builtin_bswap32(x); break;
        case OP_LEA3: x = x * 3 + k; break;
        case OP_ADDA: x += a; break;
        case OP_XORA: x ^= a; break;
        case OP_CMPNOT: if (x >= k) x = ~x; break;
        default: break;
        }
    }
    return x;
}

/* Compiles the program to code; returns its length. */
static size_t compile(const struct insn *p, int n, uint8_t *code)
{
    size_t at = 0;
    memcpy(code, jit_prologue, sizeof jit_prologue);
    at += sizeof jit_prologue;
    for (int i = 0; i < n; i++) {
        const struct encoding *e = &enc[p[i].op];
        memcpy(code + at, e->bytes, e->len);
        if (e->imm_size == 4)
            put32(code + at + e->imm_at, p[i].imm);
        else if (e->imm_size == 1)
            code[at + e->imm_at] = (uint8_t)p[i].imm;
        at += e->len;
    }
    memcpy(code + at, jit_epilogue, sizeof jit_epilogue);
    return at + sizeof jit_epilogue;
}

static void random_program(struct insn *p, int n)
{
    for (int i = 0; i < n; i++) {
        uint32_t r = xorshift32();
        p[i].op = (enum op)(r % NOPS);
        p[i].imm = xorshift32();
        if (p[i].op == OP_ROL || p[i].op == OP_SHR)
            p[i].imm = p[i].imm % 31 + 1;
        else if (p[i].op == OP_ADD8)
            p[i].imm &= 0xff;
        else if (p[i].op == OP_AND)
            p[i].imm |= 0x0f0f0f0fu;    /* keep some bits alive */
    }
}

static NOINLINE uint32_t run_jit(uint8_t *buf, int rounds, uint32_t *bad, uint32_t *bytes)
{
    uint32_t h = 2166136261u;
    struct insn prog[MAX_OPS];
    for (int r = 0; r < rounds; r++) {
        int n = 1 + (int)(xorshift32() % MAX_OPS);
        random_program(prog, n);
        /* Even rounds: at the start of the first page; odd rounds: across
         * the boundary between the two pages. */
        uint8_t *code = buf + ((r & 1) ? 4096 - MAX_CODE / 2 : 0);
        *bytes += (uint32_t)compile(prog, n, code);
        /* Often enough for the code to get hot (vmm translates a block at
         * its 32nd execution by default). */
        for (int k = 0; k < 40; k++) {
            uint32_t a = xorshift32();
            uint32_t got = call1(code, a);
            if (got != eval(prog, n, a))
                ++*bad;
            h = mix(h, got);
        }
    }
    return h;
}

/* ---- patch: one immediate byte of code that has just run -------------------------- */

static const uint8_t loop_code[] = {
    0x8b, 0x44, 0x24, 0x04,         /*  0: mov  eax, [esp+4] */
    0xb9, 0x10, 0x00, 0x00, 0x00,   /*  4: mov  ecx, 16 (count) */
    0x83, 0xc0, 0x01,               /*  9: add  eax, 1 (addend) */
    0xc1, 0xc0, 0x05,               /* 12: rol  eax, 5 */
    0x49,                           /* 15: dec  ecx */
    0x75, 0xf7,                     /* 16: jne  9 */
    0xc3,                           /* 18: ret */
};
#define LOOP_COUNT_AT 5     /* low byte of the count */
#define LOOP_ADDEND_AT 11
/* Where the routine starts in its two pages: the page boundary falls inside
 * the add (at its ModRM byte), so the loop's block spans both pages and the
 * two bytes patched are on different ones. */
#define LOOP_START (4096 - 10)

static uint32_t loop_in_c(uint32_t x, uint32_t count, uint8_t addend)
{
    do {
        x += (uint32_t)(int32_t)(int8_t)addend;
        x = x << 5 | x >> 27;
    } while (--count);
    return x;
}

static NOINLINE uint32_t run_patch(uint8_t *buf, int rounds, uint32_t *bad)
{
    uint8_t *code = buf + LOOP_START;
    uint32_t h = 2166136261u;
    memcpy(code, loop_code, sizeof loop_code);
    uint8_t count = 16, addend = 1;
    for (int r = 0; r < rounds; r++) {
        for (int k = 0; k < 8; k++) {
            uint32_t a = xorshift32();
            uint32_t got = call1(code, a);
            if (got != loop_in_c(a, count, addend))
                ++*bad;
            h = mix(h, got);
            /* Rewrite the addend (one byte) of the loop that just ran. */
            addend = (uint8_t)xorshift32();
            code[LOOP_ADDEND_AT] = addend;
        }
        /* ... and the count, 1 to 64. */
        count = (uint8_t)(xorshift32() % 64 + 1);
        code[LOOP_COUNT_AT] = count;
    }
    return h;
}

/* ---- data page: stores next to the code --------------------------------------------- */

/* The routine adds x to the counter at `slot` n times, x growing by `step`
 * each time; counters and other data share the code's page. */
static const uint8_t store_code[] = {
    0x8b, 0x44, 0x24, 0x04,                 /*  0: mov  eax, [esp+4] */
    0x8b, 0x4c, 0x24, 0x08,                 /*  4: mov  ecx, [esp+8] (n >= 1) */
    0x01, 0x05, 0x00, 0x00, 0x00, 0x00,     /*  8: add  [slot], eax */
    0x05, 0x00, 0x00, 0x00, 0x00,           /* 14: add  eax, step */
    0x49,                                   /* 19: dec  ecx */
    0x75, 0xf2,                             /* 20: jne  8 */
    0xc3,                                   /* 22: ret */
};
#define STORE_SLOT_AT 10
#define STORE_STEP_AT 15

#define DATA_OFFSET 2048    /* counters and scratch data: the page's upper half */
#define NSLOTS 16
#define NSCRATCH 256

static NOINLINE uint32_t run_data_page(uint8_t *page, int rounds, uint32_t *bad)
{
    volatile uint32_t *slots = (volatile uint32_t *)(page + DATA_OFFSET);
    volatile uint32_t *scratch = slots + NSLOTS;
    uint32_t expect[NSLOTS] = { 0 };
    for (int i = 0; i < NSLOTS; i++)
        slots[i] = 0;

    memcpy(page, store_code, sizeof store_code);
    uint32_t h = 2166136261u, slot = 0, step = 0;
    for (int r = 0; r < rounds; r++) {
        /* A new slot and step now and then: the code changes too. */
        if (r % 4 == 0) {
            slot = xorshift32() % NSLOTS;
            step = xorshift32();
            put32(page + STORE_SLOT_AT, (uint32_t)(uintptr_t)&slots[slot]);
            put32(page + STORE_STEP_AT, step);
        }
        uint32_t a = xorshift32(), n = xorshift32() % 48 + 1;
        uint32_t end = call2(page, a, n);
        for (uint32_t i = 0; i < n; i++, a += step)
            expect[slot] += a;
        if (end != a)
            ++*bad;
        /* The C side writes the same page too, between the calls. */
        for (int i = 0; i < 8; i++)
            scratch[(r * 8 + i) % NSCRATCH] += end >> i;
    }
    for (int i = 0; i < NSLOTS; i++) {
        if (slots[i] != expect[i])
            ++*bad;
        h = mix(h, slots[i]);
    }
    for (int i = 0; i < NSCRATCH; i++)
        h = mix(h, scratch[i]);
    return h;
}

/* ---- self-patch: code that rewrites its own next instruction ---------------------- */

/* Filled in with the address of the add's immediate at run time. */
static const uint8_t self_code[] = {
    0x8b, 0x44, 0x24, 0x04,         /*  0: mov  eax, [esp+4] */
    0xa2, 0x00, 0x00, 0x00, 0x00,   /*  4: mov  [imm8 of the add], al */
    0xeb, 0x00,                     /*  9: jmp  11 */
    0x83, 0xc0, 0x00,               /* 11: add  eax, simm8 (patched) */
    0xc3,                           /* 14: ret */
};
#define SELF_ADDR_AT 5
#define SELF_IMM_AT 13

static NOINLINE uint32_t run_self_patch(uint8_t *code, int rounds, uint32_t *bad)
{
    memcpy(code, self_code, sizeof self_code);
    put32(code + SELF_ADDR_AT, (uint32_t)(uintptr_t)(code + SELF_IMM_AT));
    uint32_t h = 2166136261u;
    for (int r = 0; r < rounds; r++) {
        uint32_t a = xorshift32();
        uint32_t got = call1(code, a);
        if (got != a + (uint32_t)(int32_t)(int8_t)a)
            ++*bad;
        h = mix(h, got);
    }
    return h;
}

int guest_main(void)
{
    printf("smc: %d iterations\n", ITERS);
    uint8_t *jit_buf = guest_code_buffer(2 * 4096);
    uint8_t *patch_buf = guest_code_buffer(2 * 4096);
    uint8_t *data_page = guest_code_buffer(4096);
    uint8_t *self_buf = guest_code_buffer(4096);
    if (!jit_buf || !patch_buf || !data_page || !self_buf) {
        printf("smc: no code buffer\n");
        return 1;
    }

    uint32_t total = 0, bad = 0, bytes = 0;
    for (int it = 0; it < ITERS; it++) {
        uint32_t bj = 0, bp = 0, bd = 0, bs = 0;
        uint32_t hj = run_jit(jit_buf, 16, &bj, &bytes);
        uint32_t hp = run_patch(patch_buf, 4, &bp);
        uint32_t hd = run_data_page(data_page, 16, &bd);
        uint32_t hs = run_self_patch(self_buf, 16, &bs);
        if (it % 10 == 0 || it == ITERS - 1 || bj + bp + bd + bs)
            printf("iter %d: jit=%08x patch=%08x data=%08x self=%08x bad=%u/%u/%u/%u\n", it, hj, hp, hd, hs,
                   bj, bp, bd, bs);
        bad += bj + bp + bd + bs;
        total = mix(mix(mix(mix(total, hj), hp), hd), hs);
    }
    printf("smc: code bytes generated=%u wrong results=%u total=%08x\n", bytes, bad, total);
    return 0;
}

/*
 * fntable.c - indirect control flow.
 *
 *  - calls through a table of function pointers chosen by data (CALL r/m32),
 *  - comparator callbacks in a heap sort,
 *  - a small stack-machine bytecode interpreter dispatched two ways: a dense
 *    switch (gcc compiles it to JMP through a jump table) and GNU computed
 *    goto (an indirect JMP at the end of every handler),
 *  - bytecode CALL/RET, so the interpreted programs recurse too.
 */
#include "io.h"

#ifndef ITERS
#define ITERS 2
#endif

#define NOINLINE __attribute__((noinline))

/* ---- function pointer table -------------------------------------------- */

typedef uint32_t (*binop_fn)(uint32_t, uint32_t);

static NOINLINE uint32_t f_add(uint32_t a, uint32_t b) { return a + b; }
static NOINLINE uint32_t f_sub(uint32_t a, uint32_t b) { return a - b; }
static NOINLINE uint32_t f_xor(uint32_t a, uint32_t b) { return a ^ b; }
static NOINLINE uint32_t f_mul(uint32_t a, uint32_t b) { return a * (b | 1); }
static NOINLINE uint32_t f_rol(uint32_t a, uint32_t b) { return a << (b & 31) | a >> (-b & 31); }
static NOINLINE uint32_t f_shr(uint32_t a, uint32_t b) { return (a >> (b & 15)) + b; }
static NOINLINE uint32_t f_not(uint32_t a, uint32_t b) { return ~a + (b >> 16); }
static NOINLINE uint32_t f_div(uint32_t a, uint32_t b) { return a / ((b & 0xff) + 1) + a; }
static NOINLINE uint32_t f_mod(uint32_t a, uint32_t b) { return a % (b | 0x100) ^ a << 4; }
static NOINLINE uint32_t f_min(uint32_t a, uint32_t b) { return (a < b ? a : b) + 0x9e3779b9u; }
static NOINLINE uint32_t f_max(uint32_t a, uint32_t b) { return (a > b ? a : b) ^ 0x7f4a7c15u; }
static NOINLINE uint32_t f_neg(uint32_t a, uint32_t b) { return -a ^ b; }
static NOINLINE uint32_t f_sar(uint32_t a, uint32_t b) { return (uint32_t)((int32_t)a >> (b & 7)) ^ b; }
static NOINLINE uint32_t f_bsw(uint32_t a, uint32_t b) { return __builtin_bswap32(a) + b; }
static NOINLINE uint32_t f_hi(uint32_t a, uint32_t b) { return (uint32_t)((uint64_t)a * b >> 32) + a; }
static NOINLINE uint32_t f_avg(uint32_t a, uint32_t b) { return (a & b) + ((a ^ b) >> 1) + 1; }

static binop_fn const binops[16] = {
    f_add, f_sub, f_xor, f_mul, f_rol, f_shr, f_not, f_div,
    f_mod, f_min, f_max, f_neg, f_sar, f_bsw, f_hi, f_avg,
};

/* Calls n functions picked by a linear congruential sequence; returns the
 * accumulated value and a histogram checksum.  `table` comes in as a
 * parameter so the calls stay indirect. */
static NOINLINE uint32_t run_table(binop_fn const *table, uint32_t n, uint32_t *hist)
{
    uint32_t acc = 1, x = 12345;
    for (uint32_t i = 0; i < n; i++) {
        x = x * 1664525u + 1013904223u;
        uint32_t k = x >> 28;
        hist[k]++;
        acc = table[k](acc, x);
    }
    return acc;
}

/* ---- heap sort with a comparator callback ------------------------------ */

typedef int (*cmp_fn)(uint32_t, uint32_t);

static NOINLINE int cmp_up(uint32_t a, uint32_t b) { return a < b ? -1 : a > b; }
static NOINLINE int cmp_down(uint32_t a, uint32_t b) { return b < a ? -1 : b > a; }
static NOINLINE int cmp_bits(uint32_t a, uint32_t b)
{
    int d = __builtin_popcount(a) - __builtin_popcount(b);
    return d ? d : cmp_up(a, b);
}

static void sift_down(uint32_t *a, uint32_t start, uint32_t end, cmp_fn cmp)
{
    uint32_t root = start;
    while (2 * root + 1 < end) {
        uint32_t child = 2 * root + 1;
        if (child + 1 < end && cmp(a[child], a[child + 1]) < 0)
            child++;
        if (cmp(a[root], a[child]) >= 0)
            return;
        uint32_t t = a[root];
        a[root] = a[child];
        a[child] = t;
        root = child;
    }
}

static NOINLINE void heap_sort(uint32_t *a, uint32_t n, cmp_fn cmp)
{
    for (uint32_t i = n / 2; i-- > 0;)
        sift_down(a, i, n, cmp);
    for (uint32_t end = n; end-- > 1;) {
        uint32_t t = a[0];
        a[0] = a[end];
        a[end] = t;
        sift_down(a, 0, end, cmp);
    }
}

#define SORT_N 3000
static uint32_t sort_buf[SORT_N];

/* ---- bytecode interpreter ---------------------------------------------- */

/* A stack machine with 16 variables.  Instructions are one opcode word,
 * followed by one operand word for PUSH/LOAD/STORE/JMP/JZ/JNZ/CALL. */
enum {
    OP_HALT, OP_PUSH, OP_POP, OP_DUP, OP_SWAP, OP_OVER,
    OP_ADD, OP_SUB, OP_MUL, OP_DIV, OP_MOD, OP_AND, OP_OR, OP_XOR,
    OP_SHL, OP_SHR, OP_LT, OP_EQ, OP_JMP, OP_JZ, OP_JNZ,
    OP_LOAD, OP_STORE, OP_INC, OP_DEC, OP_CALL, OP_RET,
    OP_COUNT,
    OP_LABEL = 100,             /* assembler pseudo-op: defines a label */
};

static int has_operand(int32_t op)
{
    return op == OP_PUSH || op == OP_LOAD || op == OP_STORE || op == OP_JMP ||
           op == OP_JZ || op == OP_JNZ || op == OP_CALL;
}

static int is_jump(int32_t op)
{
    return op == OP_JMP || op == OP_JZ || op == OP_JNZ || op == OP_CALL;
}

/* Assembles source (opcode/operand words, jump operands being label numbers
 * defined by OP_LABEL n) into code; returns the code length. */
static int assemble(const int32_t *src, int n, int32_t *code)
{
    int32_t labels[32];
    int pc = 0;
    for (int i = 0; i < n; i++) {                   /* pass 1: label addresses */
        if (src[i] == OP_LABEL) {
            labels[src[++i]] = pc;
        } else {
            pc++;
            if (has_operand(src[i])) {
                i++;
                pc++;
            }
        }
    }
    pc = 0;
    for (int i = 0; i < n; i++) {                   /* pass 2: emit */
        int32_t op = src[i];
        if (op == OP_LABEL) {
            i++;
            continue;
        }
        code[pc++] = op;
        if (has_operand(op)) {
            int32_t arg = src[++i];
            code[pc++] = is_jump(op) ? labels[arg] : arg;
        }
    }
    return pc;
}

#define STACK_MAX 256

struct vm {
    int32_t stack[STACK_MAX];
    int32_t rstack[STACK_MAX];      /* return addresses */
    int32_t vars[16];
    uint32_t steps;                 /* instructions executed */
};

/* Dispatch with a switch over dense opcodes: a bounds check and an indirect
 * jump through a table in .rodata. */
static NOINLINE int32_t run_switch(struct vm *vm, const int32_t *code)
{
    int32_t *sp = vm->stack;        /* points at the next free slot */
    int32_t *rp = vm->rstack;
    int pc = 0;
    uint32_t steps = 0;
    for (;;) {
        steps++;
        int32_t op = code[pc++];
        int32_t a, b;
        switch (op) {
        case OP_HALT: vm->steps = steps; return sp[-1];
        case OP_PUSH: *sp++ = code[pc++]; break;
        case OP_POP: sp--; break;
        case OP_DUP: sp[0] = sp[-1]; sp++; break;
        case OP_SWAP: a = sp[-1]; sp[-1] = sp[-2]; sp[-2] = a; break;
        case OP_OVER: sp[0] = sp[-2]; sp++; break;
        case OP_ADD: b = *--sp; sp[-1] += b; break;
        case OP_SUB: b = *--sp; sp[-1] -= b; break;
        case OP_MUL: b = *--sp; sp[-1] = (int32_t)((uint32_t)sp[-1] * (uint32_t)b); break;
        case OP_DIV: b = *--sp; sp[-1] /= b; break;
        case OP_MOD: b = *--sp; sp[-1] %= b; break;
        case OP_AND: b = *--sp; sp[-1] &= b; break;
        case OP_OR: b = *--sp; sp[-1] |= b; break;
        case OP_XOR: b = *--sp; sp[-1] ^= b; break;
        case OP_SHL: b = *--sp; sp[-1] = (int32_t)((uint32_t)sp[-1] << (b & 31)); break;
        case OP_SHR: b = *--sp; sp[-1] = (int32_t)((uint32_t)sp[-1] >> (b & 31)); break;
        case OP_LT: b = *--sp; sp[-1] = sp[-1] < b; break;
        case OP_EQ: b = *--sp; sp[-1] = sp[-1] == b; break;
        case OP_JMP: pc = code[pc]; break;
        case OP_JZ: pc = *--sp == 0 ? code[pc] : pc + 1; break;
        case OP_JNZ: pc = *--sp != 0 ? code[pc] : pc + 1; break;
        case OP_LOAD: *sp++ = vm->vars[code[pc++]]; break;
        case OP_STORE: vm->vars[code[pc++]] = *--sp; break;
        case OP_INC: sp[-1]++; break;
        case OP_DEC: sp[-1]--; break;
        case OP_CALL: *rp++ = pc + 1; pc = code[pc]; break;
        case OP_RET: pc = *--rp; break;
        default: vm->steps = steps; return -1;
        }
    }
}

/* The same machine with computed goto ("threaded code"): every handler ends
 * in its own indirect jump. */
static NOINLINE int32_t run_threaded(struct vm *vm, const int32_t *code)
{
    static void *const dispatch[OP_COUNT] = {
        &&l_halt, &&l_push, &&l_pop, &&l_dup, &&l_swap, &&l_over,
        &&l_add, &&l_sub, &&l_mul, &&l_div, &&l_mod, &&l_and, &&l_or, &&l_xor,
        &&l_shl, &&l_shr, &&l_lt, &&l_eq, &&l_jmp, &&l_jz, &&l_jnz,
        &&l_load, &&l_store, &&l_inc, &&l_dec, &&l_call, &&l_ret,
    };
    int32_t *sp = vm->stack;
    int32_t *rp = vm->rstack;
    int pc = 0;
    uint32_t steps = 0;
    int32_t a, b;
#define NEXT do { steps++; goto *dispatch[code[pc++]]; } while (0)
    NEXT;
l_halt: vm->steps = steps; return sp[-1];
l_push: *sp++ = code[pc++]; NEXT;
l_pop: sp--; NEXT;
l_dup: sp[0] = sp[-1]; sp++; NEXT;
l_swap: a = sp[-1]; sp[-1] = sp[-2]; sp[-2] = a; NEXT;
l_over: sp[0] = sp[-2]; sp++; NEXT;
l_add: b = *--sp; sp[-1] += b; NEXT;
l_sub: b = *--sp; sp[-1] -= b; NEXT;
l_mul: b = *--sp; sp[-1] = (int32_t)((uint32_t)sp[-1] * (uint32_t)b); NEXT;
l_div: b = *--sp; sp[-1] /= b; NEXT;
l_mod: b = *--sp; sp[-1] %= b; NEXT;
l_and: b = *--sp; sp[-1] &= b; NEXT;
l_or: b = *--sp; sp[-1] |= b; NEXT;
l_xor: b = *--sp; sp[-1] ^= b; NEXT;
l_shl: b = *--sp; sp[-1] = (int32_t)((uint32_t)sp[-1] << (b & 31)); NEXT;
l_shr: b = *--sp; sp[-1] = (int32_t)((uint32_t)sp[-1] >> (b & 31)); NEXT;
l_lt: b = *--sp; sp[-1] = sp[-1] < b; NEXT;
l_eq: b = *--sp; sp[-1] = sp[-1] == b; NEXT;
l_jmp: pc = code[pc]; NEXT;
l_jz: pc = *--sp == 0 ? code[pc] : pc + 1; NEXT;
l_jnz: pc = *--sp != 0 ? code[pc] : pc + 1; NEXT;
l_load: *sp++ = vm->vars[code[pc++]]; NEXT;
l_store: vm->vars[code[pc++]] = *--sp; NEXT;
l_inc: sp[-1]++; NEXT;
l_dec: sp[-1]--; NEXT;
l_call: *rp++ = pc + 1; pc = code[pc]; NEXT;
l_ret: pc = *--rp; NEXT;
#undef NEXT
}

/* Bytecode programs.  Variables: v0 = parameter. */
#define L(n) OP_LABEL, n

/* Sum and maximum of Collatz sequence lengths for 1..v0; sum on the stack,
 * maximum in v3. */
static const int32_t prog_collatz[] = {
    OP_PUSH, 0, OP_STORE, 2,            /* total = 0 */
    OP_PUSH, 0, OP_STORE, 3,            /* max = 0 */
    OP_PUSH, 1, OP_STORE, 1,            /* n = 1 */
    L(0),                               /* outer: while n <= limit */
    OP_LOAD, 0, OP_LOAD, 1, OP_LT, OP_JNZ, 9,
    OP_LOAD, 1, OP_PUSH, 0,             /* stack: x, steps */
    L(1),
    OP_OVER, OP_PUSH, 1, OP_EQ, OP_JNZ, 4,
    OP_INC, OP_SWAP,                    /* steps++; x on top */
    OP_DUP, OP_PUSH, 1, OP_AND, OP_JZ, 2,
    OP_DUP, OP_DUP, OP_ADD, OP_ADD, OP_INC, OP_JMP, 3,  /* x = 3x + 1 */
    L(2),
    OP_PUSH, 1, OP_SHR,                 /* x >>= 1 */
    L(3),
    OP_SWAP, OP_JMP, 1,
    L(4),                               /* stack: x(=1), steps */
    OP_DUP, OP_LOAD, 2, OP_ADD, OP_STORE, 2,
    OP_DUP, OP_LOAD, 3, OP_LT, OP_JNZ, 5,
    OP_DUP, OP_STORE, 3,                /* new maximum */
    L(5),
    OP_POP, OP_POP,
    OP_LOAD, 1, OP_INC, OP_STORE, 1, OP_JMP, 0,
    L(9),
    OP_LOAD, 2, OP_HALT,
};

/* Number of primes below v0 by trial division (DIV and MOD). */
static const int32_t prog_primes[] = {
    OP_PUSH, 0, OP_STORE, 2,            /* count = 0 */
    OP_PUSH, 2, OP_STORE, 1,            /* n = 2 */
    L(0),
    OP_LOAD, 1, OP_LOAD, 0, OP_LT, OP_JZ, 9,
    OP_PUSH, 2, OP_STORE, 4,            /* d = 2 */
    L(1),                               /* while d <= n / d */
    OP_LOAD, 1, OP_LOAD, 4, OP_DIV, OP_LOAD, 4, OP_LT, OP_JNZ, 3,
    OP_LOAD, 1, OP_LOAD, 4, OP_MOD, OP_JZ, 4,   /* divisible: composite */
    OP_LOAD, 4, OP_INC, OP_STORE, 4, OP_JMP, 1,
    L(3),                               /* prime */
    OP_LOAD, 2, OP_INC, OP_STORE, 2,
    L(4),
    OP_LOAD, 1, OP_INC, OP_STORE, 1, OP_JMP, 0,
    L(9),
    OP_LOAD, 2, OP_HALT,
};

/* Naive recursive Fibonacci of v0 with bytecode CALL/RET; the argument and
 * result are passed on the data stack. */
static const int32_t prog_fib[] = {
    OP_LOAD, 0, OP_CALL, 1, OP_HALT,
    L(1),                               /* fib: ( n -- fib(n) ) */
    OP_DUP, OP_PUSH, 2, OP_LT, OP_JNZ, 2,
    OP_DUP, OP_DEC, OP_CALL, 1,         /* n fib(n-1) */
    OP_SWAP, OP_PUSH, 2, OP_SUB, OP_CALL, 1,
    OP_ADD,
    L(2),
    OP_RET,
};

static int32_t code_buf[256];
static struct vm vm;

static void run_program(const char *name, const int32_t *src, int n, int32_t arg)
{
    int len = assemble(src, n, code_buf);

    memset(&vm, 0, sizeof vm);
    vm.vars[0] = arg;
    int32_t r1 = run_switch(&vm, code_buf);
    uint32_t steps1 = vm.steps;
    int32_t v3 = vm.vars[3];

    memset(&vm, 0, sizeof vm);
    vm.vars[0] = arg;
    int32_t r2 = run_threaded(&vm, code_buf);

    printf("%s(%d): %d (v3=%d, %u steps, %d words)\n", name, arg, r1, v3, steps1, len);
    if (r2 != r1 || vm.steps != steps1)
        printf("  MISMATCH: threaded dispatch gave %d in %u steps\n", r2, vm.steps);
}

int guest_main(void)
{
    printf("fntable: %d iterations\n", ITERS);

    uint32_t hist[16] = {0};
    uint32_t acc = run_table(binops, 100000u * ITERS, hist);
    uint32_t hsum = 0;
    for (int i = 0; i < 16; i++)
        hsum = hsum * 7 + hist[i];
    printf("table: acc=%08x hist[0]=%u hist[15]=%u hsum=%08x\n", acc, hist[0], hist[15], hsum);

    static const struct {
        const char *name;
        cmp_fn cmp;
    } orders[] = {{"up", cmp_up}, {"down", cmp_down}, {"bits", cmp_bits}};
    for (size_t o = 0; o < sizeof orders / sizeof orders[0]; o++) {
        uint32_t x = 2463534242u;
        for (int i = 0; i < SORT_N; i++) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            sort_buf[i] = x;
        }
        heap_sort(sort_buf, SORT_N, orders[o].cmp);
        int ok = 1;
        uint32_t sum = 0;
        for (int i = 0; i < SORT_N; i++) {
            if (i && orders[o].cmp(sort_buf[i - 1], sort_buf[i]) > 0)
                ok = 0;
            sum = (sum << 5 | sum >> 27) ^ sort_buf[i];
        }
        printf("heap_sort %s: ordered=%d first=%08x last=%08x sum=%08x\n", orders[o].name, ok,
               sort_buf[0], sort_buf[SORT_N - 1], sum);
    }

    run_program("collatz", prog_collatz, sizeof prog_collatz / 4, 500 * ITERS);
    run_program("primes", prog_primes, sizeof prog_primes / 4, 2000 * ITERS);
    run_program("fib", prog_fib, sizeof prog_fib / 4, 16 + ITERS);
    return 0;
}

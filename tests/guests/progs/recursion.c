/*
 * recursion.c - call-heavy code: CALL/RET, stack frames, deep stacks.
 *
 * Ackermann (huge numbers of short calls), naive Fibonacci, a deliberately
 * non-tail recursion thousands of frames deep (the guest stack is 1 MiB, see
 * lib/crt0.S), mutual recursion, N-queens backtracking and a recursive
 * quicksort.  noinline and the empty asm statements stop gcc from turning
 * the recursion into loops.
 */
#include "io.h"

#ifndef ITERS
#define ITERS 2
#endif

#define NOINLINE __attribute__((noinline))

static uint32_t calls;          /* counts calls, so frames stay non-trivial */

static NOINLINE uint32_t ackermann(uint32_t m, uint32_t n)
{
    calls++;
    if (m == 0)
        return n + 1;
    if (n == 0)
        return ackermann(m - 1, 1);
    return ackermann(m - 1, ackermann(m, n - 1));
}

static NOINLINE uint32_t fib(uint32_t n)
{
    calls++;
    return n < 2 ? n : fib(n - 1) + fib(n - 2);
}

/* One frame per level, with a local that lives across the recursive call
 * (its address escapes into the asm), so the recursion cannot be turned into
 * a loop and every level really uses stack. */
static NOINLINE uint32_t deep(uint32_t n, uint32_t acc)
{
    uint32_t local = n * 2654435761u ^ acc;
    __asm__ volatile("" : : "r"(&local) : "memory");
    if (n == 0)
        return local;
    uint32_t r = deep(n - 1, local + 1);
    return (r ^ local >> 3) + n;
}

/* Same, with 64-bit arguments and result (pairs of registers and stack
 * slots, ADC/SBB through the frames). */
static NOINLINE uint64_t deep64(uint32_t n, uint64_t acc)
{
    uint64_t local = acc * 6364136223846793005ull + n;
    __asm__ volatile("" : : "r"(&local) : "memory");
    if (n == 0)
        return local;
    return deep64(n - 1, local) - (local >> 7);
}

static NOINLINE int is_odd(uint32_t n);
static NOINLINE int is_even(uint32_t n)
{
    calls++;
    if (n == 0)
        return 1;
    int r = is_odd(n - 1);
    __asm__ volatile("" : "+r"(r));     /* not a tail call */
    return r;
}

static NOINLINE int is_odd(uint32_t n)
{
    calls++;
    if (n == 0)
        return 0;
    int r = is_even(n - 1);
    __asm__ volatile("" : "+r"(r));
    return r;
}

/* N-queens by backtracking with bit masks. */
static NOINLINE uint32_t queens(uint32_t n, uint32_t cols, uint32_t diag1, uint32_t diag2)
{
    calls++;
    uint32_t all = (1u << n) - 1;
    if (cols == all)
        return 1;
    uint32_t count = 0;
    uint32_t free = all & ~(cols | diag1 | diag2);
    while (free) {
        uint32_t bit = free & -free;
        free -= bit;
        count += queens(n, cols | bit, (diag1 | bit) << 1, (diag2 | bit) >> 1);
    }
    return count;
}

#define SORT_N 20000
static int32_t values[SORT_N];

static NOINLINE void quicksort(int32_t *a, int lo, int hi)
{
    calls++;
    while (lo < hi) {
        int32_t pivot = a[lo + (hi - lo) / 2];
        int i = lo, j = hi;
        while (i <= j) {
            while (a[i] < pivot)
                i++;
            while (a[j] > pivot)
                j--;
            if (i <= j) {
                int32_t t = a[i];
                a[i] = a[j];
                a[j] = t;
                i++;
                j--;
            }
        }
        /* Recurse into the smaller part, loop on the larger. */
        if (j - lo < hi - i) {
            quicksort(a, lo, j);
            lo = i;
        } else {
            quicksort(a, i, hi);
            hi = j;
        }
    }
}

/* Towers of Hanoi: returns a checksum of the moves. */
static NOINLINE uint32_t hanoi(uint32_t n, uint32_t from, uint32_t to, uint32_t via)
{
    if (n == 0)
        return 0;
    uint32_t a = hanoi(n - 1, from, via, to);
    uint32_t b = hanoi(n - 1, via, to, from);
    return (a * 31 + (from * 3 + to)) ^ (b << 1);
}

int guest_main(void)
{
    printf("recursion: %d iterations\n", ITERS);

    for (uint32_t n = 0; n <= 10; n += 5) {
        calls = 0;
        uint32_t a = ackermann(2, n);
        printf("ackermann(2,%u) = %u (%u calls)\n", n, a, calls);
    }
    for (uint32_t n = 1; n <= 5 + ITERS; n++) {
        calls = 0;
        uint32_t a = ackermann(3, n);
        printf("ackermann(3,%u) = %u (%u calls)\n", n, a, calls);
    }

    static const uint32_t fib_args[] = {1, 10, 20, 24 + ITERS};
    for (size_t i = 0; i < sizeof fib_args / sizeof fib_args[0]; i++) {
        uint32_t n = fib_args[i];
        calls = 0;
        uint32_t f = fib(n);
        printf("fib(%u) = %u (%u calls)\n", n, f, calls);
    }

    /* ~10000 frames of `deep` need a few hundred KiB of stack. */
    for (int it = 0; it < ITERS; it++) {
        uint32_t depth = 10000 - 1000 * (uint32_t)it;
        uint32_t d32 = deep(depth, it);
        uint64_t d64 = deep64(depth / 2, (uint64_t)it << 40);
        printf("deep(%u) = %08x deep64(%u) = %016llx\n", depth, d32, depth / 2, d64);
    }

    /* Separate statements: the evaluation order of printf's arguments is
     * unspecified, and `calls` must be read after both calls. */
    calls = 0;
    int even = is_even(10001);
    int odd = is_odd(7777);
    printf("is_even(10001) = %d is_odd(7777) = %d (%u calls)\n", even, odd, calls);

    for (uint32_t n = 4; n <= 7 + ITERS; n++) {
        calls = 0;
        uint32_t q = queens(n, 0, 0, 0);
        printf("queens(%u) = %u (%u calls)\n", n, q, calls);
    }

    uint32_t seed = 1;
    for (int i = 0; i < SORT_N; i++) {
        seed = seed * 1103515245u + 12345u;
        values[i] = (int32_t)(seed >> 1) - 0x40000000;
    }
    calls = 0;
    quicksort(values, 0, SORT_N - 1);
    int sorted = 1;
    uint32_t sum = 0;
    for (int i = 0; i < SORT_N; i++) {
        if (i && values[i - 1] > values[i])
            sorted = 0;
        sum = sum * 33 + (uint32_t)values[i];
    }
    printf("quicksort(%d): sorted=%d min=%d max=%d median=%d sum=%08x\n", SORT_N, sorted,
           values[0], values[SORT_N - 1], values[SORT_N / 2], sum);

    printf("hanoi(16) = %08x\n", hanoi(16, 1, 3, 2));
    return 0;
}

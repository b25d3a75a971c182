/*
 * heap.c - task "heap": demand paging.  It writes to its heap at 0x50000000
 * and grows its stack, touching pages that nobody mapped: each first touch
 * is a page fault (not present) that the kernel resolves by mapping a zeroed
 * frame, after which the faulting instruction runs again.  It yields between
 * pages, and checks afterwards that its data survived the other tasks, which
 * have their own pages at the same virtual addresses.
 */
#include "ulib.h"

#define PAGES 4
#define WORDS_PER_PAGE 1024
#define LEVELS 10

static uint32_t value(uint32_t i)
{
    uint32_t x = i * 2654435761u;
    return x ^ (x >> 15);
}

/* About 1 KiB of stack per level. */
__attribute__((noinline)) static uint32_t deep(unsigned n)
{
    volatile uint8_t pad[1024];
    for (unsigned i = 0; i < sizeof pad; i++)
        pad[i] = (uint8_t)(n + i);
    uint32_t sum = n ? deep(n - 1) : 0;
    for (unsigned i = 0; i < sizeof pad; i++)
        sum += pad[i];
    return sum;
}

int main(void)
{
    uint32_t *heap = (uint32_t *)USER_HEAP_BASE;
    printf("filling %d pages at 0x%08x, where nothing is mapped yet\n", PAGES, USER_HEAP_BASE);
    for (unsigned p = 0; p < PAGES; p++) {
        for (unsigned i = 0; i < WORDS_PER_PAGE; i++)
            heap[p * WORDS_PER_PAGE + i] = value(p * WORDS_PER_PAGE + i);
        printf("page %u filled, yielding\n", p);
        yield();
    }
    unsigned bad = 0;
    for (unsigned i = 0; i < PAGES * WORDS_PER_PAGE; i++)
        bad += heap[i] != value(i);
    printf("%d pages read back: %s\n", PAGES, bad ? "CORRUPTED" : "intact");

    printf("recursing %d levels of 1 KiB deep: the stack grows below its first page\n", LEVELS);
    uint32_t sum = deep(LEVELS - 1), expected = 0;
    for (unsigned n = 0; n < LEVELS; n++)
        for (unsigned i = 0; i < 1024; i++)
            expected += (uint8_t)(n + i);
    printf("recursion result %u: %s\n", sum, sum == expected ? "correct" : "WRONG");
    return !bad && sum == expected ? 0 : 1;
}

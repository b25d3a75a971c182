/*
 * locked_split - locked read-modify-writes on a dword that crosses a
 * 64-byte cache line (offset 62 of an aligned line): 20,000 each of XCHG
 * (implicitly locked), LOCK ADD, LOCK XADD, LOCK CMPXCHG, LOCK INC, and
 * 2,000 LOCK CMPXCHG8B on a qword crossing a line.  A real CPU performs a
 * split lock (a bus lock); the VMM must give the guest the same result
 * without locking the host's bus (no host split lock: the runner's time
 * bound catches the throttling the host kernel applies to one).
 */
#include "hostile.h"

static uint8_t line[256] __attribute__((aligned(64)));

int guest_main(void)
{
    sys_init();
    catch_all();
    volatile uint32_t *p = (volatile uint32_t *)(line + 62);
    *p = 0;
    uint32_t x = 0;
    for (uint32_t i = 0; i < 20000; i++) {
        x = i;
        __asm__ volatile("xchgl %0, %1" : "+r"(x), "+m"(*p) : : "memory");
    }
    printf("xchg: memory %u, last old value %u\n", *p, x);
    *p = 0;
    for (uint32_t i = 0; i < 20000; i++)
        __asm__ volatile("lock addl %1, %0" : "+m"(*p) : "r"(i) : "memory", "cc");
    printf("lock add: %u\n", *p);
    *p = 0;
    uint32_t sum = 0;
    for (uint32_t i = 0; i < 20000; i++) {
        uint32_t v = 3;
        __asm__ volatile("lock xaddl %0, %1" : "+r"(v), "+m"(*p) : : "memory", "cc");
        sum += v;
    }
    printf("lock xadd: %u, sum of old values %u\n", *p, sum);
    *p = 0;
    uint32_t fails = 0;
    for (uint32_t i = 0; i < 20000; i++) {
        uint32_t expect = (i % 7) ? i : i + 1;  /* every 7th compare fails */
        uint32_t a = expect;
        __asm__ volatile("lock cmpxchgl %2, %1" : "+a"(a), "+m"(*p) : "r"(i + 1) : "memory", "cc");
        if (a != expect) {
            fails++;
            *p = i + 1;
        }
    }
    printf("lock cmpxchg: %u, failed compares %u\n", *p, fails);
    *p = 0;
    for (uint32_t i = 0; i < 20000; i++)
        __asm__ volatile("lock incl %0" : "+m"(*p) : : "memory", "cc");
    printf("lock inc: %u\n", *p);

    volatile uint64_t *q = (volatile uint64_t *)(line + 128 + 60);
    *q = 0;
    uint32_t ok = 0;
    for (uint32_t i = 0; i < 2000; i++) {
        uint32_t lo = (uint32_t)*q, hi = (uint32_t)(*q >> 32);
        uint32_t nlo = lo + 0x80000000u, nhi = hi + (nlo < lo);
        uint8_t z;
        __asm__ volatile("lock cmpxchg8b %1\n\tsetz %0"
                         : "=q"(z), "+m"(*q), "+a"(lo), "+d"(hi) : "b"(nlo), "c"(nhi) : "memory", "cc");
        ok += z;
    }
    printf("lock cmpxchg8b: 0x%08x%08x, %u succeeded\n", (uint32_t)(*q >> 32), (uint32_t)*q, ok);
    printf("bytes around the line boundary: %02x %02x | %02x %02x\n", line[62], line[63], line[64], line[65]);
    host_done();
}

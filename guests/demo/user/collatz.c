/*
 * collatz.c - task "collatz": compute-bound like "primes"; the two share the
 * CPU through round-robin preemption by the timer.
 */
#include "ulib.h"

#define LIMIT 20000
#define EXPECTED_START 17647
#define EXPECTED_LENGTH 279

int main(void)
{
    printf("searching the longest Collatz sequence starting below %d (no system calls until done)\n",
           LIMIT);
    unsigned best = 0, best_start = 0;
    for (unsigned s = 1; s < LIMIT; s++) {
        unsigned x = s, len = 1;
        while (x != 1) {
            x = x & 1 ? 3 * x + 1 : x / 2;
            len++;
        }
        if (len > best) {
            best = len;
            best_start = s;
        }
    }
    int ok = best_start == EXPECTED_START && best == EXPECTED_LENGTH;
    printf("it starts at %u and has %u numbers: %s\n", best_start, best, ok ? "correct" : "WRONG");
    return ok ? 0 : 1;
}

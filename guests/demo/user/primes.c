/*
 * primes.c - task "primes": compute-bound.  No system call between the two
 * messages, so only the timer interrupt (preemption) lets the other tasks
 * run meanwhile.
 */
#include "ulib.h"

#define LIMIT 50000
#define EXPECTED_COUNT 5133
#define EXPECTED_LARGEST 49999

int main(void)
{
    printf("counting the primes below %d by trial division (no system calls until done)\n", LIMIT);
    unsigned count = 0, largest = 0;
    for (unsigned n = 2; n < LIMIT; n++) {
        int prime = 1;
        for (unsigned d = 2; d * d <= n; d++)
            if (n % d == 0) {
                prime = 0;
                break;
            }
        if (prime) {
            count++;
            largest = n;
        }
    }
    int ok = count == EXPECTED_COUNT && largest == EXPECTED_LARGEST;
    printf("%u primes below %d, the largest is %u: %s\n", count, LIMIT, largest,
           ok ? "correct" : "WRONG");
    return ok ? 0 : 1;
}

/*
 * clock.c - task "clock": blocks in sleep() again and again.  A sleeping
 * task is off the ready queue; when every task sleeps, the kernel idles
 * with STI;HLT and the next timer tick wakes it.
 */
#include "ulib.h"

#define ALARMS 5
#define PERIOD 4        /* timer ticks */

int main(void)
{
    int ok = 1;
    printf("getpid() = %d; %d alarms, sleeping %d timer ticks before each\n", getpid(), ALARMS, PERIOD);
    for (int i = 1; i <= ALARMS; i++) {
        unsigned t0 = ticks();
        sleep(PERIOD);
        /* The tick count itself depends on timing; that we slept long
         * enough does not. */
        int good = ticks() - t0 >= PERIOD;
        ok &= good;
        printf("alarm %d: slept at least %d ticks: %s\n", i, PERIOD, good ? "yes" : "NO");
    }
    return ok ? 0 : 1;
}

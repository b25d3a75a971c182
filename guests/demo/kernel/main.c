/*
 * main.c - boot, the program table, the per-task reports and the summary of
 * the demo kernel (see kernel.h).
 *
 * What a task writes goes to its own console buffer, and the kernel adds its
 * own lines about that task (start, blocking calls, page faults, the end).
 * A task's console is printed once the task has ended and all tasks before
 * it have been printed, so the log is the same whatever the timer
 * interrupted when: the tasks' code, not the timing, decides every line.
 * Only the "timing:" line (context switches, ticks) depends on the timing,
 * and with -append trace the kernel also prints every event as it happens
 * ("trace:" lines, deterministic under vmm --icount only).
 */
#include "kernel.h"

extern const uint8_t prog_clock[], prog_clock_end[];
extern const uint8_t prog_primes[], prog_primes_end[];
extern const uint8_t prog_collatz[], prog_collatz_end[];
extern const uint8_t prog_heap[], prog_heap_end[];
extern const uint8_t prog_rogue[], prog_rogue_end[];
extern const uint8_t prog_snoop[], prog_snoop_end[];

static const struct program {
    const char *name;
    const uint8_t *start, *end;
    int expect_vector;              /* -1: exits with 0; else killed by this exception */
} programs[] = {
    {"clock", prog_clock, prog_clock_end, -1},
    {"primes", prog_primes, prog_primes_end, -1},
    {"collatz", prog_collatz, prog_collatz_end, -1},
    {"heap", prog_heap, prog_heap_end, -1},
    {"rogue", prog_rogue, prog_rogue_end, 13},
    {"snoop", prog_snoop, prog_snoop_end, 14},
};
#define NPROGRAMS (int)(sizeof programs / sizeof programs[0])

static int next_report;             /* index of the next task to report */

static int task_as_expected(const struct task *t)
{
    if (t->expect_vector < 0)
        return t->kill_vector < 0 && t->exit_code == 0;
    return t->kill_vector == t->expect_vector;
}

static void outcome(const struct task *t, char *buf, unsigned size)
{
    if (t->kill_vector < 0)
        sfmt(buf, size, "exit(%d)", t->exit_code);
    else if (t->kill_vector == 8 || (t->kill_vector >= 10 && t->kill_vector <= 14) || t->kill_vector == 17)
        sfmt(buf, size, "killed, %s(%x)", vector_name((unsigned)t->kill_vector), t->kill_error);
    else
        sfmt(buf, size, "killed, %s", vector_name((unsigned)t->kill_vector));
}

static void print_report(const struct task *t)
{
    char how[32];
    outcome(t, how, sizeof how);
    printf("\ntask %d \"%s\": %s\n", t->id, t->name, how);
    const char *p = t->console, *end = t->console + t->console_len;
    while (p < end) {
        const char *nl = p;
        while (nl < end && *nl != '\n')
            nl++;
        int kernel = *p == 1;
        if (kernel)
            p++;
        printf("  %-7s| ", kernel ? "kernel" : t->name);
        while (p < nl)
            putchar(*p++);
        putchar('\n');
        p = nl + 1;
    }
    if (t->console_truncated)
        printf("  %-7s| (console buffer full, output truncated)\n", "kernel");
}

void report_finished_tasks(void)
{
    while (next_report < ntasks && tasks[next_report].state == TASK_DONE)
        print_report(&tasks[next_report++]);
}

void kernel_finish(void)
{
    report_finished_tasks();
    printf("\nsummary:\n");
    printf("  task  program  outcome            expected  syscalls  demand-paged  frames freed\n");
    int exited = 0, killed = 0, unexpected = 0;
    unsigned demand = 0, syscalls = 0;
    for (int i = 0; i < ntasks; i++) {
        const struct task *t = &tasks[i];
        char how[32];
        outcome(t, how, sizeof how);
        int ok = task_as_expected(t);
        printf("  %4d  %-7s  %-17s  %-8s  %8u  %12u  %12u\n", t->id, t->name, how, ok ? "yes" : "NO",
               t->syscalls, t->demand_pages, t->frames_freed);
        if (t->kill_vector < 0)
            exited++;
        else
            killed++;
        unexpected += !ok;
        demand += t->demand_pages;
        syscalls += t->syscalls;
    }
    printf("kernel: %d tasks: %d exited, %d killed; %u system calls, %u pages mapped on demand\n", ntasks,
           exited, killed, syscalls, demand);
    int leak = frames_free() != frames_total();
    printf("kernel: %u of %u frames free again%s\n", frames_free(), frames_total(), leak ? " (LEAK)" : "");
    printf("timing: %u context switches (%u preemptions by the timer), %u timer ticks, %u idle halts\n",
           sched_stats.switches, sched_stats.preemptions, ticks, sched_stats.idle_halts);
    if (unexpected || leak) {
        printf("kernel: something went wrong; exiting with 1 (isa-debug-exit)\n");
        exit(1);
    }
    printf("kernel: every task behaved as expected; powering off (isa-debug-exit, port 0xf4, value 0)\n");
    exit(0);
}

/* Multiboot: mem_upper (KiB above 1 MiB) gives the top of RAM. */
static uint32_t ram_top(void)
{
    const uint32_t *mbi = (const uint32_t *)multiboot_info;
    if (multiboot_magic == 0x2badb002u && mbi && (mbi[0] & 1))
        return 0x100000u + mbi[2] * 1024u;
    return 0x100000u + 15u * 1024 * 1024;   /* assume 16 MiB */
}

int guest_main(void)
{
    sys_init();                     /* GDT, TSS, IDT, PIC remapped and masked */
    tracing = sys_cmdline_has("trace");
    uint32_t top = ram_top();

    printf("vmm demo kernel: a small multiprogramming OS in ring 0\n");
    printf("=======================================================\n");
    printf("kernel: GDT: ring-0 code/data, ring-3 code/data (DPL 3), a TSS whose ESP0 is the kernel stack\n");
    printf("kernel: IDT: exceptions 0-31, IRQs 0x20-0x2f, system calls INT 0x80 (DPL 3)\n");
    printf("kernel: 8259A PIC remapped to vectors 0x20/0x28; 8254 PIT channel 0 at %d Hz on IRQ 0\n", HZ);
    mm_init(top);
    sched_init();
    printf("kernel: paging on; 0x00001000-0x%08x identity-mapped supervisor-only in every address space\n",
           KERNEL_MAPPED_END - 1);
    printf("kernel: %u free frames of 4 KiB at 0x%08x-0x%08x\n", frames_total(), FRAME_POOL_BASE,
           FRAME_POOL_BASE + frames_total() * 4096 - 1);
    printf("kernel: %d tasks, each in its own address space (every program is linked at 0x%08x):\n", NPROGRAMS,
           USER_BASE);
    for (int i = 0; i < NPROGRAMS; i++)
        task_create(programs[i].name, programs[i].start, (uint32_t)(programs[i].end - programs[i].start),
                    programs[i].expect_vector);
    printf("kernel: round-robin scheduling, time slice %d tick(s); a task's registers live in its VCPU while it is off the CPU\n",
           TIME_SLICE);
    printf("kernel: each task's output is shown when it ends, in task order (-append trace: live events)\n");
    sched_start();
}

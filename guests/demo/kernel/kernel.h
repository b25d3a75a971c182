/*
 * kernel.h - the demo kernel: a small multiprogramming operating system for
 * IA-32, written to show on a real guest what a VMM has to virtualize.
 *
 * Built on the ring-0 library of the system tests (tests/guests/syslib: GDT,
 * TSS, IDT with uniform exception frames, 8259A PIC, 8254 PIT) and the guest
 * runtime (tests/guests/lib: multiboot entry, COM1 printf, isa-debug-exit).
 *
 *   main.c      boot, the program table, per-task reports, the summary
 *   mm.c        physical frames, address spaces (one page directory per
 *               task, the kernel mapped supervisor-only in all), the ELF
 *               loader, demand paging
 *   sched.c     tasks and their VCPUs, the round-robin scheduler driven by
 *               the PIT, system calls (INT 0x80), exceptions
 *   entry.S     the first IRET to ring 3
 *   programs.S  the user programs (../user), embedded as ELF files
 */
#ifndef DEMO_KERNEL_H
#define DEMO_KERNEL_H

#include "fmt.h"
#include "sys.h"
#include "syscall.h"

#define HZ 1000                     /* PIT channel 0 rate: one tick per ms */
#define PIT_DIVISOR ((PIT_HZ + HZ / 2) / HZ)
#define TIME_SLICE 1                /* ticks a task may run while others wait */
#define MAX_TASKS 8
#define CONSOLE_SIZE 2048

/* ---- mm.c ------------------------------------------------------------------ */

/* The kernel identity-maps the first 16 MiB (minus page 0), supervisor-only,
 * with page tables shared by every address space.  Frames for page tables
 * and user pages come from 4 MiB up. */
#define KERNEL_MAPPED_END 0x01000000u
#define KERNEL_PDES (KERNEL_MAPPED_END >> 22)
#define FRAME_POOL_BASE 0x00400000u

/* Page fault error code bits. */
#define PF_P 0x1                    /* protection violation (clear: not present) */
#define PF_W 0x2                    /* write (clear: read) */
#define PF_U 0x4                    /* at CPL 3 */

extern uint32_t *kernel_pd;
/* Builds the kernel page tables, turns paging on (CR0.PG, CR0.WP) and sets
 * up the frame pool [FRAME_POOL_BASE, min(ram_top, KERNEL_MAPPED_END)). */
void mm_init(uint32_t ram_top);
/* A zeroed frame (its physical address), or 0 when none is left. */
uint32_t frame_alloc(void);
void frame_free(uint32_t pa);
unsigned frames_free(void);
unsigned frames_total(void);

/* A new page directory with the kernel mappings; 0 when out of frames. */
uint32_t *as_create(void);
/* Maps one 4 KiB user page (allocating its page table); 0 when out of frames. */
int as_map(uint32_t *pd, uint32_t va, uint32_t pa, uint32_t flags);
/* The PTE of va (0 if it has no page table or is not present). */
uint32_t as_pte(const uint32_t *pd, uint32_t va);
/* Frees every user frame, page table and the directory; returns how many. */
unsigned as_destroy(uint32_t *pd);

struct elf_info {
    uint32_t entry;
    unsigned text_pages, data_pages;
};
/* Loads an ELF32 i386 executable into pd (user pages, read-only unless the
 * segment is writable).  Returns 0, or a negative value with *why set. */
int elf_load(uint32_t *pd, const uint8_t *image, uint32_t size, struct elf_info *info, const char **why);

/* ---- sched.c ----------------------------------------------------------------- */

enum task_state { TASK_READY, TASK_RUNNING, TASK_SLEEPING, TASK_DONE };

/*
 * A task's VCPU: the complete register state the CPU needs to resume it.
 * When a task enters the kernel (interrupt, exception, INT 0x80), the stubs
 * push its registers as a struct sys_frame on the kernel stack; a context
 * switch copies that frame into the VCPU of the task that leaves the CPU and
 * the VCPU of the next task into the frame, and loads the next CR3.  The
 * stubs' IRET then resumes the other task.  A VMM keeps the same kind of
 * structure for each virtual CPU it schedules.
 */
struct vcpu {
    struct sys_frame regs;          /* EAX..EDI, DS/ES/FS/GS, EIP, CS, EFLAGS, ESP, SS */
    uint32_t cr3;                   /* the page directory of the task */
};

struct task {
    int id;                         /* 1.. */
    const char *name;
    enum task_state state;
    struct vcpu vcpu;
    uint32_t *pd;
    uint32_t wake_tick;             /* TASK_SLEEPING: when to wake */
    struct task *next_ready;

    int expect_vector;              /* -1: should exit(0); else should be killed by this exception */
    int exit_code;
    int kill_vector;                /* -1: exited */
    uint32_t kill_error;

    unsigned syscalls, demand_pages, frames_freed, runs;

    /* The task's console: what it writes, and what the kernel reports about
     * it, shown when it has ended (see main.c). */
    char console[CONSOLE_SIZE];
    unsigned console_len;
    int console_truncated;
};

extern struct task tasks[MAX_TASKS];
extern int ntasks;
extern volatile uint32_t ticks;
extern int tracing;
struct sched_stats {
    unsigned switches, preemptions, idle_halts;
};
extern struct sched_stats sched_stats;

void sched_init(void);
struct task *task_create(const char *name, const uint8_t *image, uint32_t size, int expect_vector);
/* Starts the PIT and runs the tasks; never returns. */
__attribute__((noreturn)) void sched_start(void);
/* Exception mnemonic ("#GP") for vectors 0..31. */
const char *vector_name(unsigned v);

/* Appends a kernel message (one line) to the task's console. */
void console_kernel(struct task *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* With -append trace: "trace: t=<tick> <message>" on COM1, right away. */
void trace(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* ---- main.c ------------------------------------------------------------------ */

/* Prints the console of every finished task whose turn it is (task order). */
void report_finished_tasks(void);
/* All tasks are done: summary, power off.  Never returns. */
__attribute__((noreturn)) void kernel_finish(void);

/* ---- entry.S ------------------------------------------------------------------ */

__attribute__((noreturn)) void vcpu_enter(struct sys_frame *f);

#endif /* DEMO_KERNEL_H */

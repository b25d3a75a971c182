/*
 * sched.c - tasks and their VCPUs, the scheduler, the timer, system calls
 * and exceptions (see kernel.h).
 *
 * The kernel has one stack (TSS.ESP0) and runs with interrupts disabled
 * (all IDT entries are interrupt gates), so it is never preempted itself:
 * every entry from ring 3 builds a frame at the top of that stack, the
 * handler may switch the frame to another task's VCPU, and the stub's IRET
 * resumes whatever the frame holds.  The one exception is the idle loop,
 * which waits for the timer with STI;HLT when every task is asleep.
 */
#include "kernel.h"

struct task tasks[MAX_TASKS];
int ntasks;
volatile uint32_t ticks;
int tracing;
struct sched_stats sched_stats;

static struct task *current;        /* the task whose VCPU is loaded, or 0 */
static struct task *last_run;       /* the last task that was on the CPU */
static struct task *ready_head, *ready_tail;
static unsigned slice_used;

/* ---- consoles and tracing ------------------------------------------------------ */

static void console_append(struct task *t, const char *s, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        if (t->console_len + 1 >= CONSOLE_SIZE) {
            t->console_truncated = 1;
            return;
        }
        t->console[t->console_len++] = s[i];
    }
}

/* Kernel lines start with \1 so that the report can tell them apart. */
void console_kernel(struct task *t, const char *fmt, ...)
{
    char msg[160];
    va_list ap;
    va_start(ap, fmt);
    int n = vfmt(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (t->console_len && t->console[t->console_len - 1] != '\n')
        console_append(t, "\n", 1);
    console_append(t, "\1", 1);
    console_append(t, msg, (unsigned)n);
    console_append(t, "\n", 1);
    trace("[%s] kernel: %s", t->name, msg);
}

void trace(const char *fmt, ...)
{
    if (!tracing)
        return;
    char line[200];
    va_list ap;
    va_start(ap, fmt);
    vfmt(line, sizeof line, fmt, ap);
    va_end(ap);
    printf("trace: t=%u %s\n", ticks, line);
}

/* ---- VCPUs and the ready queue ----------------------------------------------------- */

static void vcpu_save(struct task *t, const struct sys_frame *f)
{
    t->vcpu.regs = *f;
}

static void vcpu_load(struct task *t, struct sys_frame *f)
{
    *f = t->vcpu.regs;
    /* Loading CR3 flushes the TLB; skip it when the address space stays. */
    if (read_cr3() != t->vcpu.cr3)
        write_cr3(t->vcpu.cr3);
}

static void ready_push(struct task *t)
{
    t->state = TASK_READY;
    t->next_ready = 0;
    if (ready_tail)
        ready_tail->next_ready = t;
    else
        ready_head = t;
    ready_tail = t;
}

static struct task *ready_pop(void)
{
    struct task *t = ready_head;
    if (t) {
        ready_head = t->next_ready;
        if (!ready_head)
            ready_tail = 0;
    }
    return t;
}

static int tasks_alive(void)
{
    for (int i = 0; i < ntasks; i++)
        if (tasks[i].state != TASK_DONE)
            return 1;
    return 0;
}

/*
 * Puts the next ready task on the CPU: loads its VCPU into the frame f (the
 * one the current kernel entry will IRET through).  The task that was
 * running must already be off the CPU (saved, and queued, asleep or done).
 * With nothing ready the CPU idles until a timer tick wakes a sleeper; with
 * nothing alive, the run is over.
 */
static void dispatch(struct sys_frame *f, const char *why)
{
    struct task *next;
    static const char idle[] = "idle";
    const char *from = last_run ? last_run->name : "kernel";
    current = 0;
    while (!(next = ready_pop())) {
        if (!tasks_alive())
            kernel_finish();
        sched_stats.idle_halts++;
        if (from != idle)
            trace("idle: every task is asleep; STI;HLT until an interrupt");
        /* STI takes effect after HLT starts: no tick can slip in between. */
        sti_hlt();
        cli();
        from = idle;
        why = "woken by the timer";
    }
    next->state = TASK_RUNNING;
    if (next != last_run)
        sched_stats.switches++;
    if (next != last_run || from == idle)
        trace("switch %s -> %s (%s)", from, next->name, why);
    if (!next->runs++)
        console_kernel(next, "started: VCPU loaded (EIP 0x%08x, ESP 0x%08x, CR3 0x%08x), IRET to ring 3",
                       next->vcpu.regs.eip, next->vcpu.regs.esp, next->vcpu.cr3);
    last_run = current = next;
    slice_used = 0;
    vcpu_load(next, f);
}

/* The running task leaves the CPU but stays ready (preemption, yield). */
static void requeue_and_dispatch(struct sys_frame *f, const char *why)
{
    vcpu_save(current, f);
    ready_push(current);
    dispatch(f, why);
}

/* ---- task creation and end ------------------------------------------------------- */

struct task *task_create(const char *name, const uint8_t *image, uint32_t size, int expect_vector)
{
    if (ntasks == MAX_TASKS)
        sys_fatal("too many tasks");
    struct task *t = &tasks[ntasks];
    memset(t, 0, sizeof *t);
    t->id = ++ntasks;
    t->name = name;
    t->expect_vector = expect_vector;
    t->kill_vector = -1;

    const char *why = "out of memory";
    struct elf_info info;
    t->pd = as_create();
    if (!t->pd || elf_load(t->pd, image, size, &info, &why) < 0)
        sys_fatal("cannot load %s: %s", name, why);
    /* The first stack page; the rest of the stack comes on demand. */
    uint32_t stack = frame_alloc();
    if (!stack || !as_map(t->pd, USER_STACK_TOP - 4096, stack, PTE_P | PTE_W | PTE_U))
        sys_fatal("cannot load %s: out of memory", name);

    /* The initial VCPU: ring-3 selectors, zeroed registers, interrupts on,
     * IOPL 0 (so that CLI/STI/IN/OUT fault at CPL 3). */
    struct sys_frame *r = &t->vcpu.regs;
    r->ds = r->es = r->fs = r->gs = SEL_UDATA;
    r->cs = SEL_UCODE;
    r->ss = SEL_UDATA;
    r->eip = info.entry;
    r->esp = USER_STACK_TOP;
    r->eflags = EFL_FIXED | EFL_IF;
    t->vcpu.cr3 = (uint32_t)t->pd;

    printf("  task %d %-8s page directory 0x%08x, %u code + %u data pages, 1 stack page, entry 0x%08x\n",
           t->id, name, t->vcpu.cr3, info.text_pages, info.data_pages, info.entry);
    ready_push(t);
    return t;
}

/* The current task is done (exit or killed): tear down its address space
 * and run someone else. */
static void task_end(struct sys_frame *f, const char *why)
{
    struct task *t = current;
    t->state = TASK_DONE;
    /* Off its page directory before freeing it. */
    write_cr3((uint32_t)kernel_pd);
    t->frames_freed = as_destroy(t->pd);
    t->pd = 0;
    t->vcpu.cr3 = 0;
    console_kernel(t, "address space destroyed: %u frames freed", t->frames_freed);
    report_finished_tasks();
    dispatch(f, why);
}

/* ---- the timer --------------------------------------------------------------------- */

static void timer_irq(struct sys_frame *f)
{
    ticks++;
    pic_eoi(0);
    /* Wake the sleepers whose time has come, in task order. */
    for (int i = 0; i < ntasks; i++) {
        struct task *t = &tasks[i];
        if (t->state == TASK_SLEEPING && (int32_t)(ticks - t->wake_tick) >= 0) {
            trace("wake %s", t->name);
            ready_push(t);
        }
    }
    /* Preempt a task that used up its slice while others are ready.  Only
     * ring 3 is preempted: a tick that interrupts the kernel's idle loop
     * just returns to it. */
    if ((f->cs & 3) == 3 && current && ++slice_used >= TIME_SLICE && ready_head) {
        sched_stats.preemptions++;
        requeue_and_dispatch(f, "preempted by the timer");
    }
}

static void spurious_irq(struct sys_frame *f)
{
    (void)f;                        /* IRQ 7/15 with nothing in service: no EOI */
}

/* ---- system calls ------------------------------------------------------------------ */

/* Whether [va, va + len) lies in pages the task may read. */
static int user_readable(struct task *t, uint32_t va, uint32_t len)
{
    if (va < USER_BASE || va >= USER_STACK_TOP || len > USER_STACK_TOP - va)
        return 0;
    for (uint32_t p = va & ~0xfffu; p < va + len; p += 4096) {
        if (!(as_pte(t->pd, p) & PTE_U) || !(t->pd[p >> 22] & PTE_U))
            return 0;
    }
    return 1;
}

static void syscall_entry(struct sys_frame *f)
{
    struct task *t = current;
    if (!t || (f->cs & 3) != 3)
        sys_fatal("INT 0x80 from the kernel at 0x%08x", f->eip);
    t->syscalls++;
    switch (f->eax) {
    case SYS_WRITE: {
        uint32_t buf = f->ebx, len = f->ecx;
        if (len > 4096 || !user_readable(t, buf, len)) {
            console_kernel(t, "write(0x%08x, %u): bad buffer, returns %d", buf, len, E_FAULT);
            f->eax = (uint32_t)E_FAULT;
            break;
        }
        /* CR3 is the task's: its buffer is readable right here. */
        console_append(t, (const char *)buf, len);
        if (tracing) {
            char text[160];
            unsigned n = len < sizeof text - 1 ? len : sizeof text - 1;
            memcpy(text, (const char *)buf, n);
            if (n && text[n - 1] == '\n')
                n--;
            text[n] = 0;
            trace("[%s] %s", t->name, text);
        }
        f->eax = len;
        break;
    }
    case SYS_YIELD:
        console_kernel(t, "yield(): to the back of the ready queue");
        f->eax = 0;
        requeue_and_dispatch(f, "yield");
        break;
    case SYS_EXIT:
        t->exit_code = (int)f->ebx;
        console_kernel(t, "exit(%d)", t->exit_code);
        task_end(f, "exit");
        break;
    case SYS_SLEEP: {
        uint32_t n = f->ebx;
        console_kernel(t, "sleep(%u): blocked for %u timer ticks", n, n);
        f->eax = 0;
        if (n == 0) {
            requeue_and_dispatch(f, "sleep(0)");
            break;
        }
        vcpu_save(t, f);
        t->state = TASK_SLEEPING;
        t->wake_tick = ticks + n;
        dispatch(f, "sleep");
        break;
    }
    case SYS_GETPID:
        f->eax = (uint32_t)t->id;
        break;
    case SYS_TICKS:
        f->eax = ticks;
        break;
    default:
        console_kernel(t, "unknown system call %u", f->eax);
        f->eax = (uint32_t)E_NOSYS;
        break;
    }
}

/* ---- exceptions ---------------------------------------------------------------------- */

const char *vector_name(unsigned v)
{
    static const char *const names[32] = {
        "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM", "#DF", "#MF(old)", "#TS",
        "#NP", "#SS", "#GP", "#PF", "#15", "#MF", "#AC", "#MC", "#XM", "#VE", "#CP",
    };
    return v < 32 && names[v] ? names[v] : "#??";
}

static int has_error_code(unsigned v)
{
    return v == 8 || (v >= 10 && v <= 14) || v == 17 || v == 21;
}

/* Names the privileged instruction at the task's EIP, as a VMM decodes the
 * instruction a guest trapped on. */
static const char *privileged_insn(struct task *t, uint32_t eip)
{
    if (!user_readable(t, eip, 2))
        return 0;
    const uint8_t *p = (const uint8_t *)eip;
    switch (p[0]) {
    case 0xfa: return "CLI";
    case 0xfb: return "STI";
    case 0xf4: return "HLT";
    case 0xe4: case 0xe5: case 0xec: case 0xed: return "IN";
    case 0xe6: case 0xe7: case 0xee: case 0xef: return "OUT";
    case 0x0f:
        switch (p[1]) {
        case 0x20: return "MOV from a control register";
        case 0x22: return "MOV to a control register";
        case 0x06: return "CLTS";
        case 0x09: return "WBINVD";
        case 0x30: return "WRMSR";
        case 0x32: return "RDMSR";
        }
    }
    return 0;
}

static void kill_current(struct sys_frame *f, const char *what)
{
    struct task *t = current;
    unsigned v = f->vector;
    t->kill_vector = (int)v;
    t->kill_error = f->error;
    if (has_error_code(v))
        console_kernel(t, "%s(%x) at EIP 0x%08x: %s: task killed", vector_name(v), f->error, f->eip, what);
    else
        console_kernel(t, "%s at EIP 0x%08x: %s: task killed", vector_name(v), f->eip, what);
    task_end(f, "killed");
}

static void exception(struct sys_frame *f)
{
    unsigned v = f->vector;
    if (!current || (f->cs & 3) != 3)
        sys_fatal("kernel exception %s (vector %u, error 0x%x) at EIP 0x%08x", vector_name(v), v, f->error,
                  f->eip);
    char what[96];
    const char *insn;
    if (v == 13 && f->error == 0 && (insn = privileged_insn(current, f->eip)))
        sfmt(what, sizeof what, "%s is a privileged instruction at CPL 3 (IOPL 0)", insn);
    else
        sfmt(what, sizeof what, "exception %u in ring 3", v);
    kill_current(f, what);
}

static int in_demand_zone(uint32_t va, const char **zone)
{
    if (va >= USER_HEAP_BASE && va < USER_HEAP_END) {
        *zone = "heap";
        return 1;
    }
    if (va >= USER_STACK_LIMIT && va < USER_STACK_TOP) {
        *zone = "stack";
        return 1;
    }
    return 0;
}

static void page_fault(struct sys_frame *f)
{
    uint32_t cr2 = read_cr2();
    struct task *t = current;
    if (!t || (f->cs & 3) != 3)
        sys_fatal("kernel page fault at 0x%08x (error 0x%x, EIP 0x%08x)", cr2, f->error, f->eip);
    const char *access = f->error & PF_W ? "write" : "read";
    const char *zone;

    /* Demand paging: a first touch of the heap or of the stack below its
     * first page.  Map a zeroed frame and return: IRET restarts the
     * faulting instruction.  (No INVLPG: a not-present entry is never in
     * the TLB.) */
    if (!(f->error & PF_P) && in_demand_zone(cr2, &zone)) {
        uint32_t page = cr2 & ~0xfffu, frame = frame_alloc();
        if (frame && as_map(t->pd, page, frame, PTE_P | PTE_W | PTE_U)) {
            t->demand_pages++;
            console_kernel(t, "#PF(%x): %s in page 0x%08x (%s), not present: mapped a zeroed frame, resuming",
                           f->error, access, page, zone);
            return;
        }
        if (frame)
            frame_free(frame);
        kill_current(f, "out of memory");
        return;
    }

    char what[120];
    if (f->error & PF_P)
        sfmt(what, sizeof what, "%s of 0x%08x, a supervisor-only page (protection violation)", access, cr2);
    else
        sfmt(what, sizeof what, "%s of 0x%08x, which is not mapped", access, cr2);
    kill_current(f, what);
}

/* ---- start ------------------------------------------------------------------------- */

void sched_init(void)
{
    for (unsigned v = 0; v < 32; v++)
        sys_set_handler(v, exception);
    sys_set_handler(14, page_fault);
    sys_set_irq_handler(0, timer_irq);
    sys_set_irq_handler(7, spurious_irq);
    sys_set_irq_handler(15, spurious_irq);
    sys_set_handler(SYSCALL_VECTOR, syscall_entry);   /* the gate has DPL 3 (sys_init) */
}

void sched_start(void)
{
    pit_set(0, 2, PIT_DIVISOR);     /* mode 2, rate generator */
    pic_unmask(0);
    /* The first task's frame goes where every later kernel entry from
     * ring 3 puts its frame: at the top of the TSS.ESP0 stack. */
    struct sys_frame *f = (struct sys_frame *)((uint32_t)sys_kstack_top - sizeof(struct sys_frame));
    dispatch(f, "first task");
    vcpu_enter(f);
}

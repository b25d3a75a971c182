/*
 * sys.c - descriptor tables, the main TSS, exception dispatch, the command
 * line and PASS/FAIL reporting of the system library (see sys.h).
 */
#include "sys.h"

uint64_t sys_gdt[GDT_ENTRIES] __attribute__((aligned(16)));
uint64_t sys_idt[256] __attribute__((aligned(16)));
struct sys_tss sys_tss __attribute__((aligned(128)));

/* Ring-0 stack for entries from ring 3 (TSS.ESP0) and the ring-3 stack of
 * sys_run_user; both separate from crt0's stack, on which the kernel runs.
 * Page aligned (and a whole number of pages), so that a guest can give the
 * user stack's pages the U bit without exposing anything else. */
uint8_t sys_kstack[16384] __attribute__((aligned(4096)));
uint8_t sys_ustack[16384] __attribute__((aligned(4096)));
/* Exported as symbols for asm and C: the first byte past each stack. */
__asm__(".globl sys_kstack_top\n\t.set sys_kstack_top, sys_kstack + 16384\n\t"
        ".globl sys_ustack_top\n\t.set sys_ustack_top, sys_ustack + 16384");

static sys_handler_t handlers[256];
volatile struct sys_fault sys_last;
volatile uint32_t sys_vector_count[256];
volatile uint32_t sys_fixup;

int sys_passed, sys_failed;
static int next_gdt = GDT_FIRST_FREE;
static char cmdline[256];

extern char sys_isr_stubs[];
extern void sys_user_exit_isr(void);
extern void sys_load_segments(void);

/* ---- GDT ---------------------------------------------------------------- */

void gdt_set(int index, uint64_t desc)
{
    sys_gdt[index] = desc;
}

uint64_t gdt_get(int index)
{
    return sys_gdt[index];
}

int gdt_alloc(void)
{
    if (next_gdt >= GDT_ENTRIES)
        sys_fatal("GDT full");
    return next_gdt++;
}

uint16_t gdt_add_segment(uint32_t base, uint32_t limit, unsigned access, unsigned flags)
{
    int i = gdt_alloc();
    gdt_set(i, desc_seg(base, limit, access, flags));
    return SEL(i, (access >> 5) & 3);
}

uint16_t gdt_add_call_gate(uint16_t target_sel, void *target, unsigned dpl, unsigned params)
{
    int i = gdt_alloc();
    gdt_set(i, desc_gate(D_TYPE_CALL32, target_sel, (uint32_t)target, dpl, params));
    return SEL(i, 0);
}

uint16_t gdt_add_task_gate(uint16_t tss_sel, unsigned dpl)
{
    int i = gdt_alloc();
    gdt_set(i, desc_gate(D_TYPE_TASK, tss_sel, 0, dpl, 0));
    return SEL(i, 0);
}

uint16_t gdt_add_tss(const void *tss, uint32_t limit, unsigned dpl)
{
    int i = gdt_alloc();
    gdt_set(i, desc_tss(tss, limit, dpl));
    return SEL(i, 0);
}

uint16_t gdt_add_ldt(const void *ldt, uint32_t limit)
{
    int i = gdt_alloc();
    gdt_set(i, desc_ldt(ldt, limit));
    return SEL(i, 0);
}

void gdt_tss_clear_busy(uint16_t sel)
{
    sys_gdt[sel >> 3] &= ~((uint64_t)0x2 << 40);
}

/* ---- TSS ---------------------------------------------------------------- */

void tss_io_allow(uint16_t port, int allow)
{
    if (allow)
        sys_tss.iomap[port >> 3] &= (uint8_t)~(1u << (port & 7));
    else
        sys_tss.iomap[port >> 3] |= (uint8_t)(1u << (port & 7));
}

void tss_iomap_enable(int enable)
{
    sys_tss.t.iomap_base = enable ? sizeof(struct tss32) : 0xffff;
}

void tss_init_task(struct tss32 *t, void (*entry)(void), void *stack_top)
{
    memset(t, 0, sizeof *t);
    t->cr3 = read_cr3();
    t->eip = (uint32_t)entry;
    t->eflags = EFL_FIXED;
    t->esp = (uint32_t)stack_top;
    t->esp0 = (uint32_t)stack_top;
    t->ss0 = SEL_KDATA;
    t->cs = SEL_KCODE;
    t->ss = t->ds = t->es = t->fs = t->gs = SEL_KDATA;
    t->iomap_base = sizeof(struct tss32);
}

/* ---- IDT ---------------------------------------------------------------- */

uint32_t sys_isr_stub(unsigned vector)
{
    return (uint32_t)sys_isr_stubs + 16 * vector;
}

void sys_set_handler(unsigned vector, sys_handler_t h)
{
    handlers[vector & 0xff] = h;
}

void idt_set_gate(unsigned vector, unsigned type, unsigned dpl)
{
    sys_idt[vector] = desc_gate(type, SEL_KCODE, sys_isr_stub(vector), dpl, 0);
}

void idt_set(unsigned vector, uint64_t desc)
{
    sys_idt[vector] = desc;
}

uint64_t idt_get(unsigned vector)
{
    return sys_idt[vector];
}

void sys_fault_reset(void)
{
    sys_last.vector = -1;
    sys_last.error = sys_last.eip = sys_last.cs = 0;
    sys_last.eflags = sys_last.cr2 = sys_last.esp = sys_last.ss = 0;
    sys_last.count = 0;
    sys_fixup = 0;
}

void sys_isr_dispatch(struct sys_frame *f);
void sys_isr_dispatch(struct sys_frame *f)
{
    unsigned v = f->vector & 0xff;
    sys_last.vector = (int)v;
    sys_last.error = f->error;
    sys_last.eip = f->eip;
    sys_last.cs = f->cs & 0xffff;
    sys_last.eflags = f->eflags;
    if (v == 14)
        sys_last.cr2 = read_cr2();
    if (sys_last.cs & 3) {
        sys_last.esp = f->esp;
        sys_last.ss = f->ss & 0xffff;
    } else {
        sys_last.esp = sys_last.ss = 0;
    }
    sys_last.count++;
    sys_vector_count[v]++;

    if (handlers[v]) {
        handlers[v](f);
        return;
    }
    if (v < 32 && sys_fixup) {
        f->eip = sys_fixup;
        sys_fixup = 0;
        return;
    }
    sys_fatal("unexpected %s: vector=%u error=0x%x cs:eip=%04x:%08x eflags=0x%x",
              v < 32 ? "exception" : "interrupt", v, f->error, f->cs & 0xffff, f->eip, f->eflags);
}

/* ---- initialisation ------------------------------------------------------ */

static void read_cmdline(void)
{
    /* Multiboot information: flags bit 2 -> cmdline (a physical address). */
    if (multiboot_magic != 0x2BADB002 || !multiboot_info)
        return;
    const uint32_t *info = (const uint32_t *)multiboot_info;
    if (!(info[0] & (1u << 2)) || !info[4])
        return;
    const char *s = (const char *)info[4];
    unsigned i = 0;
    while (s[i] && i < sizeof cmdline - 1) {
        cmdline[i] = s[i];
        i++;
    }
    cmdline[i] = 0;
}

void sys_init(void)
{
    read_cmdline();

    sys_gdt[0] = 0;
    sys_gdt[1] = desc_seg(0, 0xfffff, D_CODE_XR | D_DPL(0), D_G | D_DB);
    sys_gdt[2] = desc_seg(0, 0xfffff, D_DATA_RW | D_DPL(0), D_G | D_DB);
    sys_gdt[3] = desc_seg(0, 0xfffff, D_CODE_XR | D_DPL(3), D_G | D_DB);
    sys_gdt[4] = desc_seg(0, 0xfffff, D_DATA_RW | D_DPL(3), D_G | D_DB);
    sys_gdt[5] = desc_tss(&sys_tss, TSS_IOMAP_LIMIT, 0);
    struct sys_dtr g = {sizeof sys_gdt - 1, (uint32_t)sys_gdt};
    lgdt(&g);
    sys_load_segments();

    memset(&sys_tss, 0, sizeof sys_tss);
    sys_tss.t.esp0 = (uint32_t)sys_kstack_top;
    sys_tss.t.ss0 = SEL_KDATA;
    sys_tss.t.iomap_base = sizeof(struct tss32);
    memset(sys_tss.iomap, 0xff, sizeof sys_tss.iomap);
    ltr(SEL_TSS);

    for (unsigned v = 0; v < 256; v++)
        idt_set_gate(v, D_TYPE_INT32, 0);
    /* As in Linux: INT3, INTO and the system call vector usable from ring 3. */
    idt_set_gate(3, D_TYPE_INT32, 3);
    idt_set_gate(4, D_TYPE_INT32, 3);
    idt_set_gate(VEC_SYSCALL, D_TYPE_INT32, 3);
    sys_idt[VEC_USER_EXIT] = desc_gate(D_TYPE_INT32, SEL_KCODE, (uint32_t)sys_user_exit_isr, 3, 0);
    struct sys_dtr i = {sizeof sys_idt - 1, (uint32_t)sys_idt};
    lidt(&i);

    /* The BIOS left the PIC at vectors 8..15, where exceptions live: move it
     * away and mask everything until a test wants an IRQ. */
    pic_init(VEC_IRQ_BASE, VEC_IRQ_SLAVE);
    sys_fault_reset();
}

const char *sys_cmdline(void)
{
    return cmdline;
}

int sys_cmdline_has(const char *word)
{
    const char *p = cmdline;
    size_t n = strlen(word);
    while (*p) {
        while (*p == ' ')
            p++;
        const char *start = p;
        while (*p && *p != ' ')
            p++;
        if ((size_t)(p - start) == n && memcmp(start, word, n) == 0)
            return 1;
    }
    return 0;
}

/* ---- reporting ------------------------------------------------------------ */

int check(const char *name, int cond)
{
    if (cond) {
        sys_passed++;
        printf("PASS %s\n", name);
    } else {
        sys_failed++;
        printf("FAIL %s\n", name);
    }
    return cond;
}

int check_eq(const char *name, uint32_t got, uint32_t expected)
{
    if (got == expected) {
        sys_passed++;
        printf("PASS %s\n", name);
        return 1;
    }
    sys_failed++;
    printf("FAIL %s (got 0x%x, expected 0x%x)\n", name, got, expected);
    return 0;
}

int check_detail(const char *name, int cond, const char *fmt, ...)
{
    if (cond) {
        sys_passed++;
        printf("PASS %s\n", name);
        return 1;
    }
    sys_failed++;
    printf("FAIL %s (", name);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(")\n");
    return 0;
}

int check_fault(const char *name, int vector, uint32_t error, uint32_t eip, const char *where)
{
    int ok = sys_last.count == 1 && sys_last.vector == vector && sys_last.error == error &&
             (!where || sys_last.eip == eip);
    if (ok) {
        sys_passed++;
        printf("PASS %s: vector %d, error 0x%x", name, vector, error);
        if (where)
            printf(", EIP %s", where);
        printf("\n");
        return 1;
    }
    sys_failed++;
    printf("FAIL %s (%d exception(s), last vector %d error 0x%x eip 0x%x; expected vector %d error 0x%x",
           name, sys_last.count, sys_last.vector, sys_last.error, sys_last.eip, vector, error);
    if (where)
        printf(" eip 0x%x (%s)", eip, where);
    printf(")\n");
    return 0;
}

void check_skip(const char *name, const char *reason)
{
    printf("SKIP %s (%s)\n", name, reason);
}

void sys_section(const char *title)
{
    printf("== %s\n", title);
}

void sys_finish(void)
{
    printf("SUMMARY: %d passed, %d failed\n", sys_passed, sys_failed);
    exit(sys_failed ? 1 : 0);
}

void sys_fatal(const char *fmt, ...)
{
    sys_failed++;
    printf("FAIL ");
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("\n");
    sys_finish();
}

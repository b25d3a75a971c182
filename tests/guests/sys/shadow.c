/*
 * shadow.c - interrupt and debug-exception shadows (SDM Vol. 3A, 6.8.3
 * "Masking Exceptions and Interrupts When Switching Stacks", STI and HLT in
 * Vol. 2B):
 *
 *   - STI; HLT: the HLT executes (no interrupt between the two), the next
 *     timer interrupt wakes it, and the saved EIP is that of the
 *     instruction after HLT;
 *   - an interrupt pending when STI executes is taken only after the next
 *     instruction; STI; CLI opens no window at all;
 *   - MOV SS and POP SS suppress the single-step trap (and interrupts) for
 *     the instruction that follows; an ordinary segment load does not.
 *
 * The timer is the 8254's channel 0 on IRQ0 through the 8259A; its exact
 * timing is never printed.
 */
#include "sys.h"

static volatile uint32_t ticks, first_eip;
static volatile int armed;

static void irq0(struct sys_frame *f)
{
    if (armed) {
        first_eip = f->eip;
        armed = 0;
    }
    ticks++;
    pic_eoi(0);
}

/* Channel 0 in mode 0 with no count written: OUT stays low, no edges. */
static void pit_quiet(void)
{
    outb(PIT_CMD, 0x30);
}

/* Lets any IRQ0 still pending be delivered, then forgets about it. */
static void drain(void)
{
    for (int i = 0; i < 4; i++)
        __asm__ volatile("sti\n\tnop\n\tnop\n\tcli" ::: "memory");
    armed = 0;
}

/* With IF = 0: programs a one-shot count and waits until IRQ0 is pending
 * in the PIC's IRR. */
static int make_irq0_pending(void)
{
    pit_set(0, 0, 200);
    for (uint32_t i = 0; i < 2000000; i++)
        if (pic_read_irr() & 1)
            return 1;
    return 0;
}

static void test_sti_hlt(void)
{
    sys_section("STI; HLT");
    cli();
    sys_set_irq_handler(0, irq0);
    pit_set(0, 2, 11932);               /* ~100 Hz */
    pic_unmask(0);
    uint32_t t0 = ticks, after;
    armed = 1;
    __asm__ volatile("movl $2f, %0\n\t"
                     "sti\n"
                     "1:\thlt\n"
                     "2:\tcli"
                     : "=&r"(after) : : "memory");
    check("STI; HLT: woken by the timer interrupt", ticks > t0);
    check_eq("STI; HLT: the interrupt's saved EIP is after the HLT", first_eip, after);
    check_eq("STI; HLT: vector 0x20", sys_vector_count[VEC_IRQ_BASE] > 0, 1);

    /* A few more, to see the timer keeps running. */
    t0 = ticks;
    for (int i = 0; i < 5; i++)
        sti_hlt();
    cli();
    check("five STI; HLT each woken by an interrupt", ticks - t0 >= 5);
    pit_quiet();
    drain();
    pic_mask(0);
}

static void test_sti_pending(void)
{
    sys_section("STI with an interrupt pending");
    cli();
    pit_quiet();
    pic_unmask(0);
    drain();

    check("IRQ0 pending with IF = 0", make_irq0_pending());
    uint32_t t0 = ticks;
    __asm__ volatile("sti\n\tcli" ::: "memory");
    check_eq("STI; CLI: the pending interrupt is not taken", ticks - t0, 0);
    check("STI; CLI: IRQ0 still pending", pic_read_irr() & 1);

    uint32_t second;
    armed = 1;
    __asm__ volatile("movl $2f, %0\n\t"
                     "sti\n"
                     "1:\tmovl $1, %%eax\n"
                     "2:\tmovl $2, %%eax\n"
                     "3:\tcli"
                     : "=&r"(second) : : "eax", "memory");
    check_eq("STI; MOV; MOV: taken once", ticks - t0, 1);
    check_eq("STI: taken after exactly one more instruction (saved EIP)", first_eip, second);

    /* The same with POPF setting IF: no shadow, taken right after POPF. */
    check("IRQ0 pending again", make_irq0_pending());
    uint32_t after_popf;
    armed = 1;
    __asm__ volatile("movl $1f, %0\n\t"
                     "pushl $0x202\n\t"
                     "popfl\n"
                     "1:\tmovl $1, %%eax\n\t"
                     "cli"
                     : "=&r"(after_popf) : : "eax", "memory");
    check_eq("POPF setting IF: taken right after the POPF", first_eip, after_popf);
    pit_quiet();
    drain();
    pic_mask(0);
}

/* ---- MOV SS / POP SS and single-step ------------------------------------------- */

static volatile uint32_t db_eips[4];
static volatile int db_count;

static void db_handler(struct sys_frame *f)
{
    if (db_count < 4)
        db_eips[db_count] = f->eip;
    db_count++;
    f->eflags &= ~EFL_TF;
}

static void test_ss_shadow(void)
{
    sys_section("MOV SS / POP SS shadow");
    sys_set_handler(1, db_handler);
    uint32_t l2, l3;

    db_count = 0;
    __asm__ volatile("movl $2f, %0\n\t"
                     "movl $3f, %1\n\t"
                     "movl %%ds, %%eax\n\t"
                     "pushfl\n\t"
                     "orl $0x100, (%%esp)\n\t"
                     "popfl\n"
                     "1:\tmovw %%ax, %%ds\n"
                     "2:\tnop\n"
                     "3:\tnop"
                     : "=&r"(l2), "=&r"(l3) : : "eax", "memory");
    check_eq("TF after MOV DS: one trap", db_count, 1);
    check_eq("TF after MOV DS: trap right after it", db_eips[0], l2);

    db_count = 0;
    __asm__ volatile("movl $2f, %0\n\t"
                     "movl $3f, %1\n\t"
                     "movl %%ss, %%eax\n\t"
                     "pushfl\n\t"
                     "orl $0x100, (%%esp)\n\t"
                     "popfl\n"
                     "1:\tmovw %%ax, %%ss\n"
                     "2:\tnop\n"
                     "3:\tnop"
                     : "=&r"(l2), "=&r"(l3) : : "eax", "memory");
    check_eq("TF after MOV SS: one trap", db_count, 1);
    check_eq("TF after MOV SS: trap only after the next instruction", db_eips[0], l3);

    db_count = 0;
    __asm__ volatile("movl $2f, %0\n\t"
                     "movl $3f, %1\n\t"
                     "pushl %%ss\n\t"
                     "pushfl\n\t"
                     "orl $0x100, (%%esp)\n\t"
                     "popfl\n"
                     "1:\tpopl %%ss\n"
                     "2:\tnop\n"
                     "3:\tnop"
                     : "=&r"(l2), "=&r"(l3) : : "memory");
    check_eq("TF after POP SS: one trap", db_count, 1);
    check_eq("TF after POP SS: trap only after the next instruction", db_eips[0], l3);

    sys_set_handler(1, 0);
}

int guest_main(void)
{
    sys_init();
    test_sti_hlt();
    test_sti_pending();
    test_ss_shadow();
    sys_finish();
}

/*
 * exceptions.c - every exception vector the CPU raises, with its error code
 * and saved EIP (SDM Vol. 3A, 6.15 "Exception and Interrupt Reference").
 *
 * Each test arms a fix-up (SYS_TRY), runs the faulting instruction whose
 * address it takes from a local label, and compares what the exception
 * handler recorded (sys_last) with the expected vector, error code and
 * EIP: the faulting instruction for faults, the next instruction for traps.
 *
 * With "vmm-only" on the command line, checks where QEMU's TCG deviates from
 * the hardware (segment limit checks on stack accesses, alignment checks)
 * run as well; see README.md.
 */
#include "sys.h"

/* ---- #DE ------------------------------------------------------------------ */

static void test_de(void)
{
    uint32_t at;
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n\t"
                     "movl $1, %%eax\n\t"
                     "xorl %%edx, %%edx\n\t"
                     "xorl %%ecx, %%ecx\n"
                     "1:\tdivl %%ecx\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "eax", "ecx", "edx", "memory", "cc");
    check_fault("#DE DIV by zero", 0, 0, at, "at the DIV");

    /* -2^31 / -1 = 2^31 does not fit in a signed 32-bit quotient. */
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n\t"
                     "movl $0x80000000, %%eax\n\t"
                     "movl $0xffffffff, %%edx\n\t"
                     "movl $-1, %%ecx\n"
                     "1:\tidivl %%ecx\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "eax", "ecx", "edx", "memory", "cc");
    check_fault("#DE IDIV overflow", 0, 0, at, "at the IDIV");

    /* 8-bit: AX = 0x1000 / 2 = 0x800 does not fit in AL. */
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n\t"
                     "movl $0x1000, %%eax\n\t"
                     "movb $2, %%cl\n"
                     "1:\tdivb %%cl\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "eax", "ecx", "memory", "cc");
    check_fault("#DE DIV r/m8 quotient overflow", 0, 0, at, "at the DIV");
}

/* ---- #DB ------------------------------------------------------------------ */

static volatile uint32_t db_dr6;
static volatile uint32_t watched;

static void db_handler(struct sys_frame *f)
{
    db_dr6 = read_dr6();
    write_dr6(0);
    write_dr7(0);
    f->eflags &= ~EFL_TF;
    f->eflags |= EFL_RF;    /* no effect after a trap, needed after a fault */
}

static void test_db(void)
{
    uint32_t at;
    sys_set_handler(1, db_handler);

    /* TF set by POPF: the instruction after POPF runs, then the trap. */
    write_dr6(0);
    db_dr6 = 0;
    sys_fault_reset();
    __asm__ volatile("movl $2f, %0\n\t"
                     "pushfl\n\t"
                     "orl $0x100, (%%esp)\n\t"
                     "popfl\n"
                     "1:\tmovl $1, %%eax\n"
                     "2:\tnop"
                     : "=&r"(at) : : "eax", "memory", "cc");
    check_fault("#DB single step (TF)", 1, 0, at, "after the single instruction");
    check("#DB single step: DR6.BS set", (db_dr6 & 0x4000) != 0);

    /* Instruction breakpoint, DR0 with DR7.L0, R/W0 = 00, LEN0 = 00: a
     * fault, before the instruction executes. */
    uint32_t eax_after;
    write_dr6(0);
    db_dr6 = 0;
    sys_fault_reset();
    __asm__ volatile("movl $1f, %0\n\t"
                     "movl %0, %%db0\n\t"
                     "movl $0, %%eax\n\t"
                     "movl $0x00000001, %%ecx\n\t"
                     "movl %%ecx, %%db7\n\t"
                     "nop\n"
                     "1:\tmovl $7, %%eax\n\t"
                     "nop"
                     : "=&r"(at), "=&a"(eax_after) : : "ecx", "memory");
    check_fault("#DB instruction breakpoint (DR0)", 1, 0, at, "at the breakpoint");
    check("#DB instruction breakpoint: DR6.B0 set", (db_dr6 & 1) != 0);
    check("#DB instruction breakpoint: instruction ran after RF", eax_after == 7);

    /* Data write breakpoint, DR1 with R/W1 = 01, LEN1 = 11 (4 bytes): a
     * trap, after the writing instruction. */
    write_dr6(0);
    db_dr6 = 0;
    watched = 0;
    write_dr1((uint32_t)&watched);
    sys_fault_reset();
    __asm__ volatile("movl $2f, %0\n\t"
                     "movl $0x00d00004, %%ecx\n\t"
                     "movl %%ecx, %%db7\n"
                     "1:\tmovl $5, %1\n"
                     "2:\tnop"
                     : "=&r"(at), "=m"(watched) : : "ecx", "memory");
    check_fault("#DB data write breakpoint (DR1)", 1, 0, at, "after the write");
    check("#DB data breakpoint: DR6.B1 set", (db_dr6 & 2) != 0);
    check("#DB data breakpoint: the write happened", watched == 5);

    write_dr7(0);
    sys_set_handler(1, 0);
}

/* ---- #BP, #OF, #BR, #UD --------------------------------------------------- */

static int32_t bounds[2] = {0, 10};

static void test_bp_of_br_ud(void)
{
    uint32_t at;

    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $2f, %0\n"
                     "1:\tint3\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "memory");
    check_fault("#BP INT3", 3, 0, at, "after the INT3");

    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $2f, %0\n\t"
                     "movl $0x7fffffff, %%eax\n\t"
                     "addl $1, %%eax\n"
                     "1:\tinto\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "eax", "memory", "cc");
    check_fault("#OF INTO with OF = 1", 4, 0, at, "after the INTO");

    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "xorl %%eax, %%eax\n\t"
                     "into\n"
                     "2:" SYS_TRY_END
                     : : : "eax", "memory", "cc");
    check_eq("INTO with OF = 0: no exception", sys_last.count, 0);

    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n\t"
                     "movl $11, %%eax\n"
                     "1:\tboundl %%eax, %1\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "m"(bounds) : "eax", "memory");
    check_fault("#BR BOUND above the upper bound", 5, 0, at, "at the BOUND");

    /* In bounds (the upper bound is inclusive), then below the lower. */
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $10, %%eax\n\t"
                     "boundl %%eax, %1\n\t"
                     "movl $-1, %%eax\n\t"
                     "movl $1f, %0\n"
                     "1:\tboundl %%eax, %1\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "m"(bounds) : "eax", "memory");
    check_fault("#BR BOUND below the lower bound (upper bound inclusive)", 5, 0, at, "at the BOUND");

    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tud2\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "memory");
    check_fault("#UD UD2", 6, 0, at, "at the UD2");

    /* LOCK ADD %eax, %ecx: LOCK with a register destination. */
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\t.byte 0xf0, 0x01, 0xc1\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "ecx", "memory", "cc");
    check_fault("#UD LOCK ADD reg, reg", 6, 0, at, "at the LOCK prefix");

}

/* ---- #NM, #MF ------------------------------------------------------------- */

static void test_nm_mf(void)
{
    uint32_t at;
    uint32_t cr0 = read_cr0();

    write_cr0((cr0 | CR0_TS | CR0_MP) & ~CR0_EM);
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tfninit\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "memory");
    check_fault("#NM FNINIT with CR0.TS = 1", 7, 0, at, "at the FNINIT");

    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tfwait\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "memory");
    check_fault("#NM WAIT with CR0.TS = 1, CR0.MP = 1", 7, 0, at, "at the WAIT");

    write_cr0((cr0 | CR0_TS) & ~(CR0_EM | CR0_MP));
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f") "fwait\n2:" SYS_TRY_END : : : "memory");
    check_eq("WAIT with CR0.TS = 1, CR0.MP = 0: no exception", sys_last.count, 0);

    write_cr0((cr0 | CR0_EM) & ~(CR0_TS | CR0_MP));
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tfldz\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "memory");
    check_fault("#NM FLDZ with CR0.EM = 1", 7, 0, at, "at the FLDZ");

    __asm__ volatile("clts");
    write_cr0((cr0 | CR0_NE | CR0_MP) & ~(CR0_EM | CR0_TS));
    /* 0/0 with the invalid-operation exception unmasked (FCW 0x037e): the
     * FDIVP only sets the pending exception; the next waiting instruction
     * raises #MF. */
    uint16_t cw = 0x037e, sw = 0;
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "fninit\n\t"
                     "fldcw %2\n\t"
                     "fldz\n\t"
                     "fldz\n\t"
                     "fdivp\n\t"
                     "movl $1f, %0\n"
                     "1:\tfwait\n"
                     "2:" SYS_TRY_END
                     "fnstsw %1\n\t"
                     "fnclex\n\t"
                     "fninit"
                     : "=&r"(at), "=m"(sw) : "m"(cw) : "memory");
    check_fault("#MF unmasked invalid operation, CR0.NE = 1", 16, 0, at, "at the next FWAIT");
    check_eq("#MF: FSW.IE and FSW.ES set", sw & 0x81, 0x81);
    write_cr0(cr0);
}

/* ---- #DF ------------------------------------------------------------------ */

static struct tss32 df_tss __attribute__((aligned(128)));
static uint8_t df_stack[4096] __attribute__((aligned(16)));
static uint64_t saved_gp_gate;
volatile uint32_t df_error, df_link, df_eflags, df_tr, df_count;
void df_task_c(void);
void df_task_entry(void);

/* The double-fault task: the error code is on its own stack. IRET (NT = 1)
 * returns to the interrupted task; the next #DF starts at the JMP. */
__asm__(".text\n"
        "df_task_entry:\n\t"
        "popl df_error\n\t"
        "call df_task_c\n\t"
        "iretl\n\t"
        "jmp df_task_entry\n");

void df_task_c(void)
{
    df_count++;
    df_link = df_tss.link;
    df_eflags = read_eflags();
    df_tr = str_();
    /* Resume the faulting task at its fix-up, with the #GP gate back. */
    sys_tss.t.eip = sys_fixup;
    sys_fixup = 0;
    sys_idt[13] = saved_gp_gate;
}

static void trigger_gp_without_gate(void)
{
    __asm__ volatile(SYS_TRY("2f")
                     "movw $0xfff8, %%ax\n\t"
                     "movw %%ax, %%ds\n"
                     "2:" SYS_TRY_END
                     : : : "eax", "memory");
}

static void test_df(void)
{
    /* #GP (a selector past the GDT limit) whose IDT gate is not present:
     * delivering it raises #NP, contributory on contributory -> #DF(0). */
    saved_gp_gate = idt_get(13);
    sys_idt[13] = saved_gp_gate & ~((uint64_t)D_P << 40);
    sys_fault_reset();
    trigger_gp_without_gate();
    sys_idt[13] = saved_gp_gate;
    /* The saved CS:EIP of a double fault is undefined (SDM 6.15, Interrupt
     * 8): only the vector and error code are checked. */
    check_fault("#DF from #GP with a not-present #GP gate", 8, 0, 0, 0);
    check_eq("#DF: DS unchanged", read_ds(), SEL_KDATA);

    /* The same through a task gate, as Linux does. */
    uint16_t df_sel = gdt_add_tss(&df_tss, sizeof df_tss - 1, 0);
    tss_init_task(&df_tss, df_task_entry, df_stack + sizeof df_stack);
    sys_tss.t.cr3 = read_cr3();
    uint64_t saved_df_gate = idt_get(8);
    idt_set(8, desc_gate(D_TYPE_TASK, df_sel, 0, 0, 0));
    sys_idt[13] = saved_gp_gate & ~((uint64_t)D_P << 40);
    sys_fault_reset();
    df_count = 0;
    df_error = 0xdead;
    trigger_gp_without_gate();
    idt_set(8, saved_df_gate);
    check_eq("#DF task gate: handler task ran once", df_count, 1);
    check_eq("#DF task gate: error code 0 on the new task's stack", df_error, 0);
    check_eq("#DF task gate: TR in the handler task", df_tr, df_sel);
    check_eq("#DF task gate: back link = interrupted task", df_link, SEL_TSS);
    check("#DF task gate: EFLAGS.NT set in the handler task", (df_eflags & EFL_NT) != 0);
    check_eq("#DF task gate: TR after IRET", str_(), SEL_TSS);
    check("#DF task gate: handler TSS not busy after IRET",
          ((gdt_get(df_sel >> 3) >> 40) & 0xf) == D_TYPE_TSS32);
    check("#DF task gate: interrupted TSS busy",
          ((gdt_get(SEL_TSS >> 3) >> 40) & 0xf) == D_TYPE_TSS32_BUSY);
    check_eq("#DF task gate: no other exception", sys_last.count, 0);
}

/* ---- #TS ------------------------------------------------------------------ */

static void ts_handler(struct sys_frame *f)
{
    /* The IRET that faulted ran with NT = 1: do not return into a task
     * switch again. */
    f->eflags &= ~EFL_NT;
    f->eip = sys_fixup;
    sys_fixup = 0;
}

static void test_ts(void)
{
    uint32_t at;
    sys_set_handler(10, ts_handler);

    /* IRET with NT = 1 whose back link is a data segment. */
    sys_tss.t.link = SEL_KDATA;
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n\t"
                     "pushfl\n\t"
                     "orl $0x4000, (%%esp)\n\t"
                     "popfl\n"
                     "1:\tiretl\n"
                     "2:" SYS_TRY_END
                     /* Whatever happened, no NT = 1 may survive into the
                      * next IRET. */
                     "pushfl\n\t"
                     "andl $~0x4000, (%%esp)\n\t"
                     "popfl"
                     : "=&r"(at) : : "memory", "cc");
    sys_tss.t.link = 0;
    check_fault("#TS IRET with NT to a data-segment back link", 10, SEL_KDATA, at, "at the IRET");
    check("#TS: EFLAGS.NT still set in the saved EFLAGS", (sys_last.eflags & EFL_NT) != 0);

    /* JMP to a TSS whose limit is below 0x67. */
    static struct tss32 small_tss;
    struct __attribute__((packed)) { uint32_t off; uint16_t sel; } target;
    target.off = 0;
    target.sel = gdt_add_tss(&small_tss, 0x50, 0);
    uint16_t sel = target.sel;
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tljmp *%1\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "m"(target) : "memory");
    check_fault("#TS JMP to a TSS with limit 0x50", 10, sel, at, "at the JMP");
    check_eq("#TS: TR unchanged", str_(), SEL_TSS);

    sys_set_handler(10, 0);
}

/* ---- #NP, #SS, #GP -------------------------------------------------------- */

static uint32_t user_int40(uint32_t arg)
{
    (void)arg;
    uint32_t at;
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tint $0x40\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "memory");
    return at;
}

static uint32_t user_hlt(uint32_t arg)
{
    (void)arg;
    uint32_t at;
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\thlt\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "memory");
    return at;
}

static void test_np_ss_gp(void)
{
    uint32_t at;

    uint16_t np = gdt_add_segment(0, 0xfffff, D_DATA_RW & ~D_P, D_G | D_DB);
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tmovw %1, %%ds\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "r"(np) : "memory");
    check_fault("#NP MOV DS, not-present data segment", 11, np, at, "at the MOV");

    uint64_t gate = idt_get(0x41);
    idt_set(0x41, gate & ~((uint64_t)D_P << 40));
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tint $0x41\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "memory");
    idt_set(0x41, gate);
    check_fault("#NP INT 0x41 with a not-present gate", 11, 0x41 * 8 + 2, at, "at the INT");

    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tmovw %1, %%ss\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "r"(np) : "memory");
    check_fault("#SS MOV SS, not-present data segment", 12, np, at, "at the MOV");

    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n\t"
                     "movw $0xfff8, %%ax\n"
                     "1:\tmovw %%ax, %%es\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "eax", "memory");
    check_fault("#GP MOV ES, selector past the GDT limit", 13, 0xfff8, at, "at the MOV");

    uint16_t xo = gdt_add_segment(0, 0xfffff, D_CODE_XO, D_G | D_DB);
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tmovw %1, %%fs\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "r"(xo) : "memory");
    check_fault("#GP MOV FS, execute-only code segment", 13, xo, at, "at the MOV");

    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tljmp $0x10, $2f\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "memory");
    check_fault("#GP JMP far to a data segment", 13, SEL_KDATA, at, "at the JMP");

    sys_fault_reset();
    at = sys_run_user(user_int40, 0, 0);
    check_fault("#GP INT 0x40 at CPL 3 through a DPL 0 gate", 13, 0x40 * 8 + 2, at, "at the INT");

    /* A vector past the IDT limit. */
    struct sys_dtr small = {0x48 * 8 - 1, (uint32_t)sys_idt}, full = {sizeof sys_idt - 1, (uint32_t)sys_idt};
    lidt(&small);
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tint $0x50\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "memory");
    lidt(&full);
    check_fault("#GP INT 0x50 past the IDT limit", 13, 0x50 * 8 + 2, at, "at the INT");

    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl %%ss, %%edx\n\t"
                     "xorl %%eax, %%eax\n\t"
                     "movl $1f, %0\n"
                     "1:\tmovw %%ax, %%ss\n"
                     "2:\tmovw %%dx, %%ss" SYS_TRY_END
                     : "=&r"(at) : : "eax", "edx", "memory");
    check_fault("#GP(0) MOV SS, null selector", 13, 0, at, "at the MOV");

    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tljmp $0, $2f\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "memory");
    check_fault("#GP(0) JMP far to the null selector", 13, 0, at, "at the JMP");

    sys_fault_reset();
    at = sys_run_user(user_hlt, 0, 0);
    check_fault("#GP(0) HLT at CPL 3", 13, 0, at, "at the HLT");
}

/* ---- #PF ------------------------------------------------------------------ */

#define VA_NP  0x40000010u      /* no page table at all */
#define VA_RO  0x40401000u      /* read-only, user */
#define VA_SUP 0x40402000u      /* writable, supervisor */

static uint32_t user_read(uint32_t va)
{
    uint32_t at, v;
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tmovl (%2), %1\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at), "=&r"(v) : "r"(va) : "memory");
    return at;
}

static uint32_t user_write(uint32_t va)
{
    uint32_t at;
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tmovl $0x55, (%1)\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "r"(va) : "memory");
    return at;
}

static uint32_t kernel_read(uint32_t va)
{
    uint32_t at, v;
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tmovl (%2), %1\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at), "=&r"(v) : "r"(va) : "memory");
    return at;
}

static uint32_t kernel_write(uint32_t va)
{
    uint32_t at;
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tmovl $0xaa, (%1)\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "r"(va) : "memory");
    return at;
}

static void check_pf(const char *name, uint32_t error, uint32_t at, uint32_t va)
{
    check_fault(name, 14, error, at, "at the access");
    check_detail("  CR2 = faulting address", sys_last.cr2 == va, "CR2 0x%x, expected 0x%x", sys_last.cr2, va);
}

static void test_pf(void)
{
    uint32_t *pd = pg_identity_dir(16u << 20);
    uint32_t *ro = pg_alloc(), *sup = pg_alloc();
    ro[0] = 0x1234;
    pg_map(pd, VA_RO, (uint32_t)ro, PTE_P | PTE_U);
    pg_map(pd, VA_SUP, (uint32_t)sup, PTE_P | PTE_W);
    uint32_t cr0 = read_cr0();
    pg_enable(pd);

    uint32_t at;
    sys_fault_reset();
    at = kernel_read(VA_NP);
    check_pf("#PF CPL 0 read, not present", 0, at, VA_NP);
    sys_fault_reset();
    at = kernel_write(VA_NP);
    check_pf("#PF CPL 0 write, not present", 2, at, VA_NP);
    sys_fault_reset();
    at = sys_run_user(user_read, VA_NP, 0);
    check_pf("#PF CPL 3 read, not present", 4, at, VA_NP);
    sys_fault_reset();
    at = sys_run_user(user_read, VA_SUP + 8, 0);
    check_pf("#PF CPL 3 read of a supervisor page", 5, at, VA_SUP + 8);
    sys_fault_reset();
    at = sys_run_user(user_write, VA_RO + 4, 0);
    check_pf("#PF CPL 3 write to a read-only page", 7, at, VA_RO + 4);

    sys_fault_reset();
    kernel_write(VA_RO);
    check("CPL 0 write to a read-only page with CR0.WP = 0 succeeds",
          sys_last.count == 0 && ro[0] == 0xaa);
    write_cr0(read_cr0() | CR0_WP);
    sys_fault_reset();
    at = kernel_write(VA_RO + 8);
    check_pf("#PF CPL 0 write to a read-only page, CR0.WP = 1", 3, at, VA_RO + 8);
    write_cr0(cr0);
}

/* ---- #AC and limit checks (vmm-only) --------------------------------------- */

static uint32_t ac_buf[4];

static uint32_t user_misaligned(uint32_t addr)
{
    uint32_t at, v;
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tmovl (%2), %1\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at), "=&r"(v) : "r"(addr) : "memory");
    return at;
}

static volatile uint16_t limited_ss;

/* Ring 3 with SS = limited_ss: a push at ESP beyond the limit raises
 * #SS(0); the handler runs on the TSS ring-0 stack. */
static uint32_t user_push_limited(uint32_t arg)
{
    (void)arg;
    uint32_t at;
    __asm__ volatile("movl %%ss, %%edx\n\t"
                     SYS_TRY("2f")
                     "movl $1f, %0\n\t"
                     "movw limited_ss, %%ss\n"
                     "1:\tpushl $0\n\t"
                     "popl %%eax\n"
                     "2:\tmovw %%dx, %%ss" SYS_TRY_END
                     : "=&r"(at) : : "eax", "edx", "memory");
    return at;
}

static void test_ac(void)
{
    uint32_t cr0 = read_cr0();
    uint32_t at;

    write_cr0(cr0 | CR0_AM);
    sys_fault_reset();
    at = sys_run_user(user_misaligned, (uint32_t)ac_buf + 1, EFL_AC);
    check_fault("#AC misaligned load at CPL 3, CR0.AM = EFLAGS.AC = 1", 17, 0, at, "at the load");

    sys_fault_reset();
    sys_run_user(user_misaligned, (uint32_t)ac_buf + 1, 0);
    check_eq("misaligned load at CPL 3 with EFLAGS.AC = 0: no exception", sys_last.count, 0);
    write_cr0(cr0 & ~CR0_AM);
    sys_fault_reset();
    sys_run_user(user_misaligned, (uint32_t)ac_buf + 1, EFL_AC);
    check_eq("misaligned load at CPL 3 with CR0.AM = 0: no exception", sys_last.count, 0);
    write_cr0(cr0);
}

static void test_ss_limit(void)
{
    uint32_t at;
    /* Expand-up, byte granular, limit 1 MiB - 1: the user stack (above
     * 1 MiB) lies outside. */
    limited_ss = gdt_add_segment(0, 0xfffff, D_DATA_RW | D_DPL(3), D_DB);
    sys_fault_reset();
    at = sys_run_user(user_push_limited, 0, 0);
    check_fault("#SS(0) PUSH past the limit of an expand-up SS", 12, 0, at, "at the PUSH");
    check_eq("#SS: the saved SS is the limited one", sys_last.ss, limited_ss);

    /* Expand-down, 4 KiB granular: valid offsets are (limit, 4G). */
    uint32_t top = (uint32_t)sys_ustack_top;
    limited_ss = gdt_add_segment(0, top >> 12, D_DATA_RW_DOWN | D_DPL(3), D_G | D_DB);
    sys_fault_reset();
    at = sys_run_user(user_push_limited, 0, 0);
    check_fault("#SS(0) PUSH at or below the limit of an expand-down SS", 12, 0, at, "at the PUSH");

    limited_ss = gdt_add_segment(0, (top >> 12) - 3, D_DATA_RW_DOWN | D_DPL(3), D_G | D_DB);
    sys_fault_reset();
    sys_run_user(user_push_limited, 0, 0);
    check_eq("PUSH above the limit of an expand-down SS: no exception", sys_last.count, 0);
}

static void test_vmm_only_insns(void)
{
    uint32_t at;
    /* LOCK on an instruction that is never lockable (MOV). */
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\t.byte 0xf0, 0x89, 0x05\n\t.long bounds\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "memory");
    check_fault("#UD LOCK MOV mem, reg", 6, 0, at, "at the LOCK prefix");


    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $0x12345678, %%ecx\n\t"  /* an unimplemented MSR */
                     "xorl %%eax, %%eax\n\t"
                     "xorl %%edx, %%edx\n\t"
                     "movl $1f, %0\n"
                     "1:\twrmsr\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "eax", "ecx", "edx", "memory");
    check_fault("#GP(0) WRMSR to an unimplemented MSR", 13, 0, at, "at the WRMSR");

    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl %%cr0, %%eax\n\t"
                     "andl $0x9fffffff, %%eax\n\t"
                     "orl $0x20000000, %%eax\n\t"   /* NW = 1 with CD = 0 */
                     "movl $1f, %0\n"
                     "1:\tmovl %%eax, %%cr0\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "eax", "memory");
    check_fault("#GP(0) MOV CR0 with NW = 1, CD = 0", 13, 0, at, "at the MOV");

    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl %%cr0, %%eax\n\t"
                     "andl $0x7ffffffe, %%eax\n\t"
                     "orl $0x80000000, %%eax\n\t"   /* PG = 1 with PE = 0 */
                     "movl $1f, %0\n"
                     "1:\tmovl %%eax, %%cr0\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "eax", "memory");
    check_fault("#GP(0) MOV CR0 with PG = 1, PE = 0", 13, 0, at, "at the MOV");

    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl %%cr4, %%eax\n\t"
                     "orl $0x80000000, %%eax\n\t"
                     "movl $1f, %0\n"
                     "1:\tmovl %%eax, %%cr4\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "eax", "memory");
    check_fault("#GP(0) MOV CR4 with reserved bit 31", 13, 0, at, "at the MOV");
}

int guest_main(void)
{
    sys_init();
    sys_section("exceptions");
    test_de();
    test_db();
    test_bp_of_br_ud();
    test_nm_mf();
    test_df();
    test_ts();
    test_np_ss_gp();
    test_pf();
    if (sys_cmdline_has("vmm-only")) {
        sys_section("vmm-only: where QEMU TCG deviates from the hardware");
        test_ac();
        test_ss_limit();
        test_vmm_only_insns();
    }
    sys_finish();
}

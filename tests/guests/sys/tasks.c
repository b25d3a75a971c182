/*
 * tasks.c - hardware task switches (SDM Vol. 3A, 7.3 "Task Switching"):
 * the EIP each source of a switch saves in the outgoing task's TSS, seen
 * by entering the same task again.
 *
 *   - CALL to a TSS, the task returns with IRET (NT = 1): the returning
 *     task's TSS holds the EIP after its IRET, so the next CALL runs the
 *     code after the IRET (SDM Vol. 2A, IRET "TASK-RETURN"), not the IRET;
 *   - CALL to a task gate, likewise;
 *   - JMP to a TSS and back: each side resumes after its JMP;
 *   - INT n through a task gate: the interrupted task resumes after INT n;
 *   - a fault (#UD) through a task gate: the interrupted task's TSS holds
 *     the faulting instruction;
 *   - CALL to a busy TSS: #GP(selector), and CALL to a TSS whose limit is
 *     too small: #TS(selector), both reported at the CALL, nothing switched.
 */
#include "sys.h"

struct far_ptr {
    uint32_t off;
    uint16_t sel;
} __attribute__((packed));

static inline void clts_(void) { __asm__ volatile("clts"); }

/* ---- tasks ---------------------------------------------------------------- */

static struct tss32 coro_tss, gate_tss, jmp_tss, int_tss, ud_tss __attribute__((aligned(128)));
static uint8_t coro_stack[2048], gate_stack[2048], jmp_stack[2048], int_stack[2048], ud_stack[2048]
    __attribute__((aligned(16)));
volatile uint32_t coro_count, gate_count, jmp_count, int_count, ud_count;
volatile uint32_t int_saved_eip, ud_saved_eip;
volatile uint32_t coro_link, coro_eflags;

void coro_entry(void);
void coro_after_iret(void);
void gate_entry(void);
void jmp_entry(void);
void jmp_after_jmp(void);
void int_entry(void);
void ud_entry(void);
void coro_c(void);
void int_c(void);
void ud_c(void);

/* Each task counts its entries and returns; a task entered again goes on
 * after the instruction that left it, which loops back to its start. */
__asm__(".text\n"
        "coro_entry:\n\t"
        "call coro_c\n\t"
        "iretl\n"
        "coro_after_iret:\n\t"
        "jmp coro_entry\n"

        "gate_entry:\n\t"
        "incl gate_count\n\t"
        "iretl\n\t"
        "jmp gate_entry\n"

        "jmp_entry:\n\t"
        "incl jmp_count\n\t"
        "ljmp $0x28, $0\n"      /* SEL_TSS: back to the main task */
        "jmp_after_jmp:\n\t"
        "jmp jmp_entry\n"

        "int_entry:\n\t"
        "call int_c\n\t"
        "iretl\n\t"
        "jmp int_entry\n"

        "ud_entry:\n\t"
        "call ud_c\n\t"
        "iretl\n\t"
        "jmp ud_entry\n");

void coro_c(void)
{
    coro_count++;
    coro_link = coro_tss.link;
    coro_eflags = read_eflags();
}

void int_c(void)
{
    int_count++;
    int_saved_eip = sys_tss.t.eip;
}

/* #UD through a task gate: the main task resumes after the 2-byte UD2. */
void ud_c(void)
{
    ud_saved_eip = sys_tss.t.eip;
    ud_count++;
    sys_tss.t.eip += 2;
}

static uint16_t add_task(struct tss32 *t, void (*entry)(void), uint8_t *stack, uint32_t size)
{
    tss_init_task(t, entry, stack + size);
    return gdt_add_tss(t, sizeof *t - 1, 0);
}

static void test_call_iret(void)
{
    struct far_ptr p = {0, add_task(&coro_tss, coro_entry, coro_stack, sizeof coro_stack)};
    for (int i = 0; i < 3; i++) __asm__ volatile("lcall *%0" : : "m"(p) : "memory");
    clts_();
    check_eq("CALL TSS x3, IRET back: the task ran 3 times", coro_count, 3);
    check_eq("IRET task return: the task's TSS EIP is after its IRET", coro_tss.eip,
             (uint32_t)coro_after_iret);
    check_eq("CALL TSS: back link = caller", coro_link, SEL_TSS);
    check("CALL TSS: NT set in the called task", (coro_eflags & EFL_NT) != 0);
    check("IRET task return: NT clear in the returning task's TSS EFLAGS", (coro_tss.eflags & EFL_NT) == 0);
    check_eq("IRET task return: TR back to the caller", str_(), SEL_TSS);
    check("IRET task return: the returning task's TSS not busy",
          ((gdt_get(p.sel >> 3) >> 40) & 0xf) == D_TYPE_TSS32);
    check("CALL TSS: NT clear again in the caller", (read_eflags() & EFL_NT) == 0);
}

static void test_call_gate(void)
{
    uint16_t tss = add_task(&gate_tss, gate_entry, gate_stack, sizeof gate_stack);
    struct far_ptr p = {0, gdt_add_task_gate(tss, 0)};
    for (int i = 0; i < 3; i++) __asm__ volatile("lcall *%0" : : "m"(p) : "memory");
    clts_();
    check_eq("CALL task gate x3, IRET back: the task ran 3 times", gate_count, 3);
}

static void test_jmp(void)
{
    uint32_t after[2];
    struct far_ptr p = {0, add_task(&jmp_tss, jmp_entry, jmp_stack, sizeof jmp_stack)};
    for (int i = 0; i < 2; i++) {
        /* The main task is re-entered by the task's JMP at the instruction
         * after its own JMP, with its registers as they were. */
        __asm__ volatile("ljmp *%1\n"
                         "1:\tmovl $1b, %0"
                         : "=r"(after[i]) : "m"(p) : "memory");
        check_eq(i == 0 ? "JMP TSS: the main task's saved EIP is after its JMP"
                        : "JMP TSS again: the main task's saved EIP is after its JMP",
                 sys_tss.t.eip, after[i]);
    }
    clts_();
    check_eq("JMP TSS x2, JMP back: the task ran twice", jmp_count, 2);
    check_eq("JMP TSS: the task's TSS EIP is after its JMP", jmp_tss.eip, (uint32_t)jmp_after_jmp);
    check_eq("JMP TSS: TR back to the main task", str_(), SEL_TSS);
    check("JMP TSS: the task's TSS not busy after it left by JMP",
          ((gdt_get(p.sel >> 3) >> 40) & 0xf) == D_TYPE_TSS32);
}

static void test_int_gate(void)
{
    uint16_t tss = add_task(&int_tss, int_entry, int_stack, sizeof int_stack);
    uint64_t saved = idt_get(0x60);
    idt_set(0x60, desc_gate(D_TYPE_TASK, tss, 0, 0, 0));
    uint32_t next[2];
    for (int i = 0; i < 2; i++) {
        __asm__ volatile("int $0x60\n"
                         "1:\tmovl $1b, %0"
                         : "=r"(next[i]) : : "memory");
        check_eq(i == 0 ? "INT n task gate: the interrupted task's saved EIP is after INT n"
                        : "INT n task gate again: the saved EIP is after the second INT n",
                 int_saved_eip, next[i]);
    }
    idt_set(0x60, saved);
    clts_();
    check_eq("INT n task gate x2: the task ran twice", int_count, 2);
}

static void test_fault_gate(void)
{
    /* Once only: a handler task re-entered at its IRET (the saved EIP of a
     * nested-task return that went wrong) would return to the UD2 at once,
     * for ever. Re-entry is what the CALL and INT n tests above check. */
    uint16_t tss = add_task(&ud_tss, ud_entry, ud_stack, sizeof ud_stack);
    uint64_t saved = idt_get(6);
    idt_set(6, desc_gate(D_TYPE_TASK, tss, 0, 0, 0));
    uint32_t at;
    __asm__ volatile("movl $1f, %0\n"
                     "1:\tud2"
                     : "=&r"(at) : : "memory");
    idt_set(6, saved);
    clts_();
    check_eq("#UD task gate: the handler task ran once", ud_count, 1);
    check_eq("#UD task gate: the interrupted task's saved EIP is the UD2", ud_saved_eip, at);
}

static void test_busy(void)
{
    uint32_t at;
    struct far_ptr p = {0, SEL_TSS};
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tlcall *%1\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "m"(p) : "memory");
    check_fault("CALL to the busy current TSS", 13, SEL_TSS, at, "at the CALL");
    check_eq("CALL to a busy TSS: TR unchanged", str_(), SEL_TSS);

    /* A fault inside the switch before it commits (SDM Vol. 3A, 7.3: the
     * new TSS limit is checked before any state is saved) is the CALL's. */
    static struct tss32 small_tss;
    p.sel = gdt_add_tss(&small_tss, 0x50, 0);
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tlcall *%1\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "m"(p) : "memory");
    check_fault("CALL to a TSS with limit 0x50", 10, p.sel, at, "at the CALL");
    check_eq("#TS from CALL: TR unchanged", str_(), SEL_TSS);
}

int guest_main(void)
{
    sys_init();
    /* Switches back to the main task load its CR3 from its TSS. */
    sys_tss.t.cr3 = read_cr3();
    test_call_iret();
    test_call_gate();
    test_jmp();
    test_int_gate();
    test_fault_gate();
    test_busy();
    sys_finish();
}

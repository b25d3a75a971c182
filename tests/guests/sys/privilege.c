/*
 * privilege.c - privilege level transitions (SDM Vol. 3A, 5.8 "Privilege
 * Level Checking When Transferring Program Control", 6.12 "Exception and
 * Interrupt Handling", SYSENTER/SYSEXIT in Vol. 2B):
 *
 *   - ring 0 -> ring 3 through IRET; ring 3 -> ring 0 through INT 0x80 with
 *     the stack switch to TSS.SS0:ESP0 and the user SS:ESP saved on the
 *     kernel stack; IRET back to ring 3; interrupt vs. trap gates (IF);
 *   - data segment registers with DPL < 3 nulled on the return to ring 3
 *     (IRET and far RET), conforming code segments kept;
 *   - a call gate from ring 3 to ring 0 copying two parameters, far RET
 *     with an immediate back to ring 3;
 *   - SYSENTER/SYSEXIT with their MSRs;
 *   - privileged instructions at CPL 3 -> #GP(0); instructions that are
 *     allowed at CPL 3 (SGDT, SMSW, RDTSC with CR4.TSD = 0); RDPMC at
 *     CPL 3 with CR4.PCE = 0 -> #GP(0);
 *   - vmm-only (QEMU's TCG raises #UD for RDPMC): RDPMC of PMC0/PMC1 at
 *     CPL 0 and at CPL 3 with CR4.PCE = 1 reads 0, another ECX -> #GP(0).
 */
#include "sys.h"

/* Everything ring-3 code observes, checked by the kernel afterwards (ring-3
 * code cannot print: IOPL is 0). */
static volatile struct {
    uint32_t cs, ss, eflags, esp_before, esp_after, eax_after;
    uint32_t ds, es, fs, gs;
} u;

/* What the ring-0 side observed. */
static volatile struct {
    uint32_t frame_end, cs, ss, user_cs, user_ss, user_esp, user_eflags, eax, eflags;
    int calls;
} k;

static uint16_t conforming_sel;

/* ---- IRET to ring 3, INT 0x80 back ----------------------------------------- */

static uint32_t user_observe(uint32_t arg)
{
    u.cs = read_cs();
    u.ss = read_ss();
    u.eflags = read_eflags();
    return arg + 1;
}

static void int80_handler(struct sys_frame *f)
{
    k.calls++;
    k.frame_end = (uint32_t)(&f->ss + 1);
    k.cs = read_cs();
    k.ss = read_ss();
    k.user_cs = f->cs & 0xffff;
    k.user_ss = f->ss & 0xffff;
    k.user_esp = f->esp;
    k.user_eflags = f->eflags;
    k.eax = f->eax;
    k.eflags = read_eflags();
    f->eax = f->eax * 2 + 1;
}

/* The same, but return to ring 3 with DS = ES = kernel data (DPL 0), FS =
 * user data (DPL 3), GS = a conforming code segment (DPL 0). */
static void int80_segs_handler(struct sys_frame *f)
{
    int80_handler(f);
    f->ds = SEL_KDATA;
    f->es = SEL_KDATA;
    f->fs = SEL_UDATA;
    f->gs = conforming_sel;
}

static uint32_t user_int80(uint32_t arg)
{
    uint32_t eax = arg;
    /* Stores go through SS: DS may be null after the IRET. */
    __asm__ volatile("movl %%esp, %%ss:%c[before]\n\t"
                     "int $0x80\n\t"
                     "movl %%esp, %%ss:%c[after]\n\t"
                     "movl %%cs, %%ecx\n\t"
                     "movl %%ecx, %%ss:%c[cs]\n\t"
                     "movl %%ds, %%ecx\n\t"
                     "movl %%ecx, %%ss:%c[ds]\n\t"
                     "movl %%es, %%ecx\n\t"
                     "movl %%ecx, %%ss:%c[es]\n\t"
                     "movl %%fs, %%ecx\n\t"
                     "movl %%ecx, %%ss:%c[fs]\n\t"
                     "movl %%gs, %%ecx\n\t"
                     "movl %%ecx, %%ss:%c[gs]\n\t"
                     "movl $0x23, %%ecx\n\t"
                     "movw %%cx, %%ds\n\t"
                     "movw %%cx, %%es\n\t"
                     "movw %%cx, %%fs\n\t"
                     "movw %%cx, %%gs"
                     : "+a"(eax)
                     : [before] "i"(&u.esp_before), [after] "i"(&u.esp_after), [cs] "i"(&u.cs),
                       [ds] "i"(&u.ds), [es] "i"(&u.es), [fs] "i"(&u.fs), [gs] "i"(&u.gs)
                     : "ecx", "memory");
    u.eax_after = eax;
    return 0;
}

static void test_iret_int(void)
{
    sys_section("IRET to ring 3, INT 0x80 to ring 0");
    uint32_t r = sys_run_user(user_observe, 41, 0);
    check_eq("IRET to ring 3: user function ran and returned", r, 42);
    check_eq("ring 3: CS = user code, CPL 3", u.cs, SEL_UCODE);
    check_eq("ring 3: SS = user data", u.ss, SEL_UDATA);
    check_eq("ring 3: EFLAGS as given to IRET (IOPL 0, IF 0)", u.eflags & (EFL_IOPL_MASK | EFL_IF), 0);
    check_eq("back in ring 0: CS", read_cs(), SEL_KCODE);

    sys_set_handler(VEC_SYSCALL, int80_handler);
    memset((void *)&k, 0, sizeof k);
    sys_run_user(user_int80, 0x1234, EFL_IF);
    check_eq("INT 0x80 from ring 3: handler ran once", k.calls, 1);
    check_eq("INT 0x80: handler at CPL 0 (CS)", k.cs, SEL_KCODE);
    check_eq("INT 0x80: SS = TSS.SS0", k.ss, SEL_KDATA);
    check_eq("INT 0x80: frame ends at TSS.ESP0", k.frame_end, (uint32_t)sys_kstack_top);
    check_eq("INT 0x80: saved user CS", k.user_cs, SEL_UCODE);
    check_eq("INT 0x80: saved user SS", k.user_ss, SEL_UDATA);
    check_eq("INT 0x80: saved user ESP", k.user_esp, u.esp_before);
    check("INT 0x80: saved user EFLAGS has IF", (k.user_eflags & EFL_IF) != 0);
    check_eq("INT 0x80: EAX passed in", k.eax, 0x1234);
    check("INT 0x80 through an interrupt gate: IF clear in the handler", !(k.eflags & EFL_IF));
    check_eq("IRET back to ring 3: CS", u.cs, SEL_UCODE);
    check_eq("IRET back to ring 3: ESP restored", u.esp_after, u.esp_before);
    check_eq("IRET back to ring 3: EAX from the handler", u.eax_after, 0x1234 * 2 + 1);
    check_eq("IRET back to ring 3: DS kept (DPL 3)", u.ds, SEL_UDATA);

    idt_set_gate(VEC_SYSCALL, D_TYPE_TRAP32, 3);
    memset((void *)&k, 0, sizeof k);
    sys_run_user(user_int80, 7, EFL_IF);
    check("INT 0x80 through a trap gate: IF kept in the handler", k.calls == 1 && (k.eflags & EFL_IF));
    idt_set_gate(VEC_SYSCALL, D_TYPE_INT32, 3);

    /* From ring 0: no stack switch, no SS:ESP in the frame. */
    uint32_t esp_before, eax = 5;
    memset((void *)&k, 0, sizeof k);
    __asm__ volatile("movl %%esp, %1\n\t"
                     "int $0x80"
                     : "+a"(eax), "=&r"(esp_before) : : "memory");
    check_eq("INT 0x80 from ring 0: frame (EIP, CS, EFLAGS) ends at the old ESP",
             k.frame_end - 8, esp_before);
    check_eq("INT 0x80 from ring 0: EAX from the handler", eax, 11);

    /* Segment registers on the return to ring 3. */
    conforming_sel = gdt_add_segment(0, 0xfffff, D_CODE_XR | D_CONFORMING, D_G | D_DB);
    sys_set_handler(VEC_SYSCALL, int80_segs_handler);
    sys_run_user(user_int80, 1, 0);
    check_eq("IRET to ring 3 nulls DS holding a DPL 0 data segment", u.ds, 0);
    check_eq("IRET to ring 3 nulls ES holding a DPL 0 data segment", u.es, 0);
    check_eq("IRET to ring 3 keeps FS holding a DPL 3 data segment", u.fs, SEL_UDATA);
    check_eq("IRET to ring 3 keeps GS holding a conforming code segment", u.gs, conforming_sel);
    sys_set_handler(VEC_SYSCALL, 0);
}

/* ---- call gate ------------------------------------------------------------------ */

static volatile struct {
    uint32_t esp, cs, ss, ret_eip, ret_cs, p1, p2, old_esp, old_ss;
} cg;
void cg_target(void);
/* Ring 0 through the call gate: record the new stack, return p1 + p2 and
 * leave DS = kernel data (DPL 0) for the far return to null. */
__asm__(".text\n"
        "cg_target:\n\t"
        "movl %esp, cg\n\t"
        "movl %cs, %eax\n\t"
        "movl %eax, cg + 4\n\t"
        "movl %ss, %eax\n\t"
        "movl %eax, cg + 8\n\t"
        "movl 0(%esp), %eax\n\t"
        "movl %eax, cg + 12\n\t"
        "movl 4(%esp), %eax\n\t"
        "movl %eax, cg + 16\n\t"
        "movl 8(%esp), %eax\n\t"
        "movl %eax, cg + 20\n\t"
        "movl 12(%esp), %eax\n\t"
        "movl %eax, cg + 24\n\t"
        "movl 16(%esp), %eax\n\t"
        "movl %eax, cg + 28\n\t"
        "movl 20(%esp), %eax\n\t"
        "movl %eax, cg + 32\n\t"
        "movl 8(%esp), %eax\n\t"
        "addl 12(%esp), %eax\n\t"
        "movl $0x10, %ecx\n\t"
        "movw %cx, %ds\n\t"
        "lret $8\n");

static volatile struct __attribute__((packed)) {
    uint32_t off;
    uint16_t sel;
} cg_ptr;
static volatile uint32_t cg_ret_label, cg_call_label, cg_result;

static uint32_t user_callgate(uint32_t arg)
{
    (void)arg;
    uint32_t result;
    __asm__ volatile(SYS_TRY("1f")
                     "movl %%esp, %%ss:%c[before]\n\t"
                     "pushl $0x22222222\n\t"
                     "pushl $0x11111111\n\t"
                     "movl $1f, %%ss:%c[label]\n\t"
                     "movl $0f, %%ss:%c[call]\n"
                     "0:\tlcall *%%ss:%c[ptr]\n"
                     "1:\tmovl %%esp, %%ss:%c[after]\n\t"
                     /* After a fault the parameters are still pushed. */
                     "movl %%ss:%c[before], %%esp\n\t"
                     "movl $0, %%ss:sys_fixup\n\t"
                     "movl %%ds, %%ecx\n\t"
                     "movl %%ecx, %%ss:%c[ds]\n\t"
                     "movl %%cs, %%ecx\n\t"
                     "movl %%ecx, %%ss:%c[cs]\n\t"
                     "movl $0x23, %%ecx\n\t"
                     "movw %%cx, %%ds"
                     : "=a"(result)
                     : [before] "i"(&u.esp_before), [after] "i"(&u.esp_after), [label] "i"(&cg_ret_label),
                       [call] "i"(&cg_call_label), [ptr] "i"(&cg_ptr), [ds] "i"(&u.ds), [cs] "i"(&u.cs)
                     : "ecx", "memory");
    cg_result = result;
    return 0;
}

static void test_call_gate(void)
{
    sys_section("call gate");
    cg_ptr.off = 0;
    cg_ptr.sel = gdt_add_call_gate(SEL_KCODE, cg_target, 3, 2) | 3;
    memset((void *)&cg, 0, sizeof cg);
    sys_fault_reset();
    sys_run_user(user_callgate, 0, 0);
    check_eq("call gate: no exception", sys_last.count, 0);
    check_eq("call gate: target runs with CS = kernel code", cg.cs, SEL_KCODE);
    check_eq("call gate: SS = TSS.SS0", cg.ss, SEL_KDATA);
    check_eq("call gate: ESP = TSS.ESP0 - 24 (SS, ESP, 2 params, CS, EIP)", cg.esp,
             (uint32_t)sys_kstack_top - 24);
    check_eq("call gate: return EIP", cg.ret_eip, cg_ret_label);
    check_eq("call gate: return CS", cg.ret_cs & 0xffff, SEL_UCODE);
    check_eq("call gate: parameter 1 copied", cg.p1, 0x11111111);
    check_eq("call gate: parameter 2 copied", cg.p2, 0x22222222);
    check_eq("call gate: caller ESP saved (after the pushes)", cg.old_esp, u.esp_before - 8);
    check_eq("call gate: caller SS saved", cg.old_ss & 0xffff, SEL_UDATA);
    check_eq("far RET 8: back in ring 3", u.cs, SEL_UCODE);
    check_eq("far RET 8: result in EAX", cg_result, 0x33333333);
    check_eq("far RET 8: parameters released on the caller's stack", u.esp_after, u.esp_before);
    check_eq("far RET to ring 3 nulls DS holding a DPL 0 data segment", u.ds, 0);

    /* A DPL 0 call gate is not usable from ring 3: #GP(gate selector). */
    uint16_t sel = cg_ptr.sel;
    cg_ptr.sel = gdt_add_call_gate(SEL_KCODE, cg_target, 0, 2) | 3;
    sys_fault_reset();
    sys_run_user(user_callgate, 0, 0);
    check_fault("call gate with DPL 0 from ring 3", 13, cg_ptr.sel & 0xfffc, cg_call_label, "at the CALL");
    cg_ptr.sel = sel;
}

/* ---- SYSENTER / SYSEXIT ----------------------------------------------------------- */

static volatile struct {
    uint32_t esp, cs, ss, eflags, ecx, edx;
    int calls;
} se;
static volatile uint32_t se_user_cs, se_user_ss, se_user_esp_before, se_user_esp_after;
static uint8_t se_stack[1024] __attribute__((aligned(16)));
void sysenter_entry(void);
__asm__(".text\n"
        "sysenter_entry:\n\t"
        "movl %esp, se\n\t"
        "movl %cs, %eax\n\t"
        "movl %eax, se + 4\n\t"
        "movl %ss, %eax\n\t"
        "movl %eax, se + 8\n\t"
        "pushfl\n\t"
        "popl se + 12\n\t"
        "movl %ecx, se + 16\n\t"
        "movl %edx, se + 20\n\t"
        "incl se + 24\n\t"
        "sysexit\n");

static uint32_t user_sysenter(uint32_t arg)
{
    (void)arg;
    __asm__ volatile("movl %%esp, %%ecx\n\t"
                     "movl %%esp, %c[before]\n\t"
                     "movl $1f, %%edx\n\t"
                     "sysenter\n"
                     "1:\tmovl %%esp, %c[after]\n\t"
                     "movl %%cs, %%eax\n\t"
                     "movl %%eax, %c[cs]\n\t"
                     "movl %%ss, %%eax\n\t"
                     "movl %%eax, %c[ss]"
                     :
                     : [before] "i"(&se_user_esp_before), [after] "i"(&se_user_esp_after),
                       [cs] "i"(&se_user_cs), [ss] "i"(&se_user_ss)
                     : "eax", "ecx", "edx", "memory");
    return 0;
}

static uint32_t user_sysenter_fault(uint32_t arg)
{
    (void)arg;
    uint32_t at;
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tsysenter\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "ecx", "edx", "memory");
    return at;
}

static uint32_t user_sysexit(uint32_t arg)
{
    (void)arg;
    uint32_t at;
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tsysexit\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "ecx", "edx", "memory");
    return at;
}

static void test_sysenter(void)
{
    sys_section("SYSENTER/SYSEXIT");
    uint32_t a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    check("CPUID.1:EDX.SEP", (d >> 11) & 1);

    wrmsr(MSR_SYSENTER_CS, SEL_KCODE);
    wrmsr(MSR_SYSENTER_ESP, (uint32_t)(se_stack + sizeof se_stack));
    wrmsr(MSR_SYSENTER_EIP, (uint32_t)sysenter_entry);
    check_eq("RDMSR IA32_SYSENTER_CS", (uint32_t)rdmsr(MSR_SYSENTER_CS), SEL_KCODE);
    check_eq("RDMSR IA32_SYSENTER_ESP", (uint32_t)rdmsr(MSR_SYSENTER_ESP), (uint32_t)(se_stack + sizeof se_stack));
    check_eq("RDMSR IA32_SYSENTER_EIP", (uint32_t)rdmsr(MSR_SYSENTER_EIP), (uint32_t)sysenter_entry);

    memset((void *)&se, 0, sizeof se);
    sys_fault_reset();
    sys_run_user(user_sysenter, 0, EFL_IF);
    check_eq("SYSENTER: no exception", sys_last.count, 0);
    check_eq("SYSENTER: entry ran once", se.calls, 1);
    check_eq("SYSENTER: CS = IA32_SYSENTER_CS", se.cs, SEL_KCODE);
    check_eq("SYSENTER: SS = IA32_SYSENTER_CS + 8", se.ss, SEL_KDATA);
    check_eq("SYSENTER: ESP = IA32_SYSENTER_ESP", se.esp, (uint32_t)(se_stack + sizeof se_stack));
    check("SYSENTER: IF cleared", !(se.eflags & EFL_IF));
    check_eq("SYSENTER: ECX (user ESP) unchanged", se.ecx, se_user_esp_before);
    check_eq("SYSEXIT: CS = IA32_SYSENTER_CS + 16 | 3", se_user_cs, SEL_UCODE);
    check_eq("SYSEXIT: SS = IA32_SYSENTER_CS + 24 | 3", se_user_ss, SEL_UDATA);
    check_eq("SYSEXIT: ESP = ECX", se_user_esp_after, se_user_esp_before);

    uint32_t at;
    sys_fault_reset();
    at = sys_run_user(user_sysexit, 0, 0);
    check_fault("SYSEXIT at CPL 3", 13, 0, at, "at the SYSEXIT");

    wrmsr(MSR_SYSENTER_CS, 0);
    sys_fault_reset();
    at = sys_run_user(user_sysenter_fault, 0, 0);
    check_fault("SYSENTER with IA32_SYSENTER_CS = 0", 13, 0, at, "at the SYSENTER");
}

/* ---- privileged instructions at CPL 3 ---------------------------------------------- */

struct sys_dtr dummy_dtr; /* global: named from asm */

#define PRIV_USER_FN(fn, insn)                                                \
    static uint32_t fn(uint32_t arg)                                          \
    {                                                                         \
        (void)arg;                                                            \
        uint32_t at;                                                          \
        __asm__ volatile(SYS_TRY("2f")                                        \
                         "xorl %%eax, %%eax\n\t"                              \
                         "xorl %%ecx, %%ecx\n\t"                              \
                         "xorl %%edx, %%edx\n\t"                              \
                         "movl $1f, %0\n"                                     \
                         "1:\t" insn "\n"                                     \
                         "2:" SYS_TRY_END                                     \
                         : "=&r"(at) : : "eax", "ecx", "edx", "memory");      \
        return at;                                                            \
    }

PRIV_USER_FN(u_mov_from_cr0, "movl %%cr0, %%eax")
PRIV_USER_FN(u_mov_to_cr3, "movl %%eax, %%cr3")
PRIV_USER_FN(u_mov_dr7, "movl %%db7, %%eax")
PRIV_USER_FN(u_lgdt, "lgdt dummy_dtr")
PRIV_USER_FN(u_lidt, "lidt dummy_dtr")
PRIV_USER_FN(u_lldt, "lldt %%ax")
PRIV_USER_FN(u_ltr, "ltr %%ax")
PRIV_USER_FN(u_lmsw, "lmsw %%ax")
PRIV_USER_FN(u_clts, "clts")
PRIV_USER_FN(u_rdmsr, "rdmsr")
PRIV_USER_FN(u_wrmsr, "wrmsr")
PRIV_USER_FN(u_invlpg, "invlpg dummy_dtr")
PRIV_USER_FN(u_wbinvd, "wbinvd")
PRIV_USER_FN(u_hlt, "hlt")
PRIV_USER_FN(u_rdtsc, "rdtsc")
PRIV_USER_FN(u_rdpmc, "rdpmc")

static const struct {
    const char *name;
    uint32_t (*fn)(uint32_t);
} privileged[] = {
    {"MOV EAX, CR0", u_mov_from_cr0},
    {"MOV CR3, EAX", u_mov_to_cr3},
    {"MOV EAX, DR7", u_mov_dr7},
    {"LGDT", u_lgdt},
    {"LIDT", u_lidt},
    {"LLDT", u_lldt},
    {"LTR", u_ltr},
    {"LMSW", u_lmsw},
    {"CLTS", u_clts},
    {"RDMSR", u_rdmsr},
    {"WRMSR", u_wrmsr},
    {"INVLPG", u_invlpg},
    {"WBINVD", u_wbinvd},
    {"HLT", u_hlt},
};

static volatile uint32_t u_smsw, u_sgdt_base;
static volatile uint16_t u_sgdt_limit, u_str;

static uint32_t user_unprivileged(uint32_t arg)
{
    (void)arg;
    struct sys_dtr d;
    uint32_t msw;
    __asm__ volatile("smsw %0" : "=r"(msw));
    u_smsw = msw;
    sgdt(&d);
    u_sgdt_base = d.base;
    u_sgdt_limit = d.limit;
    u_str = str_();
    return 0;
}

static void test_privileged(void)
{
    char name[96];
    sys_section("privileged instructions at CPL 3");
    for (unsigned i = 0; i < sizeof privileged / sizeof privileged[0]; i++) {
        sys_fault_reset();
        uint32_t at = sys_run_user(privileged[i].fn, 0, 0);
        /* Built by hand: the library's printf has no snprintf. */
        const char *p = privileged[i].name;
        unsigned n = 0;
        while (*p)
            name[n++] = *p++;
        p = " at CPL 3";
        while (*p)
            name[n++] = *p++;
        name[n] = 0;
        check_fault(name, 13, 0, at, "at the instruction");
    }

    sys_fault_reset();
    sys_run_user(user_unprivileged, 0, 0);
    check_eq("SMSW at CPL 3: no exception", sys_last.count, 0);
    check_eq("SMSW at CPL 3 = CR0[15:0]", u_smsw & 0xffff, read_cr0() & 0xffff);
    check_eq("SGDT at CPL 3 (CR4.UMIP = 0): base", u_sgdt_base, (uint32_t)sys_gdt);
    check_eq("SGDT at CPL 3: limit", u_sgdt_limit, sizeof sys_gdt - 1);
    check_eq("STR at CPL 3", u_str, SEL_TSS);

    sys_fault_reset();
    sys_run_user(u_rdtsc, 0, 0);
    check_eq("RDTSC at CPL 3 with CR4.TSD = 0: no exception", sys_last.count, 0);
    write_cr4(read_cr4() | CR4_TSD);
    sys_fault_reset();
    uint32_t at = sys_run_user(u_rdtsc, 0, 0);
    write_cr4(read_cr4() & ~CR4_TSD);
    check_fault("RDTSC at CPL 3 with CR4.TSD = 1", 13, 0, at, "at the RDTSC");

    /* RDPMC (SDM Vol. 2B): with CR4.PCE = 0 only CPL 0 may read the counters. */
    sys_fault_reset();
    at = sys_run_user(u_rdpmc, 0, 0);
    check_fault("RDPMC at CPL 3 with CR4.PCE = 0", 13, 0, at, "at the RDPMC");
}

/* ---- RDPMC (vmm-only: QEMU's TCG raises #UD for every RDPMC it allows) ---- */

#define CR4_PCE 0x100u

/* RDPMC with ECX = ecx at CPL 0; returns the vector taken or -1, EDX:EAX in *v. */
static int rdpmc_k(uint32_t ecx, uint64_t *v, uint32_t *at)
{
    uint32_t lo = 0xdeadbeef, hi = 0xfeedface;
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %2\n"
                     "1:\trdpmc\n"
                     "2:" SYS_TRY_END
                     : "+a"(lo), "+d"(hi), "=&r"(*at) : "c"(ecx) : "memory");
    *v = (uint64_t)hi << 32 | lo;
    return sys_last.count ? sys_last.vector : -1;
}

static volatile uint32_t u_pmc_lo, u_pmc_hi;

static uint32_t user_rdpmc(uint32_t arg)
{
    uint32_t lo = 0xdeadbeef, hi = 0xfeedface;
    __asm__ volatile("rdpmc" : "+a"(lo), "+d"(hi) : "c"(arg));
    u_pmc_lo = lo;
    u_pmc_hi = hi;
    return 0;
}

static void test_rdpmc(void)
{
    sys_section("vmm-only: RDPMC (QEMU's TCG raises #UD)");
    uint64_t v;
    uint32_t at;
    /* CPUID reports no architectural performance monitoring: a family-6
     * CPU has PMC0 and PMC1 (40 bits); vmm counts no events. */
    int r = rdpmc_k(0, &v, &at);
    check_detail("RDPMC PMC0 at CPL 0: no exception, EDX:EAX = 0", r == -1 && v == 0, "vector %d, 0x%x%08x", r,
                 (uint32_t)(v >> 32), (uint32_t)v);
    r = rdpmc_k(1, &v, &at);
    check_detail("RDPMC PMC1 at CPL 0: no exception, EDX:EAX = 0", r == -1 && v == 0, "vector %d, 0x%x%08x", r,
                 (uint32_t)(v >> 32), (uint32_t)v);
    rdpmc_k(2, &v, &at);
    check_fault("RDPMC ECX = 2 (no such counter)", 13, 0, at, "at the RDPMC");
    rdpmc_k(0x80000000u, &v, &at);
    check_fault("RDPMC ECX = 0x80000000 (no fast reads on P6)", 13, 0, at, "at the RDPMC");

    write_cr4(read_cr4() | CR4_PCE);
    sys_fault_reset();
    sys_run_user(user_rdpmc, 1, 0);
    write_cr4(read_cr4() & ~CR4_PCE);
    check_eq("RDPMC at CPL 3 with CR4.PCE = 1: no exception", sys_last.count, 0);
    check("RDPMC at CPL 3 with CR4.PCE = 1: EDX:EAX = 0", u_pmc_lo == 0 && u_pmc_hi == 0);
}

int guest_main(void)
{
    sys_init();
    test_iret_int();
    test_call_gate();
    test_sysenter();
    test_privileged();
    if (sys_cmdline_has("vmm-only"))
        test_rdpmc();
    sys_finish();
}

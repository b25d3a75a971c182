/*
 * iopl.c - I/O privilege (SDM Vol. 1, 19.5 "Protected-Mode I/O"; CLI, STI,
 * POPF, IRET in Vol. 2):
 *
 *   - IN/OUT at CPL 3 with IOPL 0 go through the TSS I/O permission bitmap:
 *     an allowed port works, a denied one raises #GP(0), a multi-byte access
 *     needs every byte's bit clear, a bitmap outside the TSS limit denies
 *     everything; IOPL 3 bypasses the bitmap;
 *   - CLI/STI at CPL 3: #GP(0) with IOPL 0, allowed with IOPL 3;
 *   - POPF at CPL 0 changes IF and IOPL; at CPL 3 it silently keeps IOPL,
 *     and IF too unless IOPL = 3; IRET at CPL 3 likewise; reserved bits,
 *     VM, AC and ID.
 *
 * Ports: the 16550's scratch register (COM1 + 7 = 0x3ff) is the allowed
 * one, the modem status register (0x3fe) the denied one; word accesses use
 * the unassigned ports 0x100/0x101.
 */
#include "sys.h"

#define PORT_OK   0x3ff
#define PORT_DENY 0x3fe
#define PORT_WORD 0x100         /* 0x100/0x101: nothing there, reads float */

static volatile uint32_t u_in, u_flags, u_flags2;

static uint32_t user_out_in(uint32_t v)
{
    uint32_t at;
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n\t"
                     "movw %2, %%dx\n"
                     "1:\toutb %%al, %%dx\n\t"
                     "xorl %%eax, %%eax\n\t"
                     "inb %%dx, %%al\n\t"
                     "movl %%eax, u_in\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at), "+a"(v) : "i"(PORT_OK) : "edx", "memory");
    return at;
}

static uint32_t user_in_denied(uint32_t arg)
{
    (void)arg;
    uint32_t at;
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n\t"
                     "movw %1, %%dx\n"
                     "1:\tinb %%dx, %%al\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "i"(PORT_DENY) : "eax", "edx", "memory");
    return at;
}

static uint32_t user_inw(uint32_t arg)
{
    (void)arg;
    uint32_t at;
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n\t"
                     "movw %1, %%dx\n"
                     "1:\tinw %%dx, %%ax\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "i"(PORT_WORD) : "eax", "edx", "memory");
    return at;
}

static uint32_t user_in_imm(uint32_t arg)
{
    (void)arg;
    uint32_t at;
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tinb $0x80, %%al\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : : "eax", "memory");
    return at;
}

static void test_io_bitmap(void)
{
    sys_section("I/O permission bitmap");
    uint32_t at;
    tss_io_allow(PORT_OK, 1);

    sys_fault_reset();
    sys_run_user(user_out_in, 0x5a, 0);
    check_eq("OUT/IN allowed port at CPL 3, IOPL 0: no exception", sys_last.count, 0);
    check_eq("OUT/IN allowed port: scratch register read back", u_in, 0x5a);

    sys_fault_reset();
    at = sys_run_user(user_in_denied, 0, 0);
    check_fault("IN denied port at CPL 3, IOPL 0", 13, 0, at, "at the IN");

    tss_io_allow(PORT_WORD, 1);
    sys_fault_reset();
    at = sys_run_user(user_inw, 0, 0);
    check_fault("IN word at an allowed port whose next port is denied", 13, 0, at, "at the IN");

    tss_io_allow(0x80, 1);
    sys_fault_reset();
    sys_run_user(user_in_imm, 0, 0);
    check_eq("IN imm8 allowed by the bitmap: no exception", sys_last.count, 0);
    tss_io_allow(0x80, 0);
    sys_fault_reset();
    at = sys_run_user(user_in_imm, 0, 0);
    check_fault("IN imm8 denied by the bitmap", 13, 0, at, "at the IN");

    sys_fault_reset();
    sys_run_user(user_in_denied, 0, EFL_IOPL(3));
    check_eq("IN denied port at CPL 3 with IOPL 3: no exception", sys_last.count, 0);

    tss_iomap_enable(0);
    sys_fault_reset();
    at = sys_run_user(user_out_in, 0x33, 0);
    check_fault("OUT with the bitmap base beyond the TSS limit", 13, 0, at, "at the OUT");
    tss_iomap_enable(1);

    /* A word access works once both ports' bits are clear. */
    tss_io_allow(PORT_WORD + 1, 1);
    sys_fault_reset();
    sys_run_user(user_inw, 0, 0);
    check_eq("IN word with both ports allowed: no exception", sys_last.count, 0);
    tss_io_allow(PORT_WORD + 1, 0);
    tss_io_allow(PORT_WORD, 0);
    tss_io_allow(PORT_OK, 0);
}

/* ---- CLI/STI ---------------------------------------------------------------------- */

static uint32_t user_cli(uint32_t arg)
{
    (void)arg;
    uint32_t at;
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tcli\n"
                     "2:" SYS_TRY_END
                     "pushfl\n\t"
                     "popl u_flags"
                     : "=&r"(at) : : "memory");
    return at;
}

static uint32_t user_sti(uint32_t arg)
{
    (void)arg;
    uint32_t at;
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tsti\n"
                     "2:" SYS_TRY_END
                     "pushfl\n\t"
                     "popl u_flags"
                     : "=&r"(at) : : "memory");
    return at;
}

static void test_cli_sti(void)
{
    sys_section("CLI/STI at CPL 3");
    uint32_t at;
    sys_fault_reset();
    at = sys_run_user(user_cli, 0, EFL_IF);
    check_fault("CLI at CPL 3, IOPL 0", 13, 0, at, "at the CLI");
    check("CLI faulted: IF still set", (u_flags & EFL_IF) != 0);
    sys_fault_reset();
    at = sys_run_user(user_sti, 0, 0);
    check_fault("STI at CPL 3, IOPL 0", 13, 0, at, "at the STI");
    check("STI faulted: IF still clear", !(u_flags & EFL_IF));

    sys_fault_reset();
    sys_run_user(user_cli, 0, EFL_IF | EFL_IOPL(3));
    check_eq("CLI at CPL 3, IOPL 3: no exception", sys_last.count, 0);
    check("CLI at CPL 3, IOPL 3: IF cleared", !(u_flags & EFL_IF));
    sys_fault_reset();
    sys_run_user(user_sti, 0, EFL_IOPL(3));
    check_eq("STI at CPL 3, IOPL 3: no exception", sys_last.count, 0);
    check("STI at CPL 3, IOPL 3: IF set", (u_flags & EFL_IF) != 0);
}

/* ---- POPF/PUSHF/IRET -------------------------------------------------------------- */

/* POPF with arg, then PUSHF into u_flags; restores the entry flags. */
static uint32_t popf_pushf(uint32_t v)
{
    uint32_t r;
    __asm__ volatile("pushfl\n\t"
                     "pushl %1\n\t"
                     "popfl\n\t"
                     "pushfl\n\t"
                     "popl %0\n\t"
                     "popfl"
                     : "=&r"(r) : "r"(v) : "memory", "cc");
    return r;
}

static uint32_t user_popf(uint32_t v)
{
    u_flags = popf_pushf(v);
    return 0;
}

/* Same-privilege IRET at CPL 3 with the given EFLAGS image. */
static uint32_t user_iret(uint32_t v)
{
    __asm__ volatile("pushfl\n\t"
                     "pushl %0\n\t"
                     "pushl %%cs\n\t"
                     "pushl $1f\n\t"
                     "iretl\n"
                     "1:\tpushfl\n\t"
                     "popl u_flags2\n\t"
                     "popfl"
                     : : "r"(v) : "memory", "cc");
    return 0;
}

#define KEEP (EFL_IF | EFL_IOPL_MASK | EFL_CF)

static void test_popf(void)
{
    sys_section("POPF/PUSHF and IRET with IOPL");
    uint32_t f;

    cli();
    f = popf_pushf(EFL_FIXED | EFL_IOPL(3) | EFL_CF);
    check_eq("POPF at CPL 0 sets IOPL 3", f & KEEP, EFL_IOPL(3) | EFL_CF);
    f = popf_pushf(EFL_FIXED | EFL_IOPL(1) | EFL_IF);
    check_eq("POPF at CPL 0 sets IF, IOPL 1", f & KEEP, EFL_IOPL(1) | EFL_IF);
    cli();
    f = popf_pushf(0x8028);                 /* bits 3, 5, 15 set; bit 1 clear */
    check_eq("POPF: reserved bits 3, 5, 15 read as 0, bit 1 as 1", f & 0x802a, EFL_FIXED);
    f = popf_pushf(EFL_FIXED | EFL_VM);
    check_eq("POPF cannot set VM", f & EFL_VM, 0);
    f = popf_pushf(EFL_FIXED | EFL_RF);
    check_eq("POPF cannot set RF", f & EFL_RF, 0);
    f = popf_pushf(EFL_FIXED | EFL_ID | EFL_AC);
    check_eq("POPF sets ID and AC (CPUID and 486 detection)", f & (EFL_ID | EFL_AC), EFL_ID | EFL_AC);
    f = popf_pushf(EFL_FIXED);
    check_eq("POPF clears ID and AC", f & (EFL_ID | EFL_AC), 0);

    sys_fault_reset();
    sys_run_user(user_popf, EFL_FIXED | EFL_IF | EFL_IOPL(3) | EFL_CF, 0);
    check_eq("POPF at CPL 3, IOPL 0: no exception", sys_last.count, 0);
    check_eq("POPF at CPL 3, IOPL 0: IF and IOPL kept, CF set", u_flags & KEEP, EFL_CF);
    sys_run_user(user_popf, EFL_FIXED, EFL_IF);
    check_eq("POPF at CPL 3, IOPL 0: IF = 1 kept when popping 0", u_flags & KEEP, EFL_IF);
    sys_run_user(user_popf, EFL_FIXED | EFL_IF, EFL_IOPL(3));
    check_eq("POPF at CPL 3, IOPL 3: IF set, IOPL kept", u_flags & KEEP, EFL_IF | EFL_IOPL(3));
    sys_run_user(user_popf, EFL_FIXED | EFL_IF | EFL_IOPL(1), EFL_IOPL(2));
    check_eq("POPF at CPL 3, IOPL 2: IF and IOPL kept", u_flags & KEEP, EFL_IOPL(2));
    sys_run_user(user_popf, EFL_FIXED | EFL_AC, 0);
    check_eq("POPF at CPL 3 sets AC", u_flags & EFL_AC, EFL_AC);

    sys_fault_reset();
    sys_run_user(user_iret, EFL_FIXED | EFL_IF | EFL_IOPL(3) | EFL_CF, 0);
    check_eq("IRET at CPL 3: no exception", sys_last.count, 0);
    check_eq("IRET at CPL 3, IOPL 0: IF and IOPL kept, CF set", u_flags2 & KEEP, EFL_CF);
    sys_run_user(user_iret, EFL_FIXED | EFL_IF, EFL_IOPL(3));
    check_eq("IRET at CPL 3, IOPL 3: IF set, IOPL kept", u_flags2 & KEEP, EFL_IF | EFL_IOPL(3));
    cli();
}

int guest_main(void)
{
    sys_init();
    test_io_bitmap();
    test_cli_sti();
    test_popf();
    sys_finish();
}

/*
 * pf_error_codes - #PF error codes of memory operands on a not-present page
 * (ring 0, paging on).  Pure reads (MOV load, MUL, IMUL, DIV, IDIV, CMP,
 * TEST, BT, PUSH m, MOVS source) report W = 0; read-modify-write
 * instructions (ADD, INC, NOT, NEG, SHL, XCHG, LOCK ADD, CMPXCHG, XADD, BTS,
 * ...) report W = 1, as real CPUs do: on a 2024 AMD EPYC a native program
 * reading the error code of its own SIGSEGV gets 4 (U, read) for the first
 * group and 6 (U, write) for the second.  Also a read-only page with
 * CR0.WP = 1: RMW instructions report P|W (3), pure reads do not fault.
 * Each line: error code, CR2 = the operand, EIP = the instruction.
 */
#include "hostile.h"

#define NP 0x40000000u                 /* not present */
#define RO 0x40001000u                 /* present, read-only */

#define PF_TEST(name, insn) PF_TEST2(name, "", insn)
#define PF_TEST2(name, setup, insn)                                                     \
    do {                                                                                \
        uint32_t at;                                                                    \
        catch_reset();                                                                  \
        __asm__ volatile("movl %%esp, saved_esp\n\tmovl $1f, %0\n\t" HTRY("2f") setup "\n1:\t" insn \
                         "\n2:" HTRY_END "movl saved_esp, %%esp"                       \
                         : "=&r"(at) : "b"(base + 0x10) : "eax", "ecx", "edx", "esi", "edi", "memory", "cc"); \
        report(name, at, base + 0x10);                                                  \
    } while (0)

/* ESP before each attempt: a faulting POP m32 leaves the PUSH before it
 * on the stack. */
uint32_t saved_esp;

static void report(const char *name, uint32_t at, uint32_t addr)
{
    if (caught.vector < 0) {
        printf("%-26s no fault\n", name);
        return;
    }
    printf("%-26s vector %d error 0x%x", name, caught.vector, caught.error);
    if (caught.vector == 14)
        printf(" cr2 %s", caught.cr2 == addr ? "=operand" : "WRONG");
    printf(" eip %s\n", caught.eip == at ? "=insn" : "WRONG");
}

static void run_all(uint32_t base)
{
    PF_TEST("mov r32, m32", "movl (%%ebx), %%eax");
    PF_TEST("mov m32, r32", "movl %%eax, (%%ebx)");
    PF_TEST("mul m8", "mulb (%%ebx)");
    PF_TEST("mul m16", "mulw (%%ebx)");
    PF_TEST("mul m32", "mull (%%ebx)");
    PF_TEST("imul m32", "imull (%%ebx)");
    PF_TEST("imul r32, m32, imm", "imull $3, (%%ebx), %%eax");
    PF_TEST2("div m32", "movl $1, %%edx", "divl (%%ebx)");
    PF_TEST2("idiv m32", "xorl %%edx, %%edx", "idivl (%%ebx)");
    PF_TEST2("div m8", "xorl %%eax, %%eax", "divb (%%ebx)");
    PF_TEST("cmp m32, r32", "cmpl %%eax, (%%ebx)");
    PF_TEST("test m32, r32", "testl %%eax, (%%ebx)");
    PF_TEST2("bt m32, r32", "xorl %%eax, %%eax", "btl %%eax, (%%ebx)");
    PF_TEST2("push m32", "", "pushl (%%ebx)\n\tpopl %%eax");
    PF_TEST2("movs source", "movl %%ebx, %%esi\n\tmovl %%esp, %%edi\n\tsubl $64, %%edi", "movsl");
    PF_TEST("add m32, r32", "addl %%eax, (%%ebx)");
    PF_TEST("adc m8, imm8", "adcb $1, (%%ebx)");
    PF_TEST("inc m32", "incl (%%ebx)");
    PF_TEST("dec m16", "decw (%%ebx)");
    PF_TEST("not m32", "notl (%%ebx)");
    PF_TEST("neg m32", "negl (%%ebx)");
    PF_TEST("shl m32, 1", "shll $1, (%%ebx)");
    PF_TEST2("rol m32, cl", "movl $3, %%ecx", "roll %%cl, (%%ebx)");
    PF_TEST("xchg m32, r32", "xchgl %%eax, (%%ebx)");
    PF_TEST("lock add m32, r32", "lock addl %%eax, (%%ebx)");
    PF_TEST("cmpxchg m32, r32", "cmpxchgl %%ecx, (%%ebx)");
    PF_TEST("lock cmpxchg m32, r32", "lock cmpxchgl %%ecx, (%%ebx)");
    PF_TEST("xadd m32, r32", "xaddl %%eax, (%%ebx)");
    PF_TEST2("bts m32, r32", "xorl %%eax, %%eax", "btsl %%eax, (%%ebx)");
    PF_TEST("or m32, imm8", "orl $1, (%%ebx)");
    PF_TEST("setz m8", "setz (%%ebx)");
    PF_TEST2("pop m32", "pushl $5", "popl (%%ebx)");
    PF_TEST2("movs destination", "movl %%esp, %%esi\n\tmovl %%ebx, %%edi", "movsl");
    PF_TEST2("stos", "movl %%ebx, %%edi", "stosl");
}

int guest_main(void)
{
    sys_init();
    catch_all();
    uint32_t *pd = pg_identity_dir(16u << 20);
    uint8_t *ro = pg_alloc();
    memset(ro, 0x01, 4096);              /* divisors for DIV/IDIV */
    pg_map(pd, RO, (uint32_t)ro, PTE_P);
    pg_enable(pd);
    write_cr0(read_cr0() | CR0_WP);
    printf("== not-present page\n");
    run_all(NP);
    printf("== read-only page, CR0.WP = 1\n");
    run_all(RO);
    pg_disable();
    host_done();
}

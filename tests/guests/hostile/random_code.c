/*
 * random_code - pages of random bytes (a fixed-seed generator) executed at
 * CPL 3 under a ring-0 kernel: 16 pages x 16 start offsets.  Each run enters
 * ring 3 with TF set and known registers; the #DB handler counts the
 * single steps and ends the run after 200 of them; any other exception or
 * INT ends the run, which is logged with the vector, error code, EIP, the
 * step count and a digest of the registers.  Only the random page (writable:
 * the code may rewrite itself), a read-only trampoline page and a user stack
 * are user pages, so nothing the random code does can reach the kernel;
 * CR0.EM = 1 turns x87 instructions into #NM.  The log is deterministic.
 */
#include "hostile.h"

#define UCODE  0x40000000u
#define UTRAMP 0x40001000u
#define USTACK 0x40002000u             /* two pages */
#define LIMIT  200u

static uint8_t code_page[4096] __attribute__((aligned(4096)));
static uint8_t tramp_page[4096] __attribute__((aligned(4096)));
static uint8_t stack_pages[8192] __attribute__((aligned(4096)));

extern char sys_user_exit_isr[];
static volatile uint32_t steps, run_vector, run_error, run_eip, run_digest;

__attribute__((noreturn)) static void end_run(struct sys_frame *f, uint32_t vector)
{
    run_vector = vector;
    run_error = f->error;
    run_eip = f->eip;
    uint32_t h = DIGEST_INIT;
    h = digest(h, f->eax);
    h = digest(h, f->ebx);
    h = digest(h, f->ecx);
    h = digest(h, f->edx);
    h = digest(h, f->esi);
    h = digest(h, f->edi);
    h = digest(h, f->ebp);
    h = digest(h, f->esp);
    h = digest(h, f->eflags & 0x8d5);  /* CF PF AF ZF SF OF */
    run_digest = h;
    /* Back to sys_run_user's caller (its exit path reloads the kernel's
     * segments and stack; the frame is abandoned). */
    __asm__ volatile("movl %0, %%eax\n\tjmp sys_user_exit_isr" : : "r"(vector) : "eax");
    __builtin_unreachable();
}

static void handler(struct sys_frame *f)
{
    if ((f->cs & 3) != 3)
        sys_fatal("exception %u in the kernel at 0x%08x (error 0x%x)", f->vector, f->eip, f->error);
    if (f->vector == 1 && !(read_dr6() & 0xf)) {
        write_dr6(0);
        if (++steps < LIMIT)
            return;
        end_run(f, 0x100);          /* the step limit */
    }
    end_run(f, f->vector);
}

static void emit32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

/* The trampoline: MOV ESP, top; MOV EAX..EBP, values; JMP UCODE + off. */
static void trampoline(uint32_t off, uint32_t seed)
{
    uint8_t *p = tramp_page;
    unsigned n = 0;
    p[n++] = 0xbc; emit32(p + n, USTACK + 4096); n += 4;
    for (unsigned r = 0; r < 8; r++) {
        if (r == 4)
            continue;                   /* ESP */
        p[n++] = (uint8_t)(0xb8 + r);
        /* Half the registers point into the user pages, half are random. */
        uint32_t v = rng_next(&seed);
        emit32(p + n, (r & 1) ? USTACK + (v & 0x1ffc) : v);
        n += 4;
    }
    p[n++] = 0xe9;
    emit32(p + n, UCODE + off - (UTRAMP + n + 4));
}

int guest_main(void)
{
    sys_init();
    catch_all();
    for (unsigned v = 0; v < 256; v++)
        sys_set_handler(v, handler);
    idt_set_gate(VEC_USER_EXIT, D_TYPE_INT32, 3);   /* INT 0x81 is a vector like the others here */

    uint32_t *pd = pg_new_dir();
    pg_identity_map(pd, 0, 16u << 20, PTE_P | PTE_W);  /* supervisor only */
    pg_map(pd, UCODE, (uint32_t)code_page, PTE_P | PTE_W | PTE_U);
    pg_map(pd, UTRAMP, (uint32_t)tramp_page, PTE_P | PTE_U);
    pg_map(pd, USTACK, (uint32_t)stack_pages, PTE_P | PTE_W | PTE_U);
    pg_map(pd, USTACK + 4096, (uint32_t)stack_pages + 4096, PTE_P | PTE_W | PTE_U);
    pg_enable(pd);
    write_cr0(read_cr0() | CR0_EM);

    uint32_t seed = 0x1badcafe;
    unsigned hist[0x102] = {0};
    for (unsigned page = 0; page < 16; page++) {
        for (unsigned i = 0; i < 4096; i += 4)
            emit32(code_page + i, rng_next(&seed));
        memset(stack_pages, 0, sizeof stack_pages);
        for (unsigned k = 0; k < 16; k++) {
            uint32_t off = rng_next(&seed) & 0xfff;
            trampoline(off, rng_next(&seed));
            invlpg(UTRAMP);
            steps = 0;
            sys_run_user((uint32_t (*)(uint32_t))UTRAMP, 0, EFL_TF);
            uint32_t v = run_vector;
            hist[v < 0x100 ? v : 0x100]++;
            printf("page %2u off %03x: ", page, off);
            if (v == 0x100)
                printf("limit");
            else
                printf("vector %u error 0x%x", v, run_error);
            if (run_eip - UCODE < 0x1000)
                printf(" eip +%03x", run_eip - UCODE);
            else
                printf(" eip 0x%08x", run_eip);
            printf(" steps %u regs %08x\n", steps, run_digest);
        }
    }
    write_cr0(read_cr0() & ~CR0_EM);
    pg_disable();
    printf("outcomes:");
    for (unsigned v = 0; v <= 0x100; v++)
        if (hist[v])
            printf(" %s%u x%u", v == 0x100 ? "limit" : "#", v == 0x100 ? 0 : v, hist[v]);
    printf("\n");
    host_done();
}

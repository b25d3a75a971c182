/*
 * syscalls.c - a system-call-heavy workload: code at CPL 3 calls a small
 * kernel at CPL 0 over and over, through INT 0x80 and through SYSENTER /
 * SYSEXIT, the way 32-bit Linux does (SDM Vol. 3A 6.12 "Exception and
 * Interrupt Handling", 5.8.7 "Performing Fast Calls to System Procedures
 * with the SYSENTER and SYSEXIT Instructions"; SYSENTER/SYSEXIT in
 * Vol. 2B).
 *
 * Setup.  Paging is on: RAM is identity mapped supervisor-only (CR0.WP
 * set) except the pages ring 3 needs, which get the U bit: the ring-3 code
 * of syscalls.S (pages of its own: the two loops and the vsyscall stub),
 * the syslib's user stack and one data page (struct sc_uargs: the loop's
 * state and a 64-word buffer).  The kernel entry code, its data and stacks
 * are supervisor pages.  Vector 0x80 is a DPL 3 trap gate to
 * sc_int80_entry (the CPU switches to TSS.SS0:ESP0); IA32_SYSENTER_CS /
 * ESP / EIP (MSRs 0x174-0x176) point at the kernel code segment, a 4 KiB
 * stack of its own and sc_sysenter_entry.
 *
 * Work.  One sys_run_user() call (IF clear unless timer= is given)
 * runs ITERS iterations of the ring-3 loop of syscalls.S: an LCG picks the
 * call number (x >> 29, uniform over 0..7) and the arguments, the call
 * goes to ring 0 (INT 0x80, or a CALL to the vDSO-like stub that saves
 * ECX/EDX/EBP and executes SYSENTER), the kernel saves the registers,
 * dispatches through a table of C handlers and returns (IRET, or SYSEXIT
 * to the stub's return address with ESP from ECX).  The calls:
 *
 *   0 ident   (CS | SS << 16 of the frame) ^ pid: the user's selectors
 *   1 add     a + b
 *   2 mix     mm_mix(a ^ b)
 *   3 count   counter += a & 0xff; returns counter      (kernel state)
 *   4 store   slots[b & 63] = a; returns the old value   (kernel state)
 *   5 load    slots[(a >> 8) & 63]
 *   6 sum     a + the b & 7 words at user pointer c, after checking that
 *             they lie in the user buffer (else -EFAULT)
 *   7         not a call: -ENOSYS
 *
 * The user loop folds every return value into an FNV-1a hash, stores the
 * hash into its buffer (which later sum calls read), and checks after
 * every call that EBX, ECX, EDX, ESI, EDI and EBP came back unchanged.
 * The kernel counts the calls by number and checks on every entry that
 * ESP is where the gate (TSS.ESP0) or the MSR (IA32_SYSENTER_ESP) put it.
 *
 * Checks (per mode): the entry stacks, the preserved registers, and the
 * hash, the LCG state, the user buffer, the kernel state and the per-call
 * counts against a model that replays the same sequence at CPL 0 with
 * plain function calls.  Both mechanisms run the same sequence from the
 * same state, so they print the same counts and checksum, and the final
 * checksum depends only on the command line.
 *
 * Command line: iters=N (calls per mode, default 5000), mode=int80 |
 * sysenter | both (default both), seed=N (default 1), timer=HZ (default 0:
 * off; else PIT channel 0 interrupts at HZ while the loops run with IF
 * set, at CPL 3 and inside the calls; the output does not change;
 * show-ticks prints how many came, which is not part of the expected
 * output), e.g.
 *   vmm -m 16 -kernel syscalls.elf -append "iters=1000000 mode=sysenter"
 * Each mode's loop is between "-- begin timed loop" and "-- end timed
 * loop".
 */
#include "mm_common.h"

#define SC_NR      7            /* as in syscalls.S */
#define ENOSYS     38
#define EFAULT     14
#define FNV_PRIME  0x01000193u
#define BUF_WORDS  64
#define PID        4242u

/* The saved registers, as SAVE_ALL in syscalls.S leaves them, then the
 * frame of INT 0x80 (or the one the SYSENTER entry builds). */
struct sc_regs {
    uint32_t ebx, ecx, edx, esi, edi, ebp, eax, ds, es, orig_eax;
    uint32_t eip, cs, eflags, esp, ss;
};

/* The ring-3 loop's state (offsets U_* in syscalls.S). */
struct sc_uargs {
    uint32_t iters, x, hash, i, bad;
    uint32_t cs, ss;            /* 16-bit stores at the end of the loop */
    uint32_t pad[9];
    uint32_t buf[BUF_WORDS];
};
_Static_assert(__builtin_offsetof(struct sc_uargs, buf) == 64, "U_BUF in syscalls.S");

/* The only kernel-image data page ring 3 may touch. */
static union {
    struct sc_uargs u;
    uint8_t page[4096];
} user_page __attribute__((aligned(4096)));

struct sc_kstate {
    uint32_t pid, counter, efaults;
    uint32_t slots[64];
};

/* syscalls.S */
extern uint8_t sc_user_text[], sc_user_text_end[];
uint32_t sc_user_loop_int80(uint32_t uargs);
uint32_t sc_user_loop_sysenter(uint32_t uargs);
void sc_int80_entry(void);
void sc_sysenter_entry(void);

/* Shared with syscalls.S. */
uint32_t sc_count[SC_NR + 1];
uint32_t sc_bad_entry_stack;
uint32_t sc_irqs_on;            /* timer=: ring 3 and the calls run with IF set */
uint8_t sc_sysenter_stack[4096] __attribute__((aligned(4096)));
__asm__(".globl sc_sysenter_stack_top\n\t.set sc_sysenter_stack_top, sc_sysenter_stack + 4096");
extern uint8_t sc_sysenter_stack_top[];

static struct sc_kstate kst;
static volatile uint32_t ticks;

static void timer_irq(struct sys_frame *f)
{
    (void)f;
    ticks++;
    pic_eoi(0);
}

/* ---- the calls (shared by the kernel and the model) ------------------------------ */

static void kstate_init(struct sc_kstate *s)
{
    s->pid = PID;
    s->counter = 0;
    s->efaults = 0;
    for (uint32_t k = 0; k < 64; k++)
        s->slots[k] = mm_mix(k + 1);
}

static inline uint32_t do_ident(const struct sc_kstate *s, uint32_t cs, uint32_t ss)
{
    return ((cs & 0xffff) | (ss & 0xffff) << 16) ^ s->pid;
}

static inline uint32_t do_count(struct sc_kstate *s, uint32_t a)
{
    s->counter += a & 0xff;
    return s->counter;
}

static inline uint32_t do_store(struct sc_kstate *s, uint32_t a, uint32_t b)
{
    uint32_t old = s->slots[b & 63];
    s->slots[b & 63] = a;
    return old;
}

/* c must point into buf[0..63] and the b & 7 words from it too (what
 * copy_from_user's access_ok does, against the buffer). */
static inline uint32_t do_sum(struct sc_kstate *s, const uint32_t *buf, uint32_t a, uint32_t b, uint32_t c)
{
    uint32_t n = b & 7, lo = (uint32_t)buf, hi = (uint32_t)(buf + BUF_WORDS);
    if ((c & 3) || c < lo || c > hi || n > (hi - c) / 4) {
        s->efaults++;
        return (uint32_t)-EFAULT;
    }
    const uint32_t *p = (const uint32_t *)c;
    uint32_t sum = a;
    for (uint32_t k = 0; k < n; k++)
        sum = (sum << 5 | sum >> 27) + p[k];
    return sum;
}

/* ---- the kernel's call table ------------------------------------------------------ */

typedef uint32_t (*sc_fn)(uint32_t a, uint32_t b, uint32_t c, const struct sc_regs *r);

static uint32_t sys_ident(uint32_t a, uint32_t b, uint32_t c, const struct sc_regs *r)
{
    (void)a, (void)b, (void)c;
    return do_ident(&kst, r->cs, r->ss);
}

static uint32_t sys_add(uint32_t a, uint32_t b, uint32_t c, const struct sc_regs *r)
{
    (void)c, (void)r;
    return a + b;
}

static uint32_t sys_mix(uint32_t a, uint32_t b, uint32_t c, const struct sc_regs *r)
{
    (void)c, (void)r;
    return mm_mix(a ^ b);
}

static uint32_t sys_count(uint32_t a, uint32_t b, uint32_t c, const struct sc_regs *r)
{
    (void)b, (void)c, (void)r;
    return do_count(&kst, a);
}

static uint32_t sys_store(uint32_t a, uint32_t b, uint32_t c, const struct sc_regs *r)
{
    (void)c, (void)r;
    return do_store(&kst, a, b);
}

static uint32_t sys_load(uint32_t a, uint32_t b, uint32_t c, const struct sc_regs *r)
{
    (void)b, (void)c, (void)r;
    return kst.slots[(a >> 8) & 63];
}

static uint32_t sys_sum(uint32_t a, uint32_t b, uint32_t c, const struct sc_regs *r)
{
    (void)r;
    return do_sum(&kst, user_page.u.buf, a, b, c);
}

const sc_fn sc_table[SC_NR] = {sys_ident, sys_add, sys_mix, sys_count, sys_store, sys_load, sys_sum};

static const char *const call_names[SC_NR + 1] = {"ident", "add", "mix", "count", "store", "load", "sum", "enosys"};

/* ---- the model -------------------------------------------------------------------- */

static struct {
    struct sc_kstate k;
    uint32_t x, hash, count[SC_NR + 1], buf[BUF_WORDS];
} model;

static void buf_init(uint32_t *buf)
{
    for (uint32_t k = 0; k < BUF_WORDS; k++)
        buf[k] = mm_mix(0x100 + k);
}

static void run_model(uint32_t iters, uint32_t seed)
{
    kstate_init(&model.k);
    buf_init(model.buf);
    uint32_t x = seed, h = MM_FNV_INIT;
    for (uint32_t i = 0; i < iters; i++) {
        x = mm_lcg(x);
        uint32_t nr = x >> 29, c = (uint32_t)&model.buf[(x >> 23) & 63], r;
        model.count[nr]++;
        switch (nr) {
        case 0: r = do_ident(&model.k, SEL_UCODE, SEL_UDATA); break;
        case 1: r = x + i; break;
        case 2: r = mm_mix(x ^ i); break;
        case 3: r = do_count(&model.k, x); break;
        case 4: r = do_store(&model.k, x, i); break;
        case 5: r = model.k.slots[(x >> 8) & 63]; break;
        case 6: r = do_sum(&model.k, model.buf, x, i, c); break;
        default: r = (uint32_t)-ENOSYS; break;
        }
        h = (h ^ r) * FNV_PRIME;
        model.buf[i & 63] = h;
    }
    model.x = x;
    model.hash = h;
}

/* ---- one mode ------------------------------------------------------------------ */

static uint32_t run_mode(int sysenter, uint32_t iters, uint32_t seed)
{
    const char *name = sysenter ? "sysenter" : "int80";
    struct sc_uargs *u = &user_page.u;
    kstate_init(&kst);
    memset(sc_count, 0, sizeof sc_count);
    sc_bad_entry_stack = 0;
    memset(u, 0, sizeof *u);
    u->iters = iters;
    u->x = seed;
    u->hash = MM_FNV_INIT;
    buf_init(u->buf);

    sys_section(sysenter ? "SYSENTER / SYSEXIT" : "INT 0x80 / IRET");
    printf("-- begin timed loop\n");
    if (sc_irqs_on)
        pic_unmask(0);
    uint32_t h = sys_run_user(sysenter ? sc_user_loop_sysenter : sc_user_loop_int80, (uint32_t)u,
                              sc_irqs_on ? EFL_IF : 0);
    pic_mask(0);
    printf("-- end timed loop\n");
    if (sys_cmdline_has("show-ticks"))
        printf("(%u timer interrupts so far)\n", ticks);

    check_detail(sysenter ? "kernel entered with ESP = IA32_SYSENTER_ESP on every call"
                          : "kernel entered on TSS.SS0:ESP0 (trap gate, DPL 3) on every call",
                 sc_bad_entry_stack == 0, "%u calls on another stack", sc_bad_entry_stack);
    check_detail("EBX ECX EDX ESI EDI EBP preserved across every call", u->bad == 0, "%u calls changed them",
                 u->bad);
    check(u->i == iters && h == u->hash ? "every call made, the loop's hash returned" : "the loop ran",
          u->i == iters && h == u->hash);
    check(sysenter ? "back at CPL 3 after SYSEXIT: CS = IA32_SYSENTER_CS + 16 | 3, SS = + 24 | 3"
                   : "back at CPL 3 after IRET: CS and SS the user's",
          u->cs == SEL_UCODE && u->ss == SEL_UDATA);
    check_eq("return values (hash) agree with the model", h, model.hash);
    check_eq("  LCG state", u->x, model.x);
    check("  user buffer", memcmp(u->buf, model.buf, sizeof model.buf) == 0);
    check("  kernel state (counter, slots, -EFAULT count)",
          kst.counter == model.k.counter && kst.efaults == model.k.efaults &&
              memcmp(kst.slots, model.k.slots, sizeof kst.slots) == 0);
    check("  calls counted by number", memcmp(sc_count, model.count, sizeof sc_count) == 0);
    printf("%s:", name);
    for (int n = 0; n <= SC_NR; n++)
        printf(" %s %u", call_names[n], sc_count[n]);
    printf(", -EFAULT %u; checksum 0x%08x\n", kst.efaults, h);
    return h;
}

int guest_main(void)
{
    sys_init();
    mm_init(0x40000000u);

    uint32_t iters = mm_arg("iters", 5000);
    uint32_t seed = mm_arg("seed", 1);
    static const char *const modes[] = {"int80", "sysenter", "both"};
    int mode = mm_arg_choice("mode", modes, 3, 2);
    int do_int80 = mode != 1, do_sysenter = mode != 0;
    uint32_t timer_hz = mm_arg("timer", 0);
    if (timer_hz && (timer_hz < 19 || timer_hz > 100000))
        sys_fatal("timer=%u: 19..100000 Hz, or 0 (off)", timer_hz);
    printf("syscalls: %u calls per mode (%s), seed %u%s\n", iters,
           do_int80 && do_sysenter ? "INT 0x80 and SYSENTER" : do_int80 ? "INT 0x80" : "SYSENTER", seed,
           timer_hz ? ", timer interrupts on" : "");

    uint32_t a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    if (do_sysenter && !check("CPUID.1:EDX.SEP", (d >> 11) & 1))
        sys_finish();

    /* Identity map of RAM, supervisor-only but for ring 3's pages. */
    uint32_t *pd = mm_palloc(1);
    for (uint32_t p = 0; p < mm_top; p += 4096)
        *mm_pte(pd, p) = p | PTE_P | PTE_W;
    uint32_t user_ranges[3][2] = {
        {(uint32_t)sc_user_text, (uint32_t)sc_user_text_end},
        {(uint32_t)sys_ustack_top - SYS_USTACK_SIZE, (uint32_t)sys_ustack_top},
        {(uint32_t)&user_page, (uint32_t)&user_page + sizeof user_page},
    };
    for (int r = 0; r < 3; r++) {
        if ((user_ranges[r][0] | user_ranges[r][1]) & 0xfff)
            sys_fatal("user range 0x%x..0x%x is not page aligned", user_ranges[r][0], user_ranges[r][1]);
        for (uint32_t p = user_ranges[r][0]; p < user_ranges[r][1]; p += 4096)
            *mm_pte(pd, p) |= PTE_U;
    }
    pg_enable(pd);
    write_cr0(read_cr0() | CR0_WP);
    check("paging on, CR0.WP set; only the ring-3 code, stack and data are user pages",
          (read_cr0() & (CR0_PG | CR0_WP)) == (CR0_PG | CR0_WP));

    idt_set(VEC_SYSCALL, desc_gate(D_TYPE_TRAP32, SEL_KCODE, (uint32_t)sc_int80_entry, 3, 0));
    if (do_sysenter) {
        wrmsr(MSR_SYSENTER_CS, SEL_KCODE);
        wrmsr(MSR_SYSENTER_ESP, (uint32_t)sc_sysenter_stack_top);
        wrmsr(MSR_SYSENTER_EIP, (uint32_t)sc_sysenter_entry);
    }

    if (timer_hz) {
        /* IRQ0 from PIT channel 0 (mode 2): it interrupts ring 3 and the
         * calls, INT 0x80's through its trap gate, SYSENTER's after the
         * entry's STI.  Nothing printed depends on how many come. */
        sc_irqs_on = 1;
        sys_set_irq_handler(0, timer_irq);
        pit_set(0, 2, (uint16_t)(PIT_HZ / timer_hz));
    }
    run_model(iters, seed);
    uint32_t h80 = 0, hse = 0;
    if (do_int80)
        h80 = run_mode(0, iters, seed);
    if (do_sysenter)
        hse = run_mode(1, iters, seed);
    if (do_int80 && do_sysenter) {
        sys_section("both");
        check_eq("INT 0x80 and SYSENTER give the same results", hse, h80);
    }
    printf("checksum 0x%08x\n", model.hash);
    sys_finish();
}

/*
 * sys.h - a small ring-0 kernel library for system-architecture guests.
 *
 * Built on top of the guest runtime in tests/guests/lib (crt0.S, printf on
 * COM1, exit through isa-debug-exit), it gives a multiboot guest the pieces
 * of an IA-32 protected-mode kernel:
 *
 *   - a GDT with flat ring-0 and ring-3 code/data segments, a TSS, and free
 *     slots for more descriptors (call gates, task gates, LDTs, limited and
 *     expand-down segments), see gdt_* and desc_*;
 *   - the TSS of the main task: ESP0/SS0 for ring 3 -> ring 0 transitions and
 *     a full I/O permission bitmap (tss_io_allow);
 *   - an IDT whose 256 entries go through assembly stubs that push a uniform
 *     frame (struct sys_frame) and call a C handler, which may modify the
 *     frame (skip the faulting instruction, change EFLAGS, ...) before the
 *     stub returns through IRET;
 *   - "try" support: SYS_TRY arms a fix-up address; the next exception that
 *     has no handler of its own is recorded in sys_last and resumes there;
 *   - 8259A PIC and 8254 PIT helpers, paging helpers, entering ring 3 through
 *     IRET and coming back through INT (sys_run_user), inline-asm wrappers
 *     for system instructions;
 *   - PASS/FAIL reporting: check(), check_eq(), sys_finish().
 *
 * Fixed GDT layout (also what SYSENTER/SYSEXIT expect from IA32_SYSENTER_CS
 * = SEL_KCODE: SS = CS + 8, user CS = CS + 16, user SS = CS + 24):
 *
 *   0x00 null  0x08 kernel code  0x10 kernel data  0x18 user code (DPL 3)
 *   0x20 user data (DPL 3)  0x28 TSS of the main task  0x30.. free
 *
 * Typical use:
 *
 *   int guest_main(void) {
 *       sys_init();
 *       uint32_t at;
 *       sys_fault_reset();
 *       __asm__ volatile(SYS_TRY("2f") "movl $1f, %0\n1:\tud2\n2:" SYS_TRY_END
 *                        : "=&r"(at) : : "memory");
 *       check("ud2 raises #UD", sys_last.vector == 6 && sys_last.eip == at);
 *       sys_finish();
 *   }
 */
#ifndef SYSLIB_SYS_H
#define SYSLIB_SYS_H

#include <stdint.h>

#include "io.h"

/* ---- selectors ----------------------------------------------------------- */

#define SEL_NULL   0x00
#define SEL_KCODE  0x08
#define SEL_KDATA  0x10
#define SEL_UCODE  0x1b          /* index 3, RPL 3 */
#define SEL_UDATA  0x23          /* index 4, RPL 3 */
#define SEL_TSS    0x28
#define SEL(index, rpl) ((uint16_t)(((index) << 3) | (rpl)))
#define SEL_LDT_BIT 0x4          /* TI: the selector refers to the LDT */

#define GDT_ENTRIES     64
#define GDT_FIRST_FREE  6

/* Vectors the library sets up. */
#define VEC_IRQ_BASE    0x20     /* PIC master after pic_init: IRQ n -> 0x20 + n */
#define VEC_IRQ_SLAVE   0x28
#define VEC_SYSCALL     0x80     /* DPL 3, handler free for tests */
#define VEC_USER_EXIT   0x81     /* DPL 3, returns from sys_run_user */

/* ---- descriptors ---------------------------------------------------------- */

/* Access byte (bits 40..47 of a descriptor). */
#define D_P           0x80
#define D_DPL(n)      ((n) << 5)
#define D_S           0x10      /* code or data (clear: system) */
#define D_CODE        0x08
#define D_CONFORMING  0x04      /* code */
#define D_READ        0x02      /* code: readable */
#define D_EXPDOWN     0x04      /* data: expand-down */
#define D_WRITE       0x02      /* data: writable */
#define D_ACCESSED    0x01
/* Common combinations (present, S set). */
#define D_DATA_RW     (D_P | D_S | D_WRITE)
#define D_DATA_RO     (D_P | D_S)
#define D_DATA_RW_DOWN (D_P | D_S | D_WRITE | D_EXPDOWN)
#define D_CODE_XR     (D_P | D_S | D_CODE | D_READ)
#define D_CODE_XO     (D_P | D_S | D_CODE)
/* System descriptor types (S clear). */
#define D_TYPE_TSS16      0x1
#define D_TYPE_LDT        0x2
#define D_TYPE_TSS16_BUSY 0x3
#define D_TYPE_CALL16     0x4
#define D_TYPE_TASK       0x5
#define D_TYPE_INT16      0x6
#define D_TYPE_TRAP16     0x7
#define D_TYPE_TSS32      0x9
#define D_TYPE_TSS32_BUSY 0xb
#define D_TYPE_CALL32     0xc
#define D_TYPE_INT32      0xe
#define D_TYPE_TRAP32     0xf
/* Flags nibble (bits 52..55). */
#define D_G   0x8               /* limit in 4 KiB units */
#define D_DB  0x4               /* 32-bit code / big data (ESP, upper bound 4G) */
#define D_AVL 0x1

/* A code/data or system segment descriptor: 20-bit raw limit, access byte,
 * flags nibble. */
static inline uint64_t desc_seg(uint32_t base, uint32_t limit, unsigned access, unsigned flags)
{
    uint64_t d = (limit & 0xffffu) | ((uint64_t)(base & 0xffffffu) << 16);
    d |= (uint64_t)(access & 0xff) << 40;
    d |= (uint64_t)((limit >> 16) & 0xf) << 48;
    d |= (uint64_t)(flags & 0xf) << 52;
    d |= (uint64_t)(base >> 24) << 56;
    return d;
}

/* A gate (call, interrupt, trap: selector:offset; task: selector only).
 * params: call gates only, the number of stack entries copied (0..31). */
static inline uint64_t desc_gate(unsigned type, uint16_t sel, uint32_t offset, unsigned dpl, unsigned params)
{
    uint64_t d = (offset & 0xffffu) | ((uint64_t)sel << 16);
    d |= (uint64_t)(params & 0x1f) << 32;
    d |= (uint64_t)(D_P | D_DPL(dpl) | (type & 0xf)) << 40;
    d |= (uint64_t)(offset >> 16) << 48;
    return d;
}

static inline uint64_t desc_tss(const void *tss, uint32_t limit, unsigned dpl)
{
    return desc_seg((uint32_t)tss, limit, D_P | D_DPL(dpl) | D_TYPE_TSS32, 0);
}

static inline uint64_t desc_ldt(const void *ldt, uint32_t limit)
{
    return desc_seg((uint32_t)ldt, limit, D_P | D_TYPE_LDT, 0);
}

extern uint64_t sys_gdt[GDT_ENTRIES];

void gdt_set(int index, uint64_t desc);
uint64_t gdt_get(int index);
/* The next free GDT index (from GDT_FIRST_FREE on); stops the program with a
 * FAIL line when the table is full. */
int gdt_alloc(void);
/* Convenience wrappers: install at a freshly allocated index and return the
 * selector (RPL = DPL for segments, RPL 0 for system descriptors). */
uint16_t gdt_add_segment(uint32_t base, uint32_t limit, unsigned access, unsigned flags);
uint16_t gdt_add_call_gate(uint16_t target_sel, void *target, unsigned dpl, unsigned params);
uint16_t gdt_add_task_gate(uint16_t tss_sel, unsigned dpl);
uint16_t gdt_add_tss(const void *tss, uint32_t limit, unsigned dpl);
uint16_t gdt_add_ldt(const void *ldt, uint32_t limit);
/* Clears the busy bit of a TSS descriptor (to LTR it again, or to switch to
 * it with a JMP/CALL after it was left busy). */
void gdt_tss_clear_busy(uint16_t sel);

/* ---- TSS ------------------------------------------------------------------ */

struct tss32 {
    uint16_t link, _r0;
    uint32_t esp0;
    uint16_t ss0, _r1;
    uint32_t esp1;
    uint16_t ss1, _r2;
    uint32_t esp2;
    uint16_t ss2, _r3;
    uint32_t cr3, eip, eflags;
    uint32_t eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint16_t es, _r4, cs, _r5, ss, _r6, ds, _r7, fs, _r8, gs, _r9;
    uint16_t ldt, _r10;
    uint16_t trap, iomap_base;
} __attribute__((packed));

/* The main task's TSS with an I/O permission bitmap covering all 65536
 * ports plus the terminating all-ones byte.  The descriptor's limit is
 * TSS_IOMAP_LIMIT, so every port is covered by the bitmap. */
struct sys_tss {
    struct tss32 t;
    uint8_t iomap[8192 + 1];
} __attribute__((packed));
#define TSS_IOMAP_LIMIT (sizeof(struct tss32) + 8192)

extern struct sys_tss sys_tss;
/* Top of the ring-0 stack loaded from TSS.ESP0 on entry from ring 3. */
extern uint8_t sys_kstack_top[];

/* Allows (1) or denies (0) a port at CPL > IOPL; initially all denied. */
void tss_io_allow(uint16_t port, int allow);
/* Puts the I/O bitmap in (1) or out of (0) the TSS limit (iomap_base
 * beyond the limit: every port denied at CPL > IOPL). */
void tss_iomap_enable(int enable);
/* Prepares a TSS for a task that starts at entry with its own ring-0 stack:
 * flat kernel segments, the current CR3, EFLAGS = 2 (interrupts off). */
void tss_init_task(struct tss32 *t, void (*entry)(void), void *stack_top);

/* ---- IDT and interrupt frames --------------------------------------------- */

/* What the stubs push, from the lowest address: the handler gets a pointer
 * to it.  esp/ss are only there when the interrupt came from an outer ring
 * ((cs & 3) != 0); error is 0 for vectors where the CPU pushes none.
 * Everything except esp_pusha is reloaded on return (segment registers,
 * GPRs, then IRET pops eip/cs/eflags[/esp/ss]). */
struct sys_frame {
    uint32_t gs, fs, es, ds;
    uint32_t edi, esi, ebp, esp_pusha, ebx, edx, ecx, eax;
    uint32_t vector, error;
    uint32_t eip, cs, eflags;
    uint32_t esp, ss;
};

typedef void (*sys_handler_t)(struct sys_frame *f);

extern uint64_t sys_idt[256];
/* Entry point of the stub for vector v (for custom gates). */
uint32_t sys_isr_stub(unsigned vector);

void sys_set_handler(unsigned vector, sys_handler_t h);
static inline void sys_set_irq_handler(unsigned irq, sys_handler_t h)
{
    sys_set_handler(VEC_IRQ_BASE + irq, h);
}
/* Re-points vector v at its stub with the given gate type (D_TYPE_INT32 or
 * D_TYPE_TRAP32) and DPL. */
void idt_set_gate(unsigned vector, unsigned type, unsigned dpl);
void idt_set(unsigned vector, uint64_t desc);
uint64_t idt_get(unsigned vector);

/* The last exception or interrupt taken (all vectors), recorded before any
 * handler runs.  cr2 is read for vector 14 only. */
struct sys_fault {
    int vector;                 /* -1: none since sys_fault_reset() */
    uint32_t error, eip, cs, eflags, cr2;
    uint32_t esp, ss;           /* from the frame when it came from ring 3 */
    int count;                  /* exceptions/interrupts since the reset */
};
extern volatile struct sys_fault sys_last;
extern volatile uint32_t sys_vector_count[256];
void sys_fault_reset(void);

/* Fix-up address for the next unhandled exception (vectors 0..31 without a
 * handler): the exception is recorded, EIP becomes the fix-up, the fix-up is
 * disarmed.  Use in inline asm: SYS_TRY("2f") <insns> "2:" SYS_TRY_END. */
extern volatile uint32_t sys_fixup;
#define SYS_TRY(label) "movl $" label ", sys_fixup\n\t"
#define SYS_TRY_END "\n\tmovl $0, sys_fixup\n\t"

/* ---- ring 3 --------------------------------------------------------------- */

/* Runs fn(arg) at CPL 3 (CS = SEL_UCODE, SS = DS = ES = FS = GS = SEL_UDATA,
 * ESP = top of a 16 KiB user stack, EFLAGS = eflags | 2) entered through
 * IRET; when fn returns, INT VEC_USER_EXIT brings the CPU back here and its
 * return value is returned.  The kernel's callee-saved registers and EFLAGS
 * are restored.  fn must not print unless IOPL = 3. */
uint32_t sys_run_user(uint32_t (*fn)(uint32_t), uint32_t arg, uint32_t eflags);
/* The user stack is the 4 pages below sys_ustack_top (page aligned, shared
 * with nothing else), the ring-0 stack of TSS.ESP0 the 4 below
 * sys_kstack_top. */
#define SYS_USTACK_SIZE 16384u
extern uint8_t sys_ustack_top[];
/* Ring-3 code: ends the sys_run_user call with return value v. */
void sys_user_exit(uint32_t v) __attribute__((noreturn));

/* ---- 8259A PIC ------------------------------------------------------------ */

#define PIC1_CMD  0x20
#define PIC1_DATA 0x21
#define PIC2_CMD  0xa0
#define PIC2_DATA 0xa1

/* ICW1..ICW4: edge triggered, cascade on IRQ2, 8086 mode, normal EOI;
 * vectors base1..base1+7 and base2..base2+7; all IRQs masked afterwards. */
void pic_init(uint8_t base1, uint8_t base2);
/* Bit n of the mask is IRQ n (0..15); a set bit masks the IRQ. */
void pic_set_mask(uint16_t mask);
uint16_t pic_get_mask(void);
void pic_mask(unsigned irq);
void pic_unmask(unsigned irq);
/* Non-specific EOI (to the slave and the master for IRQ 8..15). */
void pic_eoi(unsigned irq);
/* Specific EOI for exactly that IRQ (slave IRQs: the slave's level and the
 * cascade level 2 on the master). */
void pic_eoi_specific(unsigned irq);
uint16_t pic_read_irr(void);
uint16_t pic_read_isr(void);

/* ---- 8254 PIT ------------------------------------------------------------- */

#define PIT_CH0  0x40
#define PIT_CMD  0x43
#define PIT_HZ   1193182u
/* Programs channel ch (0..2) in mode 0..5, binary, low byte then high byte;
 * count 0 means 65536. */
void pit_set(unsigned ch, unsigned mode, uint16_t count);
/* Latches and reads the current count of channel ch. */
uint16_t pit_read_count(unsigned ch);
/* Read-back command: the status byte of channel ch (bit 7 = OUT, bit 6 =
 * null count, bits 5..0 = the control word's access/mode/BCD). */
uint8_t pit_read_status(unsigned ch);
/* Channel 2 gate (port 0x61 bit 0) and speaker (bit 1, kept off). */
void pit_ch2_gate(int on);
int pit_ch2_out(void);

/* ---- paging ----------------------------------------------------------------- */

#define PTE_P   0x001
#define PTE_W   0x002
#define PTE_U   0x004
#define PTE_PWT 0x008
#define PTE_PCD 0x010
#define PTE_A   0x020
#define PTE_D   0x040
#define PTE_PS  0x080           /* in a PDE: 4 MiB page (needs CR4.PSE) */
#define PTE_G   0x100

#define CR0_PE  0x00000001u
#define CR0_MP  0x00000002u
#define CR0_EM  0x00000004u
#define CR0_TS  0x00000008u
#define CR0_ET  0x00000010u
#define CR0_NE  0x00000020u
#define CR0_WP  0x00010000u
#define CR0_AM  0x00040000u
#define CR0_NW  0x20000000u
#define CR0_CD  0x40000000u
#define CR0_PG  0x80000000u
#define CR4_VME 0x001u
#define CR4_PVI 0x002u
#define CR4_TSD 0x004u
#define CR4_DE  0x008u
#define CR4_PSE 0x010u
#define CR4_PAE 0x020u
#define CR4_PGE 0x080u
#define CR4_OSFXSR 0x200u
#define CR4_OSXMMEXCPT 0x400u

#define EFL_CF   0x00000001u
#define EFL_FIXED 0x00000002u
#define EFL_ZF   0x00000040u
#define EFL_TF   0x00000100u
#define EFL_IF   0x00000200u
#define EFL_DF   0x00000400u
#define EFL_OF   0x00000800u
#define EFL_IOPL(n) ((uint32_t)(n) << 12)
#define EFL_IOPL_MASK 0x00003000u
#define EFL_NT   0x00004000u
#define EFL_RF   0x00010000u
#define EFL_VM   0x00020000u
#define EFL_AC   0x00040000u
#define EFL_ID   0x00200000u

/* A zeroed, 4 KiB aligned page from a static pool (for page directories,
 * page tables, test data). */
void *pg_alloc(void);
uint32_t *pg_new_dir(void);
/* Maps the 4 KiB page at va to pa; a missing page table is allocated and
 * its PDE gets P|W|U (the PTE's flags decide).  Does not flush the TLB. */
void pg_map(uint32_t *pd, uint32_t va, uint32_t pa, uint32_t flags);
/* A 4 MiB page (PDE with PS); va and pa 4 MiB aligned. */
void pg_map_large(uint32_t *pd, uint32_t va, uint32_t pa, uint32_t flags);
void pg_unmap(uint32_t *pd, uint32_t va);
/* The PTE of va (4 KiB mappings), or 0 when there is no page table. */
uint32_t *pg_pte(uint32_t *pd, uint32_t va);
/* Identity-maps [start, end) with 4 KiB pages. */
void pg_identity_map(uint32_t *pd, uint32_t start, uint32_t end, uint32_t flags);
/* A directory that identity-maps the first `bytes` of memory with 4 KiB
 * pages, P|W|U (so that ring-3 tests keep working). */
uint32_t *pg_identity_dir(uint32_t bytes);
/* Loads CR3 and sets CR0.PG; pg_disable clears CR0.PG. */
void pg_enable(uint32_t *pd);
void pg_disable(void);

/* ---- command line and reporting --------------------------------------------- */

void sys_init(void);
/* The multiboot command line (QEMU passes "<kernel path> <-append text>",
 * vmm the -append text); sys_cmdline_has looks for a space-separated word. */
const char *sys_cmdline(void);
int sys_cmdline_has(const char *word);

/* "PASS name" / "FAIL name"; returns cond. */
int check(const char *name, int cond);
/* "FAIL name (got 0x.., expected 0x..)" on mismatch. */
int check_eq(const char *name, uint32_t got, uint32_t expected);
/* FAIL line with printf-style details in parentheses. */
int check_detail(const char *name, int cond, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Checks that exactly one exception was taken since sys_fault_reset() and
 * that it had this vector, error code and (unless where is 0) saved EIP:
 * "PASS name: vector V, error 0xE, EIP <where>". */
int check_fault(const char *name, int vector, uint32_t error, uint32_t eip, const char *where);
/* "SKIP name (reason)"; neither pass nor fail. */
void check_skip(const char *name, const char *reason);
/* "== title" */
void sys_section(const char *title);
extern int sys_passed, sys_failed;
/* Prints "SUMMARY: <p> passed, <f> failed" and exits: isa-debug-exit value 0
 * (status 1) when nothing failed, else value 1 (status 3). */
__attribute__((noreturn)) void sys_finish(void);
/* For fatal errors: prints "FAIL <msg>", the summary and exits with 1. */
__attribute__((noreturn, format(printf, 1, 2))) void sys_fatal(const char *fmt, ...);

/* ---- inline wrappers ------------------------------------------------------- */

struct __attribute__((packed)) sys_dtr {
    uint16_t limit;
    uint32_t base;
};

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void hlt(void) { __asm__ volatile("hlt" ::: "memory"); }
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline void pause_(void) { __asm__ volatile("pause"); }

static inline void outw(uint16_t port, uint16_t v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
/* A write to an unused port, the classic ISA delay. */
static inline void io_wait(void) { outb(0x80, 0); }

static inline void lgdt(const struct sys_dtr *d) { __asm__ volatile("lgdt %0" : : "m"(*d) : "memory"); }
static inline void lidt(const struct sys_dtr *d) { __asm__ volatile("lidt %0" : : "m"(*d) : "memory"); }
static inline void sgdt(struct sys_dtr *d) { __asm__ volatile("sgdt %0" : "=m"(*d)); }
static inline void sidt(struct sys_dtr *d) { __asm__ volatile("sidt %0" : "=m"(*d)); }
static inline void ltr(uint16_t sel) { __asm__ volatile("ltr %0" : : "rm"(sel) : "memory"); }
static inline void lldt(uint16_t sel) { __asm__ volatile("lldt %0" : : "rm"(sel) : "memory"); }
static inline uint16_t str_(void)
{
    uint16_t s;
    __asm__ volatile("str %0" : "=rm"(s));
    return s;
}
static inline uint16_t sldt(void)
{
    uint16_t s;
    __asm__ volatile("sldt %0" : "=rm"(s));
    return s;
}

#define SYS_CR_ACCESSORS(n)                                                   \
    static inline uint32_t read_cr##n(void)                                   \
    {                                                                         \
        uint32_t v;                                                           \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                     \
        return v;                                                             \
    }                                                                         \
    static inline void write_cr##n(uint32_t v)                                \
    {                                                                         \
        __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory");            \
    }
SYS_CR_ACCESSORS(0)
SYS_CR_ACCESSORS(2)
SYS_CR_ACCESSORS(3)
SYS_CR_ACCESSORS(4)
#undef SYS_CR_ACCESSORS

#define SYS_DR_ACCESSORS(n)                                                   \
    static inline uint32_t read_dr##n(void)                                   \
    {                                                                         \
        uint32_t v;                                                           \
        __asm__ volatile("mov %%db" #n ", %0" : "=r"(v));                     \
        return v;                                                             \
    }                                                                         \
    static inline void write_dr##n(uint32_t v)                                \
    {                                                                         \
        __asm__ volatile("mov %0, %%db" #n : : "r"(v) : "memory");            \
    }
SYS_DR_ACCESSORS(0)
SYS_DR_ACCESSORS(1)
SYS_DR_ACCESSORS(2)
SYS_DR_ACCESSORS(3)
SYS_DR_ACCESSORS(6)
SYS_DR_ACCESSORS(7)
#undef SYS_DR_ACCESSORS

static inline uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}
static inline void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)) : "memory");
}
static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}
static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}
static inline void invlpg(uint32_t va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }

static inline uint32_t read_eflags(void)
{
    uint32_t v;
    __asm__ volatile("pushfl; popl %0" : "=r"(v));
    return v;
}
static inline void write_eflags(uint32_t v) { __asm__ volatile("pushl %0; popfl" : : "r"(v) : "memory", "cc"); }

#define SYS_SEG_ACCESSORS(s)                                                  \
    static inline uint16_t read_##s(void)                                     \
    {                                                                         \
        uint32_t v;                                                           \
        __asm__ volatile("movl %%" #s ", %0" : "=r"(v));                      \
        return (uint16_t)v;                                                   \
    }                                                                         \
    static inline void write_##s(uint16_t v)                                  \
    {                                                                         \
        __asm__ volatile("movw %0, %%" #s : : "r"(v) : "memory");             \
    }
SYS_SEG_ACCESSORS(ds)
SYS_SEG_ACCESSORS(es)
SYS_SEG_ACCESSORS(fs)
SYS_SEG_ACCESSORS(gs)
SYS_SEG_ACCESSORS(ss)
#undef SYS_SEG_ACCESSORS
static inline uint16_t read_cs(void)
{
    uint32_t v;
    __asm__ volatile("movl %%cs, %0" : "=r"(v));
    return (uint16_t)v;
}

/* MSR numbers. */
#define MSR_TSC            0x010
#define MSR_APIC_BASE      0x01b
#define MSR_SYSENTER_CS    0x174
#define MSR_SYSENTER_ESP   0x175
#define MSR_SYSENTER_EIP   0x176

#endif /* SYSLIB_SYS_H */

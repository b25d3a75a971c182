/*
 * exception_loop - exceptions in tight loops: 200,000 #GP (a segment load
 * beyond the GDT limit), 100,000 #UD (UD2), 100,000 #PF (a read of a
 * not-present page), 100,000 #BP (INT3, a trap) and 100,000 #DE, each
 * handler skipping the faulting instruction.  Every count must be exact;
 * the runner bounds the time (the JIT leaves translated code for every
 * exception and must not be much slower than the interpreter at it).
 */
#include "hostile.h"

static volatile uint32_t count;
uint32_t resume_at;

static void skip_handler(struct sys_frame *f)
{
    count++;
    if (f->vector != 3)             /* faults: resume after the instruction */
        f->eip = resume_at;
}

static void loop(const char *name, unsigned vector, uint32_t n)
{
    count = 0;
    sys_set_handler(vector, skip_handler);
    for (uint32_t i = 0; i < n; i++) {
        switch (vector) {
#define AT "movl $2f, resume_at\n\t"
        case 13: __asm__ volatile(AT "movw %w0, %%fs\n2:" : : "r"(0x1234) : "memory"); break;
        case 6: __asm__ volatile(AT "ud2\n2:" ::: "memory"); break;
        case 14: __asm__ volatile(AT "movl 0x40000000, %%eax\n2:" ::: "eax", "memory"); break;
        case 3: __asm__ volatile("int3" ::: "memory"); break;
        case 0: __asm__ volatile(AT "divl %%ecx\n2:" : : "a"(1), "d"(0), "c"(0) : "memory", "cc"); break;
#undef AT
        }
    }
    sys_set_handler(vector, catch_handler);
    printf("%s: %u of %u exceptions taken\n", name, count, n);
}

int guest_main(void)
{
    sys_init();
    catch_all();
    write_fs(SEL_KDATA);
    loop("#GP (mov fs, 0x1234)", 13, 200000);
    printf("fs after the loop: 0x%x\n", read_fs());
    loop("#UD (ud2)", 6, 100000);
    uint32_t *pd = pg_identity_dir(16u << 20);
    pg_enable(pd);
    loop("#PF (read of a not-present page)", 14, 100000);
    pg_disable();
    loop("#BP (int3)", 3, 100000);
    loop("#DE (div by zero)", 0, 100000);
    host_done();
}

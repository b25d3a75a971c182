/*
 * hostile.c - the exception catcher shared by the hostile guests.
 */
#include "hostile.h"

volatile struct caught_frame caught;
volatile uint32_t catch_resume;

void catch_reset(void)
{
    caught.vector = -1;
    caught.count = 0;
    caught.error = caught.eip = caught.cs = caught.eflags = caught.cr2 = 0;
    caught.eax = caught.ecx = caught.edx = caught.ebx = 0;
    caught.esi = caught.edi = caught.ebp = 0;
    catch_resume = 0;
}

void catch_handler(struct sys_frame *f)
{
    caught.vector = (int)f->vector;
    caught.count++;
    caught.error = f->error;
    caught.eip = f->eip;
    caught.cs = f->cs & 0xffff;
    caught.eflags = f->eflags;
    caught.cr2 = f->vector == 14 ? read_cr2() : 0;
    caught.eax = f->eax;
    caught.ecx = f->ecx;
    caught.edx = f->edx;
    caught.ebx = f->ebx;
    caught.esi = f->esi;
    caught.edi = f->edi;
    caught.ebp = f->ebp;
    if (catch_resume) {
        f->eip = catch_resume;
        catch_resume = 0;
        return;
    }
    sys_fatal("unexpected exception %u error 0x%x at %04x:%08x", f->vector, f->error,
              f->cs & 0xffff, f->eip);
}

void catch_all(void)
{
    for (unsigned v = 0; v < 32; v++)
        sys_set_handler(v, catch_handler);
    catch_reset();
}

void print_caught_at(const char *name, uint32_t at, uint32_t cr2_at)
{
    if (caught.vector < 0) {
        printf("%s: no exception\n", name);
        return;
    }
    printf("%s: vector %d error 0x%x", name, caught.vector, caught.error);
    if (at && caught.eip == at)
        printf(" eip =at");
    else
        printf(" eip 0x%08x", caught.eip);
    if (caught.vector == 14) {
        if (cr2_at && caught.cr2 == cr2_at)
            printf(" cr2 =cr2");
        else
            printf(" cr2 0x%08x", caught.cr2);
    }
    printf("\n");
}

/*
 * weird_jumps - control transfers to places no compiler would go:
 *   - into the middle of an instruction (B8 41 C3 ..: MOV EAX, imm32 from
 *     offset 0, INC ECX; RET from offset 1), alternating 1000 times so that
 *     overlapping translations of the same bytes coexist;
 *   - to the last byte of a page (RET), to a 1/4 split MOV EAX, imm32 across
 *     a page boundary, into a page of NOPs at garbage offsets;
 *   - to garbage addresses outside RAM (paging off: #UD, vmm's answer for a
 *     fetch outside RAM), RET to garbage, a far JMP through a garbage
 *     selector (#GP(selector));
 *   - with paging: to an unmapped page (#PF, error 0, CR2 = EIP = target),
 *     RET to garbage (#PF), to a supervisor page from ring 3 (#PF, error 5).
 */
#include "hostile.h"

static uint8_t code[3 * 4096] __attribute__((aligned(4096)));

static void jump_expect(const char *name, uint32_t target)
{
    catch_reset();
    uint32_t eax = 0x1111;
    __asm__ volatile(HTRY("2f") "jmp *%1\n2:" HTRY_END : "+a"(eax) : "r"(target) : "memory", "cc");
    print_caught(name);
}

static void ret_expect(const char *name, uint32_t target)
{
    catch_reset();
    uint32_t esp_before, esp_after;
    __asm__ volatile("movl %%esp, %0\n\t" HTRY("2f") "pushl %2\n\tret\n2:\t" HTRY_END "movl %%esp, %1"
                     : "=&r"(esp_before), "=&r"(esp_after) : "r"(target) : "memory", "cc");
    print_caught(name);
    printf("  esp after the RET: %s\n", esp_after == esp_before ? "popped" : "not popped");
}

static uint32_t user_target;
static uint32_t user_jump(uint32_t arg)
{
    (void)arg;
    __asm__ volatile("jmp *%0" : : "r"(user_target));
    return 0;
}

static void user_fault(struct sys_frame *f)
{
    catch_resume = f->eip;      /* record only; ring 3 is left below */
    catch_handler(f);
    if ((f->cs & 3) == 3)
        sys_user_exit(0xfa);
}

int guest_main(void)
{
    sys_init();
    catch_all();
    uint32_t c = (uint32_t)code;

    printf("== into the middle of an instruction\n");
    static const uint8_t mid[] = {0xb8, 0x41, 0xc3, 0xcc, 0xcc, 0xc3};
    memcpy(code, mid, sizeof mid);
    uint32_t sum = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        uint32_t off = i & 1;
        uint32_t r = call_code(c + off, 7, i);
        sum = digest(sum, r);
    }
    printf("offset 0: eax 0x%08x; offset 1: eax 0x%08x (inc ecx, eax kept)\n",
           call_code(c, 7, 5), call_code(c + 1, 7, 5));
    printf("1000 alternating calls: digest 0x%08x\n", sum);

    printf("== page edges\n");
    code[4095] = 0xc3;
    printf("ret on the last byte of a page: eax 0x%08x\n", call_code(c + 4095, 0x77, 0));
    static const uint8_t split[] = {0xb8, 0x44, 0x33, 0x22, 0x11, 0xc3};
    memcpy(code + 4096 - 1, split, sizeof split);
    printf("mov eax, imm32 split 1/4 across pages: eax 0x%08x\n", call_code(c + 4095, 0, 0));
    memcpy(code + 4096 - 4, split, sizeof split);
    printf("mov eax, imm32 split 4/1 across pages: eax 0x%08x\n", call_code(c + 4092, 0, 0));
    memset(code + 8192, 0x40, 4095);            /* INC EAX x 4095, RET */
    code[8192 + 4095] = 0xc3;
    uint32_t seed = 12345, total = 0;
    for (int i = 0; i < 2000; i++) {
        uint32_t off = rng_next(&seed) & 0xfff;
        total += call_code(c + 8192 + off, 0, 0);
    }
    printf("2000 calls into an INC sled at garbage offsets: sum %u\n", total);

    printf("== garbage targets, paging off\n");
    jump_expect("jmp 0xdeadbeef", 0xdeadbeefu);
    jump_expect("jmp 0xfffffff0", 0xfffffff0u);
    jump_expect("jmp 0xffffffff", 0xffffffffu);
    ret_expect("ret to 0xcafebabe", 0xcafebabeu);
    seed = 777;
    int ud = 0;
    for (int i = 0; i < 1000; i++) {
        uint32_t t = rng_next(&seed) | 0x80000000u;
        catch_reset();
        __asm__ volatile(HTRY("2f") "jmp *%0\n2:" HTRY_END : : "r"(t) : "memory", "cc");
        ud += caught.vector == 6 && caught.eip == t;
    }
    printf("1000 jumps to garbage above 2 GiB: %d raised #UD at the target\n", ud);
    catch_reset();
    uint32_t at;
    __asm__ volatile("movl $1f, %0\n\t" HTRY("2f") "1:\tljmp $0x1234, $0\n2:" HTRY_END : "=&r"(at) : : "memory");
    print_caught_at("ljmp 0x1234:0", at, 0);
    catch_reset();
    __asm__ volatile("movl $1f, %0\n\t" HTRY("2f") "1:\tljmp $0x10, $0\n2:" HTRY_END : "=&r"(at) : : "memory");
    print_caught_at("ljmp to the data segment", at, 0);

    printf("== paging on\n");
    uint32_t *pd = pg_new_dir();
    pg_identity_map(pd, 0, 16u << 20, PTE_P | PTE_W);   /* supervisor only */
    pg_map(pd, 0x30000000u, c, PTE_P | PTE_W | PTE_U);
    pg_enable(pd);
    jump_expect("jmp unmapped 0x50000000", 0x50000000u);
    jump_expect("jmp unmapped 0x50000ffc", 0x50000ffcu);
    ret_expect("ret to unmapped 0x7ffffff0", 0x7ffffff0u);
    /* Identity map of the kernel stays supervisor-only; only sys_run_user's
     * pieces are user pages. */
    pg_identity_map(pd, (uint32_t)sys_ustack_top - 16384, (uint32_t)sys_ustack_top, PTE_P | PTE_W | PTE_U);
    pg_identity_map(pd, (uint32_t)user_jump & ~0xfffu, ((uint32_t)user_jump & ~0xfffu) + 8192,
                    PTE_P | PTE_U);
    extern char sys_user_return[];
    pg_identity_map(pd, (uint32_t)sys_user_return & ~0xfffu, ((uint32_t)sys_user_return & ~0xfffu) + 4096,
                    PTE_P | PTE_U);
    pg_identity_map(pd, (uint32_t)&user_target & ~0xfffu, ((uint32_t)&user_target & ~0xfffu) + 4096,
                    PTE_P | PTE_U);
    write_cr3((uint32_t)pd);
    sys_set_handler(14, user_fault);
    catch_reset();
    user_target = 0x00300000u;                  /* RAM, supervisor only */
    uint32_t r = sys_run_user(user_jump, 0, 0);
    printf("ring 3 jmp to a supervisor page: returned 0x%x, ", r);
    print_caught_at("fault", user_target, user_target);
    catch_reset();
    user_target = 0x30000000u + 4095;            /* 22 ..: AND r8, r/m8 into the next page */
    r = sys_run_user(user_jump, 0, 0);
    printf("ring 3 jmp to an instruction crossing into an unmapped page: returned 0x%x, ", r);
    print_caught("fault");
    code[4095] = 0xc3;
    catch_reset();
    r = sys_run_user(user_jump, 0, 0);
    printf("ring 3 jmp to a RET on a user page's last byte: returned 0x%x, ", r);
    print_caught("exceptions");
    sys_set_handler(14, catch_handler);
    pg_disable();
    host_done();
}

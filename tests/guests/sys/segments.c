/*
 * segments.c - protected-mode segmentation (SDM Vol. 3A, chapter 3 and 5.3
 * "Limit Checking", 5.4 "Type Checking"; LAR, LSL, VERR, VERW, ARPL, LLDT in
 * Vol. 2):
 *
 *   - segment bases (GDT and LDT data segments), the accessed bit the CPU
 *     sets on a segment load;
 *   - LAR/LSL/VERR/VERW results (ZF and the value) for code, data, system
 *     descriptors and gates, at CPL 0 and CPL 3; ARPL;
 *   - a null selector is loadable into DS; LDT segments through LLDT;
 *   - vmm-only (QEMU's TCG checks neither): the CS limit on code fetch and
 *     on near branch targets: code in a
 *     small code segment whose instruction runs past the limit, whose
 *     execution falls through past it, or whose JMP, CALL, Jcc, LOOP or RET
 *     goes beyond it raises #GP(0) at that instruction; the same code under
 *     a larger limit runs (decoded code is not reused across limits);
 *   - vmm-only (QEMU's TCG does not check limits or types on data
 *     accesses): expand-up and expand-down limits (16-bit and big), the
 *     granularity bit, writes to read-only segments and accesses through
 *     a null DS raise #GP(0).
 */
#include "sys.h"

static uint8_t seg_data[8192] __attribute__((aligned(4096)));

/* LAR's defined bits (bits 19:16 are undefined), without the accessed bit,
 * which depends on whether the segment has been loaded. */
#define RIGHTS 0x00f0fe00u

static uint32_t lar(uint16_t sel, int *zf)
{
    uint32_t v = 0xdeadbeef;
    uint8_t z;
    __asm__ volatile("larl %2, %0\n\tsetz %1" : "+r"(v), "=q"(z) : "r"((uint32_t)sel) : "cc");
    *zf = z;
    return v;
}

static uint32_t lsl(uint16_t sel, int *zf)
{
    uint32_t v = 0xdeadbeef;
    uint8_t z;
    __asm__ volatile("lsll %2, %0\n\tsetz %1" : "+r"(v), "=q"(z) : "r"((uint32_t)sel) : "cc");
    *zf = z;
    return v;
}

static int verr(uint16_t sel)
{
    uint8_t z;
    __asm__ volatile("verr %1\n\tsetz %0" : "=q"(z) : "r"(sel) : "cc");
    return z;
}

static int verw(uint16_t sel)
{
    uint8_t z;
    __asm__ volatile("verw %1\n\tsetz %0" : "=q"(z) : "r"(sel) : "cc");
    return z;
}

/* ---- bases and loads ------------------------------------------------------------ */

static void test_bases(void)
{
    sys_section("segment bases and loads");
    for (unsigned i = 0; i < sizeof seg_data; i++)
        seg_data[i] = (uint8_t)(i * 7 + 3);

    /* Byte granular, base = seg_data + 0x100, accessed bit clear. */
    uint16_t sel = gdt_add_segment((uint32_t)seg_data + 0x100, 0xfff, D_DATA_RW, D_DB);
    check("descriptor starts with the accessed bit clear", !((gdt_get(sel >> 3) >> 40) & D_ACCESSED));
    uint32_t v;
    __asm__ volatile("movw %1, %%fs\n\t"
                     "movl %%fs:0x10, %0"
                     : "=r"(v) : "r"(sel) : "memory");
    check_eq("FS-relative load adds the segment base", v, *(uint32_t *)(seg_data + 0x110));
    check("loading FS set the accessed bit in the GDT", (gdt_get(sel >> 3) >> 40) & D_ACCESSED);
    __asm__ volatile("movl $0x11223344, %%fs:0x20" : : : "memory");
    check_eq("FS-relative store adds the segment base", *(uint32_t *)(seg_data + 0x120), 0x11223344);
    check_eq("MOV r32, FS reads the selector", read_fs(), sel);

    /* A null selector: loadable into DS/ES/FS/GS at any CPL. */
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "xorl %%eax, %%eax\n\t"
                     "movw %%ax, %%gs\n\t"
                     "movl $3, %%eax\n\t"
                     "movw %%ax, %%fs\n"
                     "2:" SYS_TRY_END
                     : : : "eax", "memory");
    check_eq("MOV GS/FS, null selector (0, 3): no exception", sys_last.count, 0);
    check_eq("FS holds the null selector with RPL 3", read_fs(), 3);
    write_fs(SEL_KDATA);
    write_gs(SEL_KDATA);
}

/* ---- LAR, LSL, VERR, VERW, ARPL ------------------------------------------------- */

static uint16_t s_code_xo, s_data_ro, s_data_byte, s_data_g, s_conf, s_kdata_user_rpl;
static uint16_t s_tss, s_ldt, s_call, s_intgate;
static uint64_t ldt[4];

static volatile struct {
    int lar_kdata_zf, lar_udata_zf, lar_conf_zf;
    uint32_t lar_udata;
    int verr_kdata, verw_kdata, verr_udata, verw_udata, verr_conf, verr_kcode;
    int lsl_kdata_zf, lsl_udata_zf;
    uint32_t lsl_udata;
} u;

static uint32_t user_checks(uint32_t arg)
{
    (void)arg;
    int zf;
    lar(SEL_KDATA, &zf);
    u.lar_kdata_zf = zf;
    u.lar_udata = lar(SEL_UDATA, &zf);
    u.lar_udata_zf = zf;
    lar(s_conf, &zf);
    u.lar_conf_zf = zf;
    lsl(SEL_KDATA | 3, &zf);
    u.lsl_kdata_zf = zf;
    u.lsl_udata = lsl(SEL_UDATA, &zf);
    u.lsl_udata_zf = zf;
    u.verr_kdata = verr(SEL_KDATA | 3);
    u.verw_kdata = verw(SEL_KDATA | 3);
    u.verr_udata = verr(SEL_UDATA);
    u.verw_udata = verw(SEL_UDATA);
    u.verr_conf = verr(s_conf | 3);
    u.verr_kcode = verr(SEL_KCODE | 3);
    return 0;
}

static void test_lar_lsl(void)
{
    sys_section("LAR, LSL, VERR, VERW, ARPL");
    s_code_xo = gdt_add_segment(0, 0xfffff, D_CODE_XO, D_G | D_DB);
    s_data_ro = gdt_add_segment(0x1000, 0xfff, D_DATA_RO, D_DB);
    s_data_byte = gdt_add_segment(0, 0x1234, D_DATA_RW, 0);
    s_data_g = gdt_add_segment(0, 0x1, D_DATA_RW, D_G);
    s_conf = gdt_add_segment(0, 0xfffff, D_CODE_XR | D_CONFORMING, D_G | D_DB);
    s_tss = SEL_TSS;
    s_ldt = gdt_add_ldt(ldt, sizeof ldt - 1);
    s_call = gdt_add_call_gate(SEL_KCODE, (void *)0x1000, 0, 1);
    int ig = gdt_alloc();
    gdt_set(ig, desc_gate(D_TYPE_INT32, SEL_KCODE, 0x1000, 0, 0));
    s_intgate = SEL(ig, 0);
    (void)s_kdata_user_rpl;

    int zf;
    uint32_t v;
    v = lar(SEL_KCODE, &zf);
    check_eq("LAR kernel code: ZF", zf, 1);
    check_eq("LAR kernel code: read/exec, DPL 0, P, S, D, G", v & RIGHTS, 0x00c09a00);
    v = lar(SEL_UDATA, &zf);
    check_eq("LAR user data: ZF", zf, 1);
    check_eq("LAR user data: DPL 3 data RW", v & RIGHTS, 0x00c0f200);
    v = lar(s_data_ro, &zf);
    check_eq("LAR read-only byte-granular 16-bit data: ZF", zf, 1);
    check_eq("LAR read-only byte-granular 16-bit data: rights", v & RIGHTS, 0x00409000);
    v = lar(s_tss, &zf);
    check_eq("LAR busy TSS: ZF", zf, 1);
    check_eq("LAR busy TSS: type 0xb, P", v & 0x00f0ff00, 0x00008b00);
    v = lar(s_ldt, &zf);
    check_eq("LAR LDT descriptor: ZF", zf, 1);
    check_eq("LAR LDT descriptor: type 2, P", v & 0x00f0ff00, 0x00008200);
    v = lar(s_call, &zf);
    check_eq("LAR call gate: ZF", zf, 1);
    check_eq("LAR call gate: type 0xc, P", v & 0x0000ff00, 0x00008c00);
    v = lar(s_intgate, &zf);
    check_eq("LAR interrupt gate in the GDT: ZF = 0", zf, 0);
    check_eq("LAR with ZF = 0 leaves the destination", v, 0xdeadbeef);
    lar(0, &zf);
    check_eq("LAR null selector: ZF = 0", zf, 0);
    lar(0xfff8, &zf);
    check_eq("LAR selector past the GDT limit: ZF = 0", zf, 0);

    v = lsl(SEL_KDATA, &zf);
    check_eq("LSL flat data (G = 1): ZF", zf, 1);
    check_eq("LSL flat data (G = 1): 0xffffffff", v, 0xffffffff);
    v = lsl(s_data_byte, &zf);
    check_eq("LSL byte-granular limit 0x1234", v, 0x1234);
    v = lsl(s_data_g, &zf);
    check_eq("LSL 4 KiB-granular raw limit 1: 0x1fff", v, 0x1fff);
    v = lsl(s_tss, &zf);
    check_eq("LSL TSS: ZF", zf, 1);
    check_eq("LSL TSS: its limit", v, TSS_IOMAP_LIMIT);
    v = lsl(s_ldt, &zf);
    check_eq("LSL LDT descriptor: its limit", v, sizeof ldt - 1);
    lsl(s_call, &zf);
    check_eq("LSL call gate: ZF = 0", zf, 0);

    check_eq("VERR readable code", verr(SEL_KCODE), 1);
    check_eq("VERR execute-only code", verr(s_code_xo), 0);
    check_eq("VERW code", verw(SEL_KCODE), 0);
    check_eq("VERR data", verr(SEL_KDATA), 1);
    check_eq("VERW writable data", verw(SEL_KDATA), 1);
    check_eq("VERW read-only data", verw(s_data_ro), 0);
    check_eq("VERR read-only data", verr(s_data_ro), 1);
    check_eq("VERR TSS (system segment)", verr(s_tss), 0);
    check_eq("VERR null selector", verr(0), 0);

    sys_fault_reset();
    sys_run_user(user_checks, 0, 0);
    check_eq("CPL 3: no exception", sys_last.count, 0);
    check_eq("LAR at CPL 3, DPL 0 data: ZF = 0", u.lar_kdata_zf, 0);
    check_eq("LAR at CPL 3, DPL 3 data: ZF = 1", u.lar_udata_zf, 1);
    check_eq("LAR at CPL 3, DPL 0 conforming code: ZF = 1", u.lar_conf_zf, 1);
    check_eq("LSL at CPL 3, DPL 0 data: ZF = 0", u.lsl_kdata_zf, 0);
    check_eq("LSL at CPL 3, DPL 3 data: limit", u.lsl_udata_zf ? u.lsl_udata : 0, 0xffffffff);
    check_eq("VERR at CPL 3, DPL 0 data", u.verr_kdata, 0);
    check_eq("VERW at CPL 3, DPL 0 data", u.verw_kdata, 0);
    check_eq("VERR at CPL 3, DPL 3 data", u.verr_udata, 1);
    check_eq("VERW at CPL 3, DPL 3 data", u.verw_udata, 1);
    check_eq("VERR at CPL 3, DPL 0 conforming readable code", u.verr_conf, 1);
    check_eq("VERR at CPL 3, DPL 0 non-conforming code", u.verr_kcode, 0);

    /* ARPL r/m16, r16: raise the destination's RPL to the source's. */
    uint16_t dst = 0x0010;
    uint8_t z;
    __asm__ volatile("arpl %2, %0\n\tsetz %1" : "+r"(dst), "=q"(z) : "r"((uint16_t)0x0023) : "cc");
    check_eq("ARPL 0x10, 0x23: RPL raised to 3", dst, 0x13);
    check_eq("ARPL 0x10, 0x23: ZF = 1", z, 1);
    dst = 0x0013;
    __asm__ volatile("arpl %2, %0\n\tsetz %1" : "+r"(dst), "=q"(z) : "r"((uint16_t)0x0021) : "cc");
    check_eq("ARPL 0x13, 0x21: unchanged", dst, 0x13);
    check_eq("ARPL 0x13, 0x21: ZF = 0", z, 0);
    static uint16_t mem_sel = 0x0008;
    __asm__ volatile("arpl %2, %0\n\tsetz %1" : "+m"(mem_sel), "=q"(z) : "r"((uint16_t)0x0002) : "cc");
    check_eq("ARPL m16: RPL raised to 2", mem_sel, 0x000a);
}

/* ---- LDT -------------------------------------------------------------------------- */

static void test_ldt(void)
{
    sys_section("LDT");
    ldt[0] = 0;
    ldt[1] = desc_seg((uint32_t)seg_data + 0x200, 0xff, D_DATA_RW, D_DB);
    ldt[2] = desc_seg((uint32_t)seg_data, 0xfff, D_DATA_RW | D_DPL(3), D_DB);
    ldt[3] = desc_seg(0, 0xfffff, D_DATA_RW & ~D_P, D_G | D_DB);

    lldt(s_ldt);
    check_eq("SLDT after LLDT", sldt(), s_ldt);
    uint16_t sel1 = SEL(1, 0) | SEL_LDT_BIT;
    uint32_t v;
    __asm__ volatile("movw %1, %%fs\n\t"
                     "movl %%fs:0x8, %0"
                     : "=r"(v) : "r"(sel1) : "memory");
    check_eq("load through an LDT data segment uses its base", v, *(uint32_t *)(seg_data + 0x208));
    check("LDT descriptor accessed bit set by the load", (ldt[1] >> 40) & D_ACCESSED);
    int zf;
    v = lsl(sel1, &zf);
    check_eq("LSL on an LDT selector", zf ? v : 0, 0xff);
    v = lar(SEL(2, 3) | SEL_LDT_BIT, &zf);
    check_eq("LAR on an LDT selector (DPL 3 data)", zf ? (v & RIGHTS) : 0, 0x0040f200);

    uint32_t at;
    uint16_t bad = SEL(3, 0) | SEL_LDT_BIT;
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tmovw %1, %%gs\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "r"(bad) : "memory");
    check_fault("MOV GS, not-present LDT segment", 11, bad & 0xfffc, at, "at the MOV");

    bad = SEL(9, 0) | SEL_LDT_BIT;
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tmovw %1, %%gs\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "r"(bad) : "memory");
    check_fault("MOV GS, selector past the LDT limit", 13, bad & 0xfffc, at, "at the MOV");

    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tlldt %1\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "r"((uint16_t)SEL_KDATA) : "memory");
    check_fault("LLDT with a data segment selector", 13, SEL_KDATA, at, "at the LLDT");
    check_eq("LDTR unchanged after the fault", sldt(), s_ldt);

    write_fs(SEL_KDATA);
    lldt(0);
    check_eq("LLDT null: SLDT = 0", sldt(), 0);
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "movl $1f, %0\n"
                     "1:\tmovw %1, %%gs\n"
                     "2:" SYS_TRY_END
                     : "=&r"(at) : "r"(sel1) : "memory");
    check_fault("MOV GS, LDT selector with a null LDTR", 13, sel1 & 0xfffc, at, "at the MOV");
    write_gs(SEL_KDATA);
}

/* ---- the CS limit (SDM Vol. 3A 5.3; JMP/CALL/Jcc/LOOP/RET in Vol. 2) ------------ */

/* Code run in a code segment whose base is the buffer and whose limit is
 * small: entered by a far CALL at offset 0, it returns with LRET. */
static uint8_t lim_code[8][64] __attribute__((aligned(64)));
static int lim_gdt;

static void lim_gp_handler(struct sys_frame *f)
{
    f->eip = sys_fixup;
    f->cs = SEL_KCODE;
    sys_fixup = 0;
}

/* Runs lim_code[n] with CS limit `limit`; returns the vector taken or -1,
 * and EAX in *eax. */
static int lim_run(int n, uint32_t limit, uint32_t *eax)
{
    struct __attribute__((packed)) { uint32_t off; uint16_t sel; } target = {0, SEL(lim_gdt, 0)};
    gdt_set(lim_gdt, desc_seg((uint32_t)lim_code[n], limit, D_CODE_XR, D_DB));
    uint32_t a = 0;
    sys_fault_reset();
    sys_set_handler(13, lim_gp_handler);
    /* A fault leaves the far return address on the stack: ESP is restored. */
    __asm__ volatile("movl %%esp, %%esi\n\t"
                     SYS_TRY("2f")
                     "xorl %%eax, %%eax\n\t"
                     "movl $3, %%ecx\n\t"
                     "lcall *%1\n"
                     "2:" SYS_TRY_END
                     "movl %%esi, %%esp"
                     : "=&a"(a) : "m"(target) : "ecx", "edx", "esi", "memory", "cc");
    sys_set_handler(13, 0);
    *eax = a;
    return sys_last.count ? sys_last.vector : -1;
}

static void lim_expect_ok(const char *name, int n, uint32_t limit, uint32_t eax)
{
    uint32_t got;
    int r = lim_run(n, limit, &got);
    check_detail(name, r == -1 && got == eax, "vector %d, EAX 0x%x (expected no exception, EAX 0x%x)", r, got, eax);
}

static void lim_expect_gp(const char *name, int n, uint32_t limit, uint32_t eip)
{
    uint32_t got;
    int r = lim_run(n, limit, &got);
    check_detail(name, r == 13 && sys_last.error == 0 && sys_last.eip == eip && sys_last.cs == SEL(lim_gdt, 0),
                 "vector %d error 0x%x at %04x:%x, expected #GP(0) at %04x:%x", r, sys_last.error, sys_last.cs,
                 sys_last.eip, SEL(lim_gdt, 0), eip);
}

static void lim_put(int n, const uint8_t *bytes, unsigned len)
{
    for (unsigned i = 0; i < sizeof lim_code[n]; i++) lim_code[n][i] = 0x90;  /* NOP */
    for (unsigned i = 0; i < len; i++) lim_code[n][i] = bytes[i];
}

static void test_code_limit(void)
{
    sys_section("vmm-only: CS limit on code fetch and near branch targets (not checked by QEMU's TCG)");
    lim_gdt = gdt_alloc();

    /* 0: nop; 1: mov eax, 0x44332211; 6: lret */
    static const uint8_t fetch[] = {0x90, 0xb8, 0x11, 0x22, 0x33, 0x44, 0xcb};
    lim_put(0, fetch, sizeof fetch);
    lim_expect_ok("code ending at the CS limit runs", 0, 6, 0x44332211);
    lim_expect_gp("MOV running 3 bytes past the CS limit: #GP(0) at the MOV", 0, 2, 1);
    lim_expect_gp("MOV ending 1 byte past the CS limit: #GP(0) at the MOV", 0, 4, 1);
    lim_expect_gp("LRET starting 1 byte past the CS limit: #GP(0) at the LRET", 0, 5, 6);
    lim_expect_ok("the same code under the larger limit again", 0, 6, 0x44332211);

    /* 0: nop; 1: nop; 2: lret -- limit 1: execution falls through to 2. */
    static const uint8_t fall[] = {0x90, 0x90, 0xcb};
    lim_put(1, fall, sizeof fall);
    lim_expect_gp("falling through to EIP = limit + 1: #GP(0) at it", 1, 1, 2);
    lim_expect_ok("falling through within the limit", 1, 2, 0);

    /* 0: jmp 0x20; ...; 0x20: mov al, 1; 0x22: lret */
    static const uint8_t jmp[] = {0xeb, 0x1e};
    lim_put(2, jmp, sizeof jmp);
    lim_code[2][0x20] = 0xb0, lim_code[2][0x21] = 0x01, lim_code[2][0x22] = 0xcb;
    lim_expect_ok("JMP rel8 within the limit", 2, 0x22, 1);
    lim_expect_gp("JMP rel8 to beyond the limit: #GP(0) at the JMP", 2, 0x1f, 0);

    /* 0: call 0x20 (rel32); 5: lret; 0x20: mov al, 2; 0x22: ret */
    static const uint8_t call[] = {0xe8, 0x1b, 0x00, 0x00, 0x00, 0xcb};
    lim_put(3, call, sizeof call);
    lim_code[3][0x20] = 0xb0, lim_code[3][0x21] = 0x02, lim_code[3][0x22] = 0xc3;
    lim_expect_ok("CALL rel32 within the limit", 3, 0x22, 2);
    lim_expect_gp("CALL rel32 to beyond the limit: #GP(0) at the CALL", 3, 0x1f, 0);

    /* 0: cmp eax, eax; 2: je 0x20; 4: lret; 0x20: mov al, 3; 0x22: lret */
    static const uint8_t jcc[] = {0x39, 0xc0, 0x74, 0x1c, 0xcb};
    lim_put(4, jcc, sizeof jcc);
    lim_code[4][0x20] = 0xb0, lim_code[4][0x21] = 0x03, lim_code[4][0x22] = 0xcb;
    lim_expect_ok("JE taken within the limit", 4, 0x22, 3);
    lim_expect_gp("JE taken to beyond the limit: #GP(0) at the JE", 4, 0x1f, 2);
    /* 0: test esp, esp (ZF = 0); 2: je 0x20 not taken; 4: lret */
    static const uint8_t jcc_nt[] = {0x85, 0xe4, 0x74, 0x1c, 0xcb};
    lim_put(5, jcc_nt, sizeof jcc_nt);
    lim_expect_ok("JE not taken, target beyond the limit: no fault", 5, 4, 0);

    /* ECX = 3 on entry. 0: loop 0x20; 2: lret; 0x20: mov eax, ecx; 0x22: lret */
    static const uint8_t loop[] = {0xe2, 0x1e, 0xcb};
    lim_put(6, loop, sizeof loop);
    lim_code[6][0x20] = 0x89, lim_code[6][0x21] = 0xc8, lim_code[6][0x22] = 0xcb;
    lim_expect_ok("LOOP taken within the limit (ECX 3 -> 2)", 6, 0x22, 2);
    lim_expect_gp("LOOP taken to beyond the limit: #GP(0) at the LOOP", 6, 0x1f, 0);

    /* 0: push 0x30; 5: ret; 6..: nops; 0x30: mov al, 4; 0x32: lret (far return
     * address still on the stack under the pushed one). */
    static const uint8_t ret[] = {0x68, 0x30, 0x00, 0x00, 0x00, 0xc3};
    lim_put(7, ret, sizeof ret);
    lim_code[7][0x30] = 0xb0, lim_code[7][0x31] = 0x04, lim_code[7][0x32] = 0xcb;
    lim_expect_ok("RET within the limit", 7, 0x32, 4);
    lim_expect_gp("RET to beyond the limit: #GP(0) at the RET", 7, 0x2f, 5);
}

/* ---- limit and type checks on accesses (vmm-only) ------------------------------- */

/* Reads (or writes) 1 or 4 bytes at FS:off with FS = sel; returns the
 * vector of the exception taken, or -1. */
static int access(uint16_t sel, uint32_t off, int size, int write)
{
    sys_fault_reset();
    write_fs(sel);
    if (size == 1 && !write)
        __asm__ volatile(SYS_TRY("2f") "movb %%fs:(%0), %%al\n2:" SYS_TRY_END : : "r"(off) : "eax", "memory");
    else if (size == 4 && !write)
        __asm__ volatile(SYS_TRY("2f") "movl %%fs:(%0), %%eax\n2:" SYS_TRY_END : : "r"(off) : "eax", "memory");
    else if (size == 1)
        __asm__ volatile(SYS_TRY("2f") "movb $0, %%fs:(%0)\n2:" SYS_TRY_END : : "r"(off) : "memory");
    else
        __asm__ volatile(SYS_TRY("2f") "movl $0, %%fs:(%0)\n2:" SYS_TRY_END : : "r"(off) : "memory");
    write_fs(SEL_KDATA);
    return sys_last.count ? sys_last.vector : -1;
}

static void expect_ok(const char *name, int r)
{
    check_detail(name, r == -1, "vector %d", r);
}

static void expect_gp0(const char *name, int r)
{
    check_detail(name, r == 13 && sys_last.error == 0, "vector %d error 0x%x, expected #GP(0)", r, sys_last.error);
}

static void test_limits(void)
{
    sys_section("vmm-only: limit and type checks on data accesses (not done by QEMU's TCG)");
    uint32_t base = (uint32_t)seg_data;
    uint16_t up = gdt_add_segment(base, 0xfff, D_DATA_RW, D_DB);
    expect_ok("expand-up limit 0xfff: byte at 0xfff", access(up, 0xfff, 1, 0));
    expect_gp0("expand-up limit 0xfff: byte at 0x1000 -> #GP(0)", access(up, 0x1000, 1, 0));
    expect_ok("expand-up limit 0xfff: dword at 0xffc", access(up, 0xffc, 4, 0));
    expect_gp0("expand-up limit 0xfff: dword at 0xffd -> #GP(0)", access(up, 0xffd, 4, 0));
    expect_gp0("expand-up limit 0xfff: write at 0x1000 -> #GP(0)", access(up, 0x1000, 1, 1));

    uint16_t g = gdt_add_segment(base, 0, D_DATA_RW, D_G | D_DB);
    expect_ok("G = 1, raw limit 0: byte at 0xfff", access(g, 0xfff, 1, 0));
    expect_gp0("G = 1, raw limit 0: byte at 0x1000 -> #GP(0)", access(g, 0x1000, 1, 0));

    /* Expand-down: valid offsets are limit + 1 .. 0xffff (B = 0) or
     * 0xffffffff (B = 1). */
    uint16_t down16 = gdt_add_segment(0, 0xfff, D_DATA_RW_DOWN, 0);
    expect_ok("expand-down 16-bit limit 0xfff: byte at 0x1000", access(down16, 0x1000, 1, 0));
    expect_gp0("expand-down 16-bit limit 0xfff: byte at 0xfff -> #GP(0)", access(down16, 0xfff, 1, 0));
    expect_ok("expand-down 16-bit limit 0xfff: byte at 0xffff", access(down16, 0xffff, 1, 0));
    expect_gp0("expand-down 16-bit limit 0xfff: byte at 0x10000 -> #GP(0)", access(down16, 0x10000, 1, 0));
    expect_gp0("expand-down 16-bit limit 0xfff: dword at 0xfffd -> #GP(0)", access(down16, 0xfffd, 4, 0));
    uint16_t down32 = gdt_add_segment(0, 0xfff, D_DATA_RW_DOWN, D_DB);
    expect_ok("expand-down big limit 0xfff: byte at 0x10000", access(down32, 0x10000, 1, 0));
    expect_gp0("expand-down big limit 0xfff: dword at 0xffe -> #GP(0)", access(down32, 0xffe, 4, 0));

    uint16_t ro = gdt_add_segment(base, 0xfff, D_DATA_RO, D_DB);
    expect_ok("read-only data: read", access(ro, 0x10, 4, 0));
    expect_gp0("read-only data: write -> #GP(0)", access(ro, 0x10, 4, 1));

    expect_gp0("null FS: read -> #GP(0)", access(0, (uint32_t)seg_data, 4, 0));
    expect_gp0("null FS: write -> #GP(0)", access(0, (uint32_t)seg_data, 1, 1));

    /* Through DS itself, as a compiler would use it. */
    uint32_t at;
    sys_fault_reset();
    __asm__ volatile(SYS_TRY("2f")
                     "xorl %%eax, %%eax\n\t"
                     "movw %%ax, %%ds\n\t"
                     "movl $1f, %0\n"
                     "1:\tmovl seg_data, %%eax\n"
                     "2:\tmovw %%ss, %%ax\n\t"
                     "movw %%ax, %%ds" SYS_TRY_END
                     : "=&r"(at) : : "eax", "memory");
    check_fault("DS = null selector, then a load through DS", 13, 0, at, "at the load");
}

int guest_main(void)
{
    sys_init();
    test_bases();
    test_lar_lsl();
    test_ldt();
    if (sys_cmdline_has("vmm-only")) {
        test_limits();
        test_code_limit();
    }
    sys_finish();
}

/*
 * x87.c - the x87 FPU as a kernel sees it (SDM Vol. 1, chapter 8; FSAVE,
 * FXSAVE in Vol. 2):
 *
 *   - the probe Linux runs at boot (fpu__init_check_bugs /
 *     fpu__probe_without_cpuid): FNINIT, FNSTSW -> 0, FNSTCW -> 0x037f;
 *   - a few arithmetic results, printed as hexadecimal bit patterns:
 *     basic operations, FSQRT, constants, rounding and precision control,
 *     conversions, comparisons (FSW condition codes, FCOMI), masked
 *     exceptions (infinity, the real indefinite) and their status flags;
 *   - FSAVE/FRSTOR and FXSAVE/FXRSTOR (CR4.OSFXSR = 1) round trips and the
 *     layout of the saved control, status and tag words.
 *
 * No transcendental instruction (FSIN, FPTAN, ...) is checked: QEMU computes
 * those in host double precision, the hardware does not.
 */
#include "sys.h"

static int check64(const char *name, uint64_t got, uint64_t want)
{
    if (got == want) {
        sys_passed++;
        printf("PASS %s = 0x%016llx\n", name, (unsigned long long)got);
        return 1;
    }
    sys_failed++;
    printf("FAIL %s (got 0x%016llx, expected 0x%016llx)\n", name, (unsigned long long)got,
           (unsigned long long)want);
    return 0;
}

struct f80 {
    uint64_t mant;
    uint16_t se;
} __attribute__((packed));

static int check80(const char *name, const void *p, uint16_t se, uint64_t mant)
{
    struct f80 v;
    memcpy(&v, p, sizeof v);
    if (v.se == se && v.mant == mant) {
        sys_passed++;
        printf("PASS %s = 0x%04x:%016llx\n", name, se, (unsigned long long)mant);
        return 1;
    }
    sys_failed++;
    printf("FAIL %s (got 0x%04x:%016llx, expected 0x%04x:%016llx)\n", name, v.se, (unsigned long long)v.mant, se,
           (unsigned long long)mant);
    return 0;
}

/* ---- probe ------------------------------------------------------------------------ */

static void test_probe(void)
{
    sys_section("FPU probe (as Linux does it)");
    uint16_t sw = 0x5a5a, cw = 0x5a5a;
    __asm__ volatile("fninit\n\t"
                     "fnstsw %0\n\t"
                     "fnstcw %1"
                     : "+m"(sw), "+m"(cw));
    check_eq("FNINIT; FNSTSW: status word 0", sw, 0);
    check_eq("FNSTCW after FNINIT: 0x037f", cw, 0x037f);
    check_eq("(FCW & 0x103f) == 0x003f: an FPU is present", cw & 0x103f, 0x003f);
    uint16_t ax;
    __asm__ volatile("fnstsw %%ax" : "=a"(ax));
    check_eq("FNSTSW AX", ax, 0);
    uint32_t a, b, c, d;
    cpuid(1, &a, &b, &c, &d);
    check("CPUID.1:EDX.FPU", d & 1);
    check("CPUID.1:EDX.FXSR", (d >> 24) & 1);
}

/* ---- arithmetic --------------------------------------------------------------------- */

static const double one = 1.0, two = 2.0, three = 3.0, zero = 0.0, two_point_five = 2.5,
                    three_point_five = 3.5, minus_two_point_seven = -2.7, big = 1e300;
static const int32_t i12345 = 12345;

static uint64_t fstp_double(void)
{
    uint64_t r;
    __asm__ volatile("fstpl %0" : "=m"(r));
    return r;
}

static void set_cw(uint16_t cw)
{
    __asm__ volatile("fnclex\n\tfldcw %0" : : "m"(cw));
}

static uint16_t get_sw(void)
{
    uint16_t sw;
    __asm__ volatile("fnstsw %0" : "=m"(sw));
    return sw;
}

static void test_arith(void)
{
    sys_section("arithmetic");
    __asm__ volatile("fninit");

    __asm__ volatile("fldl %0\n\tfaddl %0" : : "m"(one));
    check64("1 + 1", fstp_double(), 0x4000000000000000ull);
    __asm__ volatile("fldl %0\n\tfdivl %1" : : "m"(one), "m"(three));
    check64("1 / 3 (rounded to double on store)", fstp_double(), 0x3fd5555555555555ull);
    __asm__ volatile("fldl %0\n\tfsubl %1" : : "m"(one), "m"(three));
    check64("1 - 3", fstp_double(), 0xc000000000000000ull);
    __asm__ volatile("fldl %0\n\tfmull %1" : : "m"(three), "m"(two_point_five));
    check64("3 * 2.5", fstp_double(), 0x401e000000000000ull);
    __asm__ volatile("fldl %0\n\tfsqrt" : : "m"(two));
    check64("sqrt(2)", fstp_double(), 0x3ff6a09e667f3bcdull);
    __asm__ volatile("fldl %0\n\tfchs\n\tfabs" : : "m"(three));
    check64("|-3|", fstp_double(), 0x4008000000000000ull);

    uint8_t t[10];
    __asm__ volatile("fldpi\n\tfstpt %0" : "=m"(t));
    check80("FLDPI (80-bit)", t, 0x4000, 0xc90fdaa22168c235ull);
    __asm__ volatile("fldl2e\n\tfstpt %0" : "=m"(t));
    check80("FLDL2E (80-bit)", t, 0x3fff, 0xb8aa3b295c17f0bcull);
    __asm__ volatile("fld1\n\tfldl %1\n\tfdivrp\n\tfstpt %0" : "=m"(t) : "m"(three));
    check80("1 / 3 (80-bit)", t, 0x3ffd, 0xaaaaaaaaaaaaaaabull);

    /* Precision control: 24-bit significand. */
    set_cw(0x007f);
    __asm__ volatile("fldl %0\n\tfdivl %1" : : "m"(one), "m"(three));
    check64("1 / 3 with PC = single", fstp_double(), 0x3fd5555560000000ull);
    set_cw(0x037f);

    /* Rounding: FISTP with round to nearest even, then truncation. */
    int32_t i;
    __asm__ volatile("fldl %1\n\tfistpl %0" : "=m"(i) : "m"(two_point_five));
    check_eq("FISTP 2.5, round to nearest even", (uint32_t)i, 2);
    __asm__ volatile("fldl %1\n\tfistpl %0" : "=m"(i) : "m"(three_point_five));
    check_eq("FISTP 3.5, round to nearest even", (uint32_t)i, 4);
    __asm__ volatile("fldl %1\n\tfistpl %0" : "=m"(i) : "m"(minus_two_point_seven));
    check_eq("FISTP -2.7, round to nearest", (uint32_t)i, (uint32_t)-3);
    set_cw(0x0f7f);
    __asm__ volatile("fldl %1\n\tfistpl %0" : "=m"(i) : "m"(minus_two_point_seven));
    check_eq("FISTP -2.7, RC = truncate", (uint32_t)i, (uint32_t)-2);
    set_cw(0x077f);
    __asm__ volatile("fldl %1\n\tfistpl %0" : "=m"(i) : "m"(minus_two_point_seven));
    check_eq("FISTP -2.7, RC = down", (uint32_t)i, (uint32_t)-3);
    set_cw(0x0b7f);
    __asm__ volatile("fldl %1\n\tfrndint\n\tfistpl %0" : "=m"(i) : "m"(minus_two_point_seven));
    check_eq("FRNDINT -2.7, RC = up", (uint32_t)i, (uint32_t)-2);
    set_cw(0x037f);
    __asm__ volatile("fildl %0" : : "m"(i12345));
    check64("FILD 12345", fstp_double(), 0x40c81c8000000000ull);
    int64_t q;
    __asm__ volatile("fldl %1\n\tfistpll %0" : "=m"(q) : "m"(big));
    check64("FISTP m64 of 1e300: integer indefinite", (uint64_t)q, 0x8000000000000000ull);
    check_eq("  FSW.IE set (masked)", get_sw() & 1, 1);
    __asm__ volatile("fnclex");

    /* Comparisons. */
    uint16_t sw;
    __asm__ volatile("fldl %1\n\tfcompl %2\n\tfnstsw %0" : "=m"(sw) : "m"(one), "m"(two));
    check_eq("FCOMP 1 vs 2: C3 C2 C0 = 0 0 1", sw & 0x4500, 0x0100);
    __asm__ volatile("fldl %1\n\tfcompl %2\n\tfnstsw %0" : "=m"(sw) : "m"(two), "m"(one));
    check_eq("FCOMP 2 vs 1: C3 C2 C0 = 0 0 0", sw & 0x4500, 0x0000);
    __asm__ volatile("fldl %1\n\tfcompl %2\n\tfnstsw %0" : "=m"(sw) : "m"(two), "m"(two));
    check_eq("FCOMP 2 vs 2: C3 C2 C0 = 1 0 0", sw & 0x4500, 0x4000);
    uint32_t fl;
    __asm__ volatile("fldl %2\n\tfldl %1\n\tfcomip %%st(1), %%st\n\tfstp %%st(0)\n\tpushfl\n\tpopl %0"
                     : "=r"(fl) : "m"(one), "m"(two) : "cc");
    check_eq("FCOMIP 1 vs 2: ZF PF CF = 0 0 1", fl & (EFL_ZF | 0x4 | EFL_CF), EFL_CF);
    __asm__ volatile("fldl %1\n\tftst\n\tfnstsw %0\n\tfstp %%st(0)" : "=m"(sw) : "m"(zero));
    check_eq("FTST 0: C3 C2 C0 = 1 0 0", sw & 0x4500, 0x4000);
    __asm__ volatile("fldl %1\n\tfxam\n\tfnstsw %0\n\tfstp %%st(0)" : "=m"(sw) : "m"(one));
    check_eq("FXAM 1.0: normal finite (C3 C2 C0 = 0 1 0), C1 = sign 0", sw & 0x4700, 0x0400);

    /* Masked exceptions. */
    __asm__ volatile("fnclex\n\tfldl %0\n\tfdivl %1" : : "m"(one), "m"(zero));
    check64("1 / 0 (ZE masked) = +infinity", fstp_double(), 0x7ff0000000000000ull);
    check_eq("  FSW.ZE set", get_sw() & 0x3f, 0x04);
    __asm__ volatile("fnclex\n\tfldl %0\n\tfdivl %0" : : "m"(zero));
    check64("0 / 0 (IE masked) = real indefinite", fstp_double(), 0xfff8000000000000ull);
    check_eq("  FSW.IE set", get_sw() & 0x3f, 0x01);
    __asm__ volatile("fnclex\n\tfldl %0\n\tfdivl %1" : : "m"(one), "m"(three));
    (void)fstp_double();
    check_eq("1 / 3: FSW.PE set", get_sw() & 0x3f, 0x20);
    __asm__ volatile("fnclex");

    /* Stack: TOP and tags. */
    __asm__ volatile("fninit\n\tfld1\n\tfldz\n\tfnstsw %0" : "=m"(sw));
    check_eq("two pushes: FSW.TOP = 6", (sw >> 11) & 7, 6);
    __asm__ volatile("fincstp\n\tfnstsw %0" : "=m"(sw));
    check_eq("FINCSTP: FSW.TOP = 7", (sw >> 11) & 7, 7);
    __asm__ volatile("fninit");
}

/* ---- FSAVE/FRSTOR, FXSAVE/FXRSTOR ------------------------------------------------- */

static uint8_t fsave_area[108];
static uint8_t fxsave_area[512] __attribute__((aligned(16)));
static uint8_t fxsave_area2[512] __attribute__((aligned(16)));

static void test_fsave(void)
{
    sys_section("FSAVE/FRSTOR");
    __asm__ volatile("fninit\n\t"
                     "fldcw %1\n\t"
                     "fld1\n\t"
                     "fldpi\n\t"
                     "fnsave %0"
                     : "=m"(fsave_area) : "m"((uint16_t){0x027f}));
    uint16_t fcw, fsw, ftw;
    memcpy(&fcw, fsave_area + 0, 2);
    memcpy(&fsw, fsave_area + 4, 2);
    memcpy(&ftw, fsave_area + 8, 2);
    check_eq("FSAVE: FCW", fcw, 0x027f);
    check_eq("FSAVE: FSW.TOP = 6", (fsw >> 11) & 7, 6);
    check_eq("FSAVE: full tag word, registers 6 and 7 valid", ftw, 0x0fff);
    check80("FSAVE: ST(0) = pi", fsave_area + 28, 0x4000, 0xc90fdaa22168c235ull);
    check80("FSAVE: ST(1) = 1", fsave_area + 38, 0x3fff, 0x8000000000000000ull);

    uint16_t cw, sw;
    __asm__ volatile("fnstcw %0\n\tfnstsw %1" : "=m"(cw), "=m"(sw));
    check_eq("after FSAVE the FPU is reinitialised: FCW", cw, 0x037f);
    check_eq("after FSAVE the FPU is reinitialised: FSW", sw, 0);

    uint8_t st0[10], st1[10];
    __asm__ volatile("frstor %3\n\t"
                     "fnstcw %2\n\t"
                     "fstpt %0\n\t"
                     "fstpt %1\n\t"
                     "fninit"
                     : "=m"(st0), "=m"(st1), "=m"(cw) : "m"(fsave_area));
    check_eq("FRSTOR: FCW", cw, 0x027f);
    check80("FRSTOR: ST(0) = pi", st0, 0x4000, 0xc90fdaa22168c235ull);
    check80("FRSTOR: ST(1) = 1", st1, 0x3fff, 0x8000000000000000ull);
}

static void test_fxsave(void)
{
    sys_section("FXSAVE/FXRSTOR");
    write_cr4(read_cr4() | CR4_OSFXSR);
    memset(fxsave_area, 0xcc, sizeof fxsave_area);
    __asm__ volatile("fninit\n\t"
                     "fldcw %1\n\t"
                     "fld1\n\t"
                     "fldpi\n\t"
                     "fxsave %0"
                     : "=m"(fxsave_area) : "m"((uint16_t){0x027f}));
    uint16_t fcw, fsw;
    uint8_t ftw;
    uint32_t mxcsr;
    memcpy(&fcw, fxsave_area + 0, 2);
    memcpy(&fsw, fxsave_area + 2, 2);
    ftw = fxsave_area[4];
    memcpy(&mxcsr, fxsave_area + 24, 4);
    check_eq("FXSAVE: FCW", fcw, 0x027f);
    check_eq("FXSAVE: FSW.TOP = 6", (fsw >> 11) & 7, 6);
    check_eq("FXSAVE: abridged tag byte, registers 6 and 7 valid", ftw, 0xc0);
    check_eq("FXSAVE: MXCSR after reset", mxcsr, 0x1f80);
    check80("FXSAVE: ST(0) = pi", fxsave_area + 32, 0x4000, 0xc90fdaa22168c235ull);
    check80("FXSAVE: ST(1) = 1", fxsave_area + 48, 0x3fff, 0x8000000000000000ull);

    uint16_t cw, sw;
    __asm__ volatile("fxsave %2\n\tfnstcw %0\n\tfnstsw %1"
                     : "=m"(cw), "=m"(sw), "=m"(fxsave_area2));
    check_eq("FXSAVE leaves the FPU state alone: FCW", cw, 0x027f);
    check_eq("FXSAVE leaves the FPU state alone: FSW.TOP", (sw >> 11) & 7, 6);

    uint8_t st0[10], st1[10];
    __asm__ volatile("fninit\n\t"
                     "fxrstor %3\n\t"
                     "fnstcw %2\n\t"
                     "fstpt %0\n\t"
                     "fstpt %1"
                     : "=m"(st0), "=m"(st1), "=m"(cw) : "m"(fxsave_area));
    check_eq("FXRSTOR: FCW", cw, 0x027f);
    check80("FXRSTOR: ST(0) = pi", st0, 0x4000, 0xc90fdaa22168c235ull);
    check80("FXRSTOR: ST(1) = 1", st1, 0x3fff, 0x8000000000000000ull);

    /* FXRSTOR of an image with tag byte 0: all registers empty. */
    fxsave_area[4] = 0;
    uint16_t tw_env[14];
    __asm__ volatile("fxrstor %1\n\tfnstenv %0\n\tfninit" : "=m"(tw_env) : "m"(fxsave_area));
    check_eq("FXRSTOR with abridged tags 0: full tag word all empty", tw_env[4], 0xffff);
    __asm__ volatile("fldcw %0" : : "m"((uint16_t){0x037f}));
}

int guest_main(void)
{
    sys_init();
    write_cr0((read_cr0() | CR0_MP | CR0_NE) & ~(CR0_EM | CR0_TS));
    test_probe();
    test_arith();
    test_fsave();
    test_fxsave();
    sys_finish();
}

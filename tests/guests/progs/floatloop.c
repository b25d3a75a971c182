/*
 * floatloop.c - double-precision loops on the x87 FPU.
 *
 * gcc -m32 -march=i686 has no SSE, so every double lives on the x87 register
 * stack: FLD/FST(P) of memory and registers, FADD/FSUB/FMUL/FDIV in all their
 * forms (reversed, popping, with memory operands), FILD/FIST(P) of 16/32/64
 * bits, FCOMI/FUCOMI(P) and FNSTSW-based comparisons, FCMOVcc, FCHS/FABS,
 * FXCH, and the FNSTCW/FLDCW pair gcc wraps around C's truncating casts.
 *
 *  - a Mandelbrot escape-count grid (a tight loop of FMUL/FADD/FSUB and one
 *    FCOMI per iteration), zooming in a little every round;
 *  - harmonic sums 1/1 + 1/2 + ... (FDIV, FILD), plain and Kahan-compensated;
 *  - square roots by Newton's method (x = (x + a/x) / 2 until it stops
 *    decreasing: data-dependent trip counts and comparisons);
 *  - float <-> integer conversions: FIST with the current (default,
 *    round-to-nearest-even) rounding, C casts (truncation), unsigned and
 *    64-bit ones, double -> float rounding;
 *  - comparisons of all pairs of a set of values with signed zeros,
 *    infinities and a NaN, and branch-free min/max selects (FCMOVcc).
 *
 * The guest printf has no %f: doubles are printed as integers or as their
 * exact IEEE bit patterns in hex.
 *
 * Precision control: guest_main first sets the x87 precision control to 53
 * bits (FLDCW 0x027f, the usual setting on FreeBSD and Windows).  gcc's
 * default for C on the x87 (-fexcess-precision=fast) leaves values in 80-bit
 * registers and rounds them to double only when it happens to spill them, so
 * with 64-bit precision the results would depend on register allocation,
 * which differs between the native build (PIE) and the guest build.  With
 * 53-bit precision every operation already rounds to double (all values stay
 * well inside double's exponent range), so a spill changes nothing and both
 * builds print the same bits.
 */
#include "io.h"

#ifndef ITERS
#define ITERS 2
#endif

#define NOINLINE __attribute__((noinline))

/* FCW: all exceptions masked (0x3f), bit 6 reads as one, PC = 10b (53-bit
 * double precision), RC = 00b (round to nearest even). */
#define FCW_DOUBLE 0x027f

static uint64_t bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static uint32_t fbits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static uint32_t mix(uint32_t h, uint32_t v)
{
    return (h ^ v) * 16777619u;   /* FNV-1a step on a whole word */
}

static uint32_t mix64(uint32_t h, uint64_t v)
{
    return mix(mix(h, (uint32_t)v), (uint32_t)(v >> 32));
}

/* ---- Mandelbrot --------------------------------------------------------- */

#define MB_W 48
#define MB_H 32
#define MB_MAXIT 200

/* Escape counts of a w x h grid of points x0 + i*step + (y0 + j*step)i.
 * Returns the sum of the counts; *hash gets a hash of all of them. */
static NOINLINE uint32_t mandelbrot(double x0, double y0, double step, uint32_t *hash)
{
    uint32_t sum = 0, h = 2166136261u;
    for (int j = 0; j < MB_H; j++) {
        double ci = y0 + j * step;
        for (int i = 0; i < MB_W; i++) {
            double cr = x0 + i * step;
            double zr = 0.0, zi = 0.0, zr2 = 0.0, zi2 = 0.0;
            int n = 0;
            while (n < MB_MAXIT && zr2 + zi2 <= 4.0) {
                zi = 2.0 * zr * zi + ci;
                zr = zr2 - zi2 + cr;
                zr2 = zr * zr;
                zi2 = zi * zi;
                n++;
            }
            sum += (uint32_t)n;
            h = mix(h, (uint32_t)n);
        }
    }
    *hash = h;
    return sum;
}

/* ---- harmonic sums ------------------------------------------------------ */

/* 1/1 + ... + 1/n, naively and with Kahan's compensation. */
static NOINLINE uint32_t harmonic(int n, uint32_t h)
{
    double s = 0.0, ks = 0.0, c = 0.0, alt = 0.0;
    for (int k = 1; k <= n; k++) {
        double t = 1.0 / k;
        s += t;
        double y = t - c;         /* Kahan: carry the lost low part along */
        double u = ks + y;
        c = (u - ks) - y;
        ks = u;
        alt += (k & 1) ? t : -t;  /* ln 2, via FCMOV or a branch */
    }
    printf("  harmonic(%d): naive=%016llx kahan=%016llx alt=%016llx  ~%d.%06d\n", n,
           (unsigned long long)bits(s), (unsigned long long)bits(ks), (unsigned long long)bits(alt),
           (int)ks, (int)((ks - (int)ks) * 1000000.0));
    return mix64(mix64(mix64(h, bits(s)), bits(ks)), bits(alt));
}

/* ---- Newton square roots ------------------------------------------------ */

/* sqrt(a) for a = first, first + step, ... (n values) by x <- (x + a/x) / 2
 * from x = a, stopping when x no longer decreases.  Checks floor(sqrt(a))
 * with integer arithmetic and hashes the bits of every root. */
static NOINLINE uint32_t newton(double first, double step, int n, uint32_t h)
{
    uint32_t steps = 0, bad = 0;
    for (int i = 0; i < n; i++) {
        double a = first + i * step;
        double x = a < 1.0 ? 1.0 : a;
        for (;;) {
            double nx = 0.5 * (x + a / x);
            steps++;
            if (!(nx < x))
                break;
            x = nx;
        }
        uint32_t r = (uint32_t)x;                       /* truncating cast */
        uint64_t ai = (uint64_t)a;                      /* 64-bit cast */
        if ((uint64_t)r * r > ai || (uint64_t)(r + 1) * (r + 1) <= ai)
            bad++;
        h = mix64(h, bits(x));
    }
    printf("  newton(%d values from %d): steps=%u bad=%u hash=%08x\n", n, (int)first, steps, bad, h);
    return h;
}

/* ---- conversions -------------------------------------------------------- */

/* FISTP with the current rounding control (round to nearest even here), as
 * lrint() does; a plain C cast truncates instead. */
static int32_t fist32(double d)
{
    int32_t r;
    __asm__("fistpl %0" : "=m"(r) : "t"(d) : "st");
    return r;
}

static int64_t fist64(double d)
{
    int64_t r;
    __asm__("fistpll %0" : "=m"(r) : "t"(d) : "st");
    return r;
}

static int16_t fist16(double d)
{
    int16_t r;
    __asm__("fistps %0" : "=m"(r) : "t"(d) : "st");
    return r;
}

static NOINLINE uint32_t conversions(int n, uint32_t h)
{
    int32_t sum_near = 0, sum_trunc = 0;
    uint32_t sum_u = 0, h16 = 0, h64 = 0, hf = 0;
    /* Quarter steps from -n/2 to +n/2: every .5 tie (ties go to even), both
     * signs, and values on either side of the ties. */
    for (int i = -2 * n; i <= 2 * n; i++) {
        double d = i * 0.25;
        sum_near += fist32(d) * (i & 7);
        sum_trunc += (int32_t)d * (i & 7);               /* FLDCW chop; FISTP */
        h16 = mix(h16, (uint16_t)fist16(d * 3.0));
        double big = d * 1048576.0 * 4096.0 + 0.5;       /* beyond 32 bits */
        h64 = mix64(h64, (uint64_t)(fist64(big) ^ (int64_t)big));
        if (d >= 0.0)
            sum_u += (uint32_t)(d * 1000000.0);          /* unsigned: via 64 bits */
        float f = (float)(d / 3.0);                      /* rounds to 24 bits */
        hf = mix(hf, fbits(f));
    }
    /* Integers -> double (FILD 16/32/64, unsigned via a 64-bit FILD) and
     * back, around the edges of each range. */
    static const int32_t i32s[] = { 0, 1, -1, 32767, -32768, 0x7fffffff, (int32_t)0x80000000, 123456789 };
    static const uint32_t u32s[] = { 0, 1, 0x7fffffff, 0x80000000u, 0xfffffffeu, 0xffffffffu };
    static const int64_t i64s[] = { 0, -1, 0x7fffffffffffffffll, (int64_t)0x8000000000000000ull,
                                    9007199254740993ll /* 2^53 + 1: not exact */ };
    for (unsigned k = 0; k < sizeof i32s / sizeof i32s[0]; k++) {
        double d = i32s[k];
        h = mix64(h, bits(d));
        h = mix(h, (uint32_t)(int32_t)d);
    }
    for (unsigned k = 0; k < sizeof u32s / sizeof u32s[0]; k++) {
        double d = u32s[k];
        h = mix64(h, bits(d));
        h = mix(h, (uint32_t)d);
    }
    for (unsigned k = 0; k < sizeof i64s / sizeof i64s[0]; k++) {
        double d = (double)i64s[k];
        h = mix64(h, bits(d));
        h = mix64(h, (uint64_t)fist64(d / 1024.0));
    }
    printf("  conversions(%d): nearest=%d trunc=%d uint=%u int16=%08x int64=%08x float=%08x\n", n,
           sum_near, sum_trunc, sum_u, h16, h64, hf);
    return mix(mix(mix(mix(mix(mix(h, h64), (uint32_t)sum_near), (uint32_t)sum_trunc), h16), sum_u), hf);
}

/* ---- comparisons -------------------------------------------------------- */

/* The values are computed at run time (the NaN and infinities from masked
 * invalid-operation and divide-by-zero exceptions), so the compiler cannot
 * fold the comparisons. */
static NOINLINE uint32_t comparisons(volatile double *zero_p, int seed, int rounds, uint32_t h)
{
    double zero = *zero_p;
    double v[12];
    v[0] = zero;
    v[1] = -zero;
    v[2] = 1.0 / zero;        /* +inf */
    v[3] = -1.0 / zero;       /* -inf */
    v[4] = zero / zero;       /* NaN (the x87's default QNaN) */
    v[5] = 1.0;
    v[6] = -1.0;
    v[7] = 1.0 / (3 + seed);
    v[8] = 0.1 + 0.2;         /* just above 0.3 */
    v[9] = 0.3;
    v[10] = 1e300;
    v[11] = -1e-300;
    const int n = sizeof v / sizeof v[0];

    uint32_t lt = 0, le = 0, eq = 0, ne = 0, gt = 0, ge = 0, un = 0;
    uint64_t sel = 0;
    for (int r = 0; r < rounds; r++) {
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                double a = v[i], b = v[j];
                lt += a < b;
                le += a <= b;
                eq += a == b;
                ne += a != b;
                gt += a > b;
                ge += a >= b;
                un += __builtin_isunordered(a, b);
                if (!__builtin_isunordered(a, b)) {
                    double mn = a < b ? a : b;     /* FCMOVcc or a branch */
                    double mx = a > b ? a : b;
                    double ab = __builtin_fabs(a - b);
                    /* Hashing the bits, not the values: catches the sign of
                     * zeros too. */
                    sel += bits(mn) ^ (bits(mx) >> 1) ^ (bits(ab) << (i & 3)) ^ (bits(-mn) >> (j & 7));
                }
            }
        }
        /* Perturb the finite values a little each round. */
        for (int i = 5; i < n; i++)
            v[i] = v[i] * 1.0009765625 - 0.0009765625;
    }
    printf("  comparisons(%d rounds): lt=%u le=%u eq=%u ne=%u gt=%u ge=%u unordered=%u sel=%016llx\n",
           rounds, lt, le, eq, ne, gt, ge, un, (unsigned long long)sel);
    return mix64(mix(mix(mix(mix(mix(mix(mix(h, lt), le), eq), ne), gt), ge), un), sel);
}

int guest_main(void)
{
    static volatile double zero = 0.0;
    uint16_t cw = FCW_DOUBLE;
    __asm__ volatile("fldcw %0" : : "m"(cw));

    printf("floatloop: %d iterations\n", ITERS);
    uint32_t total = 0;
    for (int it = 0; it < ITERS; it++) {
        /* Zoom towards the seahorse valley, a bit more every round. */
        double scale = 1.0;
        for (int k = 0; k < it % 16; k++)
            scale *= 0.75;
        double step = 3.0 / MB_W * scale;
        double x0 = -0.75 - MB_W / 2 * step, y0 = 0.1 - MB_H / 2 * step;
        uint32_t mh;
        uint32_t ms = mandelbrot(x0, y0, step, &mh);
        printf("iter %d: mandelbrot step=%016llx sum=%u hash=%08x\n", it, (unsigned long long)bits(step), ms, mh);
        total = mix(mix(total, ms), mh);
        total = harmonic(2000 + 97 * it, total);
        total = newton(it * 1000.0 + 0.5, 1.25, 400, total);
        total = conversions(100 + it, total);
        total = comparisons(&zero, it, 4, total);
    }

    uint16_t cw_after = 0;
    __asm__ volatile("fnstcw %0" : "=m"(cw_after));
    printf("floatloop: fcw=%04x total=%08x\n", cw_after, total);
    return 0;
}

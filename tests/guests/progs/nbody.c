/*
 * nbody.c - an n-body simulation and numerical integration on the x87 FPU.
 *
 * Plain C over doubles, as gcc -m32 -O2 compiles it for the x87 (no SSE):
 *
 *  - the five-body Jovian system of the Computer Language Benchmarks Game's
 *    n-body program: velocity and position updates by pairwise forces
 *    (FSUB/FMUL/FADD chains, FDIV, FSQRT), the system's energy before and
 *    after;
 *  - Simpson's rule for the integral of 4/(1+x^2) over [0, 1] (pi) and of a
 *    polynomial, with a growing number of intervals (FILD of the loop
 *    counter, FDIV per point);
 *  - a trapezoidal integration of a damped oscillator's ODE by the
 *    semi-implicit Euler method (long dependency chains through memory).
 *
 * As in floatloop.c, the x87 precision control is set to 53 bits first so
 * that the results do not depend on where gcc keeps values (80-bit
 * registers or 64-bit spills), and doubles are printed as their IEEE bits.
 */
#include "io.h"

#ifndef ITERS
#define ITERS 2
#endif

#define NOINLINE __attribute__((noinline))
#define FCW_DOUBLE 0x027f /* every exception masked, 53-bit precision, round to nearest */

static uint64_t bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

static uint32_t mix(uint32_t h, uint64_t v)
{
    h = (h ^ (uint32_t)v) * 16777619u;
    return (h ^ (uint32_t)(v >> 32)) * 16777619u;
}

/* FSQRT: the guest has no libm (and sqrt() could set errno). */
static inline double fsqrt(double x)
{
    __asm__("fsqrt" : "+t"(x));
    return x;
}

/* ---- n-body ------------------------------------------------------------- */

#define PI 3.141592653589793
#define SOLAR_MASS (4 * PI * PI)
#define DAYS_PER_YEAR 365.24
#define NBODIES 5

struct body {
    double x, y, z, vx, vy, vz, mass;
};

static void init_bodies(struct body *b)
{
    static const struct body init[NBODIES] = {
        {0, 0, 0, 0, 0, 0, SOLAR_MASS},
        {4.84143144246472090e+00, -1.16032004402742839e+00, -1.03622044471123109e-01,
         1.66007664274403694e-03 * DAYS_PER_YEAR, 7.69901118419740425e-03 * DAYS_PER_YEAR,
         -6.90460016972063023e-05 * DAYS_PER_YEAR, 9.54791938424326609e-04 * SOLAR_MASS},
        {8.34336671824457987e+00, 4.12479856412430479e+00, -4.03523417114321381e-01,
         -2.76742510726862411e-03 * DAYS_PER_YEAR, 4.99852801234917238e-03 * DAYS_PER_YEAR,
         2.30417297573763929e-05 * DAYS_PER_YEAR, 2.85885980666130812e-04 * SOLAR_MASS},
        {1.28943695621391310e+01, -1.51111514016986312e+01, -2.23307578892655734e-01,
         2.96460137564761618e-03 * DAYS_PER_YEAR, 2.37847173959480950e-03 * DAYS_PER_YEAR,
         -2.96589568540237556e-05 * DAYS_PER_YEAR, 4.36624404335156298e-05 * SOLAR_MASS},
        {1.53796971148509165e+01, -2.59193146099879641e+01, 1.79258772950371181e-01,
         2.68067772490389322e-03 * DAYS_PER_YEAR, 1.62824170038242295e-03 * DAYS_PER_YEAR,
         -9.51592254519715870e-05 * DAYS_PER_YEAR, 5.15138902046611451e-05 * SOLAR_MASS},
    };
    memcpy(b, init, sizeof init);
    /* Offset the momentum so that the system's centre of mass is at rest. */
    double px = 0, py = 0, pz = 0;
    for (int i = 0; i < NBODIES; i++) {
        px += b[i].vx * b[i].mass;
        py += b[i].vy * b[i].mass;
        pz += b[i].vz * b[i].mass;
    }
    b[0].vx = -px / SOLAR_MASS;
    b[0].vy = -py / SOLAR_MASS;
    b[0].vz = -pz / SOLAR_MASS;
}

static NOINLINE void advance(struct body *b, double dt)
{
    for (int i = 0; i < NBODIES; i++) {
        for (int j = i + 1; j < NBODIES; j++) {
            double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
            double d2 = dx * dx + dy * dy + dz * dz;
            double mag = dt / (d2 * fsqrt(d2));
            b[i].vx -= dx * b[j].mass * mag;
            b[i].vy -= dy * b[j].mass * mag;
            b[i].vz -= dz * b[j].mass * mag;
            b[j].vx += dx * b[i].mass * mag;
            b[j].vy += dy * b[i].mass * mag;
            b[j].vz += dz * b[i].mass * mag;
        }
    }
    for (int i = 0; i < NBODIES; i++) {
        b[i].x += dt * b[i].vx;
        b[i].y += dt * b[i].vy;
        b[i].z += dt * b[i].vz;
    }
}

static NOINLINE double energy(const struct body *b)
{
    double e = 0;
    for (int i = 0; i < NBODIES; i++) {
        e += 0.5 * b[i].mass * (b[i].vx * b[i].vx + b[i].vy * b[i].vy + b[i].vz * b[i].vz);
        for (int j = i + 1; j < NBODIES; j++) {
            double dx = b[i].x - b[j].x, dy = b[i].y - b[j].y, dz = b[i].z - b[j].z;
            e -= b[i].mass * b[j].mass / fsqrt(dx * dx + dy * dy + dz * dz);
        }
    }
    return e;
}

static uint32_t nbody(int steps, uint32_t h)
{
    struct body b[NBODIES];
    init_bodies(b);
    const double e0 = energy(b);
    for (int s = 0; s < steps; s++)
        advance(b, 0.01);
    const double e1 = energy(b);
    printf("  nbody(%d steps): energy %016llx -> %016llx x0=%016llx\n", steps, (unsigned long long)bits(e0),
           (unsigned long long)bits(e1), (unsigned long long)bits(b[0].x));
    return mix(mix(mix(h, bits(e0)), bits(e1)), bits(b[4].vz));
}

/* ---- integration -------------------------------------------------------- */

static double pi_integrand(double x) { return 4.0 / (1.0 + x * x); }
static double poly(double x) { return ((3.0 * x - 2.0) * x + 0.5) * x - 7.25; }

/* Simpson's rule over [a, b] with n (even) intervals. */
static NOINLINE double simpson(double (*f)(double), double a, double b, int n)
{
    const double h = (b - a) / n;
    double odd = 0, even = 0;
    for (int i = 1; i < n; i += 2)
        odd += f(a + i * h);
    for (int i = 2; i < n; i += 2)
        even += f(a + i * h);
    return (f(a) + f(b) + 4 * odd + 2 * even) * h / 3;
}

/* x'' = -k x - c x' by semi-implicit Euler; returns the final position. */
static NOINLINE double oscillator(int steps, double *v_out)
{
    double x = 1.0, v = 0.0;
    const double k = 4.0, c = 0.05, dt = 0.001;
    for (int i = 0; i < steps; i++) {
        v += (-k * x - c * v) * dt;
        x += v * dt;
    }
    *v_out = v;
    return x;
}

static uint32_t integrate(int n, uint32_t h)
{
    const double pi = simpson(pi_integrand, 0.0, 1.0, n);
    const double p = simpson(poly, -1.5, 2.0, n);
    double v;
    const double x = oscillator(50 * n, &v);
    printf("  integrate(n=%d): pi %016llx poly %016llx oscillator x=%016llx v=%016llx\n", n,
           (unsigned long long)bits(pi), (unsigned long long)bits(p), (unsigned long long)bits(x),
           (unsigned long long)bits(v));
    return mix(mix(mix(mix(h, bits(pi)), bits(p)), bits(x)), bits(v));
}

int guest_main(void)
{
    uint16_t cw = FCW_DOUBLE;
    __asm__ volatile("fldcw %0" : : "m"(cw));

    printf("nbody: %d iterations\n", ITERS);
    uint32_t total = 2166136261u;
    for (int it = 0; it < ITERS; it++) {
        printf("iter %d:\n", it);
        total = nbody(2000 + 500 * it, total);
        total = integrate(1000 + 250 * it, total);
    }
    printf("nbody: total=%08x\n", total);
    return 0;
}

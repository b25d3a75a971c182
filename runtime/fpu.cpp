// Guest x87 FPU: host-executed operations, tag word, checks, and the
// environment/state save and restore routines (see fpu.h).
#include "runtime/fpu.h"

#include "runtime/cpu.h"
#include "runtime/exceptions.h"

namespace vmm::fpu {

std::function<void(Cpu&)> ferr_signal;

// --- State. ---

uint16_t State::full_tag_word() const {
  uint16_t tw = 0;
  for (unsigned j = 0; j < 8; ++j) {
    unsigned tag = 3;
    if ((ftw() >> j) & 1) tag = tag_of(st((j - top()) & 7));
    tw = static_cast<uint16_t>(tw | (tag << (2 * j)));
  }
  return tw;
}

void State::set_full_tag_word(uint16_t tw) {
  uint8_t a = 0;
  for (unsigned j = 0; j < 8; ++j)
    if (((tw >> (2 * j)) & 3) != 3) a = static_cast<uint8_t>(a | (1u << j));
  set_ftw(a);
}

void State::init() {
  set_fcw(kFcwInit);
  set_fsw(0);
  set_ftw(0);
  set_fop(0);
  set_fip(0);
  set_fcs(0);
  set_fdp(0);
  set_fds(0);
}

void reset(FpuState& f) {
  std::memset(f.fxsave, 0, sizeof f.fxsave);
  State(f).init();
  const uint32_t mxcsr = kMxcsrInit, mask = kMxcsrDefaultMask;
  std::memcpy(f.fxsave + kOffMxcsr, &mxcsr, 4);
  std::memcpy(f.fxsave + kOffMxcsrMask, &mask, 4);
}

// --- Host execution. ---
namespace host {
namespace {

// The host control word for a guest operation: the guest's PC and RC, every
// exception masked (a guest's unmasked exception is reported by the status
// flags and handled in software, never as a host SIGFPE), bit 6 as FNINIT
// leaves it.
inline uint16_t host_cw(uint16_t fcw) { return static_cast<uint16_t>((fcw & (kPc | kRc)) | 0x007F); }

// The host's exception flags are sticky, and clearing them (FNCLEX) costs
// more than the operation itself (15-60 ns against 3 ns on the hosts
// measured). So they are left set between operations, on one condition
// that keeps every report exact: before an operation the host may hold
// only flags that the guest's FSW already has and its FCW masks (`keep`,
// State::host_keep). Anything else (flags of an earlier operation the
// guest did not take, or cleared since with FNCLEX, FLDENV, FNINIT,
// FRSTOR, FXRSTOR; another guest's flags in the same thread under
// --lockstep; internal steps' flags) is cleared first. The status word an
// operation returns is then its own flags plus some of `keep`: the callers
// OR flags into the guest's FSW (where the kept ones are set already) and
// act only on unmasked ones (never kept ones), so the result is the same as
// with the host cleared before each operation. The VMM itself runs no x87
// code, so the host flags it leaves behind matter to no one.
//
// Around the operation: save the host control word and load the guest's
// precision and rounding control unless the host word already is that
// (FLDCW costs about 2 ns; 037FH is both the usual host word and the usual
// guest one), restore it after. %[t] holds the host control word across
// the body.
#define X87_PRO                                            \
  "fnstcw %[hcw]\n\t"                                      \
  "movzwl %[hcw], %k[t]\n\tcmpw %[gcw], %w[t]\n\tje 7f\n\t" \
  "fldcw %[gcw]\n7:\n\t"
#define X87_EPI "\n\tcmpw %[gcw], %w[t]\n\tje 6f\n\tfldcw %[hcw]\n6:"
#define X87_CLOBBERS "cc", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)"
#define X87_UNPAREN(...) __VA_ARGS__
// Runs `body` (which must store the status word with `fnstsw %[sw]` right
// after the operation and leave the host stack empty) with `keep` and `gcw`
// in scope. OUTS and INS are parenthesised operand lists, each starting
// with a comma.
#define X87_RUN(body, OUTS, INS, ...)                                              \
  do {                                                                            \
    uint16_t hsw_, hcw_;                                                          \
    uint32_t t_;                                                                  \
    asm volatile("fnstsw %0" : "=m"(hsw_));                                       \
    if (hsw_ & 0x7F & ~keep) [[unlikely]] {                                       \
      asm volatile("fnclex");                                                     \
    }                                                                             \
    asm volatile(X87_PRO body X87_EPI                                             \
                 : [hcw] "=m"(hcw_), [sw] "=m"(sw), [t] "=&r"(t_)X87_UNPAREN OUTS \
                 : [gcw] "m"(gcw)X87_UNPAREN INS                                  \
                 : X87_CLOBBERS __VA_ARGS__);                                     \
  } while (0)

}  // namespace

uint16_t arith(Arith op, uint16_t fcw, const F80& a, const F80& b, F80& r, uint16_t keep) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
  // AT&T "fsub %st(1), %st" is ST(0) <- ST(0) - ST(1) (destination %st, so no
  // operand-order quirk); a is loaded last and so is ST(0).
#define X87_ARITH(insn)                                                                             \
  X87_RUN("fldt %[b]\n\tfldt %[a]\n\t" insn " %%st(1), %%st\n\tfnstsw %[sw]\n\tfstpt %[r]\n\tfstp %%st(0)", \
          (, [r] "=m"(r)), (, [a] "m"(a), [b] "m"(b)))
  switch (op) {
    case Arith::kAdd: X87_ARITH("fadd"); break;
    case Arith::kMul: X87_ARITH("fmul"); break;
    case Arith::kSub: X87_ARITH("fsub"); break;
    case Arith::kSubr: X87_ARITH("fsubr"); break;
    case Arith::kDiv: X87_ARITH("fdiv"); break;
    case Arith::kDivr: X87_ARITH("fdivr"); break;
  }
#undef X87_ARITH
  return sw;
}

// FADD m32fp etc.: the memory forms, suffix s (m32fp), l (m64fp); FIADD
// m16int: fi..s, m32int: fi..l.
#define X87_ARITH_M(insn)                                                                              \
  X87_RUN("fldt %[a]\n\t" insn " %[m]\n\tfnstsw %[sw]\n\tfstpt %[r]", (, [r] "=m"(r)), (, [a] "m"(a), [m] "m"(m)))
#define X87_ARITH_M_SWITCH(pre, suf)                                 \
  switch (op) {                                                      \
    case Arith::kAdd: X87_ARITH_M(pre "add" suf); break;             \
    case Arith::kMul: X87_ARITH_M(pre "mul" suf); break;             \
    case Arith::kSub: X87_ARITH_M(pre "sub" suf); break;             \
    case Arith::kSubr: X87_ARITH_M(pre "subr" suf); break;           \
    case Arith::kDiv: X87_ARITH_M(pre "div" suf); break;             \
    case Arith::kDivr: X87_ARITH_M(pre "divr" suf); break;           \
  }

uint16_t arith_m32(Arith op, uint16_t fcw, const F80& a, uint32_t m, F80& r, uint16_t keep) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
  X87_ARITH_M_SWITCH("f", "s")
  return sw;
}
uint16_t arith_m64(Arith op, uint16_t fcw, const F80& a, uint64_t m, F80& r, uint16_t keep) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
  X87_ARITH_M_SWITCH("f", "l")
  return sw;
}
uint16_t arith_i16(Arith op, uint16_t fcw, const F80& a, int16_t m, F80& r, uint16_t keep) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
  X87_ARITH_M_SWITCH("fi", "s")
  return sw;
}
uint16_t arith_i32(Arith op, uint16_t fcw, const F80& a, int32_t m, F80& r, uint16_t keep) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
  X87_ARITH_M_SWITCH("fi", "l")
  return sw;
}
#undef X87_ARITH_M_SWITCH
#undef X87_ARITH_M

uint16_t unary(Unary op, uint16_t fcw, const F80& a, F80& r, uint16_t keep) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
#define X87_UNARY(insn) \
  X87_RUN("fldt %[a]\n\t" insn "\n\tfnstsw %[sw]\n\tfstpt %[r]", (, [r] "=m"(r)), (, [a] "m"(a)))
  switch (op) {
    case Unary::kSqrt: X87_UNARY("fsqrt"); break;
    case Unary::kRndint: X87_UNARY("frndint"); break;
    case Unary::kSin: X87_UNARY("fsin"); break;  // C2=1: ST(0) left unchanged.
    case Unary::kCos: X87_UNARY("fcos"); break;
    case Unary::kF2xm1: X87_UNARY("f2xm1"); break;
  }
#undef X87_UNARY
  return sw;
}

bool keeps_c1(C1Case which) {
  // Two valid registers, C1 set by FLDENV, then the instruction; FXSAVE and
  // FXRSTOR keep the host's own state around the probe.
  auto probe = [](C1Case c) {
    alignas(16) uint8_t saved[512];
    uint8_t env[28];
    uint16_t sw;
    asm volatile("fxsave %0\n\tfninit\n\tfld1\n\tfldpi\n\tfnstenv %1" : "=m"(saved), "=m"(env));
    env[5] |= kC1 >> 8;
    if (c == C1Case::kFcmov)
      asm volatile("fldenv %1\n\tfcmovne %%st(1), %%st\n\tfnstsw %0\n\tfxrstor %2"
                   : "=m"(sw)
                   : "m"(env), "m"(saved)
                   : "cc", "memory", "st", "st(1)");
    else if (c == C1Case::kFfree)
      asm volatile("fldenv %1\n\tffree %%st(1)\n\tfnstsw %0\n\tfxrstor %2"
                   : "=m"(sw)
                   : "m"(env), "m"(saved)
                   : "cc", "memory", "st", "st(1)");
    else
      asm volatile("fldenv %1\n\tfcomi %%st(1), %%st\n\tfnstsw %0\n\tfxrstor %2"
                   : "=m"(sw)
                   : "m"(env), "m"(saved)
                   : "cc", "memory", "st", "st(1)");
    return (sw & kC1) != 0;
  };
  static const bool kept[3] = {probe(C1Case::kFcomi), probe(C1Case::kFcmov), probe(C1Case::kFfree)};
  return kept[static_cast<unsigned>(which)];
}

uint16_t binary(Binary op, uint16_t fcw, const F80& a, const F80& b, F80& r, uint16_t keep, uint16_t cc) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
  // The host's C0 and C3 set to cc's by a comparison (FUCOMPP: p > q gives
  // neither, p < q C0, p = q C3, unordered all three and C2, which FPREM
  // writes anyway; FUCOM raises no exception for a QNaN, SDM Vol. 2A FUCOM).
  const bool c0 = cc & kC0, c3 = cc & kC3;
  const F80 p = c0 && c3 ? kIndefinite : c0 ? F80{} : kOne;
  const F80 q = c0 && !c3 ? kOne : c3 && !c0 ? kOne : F80{};
  // FPREM/FPREM1 after the comparison that sets the host's C0-C3.
#define X87_PREM(insn)                                                                                    \
  X87_RUN("fldt %[q]\n\tfldt %[p]\n\tfucompp\n\tfldt %[b]\n\tfldt %[a]\n\t" insn                    \
          "\n\tfnstsw %[sw]\n\tfstpt %[r]\n\tfstp %%st(0)",                                             \
          (, [r] "=m"(r)), (, [a] "m"(a), [b] "m"(b), [p] "m"(p), [q] "m"(q)))
  // Two values in, the result in ST(0) and ST(1) still to drop.
#define X87_KEEP(insn)                                                                            \
  X87_RUN("fldt %[b]\n\tfldt %[a]\n\t" insn "\n\tfnstsw %[sw]\n\tfstpt %[r]\n\tfstp %%st(0)", \
          (, [r] "=m"(r)), (, [a] "m"(a), [b] "m"(b)))
  // Two values in, the instruction pops one: the result is all that is left.
#define X87_POP(insn) \
  X87_RUN("fldt %[b]\n\tfldt %[a]\n\t" insn "\n\tfnstsw %[sw]\n\tfstpt %[r]", (, [r] "=m"(r)), (, [a] "m"(a), [b] "m"(b)))
  switch (op) {
    case Binary::kScale: X87_KEEP("fscale"); break;
    case Binary::kPrem: X87_PREM("fprem"); break;
    case Binary::kPrem1: X87_PREM("fprem1"); break;
    case Binary::kPatan: X87_POP("fpatan"); break;
    case Binary::kYl2x: X87_POP("fyl2x"); break;
    case Binary::kYl2xp1: X87_POP("fyl2xp1"); break;
  }
#undef X87_KEEP
#undef X87_POP
#undef X87_PREM
  return sw;
}

// FPTAN and FSINCOS push a second value unless the operand is out of range
// (C2 set, SDM Vol. 2A FPTAN/FSINCOS), so the host stack depth depends on C2.
#define X87_TWO_RESULTS(insn)                                                                   \
  X87_RUN("fldt %[a]\n\t" insn                                                                  \
          "\n\tfnstsw %%ax\n\tmovw %%ax, %[sw]\n\ttestb $4, %%ah\n\tjnz 1f\n\tfstpt %[r1]\n\t" \
          "fstpt %[r0]\n\tjmp 2f\n1:\n\tfstpt %[r0]\n2:",                                       \
          (, [r0] "=m"(r0), [r1] "=m"(r1)), (, [a] "m"(a)), , "ax")

uint16_t ptan(uint16_t fcw, const F80& a, F80& r0, F80& r1, uint16_t keep) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
  r1 = F80{};
  X87_TWO_RESULTS("fptan");
  return sw;
}

uint16_t sincos(uint16_t fcw, const F80& a, F80& r0, F80& r1, uint16_t keep) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
  r1 = F80{};
  X87_TWO_RESULTS("fsincos");
  return sw;
}
#undef X87_TWO_RESULTS

uint16_t xtract(uint16_t fcw, const F80& a, F80& exponent, F80& significand, uint16_t keep) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
  X87_RUN("fldt %[a]\n\tfxtract\n\tfnstsw %[sw]\n\tfstpt %[s]\n\tfstpt %[e]",
          (, [e] "=m"(exponent), [s] "=m"(significand)), (, [a] "m"(a)));
  return sw;
}

uint16_t com(bool unordered, const F80& a, const F80& b, uint16_t keep) {
  const uint16_t gcw = kFcwInit;
  uint16_t sw;
  if (unordered) {
    X87_RUN("fldt %[b]\n\tfldt %[a]\n\tfucom %%st(1)\n\tfnstsw %[sw]\n\tfstp %%st(0)\n\tfstp %%st(0)", (),
            (, [a] "m"(a), [b] "m"(b)));
  } else {
    X87_RUN("fldt %[b]\n\tfldt %[a]\n\tfcom %%st(1)\n\tfnstsw %[sw]\n\tfstp %%st(0)\n\tfstp %%st(0)", (),
            (, [a] "m"(a), [b] "m"(b)));
  }
  return sw;
}

#define X87_COM_M(insn) \
  X87_RUN("fldt %[a]\n\t" insn " %[m]\n\tfnstsw %[sw]\n\tfstp %%st(0)", (), (, [a] "m"(a), [m] "m"(m)))

uint16_t com_m32(const F80& a, uint32_t m, uint16_t keep) {
  const uint16_t gcw = kFcwInit;
  uint16_t sw;
  X87_COM_M("fcoms");
  return sw;
}
uint16_t com_m64(const F80& a, uint64_t m, uint16_t keep) {
  const uint16_t gcw = kFcwInit;
  uint16_t sw;
  X87_COM_M("fcoml");
  return sw;
}
uint16_t com_i16(const F80& a, int16_t m, uint16_t keep) {
  const uint16_t gcw = kFcwInit;
  uint16_t sw;
  X87_COM_M("ficoms");
  return sw;
}
uint16_t com_i32(const F80& a, int32_t m, uint16_t keep) {
  const uint16_t gcw = kFcwInit;
  uint16_t sw;
  X87_COM_M("ficoml");
  return sw;
}
#undef X87_COM_M

uint16_t tst(const F80& a, uint16_t keep) {
  const uint16_t gcw = kFcwInit;
  uint16_t sw;
  X87_RUN("fldt %[a]\n\tftst\n\tfnstsw %[sw]\n\tfstp %%st(0)", (), (, [a] "m"(a)));
  return sw;
}

uint16_t xam(const F80& a, uint16_t keep) {
  const uint16_t gcw = kFcwInit;
  uint16_t sw;
  X87_RUN("fldt %[a]\n\tfxam\n\tfnstsw %[sw]\n\tfstp %%st(0)", (), (, [a] "m"(a)));
  return sw;
}

#define X87_LOAD(insn) X87_RUN(insn " %[m]\n\tfnstsw %[sw]\n\tfstpt %[r]", (, [r] "=m"(r)), (, [m] "m"(m)))

uint16_t load_m32(uint32_t m, F80& r, uint16_t keep) {
  const uint16_t gcw = kFcwInit;
  uint16_t sw;
  X87_LOAD("flds");
  return sw;
}
uint16_t load_m64(uint64_t m, F80& r, uint16_t keep) {
  const uint16_t gcw = kFcwInit;
  uint16_t sw;
  X87_LOAD("fldl");
  return sw;
}
uint16_t load_i16(int16_t m, F80& r, uint16_t keep) {
  const uint16_t gcw = kFcwInit;
  uint16_t sw;
  X87_LOAD("filds");
  return sw;
}
uint16_t load_i32(int32_t m, F80& r, uint16_t keep) {
  const uint16_t gcw = kFcwInit;
  uint16_t sw;
  X87_LOAD("fildl");
  return sw;
}
uint16_t load_i64(int64_t m, F80& r, uint16_t keep) {
  const uint16_t gcw = kFcwInit;
  uint16_t sw;
  X87_LOAD("fildll");
  return sw;
}
uint16_t load_bcd(const uint8_t (&m)[10], F80& r, uint16_t keep) {
  const uint16_t gcw = kFcwInit;
  uint16_t sw;
  X87_LOAD("fbld");
  return sw;
}
#undef X87_LOAD

// The popping store leaves the host stack empty; fnstsw follows it.
#define X87_STORE(insn) X87_RUN("fldt %[a]\n\t" insn " %[m]\n\tfnstsw %[sw]", (, [m] "=m"(m)), (, [a] "m"(a)))

uint16_t store_m32(uint16_t fcw, const F80& a, uint32_t& m, uint16_t keep) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
  X87_STORE("fstps");
  return sw;
}
uint16_t store_m64(uint16_t fcw, const F80& a, uint64_t& m, uint16_t keep) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
  X87_STORE("fstpl");
  return sw;
}
uint16_t store_i16(uint16_t fcw, const F80& a, int16_t& m, uint16_t keep) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
  X87_STORE("fistps");
  return sw;
}
uint16_t store_i32(uint16_t fcw, const F80& a, int32_t& m, uint16_t keep) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
  X87_STORE("fistpl");
  return sw;
}
uint16_t store_i64(uint16_t fcw, const F80& a, int64_t& m, uint16_t keep) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
  X87_STORE("fistpll");
  return sw;
}
uint16_t store_i16_trunc(const F80& a, int16_t& m, uint16_t keep) {
  const uint16_t gcw = kFcwInit;
  uint16_t sw;
  X87_STORE("fisttps");
  return sw;
}
uint16_t store_i32_trunc(const F80& a, int32_t& m, uint16_t keep) {
  const uint16_t gcw = kFcwInit;
  uint16_t sw;
  X87_STORE("fisttpl");
  return sw;
}
uint16_t store_i64_trunc(const F80& a, int64_t& m, uint16_t keep) {
  const uint16_t gcw = kFcwInit;
  uint16_t sw;
  X87_STORE("fisttpll");
  return sw;
}
uint16_t store_bcd(uint16_t fcw, const F80& a, uint8_t (&m)[10], uint16_t keep) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
  X87_STORE("fbstp");
  return sw;
}
#undef X87_STORE

uint16_t constant(Const k, uint16_t fcw, F80& r, uint16_t keep) {
  const uint16_t gcw = host_cw(fcw);
  uint16_t sw;
#define X87_CONST(insn) X87_RUN(insn "\n\tfnstsw %[sw]\n\tfstpt %[r]", (, [r] "=m"(r)), ())
  switch (k) {
    case Const::kOne: X87_CONST("fld1"); break;
    case Const::kL2t: X87_CONST("fldl2t"); break;
    case Const::kL2e: X87_CONST("fldl2e"); break;
    case Const::kPi: X87_CONST("fldpi"); break;
    case Const::kLg2: X87_CONST("fldlg2"); break;
    case Const::kLn2: X87_CONST("fldln2"); break;
    case Const::kZero: X87_CONST("fldz"); break;
  }
#undef X87_CONST
  return sw;
}

#undef X87_RUN
#undef X87_UNPAREN
#undef X87_CLOBBERS
#undef X87_EPI
#undef X87_PRO

}  // namespace host

// --- Checks. ---

void check_nm(const Cpu& cpu) {
  // SDM Vol. 3A, 2.5 and Table 2-2: EM=1 (no FPU, emulate) or TS=1 (task
  // switched, state not yet loaded) makes every x87 instruction fault.
  if (cpu.s.cr0 & (cr0::EM | cr0::TS)) raise_exception(kNM);
}

void check_nm_wait(const Cpu& cpu) {
  // WAIT/FWAIT faults only when MP and TS are both set; EM does not matter.
  if ((cpu.s.cr0 & (cr0::MP | cr0::TS)) == (cr0::MP | cr0::TS)) raise_exception(kNM);
}

void check_pending(Cpu& cpu) {
  State f(cpu.s.fpu);
  if (!(f.fsw() & kES)) [[likely]]
    return;
  // SDM Vol. 1, 8.7.1: native mode (CR0.NE=1) reports the pending unmasked
  // exception as #MF before the waiting instruction; MS-DOS-compatible mode
  // asserts FERR#, which the PC routes to IRQ 13 (8.7.2, Appendix D).
  if (cpu.s.cr0 & cr0::NE) raise_exception(kMF);
  if (ferr_signal) ferr_signal(cpu);
}

// --- Memory. ---

void read_bytes(Cpu& cpu, uint8_t seg, uint32_t off, uint8_t* out, unsigned n) {
  unsigned i = 0;
  for (; i + 4 <= n; i += 4) {
    const uint32_t v = cpu.read<uint32_t>(seg, off + i);
    std::memcpy(out + i, &v, 4);
  }
  if (i + 2 <= n) {
    const uint16_t v = cpu.read<uint16_t>(seg, off + i);
    std::memcpy(out + i, &v, 2);
    i += 2;
  }
  if (i < n) out[i] = cpu.read<uint8_t>(seg, off + i);
}

void write_bytes(Cpu& cpu, uint8_t seg, uint32_t off, const uint8_t* in, unsigned n) {
  const uint32_t lin = cpu.linear(seg, off);
  if ((lin & 0xFFF) + n > 0x1000) cpu.mmu.probe_write(lin, n, cpu.mmu_idx());
  unsigned i = 0;
  for (; i + 4 <= n; i += 4) {
    uint32_t v;
    std::memcpy(&v, in + i, 4);
    cpu.write<uint32_t>(seg, off + i, v);
  }
  if (i + 2 <= n) {
    uint16_t v;
    std::memcpy(&v, in + i, 2);
    cpu.write<uint16_t>(seg, off + i, v);
    i += 2;
  }
  if (i < n) cpu.write<uint8_t>(seg, off + i, in[i]);
}

// --- Environment images. ---
namespace {

inline void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
inline void put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }
inline uint16_t get16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}
inline uint32_t get32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

// Real-address and virtual-8086 mode use the real-mode layouts, whose
// pointers are linear addresses (selector * 16 + offset).
inline bool real_layout(const Cpu& cpu) { return !(cpu.s.cr0 & cr0::PE) || (cpu.s.eflags & flag::VM); }

// Builds the environment image (14 or 28 bytes) into `e`.
unsigned build_env(const Cpu& cpu, State& f, uint8_t* e, bool o16) {
  const uint16_t fcw = f.fcw(), fsw = f.fsw(), ftw = f.full_tag_word(), fop = f.fop();
  const bool real = real_layout(cpu);
  const uint32_t ip = real ? (uint32_t{f.fcs()} << 4) + f.fip() : f.fip();
  const uint32_t dp = real ? (uint32_t{f.fds()} << 4) + f.fdp() : f.fdp();
  if (o16) {
    // Figures 8-11 (protected mode) and 8-12 (real mode): 14 bytes.
    put16(e + 0, fcw);
    put16(e + 2, fsw);
    put16(e + 4, ftw);
    put16(e + 6, static_cast<uint16_t>(ip));
    if (real) {
      put16(e + 8, static_cast<uint16_t>(((ip >> 16) & 0xF) << 12 | (fop & 0x7FF)));
      put16(e + 10, static_cast<uint16_t>(dp));
      put16(e + 12, static_cast<uint16_t>(((dp >> 16) & 0xF) << 12));
    } else {
      put16(e + 8, f.fcs());
      put16(e + 10, static_cast<uint16_t>(dp));
      put16(e + 12, f.fds());
    }
    return 14;
  }
  // Figures 8-9 (protected mode) and 8-10 (real mode): 28 bytes. The
  // reserved upper halves read as ones, as a real x87 writes them.
  put32(e + 0, 0xFFFF0000u | fcw);
  put32(e + 4, 0xFFFF0000u | fsw);
  put32(e + 8, 0xFFFF0000u | ftw);
  if (real) {
    put32(e + 12, 0xFFFF0000u | (ip & 0xFFFF));
    put32(e + 16, ((ip >> 16) << 12) | (fop & 0x7FF));
    put32(e + 20, 0xFFFF0000u | (dp & 0xFFFF));
    put32(e + 24, (dp >> 16) << 12);
  } else {
    put32(e + 12, ip);
    put32(e + 16, f.fcs() | (uint32_t{fop} & 0x7FF) << 16);
    put32(e + 20, dp);
    put32(e + 24, 0xFFFF0000u | f.fds());
  }
  return 28;
}

// Loads an environment image; the tags are taken only as empty/non-empty.
void load_env(const Cpu& cpu, State& f, const uint8_t* e, bool o16) {
  const bool real = real_layout(cpu);
  uint16_t fcw, fsw, ftw, fop;
  uint32_t ip, dp;
  uint16_t cs = 0, ds = 0;
  if (o16) {
    fcw = get16(e + 0);
    fsw = get16(e + 2);
    ftw = get16(e + 4);
    ip = get16(e + 6);
    if (real) {
      const uint16_t w = get16(e + 8);
      ip |= static_cast<uint32_t>(w >> 12) << 16;
      fop = w & 0x7FF;
      dp = get16(e + 10) | uint32_t{static_cast<uint16_t>(get16(e + 12) >> 12)} << 16;
    } else {
      cs = get16(e + 8);
      fop = f.fop();  // The 16-bit protected-mode image has no opcode field.
      dp = get16(e + 10);
      ds = get16(e + 12);
    }
  } else {
    fcw = get16(e + 0);
    fsw = get16(e + 4);
    ftw = get16(e + 8);
    if (real) {
      ip = (get32(e + 12) & 0xFFFF) | ((get32(e + 16) >> 12) & 0xFFFF) << 16;
      fop = get32(e + 16) & 0x7FF;
      dp = (get32(e + 20) & 0xFFFF) | ((get32(e + 24) >> 12) & 0xFFFF) << 16;
    } else {
      ip = get32(e + 12);
      cs = get16(e + 16);
      fop = (get32(e + 16) >> 16) & 0x7FF;
      dp = get32(e + 20);
      ds = get16(e + 24);
    }
  }
  f.set_fcw(static_cast<uint16_t>((fcw & kFcwWritable) | kFcwFixed1));
  f.set_fsw(fsw);
  f.update_es();
  f.set_full_tag_word(ftw);
  f.set_fop(fop);
  // Real-mode images hold linear addresses; keep them with selector 0.
  f.set_fip(ip);
  f.set_fcs(cs);
  f.set_fdp(dp);
  f.set_fds(ds);
}

}  // namespace

void fnstenv(Cpu& cpu, uint8_t seg, uint32_t off, bool o16) {
  State f(cpu.s.fpu);
  uint8_t e[28];
  const unsigned n = build_env(cpu, f, e, o16);
  write_bytes(cpu, seg, off, e, n);
  // SDM Vol. 2A FSTENV: "then masks all floating-point exceptions".
  f.set_fcw(static_cast<uint16_t>(f.fcw() | kMasks));
}

void fldenv(Cpu& cpu, uint8_t seg, uint32_t off, bool o16) {
  uint8_t e[28];
  read_bytes(cpu, seg, off, e, o16 ? 14 : 28);
  State f(cpu.s.fpu);
  load_env(cpu, f, e, o16);
}

void fnsave(Cpu& cpu, uint8_t seg, uint32_t off, bool o16) {
  // SDM Vol. 2A FSAVE: the environment, then ST(0)..ST(7) as 80-bit values
  // (94 or 108 bytes), then the FPU is initialised as by FNINIT.
  State f(cpu.s.fpu);
  uint8_t img[108];
  const unsigned n = build_env(cpu, f, img, o16);
  for (unsigned i = 0; i < 8; ++i) {
    const F80 v = f.st(i);
    std::memcpy(img + n + 10 * i, &v.mant, 8);
    std::memcpy(img + n + 10 * i + 8, &v.se, 2);
  }
  write_bytes(cpu, seg, off, img, n + 80);
  f.init();
}

void frstor(Cpu& cpu, uint8_t seg, uint32_t off, bool o16) {
  const unsigned n = o16 ? 14 : 28;
  uint8_t img[108];
  read_bytes(cpu, seg, off, img, n + 80);
  State f(cpu.s.fpu);
  // Load the environment first: the register slots are in stack order, so
  // TOP does not affect where ST(i) goes.
  load_env(cpu, f, img, o16);
  for (unsigned i = 0; i < 8; ++i) {
    F80 v;
    std::memcpy(&v.mant, img + n + 10 * i, 8);
    std::memcpy(&v.se, img + n + 10 * i + 8, 2);
    f.put(i, v);
  }
}

void fxsave(Cpu& cpu, uint8_t seg, uint32_t off) {
  // SDM Vol. 2A FXSAVE: 512-byte area, 16-byte aligned or #GP(0)
  // "regardless of segment" (checked on the linear address, as alignment
  // checking is).
  if (cpu.linear(seg, off) & 15) raise_exception(kGP, 0);
  State f(cpu.s.fpu);
  uint8_t img[kFxsaveUsed];
  std::memcpy(img, f.bytes(), kFxsaveUsed);
  // Reserved bytes of the x87 part are written as zero.
  img[5] = 0;
  put16(img + 14, 0);
  put16(img + 22, 0);
  for (unsigned i = 0; i < 8; ++i) std::memset(img + kOffSt0 + 16 * i + 10, 0, 6);
  // Bytes 288-511 (reserved in 32-bit mode, and 464-511 for software) are
  // left as they are in memory.
  write_bytes(cpu, seg, off, img, kFxsaveUsed);
}

void fxrstor(Cpu& cpu, uint8_t seg, uint32_t off) {
  if (cpu.linear(seg, off) & 15) raise_exception(kGP, 0);
  uint8_t img[kFxsaveUsed];
  read_bytes(cpu, seg, off, img, kFxsaveUsed);
  State f(cpu.s.fpu);
  uint32_t mask = f.mxcsr_mask();
  if (mask == 0) mask = kMxcsrDefaultMask;
  // Setting a reserved MXCSR bit is #GP(0) (SDM Vol. 2A FXRSTOR).
  if (get32(img + kOffMxcsr) & ~mask) raise_exception(kGP, 0);
  const uint32_t keep_mask = f.mxcsr_mask();  // A CPU property, not restored.
  std::memcpy(f.bytes(), img, kFxsaveUsed);
  put32(f.bytes() + kOffMxcsrMask, keep_mask);
  f.set_fcw(static_cast<uint16_t>((f.fcw() & kFcwWritable) | kFcwFixed1));
  f.set_fop(f.fop());
  f.update_es();
  // Keep the reserved parts of the state area zero.
  f.bytes()[5] = 0;
  put16(f.bytes() + 14, 0);
  put16(f.bytes() + 22, 0);
  for (unsigned i = 0; i < 8; ++i) std::memset(f.bytes() + kOffSt0 + 16 * i + 10, 0, 6);
}

}  // namespace vmm::fpu

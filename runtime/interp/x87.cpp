// The x87 FPU: data transfer, arithmetic, comparison and transcendental
// instructions (SDM Vol. 1, chapter 8; Vol. 2A/2B instruction pages). The
// control instructions and state save/restore are in x87_control.cpp.
//
// Every handler follows the same order, which keeps instructions
// restartable after a #PF: the #NM / pending-exception checks, all guest
// memory reads, the operation on the host FPU (runtime/fpu.h), any guest
// memory write, and only then the update of the guest FPU state (pointers,
// flags, registers, TOP).
#include <Zydis/Zydis.h>

#include "runtime/interp/flags.h"
#include "runtime/interp/operands.h"
#include "runtime/interp/x87_internal.h"

namespace vmm::interp {
namespace x87 {
namespace {

using fpu::kC0;
using fpu::kC1;
using fpu::kC2;
using fpu::kC3;
using fpu::kDE;
using fpu::kIE;
using fpu::kIndefinite;
using fpu::kOE;
using fpu::kUE;
using fpu::kZE;
using fpu::host::Arith;
using fpu::host::Binary;
using fpu::host::Const;
using fpu::host::Unary;
namespace host = fpu::host;

// Exceptions detected before the operation: when unmasked, the destination
// and the stack are left unchanged (SDM Vol. 1, 4.9.2 and 8.5.1-8.5.3).
constexpr uint16_t kPreComputation = kIE | kDE | kZE;
// Exponent bias adjustment for an unmasked overflow/underflow with a
// register destination (SDM Vol. 1, 8.5.4 and 8.5.5: 24576 for double
// extended precision).
constexpr int kRebias = 24576;

// Memory operand formats.
enum class Fmt : uint8_t { kM32, kM64, kM80, kI16, kI32, kI64, kBcd };
template <Fmt F>
struct FmtType;
template <>
struct FmtType<Fmt::kM32> {
  using T = uint32_t;
};
template <>
struct FmtType<Fmt::kM64> {
  using T = uint64_t;
};
template <>
struct FmtType<Fmt::kI16> {
  using T = int16_t;
};
template <>
struct FmtType<Fmt::kI32> {
  using T = int32_t;
};
template <>
struct FmtType<Fmt::kI64> {
  using T = int64_t;
};
template <Fmt F>
using MemT = typename FmtType<F>::T;

// Converts a memory operand to 80 bits (FLD m32fp/m64fp, FILD), with the
// flags of the conversion (IE for an SNaN, DE for a denormal m32/m64).
template <Fmt F>
uint16_t load(MemT<F> m, F80& r, uint16_t keep) {
  if constexpr (F == Fmt::kM32) return host::load_m32(m, r, keep);
  else if constexpr (F == Fmt::kM64) return host::load_m64(m, r, keep);
  else if constexpr (F == Fmt::kI16) return host::load_i16(m, r, keep);
  else if constexpr (F == Fmt::kI32) return host::load_i32(m, r, keep);
  else return host::load_i64(m, r, keep);
}

// Converts ST(0) for a store (FST, FIST, FISTTP).
template <Fmt F, bool kTrunc>
uint16_t store(uint16_t fcw, const F80& a, MemT<F>& m, uint16_t keep) {
  if constexpr (kTrunc) {
    if constexpr (F == Fmt::kI16) return host::store_i16_trunc(a, m, keep);
    else if constexpr (F == Fmt::kI32) return host::store_i32_trunc(a, m, keep);
    else return host::store_i64_trunc(a, m, keep);
  } else {
    if constexpr (F == Fmt::kM32) return host::store_m32(fcw, a, m, keep);
    else if constexpr (F == Fmt::kM64) return host::store_m64(fcw, a, m, keep);
    else if constexpr (F == Fmt::kI16) return host::store_i16(fcw, a, m, keep);
    else if constexpr (F == Fmt::kI32) return host::store_i32(fcw, a, m, keep);
    else return host::store_i64(fcw, a, m, keep);
  }
}

// Whether a stored m32fp/m64fp is a denormal: the result was tiny.
template <Fmt F>
bool dest_denormal(MemT<F> m) {
  if constexpr (F == Fmt::kM32) return ((m >> 23) & 0xFF) == 0 && (m & 0x7FFFFF) != 0;
  else if constexpr (F == Fmt::kM64) return ((m >> 52) & 0x7FF) == 0 && (m & 0xFFFFFFFFFFFFFull) != 0;
  else return false;
}

// v * 2^k, exact unless it leaves the double extended range (FSCALE at full
// precision, round to nearest).
F80 scaled(const F80& v, int k) {
  F80 kk, r;
  host::load_i32(k, kk, 0);
  host::binary(Binary::kScale, fpu::kFcwInit, v, kk, r, 0);
  return r;
}

// a OP b with the exponent of the rounded result biased by k, for an
// unmasked overflow (k < 0) or underflow (k > 0): the adjustment is moved
// onto operands that can take it, which gives the same rounded significand
// as long as the scaled operands stay in range.
uint16_t rebias_arith(Arith op, uint16_t fcw, F80 a, F80 b, int k, F80& r) {
  switch (op) {
    case Arith::kAdd:
    case Arith::kSub:
    case Arith::kSubr:
      a = scaled(a, k);
      b = scaled(b, k);
      break;
    case Arith::kMul:
      // Overflow: scale the larger operand down; underflow: the smaller up.
      if ((k < 0) == (a.exp() >= b.exp())) a = scaled(a, k);
      else b = scaled(b, k);
      break;
    case Arith::kDiv:
    case Arith::kDivr: {
      F80& num = op == Arith::kDiv ? a : b;
      F80& den = op == Arith::kDiv ? b : a;
      if (k < 0 ? num.exp() > -k : num.exp() + k < 0x7FFF) num = scaled(num, k);
      else den = scaled(den, -k);
      break;
    }
  }
  return host::arith(op, fcw, a, b, r, 0);
}

// FSCALE with the biased result: ST(0) * 2^(trunc(ST(1)) + k).
uint16_t rebias_scale(uint16_t fcw, const F80& a, const F80& b, int k, F80& r) {
  F80 t, kk, t2;
  host::unary(Unary::kRndint, fpu::kPc | fpu::kRcChop, b, t, 0);
  host::load_i32(k, kk, 0);
  host::arith(Arith::kAdd, fpu::kPc, t, kk, t2, 0);
  return host::binary(Binary::kScale, fcw, a, t2, r, 0);
}

// Applies the host status of an operation whose result r goes to a
// register: C1 (round-up indication, or FPREM's Q0) and the exception
// flags. Returns false when an unmasked IE, DE or ZE leaves the destination
// and stack unchanged. For an unmasked OE/UE the destination receives the
// exponent-biased result from rebias(k, r), whose own status gives PE and
// C1 (the biased result may well be exact). Unmasked underflow is also
// signalled for exact tiny results (SDM Vol. 1, 4.9.1.5), which the host,
// with UE masked, reports only when inexact: a denormal result is one.
template <typename Rebias>
bool finish(State& f, uint16_t sw, F80& r, Rebias&& rebias) {
  uint16_t e = sw & fpu::kExceptions;
  if (f.unmasked(e & kPreComputation)) {
    f.set_cc(kC1, sw);
    f.raise(e & kPreComputation);
    return false;
  }
  if (f.unmasked(kUE) && !(e & kUE) && fpu::classify(r) == fpu::Class::kDenormal) e |= kUE;
  if (f.unmasked(e & (kOE | kUE))) {
    const uint16_t sw2 = rebias((e & kOE) ? -kRebias : kRebias, r);
    e = static_cast<uint16_t>((e & ~fpu::kPE) | (sw2 & fpu::kPE));
    sw = sw2;
  }
  f.set_cc(kC1, sw);
  f.raise(e);
  return true;
}
// For operations whose biased result is not modelled: the masked result.
inline auto no_rebias(uint16_t sw) {
  return [sw](int, F80&) { return sw; };
}

// Applies a comparison's status: C0, C2, C3 from the host and C1 = 0; an
// unmasked IE or DE leaves the condition codes and the stack unchanged
// (SDM Vol. 2A FCOM/FUCOM "FPU Flags Affected").
bool finish_compare(State& f, uint16_t sw) {
  f.set_cc(kC1, 0);
  if (f.raise(sw & (kIE | kDE))) return false;
  f.set_cc(kC0 | kC2 | kC3, sw);
  return true;
}

// ---------------------------------------------------------------- Data transfer

// FLD m32fp/m64fp/m80fp, FILD m16/m32/m64int, FBLD m80bcd (SDM Vol. 2A
// FLD, FILD, FBLD): pushes the converted value. A full stack (ST(7) not
// empty) is a stack overflow; the masked response pushes QNaN indefinite.
template <Fmt F>
bool fld_mem(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  const Operand& m = in.ops[0];
  F80 r;
  uint16_t sw = 0;
  if constexpr (F == Fmt::kM80) {
    r = mem_read_f80(c, in, m);  // Copied as is: no exceptions, any encoding.
  } else if constexpr (F == Fmt::kBcd) {
    uint8_t b[10];
    fpu::read_bytes(c, m.seg, c.ea(in, m), b, 10);
    sw = host::load_bcd(b, r, f.host_keep());
  } else {
    sw = load<F>(mem_read<MemT<F>>(c, in, m), r, f.host_keep());
  }
  record(c, f, in, &m);
  if (!f.empty(7)) {
    if (overflow(f)) f.push(kIndefinite);
    return false;
  }
  f.set_cc(kC1, 0);
  if (f.raise(sw & (kIE | kDE))) return false;
  f.push(r);
  return false;
}

// FLD ST(i): ST(i) is read before the push.
bool fld_st(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  record(c, f, in, nullptr);
  const unsigned i = in.ops[0].reg;
  // An empty source is reported before a full stack (C1 = 0, as the
  // hardware does when both hold).
  if (f.empty(i)) {
    if (underflow(f)) f.push(kIndefinite);
    return false;
  }
  if (!f.empty(7)) {
    if (overflow(f)) f.push(kIndefinite);
    return false;
  }
  const F80 v = f.st(i);
  f.set_cc(kC1, 0);
  f.push(v);
  return false;
}

// FST/FSTP m32fp/m64fp, FIST/FISTP m16/m32/m64int, FISTTP (SDM Vol. 2A FST,
// FIST, FISTTP). An unmasked IE, OE or UE stores nothing and does not pop;
// the masked responses (QNaN/integer indefinite, infinity, denormal) are
// what the host conversion produced.
template <Fmt F, bool kPop, bool kTrunc = false>
bool fst_mem(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  const Operand& m = in.ops[0];
  if (f.empty(0)) {
    if (!f.unmasked(kIE)) {
      // Masked underflow: the destination format's indefinite.
      MemT<F> v;
      store<F, kTrunc>(f.fcw(), kIndefinite, v, f.host_keep());
      mem_write<MemT<F>>(c, in, m, v);
    }
    record(c, f, in, &m);
    if (underflow(f) && kPop) f.pop();
    return false;
  }
  MemT<F> v;
  const uint16_t sw = store<F, kTrunc>(f.fcw(), f.st(0), v, f.host_keep());
  uint16_t e = sw & fpu::kExceptions;
  if (f.unmasked(kUE) && !(e & kUE) && dest_denormal<F>(v)) e |= kUE;
  if (f.unmasked(e & (kIE | kOE | kUE))) {
    record(c, f, in, &m);
    f.set_cc(kC1, sw);
    f.raise(e & (kIE | kOE | kUE));
    return false;
  }
  mem_write<MemT<F>>(c, in, m, v);
  record(c, f, in, &m);
  f.set_cc(kC1, sw);
  f.raise(e);
  if constexpr (kPop) f.pop();
  return false;
}

// FSTP m80fp: a bit copy (no exceptions, SDM Vol. 2A FST "#IA ... does not
// occur if the destination is double extended"). FBSTP m80bcd rounds per RC.
template <bool kBcd>
bool fstp_m80(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  const Operand& m = in.ops[0];
  const bool empty = f.empty(0);
  if (empty && f.unmasked(kIE)) {
    record(c, f, in, &m);
    underflow(f);
    return false;
  }
  const F80 a = empty ? kIndefinite : f.st(0);
  uint16_t sw = 0;
  if constexpr (kBcd) {
    uint8_t b[10];
    sw = host::store_bcd(f.fcw(), a, b, f.host_keep());
    if (!empty && f.unmasked(sw & kIE)) {
      record(c, f, in, &m);
      f.raise(kIE);
      return false;
    }
    fpu::write_bytes(c, m.seg, c.ea(in, m), b, 10);
  } else {
    mem_write_f80(c, in, m, a);
  }
  record(c, f, in, &m);
  if (empty) {
    underflow(f);
  } else {
    f.set_cc(kC1, sw);
    f.raise(sw & fpu::kExceptions);
  }
  f.pop();
  return false;
}

// FST/FSTP ST(i).
template <bool kPop>
bool fst_st(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  record(c, f, in, nullptr);
  const unsigned i = in.ops[0].reg;
  if (f.empty(0)) {
    if (underflow(f)) {
      f.set_st(i, kIndefinite);
      if constexpr (kPop) f.pop();
    }
    return false;
  }
  f.set_cc(kC1, 0);
  f.set_st(i, f.st(0));
  if constexpr (kPop) f.pop();
  return false;
}

// FXCH ST(i): empty operands are replaced by QNaN indefinite (masked
// underflow), then exchanged (SDM Vol. 2A FXCH).
bool fxch(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  record(c, f, in, nullptr);
  const unsigned i = in.nops ? in.ops[in.nops - 1].reg : 1;
  if (f.empty(0) || f.empty(i)) {
    if (!underflow(f)) return false;
    if (f.empty(0)) f.set_st(0, kIndefinite);
    if (f.empty(i)) f.set_st(i, kIndefinite);
  } else {
    f.set_cc(kC1, 0);
  }
  const F80 a = f.st(0), b = f.st(i);
  f.put(0, b);
  f.put(i, a);
  return false;
}

// FCMOVcc ST(0), ST(i) (SDM Vol. 2A FCMOVcc): the record's `cond` is the
// EFLAGS condition (B, E, BE, U and their negations).
bool fcmov(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  record(c, f, in, nullptr);
  const unsigned i = in.ops[1].reg;
  if (f.empty(0) || f.empty(i)) {
    if (underflow(f)) f.set_st(0, kIndefinite);
    return false;
  }
  if (!host::keeps_c1(host::C1Case::kFcmov)) f.set_cc(kC1, 0);
  if (condition(c.s.eflags, in.cond)) f.set_st(0, f.st(i));
  return false;
}

// FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ.
template <Const K>
bool fld_const(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  record(c, f, in, nullptr);
  if (!f.empty(7)) {
    if (overflow(f)) f.push(kIndefinite);
    return false;
  }
  F80 r;
  host::constant(K, f.fcw(), r, f.host_keep());
  f.set_cc(kC1, 0);
  f.push(r);
  return false;
}

// ---------------------------------------------------------------- Arithmetic

// FADD/FSUB/FSUBR/FMUL/FDIV/FDIVR ST(0),ST(i) and ST(i),ST(0), and the
// popping forms: ST(d) <- ST(d) OP ST(s).
template <Arith OP, bool kPop>
bool arith_st(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  record(c, f, in, nullptr);
  const unsigned d = in.ops[0].reg, s = in.ops[1].reg;
  if (f.empty(d) || f.empty(s)) {
    if (underflow(f)) {
      f.set_st(d, kIndefinite);
      if constexpr (kPop) f.pop();
    }
    return false;
  }
  const F80 a = f.st(d), b = f.st(s);
  F80 r;
  const uint16_t sw = host::arith(OP, f.fcw(), a, b, r, f.host_keep());
  const uint16_t fcw = f.fcw();
  if (finish(f, sw, r, [&](int k, F80& out) { return rebias_arith(OP, fcw, a, b, k, out); })) {
    f.set_st(d, r);
    if constexpr (kPop) f.pop();
  }
  return false;
}

// The m32fp/m64fp and m16int/m32int forms: ST(0) <- ST(0) OP m.
template <Arith OP, Fmt F>
bool arith_mem(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  const Operand& m = in.ops[0];
  const MemT<F> v = mem_read<MemT<F>>(c, in, m);
  record(c, f, in, &m);
  if (f.empty(0)) {
    if (underflow(f)) f.set_st(0, kIndefinite);
    return false;
  }
  const F80 a = f.st(0);
  const uint16_t fcw = f.fcw();
  F80 r;
  uint16_t sw;
  if constexpr (F == Fmt::kM32) sw = host::arith_m32(OP, fcw, a, v, r, f.host_keep());
  else if constexpr (F == Fmt::kM64) sw = host::arith_m64(OP, fcw, a, v, r, f.host_keep());
  else if constexpr (F == Fmt::kI16) sw = host::arith_i16(OP, fcw, a, v, r, f.host_keep());
  else sw = host::arith_i32(OP, fcw, a, v, r, f.host_keep());
  auto rebias = [&](int k, F80& out) {
    F80 b;
    load<F>(v, b, 0);
    return rebias_arith(OP, fcw, a, b, k, out);
  };
  if (finish(f, sw, r, rebias)) f.set_st(0, r);
  return false;
}

// FSQRT, FRNDINT, F2XM1, FSIN, FCOS on ST(0). FSIN/FCOS set C2 and leave
// ST(0) unchanged when |ST(0)| >= 2^63 (SDM Vol. 2A FSIN), and clear C2
// otherwise, a stack underflow included (as the hardware does: C0 and C3
// stay as they were).
template <Unary OP>
bool unary_op(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  record(c, f, in, nullptr);
  if (f.empty(0)) {
    if constexpr (OP == Unary::kSin || OP == Unary::kCos) f.set_cc(kC2, 0);
    if (underflow(f)) f.set_st(0, kIndefinite);
    return false;
  }
  const F80 a = f.st(0);
  F80 r;
  const uint16_t sw = host::unary(OP, f.fcw(), a, r, f.host_keep());
  if constexpr (OP == Unary::kSin || OP == Unary::kCos) {
    // Out of range: C2 set and C1 cleared, ST(0) unchanged.
    f.set_cc((sw & kC2) ? (kC1 | kC2) : kC2, sw);
    if (sw & kC2) return false;
  }
  if (finish(f, sw, r, no_rebias(sw))) f.set_st(0, r);
  return false;
}

// FABS, FCHS: sign-bit operations, no exceptions even for SNaNs.
template <bool kChs>
bool sign_op(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  record(c, f, in, nullptr);
  if (f.empty(0)) {
    if (underflow(f)) f.set_st(0, kIndefinite);
    return false;
  }
  F80 v = f.st(0);
  v.se = kChs ? static_cast<uint16_t>(v.se ^ 0x8000) : static_cast<uint16_t>(v.se & 0x7FFF);
  f.set_cc(kC1, 0);
  f.set_st(0, v);
  return false;
}

// FSCALE, FPREM, FPREM1 (result in ST(0)); FPATAN, FYL2X, FYL2XP1 (result
// in ST(1), then pop). FPREM/FPREM1 report the quotient's low bits in
// C0 (Q2), C3 (Q1), C1 (Q0) and an incomplete reduction in C2. Where they
// compute no remainder (a NaN operand, an infinite dividend, a zero
// divisor, a stack underflow) the hardware clears C1 and C2 and leaves C0
// and C3 alone: the host instruction starts from the guest's C0-C3
// (host::binary's `cc`), and an underflow clears C2 here.
template <Binary OP>
bool binary_op(Cpu& c, const InstrRecord& in) {
  constexpr bool kPops = OP == Binary::kPatan || OP == Binary::kYl2x || OP == Binary::kYl2xp1;
  State f = enter(c);
  record(c, f, in, nullptr);
  if (f.empty(0) || f.empty(1)) {
    if constexpr (OP == Binary::kPrem || OP == Binary::kPrem1) f.set_cc(kC2, 0);
    if (underflow(f)) {
      if constexpr (kPops) {
        f.set_st(1, kIndefinite);
        f.pop();
      } else {
        f.set_st(0, kIndefinite);
      }
    }
    return false;
  }
  const F80 a = f.st(0), b = f.st(1);
  const uint16_t fcw = f.fcw();
  F80 r;
  const uint16_t sw = host::binary(OP, fcw, a, b, r, f.host_keep(), f.fsw());
  auto rebias = [&](int k, F80& out) -> uint16_t {
    if constexpr (OP == Binary::kScale) return rebias_scale(fcw, a, b, k, out);
    else return sw;  // Not modelled for the others: the masked result.
  };
  if (!finish(f, sw, r, rebias)) return false;
  if constexpr (OP == Binary::kPrem || OP == Binary::kPrem1) f.set_cc(kC0 | kC2 | kC3, sw);
  if constexpr (kPops) {
    f.set_st(1, r);
    f.pop();
  } else {
    f.set_st(0, r);
  }
  return false;
}

// FPTAN (ST(0) <- tan, push 1.0), FSINCOS (ST(0) <- sin, push cos), FXTRACT
// (ST(0) <- exponent, push significand). Out of range (C2) leaves ST(0)
// unchanged. An empty ST(0) or a full stack: masked, both results are QNaN
// indefinite; FPTAN and FSINCOS clear C2 then, as the hardware does.
enum class Two : uint8_t { kPtan, kSincos, kXtract };
template <Two OP>
bool two_results(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  record(c, f, in, nullptr);
  if (f.empty(0) || !f.empty(7)) {
    if constexpr (OP != Two::kXtract) f.set_cc(kC2, 0);
    const bool masked = f.empty(0) ? underflow(f) : overflow(f);
    if (masked) {
      f.set_st(0, kIndefinite);
      f.push(kIndefinite);
    }
    return false;
  }
  const F80 a = f.st(0);
  F80 r0, r1;
  uint16_t sw;
  if constexpr (OP == Two::kPtan) sw = host::ptan(f.fcw(), a, r0, r1, f.host_keep());
  else if constexpr (OP == Two::kSincos) sw = host::sincos(f.fcw(), a, r0, r1, f.host_keep());
  else sw = host::xtract(f.fcw(), a, r0, r1, f.host_keep());
  if constexpr (OP != Two::kXtract) {
    f.set_cc((sw & kC2) ? (kC1 | kC2) : kC2, sw);  // As FSIN/FCOS.
    if (sw & kC2) return false;
  }
  if (!finish(f, sw, r0, no_rebias(sw))) return false;
  f.set_st(0, r0);
  f.push(r1);
  return false;
}

// ---------------------------------------------------------------- Comparison

// FCOM/FCOMP/FCOMPP and FUCOM/FUCOMP/FUCOMPP with ST(i) (FCOMPP/FUCOMPP:
// ST(1), two pops). FUCOM raises IE only for SNaNs; FCOM for any NaN.
template <bool kUnordered, int kPops>
bool com_st(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  record(c, f, in, nullptr);
  const unsigned i = (kPops == 2 || in.nops == 0) ? 1 : in.ops[in.nops - 1].reg;
  bool done;
  if (f.empty(0) || f.empty(i)) {
    done = underflow(f);
    if (done) f.set_cc(kC0 | kC2 | kC3, kC0 | kC2 | kC3);  // Masked: unordered.
  } else {
    done = finish_compare(f, host::com(kUnordered, f.st(0), f.st(i), f.host_keep()));
  }
  if (done)
    for (int p = 0; p < kPops; ++p) f.pop();
  return false;
}

// FCOM/FCOMP m32fp/m64fp, FICOM/FICOMP m16int/m32int.
template <Fmt F, bool kPop>
bool com_mem(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  const Operand& m = in.ops[0];
  const MemT<F> v = mem_read<MemT<F>>(c, in, m);
  record(c, f, in, &m);
  bool done;
  if (f.empty(0)) {
    done = underflow(f);
    if (done) f.set_cc(kC0 | kC2 | kC3, kC0 | kC2 | kC3);
  } else {
    const F80 a = f.st(0);
    uint16_t sw;
    if constexpr (F == Fmt::kM32) sw = host::com_m32(a, v, f.host_keep());
    else if constexpr (F == Fmt::kM64) sw = host::com_m64(a, v, f.host_keep());
    else if constexpr (F == Fmt::kI16) sw = host::com_i16(a, v, f.host_keep());
    else sw = host::com_i32(a, v, f.host_keep());
    done = finish_compare(f, sw);
  }
  if (done && kPop) f.pop();
  return false;
}

// FCOMI/FCOMIP/FUCOMI/FUCOMIP: ZF, PF, CF from the comparison; OF, SF, AF
// cleared (SDM Vol. 2A FCOMI); C1 = 0, or left as it was on a host that
// leaves it (host::keeps_c1).
template <bool kUnordered, bool kPop>
bool comi(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  record(c, f, in, nullptr);
  const unsigned i = in.ops[in.nops - 1].reg;
  constexpr uint32_t kAffected = flag::ZF | flag::PF | flag::CF | flag::OF | flag::SF | flag::AF;
  uint32_t result;
  if (f.empty(0) || f.empty(i)) {
    if (!underflow(f)) return false;
    result = flag::ZF | flag::PF | flag::CF;
  } else {
    const uint16_t sw = host::com(kUnordered, f.st(0), f.st(i), f.host_keep());
    if (!host::keeps_c1(host::C1Case::kFcomi)) f.set_cc(kC1, 0);
    if (f.raise(sw & (kIE | kDE))) return false;
    result = ((sw & kC3) ? flag::ZF : 0) | ((sw & kC2) ? flag::PF : 0) | ((sw & kC0) ? flag::CF : 0);
  }
  c.s.eflags = (c.s.eflags & ~kAffected) | result;
  if constexpr (kPop) f.pop();
  return false;
}

// FTST: ST(0) against +0.0.
bool ftst(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  record(c, f, in, nullptr);
  if (f.empty(0)) {
    if (underflow(f)) f.set_cc(kC0 | kC2 | kC3, kC0 | kC2 | kC3);
    return false;
  }
  finish_compare(f, host::tst(f.st(0), f.host_keep()));
  return false;
}

// FXAM: the class of ST(0) in C3, C2, C0 and its sign in C1; an empty
// register is 101 (SDM Vol. 2A FXAM), which the host cannot report for a
// loaded value.
bool fxam(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  record(c, f, in, nullptr);
  const F80 v = f.st(0);
  if (f.empty(0)) f.set_cc(fpu::kCc, kC3 | kC0 | (v.sign() ? kC1 : 0));
  else f.set_cc(fpu::kCc, host::xam(v, f.host_keep()));
  return false;
}

// ---------------------------------------------------------------- Selectors

template <InterpHandler H>
InterpHandler always(const InstrRecord&) {
  return H;
}

inline bool is_mem(const InstrRecord& in) { return in.nops >= 1 && in.ops[0].kind == OpKind::Mem; }
inline bool is_st(const InstrRecord& in) { return in.nops >= 1 && in.ops[0].kind == OpKind::X87; }

InterpHandler sel_fld(const InstrRecord& in) {
  if (is_st(in)) return &fld_st;
  if (!is_mem(in)) return nullptr;
  switch (in.ops[0].size) {
    case 4: return &fld_mem<Fmt::kM32>;
    case 8: return &fld_mem<Fmt::kM64>;
    case 10: return &fld_mem<Fmt::kM80>;
    default: return nullptr;
  }
}

InterpHandler sel_fild(const InstrRecord& in) {
  if (!is_mem(in)) return nullptr;
  switch (in.ops[0].size) {
    case 2: return &fld_mem<Fmt::kI16>;
    case 4: return &fld_mem<Fmt::kI32>;
    case 8: return &fld_mem<Fmt::kI64>;
    default: return nullptr;
  }
}

InterpHandler sel_fbld(const InstrRecord& in) { return is_mem(in) ? &fld_mem<Fmt::kBcd> : nullptr; }
InterpHandler sel_fbstp(const InstrRecord& in) { return is_mem(in) ? &fstp_m80<true> : nullptr; }

template <bool kPop>
InterpHandler sel_fst(const InstrRecord& in) {
  if (is_st(in)) return &fst_st<kPop>;
  if (!is_mem(in)) return nullptr;
  switch (in.ops[0].size) {
    case 4: return &fst_mem<Fmt::kM32, kPop>;
    case 8: return &fst_mem<Fmt::kM64, kPop>;
    case 10: return kPop ? &fstp_m80<false> : nullptr;
    default: return nullptr;
  }
}

template <bool kPop>
InterpHandler sel_fist(const InstrRecord& in) {
  if (!is_mem(in)) return nullptr;
  switch (in.ops[0].size) {
    case 2: return &fst_mem<Fmt::kI16, kPop>;
    case 4: return &fst_mem<Fmt::kI32, kPop>;
    case 8: return kPop ? &fst_mem<Fmt::kI64, true> : nullptr;
    default: return nullptr;
  }
}

InterpHandler sel_fisttp(const InstrRecord& in) {
  if (!is_mem(in)) return nullptr;
  switch (in.ops[0].size) {
    case 2: return &fst_mem<Fmt::kI16, true, true>;
    case 4: return &fst_mem<Fmt::kI32, true, true>;
    case 8: return &fst_mem<Fmt::kI64, true, true>;
    default: return nullptr;
  }
}

InterpHandler sel_fxch(const InstrRecord& in) { return (in.nops == 0 || is_st(in)) ? &fxch : nullptr; }
InterpHandler sel_fcmov(const InstrRecord& in) {
  return (in.nops == 2 && in.ops[1].kind == OpKind::X87) ? &fcmov : nullptr;
}

// FADD etc.: m32fp/m64fp, or two ST registers.
template <Arith OP>
InterpHandler sel_arith(const InstrRecord& in) {
  if (is_mem(in)) {
    if (in.ops[0].size == 4) return &arith_mem<OP, Fmt::kM32>;
    if (in.ops[0].size == 8) return &arith_mem<OP, Fmt::kM64>;
    return nullptr;
  }
  if (in.nops == 2 && in.ops[0].kind == OpKind::X87 && in.ops[1].kind == OpKind::X87) return &arith_st<OP, false>;
  return nullptr;
}
template <Arith OP>
InterpHandler sel_arithp(const InstrRecord& in) {
  if (in.nops == 2 && in.ops[0].kind == OpKind::X87 && in.ops[1].kind == OpKind::X87) return &arith_st<OP, true>;
  return nullptr;
}
template <Arith OP>
InterpHandler sel_iarith(const InstrRecord& in) {
  if (!is_mem(in)) return nullptr;
  if (in.ops[0].size == 2) return &arith_mem<OP, Fmt::kI16>;
  if (in.ops[0].size == 4) return &arith_mem<OP, Fmt::kI32>;
  return nullptr;
}

template <bool kPop>
InterpHandler sel_fcom(const InstrRecord& in) {
  if (is_mem(in)) {
    if (in.ops[0].size == 4) return &com_mem<Fmt::kM32, kPop>;
    if (in.ops[0].size == 8) return &com_mem<Fmt::kM64, kPop>;
    return nullptr;
  }
  return &com_st<false, kPop ? 1 : 0>;
}
template <bool kPop>
InterpHandler sel_ficom(const InstrRecord& in) {
  if (!is_mem(in)) return nullptr;
  if (in.ops[0].size == 2) return &com_mem<Fmt::kI16, kPop>;
  if (in.ops[0].size == 4) return &com_mem<Fmt::kI32, kPop>;
  return nullptr;
}
template <bool kUnordered, bool kPop>
InterpHandler sel_comi(const InstrRecord& in) {
  return (in.nops >= 1 && in.ops[in.nops - 1].kind == OpKind::X87) ? &comi<kUnordered, kPop> : nullptr;
}

}  // namespace
}  // namespace x87

void register_x87(SelectorTable& t) {
  using namespace x87;
  // Data transfer (SDM Vol. 1, 8.3.3).
  t.add(ZYDIS_MNEMONIC_FLD, &sel_fld);
  t.add(ZYDIS_MNEMONIC_FST, &sel_fst<false>);
  t.add(ZYDIS_MNEMONIC_FSTP, &sel_fst<true>);
  t.add(ZYDIS_MNEMONIC_FSTPNCE, &sel_fst<true>);  // D9 D8+i: an alias of FSTP ST(i).
  t.add(ZYDIS_MNEMONIC_FILD, &sel_fild);
  t.add(ZYDIS_MNEMONIC_FIST, &sel_fist<false>);
  t.add(ZYDIS_MNEMONIC_FISTP, &sel_fist<true>);
  t.add(ZYDIS_MNEMONIC_FISTTP, &sel_fisttp);
  t.add(ZYDIS_MNEMONIC_FBLD, &sel_fbld);
  t.add(ZYDIS_MNEMONIC_FBSTP, &sel_fbstp);
  t.add(ZYDIS_MNEMONIC_FXCH, &sel_fxch);
  for (uint16_t m : {ZYDIS_MNEMONIC_FCMOVB, ZYDIS_MNEMONIC_FCMOVE, ZYDIS_MNEMONIC_FCMOVBE, ZYDIS_MNEMONIC_FCMOVU,
                     ZYDIS_MNEMONIC_FCMOVNB, ZYDIS_MNEMONIC_FCMOVNE, ZYDIS_MNEMONIC_FCMOVNBE, ZYDIS_MNEMONIC_FCMOVNU})
    t.add(m, &sel_fcmov);
  // Constants (8.3.4).
  t.add(ZYDIS_MNEMONIC_FLD1, &always<&fld_const<Const::kOne>>);
  t.add(ZYDIS_MNEMONIC_FLDL2T, &always<&fld_const<Const::kL2t>>);
  t.add(ZYDIS_MNEMONIC_FLDL2E, &always<&fld_const<Const::kL2e>>);
  t.add(ZYDIS_MNEMONIC_FLDPI, &always<&fld_const<Const::kPi>>);
  t.add(ZYDIS_MNEMONIC_FLDLG2, &always<&fld_const<Const::kLg2>>);
  t.add(ZYDIS_MNEMONIC_FLDLN2, &always<&fld_const<Const::kLn2>>);
  t.add(ZYDIS_MNEMONIC_FLDZ, &always<&fld_const<Const::kZero>>);
  // Basic arithmetic (8.3.5).
  t.add(ZYDIS_MNEMONIC_FADD, &sel_arith<Arith::kAdd>);
  t.add(ZYDIS_MNEMONIC_FADDP, &sel_arithp<Arith::kAdd>);
  t.add(ZYDIS_MNEMONIC_FIADD, &sel_iarith<Arith::kAdd>);
  t.add(ZYDIS_MNEMONIC_FSUB, &sel_arith<Arith::kSub>);
  t.add(ZYDIS_MNEMONIC_FSUBP, &sel_arithp<Arith::kSub>);
  t.add(ZYDIS_MNEMONIC_FISUB, &sel_iarith<Arith::kSub>);
  t.add(ZYDIS_MNEMONIC_FSUBR, &sel_arith<Arith::kSubr>);
  t.add(ZYDIS_MNEMONIC_FSUBRP, &sel_arithp<Arith::kSubr>);
  t.add(ZYDIS_MNEMONIC_FISUBR, &sel_iarith<Arith::kSubr>);
  t.add(ZYDIS_MNEMONIC_FMUL, &sel_arith<Arith::kMul>);
  t.add(ZYDIS_MNEMONIC_FMULP, &sel_arithp<Arith::kMul>);
  t.add(ZYDIS_MNEMONIC_FIMUL, &sel_iarith<Arith::kMul>);
  t.add(ZYDIS_MNEMONIC_FDIV, &sel_arith<Arith::kDiv>);
  t.add(ZYDIS_MNEMONIC_FDIVP, &sel_arithp<Arith::kDiv>);
  t.add(ZYDIS_MNEMONIC_FIDIV, &sel_iarith<Arith::kDiv>);
  t.add(ZYDIS_MNEMONIC_FDIVR, &sel_arith<Arith::kDivr>);
  t.add(ZYDIS_MNEMONIC_FDIVRP, &sel_arithp<Arith::kDivr>);
  t.add(ZYDIS_MNEMONIC_FIDIVR, &sel_iarith<Arith::kDivr>);
  t.add(ZYDIS_MNEMONIC_FPREM, &always<&binary_op<Binary::kPrem>>);
  t.add(ZYDIS_MNEMONIC_FPREM1, &always<&binary_op<Binary::kPrem1>>);
  t.add(ZYDIS_MNEMONIC_FABS, &always<&sign_op<false>>);
  t.add(ZYDIS_MNEMONIC_FCHS, &always<&sign_op<true>>);
  t.add(ZYDIS_MNEMONIC_FRNDINT, &always<&unary_op<Unary::kRndint>>);
  t.add(ZYDIS_MNEMONIC_FSCALE, &always<&binary_op<Binary::kScale>>);
  t.add(ZYDIS_MNEMONIC_FSQRT, &always<&unary_op<Unary::kSqrt>>);
  t.add(ZYDIS_MNEMONIC_FXTRACT, &always<&two_results<Two::kXtract>>);
  // Comparison and classification (8.3.6, 8.3.7).
  t.add(ZYDIS_MNEMONIC_FCOM, &sel_fcom<false>);
  t.add(ZYDIS_MNEMONIC_FCOMP, &sel_fcom<true>);
  t.add(ZYDIS_MNEMONIC_FCOMPP, &always<&com_st<false, 2>>);
  t.add(ZYDIS_MNEMONIC_FUCOM, &always<&com_st<true, 0>>);
  t.add(ZYDIS_MNEMONIC_FUCOMP, &always<&com_st<true, 1>>);
  t.add(ZYDIS_MNEMONIC_FUCOMPP, &always<&com_st<true, 2>>);
  t.add(ZYDIS_MNEMONIC_FICOM, &sel_ficom<false>);
  t.add(ZYDIS_MNEMONIC_FICOMP, &sel_ficom<true>);
  t.add(ZYDIS_MNEMONIC_FCOMI, &sel_comi<false, false>);
  t.add(ZYDIS_MNEMONIC_FCOMIP, &sel_comi<false, true>);
  t.add(ZYDIS_MNEMONIC_FUCOMI, &sel_comi<true, false>);
  t.add(ZYDIS_MNEMONIC_FUCOMIP, &sel_comi<true, true>);
  t.add(ZYDIS_MNEMONIC_FTST, &always<&ftst>);
  t.add(ZYDIS_MNEMONIC_FXAM, &always<&fxam>);
  // Transcendental (8.3.8-8.3.10).
  t.add(ZYDIS_MNEMONIC_FSIN, &always<&unary_op<Unary::kSin>>);
  t.add(ZYDIS_MNEMONIC_FCOS, &always<&unary_op<Unary::kCos>>);
  t.add(ZYDIS_MNEMONIC_FSINCOS, &always<&two_results<Two::kSincos>>);
  t.add(ZYDIS_MNEMONIC_FPTAN, &always<&two_results<Two::kPtan>>);
  t.add(ZYDIS_MNEMONIC_FPATAN, &always<&binary_op<Binary::kPatan>>);
  t.add(ZYDIS_MNEMONIC_F2XM1, &always<&unary_op<Unary::kF2xm1>>);
  t.add(ZYDIS_MNEMONIC_FYL2X, &always<&binary_op<Binary::kYl2x>>);
  t.add(ZYDIS_MNEMONIC_FYL2XP1, &always<&binary_op<Binary::kYl2xp1>>);
  // Control, environment and state management.
  register_x87_control(t);
}

}  // namespace vmm::interp

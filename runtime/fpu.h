// The guest x87 FPU: state access, the host-executed operations, and the
// environment/state save and restore routines shared by the interpreter
// (runtime/interp/x87*.cpp) and the JIT.
//
// The guest state lives in CpuState::fpu in FXSAVE layout (SDM Vol. 1,
// 10.5.1, Table 10-2): FCW, FSW (TOP in bits 11-13), the abridged tag byte
// (bit j = physical register Rj is not empty), FOP, FIP/FCS, FDP/FDS, MXCSR,
// then ST(0)..ST(7) in stack order, 80 bits in each 16-byte slot. Nothing is
// kept live in host registers between guest instructions.
//
// Each arithmetic operation runs the same x87 instruction on the host FPU, so
// results, NaN propagation, C0-C3 and the exception flags are those of a real
// x87: the host control word is set to the guest's precision and rounding
// control with every exception masked, the host status word is read back,
// and the host control word is restored. The host stack is empty between
// operations and the host exception flags are left as they were found.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>

#include "frontend/instr.h"
#include "runtime/cpu_state.h"

namespace vmm {

class Cpu;

namespace fpu {

// --- Status word (SDM Vol. 1, 8.1.3, Figure 8-5). ---
inline constexpr uint16_t kIE = 1u << 0;   // Invalid operation.
inline constexpr uint16_t kDE = 1u << 1;   // Denormalized operand.
inline constexpr uint16_t kZE = 1u << 2;   // Zero divide.
inline constexpr uint16_t kOE = 1u << 3;   // Overflow.
inline constexpr uint16_t kUE = 1u << 4;   // Underflow.
inline constexpr uint16_t kPE = 1u << 5;   // Precision.
inline constexpr uint16_t kSF = 1u << 6;   // Stack fault (with IE).
inline constexpr uint16_t kES = 1u << 7;   // Exception summary status.
inline constexpr uint16_t kC0 = 1u << 8;
inline constexpr uint16_t kC1 = 1u << 9;
inline constexpr uint16_t kC2 = 1u << 10;
inline constexpr uint16_t kTop = 7u << 11;
inline constexpr uint16_t kC3 = 1u << 14;
inline constexpr uint16_t kB = 1u << 15;   // FPU busy: mirrors ES since the 387.
inline constexpr uint16_t kExceptions = kIE | kDE | kZE | kOE | kUE | kPE;
inline constexpr uint16_t kCc = kC0 | kC1 | kC2 | kC3;

// --- Control word (SDM Vol. 1, 8.1.5, Figure 8-6). ---
inline constexpr uint16_t kMasks = 0x003F;  // IM DM ZM OM UM PM.
inline constexpr uint16_t kPc = 0x0300;     // Precision control.
inline constexpr uint16_t kRc = 0x0C00;     // Rounding control.
inline constexpr uint16_t kRcNearest = 0x0000, kRcDown = 0x0400, kRcUp = 0x0800, kRcChop = 0x0C00;
// FLDCW keeps IC (bit 12), RC, PC and the masks; bit 6 reads as one and
// bits 7, 13-15 as zero (as a real x87 stores them: FLDCW 0 -> FNSTCW 0x0040).
inline constexpr uint16_t kFcwWritable = 0x1F3F;
inline constexpr uint16_t kFcwFixed1 = 0x0040;
inline constexpr uint16_t kFcwInit = 0x037F;  // FNINIT (SDM Vol. 2A, FINIT/FNINIT).

// --- FXSAVE-area byte offsets (SDM Vol. 1, 10.5.1, Table 10-2). ---
inline constexpr unsigned kOffFcw = 0, kOffFsw = 2, kOffFtw = 4, kOffFop = 6, kOffFip = 8, kOffFcs = 12,
                          kOffFdp = 16, kOffFds = 20, kOffMxcsr = 24, kOffMxcsrMask = 28, kOffSt0 = 32,
                          kOffXmm0 = 160, kFxsaveUsed = 288;
inline constexpr uint32_t kMxcsrInit = 0x1F80;
// MXCSR_MASK reported when the stored one is zero (SDM Vol. 1, 11.6.6).
inline constexpr uint32_t kMxcsrDefaultMask = 0x0000FFBF;

// FOP (SDM Vol. 1, 8.1.9, Figure 8-8): the low three bits of the D8-DF
// escape byte and the ModR/M byte, both kept in the decoded record. The
// interpreter and translated code (jit/host_fpu.h) record the same value.
inline uint16_t fop_of(const InstrRecord& in) { return static_cast<uint16_t>(((in.opcode & 7u) << 8) | in.modrm); }

// An 80-bit double extended-precision value (SDM Vol. 1, 4.2.2): the 64-bit
// significand with its explicit integer bit, then sign and 15-bit exponent.
// The first ten bytes are the memory format; the struct is laid out like a
// host `long double` so FLD/FSTP TBYTE read and write it directly.
struct alignas(16) F80 {
  uint64_t mant = 0;
  uint16_t se = 0;
  uint16_t pad[3] = {};

  uint16_t exp() const { return se & 0x7FFF; }
  bool sign() const { return se & 0x8000; }
  bool operator==(const F80& o) const { return mant == o.mant && se == o.se; }
};

// QNaN floating-point indefinite (SDM Vol. 1, 4.8.3.7, Table 4-3).
inline constexpr F80 kIndefinite{0xC000000000000000ull, 0xFFFF, {}};
inline constexpr F80 kOne{0x8000000000000000ull, 0x3FFF, {}};

// Classes of an 80-bit value (SDM Vol. 1, 8.2.2 and Table 8-3).
enum class Class : uint8_t { kZero, kNormal, kDenormal, kInfinity, kNan, kUnsupported };
inline Class classify(const F80& v) {
  const uint16_t e = v.exp();
  const bool j = v.mant >> 63;
  if (e == 0) {
    // Pseudo-denormals (J=1, exponent 0) are treated as denormals (8.2.2).
    return v.mant == 0 ? Class::kZero : Class::kDenormal;
  }
  if (!j) return Class::kUnsupported;  // Unnormals, pseudo-infinities, pseudo-NaNs.
  if (e == 0x7FFF) return (v.mant << 1) == 0 ? Class::kInfinity : Class::kNan;
  return Class::kNormal;
}

// Tag of a non-empty register (SDM Vol. 1, 8.1.7): 00 valid, 01 zero,
// 10 special (NaN, infinity, denormal, unsupported), 11 empty.
inline unsigned tag_of(const F80& v) {
  switch (classify(v)) {
    case Class::kNormal: return 0;
    case Class::kZero: return 1;
    default: return 2;
  }
}

// A view of the guest FPU state in CpuState::fpu.
class State {
 public:
  explicit State(FpuState& f) : b_(f.fxsave) {}

  uint16_t fcw() const { return ld16(kOffFcw); }
  void set_fcw(uint16_t v) { st16(kOffFcw, v); }
  uint16_t fsw() const { return ld16(kOffFsw); }
  void set_fsw(uint16_t v) { st16(kOffFsw, v); }
  unsigned top() const { return (fsw() >> 11) & 7; }
  void set_top(unsigned t) { set_fsw(static_cast<uint16_t>((fsw() & ~kTop) | ((t & 7) << 11))); }

  // Abridged tag byte: bit j set = physical register Rj holds a value.
  uint8_t ftw() const { return b_[kOffFtw]; }
  void set_ftw(uint8_t v) { b_[kOffFtw] = v; }
  unsigned phys(unsigned i) const { return (top() + i) & 7; }
  bool empty(unsigned i) const { return !((ftw() >> phys(i)) & 1); }
  void set_valid(unsigned i) { set_ftw(static_cast<uint8_t>(ftw() | (1u << phys(i)))); }
  void set_empty(unsigned i) { set_ftw(static_cast<uint8_t>(ftw() & ~(1u << phys(i)))); }

  F80 st(unsigned i) const {
    F80 v;
    std::memcpy(&v.mant, b_ + slot(i), 8);
    std::memcpy(&v.se, b_ + slot(i) + 8, 2);
    return v;
  }
  // Writes ST(i) without touching its tag.
  void put(unsigned i, const F80& v) {
    std::memcpy(b_ + slot(i), &v.mant, 8);
    std::memcpy(b_ + slot(i) + 8, &v.se, 2);
  }
  // Writes ST(i) and tags it non-empty.
  void set_st(unsigned i, const F80& v) {
    put(i, v);
    set_valid(i);
  }

  // TOP-1 with ST(0) = v (SDM Vol. 1, 8.1.2): the slots, kept in stack
  // order, rotate so that the new ST(0) is physical register TOP-1.
  void push(const F80& v) {
    rotate_down();
    set_top(top() - 1);
    set_st(0, v);
  }
  // Tags ST(0) empty and increments TOP; the physical register keeps its
  // contents (FXSAVE and FSAVE still show them, as ST(7)).
  void pop() {
    set_empty(0);
    rotate_up();
    set_top(top() + 1);
  }
  // FINCSTP/FDECSTP: TOP moves without any tag change.
  void inc_top() {
    rotate_up();
    set_top(top() + 1);
  }
  void dec_top() {
    rotate_down();
    set_top(top() - 1);
  }

  // Records exception flags (IE..PE, SF); ES and B are set when one of the
  // raised exceptions is unmasked (SDM Vol. 1, 8.1.3 and 8.7).
  // Returns whether one was unmasked.
  bool raise(uint16_t flags) {
    uint16_t sw = static_cast<uint16_t>(fsw() | flags);
    const bool unmasked = (flags & ~fcw() & kMasks) != 0;
    if (unmasked) sw |= kES | kB;
    set_fsw(sw);
    return unmasked;
  }
  bool unmasked(uint16_t flags) const { return (flags & ~fcw() & kMasks) != 0; }
  // Exception flags the guest has set and masked: a host operation for this
  // guest may find them left in the host status word (fpu::host, `keep`).
  uint16_t host_keep() const { return static_cast<uint16_t>(fsw() & fcw() & kExceptions); }
  // Recomputes ES and B from the flags and masks (after FLDCW, FLDENV,
  // FRSTOR, FXRSTOR: a flag left set under a cleared mask is a pending
  // exception for the next waiting instruction).
  void update_es() {
    uint16_t sw = static_cast<uint16_t>(fsw() & ~(kES | kB));
    if (fsw() & ~fcw() & kMasks) sw |= kES | kB;
    set_fsw(sw);
  }
  // Replaces the condition-code bits selected by `mask`.
  void set_cc(uint16_t mask, uint16_t value) {
    set_fsw(static_cast<uint16_t>((fsw() & ~mask) | (value & mask)));
  }

  // The full 16-bit tag word (FSTENV/FSAVE), computed from the values.
  uint16_t full_tag_word() const;
  // Loads the abridged tags from a full tag word (FLDENV/FRSTOR use only
  // whether each tag is 11 "empty", SDM Vol. 1, 8.1.7).
  void set_full_tag_word(uint16_t tw);

  // FNINIT (SDM Vol. 2A, FINIT/FNINIT): FCW 037FH, FSW 0, all tags empty,
  // pointers and opcode cleared; the data registers keep their contents.
  void init();

  uint16_t fop() const { return ld16(kOffFop); }
  uint32_t fip() const { return ld32(kOffFip); }
  uint16_t fcs() const { return ld16(kOffFcs); }
  uint32_t fdp() const { return ld32(kOffFdp); }
  uint16_t fds() const { return ld16(kOffFds); }
  void set_fop(uint16_t v) { st16(kOffFop, v & 0x7FF); }
  void set_fip(uint32_t v) { st32(kOffFip, v); }
  void set_fcs(uint16_t v) { st16(kOffFcs, v); }
  void set_fdp(uint32_t v) { st32(kOffFdp, v); }
  void set_fds(uint16_t v) { st16(kOffFds, v); }
  uint32_t mxcsr() const { return ld32(kOffMxcsr); }
  uint32_t mxcsr_mask() const { return ld32(kOffMxcsrMask); }

  uint8_t* bytes() { return b_; }

 private:
  static unsigned slot(unsigned i) { return kOffSt0 + 16 * (i & 7); }
  uint16_t ld16(unsigned o) const {
    uint16_t v;
    std::memcpy(&v, b_ + o, 2);
    return v;
  }
  uint32_t ld32(unsigned o) const {
    uint32_t v;
    std::memcpy(&v, b_ + o, 4);
    return v;
  }
  void st16(unsigned o, uint16_t v) { std::memcpy(b_ + o, &v, 2); }
  void st32(unsigned o, uint32_t v) { std::memcpy(b_ + o, &v, 4); }
  // ST(i) <- ST(i+1) for i < 7, ST(7) <- old ST(0).
  void rotate_up() {
    uint8_t t[16];
    std::memcpy(t, b_ + kOffSt0, 16);
    std::memmove(b_ + kOffSt0, b_ + kOffSt0 + 16, 7 * 16);
    std::memcpy(b_ + kOffSt0 + 7 * 16, t, 16);
  }
  // ST(i) <- ST(i-1) for i > 0, ST(0) <- old ST(7).
  void rotate_down() {
    uint8_t t[16];
    std::memcpy(t, b_ + kOffSt0 + 7 * 16, 16);
    std::memmove(b_ + kOffSt0 + 16, b_ + kOffSt0, 7 * 16);
    std::memcpy(b_ + kOffSt0, t, 16);
  }

  uint8_t* b_;
};

// Initial x87/MXCSR state for the CPU reset paths: the FNINIT state (what a
// guest sees after firmware; SDM Vol. 3A 9.1.1 Table 9-1 lists FCW 0040H at
// power-up and 037FH after FINIT), MXCSR 1F80H, MXCSR_MASK FFBFH, all
// registers zero.
void reset(FpuState& f);

// --- Host-executed operations. ---
// Each executes one x87 instruction on the host FPU with the host control
// word set to the guest's precision and rounding control (fcw & 0x0F00) and
// every exception masked, and returns the host status word read right after
// that instruction: the exception flags it raised (IE..PE) and C0-C3. A
// masked response (QNaN indefinite, infinity, denormal, integer indefinite)
// is what the host produced; the caller decides what an unmasked guest
// exception does with it.
//
// `keep`: the exception flags the host may still hold from earlier
// operations without being cleared first (State::host_keep(): flags the
// guest has set and masked; 0 for internal steps). The returned status word
// may include them besides the operation's own (see fpu.cpp).
namespace host {

enum class Arith : uint8_t { kAdd, kMul, kSub, kSubr, kDiv, kDivr };
// r = a OP b for register operands (SUBR: b - a, DIVR: b / a).
uint16_t arith(Arith op, uint16_t fcw, const F80& a, const F80& b, F80& r, uint16_t keep);
// r = a OP m with the memory operand converted by the instruction itself
// (FADD m32fp, FADD m64fp, FIADD m16int, FIADD m32int), so an SNaN or a
// denormal source raises IE/DE exactly as on hardware.
uint16_t arith_m32(Arith op, uint16_t fcw, const F80& a, uint32_t m, F80& r, uint16_t keep);
uint16_t arith_m64(Arith op, uint16_t fcw, const F80& a, uint64_t m, F80& r, uint16_t keep);
uint16_t arith_i16(Arith op, uint16_t fcw, const F80& a, int16_t m, F80& r, uint16_t keep);
uint16_t arith_i32(Arith op, uint16_t fcw, const F80& a, int32_t m, F80& r, uint16_t keep);

// One-operand operations on ST(0): r = OP(a).
enum class Unary : uint8_t { kSqrt, kRndint, kSin, kCos, kF2xm1 };
uint16_t unary(Unary op, uint16_t fcw, const F80& a, F80& r, uint16_t keep);

// Two-operand operations with a = ST(0), b = ST(1); r is the value the host
// instruction leaves: FSCALE/FPREM/FPREM1 in ST(0), FPATAN/FYL2X/FYL2XP1 in
// ST(1) after their pop.
// `cc`: a status word whose C0-C3 the host's are set to first (FPREM and
// FPREM1 leave C0 and C3 as they were where they compute no remainder).
enum class Binary : uint8_t { kScale, kPrem, kPrem1, kPatan, kYl2x, kYl2xp1 };
uint16_t binary(Binary op, uint16_t fcw, const F80& a, const F80& b, F80& r, uint16_t keep, uint16_t cc = 0);

// FPTAN/FSINCOS on a = ST(0). Unless C2 is set (operand out of range, left
// unchanged in `r0`), r0 is the value for ST(1) after the push (tan, sin)
// and r1 the new ST(0) (1.0, cos).
uint16_t ptan(uint16_t fcw, const F80& a, F80& r0, F80& r1, uint16_t keep);
uint16_t sincos(uint16_t fcw, const F80& a, F80& r0, F80& r1, uint16_t keep);
// FXTRACT: exponent (for ST(1)) and significand (new ST(0)).
uint16_t xtract(uint16_t fcw, const F80& a, F80& exponent, F80& significand, uint16_t keep);

// Comparisons of a = ST(0) with the source (C0, C2, C3).
uint16_t com(bool unordered, const F80& a, const F80& b, uint16_t keep);  // FCOM / FUCOM ST(i).
uint16_t com_m32(const F80& a, uint32_t m, uint16_t keep);
uint16_t com_m64(const F80& a, uint64_t m, uint16_t keep);
uint16_t com_i16(const F80& a, int16_t m, uint16_t keep);
uint16_t com_i32(const F80& a, int32_t m, uint16_t keep);
uint16_t tst(const F80& a, uint16_t keep);
uint16_t xam(const F80& a, uint16_t keep);

// Loads to 80 bits: FLD m32fp/m64fp (IE for SNaN, DE for denormals),
// FILD (exact), FBLD.
uint16_t load_m32(uint32_t m, F80& r, uint16_t keep);
uint16_t load_m64(uint64_t m, F80& r, uint16_t keep);
uint16_t load_i16(int16_t m, F80& r, uint16_t keep);
uint16_t load_i32(int32_t m, F80& r, uint16_t keep);
uint16_t load_i64(int64_t m, F80& r, uint16_t keep);
uint16_t load_bcd(const uint8_t (&m)[10], F80& r, uint16_t keep);

// Stores from 80 bits under the guest's rounding control (and, for FST,
// precision): FST m32fp/m64fp, FIST m16/m32/m64 (integer indefinite and IE
// when out of range), FISTTP (truncating), FBSTP.
uint16_t store_m32(uint16_t fcw, const F80& a, uint32_t& m, uint16_t keep);
uint16_t store_m64(uint16_t fcw, const F80& a, uint64_t& m, uint16_t keep);
uint16_t store_i16(uint16_t fcw, const F80& a, int16_t& m, uint16_t keep);
uint16_t store_i32(uint16_t fcw, const F80& a, int32_t& m, uint16_t keep);
uint16_t store_i64(uint16_t fcw, const F80& a, int64_t& m, uint16_t keep);
uint16_t store_i16_trunc(const F80& a, int16_t& m, uint16_t keep);
uint16_t store_i32_trunc(const F80& a, int32_t& m, uint16_t keep);
uint16_t store_i64_trunc(const F80& a, int64_t& m, uint16_t keep);
uint16_t store_bcd(uint16_t fcw, const F80& a, uint8_t (&m)[10], uint16_t keep);

// Whether this host's FCOMI/FUCOMI(P), FCMOVcc with valid operands, or
// FFREE leave C1 as it was: the SDM has FCOMI set it to 0 and leaves it
// undefined after the others; AMD EPYC hosts keep it for the first two and
// clear it for FFREE. Measured once on the host (its own FPU state saved
// and restored), so the interpreter agrees with the host instructions
// translated code runs.
enum class C1Case : uint8_t { kFcomi, kFcmov, kFfree };
bool keeps_c1(C1Case which);

// FLD1, FLDL2T, FLDL2E, FLDPI, FLDLG2, FLDLN2, FLDZ: the host's constants,
// rounded per the guest's RC (SDM Vol. 2A, FLD1/FLDL2T/...: "the value is
// rounded according to the RC field").
enum class Const : uint8_t { kOne, kL2t, kL2e, kPi, kLg2, kLn2, kZero };
uint16_t constant(Const k, uint16_t fcw, F80& r, uint16_t keep);

}  // namespace host

// --- Instruction-level checks (SDM Vol. 3A, 2.5 Table 2-2; Vol. 1, 8.7). ---

// #NM for an x87 instruction when CR0.EM or CR0.TS is set.
void check_nm(const Cpu& cpu);
// #NM for WAIT/FWAIT when CR0.MP and CR0.TS are both set.
void check_nm_wait(const Cpu& cpu);
// The pending-exception check a waiting x87 instruction makes before it
// executes: with FSW.ES set, #MF when CR0.NE = 1; otherwise the FERR# signal
// (see ferr_signal) and the instruction proceeds.
void check_pending(Cpu& cpu);

// FERR# for MS-DOS-compatible error reporting (CR0.NE = 0, SDM Vol. 1,
// 8.7.2 and Appendix D): on a PC, FERR# drives IRQ 13 through the
// interrupt controller. The system layer installs a function that raises
// IRQ 13 (and may lower it when the guest writes port F0H); when none is
// installed the signal is dropped. Called each time a waiting x87
// instruction starts with an unmasked exception pending and CR0.NE = 0.
extern std::function<void(Cpu&)> ferr_signal;

// --- Environment and state images (SDM Vol. 1, 8.1.10, Figures 8-9 to
// 8-12; FSAVE/FRSTOR in Vol. 2A; FXSAVE/FXRSTOR in Vol. 1 10.5.1). ---
// The image is at seg:off (so segment checks apply to it). o16: 16-bit
// operand size (14-byte environment, 94-byte FSAVE image); the real-mode
// layouts are used in real-address and virtual-8086 mode.
void fnstenv(Cpu& cpu, uint8_t seg, uint32_t off, bool o16);
void fldenv(Cpu& cpu, uint8_t seg, uint32_t off, bool o16);
void fnsave(Cpu& cpu, uint8_t seg, uint32_t off, bool o16);
void frstor(Cpu& cpu, uint8_t seg, uint32_t off, bool o16);
void fxsave(Cpu& cpu, uint8_t seg, uint32_t off);
void fxrstor(Cpu& cpu, uint8_t seg, uint32_t off);

// Guest memory helpers for multi-byte operands (SoftMmu accesses are at most
// four bytes): a store that crosses a page is probed first so that a #PF on
// the second page leaves memory unchanged.
void read_bytes(Cpu& cpu, uint8_t seg, uint32_t off, uint8_t* out, unsigned n);
void write_bytes(Cpu& cpu, uint8_t seg, uint32_t off, const uint8_t* in, unsigned n);

}  // namespace fpu
}  // namespace vmm

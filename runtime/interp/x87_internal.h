// Helpers shared by the x87 instruction groups (x87.cpp, x87_control.cpp).
#pragma once

#include <cstdint>
#include <cstring>

#include "frontend/instr.h"
#include "runtime/cpu.h"
#include "runtime/fpu.h"
#include "runtime/interp/interp.h"

namespace vmm::interp::x87 {

using fpu::F80;
using fpu::State;

// Start of a waiting x87 instruction: #NM (CR0.EM/TS), then a pending
// unmasked exception from an earlier instruction (#MF or FERR#).
inline State enter(Cpu& c) {
  fpu::check_nm(c);
  fpu::check_pending(c);
  return State(c.s.fpu);
}


// The last-instruction state of a non-control instruction (SDM Vol. 1,
// 8.1.8): FIP/FCS point at the instruction (its prefixes included), FOP is
// its opcode, and an instruction with a memory operand sets FDP/FDS (one
// without leaves them: "undefined" in the SDM). Control instructions
// (FINIT, FCLEX, FLDCW, FSTCW, FSTSW, FSTENV, FLDENV, FSAVE, FRSTOR, WAIT)
// do not call this.
inline void record(Cpu& c, State& f, const InstrRecord& in, const Operand* mem) {
  f.set_fip(c.s.eip);
  f.set_fcs(c.s.seg[CS].selector);
  f.set_fop(fpu::fop_of(in));
  if (mem) {
    f.set_fdp(c.ea(in, *mem));
    f.set_fds(c.s.seg[mem->seg].selector);
  }
}

// Stack fault responses (SDM Vol. 1, 8.5.1.1): IE and SF, C1 = 0 for an
// underflow (an empty source) and 1 for an overflow (a push onto a
// non-empty register). Return true when IE is masked, i.e. the caller
// delivers the masked response (QNaN indefinite) and completes; false
// leaves the registers and TOP unchanged, with the exception pending.
inline bool underflow(State& f) {
  f.set_cc(fpu::kC1, 0);
  return !f.raise(fpu::kIE | fpu::kSF);
}
inline bool overflow(State& f) {
  f.set_cc(fpu::kC1, fpu::kC1);
  return !f.raise(fpu::kIE | fpu::kSF);
}

// Memory operands of every x87 size. SoftMmu accesses are at most four
// bytes; wider ones go through fpu::read_bytes/write_bytes.
template <typename T>
inline T mem_read(Cpu& c, const InstrRecord& in, const Operand& o) {
  const uint32_t off = c.ea(in, o);
  if constexpr (sizeof(T) <= 4) {
    return c.read<T>(o.seg, off);
  } else {
    uint8_t b[sizeof(T)];
    fpu::read_bytes(c, o.seg, off, b, sizeof(T));
    T v;
    std::memcpy(&v, b, sizeof(T));
    return v;
  }
}
template <typename T>
inline void mem_write(Cpu& c, const InstrRecord& in, const Operand& o, T v) {
  const uint32_t off = c.ea(in, o);
  if constexpr (sizeof(T) <= 4) {
    c.write<T>(o.seg, off, v);
  } else {
    uint8_t b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    fpu::write_bytes(c, o.seg, off, b, sizeof(T));
  }
}
inline F80 mem_read_f80(Cpu& c, const InstrRecord& in, const Operand& o) {
  uint8_t b[10];
  fpu::read_bytes(c, o.seg, c.ea(in, o), b, 10);
  F80 v;
  std::memcpy(&v.mant, b, 8);
  std::memcpy(&v.se, b + 8, 2);
  return v;
}
inline void mem_write_f80(Cpu& c, const InstrRecord& in, const Operand& o, const F80& v) {
  uint8_t b[10];
  std::memcpy(b, &v.mant, 8);
  std::memcpy(b + 8, &v.se, 2);
  fpu::write_bytes(c, o.seg, c.ea(in, o), b, 10);
}

// Registers the control instructions (x87_control.cpp).
void register_x87_control(SelectorTable& t);

}  // namespace vmm::interp::x87

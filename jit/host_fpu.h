// The guest's x87 registers in the host FPU while translated code runs.
//
// In a block mode with blockmode::kFpuNative (CR0.EM and TS clear, every x87
// exception masked) the translator re-encodes x87 instructions for the host
// (emit_native.cpp, Emitter::emit_x87). Their registers are then the host's:
// JitEngine::execute loads the guest's FCW, FSW, tags and ST(0)-ST(7) from
// CpuState::fpu into the host FPU before it enters translated code and stores
// them back when it returns; a helper that needs the guest's FPU state in
// CpuState (an x87 instruction left to the interpreter, FXSAVE, FNSAVE, ...)
// stores it first and loads it again after (Spill). The host's MXCSR and
// XMM registers are not part of the exchange: the guest's MXCSR stays in
// CpuState::fpu, the VMM's C++ code keeps its own.
//
// FOP, FIP/FCS and FDP/FDS are not exchanged either: the host's would be host
// addresses. Translated code stores the guest's into CpuState::fpu after each
// native x87 instruction, as the interpreter's x87::record does.
#pragma once

#include "runtime/cpu_state.h"

namespace vmm::jit::host_fpu {

// Loads the guest's x87 registers into the host FPU (FXRSTOR of an image
// carrying the host's own MXCSR) and sets CpuState::jit.fpu_in_host.
void load(CpuState& s);
// When CpuState::jit.fpu_in_host is set: stores the host FPU's x87 registers
// into CpuState::fpu (FXSAVE), reinitialises the host FPU (FNINIT: empty
// stack, control word 037FH, the state C++ code expects) and clears the flag.
void store(CpuState& s);

// Around a helper that reads or writes the guest's FPU state in CpuState:
// stores it from the host FPU, and loads it again afterwards if the block
// mode still allows native x87 code (otherwise the rest of the run uses the
// interpreter's x87 and the state stays in CpuState).
class Spill {
 public:
  explicit Spill(CpuState& s) : s_(s), loaded_(s.jit.fpu_in_host) { store(s_); }
  ~Spill();
  Spill(const Spill&) = delete;
  Spill& operator=(const Spill&) = delete;

 private:
  CpuState& s_;
  bool loaded_;
};

}  // namespace vmm::jit::host_fpu

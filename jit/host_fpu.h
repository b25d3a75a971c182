// The guest's x87 registers in the host FPU while translated code runs.
//
// In a block mode with blockmode::kFpuNative (CR0.EM and TS clear, every x87
// exception masked) the translator re-encodes x87 instructions for the host
// (jit/emit_x87.cpp). Their registers are then the host's, loaded lazily: a
// translation with native x87 code starts with CALL [CpuState::jit.fpu_enter],
// which is the engine's load stub until the registers are in the host FPU
// (the stub loads the guest's FCW, FSW, tags and ST(0)-ST(7) from
// CpuState::fpu with XRSTOR of the x87 component only, then points
// fpu_enter at a RET) and that RET after. JitEngine::execute stores them
// back when translated code returns, so runs that never reach x87 code cost
// nothing. A helper that needs the guest's FPU state in CpuState (an x87
// instruction left to the interpreter, FXSAVE, FNSAVE, ...) stores it first
// and loads it again after (Spill). The host's MXCSR and XMM registers are
// not part of the exchange: the guest's MXCSR stays in CpuState::fpu, the
// VMM's C++ code keeps its own.
//
// FOP, FIP/FCS and FDP/FDS are not exchanged either: the host's would be host
// addresses. Translated code stores the guest's into CpuState::fpu after each
// native x87 instruction, as the interpreter's x87::record does.
#pragma once

#include <asmjit/x86.h>

#include "runtime/cpu_state.h"

namespace vmm::jit::host_fpu {

// Whether this host can run guest x87 code natively: the load stub needs
// XSAVE enabled by the host OS (CPUID.1:ECX.OSXSAVE).
bool supported();

// The engine's two stubs: what CpuState::jit.fpu_enter points at while the
// registers are in CpuState (load) and in the host FPU (ready).
struct Stubs {
  uintptr_t load = 0, ready = 0;
};

// Emits the load stub and the ready stub (a RET) among the engine's
// trampolines. The load stub is called at the entry of a translation with
// native x87 code, between guest instructions: it keeps every guest
// register and the flags, and uses R10 and R11 only.
void emit_stubs(asmjit::x86::Assembler& a, asmjit::Label& load, asmjit::Label& ready);

// Loads the guest's x87 registers into the host FPU from C++ (FXRSTOR of an
// image carrying the host's own MXCSR) and marks them loaded.
void load(CpuState& s, const Stubs& stubs);
// When the guest's x87 registers are in the host FPU: stores them into
// CpuState::fpu (FXSAVE), reinitialises the host FPU (FNINIT: empty stack,
// control word 037FH, the state C++ code expects) and marks them not loaded.
void store(CpuState& s, const Stubs& stubs);

// Around a helper that reads or writes the guest's FPU state in CpuState:
// stores it from the host FPU, and loads it again afterwards if the block
// mode still allows native x87 code (the rest of the translation runs on it;
// otherwise the helper ends the block and the state stays in CpuState).
class Spill {
 public:
  Spill(CpuState& s, const Stubs& stubs) : s_(s), stubs_(stubs), loaded_(s.jit.fpu_in_host) { store(s_, stubs_); }
  ~Spill();
  Spill(const Spill&) = delete;
  Spill& operator=(const Spill&) = delete;

 private:
  CpuState& s_;
  const Stubs& stubs_;
  bool loaded_;
};

}  // namespace vmm::jit::host_fpu

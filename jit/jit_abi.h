// The contract between translated code and the C++ side of the JIT: exit
// statuses, and the helpers generated code calls (jit_helpers.cpp).
#pragma once

#include <cstdint>

#include "frontend/instr.h"
#include "runtime/cpu_state.h"
#include "runtime/interp/flags.h"

namespace vmm {
class Cpu;
}

namespace vmm::jit {

// Why translated code returned to the dispatcher (CpuState::jit.status).
enum ExitStatus : uint32_t {
  kExitNext = 0,       // Block finished; CpuState::eip is the next guest EIP.
  kExitException = 1,  // A guest exception is pending in the Cpu (EIP at the faulting instruction).
  kExitHostTrap = 2,   // A native DIV/IDIV trapped (jit/host_trap.h): raise #DE at EIP.
};

// Helper results (returned in EAX to generated code).
enum HelperResult : uint32_t {
  kHelperContinue = 0,   // Instruction done, EIP advanced: continue with the next one.
  kHelperEndBlock = 1,   // Instruction done and it set EIP or ended the block: exit.
  kHelperException = 2,  // The instruction faulted: exception pending, exit.
};

// Memory slow path result: a host address, or one of these.
inline constexpr uintptr_t kMemFallback = 0;   // Not plain RAM (MMIO, code page, crossing): interpret it.
inline constexpr uintptr_t kMemException = 1;  // Faulted: exception pending.

// The inline lookup table for indirect branches (RET, JMP/CALL through a
// register or memory) and direct ones to another page: direct-mapped by guest
// EIP, one table per block mode (translated code embeds the address of its
// own mode's table, so the lookup compares the EIP only). Keys and entry
// points are separate arrays, so one slot index addresses both (scales 4 and
// 8). An empty slot holds EIP 0 and the engine's miss stub, so a lookup of
// EIP 0 that finds an empty slot goes to the dispatcher like any miss.
inline constexpr unsigned kJumpTableBits = 12;
inline constexpr unsigned kJumpTableSize = 1u << kJumpTableBits;
struct JumpTable {
  uint32_t eip[kJumpTableSize];
  uint64_t host[kJumpTableSize];
};
// Direct-mapped by the low bits: measured 3.5% faster on indirect-heavy guests than
// folding in the high bits (two instructions fewer per lookup).
inline constexpr unsigned jump_table_slot(uint32_t eip) {
  return eip & (kJumpTableSize - 1);
}

// Access kinds passed to jit_mem_slow (bits 0-3: size; bit 4: write).
inline constexpr uint32_t kMemWrite = 1u << 4;

// EFLAGS <-> the flags image translated code keeps in CpuState::jit (jit/flag_image.h).
inline void flags_from_image(CpuState& s) {
  s.eflags = (s.eflags & ~flag::kArith) |
             (interp::lahf_seto_to_eflags(static_cast<uint16_t>(s.jit.flags_image)) & flag::kArith);
}
inline void flags_to_image(CpuState& s) { s.jit.flags_image = interp::flags_to_ax(s.eflags); }

extern "C" {
// Runs one instruction through its interpreter handler (guest state synced).
uint32_t vmm_jit_interp_one(CpuState* s, const InstrRecord* in);
// TLB miss or special page: translates `lin` for the access, filling the TLB.
uintptr_t vmm_jit_mem_slow(CpuState* s, uint32_t lin, uint32_t kind);
}

}  // namespace vmm::jit

// The contract between translated code and the C++ side of the JIT: exit
// statuses, and the helpers generated code calls (jit_helpers.cpp).
#pragma once

#include <cstdint>
#include <vector>

#include "frontend/block.h"
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
inline constexpr unsigned kJumpTableBits = 16;
inline constexpr unsigned kJumpTableSize = 1u << kJumpTableBits;
struct JumpTable {
  uint32_t eip[kJumpTableSize];
  uint64_t host[kJumpTableSize];
  // Engine side only: slots filled since the table was last cleared, so a
  // clear (every CR3 load) and a page drop (INVLPG of a code page) visit
  // those, not all 4096. May list a slot twice or one emptied since.
  std::vector<uint16_t> filled;
  // Engine side only: the slot's block had global code (Block::global_code).
  std::vector<uint8_t> global = std::vector<uint8_t>(kJumpTableSize, 0);
};
// Direct-mapped by the low bits: measured 3.5% faster on indirect-heavy guests than
// folding in the high bits (two instructions fewer per lookup).
inline constexpr unsigned jump_table_slot(uint32_t eip) {
  return eip & (kJumpTableSize - 1);
}

// Access kinds passed to jit_mem_slow (bits 0-3: size; bit 4: write).
inline constexpr uint32_t kMemWrite = 1u << 4;
inline constexpr uint32_t kMemView = 1u << 5;  // SlowSite::kind: the access addresses [R14 + R8] (guest view).

// One native memory access's slow path, as data after its block's code.
// The access's out-of-line stub loads its address into R10 and jumps to the
// engine's shared slow-path trampoline (JitEngine::emit_trampolines), which
// syncs the guest state, calls vmm_jit_mem_slow_site and then resumes the
// access, continues after the instruction or exits.
struct SlowSite {
  uint32_t kind;              // Access size | kMemWrite | kMemView.
  uint32_t eip;               // Guest EIP of the instruction.
  uint32_t unexecuted;        // Instructions of the block from it on (given back to the budget if it faults).
  uint32_t unexecuted_after;  // ... after it (given back if it ends the block).
  const InstrRecord* instr;   // For the interpreter when the access is not plain RAM.
  uint64_t resume;            // Host code: the access again, R8 set by the slow path.
  uint64_t after;             // Host code: what follows the instruction.
  Block* block;               // The block, to translate again without this access (JitEngine::demote).
};
static_assert(sizeof(SlowSite) == 48, "emitted as 4 + 4 + 4 + 4 + 8 + 8 + 8 + 8 bytes");
// vmm_jit_mem_slow_site results besides a host address (never below 4096).
inline constexpr uintptr_t kSlowContinue = 1;   // The interpreter did the instruction: go on after it.
inline constexpr uintptr_t kSlowEndBlock = 2;   // ... and it ended the block: exit.
inline constexpr uintptr_t kSlowException = 3;  // Faulted: exception pending, exit.

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
// The slow path of `site` (guest state synced): a host address for the
// access, or the interpreter runs the instruction (kSlow* results).
uintptr_t vmm_jit_mem_slow_site(CpuState* s, uint32_t lin, const SlowSite* site);
}

}  // namespace vmm::jit

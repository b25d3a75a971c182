// Translates a decoded Block into host code (design decisions 3-5, 7):
// unprivileged instructions are re-encoded natively on the guest registers
// held in host registers, with the guest's arithmetic flags in host RFLAGS;
// memory operands use the guest views (host-MMU path) or an inline softmmu
// TLB probe giving the host address;
// everything else becomes a call to the instruction's interpreter handler
// (the emulation routines are reached through it), with guest state synced.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <unordered_map>

#include "frontend/block.h"
#include "jit/chain.h"
#include "jit/code_buffer.h"
#include "jit/host_trap.h"
#include "jit/jit_abi.h"

namespace vmm::jit {

struct TranslatorStats {
  uint64_t blocks = 0;
  uint64_t guest_instrs = 0;
  uint64_t native_instrs = 0;
  uint64_t memory_probes = 0;      // Inline TLB probes (softmmu path, REP MOVS/STOS).
  uint64_t view_accesses = 0;      // Native memory accesses through the guest views (host-MMU path).
  uint64_t flag_saves = 0;  // Probes that restore live flags on the fast path.
  uint64_t helper_instrs = 0;
  uint64_t high_byte_fallbacks = 0;
  uint64_t host_bytes = 0;
  uint64_t indirect_sites = 0;  // Indirect branches with an inline lookup.
  uint64_t string_fast_paths = 0;  // REP MOVS/STOS with an inline single-page run (else its handler).
  uint64_t trap_sites = 0;      // Native DIV/IDIV whose host #DE becomes the guest's.
  uint64_t x87_native = 0;      // x87 instructions run on the guest's registers in the host FPU (host_fpu.h).
  std::unordered_map<uint16_t, uint64_t> helper_by_mnemonic;  // Interpreter fallbacks per mnemonic.
};

// What translated code jumps to and how it is built, fixed for the life of an engine.
struct TranslatorEnv {
  uintptr_t exit_common = 0;  // Expects: flags and guest regs live, [eip] set, R9 = instructions not run.
  uintptr_t exit_synced = 0;  // Expects: state already stored, R9 = instructions not run.
  uintptr_t miss_stub = 0;    // Expects: flags and guest regs live, R9D = the guest EIP to go to.
  uintptr_t slow_common = 0;  // Expects: R10 = SlowSite, R8D = linear address, R11D = flags image.
  std::function<const JumpTable*(uint32_t mode)> jump_table_of;  // Inline lookup table of a block mode.
  bool bmi2 = false;           // The host has BMI2 (RORX for the budget test).
  bool count_lookups = false;  // Count inline lookups (--stats); misses are always counted.
  bool inline_lookup = true;   // Indirect branches look up their target inline (else: the miss stub).
  bool profile = false;        // Each translation counts its entries (Block::profile_jit_entries).
  bool x87_native = true;      // x87 instructions run natively where the block mode allows (--jit-x87).
  // Guest memory through the guest views (guest_views.h) instead of inline TLB probes.
  bool host_mmu = false;
  // Each MMU index's TLB (SoftMmu::tlb) as an offset from the CpuState, for
  // the probes of REP MOVS/STOS and of the softmmu path.
  int32_t tlb_offset[2] = {0, 0};
};

class Translator {
 public:
  // Native instructions that may trap on the host are recorded in `traps`,
  // guest memory accesses through the views in `faults`.
  Translator(CodeBuffer& buffer, TrapSites& traps, FaultSites& faults, const TranslatorEnv& env);

  // Emits host code for `b` into the buffer. Returns the entry point, or
  // nullptr when the buffer has no room left (the caller flushes and retries).
  // The block's chainable exits are appended to `sites` (with stable addresses).
  void* translate(Block& b, std::deque<ChainSite>& sites);

  const TranslatorStats& stats() const { return stats_; }
  // Applies to blocks translated from now on.
  void set_count_lookups(bool on) { env_.count_lookups = on; }
  void set_inline_lookup(bool on) { env_.inline_lookup = on; }
  void set_profile(bool on) { env_.profile = on; }
  void set_x87_native(bool on) { env_.x87_native = on; }

 private:
  CodeBuffer& buffer_;
  TrapSites& traps_;
  FaultSites& faults_;
  TranslatorEnv env_;
  TranslatorStats stats_;
};

// Disassembles host code (for -d out_asm).
std::string disassemble_host(const void* code, size_t size);

}  // namespace vmm::jit

// The JIT engine: owns the code buffer, the translator and the entry/exit
// trampolines, and runs one translated block at a time for Cpu::run (which
// keeps the shared parts of the run loop: interrupts, block lookup, debug
// stepping, exception delivery).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <memory>
#include <unordered_map>
#include <vector>

#include "frontend/block.h"
#include "jit/code_buffer.h"
#include "jit/guest_views.h"
#include "jit/host_trap.h"
#include "jit/jit_abi.h"
#include "jit/host_fpu.h"
#include "jit/translator.h"
#include "runtime/exceptions.h"

namespace vmm {
class Cpu;
}

namespace vmm::jit {

struct EngineStats {
  uint64_t executions = 0;     // Translated blocks entered.
  uint64_t translations = 0;   // Blocks translated (including retranslations after a flush).
  uint64_t flushes = 0;        // Code-buffer flushes.
  double translate_seconds = 0;
  uint64_t exceptions = 0;     // Guest exceptions raised inside translated code or its helpers.
  uint64_t chains = 0;         // Jumps patched to enter another block directly.
  uint64_t unchains = 0;       // Chained jumps undone because their target was dropped.
  uint64_t budget_exits = 0;   // Returns because the instruction budget ran out.
  uint64_t host_traps = 0;     // Host faults in translated code converted to guest exceptions (SIGFPE -> #DE).
  uint64_t indirect_lookups = 0;  // Indirect branches (RET, JMP/CALL r/m) that ran the inline lookup (from CpuState).
  uint64_t indirect_misses = 0;   // ... of which left translated code for the dispatcher.
  uint64_t demoted_accesses = 0;  // Memory accesses turned into helper calls (device or code page found).
  uint64_t probed_accesses = 0;   // View accesses turned into TLB probes (their page kept being unmapped).
  uint64_t fpu_loads = 0;  // Loads of the guest's x87 registers into the host FPU by translated code (host_fpu.h).
  uint64_t fpu_spills = 0; // Helpers that stored them back to run the interpreter's x87 (and loaded them again).
};

class JitEngine {
 public:
  // With `host_mmu`, translated code reaches guest memory through guest
  // views (guest_views.h) rather than inline TLB probes.
  JitEngine(Cpu& cpu, size_t buffer_bytes, bool host_mmu = true);
  ~JitEngine();

  // Runs translated code from block `b` (translating it first if needed),
  // following chained blocks, for at most `budget` guest instructions.
  // Returns the number completed; sets `faulted` when a guest exception is
  // pending in the Cpu. On return CpuState::eip is the next instruction.
  uint64_t execute(Block& b, uint64_t budget, bool& faulted);

  // Drops all translations (code buffer full, or on request).
  void flush();
  // The access of `site` reached a device or a page holding code: its
  // instruction is translated as a helper call from now on, and its block
  // is translated again at its next entry (the running code finishes).
  void demote(const SlowSite& site);
  // A view access of `site` faulted and its page was mapped (again). An
  // access that keeps finding the same page unmapped (INVLPG or CR3 loads
  // between its executions) is translated with a TLB probe instead.
  void note_view_refill(const SlowSite& site, uint32_t lin);
  const host_fpu::Stubs& fpu_stubs() const { return fpu_stubs_; }
  // A helper stored the guest's x87 registers from the host FPU (host_fpu.h).
  void note_fpu_spill() { ++stats_.fpu_spills; }
  // The view access of `site` raised a guest exception.
  void note_view_exception(const SlowSite& site);
  // Lockstep testing: without chaining every entry runs exactly one block
  // (given a budget of that block's length).
  void set_chaining(bool on) { chaining_ = on; }
  // Indirect branches look their targets up inline (for blocks translated
  // from now on); off, they return to the run loop (EngineTuning).
  // --profile: translations count their entries (blocks translated from now on).
  void set_profile(bool on) { translator_->set_profile(on); }
  uint32_t generation() const { return generation_; }
  // Applies to blocks translated from now on.
  void set_x87_native(bool on) { translator_->set_x87_native(on && host_fpu::supported()); }
  void set_inline_lookup(bool on) {
    inline_lookup_ = on;
    translator_->set_inline_lookup(on);
  }

  // Empties the inline lookup tables (the virtual-to-physical mapping changed).
  // Empties the inline lookup tables (but for blocks of global code with
  // keep_global: a CR3 load).
  void clear_jump_table(bool keep_global = false);
  // Drops the jump-table entries of blocks on one linear page (INVLPG).
  void drop_jump_table_page(uint32_t lin_page);
  // Counts inline lookups of indirect branches (--stats), for blocks translated from now on.
  void set_count_lookups(bool on) { translator_->set_count_lookups(on); }

  // A block is being dropped (self-modifying code, cache flush): jumps
  // chained into it go back to their stubs.
  void block_retired(Block* b);

  EngineStats stats() const;
  // Instructions translated code has retired in the current execute() when
  // a helper or slow path runs (they store the budget before instruction i
  // first); 0 outside execute().
  uint64_t in_flight() const;
  const TranslatorStats& translator_stats() const { return translator_->stats(); }
  const CodeBuffer& buffer() const { return buffer_; }
  // Visits every translated block (diagnostics and tests).
  template <typename Visit>
  void for_each_translated_block(Visit visit) const {
    for (const auto& entry : block_at_) visit(*entry.second);
  }
  // What R14 holds in translated code (CpuState::JitLink::mem_base): the
  // guest view of the current MMU index, or 0 with the host-MMU path off.
  uintptr_t mem_base() const;
  // The guest views of the host-MMU path, or nullptr when it is off.
  GuestViews* views() { return views_.get(); }
  const GuestViews* views() const { return views_.get(); }
  // QEMU's -perfmap: each translation's host range and guest EIP go to
  // /tmp/perf-<pid>.map, so that `perf report` names translated code.
  // Returns false if the file cannot be created.
  bool open_perf_map();

 private:
  void emit_trampolines();
  JumpTable& jump_table_of(uint32_t mode);
  void clear(JumpTable& t, bool keep_global = false) const;
  void* translate(Block& b);
  void try_chain(Block& b);
  // For the host-fault message: the guest EIP of the block holding host address `pc`.
  static bool guest_code_at(const void* engine, uintptr_t pc, uint32_t& block_eip, uint32_t& instr_eip);

  Cpu& cpu_;
  CodeBuffer buffer_;
  TrapSites trap_sites_;
  FaultSites fault_sites_;
  std::unique_ptr<GuestViews> views_;
  int trap_slot_ = -1;
  std::unique_ptr<Translator> translator_;
  std::unique_ptr<FILE, int (*)(FILE*)> perf_map_{nullptr, std::fclose};
  size_t trampoline_bytes_ = 0;
  uint32_t generation_ = 1;
  using EnterFn = void (*)(void* state, void* code);
  EnterFn enter_ = nullptr;
  uintptr_t exit_common_ = 0;
  uintptr_t exit_synced_ = 0;
  uintptr_t miss_stub_ = 0;
  uintptr_t slow_common_ = 0;  // Shared memory slow path (jit_abi.h, SlowSite).
  EngineStats stats_;
  std::deque<ChainSite> sites_;                                   // Exits of current translations.
  std::unordered_map<const Block*, std::vector<ChainSite*>> incoming_;  // Chained jumps into a block.
  struct ViewChurn {
    uintptr_t view = 0;     // The view it mapped it in (an address space's, or the supervisor one).
    uint32_t page = 0;      // Page the access mapped last.
    uint32_t refaults = 0;  // Times it found that page, in that view, unmapped again.
    bool seen = false;
  };
  std::unordered_map<const SlowSite*, ViewChurn> churn_;  // By view access, until the next flush.
  std::unordered_map<const InstrRecord*, uint32_t> exceptions_at_;  // Host traps / view exceptions by instruction.
  const TrapSite* last_trap_ = nullptr;  // Set by the host trap handler.
  void note_host_trap(const TrapSite& t);
  // Unlinks `b`'s translation (as for a dropped block) so its next entry
  // translates it again; the code running now finishes.
  void translate_again(Block* b);
  // Marks `in` with `how` (once), counts it, and translates `b` again.
  void retranslate_as(InstrRecord* in, Block* b, uint16_t how, uint64_t& counter);
  std::unordered_map<const void*, Block*> block_at_;               // Host entry -> block (for unchaining).
  ChainSite* last_exit_ = nullptr;                                 // Exit taken by the last return.
  bool chaining_ = true;
  bool inline_lookup_ = true;
  int64_t entry_budget_ = 0;  // Budget at the start of the running execute().
  bool running_ = false;
  std::unordered_map<uint32_t, std::unique_ptr<JumpTable>> jump_tables_;  // By block mode.
  host_fpu::Stubs fpu_stubs_;
  uint32_t last_mode_ = ~0u;           // jump_table_of's last answer, cached.
  JumpTable* last_table_ = nullptr;
};

}  // namespace vmm::jit

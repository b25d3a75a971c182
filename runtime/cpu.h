// One virtual IA-32 CPU: architectural state, its softmmu, its decoded-block
// cache, and the interpreter run loop. The JIT (jit/) runs the same Cpu.
#pragma once

#include <array>
#include <bitset>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "frontend/block.h"
#include "frontend/block_builder.h"
#include "frontend/decoder.h"
#include "frontend/instr.h"
#include "runtime/cpu_state.h"
#include "runtime/exceptions.h"
#include "frontend/engine_tuning.h"
#include "runtime/jump_cache.h"
#include "runtime/page_set.h"
#include "runtime/segmentation.h"
#include "runtime/softmmu.h"

namespace vmm {
namespace jit {
class JitEngine;
}

class Bus;
class Log;
class Profiler;

enum class StopReason : uint8_t {
  kNone,
  kHalted,            // HLT: the CPU waits for an interrupt (run() returns; call again to resume).
  kExitDevice,        // The guest wrote to the exit device.
  kInstructionLimit,  // run() reached its instruction budget.
  kTripleFault,
  kReset,             // The guest asked for a reset (port 0x92, 8042 pulse).
  kFatal,             // An unrecoverable condition; message in stop_message().
};

// Counted by the JIT's C++ helpers (jit/jit_helpers.cpp), at run time: how
// often translated code left the fast path, and for what.
struct JitHelperStats {
  // vmm_jit_interp_one calls per ZydisMnemonic: instructions the translator
  // handed to their interpreter handler, counted each time they run.
  std::array<uint64_t, ZYDIS_MNEMONIC_MAX_VALUE + 1> interp_calls{};
  // vmm_jit_mem_slow outcomes (a call has exactly one).
  uint64_t mem_slow_refills = 0;   // Plain RAM: TLB refilled, the native access resumes.
  uint64_t mem_slow_crossing = 0;  // Crosses a page: the interpreter runs the instruction.
  uint64_t mem_slow_special = 0;   // MMIO, code page, watched page: the interpreter runs it.
  uint64_t mem_slow_faults = 0;    // Raised a guest exception.
};

// Execution statistics (--stats). Plain counters, incremented where the event
// happens; runtime/stats_report.cpp derives rates and misses from them.
struct CpuStats {
  uint64_t instructions = 0;
  // The decoded-block cache. A run-loop lookup probes the jump cache (virtual
  // EIP, mode); a miss translates EIP and probes the block map (physical PC,
  // mode); a map miss decodes a block.
  uint64_t block_lookups = 0;      // Jump-cache probes.
  uint64_t jump_cache_hits = 0;
  uint64_t block_map_lookups = 0;  // Jump-cache misses whose EIP translated (no #PF).
  uint64_t block_map_hits = 0;
  uint64_t blocks_stale = 0;       // Map hits reached through another alias or a remapped second page: decoded again.
  uint64_t blocks_built = 0;
  uint64_t instrs_decoded = 0;
  uint64_t superblock_jccs = 0;    // Jcc decoded inside a block rather than at its end (superblocks).
  double decode_seconds = 0;       // Spent in BlockBuilder::build and binding handlers.
  // Invalidations, by cause.
  uint64_t smc_interpreted_blocks = 0;  // Decoded on a page whose code keeps being rewritten: not translated.
  uint64_t smc_invalidations = 0;  // Guest writes to decoded code bytes (note_code_write).
  uint64_t blocks_invalidated = 0; // ... blocks they dropped.
  uint64_t invlpg_flushes = 0;     // INVLPG (tlb_flush_page): jump caches dropped.
  uint64_t cr3_flushes = 0;        // CR3 load, task switch (paging_changed keeping global pages).
  uint64_t paging_flushes = 0;     // CR0/CR4 paging bits, reset (paging_changed dropping everything).
  uint64_t code_cache_flushes = 0; // Every block dropped (flush_code_cache) ...
  uint64_t code_cache_full = 0;    // ... of which because the cache reached its block or instruction limit.
  uint64_t blocks_flushed = 0;     // Blocks dropped by those flushes.
  // Events delivered to the guest.
  uint64_t exceptions = 0;
  uint64_t interrupts = 0;  // External (INTR) interrupts.
  std::array<uint64_t, 256> exceptions_by_vector{};
  std::array<uint64_t, 256> interrupts_by_vector{};
  JitHelperStats jit_helpers;
};

// Mnemonic of an exception vector ("#PF"), "INT" beyond the architectural ones.
const char* vector_name(uint8_t vector);

class Cpu final : private CodeSource {
 public:
  Cpu(GuestRam& ram, Bus& bus);
  ~Cpu() override;

  CpuState s;
  SoftMmu mmu;
  Bus& bus;
  GuestRam& ram;
  Log* log = nullptr;  // Optional -d logging.
  Profiler* profiler = nullptr;  // --profile (runtime/profiler.h).

  // MMU index of ordinary data accesses (depends on CPL).
  unsigned mmu_idx() const { return mmu_idx_of_cpl(s.cpl); }

  // --- Runs guest code until a stop reason or `max_instructions`. ---
  // Also returns (kInstructionLimit) after kMaxExceptionsPerRun exceptions:
  // exceptions retire no instruction, so a guest that faults at every
  // instruction it reaches (a handler that faults itself) would otherwise
  // never use up the budget, and the machine could neither run timers nor
  // read its input (Ctrl-A x) again.
  StopReason run(uint64_t max_instructions = ~uint64_t{0});
  // More than any guest that makes progress takes in a slice (a handler runs
  // instructions between two exceptions).
  static constexpr uint64_t kMaxExceptionsPerRun = uint64_t{1} << 16;

  void request_stop(StopReason why, int status = 0);
  StopReason stop_reason() const { return stop_reason_; }
  int exit_status() const { return exit_status_; }
  const std::string& stop_message() const { return stop_message_; }
  void clear_stop() { stop_reason_ = StopReason::kNone; stopped_ = false; }

  // End the current block after the current instruction (mode change, SMC).
  void end_block() { exit_block_ = true; }
  bool end_block_requested() const { return exit_block_; }
  void clear_end_block() { exit_block_ = false; }

  // A guest exception raised inside translated code's helpers, delivered by
  // the run loop once control is back in C++.
  void set_pending_exception(const GuestException& e) { pending_exception_ = e; }

  // Runs translated code from now on (--engine=jit), with a code buffer of
  // `buffer_bytes` (--tb-size). A block is translated at its `threshold`-th
  // entry (--jit-threshold) and interpreted before: code that runs once
  // (boot code, a reset loop, generated code run once) costs a decode, not a
  // translation.
  void enable_jit(size_t buffer_bytes, bool host_mmu = true, unsigned threshold = 1);
  jit::JitEngine* jit() { return jit_.get(); }
  // Block building and the JIT's block linking (frontend/engine_tuning.h),
  // set before the run (after enable_jit).
  void set_tuning(const EngineTuning& t);
  const EngineTuning& tuning() const { return tuning_; }
  // Lockstep testing: each run() executes at most one block (translated or interpreted).
  void set_single_block(bool on);
  // Lockstep: run() returns right after delivering an exception, so that a
  // reference can be brought to the point where translated code, which may
  // run a few instructions past its budget, stopped: the delivery of a fault
  // at the instruction after its last one.
  void set_stop_after_exception(bool on) { stop_after_exception_ = on; }

  // --- Memory through segmentation and paging. ---
  uint32_t linear(uint8_t seg, uint32_t off) const { return s.seg[seg].base + off; }
  // Segments that are not flat get the limit and type checks of SDM Vol. 3A 5.3/5.5.
  template <typename T>
  T read(uint8_t seg, uint32_t off) {
    if (!s.seg[seg].unbounded) [[unlikely]]
      check_segment_access(s, seg, off, sizeof(T), false);
    return mmu.read<T>(linear(seg, off), mmu_idx());
  }
  template <typename T>
  void write(uint8_t seg, uint32_t off, T v) {
    if (!s.seg[seg].unbounded) [[unlikely]]
      check_segment_access(s, seg, off, sizeof(T), true);
    mmu.write<T>(linear(seg, off), v, mmu_idx());
  }

  // Linear address of a `size`-byte data access after the segment checks;
  // for read-modify-write forms that translate once and access the softmmu directly.
  uint32_t checked_linear(uint8_t seg, uint32_t off, unsigned size, bool write) const {
    if (!s.seg[seg].unbounded) [[unlikely]]
      check_segment_access(s, seg, off, size, write);
    return linear(seg, off);
  }

  // Effective address of a memory operand (SDM Vol. 1, 3.7.5).
  uint32_t ea(const InstrRecord& in, const Operand& o) const {
    uint32_t a = s.gpr[o.base] + (s.gpr[o.index] << o.scale) + static_cast<uint32_t>(o.disp);
    return in.addrsize == 2 ? (a & 0xFFFF) : a;
  }

  // Stack (SS:ESP, honouring SS.B for the stack-pointer width).
  template <typename T>
  void push(T v) {
    uint32_t sp = s.gpr[ESP] - sizeof(T);
    if (!s.stack32()) sp = (s.gpr[ESP] & 0xFFFF0000u) | (sp & 0xFFFF);
    write<T>(SS, s.stack32() ? sp : (sp & 0xFFFF), v);
    s.gpr[ESP] = sp;
  }
  template <typename T>
  T pop() {
    uint32_t sp = s.gpr[ESP];
    T v = read<T>(SS, s.stack32() ? sp : (sp & 0xFFFF));
    uint32_t n = sp + sizeof(T);
    s.gpr[ESP] = s.stack32() ? n : ((sp & 0xFFFF0000u) | (n & 0xFFFF));
    return v;
  }

  // Loads the flat 32-bit protected-mode state a multiboot loader hands over
  // (Multiboot Specification 0.6.96, 3.2 "Machine state").
  void reset_flat_protected(uint32_t eip);
  // The same state with GDTR = {gdt_base, gdt_limit} and the segment
  // registers loaded from that GDT in guest memory: CS from `code_selector`,
  // DS, ES, FS, GS and SS from `data_selector`, their hidden parts filled
  // from the descriptors as a load would fill them (the Linux 32-bit boot
  // protocol, Documentation/arch/x86/boot.rst). The GDT must hold both.
  void reset_protected_with_gdt(uint32_t eip, uint32_t gdt_base, uint16_t gdt_limit, uint16_t code_selector,
                                uint16_t data_selector);
  // Power-on state (SDM Vol. 3A, 9.1.1), used on reset.
  void reset_power_on();

  // Called after CR0/CR3/CR4 changes: flushes what depends on them (a CR3
  // load keeps global pages: keep_global).
  void paging_changed(bool keep_global = false);
  // INVLPG: one page of the TLB and what was cached through it.
  void tlb_flush_page(uint32_t lin);

  void flush_code_cache();

  const CpuStats& stats() const { return stats_; }
  // Instructions retired, exact also in the middle of a block or of a
  // chained run of translated code (the -icount clock, read by devices).
  uint64_t retired_instructions() const;
  // The JIT's helpers count their calls here.
  JitHelperStats& jit_helper_stats() { return stats_.jit_helpers; }
  const Decoder& decoder() const { return s.code32() ? dec32_ : dec16_; }
  const Decoder& decoder_for(bool code32) const { return code32 ? dec32_ : dec16_; }
  // Visits every decoded block alive (--profile).
  template <typename Visit>
  void for_each_block(Visit visit) const {
    for (const auto& entry : blocks_) visit(*entry.second);
  }

  // Instruction being executed by the interpreter (for diagnostics).
  const InstrRecord* current() const { return cur_; }

  // Delivers an exception to the guest (the machine installs the IDT
  // delivery of runtime/interrupts.h). Without one, the CPU stops with a
  // message naming the exception (bare CPUs in unit and differential tests).
  std::function<void(Cpu&, const GuestException&)> on_exception;

  // --- External interrupts (SDM Vol. 3A, 6.8). ---
  // The INTR line from the interrupt controller.
  void set_intr(bool level) {
    intr_ = level;
    if (level) exit_block_ = true;
  }
  bool intr() const { return intr_; }
  // Host-time machines: whether a timer deadline has passed (the machine
  // installs it; unset with --icount, where time only moves with retired
  // instructions, and on bare CPUs).
  std::function<bool()> timers_due;
  // Asked between iterations of a long instruction (REP string, REP
  // INS/OUTS; SDM Vol. 2B, REP: "service pending interrupts"): true when it
  // should stop early with EIP at the instruction and its registers showing
  // the progress, because an enabled interrupt is pending, the machine has
  // timers to run (the run slice then ends so it can), or the machine stopped.
  bool iteration_break() {
    if (stopped_ || (intr_ && (s.eflags & flag::IF))) return true;
    if (timers_due && timers_due()) {
      end_slice_ = true;
      exit_block_ = true;
      return true;
    }
    return false;
  }
  // INTA cycle: returns the vector of the highest-priority pending request.
  std::function<uint8_t()> acknowledge_interrupt;
  // STI and MOV/POP SS: no interrupt is taken before the instruction after
  // them completes (SDM Vol. 2B, STI; Vol. 3A, 6.8.3).
  void inhibit_interrupts_until(uint32_t eip) { inhibit_eip_ = eip; }
  // HLT: the CPU waits at the next instruction until an interrupt.
  void enter_halt() {
    halted_ = true;
    exit_block_ = true;
  }
  bool halted() const { return halted_; }
  // A fault while delivering a double fault: shutdown.
  void triple_fault();
  // The time-stamp counter's source: the machine's virtual clock (1 GHz), so
  // --icount runs read the same TSC. Host time when unset (bare CPUs).
  std::function<uint64_t()> tsc_source;

  // Recomputes the softmmu's data breakpoints from DR0-DR3/DR7.
  void update_watchpoints();
  // Set by every interrupt/exception delivery (single-step bookkeeping).
  void note_event_delivered() { event_delivered_ = true; }

  // Debug register values (SDM Vol. 3B, 18.2).
  static constexpr uint32_t kDr6Reset = 0xFFFF0FF0u;
  static constexpr uint32_t kDr7Reset = 0x00000400u;
  static constexpr uint32_t kDr6SingleStep = 1u << 14;

  // The mode bits of the block the CPU would run now (frontend/block.h):
  // computed on every block lookup, so written out without a loop.
  uint32_t block_mode() const {
    const SegmentCache* g = s.seg;
    return (s.code32() ? blockmode::kCode32 : 0u) | (uint32_t{s.cpl} << blockmode::kCplShift) |
           (s.stack32() ? blockmode::kStack32 : 0u) | (uint32_t{g[ES].flat} << (blockmode::kFlatShift + ES)) |
           (uint32_t{g[CS].flat} << (blockmode::kFlatShift + CS)) | (uint32_t{g[SS].flat} << (blockmode::kFlatShift + SS)) |
           (uint32_t{g[DS].flat} << (blockmode::kFlatShift + DS)) | (uint32_t{g[FS].unbounded} << (blockmode::kFlatShift + FS)) |
           (uint32_t{g[GS].unbounded} << (blockmode::kFlatShift + GS)) |
           (g[CS].base == 0 ? blockmode::kCsBaseZero : 0u) | (s.fpu_native() ? blockmode::kFpuNative : 0u);
  }

 private:
  uint32_t translate(uint32_t eip) override;
  const uint8_t* bytes(uint32_t phys) override;

  Block* lookup_block(uint32_t eip);
  Block* build_block(uint32_t eip, uint32_t phys, uint32_t mode);
  void handle_exception(const GuestException& e);
  void deliver_external(uint8_t vector);
  void check_instruction_breakpoints();
  void retire_block(std::unordered_map<uint64_t, std::unique_ptr<Block>>::iterator it);

  Decoder dec32_{true};
  Decoder dec16_{false};
  BlockBuilder builder32_{dec32_};
  BlockBuilder builder16_{dec16_};

  JumpCache jump_cache_;
  // The fetch TLB entry of `lin`'s page is valid and global.
  bool fetched_through_global(uint32_t lin) const;
  void cache_block(uint32_t eip, Block* b);
  // Linear pages holding the code of blocks in the jump cache (or, through
  // it, in the JIT's jump tables): INVLPG of any other page leaves both alone.
  PageSet cached_code_pages_;
  // The same for pages reached through global translations: kept across
  // CR3 loads with the blocks (Block::global_code), dropped at other flushes.
  PageSet global_code_pages_;
  // Blocks by physical PC, mode and linear page: the same physical code
  // reached through two linear aliases keeps a block for each.
  static uint64_t block_key(uint32_t phys, uint32_t mode, uint32_t lin) {
    static_assert(32 + blockmode::kBits + 20 <= 64);
    return uint64_t{phys} | (uint64_t{mode} << 32) | (uint64_t{lin >> 12} << (32 + blockmode::kBits));
  }
  static uint64_t block_key(const Block& b) { return block_key(b.phys_pc, b.mode, b.cs_base + b.virt_pc); }
  size_t cached_instrs_ = 0;  // Instructions of the blocks in blocks_.
  std::unordered_map<uint64_t, std::unique_ptr<Block>> blocks_;
  // Per physical page holding decoded code: its blocks and which of its
  // bytes they cover. A write that touches none of those bytes (data next
  // to code) drops nothing; one that does drops only the blocks it overlaps.
  struct CodePage {
    std::vector<Block*> blocks;
    std::bitset<kPageSize> bytes;
  };
  std::unordered_map<uint32_t, CodePage> page_blocks_;
  // Pages whose code keeps being rewritten (a JIT in the guest, code and
  // hot data sharing bytes): their blocks are interpreted, which costs less
  // than translating them again after every write. Counted per epoch of
  // kSmcEpochBuilds decoded blocks, so a page that stops being rewritten
  // (a recycled page cache page) is translated again later.
  struct SmcCount {
    uint32_t epoch = 0;
    uint32_t writes = 0;
  };
  std::unordered_map<uint32_t, SmcCount> smc_counts_;
  bool smc_hot(uint32_t phys_page) const;
  void note_code_write(uint32_t phys, unsigned size);
  static void block_bytes_on(const Block& b, uint32_t page, uint32_t& first, uint32_t& last);
  void drop_block(Block* b);
  std::vector<std::unique_ptr<Block>> retired_;  // Invalidated while possibly executing.

  const InstrRecord* cur_ = nullptr;
  const InstrRecord* first_ = nullptr;  // Block the interpreter is in (null between blocks).
  bool exit_block_ = false;
  bool end_slice_ = false;  // run() returns at the next block boundary (iteration_break).
  bool stop_after_exception_ = false;  // run() returns once an exception has been delivered.
  uint64_t exception_limit_ = ~uint64_t{0};  // run() returns once stats_.exceptions reaches it.
  bool intr_ = false;
  bool halted_ = false;
  bool event_delivered_ = false;
  bool single_block_ = false;
  EngineTuning tuning_;
  uint32_t inhibit_eip_ = ~0u;
  GuestException pending_exception_{0, false, 0};
  std::unique_ptr<jit::JitEngine> jit_;
  unsigned jit_threshold_ = 1;
  bool stopped_ = false;
  StopReason stop_reason_ = StopReason::kNone;
  int exit_status_ = 0;
  std::string stop_message_;
  CpuStats stats_;
};

}  // namespace vmm

// The translator's emitter (private to jit/): turns one Block into host
// code with asmjit. translator.cpp has the block structure (budget
// segments, internal branches, exits, helpers, out-of-line slow paths);
// emit_native.cpp the instructions that run natively (register and memory
// forms, LEA, PUSH/POP, REP MOVS/STOS) and the guest memory access paths.
#pragma once

#include <Zydis/Zydis.h>
#include <asmjit/x86.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "frontend/block.h"
#include "jit/chain.h"
#include "jit/flag_image.h"
#include "jit/host_regs.h"
#include "jit/jit_abi.h"
#include "jit/native_rules.h"
#include "jit/state_operands.h"
#include "jit/translator.h"
#include "runtime/cpu_state.h"
#include "runtime/softmmu.h"

namespace vmm::jit {

using asmjit::Imm;
using asmjit::Label;
namespace x86 = asmjit::x86;

// Where the guest's arithmetic flags are while a block's code is emitted.
// TLB probes (REP MOVS/STOS, every access with --host-mmu=off) and the
// inline lookup clobber the host flags, so they first save the flags in R11;
// restoring them into RFLAGS is put off until something needs them there
// (an instruction reading them or leaving some unchanged, a helper call, a
// trap site, a block exit), and a later probe reuses R11 while the flags have
// not changed. Invariant: the host flags are exact or R11D holds their
// LAHF/SETO image (jit/flag_image.h). The image is saved even where the flags
// are dead (a slow path may deliver an exception): measured, PUSHFQ/POP costs
// more than LAHF/SETO and its restore (POPFQ) far more.

class Emitter {
  static constexpr uint32_t kArith = flag::kArith;

 public:
  Emitter(x86::Assembler& a, const Block& b, const TranslatorEnv& env, TranslatorStats& st,
          std::deque<ChainSite>& sites)
      : a_(a), b_(b), exit_common_(env.exit_common), exit_synced_(env.exit_synced), miss_stub_(env.miss_stub),
        slow_common_(env.slow_common), code_end_(a.newLabel()),
        jump_table_(env.jump_table_of(b.mode)), bmi2_(env.bmi2), count_lookups_(env.count_lookups),
        inline_lookup_(env.inline_lookup), profile_(env.profile),
        host_mmu_(env.host_mmu), x87_native_(env.x87_native && (b.mode & blockmode::kFpuNative)),
        tlb_off_(env.tlb_offset[mmu_idx_of_cpl((b.mode >> blockmode::kCplShift) & 3)]), st_(st),
        sites_(sites) {}

  void emit();

 private:
  // A native memory access's slow path: its stub (entry), its SlowSite
  // (desc, emitted after the code) and where the trampoline goes back to.
  struct Slow {
    Label entry, desc, resume, after;
    size_t index;
    uint32_t kind;
  };
  struct HelperExit {
    Label entry;
    size_t index;
  };

 public:
  struct Exit {
    Label jump_end, stub;  // End of the patchable jump; its unchained destination.
    uint32_t target;
    ChainSite* site;
  };
  const std::vector<Exit>& exits() const { return exits_; }
  // Native instructions that may trap on the host: label at the instruction, index in the block.
  const std::vector<std::pair<Label, size_t>>& traps() const { return traps_; }
  // Guest memory accesses through the views: the access and its slow path.
  struct Fault {
    Label at, slow;
    bool flags_in_rflags;
  };
  const std::vector<Fault>& faults() const { return faults_; }
  uint32_t eip_of(size_t i) const { return eips_[i]; }
  // Offset of each instruction's code from the start of the block's code,
  // and where the out-of-line code begins (Block::host_offsets).
  const std::vector<uint32_t>& host_offsets() const { return host_offsets_; }
  uint32_t out_of_line_offset() const { return out_of_line_offset_; }
  // Bound where the code ends and the slow paths' SlowSite data begins.
  const Label& code_end() const { return code_end_; }
  // Budget segments (see emit()) start at the entry, at an internal branch
  // target and after a Jcc (one before the block's end is internal).
  bool starts_segment(size_t i) const {
    return i == 0 || is_target_[i] || (b_.instrs[i - 1].cls & iclass::kJcc);
  }
  // Instructions charged to the budget but not run when execution leaves
  // the block before instruction i: the rest of i's segment.
  uint32_t unexecuted_from(size_t i) const {
    return i < segment_end_.size() ? static_cast<uint32_t>(segment_end_[i] - i) : 0;
  }
  // ... when it leaves right after instruction i (which completed): the
  // rest of i's segment after it. Not unexecuted_from(i + 1): when i + 1
  // starts a segment of its own, that segment has not been charged yet.
  uint32_t unexecuted_after(size_t i) const { return unexecuted_from(i) - 1; }

 private:
  // DS, ES, SS, CS: flat (base 0, 4 GiB). FS and GS: their mode bit means
  // unbounded (any base), so they are never taken as flat.
  bool seg_flat(uint8_t seg) const { return seg != FS && seg != GS && seg_unbounded(seg); }
  bool seg_unbounded(uint8_t seg) const { return b_.mode & (1u << (blockmode::kFlatShift + seg)); }
  // emit_lea_address plus the segment base where it may be non-zero (FS, GS).
  void emit_segment_address(const Operand& m);

  // Flag image save/restore (jit/flag_image.h).
  void save_flags_to(const x86::Gpd& dst) { emit_save_flags(a_, dst); }
  void save_flags_to_state() { emit_save_flags(a_, state(kOffFlagsImage)); }
  void restore_flags_from(const x86::Gpd& src) { emit_restore_flags(a_, src); }
  void restore_flags_from_state() { emit_restore_flags(a_, state(kOffFlagsImage)); }

  // Lazy flags (see the comment above Emitter).
  void save_r11() {
    if (saved_) return;
    save_flags_to(x86::r11d);
    saved_ = true;
  }
  void need_host_flags() {
    if (host_flags_) return;
    ++st_.flag_saves;
    restore_flags_from(x86::r11d);
    host_flags_ = true;
  }
  // The exact flags into CpuState (before a call into C++).
  void store_flags_to_state() {
    if (host_flags_) save_flags_to_state();
    else a_.mov(state(kOffFlagsImage), x86::r11d);
  }
  // Around a natively executed instruction.
  void before_native(const InstrRecord& in) {
    if (host_flags_) return;
    const uint32_t written = in.flags_written & kArith;
    if ((in.flags_read & kArith) || may_trap(in.mnemonic)) {
      need_host_flags();
    } else if (written && flags_killed(in) != kArith) {
      // Some flags survive the instruction. INC/DEC keep only CF, which BT
      // restores in one instruction (the others it disturbs INC/DEC write).
      if (written == (kArith & ~flag::CF) && flags_killed(in) == written) {
        a_.bt(x86::r11d, 8);  // CF is bit 0 of AH.
        host_flags_ = true;
      } else {
        need_host_flags();
      }
    }
  }
  void after_native(const InstrRecord& in) {
    if (in.flags_written & kArith) {
      saved_ = false;
      host_flags_ = true;
    }
  }
  // CpuState::jit.budget as if charged up to instruction i only, so that
  // Cpu::retired_instructions is exact while a helper or slow path runs
  // (devices read the -icount clock).
  void store_retired_before(size_t i) {
    a_.lea(x86::r10, x86::ptr(x86::r13, static_cast<int32_t>(unexecuted_from(i))));
    a_.mov(x86::qword_ptr(x86::r15, kOffBudget), x86::r10);
  }
  void store_regs() {
    for (uint8_t g = 0; g < 8; ++g) a_.mov(state(kOffGpr + 4 * g), guest32(g));
  }
  void load_regs() {
    for (uint8_t g = 0; g < 8; ++g) a_.mov(guest32(g), state(kOffGpr + 4 * g));
    // A helper may have changed CPL and with it the guest view.
    a_.mov(x86::r14, x86::qword_ptr(x86::r15, kOffMemBase));
  }
  void call(const void* fn) {
    a_.mov(x86::r11, Imm(reinterpret_cast<uint64_t>(fn)));
    a_.call(x86::r11);
  }
  // A chainable exit to a constant guest EIP after the whole block: a
  // patchable 5-byte jump to a stub that returns to the dispatcher. A
  // backward exit (a loop) first tests the budget without touching the
  // flags: R13 stays within +-2^31 (JitEngine::execute), so its upper half is
  // all ones once it went negative and zero before; RORX (BMI2) or
  // BSWAP/MOVZX bring that into ECX, and JECXZ tests it.
  bool same_page(uint32_t eip) const { return (eip & kPageMask) == (b_.virt_pc & kPageMask); }
  static bool backward(uint32_t eip, uint32_t from) { return eip <= from; }
  void exit_to(uint32_t eip) {
    need_host_flags();
    if (!same_page(eip)) {
      exit_lookup(&eip);
      return;
    }
    ChainSite& site = sites_.emplace_back();
    site.target_eip = eip;
    site.from_page = b_.phys_pc & kPageMask;
    site.from_mode = b_.mode;
    Exit e{a_.newLabel(), a_.newLabel(), eip, &site};
    if (backward(eip, b_.virt_pc)) {
      // Guest ECX is parked in R10 while RCX carries the test value.
      Label ok = a_.newLabel();
      a_.mov(x86::r10, x86::rcx);
      if (bmi2_) {
        a_.rorx(x86::rcx, x86::r13, 32);
      } else {
        a_.mov(x86::rcx, x86::r13);
        a_.bswap(x86::rcx);
        a_.movzx(x86::ecx, x86::cl);
      }
      a_.jecxz(x86::ecx, ok);
      a_.mov(x86::rcx, x86::r10);
      a_.jmp(e.stub);  // Budget spent: back to the dispatcher (never patched).
      a_.bind(ok);
      a_.mov(x86::rcx, x86::r10);
    }
    a_.long_().jmp(e.stub);
    a_.bind(e.jump_end);
    exits_.push_back(e);
  }
  // A conditional exit to a forward EIP on this page: the JCC rel32 itself
  // is the chainable jump (no budget test is needed going forward).
  void exit_if(x86::CondCode cond, uint32_t eip) {
    need_host_flags();
    ChainSite& site = sites_.emplace_back();
    site.target_eip = eip;
    site.from_page = b_.phys_pc & kPageMask;
    site.from_mode = b_.mode;
    Exit e{a_.newLabel(), a_.newLabel(), eip, &site};
    a_.long_().j(cond, e.stub);
    a_.bind(e.jump_end);
    exits_.push_back(e);
  }

  // The guest's offset (effective address, no segment base) of m into `dst`.
  void emit_lea_address(const Operand& m, const x86::Gpd& dst = x86::r8d);
  // The memory operand of an access body's one guest access (emit_memory):
  // the host address in R8, or the guest address in R8 within the view at
  // R14. Called right before the access is emitted, which must come before
  // anything else the body changes: it marks the access (mark_access).
  x86::Mem guest_mem(unsigned size) {
    mark_access();
    return access_via_view_ ? x86::ptr(x86::r14, x86::r8, 0, 0, size) : x86::ptr(x86::r8, 0, size);
  }
  // On the host-MMU path a host fault at the next instruction continues at
  // the access's slow path. (Natively re-encoded bodies call it directly.)
  void mark_access() {
    if (!access_via_view_) return;
    faults_.push_back(Fault{a_.newLabel(), access_slow_, access_flags_exact_});
    a_.bind(faults_.back().at);
  }
  bool emit_native(size_t i);
  void emit_probe(unsigned size, bool write, Label& slow, Label& resume);
  void emit_tlb_lookup(unsigned size, bool write, Label& miss);
  bool emit_rep_string(size_t i);
  bool emit_xchg_memory(size_t i);
  bool emit_leave(size_t i);
  bool emit_direction_flag(size_t i);
  // x87 on the guest's registers in the host FPU (emit_x87.cpp).
  bool emit_x87(size_t i);
  bool emit_fldcw(size_t i);
  void emit_x87_record(size_t i, const Operand* mem);
  bool x87_record_overwritten(size_t i) const;
  // `end`: for an instruction with two accesses, where its first access's
  // slow path goes on when the interpreter did the whole instruction (the
  // caller binds it after the second); by default right after the body.
  template <typename Address, typename Body>
  void emit_memory(size_t i, unsigned size, bool write, Address address, Body body, const Label* end = nullptr);
  x86::Mem guest_address(const Operand& m) const;
  bool emit_lea(size_t i);
  bool emit_stack(size_t i);
  bool emit_terminal_native(size_t i);
  void emit_push_return(size_t i, uint32_t next);
  // Indirect branch (R9D holds the target), or a direct one to another
  // page (`target`; never chained, since the mapping of that page may change
  // without this block being dropped). The inline lookup (jit_abi.h,
  // JumpTable) enters the target's translation when this mode's table has
  // it and the budget is not spent; otherwise the miss stub returns to the
  // dispatcher with R9D = the target. The flags are the guest's throughout
  // (their image in R11D around the lookup).
  void exit_lookup(const uint32_t* target) {
    if (!(b_.mode & blockmode::kCsBaseZero) || !inline_lookup_) {
      // The tables hold only blocks with CS base 0 (JitEngine::execute);
      // without inline lookups (EngineTuning) the run loop finds the target.
      need_host_flags();
      if (target) a_.mov(x86::r9d, Imm(*target));
      a_.jmp(Imm(miss_stub_));
      return;
    }
    Label miss = a_.newLabel();
    save_r11();
    if (count_lookups_) a_.add(x86::qword_ptr(x86::r15, kOffIndirectLookups), 1);
    if (target) {
      const unsigned slot = jump_table_slot(*target);
      a_.mov(x86::r8, Imm(reinterpret_cast<uintptr_t>(&jump_table_->eip[slot])));
      a_.cmp(x86::dword_ptr(x86::r8), Imm(*target));
      a_.jne(miss);
      a_.test(x86::r13, x86::r13);
      a_.js(miss);
      a_.mov(x86::r8, x86::qword_ptr(x86::r8, static_cast<int32_t>(offsetof(JumpTable, host) + 8 * slot -
                                                                    offsetof(JumpTable, eip) - 4 * slot)));
    } else {
      ++st_.indirect_sites;
      a_.mov(x86::r10d, x86::r9d);
      a_.and_(x86::r10d, kJumpTableSize - 1);
      a_.mov(x86::r8, Imm(reinterpret_cast<uintptr_t>(jump_table_)));
      a_.cmp(x86::r9d, x86::dword_ptr(x86::r8, x86::r10, 2, offsetof(JumpTable, eip)));
      a_.jne(miss);
      a_.test(x86::r13, x86::r13);
      a_.js(miss);
      a_.mov(x86::r8, x86::qword_ptr(x86::r8, x86::r10, 3, offsetof(JumpTable, host)));
    }
    restore_flags_from(x86::r11d);  // Uses R10.
    a_.jmp(x86::r8);
    a_.bind(miss);
    restore_flags_from(x86::r11d);
    if (target) a_.mov(x86::r9d, Imm(*target));
    a_.jmp(Imm(miss_stub_));
  }
  // Indirect branch to the EIP in R9D.
  void exit_indirect() { exit_lookup(nullptr); }
  void emit_helper(size_t i);
  // After a fast path of instruction i that ends by jumping to `done` with
  // the guest's flags in R11 (the host's clobbered): binds `helper`, where
  // the instruction's interpreter handler runs instead, and joins both
  // paths with the flags exact in RFLAGS.
  void emit_fallback_and_join(size_t i, Label& helper, Label& done);
  void emit_inner_jcc(size_t i);
  void emit_terminal(size_t i);
  void emit_out_of_line();

  x86::Assembler& a_;
  const Block& b_;
  uintptr_t exit_common_, exit_synced_, miss_stub_, slow_common_;
  Label code_end_;
  const JumpTable* jump_table_;  // This block's mode's table.
  bool bmi2_;
  bool count_lookups_;
  bool inline_lookup_;
  bool profile_;
  bool host_mmu_;
  bool x87_native_;  // x87 instructions run natively (TranslatorEnv::x87_native, blockmode::kFpuNative).
  // Every path from the block's entry to here stored FCS, and no helper ran
  // since (emit_x87_record).
  bool fcs_stored_ = false;
  bool access_via_view_ = false;  // The access being emitted goes through the guest view.
  // Whether instruction `in`'s accesses go through the guest view (else a TLB probe).
  bool via_view(const InstrRecord& in) const { return host_mmu_ && !(in.cls & iclass::kProbeMemory); }
  int32_t tlb_off_;  // This block's TLB, from R15.
  Label access_slow_;  // Slow path of the access being emitted (emit_memory).
  bool access_flags_exact_ = true;
  std::vector<Fault> faults_;
  TranslatorStats& st_;
  std::deque<ChainSite>& sites_;
  std::vector<uint32_t> eips_;
  std::vector<uint32_t> host_offsets_;
  uint32_t out_of_line_offset_ = 0;
  std::vector<size_t> target_index_;  // Internal Jcc: index of its target.
  std::vector<bool> is_target_;       // Instruction is an internal branch target.
  std::vector<Label> labels_;         // Bound at internal branch targets.
  std::vector<size_t> segment_end_;  // End of the budget segment holding each instruction.
  std::vector<Slow> slows_;
  std::vector<HelperExit> helper_exits_;
  std::vector<Exit> exits_;
  std::vector<std::pair<Label, size_t>> traps_;
  bool host_flags_ = true;     // RFLAGS hold the guest's arithmetic flags.
  bool saved_ = false;         // R11D holds the image of the current flags.
};

// A native memory access of instruction i: `address` leaves the guest
// linear address in R8D, and `body` emits the access itself on guest_mem().
// On the host-MMU path that is the guest view and a host fault leads to the
// slow path; otherwise the probe first turns R8 into a host address or
// branches to it. The slow path resumes the body with a host address from
// the softmmu, or has the interpreter execute the whole instruction (MMIO,
// code pages, page-crossing accesses).
template <typename Address, typename Body>
void Emitter::emit_memory(size_t i, unsigned size, bool write, Address address, Body body, const Label* end) {
  Slow s;
  s.entry = a_.newLabel();
  s.desc = a_.newLabel();
  s.resume = a_.newLabel();
  s.after = end ? *end : a_.newLabel();
  s.index = i;
  address();
  access_via_view_ = via_view(b_.instrs[i]);
  s.kind = size | (write ? kMemWrite : 0) | (access_via_view_ ? kMemView : 0);
  if (access_via_view_) {
    ++st_.view_accesses;
    access_slow_ = s.entry;
    access_flags_exact_ = host_flags_;
    a_.bind(s.resume);
  } else {
    emit_probe(size, write, s.entry, s.resume);
  }
  body();
  if (!end) a_.bind(s.after);
  slows_.push_back(s);
}

}  // namespace vmm::jit

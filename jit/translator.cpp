#include "jit/translator.h"

#include <Zydis/Zydis.h>
#include <asmjit/x86.h>

#include <algorithm>
#include <cstddef>
#include <vector>

#include "jit/flag_image.h"
#include "jit/host_regs.h"
#include "jit/jit_abi.h"
#include "jit/native_encoder.h"
#include "jit/native_rules.h"
#include "jit/state_operands.h"
#include "runtime/cpu_state.h"
#include "runtime/softmmu.h"

namespace vmm::jit {

using namespace asmjit;

namespace {

constexpr uint32_t kArith = flag::kArith;

// Where the guest's arithmetic flags are while a block's code is emitted.
// Memory probes clobber the host flags, so they first save the flags in R11;
// restoring them into RFLAGS is put off until something needs them there
// (an instruction reading them or leaving some unchanged, a helper call, a
// trap site, a block exit), and a later probe reuses R11 while the flags have
// not changed. Invariant: the host flags are exact or R11D holds their
// LAHF/SETO image (jit/flag_image.h). The image is saved even where the flags
// are dead (a slow path may deliver an exception): measured, PUSHFQ/POP costs
// more than LAHF/SETO and its restore (POPFQ) far more.

class Emitter {
 public:
  Emitter(x86::Assembler& a, const Block& b, const TranslatorEnv& env, TranslatorStats& st,
          std::deque<ChainSite>& sites)
      : a_(a), b_(b), exit_common_(env.exit_common), exit_synced_(env.exit_synced), miss_stub_(env.miss_stub),
        jump_table_(env.jump_table_of(b.mode)), bmi2_(env.bmi2), count_lookups_(env.count_lookups),
        host_mmu_(env.host_mmu),
        tlb_off_(env.tlb_offset[((b.mode >> blockmode::kCplShift) & 3) == 3 ? kMmuUser : kMmuKernel]), st_(st),
        sites_(sites) {}

  void emit();

 private:
  struct Slow {
    Label entry, resume, after;
    size_t index;
    uint32_t kind;
    bool after_saved;  // Whether the code after the instruction expects the image in R11D.
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

 private:
  bool seg_flat(uint8_t seg) const { return b_.mode & (1u << (blockmode::kFlatShift + seg)); }

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
  // After a call that returned through the state: host flags from the image,
  // and the image in R11D again if the code this path joins expects it.
  void reload_flags_from_state(bool want_saved) {
    restore_flags_from_state();
    if (want_saved) a_.mov(x86::r11d, state(kOffFlagsImage));
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

  void emit_lea_address(const Operand& m);
  // The memory operand of an access body (emit_memory): the host address in
  // R8, or the guest address in R8 within the view at R14.
  x86::Mem guest_mem(unsigned size) const {
    return host_mmu_ ? x86::ptr(x86::r14, x86::r8, 0, 0, size) : x86::ptr(x86::r8, 0, size);
  }
  // Bodies call this just before their one guest memory access (which must
  // come before anything else they change): on the host-MMU path a host
  // fault there continues at the slow path.
  void mark_access() {
    if (!host_mmu_) return;
    faults_.push_back(Fault{a_.newLabel(), access_slow_, access_flags_exact_});
    a_.bind(faults_.back().at);
  }
  bool emit_native(size_t i);
  void emit_probe(unsigned size, bool write, Label& slow, Label& resume);
  void emit_tlb_lookup(unsigned size, bool write, Label& miss);
  bool emit_rep_string(size_t i);
  template <typename Address, typename Body>
  void emit_memory(size_t i, unsigned size, bool write, Address address, Body body);
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
    if (!(b_.mode & blockmode::kCsBaseZero)) {
      // The tables hold only blocks with CS base 0 (JitEngine::execute).
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
  void emit_inner_jcc(size_t i);
  void emit_terminal(size_t i);
  void emit_out_of_line();

  x86::Assembler& a_;
  const Block& b_;
  uintptr_t exit_common_, exit_synced_, miss_stub_;
  const JumpTable* jump_table_;  // This block's mode's table.
  bool bmi2_;
  bool count_lookups_;
  bool host_mmu_;
  int32_t tlb_off_;  // This block's TLB, from R15.
  Label access_slow_;  // Slow path of the access being emitted (emit_memory).
  bool access_flags_exact_ = true;
  std::vector<Fault> faults_;
  TranslatorStats& st_;
  std::deque<ChainSite>& sites_;
  std::vector<uint32_t> eips_;
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

void Emitter::emit_lea_address(const Operand& m) {
  const bool has_base = m.base != kZeroGpr, has_index = m.index != kZeroGpr;
  // 64-bit address arithmetic into a 32-bit destination: the low 32 bits of
  // the sum are the guest's address with its 2^32 wrap-around, whatever the
  // upper halves of the host registers hold.
  if (has_base && has_index) {
    a_.lea(x86::r8d, x86::ptr(guest64(m.base), guest64(m.index), m.scale, m.disp));
  } else if (has_base) {
    a_.lea(x86::r8d, x86::ptr(guest64(m.base), m.disp));
  } else if (has_index) {
    // [index*scale + disp32] with no base register.
    a_.lea(x86::r8d, x86::ptr(static_cast<uint64_t>(static_cast<int64_t>(m.disp)), guest64(m.index), m.scale));
  } else {
    a_.mov(x86::r8d, Imm(static_cast<uint32_t>(m.disp)));
  }
}

// TLB probe (runtime/softmmu.h, TlbEntry): R8D holds the linear address on
// entry and the host address on the fast path's exit. A slow path may deliver
// an exception, which must see the exact guest flags, so their image is in
// R11D before the probe clobbers the host's; they go back into RFLAGS only
// when needed (see the comment above Emitter).
void Emitter::emit_probe(unsigned size, bool write, Label& slow, Label& resume) {
  save_r11();
  emit_tlb_lookup(size, write, slow);
  host_flags_ = false;
  a_.bind(resume);
}

// The probe's TLB lookup proper: R8D linear -> R8 host address, or `miss`.
// Clobbers R9, R10 and the host flags.
void Emitter::emit_tlb_lookup(unsigned size, bool write, Label& miss) {
  ++st_.memory_probes;
  a_.mov(x86::r9d, x86::r8d);
  a_.shr(x86::r9d, 12 - 5);
  a_.and_(x86::r9d, (SoftMmu::kTlbSize - 1) << 5);
  a_.lea(x86::r10d, x86::ptr(x86::r8, static_cast<int32_t>(size - 1)));
  a_.and_(x86::r10d, Imm(kPageMask));
  const int32_t tag = write ? offsetof(TlbEntry, tag_write) : offsetof(TlbEntry, tag_read);
  a_.cmp(x86::r10d, x86::dword_ptr(x86::r15, x86::r9, 0, tlb_off_ + tag));
  a_.jne(miss);
  a_.add(x86::r8, x86::qword_ptr(x86::r15, x86::r9, 0, tlb_off_ + static_cast<int32_t>(offsetof(TlbEntry, addend))));
}

// A native memory access of instruction i: `address` leaves the guest
// linear address in R8D, and `body` emits the access itself on guest_mem().
// On the host-MMU path that is the guest view and a host fault leads to the
// slow path; otherwise the probe first turns R8 into a host address or
// branches to it. The slow path resumes the body with a host address from
// the softmmu, or has the interpreter execute the whole instruction (MMIO,
// code pages, page-crossing accesses).
template <typename Address, typename Body>
void Emitter::emit_memory(size_t i, unsigned size, bool write, Address address, Body body) {
  Slow s;
  s.entry = a_.newLabel();
  s.resume = a_.newLabel();
  s.after = a_.newLabel();
  s.index = i;
  s.kind = size | (write ? kMemWrite : 0);
  address();
  if (host_mmu_) {
    ++st_.view_accesses;
    access_slow_ = s.entry;
    access_flags_exact_ = host_flags_;
    a_.bind(s.resume);
  } else {
    emit_probe(size, write, s.entry, s.resume);
  }
  body();
  s.after_saved = saved_;
  a_.bind(s.after);
  slows_.push_back(s);
}

x86::Mem Emitter::guest_address(const Operand& m) const {
  const bool has_base = m.base != kZeroGpr, has_index = m.index != kZeroGpr;
  if (has_base && has_index) return x86::ptr(guest64(m.base), guest64(m.index), m.scale, m.disp);
  if (has_base) return x86::ptr(guest64(m.base), m.disp);
  return x86::ptr(static_cast<uint64_t>(static_cast<int64_t>(m.disp)), guest64(m.index), m.scale);
}

// LEA: the address arithmetic itself, on the host registers.
bool Emitter::emit_lea(size_t i) {
  const InstrRecord& in = b_.instrs[i];
  if (in.addrsize != 4 || in.nops != 2 || in.ops[0].kind != OpKind::Reg || in.ops[1].kind != OpKind::Mem) return false;
  const Operand& m = in.ops[1];
  const uint8_t dst = in.ops[0].reg / 4;
  if (m.base == kZeroGpr && m.index == kZeroGpr) {
    if (in.ops[0].size == 2) a_.mov(x86::gpw(host_of(dst)), Imm(static_cast<uint16_t>(m.disp)));
    else a_.mov(guest32(dst), Imm(static_cast<uint32_t>(m.disp)));
  } else if (in.ops[0].size == 2) {
    a_.lea(x86::gpw(host_of(dst)), guest_address(m));
  } else {
    a_.lea(guest32(dst), guest_address(m));
  }
  ++st_.native_instrs;
  return true;
}

// PUSH r/imm and POP r on a flat 32-bit stack: the store or load plus an
// ESP update with LEA, which leaves the flags alone.
bool Emitter::emit_stack(size_t i) {
  const InstrRecord& in = b_.instrs[i];
  if (!seg_flat(SS) || !(b_.mode & blockmode::kStack32) || in.nops != 1) return false;
  const Operand& o = in.ops[0];
  const unsigned size = in.opsize;
  if (size != 2 && size != 4) return false;
  if (in.mnemonic == ZYDIS_MNEMONIC_PUSH && (o.kind == OpKind::Reg || o.kind == OpKind::Imm)) {
    emit_memory(
        i, size, true, [&] { a_.lea(x86::r8d, x86::ptr(x86::r12, -static_cast<int32_t>(size))); },
        [&] {
          mark_access();
          if (o.kind == OpKind::Reg) {
            const HostReg h = host_of(o.reg / 4);
            if (size == 4) a_.mov(guest_mem(4), x86::gpd(h));
            else a_.mov(guest_mem(2), x86::gpw(h));
          } else if (size == 4) {
            a_.mov(guest_mem(4), Imm(o.imm));
          } else {
            a_.mov(guest_mem(2), Imm(static_cast<uint16_t>(o.imm)));
          }
          a_.lea(x86::r12d, x86::ptr(x86::r12, -static_cast<int32_t>(size)));
        });
    ++st_.native_instrs;
    return true;
  }
  if (in.mnemonic == ZYDIS_MNEMONIC_POP && o.kind == OpKind::Reg) {
    const HostReg h = host_of(o.reg / 4);
    emit_memory(
        i, size, false, [&] { a_.mov(x86::r8d, x86::r12d); },
        [&] {
          // The load comes first (nothing may change before the access);
          // POP ESP ends with the popped value, not the incremented ESP (SDM POP).
          mark_access();
          const bool esp = o.reg / 4 == ESP;
          const HostReg dst = esp ? kTmp1 : h;
          if (size == 4) a_.mov(x86::gpd(dst), guest_mem(4));
          else a_.mov(x86::gpw(dst), guest_mem(2));
          a_.lea(x86::r12d, x86::ptr(x86::r12, static_cast<int32_t>(size)));
          if (esp && size == 4) a_.mov(x86::r12d, x86::r9d);
          else if (esp) a_.mov(x86::r12w, x86::r9w);
        });
    ++st_.native_instrs;
    return true;
  }
  return false;
}

// A near CALL's push of the return address `next` on the flat 32-bit stack.
void Emitter::emit_push_return(size_t i, uint32_t next) {
  emit_memory(
      i, 4, true, [&] { a_.lea(x86::r8d, x86::ptr(x86::r12, -4)); },
      [&] {
        mark_access();
        a_.mov(guest_mem(4), Imm(next));
        a_.lea(x86::r12d, x86::ptr(x86::r12, -4));
      });
}

// Near CALL/RET/JMP forms on a flat 32-bit stack with a 32-bit operand size.
bool Emitter::emit_terminal_native(size_t i) {
  const InstrRecord& in = b_.instrs[i];
  const uint32_t next = eip_of(i) + in.length;
  if (in.opsize != 4 || (in.cls & iclass::kFar)) return false;
  const bool stack_ok = seg_flat(SS) && (b_.mode & blockmode::kStack32);
  if (in.mnemonic == ZYDIS_MNEMONIC_CALL && stack_ok && in.nops == 1 &&
      (in.ops[0].kind == OpKind::Imm || (in.ops[0].kind == OpKind::Reg && in.ops[0].reg / 4 != ESP))) {
    const Operand o = in.ops[0];
    emit_push_return(i, next);
    ++st_.native_instrs;
    if (o.kind == OpKind::Imm) {
      exit_to(next + o.imm);
    } else {
      a_.mov(x86::r9d, guest32(o.reg / 4));
      exit_indirect();
    }
    return true;
  }
  if (in.mnemonic == ZYDIS_MNEMONIC_CALL && stack_ok && in.nops == 1 && in.ops[0].kind == OpKind::Mem &&
      in.addrsize == 4 && seg_flat(in.ops[0].seg)) {
    // The target is read first (its address uses ESP before the push) and
    // parked in the scratch slot (a slow path sets [eip]); a fault in
    // either access leaves nothing changed.
    const Operand m = in.ops[0];
    emit_memory(
        i, 4, false, [&] { emit_lea_address(m); },
        [&] {
          mark_access();
          a_.mov(x86::r9d, guest_mem(4));
          a_.mov(state(kOffScratch), x86::r9d);
        });
    emit_push_return(i, next);
    ++st_.native_instrs;
    a_.mov(x86::r9d, state(kOffScratch));
    exit_indirect();
    return true;
  }
  if (in.mnemonic == ZYDIS_MNEMONIC_RET && stack_ok) {
    const uint32_t pop = 4 + (in.nops >= 1 && in.ops[0].kind == OpKind::Imm ? (in.ops[0].imm & 0xFFFF) : 0);
    emit_memory(
        i, 4, false, [&] { a_.mov(x86::r8d, x86::r12d); },
        [&] {
          mark_access();
          a_.mov(x86::r9d, guest_mem(4));
          a_.lea(x86::r12d, x86::ptr(x86::r12, static_cast<int32_t>(pop)));
        });
    ++st_.native_instrs;
    exit_indirect();
    return true;
  }
  if (in.mnemonic == ZYDIS_MNEMONIC_JMP && in.nops == 1 && in.ops[0].kind == OpKind::Reg) {
    a_.mov(x86::r9d, guest32(in.ops[0].reg / 4));
    ++st_.native_instrs;
    exit_indirect();
    return true;
  }
  if (in.mnemonic == ZYDIS_MNEMONIC_JMP && in.nops == 1 && in.ops[0].kind == OpKind::Mem && in.addrsize == 4 &&
      seg_flat(in.ops[0].seg)) {
    const Operand m = in.ops[0];
    emit_memory(
        i, 4, false, [&] { emit_lea_address(m); },
        [&] {
          mark_access();
          a_.mov(x86::r9d, guest_mem(4));
        });
    ++st_.native_instrs;
    exit_indirect();
    return true;
  }
  return false;
}

// REP MOVS / REP STOS whose run stays within one page on each side, with
// DF clear and flat segments: one host REP MOVS/STOS on the host addresses
// from two TLB probes, guest ESI/EDI/ECX updated as the instruction leaves
// them. Anything else (DF set, a run crossing a page, a miss, MMIO, a page
// holding code, a watched page) calls the interpreter's handler, which runs
// the whole instruction page by page.
bool Emitter::emit_rep_string(size_t i) {
  const InstrRecord& in = b_.instrs[i];
  const bool movs = in.mnemonic == ZYDIS_MNEMONIC_MOVSB || in.mnemonic == ZYDIS_MNEMONIC_MOVSW ||
                    in.mnemonic == ZYDIS_MNEMONIC_MOVSD;
  const bool stos = in.mnemonic == ZYDIS_MNEMONIC_STOSB || in.mnemonic == ZYDIS_MNEMONIC_STOSW ||
                    in.mnemonic == ZYDIS_MNEMONIC_STOSD;
  if (!(movs || stos) || !(in.prefixes & (prefix::kRep | prefix::kRepne)) || in.addrsize != 4) return false;
  if (!seg_flat(ES) || (movs && !seg_flat(in.seg))) return false;
  const unsigned elem = (in.mnemonic == ZYDIS_MNEMONIC_MOVSB || in.mnemonic == ZYDIS_MNEMONIC_STOSB) ? 1 : in.opsize;
  if (elem != 1 && elem != 2 && elem != 4) return false;
  const uint32_t scale = elem == 1 ? 0 : elem == 2 ? 1 : 2;

  Label helper = a_.newLabel(), done = a_.newLabel();
  // The checks clobber the host flags: the image in R11 restores them at the end.
  save_r11();
  host_flags_ = false;
  a_.test(state(kOffEflags), Imm(flag::DF));
  a_.jnz(helper);
  a_.test(x86::ecx, x86::ecx);
  a_.jz(done);  // Count 0: nothing is accessed (SDM REP).
  a_.cmp(x86::ecx, Imm(kPageSize >> scale));
  a_.ja(helper);
  // Each run within its page: offset + count * elem <= 4096.
  auto same_page_run = [&](const x86::Gpd& index) {
    a_.mov(x86::r9d, index);
    a_.and_(x86::r9d, Imm(kPageSize - 1));
    a_.lea(x86::r9d, x86::ptr(x86::r9, x86::rcx, scale));
    a_.cmp(x86::r9d, Imm(kPageSize));
    a_.ja(helper);
  };
  same_page_run(x86::edi);
  if (movs) {
    same_page_run(x86::esi);
    a_.mov(x86::r8d, x86::esi);
    emit_tlb_lookup(1, false, helper);
    a_.mov(x86::qword_ptr(x86::r15, kOffScratch), x86::r8);
  }
  a_.mov(x86::r8d, x86::edi);
  emit_tlb_lookup(1, true, helper);
  // Final guest ESI/EDI, then the host run on host pointers (RCX: the count).
  a_.lea(x86::r10d, x86::ptr(x86::rdi, x86::rcx, scale));
  if (movs) a_.lea(x86::r9d, x86::ptr(x86::rsi, x86::rcx, scale));
  a_.mov(x86::rdi, x86::r8);
  if (movs) a_.mov(x86::rsi, x86::qword_ptr(x86::r15, kOffScratch));
  switch (elem) {
    case 1: movs ? a_.rep().movsb() : a_.rep().stosb(); break;
    case 2: movs ? a_.rep().movsw() : a_.rep().stosw(); break;
    default: movs ? a_.rep().movsd() : a_.rep().stosd(); break;
  }
  a_.mov(x86::edi, x86::r10d);
  if (movs) a_.mov(x86::esi, x86::r9d);
  a_.jmp(done);
  a_.bind(helper);
  emit_helper(i);  // Leaves the host flags exact and R11 unused.
  Label joined = a_.newLabel();
  a_.jmp(joined);
  a_.bind(done);
  host_flags_ = false;
  saved_ = true;
  need_host_flags();
  a_.bind(joined);
  saved_ = false;
  ++st_.string_fast_paths;
  return true;
}

bool Emitter::emit_native(size_t i) {
  const InstrRecord& in = b_.instrs[i];
  if (in.mnemonic == ZYDIS_MNEMONIC_LEA) return emit_lea(i);
  if (in.mnemonic == ZYDIS_MNEMONIC_PUSH || in.mnemonic == ZYDIS_MNEMONIC_POP) return emit_stack(i);
  if (in.mnemonic == ZYDIS_MNEMONIC_NOP) {
    ++st_.native_instrs;  // Including the 0F 1F forms with a memory operand: no access happens.
    return true;
  }
  if (in.cls & iclass::kString) return emit_rep_string(i);
  if (!native_mnemonic(in.mnemonic)) return false;
  const Operand* mem = memory_operand(in);
  if (mem) {
    if (in.addrsize != 4 || !seg_flat(mem->seg)) return false;
    // BT* with a register bit offset address beyond the operand (SDM BT): interpreter.
    if ((in.mnemonic == ZYDIS_MNEMONIC_BT || in.mnemonic == ZYDIS_MNEMONIC_BTS ||
         in.mnemonic == ZYDIS_MNEMONIC_BTR || in.mnemonic == ZYDIS_MNEMONIC_BTC) &&
        in.ops[1].kind == OpKind::Reg)
      return false;
  }
  uint8_t bytes[16];
  size_t len = 0;
  const EncodeResult r = encode_native(in, bytes, len, host_mmu_ && mem);
  if (r == EncodeResult::kHighByteWithRex) ++st_.high_byte_fallbacks;
  if (r != EncodeResult::kOk) return false;

  auto body = [&] {
    before_native(in);
    if (may_trap(in.mnemonic)) {
      traps_.emplace_back(a_.newLabel(), i);
      a_.bind(traps_.back().first);
      ++st_.trap_sites;
    }
    if (mem) mark_access();
    a_.embed(bytes, len);
    after_native(in);
  };
  if (!mem) {
    body();
    ++st_.native_instrs;
    return true;
  }
  emit_memory(i, mem->size, memory_written(in, mem), [&] { emit_lea_address(*mem); }, body);
  ++st_.native_instrs;
  return true;
}

void Emitter::emit_helper(size_t i) {
  const InstrRecord& in = b_.instrs[i];
  ++st_.helper_instrs;
  ++st_.helper_by_mnemonic[in.mnemonic];
  store_flags_to_state();
  store_regs();
  store_retired_before(i);
  a_.mov(state(kOffEip), Imm(eip_of(i)));
  a_.mov(x86::rdi, x86::r15);
  a_.mov(x86::rsi, Imm(reinterpret_cast<uint64_t>(&in)));
  call(reinterpret_cast<const void*>(&vmm_jit_interp_one));
  HelperExit h{a_.newLabel(), i};
  a_.test(x86::eax, x86::eax);
  a_.jnz(h.entry);
  load_regs();
  restore_flags_from_state();
  host_flags_ = true;
  saved_ = false;
  helper_exits_.push_back(h);
}

// A Jcc before the block's end: the host Jcc on the guest flags, straight
// to the target's label when it is a later instruction of the block, else a
// side exit (chainable; a backward or cross-page one is a full exit_to
// behind the inverted condition).
void Emitter::emit_inner_jcc(size_t i) {
  const InstrRecord& in = b_.instrs[i];
  const auto cond = static_cast<x86::CondCode>(in.cond);
  ++st_.native_instrs;
  need_host_flags();
  if (target_index_[i] < b_.instrs.size()) {
    a_.j(cond, labels_[target_index_[i]]);
    return;
  }
  const uint32_t target = jcc_target(in, eip_of(i));
  if (same_page(target) && !backward(target, b_.virt_pc)) {
    exit_if(cond, target);
    return;
  }
  Label stay = a_.newLabel();
  a_.j(x86::negateCond(cond), stay);
  const bool saved = saved_;
  exit_to(target);
  saved_ = saved;  // The fall-through path is unchanged by the exit's code.
  a_.bind(stay);
}

void Emitter::emit_terminal(size_t i) {
  const InstrRecord& in = b_.instrs[i];
  const uint32_t next = eip_of(i) + in.length;
  auto fit = [&](uint32_t v) { return in.opsize == 2 ? (v & 0xFFFF) : v; };
  const bool rel = in.nops >= 1 && in.ops[0].kind == OpKind::Imm;
  if (rel && in.mnemonic == ZYDIS_MNEMONIC_JMP) {
    ++st_.native_instrs;
    exit_to(fit(next + in.ops[0].imm));
    return;
  }
  if (rel && in.mnemonic >= ZYDIS_MNEMONIC_JB && in.mnemonic <= ZYDIS_MNEMONIC_JZ &&
      in.mnemonic != ZYDIS_MNEMONIC_JCXZ && in.mnemonic != ZYDIS_MNEMONIC_JECXZ &&
      in.mnemonic != ZYDIS_MNEMONIC_JRCXZ && in.mnemonic != ZYDIS_MNEMONIC_JMP && in.mnemonic != ZYDIS_MNEMONIC_JKNZD &&
      in.mnemonic != ZYDIS_MNEMONIC_JKZD) {
    // Jcc: the guest condition is evaluated on the host flags directly.
    ++st_.native_instrs;
    const uint32_t target = fit(next + in.ops[0].imm);
    const auto cond = static_cast<x86::CondCode>(in.cond);
    if (same_page(target) && !backward(target, b_.virt_pc)) {
      exit_if(cond, target);
      exit_to(next);
      return;
    }
    Label taken = a_.newLabel();
    need_host_flags();
    a_.j(cond, taken);
    exit_to(next);
    a_.bind(taken);
    exit_to(target);
    return;
  }
  if (emit_terminal_native(i)) return;
  emit_helper(i);
  exit_to(next);
}

void Emitter::emit_out_of_line() {
  for (const Slow& s : slows_) {
    const InstrRecord& in = b_.instrs[s.index];
    Label fallback = a_.newLabel(), exception = a_.newLabel();
    a_.bind(s.entry);
    // R8D: linear address; R11D: the flags from before the probe.
    a_.mov(state(kOffFlagsImage), x86::r11d);
    store_regs();
    store_retired_before(s.index);
    a_.mov(state(kOffEip), Imm(eip_of(s.index)));
    a_.mov(x86::rdi, x86::r15);
    a_.mov(x86::esi, x86::r8d);
    a_.mov(x86::edx, Imm(s.kind));
    call(reinterpret_cast<const void*>(&vmm_jit_mem_slow));
    a_.cmp(x86::rax, Imm(kMemException));
    a_.je(exception);
    a_.test(x86::rax, x86::rax);
    a_.jz(fallback);
    a_.mov(x86::r8, x86::rax);
    load_regs();
    if (host_mmu_) a_.sub(x86::r8, x86::r14);  // The body addresses [R14 + R8].
    reload_flags_from_state(true);
    a_.jmp(s.resume);
    // Not plain RAM (MMIO, a page holding code, a page-crossing access):
    // the interpreter does this one access through the softmmu.
    a_.bind(fallback);
    a_.mov(x86::rdi, x86::r15);
    a_.mov(x86::rsi, Imm(reinterpret_cast<uint64_t>(&in)));
    call(reinterpret_cast<const void*>(&vmm_jit_interp_one));
    HelperExit h{a_.newLabel(), s.index};
    a_.test(x86::eax, x86::eax);
    a_.jnz(h.entry);
    load_regs();
    reload_flags_from_state(s.after_saved);
    a_.jmp(s.after);
    helper_exits_.push_back(h);
    a_.bind(exception);
    a_.mov(x86::r9d, Imm(unexecuted_from(s.index)));
    a_.jmp(Imm(exit_synced_));
  }
  for (const HelperExit& h : helper_exits_) {
    // EAX: kHelperEndBlock (the instruction completed) or kHelperException.
    // R9 = instructions of this block not executed, given back to the budget.
    Label faulted = a_.newLabel();
    a_.bind(h.entry);
    a_.cmp(x86::eax, Imm(kHelperException));
    a_.je(faulted);
    a_.mov(x86::r9d, Imm(unexecuted_from(h.index + 1)));
    a_.jmp(Imm(exit_synced_));
    a_.bind(faulted);
    a_.mov(x86::r9d, Imm(unexecuted_from(h.index)));
    a_.jmp(Imm(exit_synced_));
  }
  for (const Exit& e : exits_) {
    // Unchained exit: record where it came from so the dispatcher can chain it.
    a_.bind(e.stub);
    a_.mov(state(kOffEip), Imm(e.target));
    a_.mov(x86::r9d, Imm(0));  // MOV, not XOR: the guest's flags are still live here.
    a_.mov(x86::r10, Imm(reinterpret_cast<uint64_t>(e.site)));
    a_.mov(x86::qword_ptr(x86::r15, kOffChainFrom), x86::r10);
    a_.jmp(Imm(exit_common_));
  }
}

void Emitter::emit() {
  const size_t n = b_.instrs.size();
  eips_.resize(n);
  uint32_t pc = b_.virt_pc;
  for (size_t i = 0; i < n; ++i) {
    eips_[i] = pc;
    pc += b_.instrs[i].length;
  }
  // Jcc inside the block (frontend/block.h): an internal branch when the
  // target is a later instruction of the block, else a side exit (n).
  target_index_.assign(n, n);
  is_target_.assign(n, false);
  for (size_t i = 0; i + 1 < n; ++i) {
    if (!(b_.instrs[i].cls & iclass::kJcc)) continue;
    const uint32_t t = jcc_target(b_.instrs[i], eips_[i]);
    const size_t k = static_cast<size_t>(std::lower_bound(eips_.begin(), eips_.end(), t) - eips_.begin());
    if (t <= eips_[i] || k == n || eips_[k] != t) continue;
    target_index_[i] = k;
    is_target_[k] = true;
  }
  labels_.resize(n);
  for (size_t i = 0; i < n; ++i)
    if (is_target_[i]) labels_[i] = a_.newLabel();
  // Budget segments: straight runs entered only at their first instruction
  // (the block's entry, an internal branch target, the instruction after an
  // internal Jcc). Each charges its length to the budget on entry.
  segment_end_.assign(n, n);
  for (size_t i = n, end = n; i-- > 0;) {
    segment_end_[i] = end;
    if (starts_segment(i)) end = i;
  }
  // Charging with LEA leaves the guest's flags alone. The budget is tested
  // only on backward exits (see exit_to): every endless path through
  // chained blocks passes one, and exits to the dispatcher are tested there.
  for (size_t i = 0; i < n; ++i) {
    const InstrRecord& in = b_.instrs[i];
    const bool last = i + 1 == n;
    if (is_target_[i]) {
      // Paths join here: the taken branch brings the flags in RFLAGS.
      need_host_flags();
      saved_ = false;
      a_.bind(labels_[i]);
    }
    if (starts_segment(i))
      a_.lea(x86::r13, x86::ptr(x86::r13, -static_cast<int32_t>(segment_end_[i] - i)));
    if (last && (in.cls & iclass::kControl)) {
      emit_terminal(i);
      break;
    }
    if (in.cls & iclass::kJcc) {
      emit_inner_jcc(i);
      continue;
    }
    if (!emit_native(i)) emit_helper(i);
    if (last) exit_to(pc);
  }
  emit_out_of_line();
  st_.guest_instrs += n;
  ++st_.blocks;
}

}  // namespace

Translator::Translator(CodeBuffer& buffer, TrapSites& traps, FaultSites& faults, const TranslatorEnv& env)
    : buffer_(buffer), traps_(traps), faults_(faults), env_(env) {}

void* Translator::translate(Block& b, std::deque<ChainSite>& sites) {
  const uint64_t base = (reinterpret_cast<uintptr_t>(buffer_.cursor()) + 15) & ~uint64_t{15};
  CodeHolder code;
  code.init(Environment::host(), base);
  x86::Assembler a(&code);
  TranslatorStats before = stats_;
  const size_t first_site = sites.size();
  Emitter e(a, b, env_, stats_, sites);
  e.emit();
  code.flatten();
  code.resolveUnresolvedLinks();
  const size_t size = code.codeSize();
  uint8_t* dst = buffer_.allocate(size);
  if (!dst || reinterpret_cast<uint64_t>(dst) != base) {
    stats_ = before;  // Not placed: the caller flushes and translates again.
    sites.resize(first_site);
    return nullptr;
  }
  code.relocateToBase(base);
  code.copyFlattenedData(dst, size);
  for (const auto& x : e.exits()) {
    x.site->jump_end = dst + code.labelOffsetFromBase(x.jump_end);
    x.site->stub = dst + code.labelOffsetFromBase(x.stub);
  }
  for (const auto& [label, index] : e.traps())
    traps_.add(TrapSite{reinterpret_cast<uintptr_t>(dst) + code.labelOffsetFromBase(label), e.eip_of(index),
                        e.unexecuted_from(index)});
  for (const auto& f : e.faults())
    faults_.add(FaultSite{reinterpret_cast<uintptr_t>(dst) + code.labelOffsetFromBase(f.at),
                          reinterpret_cast<uintptr_t>(dst) + code.labelOffsetFromBase(f.slow), f.flags_in_rflags});
  b.host_code = dst;
  b.host_size = static_cast<uint32_t>(size);
  stats_.host_bytes += size;
  return dst;
}

}  // namespace vmm::jit

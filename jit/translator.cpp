#include "jit/translator.h"

#include <Zydis/Zydis.h>
#include <asmjit/x86.h>

#include <algorithm>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "jit/emitter.h"

namespace vmm::jit {

using namespace asmjit;

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
      in.addrsize == 4 && seg_unbounded(in.ops[0].seg)) {
    // The target is read first (its address uses ESP before the push) and
    // parked in the scratch slot (a slow path sets [eip]); a fault in
    // either access leaves nothing changed.
    const Operand m = in.ops[0];
    emit_memory(
        i, 4, false, [&] { emit_segment_address(m); },
        [&] {
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
      seg_unbounded(in.ops[0].seg)) {
    const Operand m = in.ops[0];
    emit_memory(
        i, 4, false, [&] { emit_segment_address(m); },
        [&] {
          a_.mov(x86::r9d, guest_mem(4));
        });
    ++st_.native_instrs;
    exit_indirect();
    return true;
  }
  return false;
}

void Emitter::emit_helper(size_t i) {
  const InstrRecord& in = b_.instrs[i];
  fcs_stored_ = false;  // FNINIT, FLDENV, FRSTOR, FXRSTOR write FCS.
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

void Emitter::emit_fallback_and_join(size_t i, Label& helper, Label& done) {
  Label joined = a_.newLabel();
  a_.bind(helper);
  emit_helper(i);  // Leaves the host flags exact and R11 unused.
  a_.jmp(joined);
  a_.bind(done);
  host_flags_ = false;
  saved_ = true;
  need_host_flags();
  a_.bind(joined);
  saved_ = false;
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
    // The taken path leaves from here: whatever the fall-through exit's
    // code does to the flags' state (an inline lookup saves their image
    // in R11) has not happened on it.
    const bool saved = saved_, host = host_flags_;
    exit_to(next);
    a_.bind(taken);
    saved_ = saved;
    host_flags_ = host;
    exit_to(target);
    return;
  }
  if (emit_terminal_native(i)) return;
  emit_helper(i);
  exit_to(next);
}

void Emitter::emit_out_of_line() {
  // Memory slow paths: R8D = linear address, R11D = the flags image (from
  // the probe, or from the fault handler on the host-MMU path). The shared
  // trampoline does the rest (jit_abi.h, SlowSite).
  for (const Slow& s : slows_) {
    a_.bind(s.entry);
    a_.lea(x86::r10, x86::ptr(s.desc));
    a_.jmp(Imm(slow_common_));
  }
  for (const HelperExit& h : helper_exits_) {
    // EAX: kHelperEndBlock (the instruction completed) or kHelperException.
    // R9 = instructions of this block not executed, given back to the budget.
    Label faulted = a_.newLabel();
    a_.bind(h.entry);
    a_.cmp(x86::eax, Imm(kHelperException));
    a_.je(faulted);
    a_.mov(x86::r9d, Imm(unexecuted_after(h.index)));
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
  a_.bind(code_end_);
  if (slows_.empty()) return;
  a_.align(AlignMode::kData, 8);
  for (const Slow& s : slows_) {
    a_.bind(s.desc);
    a_.embedUInt32(s.kind);
    a_.embedUInt32(eip_of(s.index));
    a_.embedUInt32(unexecuted_from(s.index));
    a_.embedUInt32(unexecuted_after(s.index));
    a_.embedUInt64(reinterpret_cast<uintptr_t>(&b_.instrs[s.index]));
    a_.embedLabel(s.resume, 8);
    a_.embedLabel(s.after, 8);
    a_.embedUInt64(reinterpret_cast<uintptr_t>(&b_));
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
  // --profile: the entry count, with MOV and LEA (the guest's flags are
  // live in RFLAGS; R8 and R10 are free at a block's entry).
  if (profile_) {
    a_.mov(x86::r10, Imm(reinterpret_cast<uintptr_t>(&b_.profile_jit_entries)));
    a_.mov(x86::r8, x86::qword_ptr(x86::r10));
    a_.lea(x86::r8, x86::ptr(x86::r8, 1));
    a_.mov(x86::qword_ptr(x86::r10), x86::r8);
  }
  // Native x87 code runs on the guest's registers in the host FPU, loaded
  // by the first translation that needs them (host_fpu.h): a CALL, which
  // keeps the flags, to the load stub or to a RET once they are loaded.
  if (x87_native_) {
    for (size_t i = 0; i < n; ++i) {
      if (x87_native(b_.instrs[i].mnemonic) == X87Native::kHelper || (b_.instrs[i].cls & iclass::kUseHelper)) continue;
      a_.call(x86::qword_ptr(x86::r15, kOffFpuEnter));
      break;
    }
  }
  // Charging with LEA leaves the guest's flags alone. The budget is tested
  // only on backward exits (see exit_to): every endless path through
  // chained blocks passes one, and exits to the dispatcher are tested there.
  for (size_t i = 0; i < n; ++i) {
    const InstrRecord& in = b_.instrs[i];
    const bool last = i + 1 == n;
    host_offsets_.push_back(static_cast<uint32_t>(a_.offset()));
    if (is_target_[i]) {
      // Paths join here: the taken branch brings the flags in RFLAGS.
      need_host_flags();
      saved_ = false;
      fcs_stored_ = false;
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
    if ((in.cls & iclass::kUseHelper) || !emit_native(i)) emit_helper(i);
    if (last) exit_to(pc);
  }
  out_of_line_offset_ = static_cast<uint32_t>(a_.offset());
  emit_out_of_line();
  st_.guest_instrs += n;
  ++st_.blocks;
}

Translator::Translator(CodeBuffer& buffer, TrapSites& traps, FaultSites& faults, const TranslatorEnv& env)
    : buffer_(buffer), traps_(traps), faults_(faults), env_(env) {}

void* Translator::translate(Block& b, std::deque<ChainSite>& sites) {
  // An empty translation would run whatever follows it in the code buffer.
  if (b.instrs.empty()) {
    std::fprintf(stderr, "vmm: fatal: empty block at guest 0x%08x\n", b.virt_pc);
    std::abort();
  }
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
  code.copyFlattenedData(buffer_.writable(dst), size);
  for (const auto& x : e.exits()) {
    x.site->jump_end = dst + code.labelOffsetFromBase(x.jump_end);
    x.site->stub = dst + code.labelOffsetFromBase(x.stub);
  }
  for (const auto& [label, index] : e.traps())
    traps_.add(TrapSite{reinterpret_cast<uintptr_t>(dst) + code.labelOffsetFromBase(label), e.eip_of(index),
                        e.unexecuted_from(index), &b.instrs[index], &b});
  for (const auto& f : e.faults())
    faults_.add(FaultSite{reinterpret_cast<uintptr_t>(dst) + code.labelOffsetFromBase(f.at),
                          reinterpret_cast<uintptr_t>(dst) + code.labelOffsetFromBase(f.slow), f.flags_in_rflags});
  b.host_code = dst;
  b.host_size = static_cast<uint32_t>(code.labelOffsetFromBase(e.code_end()));  // Code, without the SlowSite data.
  b.host_offsets = e.host_offsets();
  b.out_of_line_offset = e.out_of_line_offset();
  stats_.host_bytes += size;
  return dst;
}

}  // namespace vmm::jit

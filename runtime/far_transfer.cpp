// Far JMP, far CALL and far RET (SDM Vol. 3A 5.8 "Privilege level checking
// when transferring program control between code segments", 7.3 for task
// switches; Vol. 2A CALL/JMP/RET pseudo-code).
#include "runtime/cpu.h"
#include "runtime/emulation.h"
#include "runtime/exceptions.h"
#include "runtime/segmentation.h"
#include "runtime/task_switch.h"

namespace vmm {

namespace {

constexpr uint8_t kCallGate16 = 4;
constexpr uint8_t kTaskGate = 5;
constexpr uint8_t kCallGate32 = 12;
constexpr uint8_t kTss16 = 1;
constexpr uint8_t kTss32 = 9;

void set_real_cs(Cpu& cpu, uint16_t selector) {
  SegmentCache& cs = cpu.s.seg[CS];
  cs.selector = selector;
  cs.base = uint32_t{selector} << 4;
  cs.refresh();
}

// Handles a far JMP/CALL whose selector names a system descriptor: a call
// gate, a task gate or a TSS. Returns after the transfer.
void through_system_descriptor(Cpu& cpu, uint16_t selector, const Descriptor& d, bool is_call, uint32_t next_eip) {
  CpuState& s = cpu.s;
  const uint32_t err = selector & ~3u;
  const uint8_t type = d.type();
  const uint8_t rpl = selector & 3;
  if (type == kTss16 || type == kTss32 || type == kTaskGate) {
    if (d.dpl() < s.cpl || d.dpl() < rpl) raise_exception(kGP, err);
    if (!d.present()) raise_exception(kNP, err);
    uint16_t tss = selector;
    if (type == kTaskGate) tss = static_cast<uint16_t>(d.lo >> 16);
    // The outgoing task resumes after the JMP/CALL (SDM Vol. 3A, 7.3); EIP
    // stays at the instruction until the switch commits.
    task_switch(cpu, tss, is_call ? TaskSwitchReason::kCall : TaskSwitchReason::kJmp, next_eip, false, 0);
    return;
  }
  if (type != kCallGate16 && type != kCallGate32) raise_exception(kGP, err);
  // Call gate (SDM Vol. 3A, 5.8.4).
  if (d.dpl() < s.cpl || d.dpl() < rpl) raise_exception(kGP, err);
  if (!d.present()) raise_exception(kNP, err);
  const uint16_t target = static_cast<uint16_t>(d.lo >> 16);
  const bool gate32 = type == kCallGate32;
  const uint32_t offset = gate32 ? ((d.lo & 0xFFFF) | (d.hi & 0xFFFF0000u)) : (d.lo & 0xFFFF);
  const unsigned size = gate32 ? 4 : 2;
  const unsigned params = d.hi & 0x1F;
  if ((target & ~3u) == 0) raise_exception(kGP, 0);
  Descriptor cd = read_descriptor(cpu, target);
  const uint32_t cerr = target & ~3u;
  if (!cd.code() || cd.dpl() > s.cpl) raise_exception(kGP, cerr);
  if (!is_call && !cd.conforming() && cd.dpl() != s.cpl) raise_exception(kGP, cerr);
  if (!cd.present()) raise_exception(kNP, cerr);
  if (offset > cd.limit()) raise_exception(kGP, 0);

  if (is_call && !cd.conforming() && cd.dpl() < s.cpl) {
    // CALL to a more privileged level: stack switch and parameter copy (5.8.5).
    const uint8_t new_cpl = cd.dpl();
    uint16_t ss_sel;
    uint32_t esp;
    read_tss_stack(cpu, new_cpl, ss_sel, esp, 0);
    SegmentCache ss = check_stack_segment(cpu, ss_sel, new_cpl, kTS, 0);
    const uint32_t old_esp = s.gpr[ESP];
    const uint16_t old_ss = s.seg[SS].selector;
    push_to_stack(cpu, ss, esp, new_cpl, old_ss, size);
    push_to_stack(cpu, ss, esp, new_cpl, old_esp, size);
    for (unsigned i = params; i-- > 0;) {
      const uint32_t off = old_esp + i * size;
      const uint32_t v = size == 4 ? cpu.read<uint32_t>(SS, s.stack32() ? off : (off & 0xFFFF))
                                   : cpu.read<uint16_t>(SS, s.stack32() ? off : (off & 0xFFFF));
      push_to_stack(cpu, ss, esp, new_cpl, v, size);
    }
    push_to_stack(cpu, ss, esp, new_cpl, s.seg[CS].selector, size);
    push_to_stack(cpu, ss, esp, new_cpl, next_eip, size);
    s.seg[SS] = ss;
    s.gpr[ESP] = esp;
    s.cpl = new_cpl;
  } else if (is_call) {
    uint32_t esp = s.gpr[ESP];
    push_to_stack(cpu, s.seg[SS], esp, s.cpl, s.seg[CS].selector, size);
    push_to_stack(cpu, s.seg[SS], esp, s.cpl, next_eip, size);
    s.gpr[ESP] = esp;
  }
  mark_accessed(cpu, target, cd);
  set_segment_cache(s.seg[CS], static_cast<uint16_t>((target & ~3u) | s.cpl), cd);
  s.eip = offset;
}

}  // namespace

void far_jmp(Cpu& cpu, uint16_t selector, uint32_t offset, unsigned opsize, uint32_t next_eip) {
  CpuState& s = cpu.s;
  if (opsize == 2) offset &= 0xFFFF;
  if (!(s.cr0 & cr0::PE)) {
    set_real_cs(cpu, selector);
    s.eip = offset;
    return;
  }
  if ((selector & ~3u) == 0) raise_exception(kGP, 0);
  Descriptor d = read_descriptor(cpu, selector);
  if (!d.s()) {
    through_system_descriptor(cpu, selector, d, false, next_eip);
    cpu.end_block();
    return;
  }
  load_code_segment(cpu, selector, offset);
  s.eip = offset;
}

void far_call(Cpu& cpu, uint16_t selector, uint32_t offset, unsigned opsize, uint32_t next_eip) {
  CpuState& s = cpu.s;
  if (opsize == 2) offset &= 0xFFFF;
  const uint32_t old_esp = s.gpr[ESP];
  const SegmentCache old_cs = s.seg[CS];
  const SegmentCache old_ss = s.seg[SS];
  const uint8_t old_cpl = s.cpl;
  try {
    if (!(s.cr0 & cr0::PE)) {
      if (opsize == 4) {
        cpu.push<uint32_t>(old_cs.selector);
        cpu.push<uint32_t>(next_eip);
      } else {
        cpu.push<uint16_t>(old_cs.selector);
        cpu.push<uint16_t>(static_cast<uint16_t>(next_eip));
      }
      set_real_cs(cpu, selector);
      s.eip = offset;
      return;
    }
    if ((selector & ~3u) == 0) raise_exception(kGP, 0);
    Descriptor d = read_descriptor(cpu, selector);
    if (!d.s()) {
      through_system_descriptor(cpu, selector, d, true, next_eip);
      cpu.end_block();
      return;
    }
    // Both pushes must succeed before CS changes.
    if (opsize == 4) {
      cpu.push<uint32_t>(old_cs.selector);
      cpu.push<uint32_t>(next_eip);
    } else {
      cpu.push<uint16_t>(old_cs.selector);
      cpu.push<uint16_t>(static_cast<uint16_t>(next_eip));
    }
    load_code_segment(cpu, selector, offset);
    s.eip = offset;
  } catch (const FaultInNewTask&) {
    throw;  // A task switch committed: the state is the new task's.
  } catch (...) {
    s.gpr[ESP] = old_esp;
    s.seg[CS] = old_cs;
    s.seg[SS] = old_ss;
    s.cpl = old_cpl;
    throw;
  }
}

void far_ret(Cpu& cpu, unsigned opsize, uint16_t pop_bytes) {
  CpuState& s = cpu.s;
  const uint32_t sp = s.gpr[ESP];
  auto at = [&](uint32_t i) -> uint32_t {
    const uint32_t off = s.stack32() ? sp + i : ((sp + i) & 0xFFFF);
    return opsize == 4 ? cpu.read<uint32_t>(SS, off) : cpu.read<uint16_t>(SS, off);
  };
  const uint32_t eip = at(0);
  const uint16_t cs = static_cast<uint16_t>(at(opsize));
  auto advance = [&](uint32_t esp, uint32_t n, bool big) {
    return big ? esp + n : ((esp & 0xFFFF0000u) | ((esp + n) & 0xFFFF));
  };
  if (!(s.cr0 & cr0::PE)) {
    set_real_cs(cpu, cs);
    s.eip = eip;
    s.gpr[ESP] = advance(sp, 2 * opsize + pop_bytes, s.stack32());
    return;
  }
  const uint8_t rpl = cs & 3;
  if ((cs & ~3u) == 0) raise_exception(kGP, 0);
  if (rpl < s.cpl) raise_exception(kGP, cs & ~3u);
  if (rpl == s.cpl) {
    load_code_segment(cpu, cs, eip);
    s.eip = eip;
    s.gpr[ESP] = advance(sp, 2 * opsize + pop_bytes, s.stack32());
    return;
  }
  // Return to an outer privilege level (SDM Vol. 2B, RET "RETURN-TO-OUTER-PRIVILEGE-LEVEL").
  Descriptor d = read_descriptor(cpu, cs);
  const uint32_t err = cs & ~3u;
  if (!d.code()) raise_exception(kGP, err);
  if (d.conforming() ? d.dpl() > rpl : d.dpl() != rpl) raise_exception(kGP, err);
  if (!d.present()) raise_exception(kNP, err);
  const uint32_t new_esp = at(2 * opsize + pop_bytes);
  const uint16_t new_ss = static_cast<uint16_t>(at(3 * opsize + pop_bytes));
  SegmentCache ss = check_stack_segment(cpu, new_ss, rpl, kGP, 0);
  if (eip > d.limit()) raise_exception(kGP, 0);
  mark_accessed(cpu, cs, d);
  set_segment_cache(s.seg[CS], cs, d);
  s.eip = opsize == 4 ? eip : (eip & 0xFFFF);
  s.seg[SS] = ss;
  s.cpl = rpl;
  s.gpr[ESP] = advance(ss.big() ? new_esp : new_esp & 0xFFFF, pop_bytes, ss.big());
  null_inaccessible_data_segments(cpu);
  cpu.end_block();
}

}  // namespace vmm

#include "runtime/task_switch.h"

#include "runtime/cpu.h"
#include "runtime/exceptions.h"
#include "runtime/segmentation.h"

namespace vmm {

namespace {

// System descriptor types (SDM Vol. 3A, Table 3-2).
constexpr uint8_t kTss16Available = 1;
constexpr uint8_t kTss16Busy = 3;
constexpr uint8_t kTaskGateType = 5;
constexpr uint8_t kTss32Available = 9;
constexpr uint8_t kTss32Busy = 11;
constexpr uint32_t kBusyBit = 1u << 9;  // Type bit 1 in the high dword.

// 32-bit TSS field offsets (SDM Vol. 3A, Figure 7-2).
namespace tss32 {
constexpr uint32_t kBackLink = 0x00, kCr3 = 0x1C, kEip = 0x20, kEflags = 0x24, kEax = 0x28, kEs = 0x48,
                   kLdt = 0x60, kMinLimit = 0x67;
}
// 16-bit TSS field offsets (SDM Vol. 3A, Figure 7-11).
namespace tss16 {
constexpr uint32_t kBackLink = 0x00, kIp = 0x0E, kFlags = 0x10, kAx = 0x12, kEs = 0x22, kLdt = 0x2A,
                   kMinLimit = 0x2B;
}

bool is_tss32(uint8_t type) { return type == kTss32Available || type == kTss32Busy; }

}  // namespace

void task_switch(Cpu& cpu, uint16_t selector, TaskSwitchReason reason, uint32_t return_eip, bool has_error,
                 uint32_t error) {
  CpuState& s = cpu.s;
  const uint32_t err = selector & ~3u;
  // IRET's task return reports a bad back link as #TS(back link) (SDM Vol. 2A,
  // IRET "TASK-RETURN"); JMP/CALL/INT report a bad TSS descriptor as #GP.
  const uint8_t bad = reason == TaskSwitchReason::kIret ? kTS : kGP;
  if (selector & 4) raise_exception(kTS, err);  // TSS descriptors live in the GDT only.
  Descriptor d;
  try {
    d = read_descriptor(cpu, selector);
  } catch (const GuestException& e) {
    if (e.vector == kGP && reason == TaskSwitchReason::kIret) raise_exception(kTS, err);
    throw;
  }
  uint8_t type = d.s() ? 0xFF : d.type();
  if (type == kTaskGateType) raise_exception(bad, err);
  const bool busy = type == kTss16Busy || type == kTss32Busy;
  const bool valid_type = type == kTss16Available || type == kTss16Busy || type == kTss32Available ||
                          type == kTss32Busy;
  if (!valid_type) raise_exception(bad, err);
  // IRET returns to a busy task; the others need an available one.
  if (reason == TaskSwitchReason::kIret ? !busy : busy) raise_exception(bad, err);
  if (!d.present()) raise_exception(kNP, err);
  const bool new32 = is_tss32(type);
  if (d.limit() < (new32 ? tss32::kMinLimit : tss16::kMinLimit)) raise_exception(kTS, err);

  // Save the outgoing task's state into its TSS (dynamic fields only).
  const uint8_t old_type = s.tr.attr & 0xF;
  const bool old32 = is_tss32(old_type);
  const uint32_t old_base = s.tr.base;
  uint32_t saved_flags = s.eflags;
  if (reason == TaskSwitchReason::kIret) saved_flags &= ~flag::NT;
  auto w32 = [&](uint32_t a, uint32_t v) { cpu.mmu.write<uint32_t>(a, v, kMmuKernel); };
  auto w16 = [&](uint32_t a, uint16_t v) { cpu.mmu.write<uint16_t>(a, v, kMmuKernel); };
  if (old32) {
    w32(old_base + tss32::kEip, return_eip);
    w32(old_base + tss32::kEflags, saved_flags);
    for (int i = 0; i < 8; ++i) w32(old_base + tss32::kEax + 4 * i, s.gpr[i]);
    for (int i = 0; i < kSegCount; ++i) w16(old_base + tss32::kEs + 4 * i, s.seg[i].selector);
  } else {
    w16(old_base + tss16::kIp, static_cast<uint16_t>(return_eip));
    w16(old_base + tss16::kFlags, static_cast<uint16_t>(saved_flags));
    for (int i = 0; i < 8; ++i) w16(old_base + tss16::kAx + 2 * i, static_cast<uint16_t>(s.gpr[i]));
    for (int i = 0; i < 4; ++i) w16(old_base + tss16::kEs + 2 * i, s.seg[i].selector);
  }

  // The old task is no longer busy after JMP and IRET.
  if (reason == TaskSwitchReason::kJmp || reason == TaskSwitchReason::kIret) {
    Descriptor old = read_descriptor(cpu, s.tr.selector);
    write_descriptor_high(cpu, s.tr.selector, old.hi & ~kBusyBit);
  }

  // Read the incoming task's state.
  const uint32_t base = d.base();
  auto r32 = [&](uint32_t a) { return cpu.mmu.read<uint32_t>(a, kMmuKernel); };
  auto r16 = [&](uint32_t a) { return cpu.mmu.read<uint16_t>(a, kMmuKernel); };
  uint32_t eip, eflags, cr3 = s.cr3, gpr[8];
  uint16_t sel[kSegCount] = {}, ldt;
  if (new32) {
    cr3 = r32(base + tss32::kCr3);
    eip = r32(base + tss32::kEip);
    eflags = r32(base + tss32::kEflags);
    for (int i = 0; i < 8; ++i) gpr[i] = r32(base + tss32::kEax + 4 * i);
    for (int i = 0; i < kSegCount; ++i) sel[i] = r16(base + tss32::kEs + 4 * i);
    ldt = r16(base + tss32::kLdt);
  } else {
    eip = r16(base + tss16::kIp);
    eflags = r16(base + tss16::kFlags) | (s.eflags & 0xFFFF0000u);
    for (int i = 0; i < 8; ++i) gpr[i] = (s.gpr[i] & 0xFFFF0000u) | r16(base + tss16::kAx + 2 * i);
    for (int i = 0; i < 4; ++i) sel[i] = r16(base + tss16::kEs + 2 * i);
    ldt = r16(base + tss16::kLdt);
  }

  if (reason == TaskSwitchReason::kCall || reason == TaskSwitchReason::kInterrupt) {
    w16(base + (new32 ? tss32::kBackLink : tss16::kBackLink), s.tr.selector);
    eflags |= flag::NT;
  }
  if (reason != TaskSwitchReason::kIret) {
    d.hi |= kBusyBit;
    write_descriptor_high(cpu, selector, d.hi);
  }

  // Commit: from here on faults belong to the new task (SDM Vol. 3A, 7.3 step 12).
  try {
    set_segment_cache(s.tr, selector, d);
    s.tr.attr = static_cast<uint16_t>((s.tr.attr & ~0xFu) | (new32 ? kTss32Busy : kTss16Busy));
    s.eip = eip;
    s.eflags = (eflags & ~(flag::VM)) | flag::kFixed1;
    for (int i = 0; i < 8; ++i) s.gpr[i] = gpr[i];
    s.cr0 |= cr0::TS;
    if (new32 && (s.cr0 & cr0::PG) && cr3 != s.cr3) {
      s.cr3 = cr3 & 0xFFFFF018u;
      cpu.paging_changed(/*keep_global=*/true);
    }
    // Selectors first (so a fault below reports consistent selectors), then the checked loads.
    for (int i = 0; i < kSegCount; ++i) s.seg[i].selector = sel[i];
    s.cpl = sel[CS] & 3;

    // LDT (SDM Vol. 3A, 7.3 step 13: errors here are #TS against the new task).
    if ((ldt & ~3u) == 0) {
      s.ldtr = SegmentCache{};
    } else {
      if (ldt & 4) raise_exception(kTS, ldt & ~3u);
      Descriptor ld = read_descriptor(cpu, ldt);
      if (ld.s() || ld.type() != 2) raise_exception(kTS, ldt & ~3u);
      if (!ld.present()) raise_exception(kTS, ldt & ~3u);
      set_segment_cache(s.ldtr, ldt, ld);
    }

    // Code segment.
    {
      const uint16_t cs = sel[CS];
      if ((cs & ~3u) == 0) raise_exception(kTS, cs & ~3u);
      Descriptor cd = read_descriptor(cpu, cs);
      if (!cd.code()) raise_exception(kTS, cs & ~3u);
      if (cd.conforming() ? cd.dpl() > (cs & 3) : cd.dpl() != (cs & 3)) raise_exception(kTS, cs & ~3u);
      if (!cd.present()) raise_exception(kNP, cs & ~3u);
      mark_accessed(cpu, cs, cd);
      set_segment_cache(s.seg[CS], cs, cd);
    }
    // Stack segment.
    s.seg[SS] = check_stack_segment(cpu, sel[SS], s.cpl, kTS, 0);
    // Data segments: null is allowed.
    for (SegReg r : {DS, ES, FS, GS}) {
      const uint16_t v = sel[r];
      SegmentCache& sc = s.seg[r];
      if ((v & ~3u) == 0) {
        sc = SegmentCache{};
        sc.selector = v;
        continue;
      }
      Descriptor dd = read_descriptor(cpu, v);
      if (!dd.s() || (dd.code() && !dd.readable_code())) raise_exception(kTS, v & ~3u);
      if (!dd.conforming() && (dd.dpl() < s.cpl || dd.dpl() < (v & 3))) raise_exception(kTS, v & ~3u);
      if (!dd.present()) raise_exception(kNP, v & ~3u);
      mark_accessed(cpu, v, dd);
      set_segment_cache(sc, v, dd);
    }
    if (has_error) {
      if (new32) cpu.push<uint32_t>(error);
      else cpu.push<uint16_t>(static_cast<uint16_t>(error));
    }
    if (s.eip > s.seg[CS].limit) raise_exception(kGP, 0);
  } catch (const GuestException& e) {
    cpu.end_block();
    throw FaultInNewTask{e};
  }
  cpu.end_block();
}

}  // namespace vmm

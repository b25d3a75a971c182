#include "runtime/interrupts.h"

#include "runtime/cpu.h"
#include "runtime/log.h"
#include "runtime/segmentation.h"
#include "runtime/task_switch.h"

namespace vmm {

namespace {

// Gate descriptor types (SDM Vol. 3A, 6.11, Figure 6-2).
constexpr uint8_t kTaskGate = 0x5;
constexpr uint8_t kIntGate16 = 0x6;
constexpr uint8_t kTrapGate16 = 0x7;
constexpr uint8_t kIntGate32 = 0xE;
constexpr uint8_t kTrapGate32 = 0xF;

// Everything a delivery may change, so a fault part-way leaves the CPU as it was.
struct Snapshot {
  explicit Snapshot(const CpuState& s)
      : cs(s.seg[CS]), ss(s.seg[SS]), ds(s.seg[DS]), es(s.seg[ES]), fs(s.seg[FS]), gs(s.seg[GS]),
        esp(s.gpr[ESP]), eip(s.eip), eflags(s.eflags), cpl(s.cpl) {}
  void restore(CpuState& s) const {
    s.seg[CS] = cs;
    s.seg[SS] = ss;
    s.seg[DS] = ds;
    s.seg[ES] = es;
    s.seg[FS] = fs;
    s.seg[GS] = gs;
    s.gpr[ESP] = esp;
    s.eip = eip;
    s.eflags = eflags;
    s.cpl = cpl;
  }
  SegmentCache cs, ss, ds, es, fs, gs;
  uint32_t esp, eip, eflags;
  uint8_t cpl;
};

// Pushes through an explicit SS cache and privilege (the new stack of a
// privilege change is written with the new CPL's rights).
class StackWriter {
 public:
  StackWriter(Cpu& cpu, const SegmentCache& ss, uint32_t esp, uint8_t cpl) : cpu_(cpu), ss_(ss), esp_(esp), cpl_(cpl) {}
  void push(uint32_t v, unsigned size) { push_to_stack(cpu_, ss_, esp_, cpl_, v, size); }
  uint32_t esp() const { return esp_; }

 private:
  Cpu& cpu_;
  const SegmentCache& ss_;
  uint32_t esp_;
  uint8_t cpl_;
};

void deliver_real_mode(Cpu& cpu, uint8_t vector) {
  // SDM Vol. 3A, 20.1.4: the IVT holds 4-byte CS:IP pointers.
  CpuState& s = cpu.s;
  if (vector * 4u + 3 > s.idtr.limit) raise_exception(kGP, 0);
  const uint32_t entry = s.idtr.base + vector * 4u;
  const uint16_t ip = cpu.mmu.read<uint16_t>(entry, kMmuKernel);
  const uint16_t cs = cpu.mmu.read<uint16_t>(entry + 2, kMmuKernel);
  cpu.push<uint16_t>(static_cast<uint16_t>(s.eflags));
  cpu.push<uint16_t>(s.seg[CS].selector);
  cpu.push<uint16_t>(static_cast<uint16_t>(s.eip));
  s.eflags &= ~(flag::IF | flag::TF | flag::AC | flag::RF);
  s.seg[CS].selector = cs;
  s.seg[CS].base = uint32_t{cs} << 4;
  s.eip = ip;
}

void deliver_protected(Cpu& cpu, uint8_t vector, EventSource source, bool has_error, uint32_t error) {
  CpuState& s = cpu.s;
  const uint32_t ext = (source == EventSource::kSoftware) ? 0 : 1;
  const uint32_t idt_err = vector * 8u + 2 + ext;
  if (vector * 8u + 7 > s.idtr.limit) raise_exception(kGP, idt_err);
  const uint32_t lo = cpu.mmu.read<uint32_t>(s.idtr.base + vector * 8u, kMmuKernel);
  const uint32_t hi = cpu.mmu.read<uint32_t>(s.idtr.base + vector * 8u + 4, kMmuKernel);
  const uint8_t type = (hi >> 8) & 0x1F;  // Includes the S bit, which must be 0.
  const uint8_t gate_dpl = (hi >> 13) & 3;
  if (type != kTaskGate && type != kIntGate16 && type != kTrapGate16 && type != kIntGate32 && type != kTrapGate32)
    raise_exception(kGP, idt_err);
  if (source == EventSource::kSoftware && gate_dpl < s.cpl) raise_exception(kGP, idt_err);
  if (!(hi & (1u << 15))) raise_exception(kNP, idt_err);

  const uint16_t selector = static_cast<uint16_t>(lo >> 16);
  if (type == kTaskGate) {
    // The interrupted task resumes at cpu.s.eip: the faulting instruction
    // for a fault, the next one for a trap, INT n or an external interrupt.
    task_switch(cpu, selector, TaskSwitchReason::kInterrupt, s.eip, has_error, error);
    return;
  }
  const uint32_t offset = (lo & 0xFFFF) | (hi & 0xFFFF0000u);
  const bool gate32 = type == kIntGate32 || type == kTrapGate32;
  const bool interrupt_gate = type == kIntGate16 || type == kIntGate32;
  const unsigned size = gate32 ? 4 : 2;

  // The handler's code segment (SDM Vol. 3A, 6.12.1.1).
  if ((selector & ~3u) == 0) raise_exception(kGP, ext);
  Descriptor cs_desc = read_descriptor(cpu, selector, ext);
  const uint32_t cs_err = (selector & ~3u) + ext;
  if (!cs_desc.code() || cs_desc.dpl() > s.cpl) raise_exception(kGP, cs_err);
  if (!cs_desc.present()) raise_exception(kNP, cs_err);

  const Snapshot snap(s);
  const uint32_t old_eflags = s.eflags;
  const uint16_t old_cs = s.seg[CS].selector;
  const uint32_t old_eip = s.eip;
  try {
    if (!cs_desc.conforming() && cs_desc.dpl() < s.cpl) {
      // Inter-privilege: the new stack comes from the TSS (SDM Vol. 3A, 6.12.1, 7.2.1).
      const uint8_t new_cpl = cs_desc.dpl();
      uint16_t new_ss_sel;
      uint32_t new_esp;
      read_tss_stack(cpu, new_cpl, new_ss_sel, new_esp, ext);
      SegmentCache new_ss = check_stack_segment(cpu, new_ss_sel, new_cpl, kTS, ext);
      const uint16_t old_ss = s.seg[SS].selector;
      const uint32_t old_esp = s.gpr[ESP];
      StackWriter st(cpu, new_ss, new_esp, new_cpl);
      st.push(old_ss, size);
      st.push(old_esp, size);
      st.push(old_eflags, size);
      st.push(old_cs, size);
      st.push(old_eip, size);
      if (has_error) st.push(error, size);
      s.seg[SS] = new_ss;
      s.gpr[ESP] = st.esp();
      s.cpl = new_cpl;
    } else {
      // Intra-privilege (also conforming code segments).
      StackWriter st(cpu, s.seg[SS], s.gpr[ESP], s.cpl);
      st.push(old_eflags, size);
      st.push(old_cs, size);
      st.push(old_eip, size);
      if (has_error) st.push(error, size);
      s.gpr[ESP] = st.esp();
    }
    const uint32_t new_eip = gate32 ? offset : (offset & 0xFFFF);
    if (new_eip > cs_desc.limit()) raise_exception(kGP, ext);
    mark_accessed(cpu, selector, cs_desc);
    set_segment_cache(s.seg[CS], static_cast<uint16_t>((selector & ~3u) | s.cpl), cs_desc);
    s.eip = new_eip;
    s.eflags &= ~(flag::TF | flag::VM | flag::RF | flag::NT);
    if (interrupt_gate) s.eflags &= ~flag::IF;
  } catch (...) {
    snap.restore(s);
    throw;
  }
}

// Exception classes for the double-fault rules (SDM Vol. 3A, Table 6-4).
bool contributory(uint8_t v) { return v == kDE || v == kTS || v == kNP || v == kSS || v == kGP; }

}  // namespace

void deliver_interrupt(Cpu& cpu, uint8_t vector, EventSource source, bool has_error, uint32_t error) {
  if (!(cpu.s.cr0 & cr0::PE)) {
    deliver_real_mode(cpu, vector);
  } else {
    deliver_protected(cpu, vector, source, has_error, error);
  }
  cpu.note_event_delivered();
  cpu.end_block();
}

void deliver_exception(Cpu& cpu, const GuestException& first) {
  GuestException e = first;
  bool double_fault = false;
  for (int attempt = 0; attempt < 3; ++attempt) {
    try {
      deliver_interrupt(cpu, e.vector, EventSource::kException, e.has_error && (cpu.s.cr0 & cr0::PE), e.error);
      return;
    } catch (const GuestException& second) {
      if (cpu.log) {
        cpu.log->printf(LogMask::kInt, "fault 0x%x (error 0x%x) while delivering 0x%x\n", second.vector,
                        second.error, e.vector);
      }
      if (double_fault) break;  // A fault while delivering #DF: shutdown.
      const bool df = (contributory(e.vector) && contributory(second.vector)) ||
                      (e.vector == kPF && (contributory(second.vector) || second.vector == kPF));
      if (df) {
        double_fault = true;
        e = GuestException{kDF, true, 0};
      } else {
        e = second;  // Benign combination: handle the second one serially.
      }
    }
  }
  cpu.triple_fault();
}

void software_interrupt(Cpu& cpu, uint8_t vector, EventSource source, uint32_t next_eip) {
  const uint32_t start = cpu.s.eip;
  if (cpu.log) cpu.log->printf(LogMask::kInt, "software interrupt 0x%02x at eip=0x%08x\n", vector, start);
  cpu.s.eip = next_eip;
  try {
    deliver_interrupt(cpu, vector, source);
  } catch (const FaultInNewTask&) {
    throw;  // Through a task gate, after the switch committed: the new task's fault.
  } catch (...) {
    cpu.s.eip = start;  // A fault during INT n is reported at the INT instruction.
    throw;
  }
}

void iret(Cpu& cpu, unsigned opsize, uint32_t next_eip) {
  CpuState& s = cpu.s;
  if (!(s.cr0 & cr0::PE)) {
    // Real mode (SDM Vol. 2A, IRET "REAL-ADDRESS-MODE").
    const uint32_t eip = opsize == 4 ? cpu.pop<uint32_t>() : cpu.pop<uint16_t>();
    const uint16_t cs = static_cast<uint16_t>(opsize == 4 ? cpu.pop<uint32_t>() : cpu.pop<uint16_t>());
    const uint32_t fl = opsize == 4 ? cpu.pop<uint32_t>() : cpu.pop<uint16_t>();
    s.seg[CS].selector = cs;
    s.seg[CS].base = uint32_t{cs} << 4;
    s.eip = eip;
    const uint32_t mask = opsize == 4 ? 0x257FD5u : 0x7FD5u;
    s.eflags = (s.eflags & ~mask) | (fl & mask) | flag::kFixed1;
    return;
  }
  if (s.eflags & flag::NT) {
    // Return from a nested task through the back link (SDM Vol. 3A, 7.3).
    // The returning task is saved with the EIP after the IRET: re-entered
    // later (a CALL or JMP to its TSS, a task gate), it goes on from there
    // (SDM Vol. 2A, IRET "TASK-RETURN").
    const uint16_t back = cpu.mmu.read<uint16_t>(s.tr.base, kMmuKernel);
    task_switch(cpu, back, TaskSwitchReason::kIret, next_eip, false, 0);
    cpu.end_block();
    return;
  }
  const Snapshot snap(s);
  try {
    const uint32_t sp = s.gpr[ESP];
    auto stack_read = [&](unsigned i) -> uint32_t {
      const uint32_t off = s.stack32() ? sp + i * opsize : ((sp + i * opsize) & 0xFFFF);
      return opsize == 4 ? cpu.read<uint32_t>(SS, off) : cpu.read<uint16_t>(SS, off);
    };
    const uint32_t new_eip = stack_read(0);
    const uint16_t new_cs = static_cast<uint16_t>(stack_read(1));
    const uint32_t new_flags = stack_read(2);
    if (opsize == 4 && (new_flags & flag::VM) && s.cpl == 0) {
      // Return to virtual-8086 mode is not supported by this CPU model.
      raise_exception(kGP, 0);
    }
    const uint8_t rpl = new_cs & 3;
    if ((new_cs & ~3u) == 0) raise_exception(kGP, 0);
    Descriptor d = read_descriptor(cpu, new_cs);
    const uint32_t err = new_cs & ~3u;
    if (rpl < s.cpl || !d.code()) raise_exception(kGP, err);
    if (d.conforming() ? d.dpl() > rpl : d.dpl() != rpl) raise_exception(kGP, err);
    if (!d.present()) raise_exception(kNP, err);
    const uint32_t eip = opsize == 4 ? new_eip : (new_eip & 0xFFFF);
    if (eip > d.limit()) raise_exception(kGP, 0);

    const uint8_t old_cpl = s.cpl;
    if (rpl > old_cpl) {
      // Return to an outer privilege level: the outer stack follows on the stack.
      const uint32_t new_esp = stack_read(3);
      const uint16_t new_ss = static_cast<uint16_t>(stack_read(4));
      SegmentCache ss_cache = check_stack_segment(cpu, new_ss, rpl, kGP, 0);
      mark_accessed(cpu, new_cs, d);
      set_segment_cache(s.seg[CS], new_cs, d);
      s.eip = eip;
      write_eflags_checked(cpu, new_flags, opsize, old_cpl, /*load_rf=*/true);
      s.seg[SS] = ss_cache;
      s.gpr[ESP] = s.seg[SS].big() ? new_esp : ((s.gpr[ESP] & 0xFFFF0000u) | (new_esp & 0xFFFF));
      s.cpl = rpl;
      null_inaccessible_data_segments(cpu);
    } else {
      mark_accessed(cpu, new_cs, d);
      set_segment_cache(s.seg[CS], new_cs, d);
      s.eip = eip;
      write_eflags_checked(cpu, new_flags, opsize, old_cpl, /*load_rf=*/true);
      const uint32_t n = sp + 3 * opsize;
      s.gpr[ESP] = s.stack32() ? n : ((sp & 0xFFFF0000u) | (n & 0xFFFF));
    }
  } catch (...) {
    snap.restore(s);
    throw;
  }
  cpu.end_block();
}

}  // namespace vmm

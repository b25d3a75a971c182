#include "runtime/lockstep.h"

#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <string>

#include "runtime/machine.h"

namespace vmm {

std::string describe_state(const CpuState& s) {
  char buf[640];
  std::snprintf(buf, sizeof buf,
                "EAX=%08x EBX=%08x ECX=%08x EDX=%08x ESI=%08x EDI=%08x EBP=%08x ESP=%08x\n"
                "EIP=%08x EFL=%08x CPL=%u CR0=%08x CR2=%08x CR3=%08x CR4=%08x\n"
                "ES=%04x CS=%04x SS=%04x DS=%04x FS=%04x GS=%04x (bases %08x %08x %08x %08x %08x %08x)\n",
                s.gpr[EAX], s.gpr[EBX], s.gpr[ECX], s.gpr[EDX], s.gpr[ESI], s.gpr[EDI], s.gpr[EBP], s.gpr[ESP], s.eip,
                s.eflags, s.cpl, s.cr0, s.cr2, s.cr3, s.cr4, s.seg[ES].selector, s.seg[CS].selector,
                s.seg[SS].selector, s.seg[DS].selector, s.seg[FS].selector, s.seg[GS].selector, s.seg[ES].base,
                s.seg[CS].base, s.seg[SS].base, s.seg[DS].base, s.seg[FS].base, s.seg[GS].base);
  return buf;
}

namespace {

bool same_segment(const SegmentCache& a, const SegmentCache& b) {
  return a.selector == b.selector && a.base == b.base && a.limit == b.limit && a.attr == b.attr;
}

}  // namespace

bool same_architectural_state(const CpuState& a, const CpuState& b) {
  if (std::memcmp(a.gpr, b.gpr, sizeof(uint32_t) * 8) != 0) return false;
  if (a.eip != b.eip || a.eflags != b.eflags || a.cpl != b.cpl) return false;
  if (a.cr0 != b.cr0 || a.cr2 != b.cr2 || a.cr3 != b.cr3 || a.cr4 != b.cr4) return false;
  for (int i = 0; i < kSegCount; ++i)
    if (!same_segment(a.seg[i], b.seg[i])) return false;
  return same_segment(a.tr, b.tr) && same_segment(a.ldtr, b.ldtr) && a.gdtr.base == b.gdtr.base &&
         a.gdtr.limit == b.gdtr.limit && a.idtr.base == b.idtr.base && a.idtr.limit == b.idtr.limit &&
         std::memcmp(a.fpu.fxsave, b.fpu.fxsave, 160) == 0;
}

namespace {

void report(LockstepSide& jit, LockstepSide& ref, uint64_t at, uint64_t interval, const char* what) {
  std::fprintf(stderr, "vmm: lockstep mismatch (%s) after %" PRIu64 " instructions (checked every %" PRIu64 ")\n",
               what, at, interval);
  const CpuState& s = ref.cpu().s;
  uint8_t bytes[16] = {};
  for (unsigned i = 0; i < 15; ++i) {
    try {
      bytes[i] = ref.cpu().mmu.read<uint8_t>(s.seg[CS].base + s.eip + i, ref.cpu().mmu_idx());
    } catch (...) {
    }
  }
  std::fprintf(stderr, "next instruction (interpreter's EIP): %s\n",
               ref.cpu().decoder().disassemble(bytes, 15, s.eip).c_str());
  std::fprintf(stderr, "--- jit ---\n%s--- interpreter ---\n%s", describe_state(jit.cpu().s).c_str(), describe_state(s).c_str());
}

// A whole machine as a lockstep side.
class MachineSide : public LockstepSide {
 public:
  explicit MachineSide(Machine& m) : m_(m) {}
  std::optional<int> run_slice(uint64_t n, bool to_deadline) override { return m_.run_slice(n, to_deadline); }
  Cpu& cpu() override { return m_.cpu(); }
  GuestRam& ram() override { return m_.ram(); }

 private:
  Machine& m_;
};

}  // namespace

LockstepResult run_lockstep(LockstepSide& jit, LockstepSide& ref, uint64_t interval, uint64_t max_instructions) {
  LockstepResult result;
  uint64_t steps = 0;
  const uint64_t first_exception = ref.cpu().stats().exceptions;
  // Interval 1 compares after every translated block (the JIT runs one block
  // per step, unchained); larger intervals let blocks chain.
  const bool per_block = interval == 1;
  jit.cpu().set_single_block(per_block);
  for (;;) {
    const uint64_t before = jit.cpu().stats().instructions;
    const std::optional<int> a = jit.run_slice(per_block ? ~uint64_t{0} : interval, true);
    const uint64_t done = jit.cpu().stats().instructions - before;
    std::optional<int> b = ref.run_slice(done, false);
    // The JIT stopped on an event that retires no instruction (a triple
    // fault while delivering an exception at the next instruction): the
    // reference has run the same count and must reach it too, without
    // retiring another instruction.
    if (a && !b) b = ref.run_slice(1, false);
    // Translated code may run past its budget (its tests sit on backward
    // branches) and fault at the instruction after its last one: the
    // reference, stopped before that instruction, runs it to the same
    // delivery, retiring nothing. An exception storm (a handler that faults
    // at once, again and again, retiring nothing) ends the JIT's slice only
    // at Cpu::kMaxExceptionsPerRun: the reference delivers as many.
    if (!a && !b && jit.cpu().stats().exceptions > ref.cpu().stats().exceptions) {
      ref.cpu().set_stop_after_exception(true);
      while (!b && jit.cpu().stats().exceptions > ref.cpu().stats().exceptions) {
        const uint64_t delivered = ref.cpu().stats().exceptions;
        b = ref.run_slice(1, false);
        if (ref.cpu().stats().exceptions == delivered) break;  // Something else happened: compared below.
      }
      ref.cpu().set_stop_after_exception(false);
    }
    const uint64_t at = ref.cpu().stats().instructions;
    result.instructions = at;
    if (jit.cpu().stats().instructions != at) {
      report(jit, ref, at, interval, "instruction counts differ");
      result.agree = false;
      return result;
    }
    if (!same_architectural_state(jit.cpu().s, ref.cpu().s)) {
      report(jit, ref, at, interval, "CPU state");
      result.agree = false;
      return result;
    }
    // RAM is compared less often: it is large.
    // Exceptions count as work too: an exception storm retires nothing.
    const uint64_t work = at + (ref.cpu().stats().exceptions - first_exception);
    const bool last = a || b || work >= max_instructions;
    if ((++steps % 64) == 0 || last) {
      if (jit.ram().size() != ref.ram().size() ||
          std::memcmp(jit.ram().data(), ref.ram().data(), ref.ram().size()) != 0) {
        uint32_t i = 0;
        while (i < ref.ram().size() && jit.ram().data()[i] == ref.ram().data()[i]) ++i;
        char what[64];
        std::snprintf(what, sizeof what, "RAM differs at 0x%08x", i);
        report(jit, ref, at, interval, what);
        result.agree = false;
        return result;
      }
    }
    if (a || b) {
      if (a != b) {
        report(jit, ref, at, interval, "one engine stopped");
        result.agree = false;
        return result;
      }
      result.status = a;
      return result;
    }
    if (work >= max_instructions) return result;
  }
}

int run_lockstep(Machine& jit, Machine& ref, uint64_t interval) {
  MachineSide j(jit), r(ref);
  const LockstepResult result = run_lockstep(j, r, interval);
  if (!result.agree) return kExitLockstepMismatch;
  std::fprintf(stderr, "vmm: lockstep: %" PRIu64 " instructions, engines agree\n", result.instructions);
  return *result.status;
}

}  // namespace vmm

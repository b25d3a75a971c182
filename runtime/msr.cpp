// RDMSR/WRMSR and SYSENTER/SYSEXIT (SDM Vol. 2B; MSR numbers from Vol. 4).
#include "runtime/cpu.h"
#include "runtime/emulation.h"
#include "runtime/exceptions.h"

namespace vmm {

namespace {
constexpr uint32_t kMsrTsc = 0x10;
constexpr uint32_t kMsrPlatformId = 0x17;  // IA32_PLATFORM_ID (P6 family): platform bits 52:50 = 0.
constexpr uint32_t kMsrBiosSignId = 0x8B;  // IA32_BIOS_SIGN_ID: microcode revision in bits 63:32.
constexpr uint32_t kMsrSysenterCs = 0x174;
constexpr uint32_t kMsrSysenterEsp = 0x175;
constexpr uint32_t kMsrSysenterEip = 0x176;

// Flat segment caches SYSENTER/SYSEXIT load (SDM Vol. 2B, SYSENTER Operation).
SegmentCache flat_segment(uint16_t selector, bool code, uint8_t dpl) {
  SegmentCache s;
  s.selector = selector;
  s.base = 0;
  s.limit = 0xFFFFFFFFu;
  s.attr = static_cast<uint16_t>(SegmentCache::kPresent | SegmentCache::kS | SegmentCache::kAccessed |
                                 SegmentCache::kDb | SegmentCache::kGranularity | (dpl << 5) |
                                 (code ? (SegmentCache::kCode | SegmentCache::kReadable) : SegmentCache::kWritable));
  s.refresh();
  return s;
}
}  // namespace

void rdmsr(Cpu& cpu) {
  require_cpl0(cpu);
  uint64_t v;
  switch (cpu.s.gpr[ECX]) {
    case kMsrTsc: v = read_tsc(cpu); break;
    // No microcode is loaded: revision 0 (SDM Vol. 3A 9.11.7, "Update
    // Signature and Verification": write 0, CPUID, then read the revision).
    case kMsrPlatformId: case kMsrBiosSignId: v = 0; break;
    case kMsrSysenterCs: v = cpu.s.sysenter_cs; break;
    case kMsrSysenterEsp: v = cpu.s.sysenter_esp; break;
    case kMsrSysenterEip: v = cpu.s.sysenter_eip; break;
    default: raise_exception(kGP, 0);
  }
  cpu.s.gpr[EAX] = static_cast<uint32_t>(v);
  cpu.s.gpr[EDX] = static_cast<uint32_t>(v >> 32);
}

void wrmsr(Cpu& cpu) {
  require_cpl0(cpu);
  const uint64_t v = (uint64_t{cpu.s.gpr[EDX]} << 32) | cpu.s.gpr[EAX];
  switch (cpu.s.gpr[ECX]) {
    case kMsrTsc:
      // Writing the TSC sets the counter's current value (SDM Vol. 3B, 17.17).
      cpu.s.tsc_offset += v - read_tsc(cpu);
      break;
    case kMsrBiosSignId: break;  // Writing 0 before CPUID is how the revision is asked for.
    case kMsrSysenterCs: cpu.s.sysenter_cs = static_cast<uint32_t>(v); break;
    case kMsrSysenterEsp: cpu.s.sysenter_esp = static_cast<uint32_t>(v); break;
    case kMsrSysenterEip: cpu.s.sysenter_eip = static_cast<uint32_t>(v); break;
    default: raise_exception(kGP, 0);
  }
}

void sysenter(Cpu& cpu) {
  CpuState& s = cpu.s;
  if (!(s.cr0 & cr0::PE)) raise_exception(kGP, 0);
  const uint16_t cs = static_cast<uint16_t>(s.sysenter_cs & 0xFFFC);
  if (cs == 0) raise_exception(kGP, 0);
  s.eflags &= ~(flag::VM | flag::IF | flag::RF);
  s.seg[CS] = flat_segment(cs, true, 0);
  s.seg[SS] = flat_segment(static_cast<uint16_t>(cs + 8), false, 0);
  s.cpl = 0;
  s.gpr[ESP] = s.sysenter_esp;
  s.eip = s.sysenter_eip;
  cpu.end_block();
}

void sysexit(Cpu& cpu) {
  CpuState& s = cpu.s;
  const uint16_t cs = static_cast<uint16_t>(s.sysenter_cs & 0xFFFC);
  if (!(s.cr0 & cr0::PE) || s.cpl != 0 || cs == 0) raise_exception(kGP, 0);
  s.seg[CS] = flat_segment(static_cast<uint16_t>((cs + 16) | 3), true, 3);
  s.seg[SS] = flat_segment(static_cast<uint16_t>((cs + 24) | 3), false, 3);
  s.cpl = 3;
  s.gpr[ESP] = s.gpr[ECX];
  s.eip = s.gpr[EDX];
  cpu.end_block();
}

}  // namespace vmm

#include "runtime/emulation.h"

#include <chrono>

#include "devices/bus.h"
#include "runtime/cpu.h"
#include "runtime/exceptions.h"

namespace vmm {

namespace {
// CR4.PCE: RDPMC allowed at any CPL (SDM Vol. 3A, 2.5 "Control Registers").
constexpr uint32_t kCr4Pce = 1u << 8;
}  // namespace

void require_cpl0(Cpu& cpu) {
  if (cpu.s.cpl != 0) raise_exception(kGP, 0);
}

static unsigned iopl(const Cpu& cpu) { return (cpu.s.eflags & flag::IOPL) >> 12; }

void check_io_permission(Cpu& cpu, uint16_t port, unsigned size) {
  if (!(cpu.s.cr0 & cr0::PE) || cpu.s.cpl <= iopl(cpu)) return;
  // The I/O map base is the word at TSS offset 0x66; the bits for the port
  // range must all be clear and lie within the TSS limit (SDM Vol. 1, 19.5.2).
  const SegmentCache& tr = cpu.s.tr;
  if (!(tr.attr & SegmentCache::kPresent) || tr.limit < 0x67) raise_exception(kGP, 0);
  const uint32_t map = cpu.mmu.read<uint16_t>(tr.base + 0x66, kMmuKernel);
  const uint32_t byte = map + port / 8;
  if (byte + 1 > tr.limit) raise_exception(kGP, 0);
  const uint32_t bits = cpu.mmu.read<uint16_t>(tr.base + byte, kMmuKernel);
  const uint32_t mask = ((1u << size) - 1) << (port & 7);
  if (bits & mask) raise_exception(kGP, 0);
}

uint32_t io_in(Cpu& cpu, uint16_t port, unsigned size) {
  check_io_permission(cpu, port, size);
  return cpu.bus.pio_read(port, size);
}

void io_out(Cpu& cpu, uint16_t port, unsigned size, uint32_t value) {
  check_io_permission(cpu, port, size);
  cpu.bus.pio_write(port, size, value);
}

void hlt(Cpu& cpu) {
  require_cpl0(cpu);
  cpu.enter_halt();
}

void cli(Cpu& cpu) {
  if ((cpu.s.cr0 & cr0::PE) && cpu.s.cpl > iopl(cpu)) raise_exception(kGP, 0);
  cpu.s.eflags &= ~flag::IF;
}

void sti(Cpu& cpu, uint32_t next_eip) {
  if ((cpu.s.cr0 & cr0::PE) && cpu.s.cpl > iopl(cpu)) raise_exception(kGP, 0);
  if (!(cpu.s.eflags & flag::IF)) cpu.inhibit_interrupts_until(next_eip);
  cpu.s.eflags |= flag::IF;
}

void cpuid(Cpu& cpu) {
  uint32_t* r = cpu.s.gpr;
  const uint32_t leaf = r[EAX];
  // Feature bits (CPUID.01H:EDX, SDM Vol. 2A, Table 3-11) of what is implemented.
  constexpr uint32_t kFpu = 1u << 0, kDe = 1u << 2, kPse = 1u << 3, kTsc = 1u << 4, kMsr = 1u << 5,
                     kCx8 = 1u << 8, kSep = 1u << 11, kPge = 1u << 13, kCmov = 1u << 15, kFxsr = 1u << 24;
  switch (leaf) {
    case 0:
      r[EAX] = 1;
      r[EBX] = 0x756E6547;  // "Genu"
      r[EDX] = 0x49656E69;  // "ineI"
      r[ECX] = 0x6C65746E;  // "ntel"
      break;
    case 1:
      // Family 6, model 3, stepping 3: SEP is only valid from model 3 stepping 3
      // on (SDM Vol. 2A, CPUID: "SYSENTER and SYSEXIT ... on earlier Pentium Pro").
      r[EAX] = 0x00000633;
      r[EBX] = 0;
      r[ECX] = 0;
      r[EDX] = kFpu | kDe | kPse | kTsc | kMsr | kCx8 | kSep | kPge | kCmov | kFxsr;
      break;
    default:
      // Leaves above the maximum return zeros.
      r[EAX] = r[EBX] = r[ECX] = r[EDX] = 0;
      break;
  }
}

uint64_t read_tsc(const Cpu& cpu) {
  // 1 tick per nanosecond of the machine's virtual clock.
  if (cpu.tsc_source) return cpu.tsc_source() + cpu.s.tsc_offset;
  using namespace std::chrono;
  const uint64_t ns = duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
  return ns + cpu.s.tsc_offset;
}

void rdtsc(Cpu& cpu) {
  if ((cpu.s.cr4 & cr4::TSD) && cpu.s.cpl != 0 && (cpu.s.cr0 & cr0::PE)) raise_exception(kGP, 0);
  const uint64_t t = read_tsc(cpu);
  cpu.s.gpr[EAX] = static_cast<uint32_t>(t);
  cpu.s.gpr[EDX] = static_cast<uint32_t>(t >> 32);
}

// RDPMC (SDM Vol. 2B, RDPMC). With CR4.PCE clear only CPL 0 may read the
// counters: #GP(0) at CPL > 0 in protected mode. CPUID reports no
// architectural performance monitoring (leaf 0AH is beyond the maximum leaf),
// so ECX[30:0] is a counter index, and this family-6 (P6) CPU has two
// 40-bit counters, PMC0 and PMC1 (SDM Vol. 2B RDPMC; Vol. 3B, "Performance
// Monitoring (P6 Family Processor)"); P6 has no fast-read mode (ECX[31]).
// Any other ECX is #GP(0). vmm models no events: both counters read 0, what
// counters that were never programmed (PerfEvtSel0/1 clear) count.
void rdpmc(Cpu& cpu) {
  if (!(cpu.s.cr4 & kCr4Pce) && cpu.s.cpl != 0 && (cpu.s.cr0 & cr0::PE)) raise_exception(kGP, 0);
  if (cpu.s.gpr[ECX] > 1) raise_exception(kGP, 0);
  cpu.s.gpr[EAX] = 0;
  cpu.s.gpr[EDX] = 0;
}

void mov_to_cr(Cpu& cpu, unsigned n, uint32_t value) {
  require_cpl0(cpu);
  switch (n) {
    case 0: {
      // SDM Vol. 3A, 2.5: PG without PE, or NW without CD, is #GP(0).
      if ((value & cr0::PG) && !(value & cr0::PE)) raise_exception(kGP, 0);
      if ((value & cr0::NW) && !(value & cr0::CD)) raise_exception(kGP, 0);
      const uint32_t old = cpu.s.cr0;
      cpu.s.cr0 = value | cr0::ET;
      if ((old ^ cpu.s.cr0) & (cr0::PG | cr0::WP | cr0::PE)) cpu.paging_changed();
      break;
    }
    case 2:
      cpu.s.cr2 = value;
      break;
    case 3:
      cpu.s.cr3 = value & 0xFFFFF018u;
      cpu.paging_changed(/*keep_global=*/true);
      break;
    case 4: {
      // Only the bits of implemented features may be set.
      constexpr uint32_t kSupported =
          cr4::TSD | cr4::DE | cr4::PSE | cr4::PGE | kCr4Pce | cr4::OSFXSR | cr4::OSXMMEXCPT;
      if (value & ~kSupported) raise_exception(kGP, 0);
      const uint32_t old = cpu.s.cr4;
      cpu.s.cr4 = value;
      if ((old ^ value) & (cr4::PSE | cr4::PGE)) cpu.paging_changed();
      break;
    }
    default:
      raise_exception(kUD);
  }
}

uint32_t mov_from_cr(Cpu& cpu, unsigned n) {
  require_cpl0(cpu);
  switch (n) {
    case 0: return cpu.s.cr0;
    case 2: return cpu.s.cr2;
    case 3: return cpu.s.cr3;
    case 4: return cpu.s.cr4;
    default: raise_exception(kUD);
  }
}

void mov_to_dr(Cpu& cpu, unsigned n, uint32_t value) {
  require_cpl0(cpu);
  if (n == 4 || n == 5) {
    if (cpu.s.cr4 & cr4::DE) raise_exception(kUD);
    n += 2;  // DR4/DR5 alias DR6/DR7 without CR4.DE.
  }
  if (n > 7) raise_exception(kUD);
  // DR6/DR7 reserved bits read back fixed (SDM Vol. 3B, 18.2.3-18.2.4).
  if (n == 6) value = (value & 0x0000E00Fu) | 0xFFFF0FF0u;
  if (n == 7) value = (value & ~0x0000D800u) | 0x400u;
  cpu.s.dr[n] = value;
  if (n != 6) cpu.update_watchpoints();
  cpu.end_block();  // Breakpoints may now be armed.
}

uint32_t mov_from_dr(Cpu& cpu, unsigned n) {
  require_cpl0(cpu);
  if (n == 4 || n == 5) {
    if (cpu.s.cr4 & cr4::DE) raise_exception(kUD);
    n += 2;
  }
  if (n > 7) raise_exception(kUD);
  return cpu.s.dr[n];
}

static TableRegister read_pseudo_descriptor(Cpu& cpu, uint32_t lin, unsigned opsize) {
  TableRegister t;
  t.limit = cpu.mmu.read<uint16_t>(lin, cpu.mmu_idx());
  t.base = cpu.mmu.read<uint32_t>(lin + 2, cpu.mmu_idx());
  if (opsize == 2) t.base &= 0x00FFFFFF;
  return t;
}

void lgdt(Cpu& cpu, uint32_t lin, unsigned opsize) {
  require_cpl0(cpu);
  cpu.s.gdtr = read_pseudo_descriptor(cpu, lin, opsize);
}

void lidt(Cpu& cpu, uint32_t lin, unsigned opsize) {
  require_cpl0(cpu);
  cpu.s.idtr = read_pseudo_descriptor(cpu, lin, opsize);
}

void invlpg(Cpu& cpu, uint32_t lin) {
  require_cpl0(cpu);
  cpu.tlb_flush_page(lin);
}

}  // namespace vmm

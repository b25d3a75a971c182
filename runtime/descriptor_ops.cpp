// Descriptor-table and control instructions that are not memory loads of
// segment registers: LTR, LLDT, SGDT, SIDT, LMSW, CLTS, LAR, LSL, VERR,
// VERW, ARPL.
#include "runtime/cpu.h"
#include "runtime/emulation.h"
#include "runtime/exceptions.h"
#include "runtime/segmentation.h"

namespace vmm {

void ltr(Cpu& cpu, uint16_t selector) {
  require_cpl0(cpu);
  const uint32_t err = selector & ~3u;
  if (err == 0 || (selector & 4)) raise_exception(kGP, err);
  Descriptor d = read_descriptor(cpu, selector);
  // An available 16- or 32-bit TSS (types 1 and 9), SDM Vol. 2A LTR.
  if (d.s() || (d.type() != 1 && d.type() != 9)) raise_exception(kGP, err);
  if (!d.present()) raise_exception(kNP, err);
  d.hi |= 1u << 9;  // Busy.
  write_descriptor_high(cpu, selector, d.hi);
  set_segment_cache(cpu.s.tr, selector, d);
}

void lldt(Cpu& cpu, uint16_t selector) {
  require_cpl0(cpu);
  if ((selector & ~3u) == 0) {
    cpu.s.ldtr = SegmentCache{};
    cpu.s.ldtr.selector = selector;
    return;
  }
  const uint32_t err = selector & ~3u;
  if (selector & 4) raise_exception(kGP, err);
  Descriptor d = read_descriptor(cpu, selector);
  if (d.s() || d.type() != 2) raise_exception(kGP, err);
  if (!d.present()) raise_exception(kNP, err);
  set_segment_cache(cpu.s.ldtr, selector, d);
}

static void store_table_register(Cpu& cpu, uint32_t lin, const TableRegister& t) {
  // The 6 bytes must be writable before either part is stored.
  cpu.mmu.probe_write(lin, 6, cpu.mmu_idx());
  cpu.mmu.write<uint16_t>(lin, t.limit, cpu.mmu_idx());
  cpu.mmu.write<uint32_t>(lin + 2, t.base, cpu.mmu_idx());
}

void sgdt(Cpu& cpu, uint32_t lin) { store_table_register(cpu, lin, cpu.s.gdtr); }
void sidt(Cpu& cpu, uint32_t lin) { store_table_register(cpu, lin, cpu.s.idtr); }

void lmsw(Cpu& cpu, uint16_t value) {
  require_cpl0(cpu);
  // Loads PE, MP, EM, TS; PE can be set but not cleared (SDM Vol. 2A, LMSW).
  const uint32_t bits = cr0::PE | cr0::MP | cr0::EM | cr0::TS;
  uint32_t n = (cpu.s.cr0 & ~(bits & ~cr0::PE)) | (value & bits);
  mov_to_cr(cpu, 0, n);
}

void clts(Cpu& cpu) {
  require_cpl0(cpu);
  cpu.s.cr0 &= ~cr0::TS;
}

namespace {
// Whether a descriptor may be examined by LAR/LSL/VERR/VERW at this CPL/RPL
// (SDM Vol. 2A, LAR: conforming code segments are always visible).
bool visible(const Cpu& cpu, uint16_t selector, const Descriptor& d) {
  if (d.conforming()) return true;
  return d.dpl() >= cpu.s.cpl && d.dpl() >= (selector & 3);
}

bool fetch(Cpu& cpu, uint16_t selector, Descriptor& d) {
  if ((selector & ~3u) == 0) return false;
  try {
    d = read_descriptor(cpu, selector);
  } catch (const GuestException& e) {
    if (e.vector == kGP) return false;  // Outside the table: ZF=0, no fault.
    throw;  // A #PF on the table itself is a real fault.
  }
  return true;
}
}  // namespace

bool lar(Cpu& cpu, uint16_t selector, uint32_t& access) {
  Descriptor d;
  if (!fetch(cpu, selector, d)) return false;
  if (!d.s()) {
    // System types LAR accepts (SDM Vol. 2A, LAR Table 3-xx): TSS, LDT, gates.
    switch (d.type()) {
      case 1: case 2: case 3: case 4: case 5: case 9: case 11: case 12: break;
      default: return false;
    }
  }
  if (!visible(cpu, selector, d)) return false;
  access = d.hi & 0x00F0FF00u;
  return true;
}

bool lsl(Cpu& cpu, uint16_t selector, uint32_t& limit) {
  Descriptor d;
  if (!fetch(cpu, selector, d)) return false;
  if (!d.s()) {
    switch (d.type()) {
      case 1: case 2: case 3: case 9: case 11: break;  // TSS and LDT only.
      default: return false;
    }
  }
  if (!visible(cpu, selector, d)) return false;
  limit = d.limit();
  return true;
}

bool verr(Cpu& cpu, uint16_t selector) {
  Descriptor d;
  if (!fetch(cpu, selector, d) || !d.s()) return false;
  if (d.code() && !d.readable_code()) return false;
  return visible(cpu, selector, d);
}

bool verw(Cpu& cpu, uint16_t selector) {
  Descriptor d;
  if (!fetch(cpu, selector, d) || !d.s()) return false;
  if (!d.writable_data()) return false;
  return d.dpl() >= cpu.s.cpl && d.dpl() >= (selector & 3);
}

bool arpl(uint16_t& dest, uint16_t src) {
  if ((dest & 3) < (src & 3)) {
    dest = static_cast<uint16_t>((dest & ~3u) | (src & 3));
    return true;
  }
  return false;
}

}  // namespace vmm

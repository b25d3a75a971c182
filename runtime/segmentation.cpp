#include "runtime/segmentation.h"

#include "runtime/cpu.h"
#include "runtime/exceptions.h"

namespace vmm {

Descriptor read_descriptor(Cpu& cpu, uint16_t selector) {
  const bool ldt = selector & 4;
  const TableRegister table = ldt ? TableRegister{cpu.s.ldtr.base, static_cast<uint16_t>(cpu.s.ldtr.limit)}
                                  : cpu.s.gdtr;
  const uint32_t off = selector & ~7u;
  if ((ldt && !(cpu.s.ldtr.attr & SegmentCache::kPresent)) || off + 7 > table.limit) {
    raise_exception(kGP, selector & ~3u);
  }
  Descriptor d;
  // Descriptor-table reads are supervisor accesses whatever the CPL (SDM Vol. 3A, 4.6).
  d.lo = cpu.mmu.read<uint32_t>(table.base + off, kMmuKernel);
  d.hi = cpu.mmu.read<uint32_t>(table.base + off + 4, kMmuKernel);
  return d;
}

void mark_accessed(Cpu& cpu, uint16_t selector, Descriptor& d) {
  if (d.type() & 1) return;
  d.hi |= 1u << 8;
  const bool ldt = selector & 4;
  const uint32_t base = ldt ? cpu.s.ldtr.base : cpu.s.gdtr.base;
  cpu.mmu.write<uint32_t>(base + (selector & ~7u) + 4, d.hi, kMmuKernel);
}

void set_segment_cache(SegmentCache& s, uint16_t selector, const Descriptor& d) {
  s.selector = selector;
  s.base = d.base();
  s.limit = d.limit();
  s.attr = d.attr();
}

void load_segment(Cpu& cpu, SegReg seg, uint16_t selector) {
  SegmentCache& sc = cpu.s.seg[seg];
  if (!(cpu.s.cr0 & cr0::PE)) {
    // Real mode: only the base changes (SDM Vol. 3A, 20.1.1).
    sc.selector = selector;
    sc.base = uint32_t{selector} << 4;
    return;
  }
  const uint8_t rpl = selector & 3;
  const uint8_t cpl = cpu.s.cpl;
  if ((selector & ~3u) == 0) {
    // Null selector: allowed for data segments (faults on use), #GP(0) for SS.
    if (seg == SS) raise_exception(kGP, 0);
    sc.selector = selector;
    sc.base = 0;
    sc.limit = 0;
    sc.attr = 0;  // Not present: any access through it raises #GP(0).
    return;
  }
  Descriptor d = read_descriptor(cpu, selector);
  const uint32_t err = selector & ~3u;
  if (seg == SS) {
    // SDM Vol. 3A, 5.7: RPL = CPL, DPL = CPL, writable data segment.
    if (rpl != cpl || d.dpl() != cpl || !d.writable_data()) raise_exception(kGP, err);
    if (!d.present()) raise_exception(kSS, err);
  } else {
    // Data or readable code; for data and non-conforming code, DPL >= max(CPL, RPL).
    if (!d.s() || (d.code() && !d.readable_code())) raise_exception(kGP, err);
    if (!d.conforming() && (d.dpl() < cpl || d.dpl() < rpl)) raise_exception(kGP, err);
    if (!d.present()) raise_exception(kNP, err);
  }
  mark_accessed(cpu, selector, d);
  set_segment_cache(sc, selector, d);
}

void load_code_segment(Cpu& cpu, uint16_t selector, uint32_t new_eip) {
  if (!(cpu.s.cr0 & cr0::PE)) {
    SegmentCache& cs = cpu.s.seg[CS];
    cs.selector = selector;
    cs.base = uint32_t{selector} << 4;
    return;
  }
  const uint32_t err = selector & ~3u;
  if (err == 0) raise_exception(kGP, 0);
  Descriptor d = read_descriptor(cpu, selector);
  const uint8_t cpl = cpu.s.cpl;
  const uint8_t rpl = selector & 3;
  if (!d.code()) {
    // Call gates, task gates and TSS descriptors as far-transfer targets.
    raise_exception(kGP, err);
  }
  // SDM Vol. 3A, 5.8.1: conforming: DPL <= CPL; non-conforming: RPL <= CPL and DPL = CPL.
  if (d.conforming() ? d.dpl() > cpl : (rpl > cpl || d.dpl() != cpl)) raise_exception(kGP, err);
  if (!d.present()) raise_exception(kNP, err);
  if (new_eip > d.limit()) raise_exception(kGP, 0);
  mark_accessed(cpu, selector, d);
  set_segment_cache(cpu.s.seg[CS], static_cast<uint16_t>((selector & ~3u) | cpl), d);
}

}  // namespace vmm

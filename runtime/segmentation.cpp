#include "runtime/segmentation.h"

#include "runtime/cpu.h"
#include "runtime/exceptions.h"

namespace vmm {

Descriptor read_descriptor(Cpu& cpu, uint16_t selector, uint32_t ext) {
  const bool ldt = selector & 4;
  const TableRegister table = ldt ? TableRegister{cpu.s.ldtr.base, static_cast<uint16_t>(cpu.s.ldtr.limit)}
                                  : cpu.s.gdtr;
  const uint32_t off = selector & ~7u;
  if ((ldt && !(cpu.s.ldtr.attr & SegmentCache::kPresent)) || off + 7 > table.limit) {
    raise_exception(kGP, (selector & ~3u) + ext);
  }
  Descriptor d;
  // Descriptor-table reads are supervisor accesses whatever the CPL (SDM Vol. 3A, 4.6).
  d.lo = cpu.mmu.read<uint32_t>(table.base + off, kMmuKernel);
  d.hi = cpu.mmu.read<uint32_t>(table.base + off + 4, kMmuKernel);
  return d;
}

void write_descriptor_high(Cpu& cpu, uint16_t selector, uint32_t hi) {
  const bool ldt = selector & 4;
  const uint32_t base = ldt ? cpu.s.ldtr.base : cpu.s.gdtr.base;
  cpu.mmu.write<uint32_t>(base + (selector & ~7u) + 4, hi, kMmuKernel);
}

void mark_accessed(Cpu& cpu, uint16_t selector, Descriptor& d) {
  // Only code/data segments have an accessed bit (system types do not).
  if (!d.s() || (d.type() & 1)) return;
  d.hi |= 1u << 8;
  write_descriptor_high(cpu, selector, d.hi);
}

void set_segment_cache(SegmentCache& s, uint16_t selector, const Descriptor& d) {
  s.selector = selector;
  s.base = d.base();
  s.limit = d.limit();
  s.attr = d.attr();
  s.refresh();
}

namespace {

// load_segment's protection checks and cache load.
void load_segment_cache(Cpu& cpu, SegReg seg, uint16_t selector) {
  SegmentCache& sc = cpu.s.seg[seg];
  if (!(cpu.s.cr0 & cr0::PE)) {
    // Real mode: only the base changes (SDM Vol. 3A, 20.1.1).
    sc.selector = selector;
    sc.base = uint32_t{selector} << 4;
    sc.refresh();
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
    sc.refresh();
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

}  // namespace

void load_segment(Cpu& cpu, SegReg seg, uint16_t selector) {
  const uint32_t mode = cpu.block_mode();
  load_segment_cache(cpu, seg, selector);
  // The rest of the block was decoded and translated for the block mode
  // (frontend/block.h): a load that changes it ends the block, one that
  // keeps it (a kernel entry or exit reloading flat DS/ES) does not. An SS
  // load always ends it, keeping MOV/POP SS's interrupt shadow inside one
  // dispatch.
  if (seg == SS || cpu.block_mode() != mode) cpu.end_block();
}

void load_code_segment(Cpu& cpu, uint16_t selector, uint32_t new_eip) {
  if (!(cpu.s.cr0 & cr0::PE)) {
    SegmentCache& cs = cpu.s.seg[CS];
    cs.selector = selector;
    cs.base = uint32_t{selector} << 4;
    cs.refresh();
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

bool within_limit(const SegmentCache& sc, uint32_t off, uint32_t size) {
  const uint64_t last = uint64_t{off} + size - 1;
  if (!sc.code() && (sc.attr & SegmentCache::kExpandDown)) {
    const uint64_t upper = sc.big() ? 0xFFFFFFFFull : 0xFFFFull;
    return off > sc.limit && last <= upper;
  }
  return last <= sc.limit;
}

bool segment_access_ok(const CpuState& s, uint8_t seg, uint32_t off, uint32_t size, bool write) {
  const SegmentCache& sc = s.seg[seg];
  if (!sc.present()) return false;
  if (s.cr0 & cr0::PE) {
    if (write && (sc.code() || !(sc.attr & SegmentCache::kWritable))) return false;
    if (!write && sc.code() && !(sc.attr & SegmentCache::kReadable)) return false;
  }
  return within_limit(sc, off, size);
}

void check_segment_access(const CpuState& s, uint8_t seg, uint32_t off, unsigned size, bool write) {
  if (!segment_access_ok(s, seg, off, size, write)) raise_exception(seg == SS ? kSS : kGP, 0);
}

void check_stack_limit(Cpu& cpu, const SegmentCache& ss, uint32_t off, unsigned size) {
  (void)cpu;
  if (!ss.flat && !within_limit(ss, off, size)) raise_exception(kSS, 0);
}

void push_to_stack(Cpu& cpu, const SegmentCache& ss, uint32_t& esp, uint8_t cpl, uint32_t value, unsigned size) {
  const uint32_t n = esp - size;
  const uint32_t off = ss.big() ? n : (n & 0xFFFF);
  check_stack_limit(cpu, ss, off, size);
  const unsigned idx = cpl == 3 ? kMmuUser : kMmuKernel;
  if (size == 4) cpu.mmu.write<uint32_t>(ss.base + off, value, idx);
  else cpu.mmu.write<uint16_t>(ss.base + off, static_cast<uint16_t>(value), idx);
  esp = ss.big() ? n : ((esp & 0xFFFF0000u) | (n & 0xFFFF));
}

SegmentCache check_stack_segment(Cpu& cpu, uint16_t selector, uint8_t cpl, uint8_t vector, uint32_t ext) {
  const uint32_t err = (selector & ~3u) + ext;
  if ((selector & ~3u) == 0) raise_exception(vector, ext);
  Descriptor d = read_descriptor(cpu, selector, ext);
  if ((selector & 3) != cpl || d.dpl() != cpl || !d.writable_data()) raise_exception(vector, err);
  if (!d.present()) raise_exception(kSS, err);
  mark_accessed(cpu, selector, d);
  SegmentCache sc;
  set_segment_cache(sc, selector, d);
  return sc;
}

void read_tss_stack(Cpu& cpu, uint8_t cpl, uint16_t& ss, uint32_t& esp, uint32_t ext) {
  const SegmentCache& tr = cpu.s.tr;
  const bool tss32 = (tr.attr & 0xF) == 9 || (tr.attr & 0xF) == 11;
  const uint32_t off = tss32 ? 4 + 8u * cpl : 2 + 4u * cpl;
  const uint32_t need = tss32 ? off + 5 : off + 3;
  if (need > tr.limit) raise_exception(kTS, (tr.selector & ~3u) + ext);
  if (tss32) {
    esp = cpu.mmu.read<uint32_t>(tr.base + off, kMmuKernel);
    ss = cpu.mmu.read<uint16_t>(tr.base + off + 4, kMmuKernel);
  } else {
    esp = cpu.mmu.read<uint16_t>(tr.base + off, kMmuKernel);
    ss = cpu.mmu.read<uint16_t>(tr.base + off + 2, kMmuKernel);
  }
}

void null_inaccessible_data_segments(Cpu& cpu) {
  for (SegReg r : {ES, DS, FS, GS}) {
    SegmentCache& sc = cpu.s.seg[r];
    const bool data_or_nonconforming = !sc.code() || !(sc.attr & SegmentCache::kExpandDown);
    if (sc.present() && data_or_nonconforming && sc.dpl() < cpu.s.cpl) {
      sc.selector = 0;
      sc.attr = 0;
      sc.base = 0;
      sc.limit = 0;
      sc.refresh();
    }
  }
}

void write_eflags_checked(Cpu& cpu, uint32_t value, unsigned opsize, uint8_t cpl, bool load_rf) {
  uint32_t& f = cpu.s.eflags;
  const unsigned iopl = (f & flag::IOPL) >> 12;
  uint32_t mask = flag::kArith | flag::TF | flag::DF | flag::NT | flag::AC | flag::ID;
  if (load_rf) mask |= flag::RF;
  if (cpl <= iopl) mask |= flag::IF;
  if (cpl == 0) mask |= flag::IOPL;
  if (opsize == 2) mask &= 0xFFFF;
  f = (f & ~mask) | (value & mask) | flag::kFixed1;
  if (!load_rf) f &= ~flag::RF;
}

}  // namespace vmm

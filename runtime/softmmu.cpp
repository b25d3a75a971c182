#include "runtime/softmmu.h"

#include "devices/bus.h"
#include "runtime/exceptions.h"

namespace vmm {

namespace {
// Page-table entry bits (SDM Vol. 3A, Tables 4-4 to 4-6).
constexpr uint32_t kPtePresent = 1u << 0;
constexpr uint32_t kPteWritable = 1u << 1;
constexpr uint32_t kPteUser = 1u << 2;
constexpr uint32_t kPteAccessed = 1u << 5;
constexpr uint32_t kPteDirty = 1u << 6;
constexpr uint32_t kPdeLargePage = 1u << 7;
constexpr uint32_t kPteGlobal = 1u << 8;

void invalidate(TlbEntry& e) {
  e.tag_read = e.tag_write = e.tag_fetch = tlbflag::kInvalid;
  e.phys_page = 0;
  e.addend = 0;
  e.global = 0;
}
}  // namespace

SoftMmu::SoftMmu(CpuState& cpu, GuestRam& ram, Bus& bus)
    : cpu_(cpu), ram_(ram), bus_(bus), code_pages_((ram.size() + kPageSize - 1) / kPageSize, 0) {
  for (auto& t : tlb_)
    for (auto& e : t) invalidate(e);
}

uint32_t SoftMmu::phys_read(uint32_t phys, unsigned size) {
  if (ram_.contains(phys, size)) {
    uint32_t v = 0;
    std::memcpy(&v, ram_.ptr(phys), size);
    return v;
  }
  ++stats_.mmio_accesses;
  if (bus_.is_mmio(phys)) return bus_.mmio_read(phys, size);
  if (on_unassigned) on_unassigned(phys, size, false);
  return size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1;
}

void SoftMmu::phys_write(uint32_t phys, uint32_t value, unsigned size) {
  if (ram_.contains(phys, size)) {
    std::memcpy(ram_.ptr(phys), &value, size);
    return;
  }
  ++stats_.mmio_accesses;
  if (bus_.is_mmio(phys)) {
    bus_.mmio_write(phys, size, value);
    return;
  }
  if (on_unassigned) on_unassigned(phys, size, true);
}

// 32-bit paging, SDM Vol. 3A 4.3; access rights per 4.6. `read` returns
// the paging entry at a physical address, or false when it cannot.
template <typename ReadEntry>
PageWalk SoftMmu::lookup(uint32_t lin, unsigned idx, ReadEntry read) const {
  PageWalk w;
  w.pde_addr = (cpu_.cr3 & kPageMask) | ((lin >> 22) << 2);
  if (!read(w.pde_addr, w.pde) || !(w.pde & kPtePresent)) return w;
  w.large = (w.pde & kPdeLargePage) && (cpu_.cr4 & cr4::PSE);
  uint32_t rights, leaf;
  if (w.large) {
    rights = leaf = w.pde;
    w.phys = (w.pde & 0xFFC00000u) | (lin & 0x003FFFFFu);
  } else {
    w.pte_addr = (w.pde & kPageMask) | (((lin >> 12) & 0x3FF) << 2);
    if (!read(w.pte_addr, w.pte) || !(w.pte & kPtePresent)) return w;
    rights = w.pde & w.pte;
    leaf = w.pte;
    w.phys = (w.pte & kPageMask) | (lin & 0xFFFu);
  }
  w.present = true;
  // User accesses need U/S=1 at both levels and, to write, R/W=1 at both.
  // Supervisor writes need R/W=1 only when CR0.WP=1.
  const bool rw = rights & kPteWritable;
  w.user_ok = rights & kPteUser;
  w.may_write = idx == kMmuUser ? rw && w.user_ok : (rw || !(cpu_.cr0 & cr0::WP));
  w.accessed = (w.pde & kPteAccessed) && (leaf & kPteAccessed);
  w.dirty = leaf & kPteDirty;
  w.global = (cpu_.cr4 & cr4::PGE) && (leaf & kPteGlobal);
  return w;
}

bool SoftMmu::peek(uint32_t lin, unsigned idx, PageWalk& out) const {
  bool in_ram = true;
  out = lookup(lin, idx, [&](uint32_t addr, uint32_t& v) {
    if (!ram_.contains(addr, 4)) return in_ram = false;
    std::memcpy(&v, ram_.ptr(addr), 4);
    return true;
  });
  return in_ram;
}

// The walk: the lookup, its faults, and the accessed and dirty flags (SDM
// Vol. 3A, 4.8), set only once the access is known to succeed, so a
// faulting access leaves the tables untouched.
uint32_t SoftMmu::walk(uint32_t lin, Access acc, unsigned idx, bool& writable_now, bool& global) {
  global = false;
  if (!(cpu_.cr0 & cr0::PG)) {
    writable_now = true;
    return lin;
  }
  ++stats_.walks;
  const bool user = idx == kMmuUser;
  const bool write = acc == Access::kWrite;
  auto fault = [&](bool present) {
    ++stats_.page_faults;
    cpu_.cr2 = lin;
    raise_exception(kPF, (present ? pferr::kPresent : 0) | (write ? pferr::kWrite : 0) |
                             (user ? pferr::kUser : 0));
  };
  const PageWalk w = lookup(lin, idx, [&](uint32_t addr, uint32_t& v) {
    v = phys_read(addr, 4);
    return true;
  });
  if (!w.present) fault(false);
  if (user && !w.user_ok) fault(true);
  if (write && !w.may_write) fault(true);

  global = w.global;
  if (w.large) {
    uint32_t n = w.pde | kPteAccessed | (write ? kPteDirty : 0);
    if (n != w.pde) phys_write(w.pde_addr, n, 4);
    writable_now = w.may_write && (n & kPteDirty);
  } else {
    if (!(w.pde & kPteAccessed)) phys_write(w.pde_addr, w.pde | kPteAccessed, 4);
    uint32_t n = w.pte | kPteAccessed | (write ? kPteDirty : 0);
    if (n != w.pte) phys_write(w.pte_addr, n, 4);
    writable_now = w.may_write && (n & kPteDirty);
  }
  return w.phys;
}

void SoftMmu::fill(uint32_t lin, uint32_t phys, Access acc, unsigned idx, bool writable_now, bool global) {
  TlbEntry& e = entry(idx, lin);
  const uint32_t page = lin & kPageMask;
  const uint32_t ppage = phys & kPageMask;
  auto same_page = [&](uint32_t tag) { return !(tag & tlbflag::kInvalid) && (tag & kPageMask) == page; };
  if (!same_page(e.tag_read) && !same_page(e.tag_write) && !same_page(e.tag_fetch)) invalidate(e);
  if (e.phys_page != ppage) invalidate(e);

  uint32_t extra = 0;
  if (!ram_.contains(ppage, kPageSize)) extra |= tlbflag::kMmio;
  if ((align_check_ && idx == kMmuUser) || (watch_mask_ && page_watched(page))) extra |= tlbflag::kCheck;
  e.phys_page = ppage;
  e.global = global;
  e.addend = reinterpret_cast<uintptr_t>(ram_.data()) + ppage - page;
  e.tag_read = page | extra;
  e.tag_fetch = page | extra;
  if (acc == Access::kWrite || writable_now) {
    e.tag_write = page | extra | (is_code_page(ppage) ? tlbflag::kCode : 0);
  }
}

uint32_t SoftMmu::translate(uint32_t lin, Access acc, unsigned idx) {
  TlbEntry& e = entry(idx, lin);
  const uint32_t tag = acc == Access::kRead ? e.tag_read : acc == Access::kWrite ? e.tag_write : e.tag_fetch;
  if (!(tag & tlbflag::kInvalid) && (tag & kPageMask) == (lin & kPageMask)) {
    return e.phys_page | (lin & ~kPageMask);
  }
  bool writable_now = false, global = false;
  uint32_t phys = walk(lin, acc, idx, writable_now, global);
  fill(lin, phys, acc, idx, writable_now, global);
  return phys;
}

uint32_t SoftMmu::translate_fetch(uint32_t lin, unsigned idx) { return translate(lin, Access::kFetch, idx); }

bool SoftMmu::page_watched(uint32_t page) const {
  for (unsigned i = 0; i < 4; ++i) {
    if (!(watch_mask_ & (1u << i))) continue;
    const uint64_t a = watch_[i].addr, e = a + watch_[i].len;
    if (a < uint64_t{page} + kPageSize && uint64_t{page} < e) return true;
  }
  return false;
}

void SoftMmu::set_watchpoints(const Watchpoint* w, unsigned count, uint32_t enabled_mask) {
  for (unsigned i = 0; i < 4 && i < count; ++i) watch_[i] = w[i];
  watch_mask_ = enabled_mask & 0xF;
  ++check_generation_;
  flush_all();
}

void SoftMmu::set_alignment_check(bool on) {
  if (on == align_check_) return;
  align_check_ = on;
  ++check_generation_;
  flush_all();
}

void SoftMmu::check_special(uint32_t lin, unsigned size, bool write, unsigned idx) {
  if (align_check_ && idx == kMmuUser && (lin & (size - 1))) raise_exception(kAC, 0);
  for (unsigned i = 0; i < 4; ++i) {
    if (!(watch_mask_ & (1u << i)) || (!write && !watch_[i].reads)) continue;
    const uint64_t a = watch_[i].addr, e = a + watch_[i].len;
    if (lin < e && a < uint64_t{lin} + size) watch_hits_ |= 1u << i;
  }
}

uint64_t SoftMmu::read_slow(uint32_t lin, unsigned size, unsigned idx) {
  if (align_check_ || watch_mask_) check_special(lin, size, false, idx);
  if ((lin & ~kPageMask) + size > kPageSize) {
    // Crosses a page boundary: byte by byte, lowest address first, so a
    // fault on either page is reported with that page's address.
    uint64_t v = 0;
    for (unsigned i = 0; i < size; ++i) v |= uint64_t{read<uint8_t>(lin + i, idx)} << (8 * i);
    return v;
  }
  const uint32_t phys = translate(lin, Access::kRead, idx);
  if (size == 8) {
    // Devices take at most 4 bytes at a time.
    return phys_read(phys, 4) | (uint64_t{phys_read(phys + 4, 4)} << 32);
  }
  return phys_read(phys, size);
}

uint64_t SoftMmu::read_for_write_slow(uint32_t lin, unsigned size, unsigned idx) {
  // #AC is checked before the page rights, as for any other access.
  if (align_check_ && idx == kMmuUser && (lin & (size - 1))) raise_exception(kAC, 0);
  probe_write(lin, size, idx);
  return read_slow(lin, size, idx);
}

void SoftMmu::write_slow(uint32_t lin, uint64_t value, unsigned size, unsigned idx) {
  if (align_check_ || watch_mask_) check_special(lin, size, true, idx);
  if ((lin & ~kPageMask) + size > kPageSize) {
    // Both pages must be writable before any byte is written.
    probe_write(lin, size, idx);
    for (unsigned i = 0; i < size; ++i) write<uint8_t>(lin + i, static_cast<uint8_t>(value >> (8 * i)), idx);
    return;
  }
  const uint32_t phys = translate(lin, Access::kWrite, idx);
  if (is_code_page(phys)) {
    ++stats_.code_writes;
    if (on_code_write) on_code_write(phys, size);
  }
  if (size == 8) {
    phys_write(phys, static_cast<uint32_t>(value), 4);
    phys_write(phys + 4, static_cast<uint32_t>(value >> 32), 4);
    return;
  }
  phys_write(phys, static_cast<uint32_t>(value), size);
}

void SoftMmu::probe_write(uint32_t lin, unsigned size, unsigned idx) {
  translate(lin, Access::kWrite, idx);
  const uint32_t last = lin + size - 1;
  // A fault on the second page reports that page's first byte in CR2.
  if ((last & kPageMask) != (lin & kPageMask)) translate(last & kPageMask, Access::kWrite, idx);
}

uint8_t* SoftMmu::host_run(uint32_t lin, uint32_t len, Access acc, unsigned idx) {
  const uint32_t phys = translate(lin, acc, idx);
  // Accesses that need per-access checks go through read/write.
  if ((align_check_ && idx == kMmuUser) || (watch_mask_ && page_watched(lin & kPageMask))) return nullptr;
  if (!ram_.contains(phys, len)) return nullptr;
  if (acc == Access::kWrite && is_code_page(phys)) return nullptr;
  return ram_.ptr(phys);
}

void SoftMmu::flush_all(bool keep_global) {
  ++stats_.flushes;
  for (auto& t : tlb_)
    for (auto& e : t)
      if (!(keep_global && e.global)) invalidate(e);
  if (mirror) mirror->tlb_flushed(keep_global);
}

void SoftMmu::flush_page(uint32_t lin) {
  ++stats_.page_flushes;
  for (unsigned idx = 0; idx < kMmuCount; ++idx) invalidate(entry(idx, lin));
  if (mirror) mirror->tlb_page_flushed(lin);
}

bool SoftMmu::set_code_page(uint32_t phys_page, bool on) {
  const uint32_t p = phys_page >> 12;
  if (p >= code_pages_.size() || bool(code_pages_[p]) == on) return false;
  code_pages_[p] = on;
  const uint32_t ppage = phys_page & kPageMask;
  for (auto& t : tlb_)
    for (auto& e : t)
      if (e.phys_page == ppage && !(e.tag_write & tlbflag::kInvalid))
        e.tag_write = on ? e.tag_write | tlbflag::kCode : e.tag_write & ~tlbflag::kCode;
  return true;
}

void SoftMmu::mark_code_page(uint32_t phys_page) {
  if (set_code_page(phys_page, true) && mirror) mirror->code_page_marked(phys_page & kPageMask);
}

void SoftMmu::clear_code_page(uint32_t phys_page) { set_code_page(phys_page, false); }

}  // namespace vmm

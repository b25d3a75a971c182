// The JIT's host-MMU path: guest memory seen through the host's own MMU.
//
// Each MMU index (supervisor, user) has a view: 4 GiB of reserved host
// address space in which a guest linear page, once the softmmu has
// translated it to a RAM page, is mapped from the guest RAM file at its
// linear offset. Translated code then accesses guest address A as
// [view base + A] (R14 + R8): no TLB probe, and the guest flags stay in
// RFLAGS. A page not mapped (not yet touched, not RAM, a page holding code
// for writes, watched or alignment-checked) faults on the host; the fault
// handler (host_trap.cpp) sends the access to the same slow path a TLB miss
// takes, which goes through the softmmu and maps the page when it is plain
// RAM for that access.
//
// The views only ever hold what the softmmu's TLB would: a page is mapped
// read-only or read-write exactly when the TLB entry allows that access on
// the fast path, and every TLB invalidation (flush, INVLPG, a page becoming
// code) is mirrored here (SoftMmu::mirror). Guest page tables are read by the
// softmmu only, so A/D bits, #PF and MMIO keep one implementation.
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <vector>

#include "runtime/softmmu.h"

namespace vmm::jit {

struct GuestViewStats {
  uint64_t pages_mapped = 0;     // Pages mapped into a view (read-only or read-write).
  uint64_t flushes = 0;          // Whole-view unmaps (TLB flushes that found pages mapped).
  uint64_t global_keeps = 0;     // CR3 loads that kept the global pages mapped, unmapping the others.
  uint64_t page_unmaps = 0;      // INVLPG of a page while views held pages.
  uint64_t write_protects = 0;   // Writable mappings dropped because their page became code.
  uint64_t faults = 0;           // Host faults in translated code sent to the slow path.
};

class GuestViews : public TlbMirror {
 public:
  // Bytes of one view: the 4 GiB linear space plus a guard for accesses
  // that start below 4 GiB and end above it (they fault and take the slow path).
  static constexpr uint64_t kViewBytes = (uint64_t{1} << 32) + 65536;

  // Reserves the views (no memory is committed). Throws std::runtime_error
  // when the host refuses the reservation.
  GuestViews(int ram_fd, uint32_t ram_bytes);
  ~GuestViews() override;
  GuestViews(const GuestViews&) = delete;
  GuestViews& operator=(const GuestViews&) = delete;

  uintptr_t base(unsigned idx) const { return reinterpret_cast<uintptr_t>(region_) + idx * kViewBytes; }
  // The host range of all views (faults there are guest accesses).
  uintptr_t region_begin() const { return reinterpret_cast<uintptr_t>(region_); }
  uintptr_t region_end() const { return region_begin() + kRegionBytes; }

  // Maps the page of `lin` in view `idx` as the TLB entry `e` (just filled
  // for it) allows on the fast path: read-only, read-write (not a clean
  // page, not code), or not at all (MMIO, watched or alignment-checked).
  void mirror_entry(unsigned idx, uint32_t lin, const TlbEntry& e);

  // TlbMirror.
  void tlb_flushed(bool keep_global) override;
  void tlb_page_flushed(uint32_t lin) override;
  void code_page_marked(uint32_t phys_page) override;

  GuestViewStats& stats() { return stats_; }
  const GuestViewStats& stats() const { return stats_; }

 private:
  static constexpr uint64_t kRegionBytes = kMmuCount * kViewBytes;
  // Mappings made since the last flush; above this many the views are
  // flushed rather than grow towards the host's limit on mappings.
  static constexpr uint32_t kMaxMappings = 16384;

  void map(unsigned idx, uint32_t lin, uint32_t phys, bool writable, bool global);
  void flush_all();
  void clear_bit(unsigned idx, uint32_t lin);
  void unmap(uintptr_t host, size_t bytes);

  bool mapped(unsigned idx, uint32_t lin) const {
    const uint32_t p = lin >> 12;
    return mapped_[idx][p / 64] & (uint64_t{1} << (p % 64));
  }

  uint8_t* region_ = nullptr;
  // Pages mapped in each view since the last flush (a bit per linear page),
  // so that INVLPG of a page no view holds makes no system call.
  std::vector<uint64_t> mapped_[kMmuCount];
  std::vector<uint32_t> mapped_list_;  // lin page | idx, for clearing the bits at a flush.
  // Non-global pages mapped since the last flush (lin page | idx): what a
  // CR3 load unmaps one by one, keeping the global pages (the kernel's, in
  // Linux) mapped across context switches. Beyond kMaxLocalUnmaps, a CR3
  // load unmaps the views whole instead.
  std::vector<uint32_t> local_list_;
  static constexpr size_t kMaxLocalUnmaps = 256;
  int fd_;
  uint32_t ram_bytes_;
  uint32_t mappings_ = 0;
  // Writable mappings by physical page, as linear page | MMU index, to make
  // read-only when the page becomes code. Entries may be stale (the page was
  // unmapped since); protecting a stale one only costs a later fault.
  std::unordered_map<uint32_t, std::vector<uint32_t>> writable_;
  GuestViewStats stats_;
};

}  // namespace vmm::jit

// The JIT's host-MMU path: shadow paging through the host's own MMU.
//
// A view is 4 GiB of reserved host address space in which a guest linear
// page, once translated, is mapped from the guest RAM file at its linear
// offset. User-mode accesses go through a view of their address space (a
// page directory, keyed by CR3; or paging off), kept across context
// switches; supervisor accesses through one view shared by all spaces. Translated code accesses
// guest address A as [view base + A] (R14 + R8): no TLB probe, and the guest
// flags stay in RFLAGS. A page not mapped (not yet touched, not RAM, a page
// holding code for writes, watched or alignment-checked)
// faults on the host; the fault handler (host_trap.cpp) sends the access to
// the slow path a TLB miss takes, which goes through the softmmu and maps
// the page here when it is plain RAM for that access.
//
// The user views are shadow page tables of the guest's, kept for up to
// kSpaces address spaces, so that switching back to a process finds its
// pages mapped:
//   - A page is mapped only as the guest's tables in memory say at the time
//     (SoftMmu::peek, the walk without side effects), with A already set,
//     and writable only with D set, and only if the softmmu's TLB entry
//     agrees (a stale TLB entry stays on the slow path).
//   - Each mapping remembers the directory and table entries it came from.
//     Where a TLB would have to forget its translations (a CR3 load, of the
//     same or another directory; a flush), the entries of the space about
//     to run are compared with what they were (a 4 KiB compare per table
//     when nothing changed), and the mappings whose entries changed are
//     dropped, A and D being set by a walk excepted. INVLPG drops its page.
// Between those points a view may hold a translation the tables no longer
// give, as a TLB may (SDM Vol. 3A, 4.10.4.2): the guest's page-table writes
// run at full speed, with no write protection.
// Only a change of what translation means (CR0.PG/WP, CR4.PSE, watchpoints,
// alignment checks) drops everything.
//
// The supervisor view follows the TLB instead, as a TLB would: a CR3 load
// unmaps its non-global pages, INVLPG its page, any other flush all of it.
// Its global pages (an OS kernel's) so stay at one host address across
// context switches: a view per space would give every process's kernel
// accesses host pages of their own, cold in the host's TLB and caches after
// each switch (measured: fork/exec on Linux ran 2.7 times slower so).
//
// The host allows a process about 65,000 mappings (vm.max_map_count), and a
// mapping is a run of pages contiguous in both guest-linear and guest-
// physical order with the same protection (the kernel merges adjacent ones).
// The runs are counted, and when near that limit the 4 MiB regions least
// recently mapped into are unmapped, never everything at once. A guest's 4
// MiB pages and contiguous 4 KiB runs are mapped ahead with one mmap.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "runtime/cpu_state.h"
#include "runtime/softmmu.h"

namespace vmm::jit {

struct GuestViewStats {
  uint64_t pages_mapped = 0;     // Pages mapped into a view (read-only or read-write).
  uint64_t pages_ahead = 0;      // ... of which mapped ahead of an access (4 MiB pages, contiguous runs).
  uint64_t maps = 0;             // mmap calls mapping pages.
  uint64_t faults = 0;           // Host faults in translated code sent to the slow path.
  uint64_t stale_entries = 0;    // TLB entries not mapped: the tables in memory say otherwise.
  uint64_t space_switches = 0;   // CR3 loads (or paging changes) selecting another address space.
  uint64_t space_hits = 0;       // ... that found its views kept.
  uint64_t space_evictions = 0;  // Address spaces dropped to make room for another.
  uint64_t flushes = 0;          // Everything dropped: CR0.PG/WP, CR4.PSE, watchpoints or #AC checks changed.
  uint64_t kernel_flushes = 0;   // The supervisor view dropped whole (TLB flushes of global pages too).
  uint64_t kernel_unmaps = 0;    // Its non-global pages unmapped at CR3 loads, and its pages at INVLPG.
  uint64_t kernel_pages_kept = 0;  // Its non-global pages kept at CR3 loads (same translation in the new tables).
  uint64_t verifications = 0;    // User views checked against the tables (CR3 loads, flushes).
  uint64_t tables_changed = 0;   // ... tables found changed.
  uint64_t pages_dropped = 0;    // Mapped pages dropped: their table entry changed, or INVLPG.
  uint64_t regions_dropped = 0;  // 4 MiB regions dropped: their directory entry changed.
  uint64_t region_evictions = 0; // 4 MiB regions unmapped to stay under the host's mapping limit.
  uint64_t write_protects = 0;   // Writable mappings dropped because their page became code.
  // Gauges.
  uint64_t host_mappings = 0;    // Host mappings (runs) the views hold now.
  uint64_t host_mappings_peak = 0;
  uint64_t host_mapping_limit = 0;  // Where eviction starts.
  uint64_t spaces = 0;           // Address spaces holding views now.
  // 4 MiB regions with pages mapped (or their bookkeeping kept), in all
  // views: each costs at most 8 KiB of vmm's heap and three host page-table
  // pages, so their limit bounds the memory the views use (README).
  uint64_t regions_in_use = 0;
  uint64_t regions_in_use_peak = 0;
};

class GuestViews : public TlbMirror {
 public:
  // Bytes of one view: the 4 GiB linear space plus a guard for accesses
  // that start below 4 GiB and end above it (they fault and take the slow path).
  static constexpr uint64_t kViewBytes = (uint64_t{1} << 32) + 65536;
  // Address spaces whose views are kept (a process switched back to finds
  // its pages mapped); the least recently used one makes room for another.
  static constexpr unsigned kSpaces = 64;
  // 4 MiB regions in use at once across all views (8 GiB of guest linear
  // space): past it the least recently mapped ones are evicted. Bounds the
  // views' bookkeeping (8 KiB a region: 16 MiB) and host page tables
  // (12 KiB a region: 24 MiB) whatever the guest maps.
  static constexpr uint64_t kMaxRegionsInUse = 2048;

  // Reserves the views (no memory is committed). Throws std::runtime_error
  // when the host refuses the reservation.
  GuestViews(SoftMmu& mmu, const CpuState& cpu, int ram_fd, const uint8_t* ram, uint32_t ram_bytes);
  ~GuestViews() override;
  GuestViews(const GuestViews&) = delete;
  GuestViews& operator=(const GuestViews&) = delete;

  // The view of MMU index `idx`: the shared supervisor view, or the current
  // address space's user view.
  uintptr_t base(unsigned idx) const {
    return view_base(space_of(idx));
  }
  // The host range of all views (faults there are guest accesses).
  uintptr_t region_begin() const { return reinterpret_cast<uintptr_t>(region_); }
  uintptr_t region_end() const { return region_begin() + kRegionBytes; }

  // Maps the page of `lin` in view `idx` (base(idx)) as the TLB entry `e`
  // (just filled for it) allows on the fast path, if the tables in memory
  // agree; and with it the pages around it that the same 4 MiB page or a
  // contiguous run of the same table maps.
  void mirror_entry(unsigned idx, uint32_t lin, const TlbEntry& e);

  // `lin`'s page is mapped in view `idx` (as base(idx) addresses it).
  bool is_mapped(unsigned idx, uint32_t lin) const {
    return entry(space_of(idx), lin >> 12) & kMapped;
  }
  // TlbMirror.
  void tlb_flushed(bool keep_global) override;
  void tlb_page_flushed(uint32_t lin) override;
  void code_page_marked(uint32_t phys_page) override;

  // The views are full: regions were evicted within the last kPressureMaps
  // mmap calls. A memory access faulting now maps a page that will likely
  // be evicted before it is used much (the engine turns such accesses into
  // TLB probes: JitEngine::note_view_refill).
  bool under_pressure() const {
    return stats_.region_evictions != 0 && stats_.maps - maps_at_eviction_ < kPressureMaps;
  }
  GuestViewStats& stats() { return stats_; }
  const GuestViewStats& stats() const { return stats_; }

  // For tests: sets the host-mapping limit (normally from vm.max_map_count)
  // and the limit on regions in use (normally kMaxRegionsInUse).
  void set_mapping_limit(uint64_t runs) { stats_.host_mapping_limit = runs; }
  void set_region_limit(uint64_t regions) { region_limit_ = regions; }
  uint64_t region_limit() const { return region_limit_; }

 private:
  // The supervisor view's pseudo address space (its view is its kernel one).
  static constexpr unsigned kShared = kSpaces;
  static constexpr uint64_t kRegionBytes = (uint64_t{kSpaces} + 1) * kViewBytes;
  static constexpr uint32_t kRegionPages = 1024;  // One page table's worth: 4 MiB.
  static constexpr uint32_t kRegions = 1024;
  // Region::table when no table is recorded, or for a 4 MiB page.
  static constexpr uint32_t kNoTable = 1, kLargePage = 2;
  // Space::key of a free slot, of the address space with paging off, and of
  // the shared supervisor view.
  static constexpr uint32_t kFree = 3, kNoPaging = 1, kSharedKey = 5;
  // Non-global pages of the supervisor view beyond which a CR3 load drops
  // it whole rather than page by page.
  static constexpr size_t kMaxLocalUnmaps = 256;
  // Faults into a 4 MiB region after which the rest of its pages (present,
  // accessed) are mapped at once: a region used that much will be used
  // more, and an mmap costs a fifth of a fault and its signal.
  static constexpr uint32_t kBulkAfter = 16;
  // A page entry: physical page | these bits; 0 = not mapped.
  static constexpr uint32_t kMapped = 1, kWritable = 2, kGlobal = 4;

  struct Region {  // 4 MiB of a view.
    uint32_t table = kNoTable;  // The page table its pages were mapped through (or kLargePage).
    uint32_t pde = 0;           // The directory entry they were mapped through.
    // The table's entries as its mapped pages were mapped through them
    // (4 KiB tables; allocated with the first page).
    std::unique_ptr<uint32_t[]> pte;
    uint32_t pages = 0;         // Pages mapped.
    uint64_t last_map = 0;      // Tick of the last page mapped.
    uint32_t faults = 0;        // Accesses that faulted into it (up to kBulkAfter).
    bool listed = false;        // In Space::active.
    std::unique_ptr<uint32_t[]> entry;  // [kRegionPages], allocated at the first page.
  };
  struct Space {
    uint32_t key = kFree;  // Page-directory page (CR3), kNoPaging or kFree.
    uint64_t last_use = 0;
    std::vector<Region> regions;   // kRegions once used.
    std::vector<uint16_t> active;  // Regions with pages or a table.
  };
  struct WritableRef {  // A writable mapping of a physical page.
    uint32_t space;
    uint32_t lin_page;
    bool operator<(const WritableRef& o) const { return space != o.space ? space < o.space : lin_page < o.lin_page; }
    bool operator==(const WritableRef& o) const = default;
  };
  // The writable mappings of one physical page. Unmapping one leaves its
  // reference behind (a guest aliasing one page at every linear address
  // would make each removal a search of thousands); the list is compacted
  // when stale references outnumber live ones.
  struct WritableList {
    std::vector<WritableRef> refs;
    uint32_t live = 0;
  };
  // Whether `w` still maps `phys_page` writable.
  bool maps_writable(const WritableRef& w, uint32_t phys_page) const {
    const uint32_t e = entry(w.space, w.lin_page);
    return (e & kWritable) && (e & kPageMask) == phys_page;
  }
  // What the tables in memory say of a linear page for an MMU index: its
  // physical page, whether it may be written now (without a walk setting
  // D) and the entries it comes through; !ok when a walk would fault or
  // change the tables (A clear). With paging off: the identity, global.
  struct Want {
    bool ok = false;
    uint32_t phys = 0;
    bool writable = false, global = false, large = false;
    uint32_t table = kNoTable, pde = 0;
  };

  // Each address space has one view, for user accesses; the shared
  // supervisor view comes after them.
  uintptr_t view_base(unsigned space) const { return region_begin() + uint64_t{space} * kViewBytes; }
  unsigned space_of(unsigned idx) const { return idx == kMmuKernel ? kShared : current_; }
  bool page_in_ram(uint32_t phys) const { return phys < ram_bytes_ && ram_bytes_ - phys >= kPageSize; }
  Want want(unsigned idx, uint32_t lin) const;
  uint32_t space_key() const;
  void select_space();
  void drop_everything();
  void drop_space(unsigned space);
  void clear_space(unsigned space);  // Drops its regions; the slot and directory stay.
  uint64_t signature() const;
  void drop_region(unsigned space, uint32_t region);
  void drop_page(unsigned space, uint32_t lin_page);
  void make_room();
  // Frees a region's page entries (after drop_region), counting it out.
  void release_region(unsigned space, uint32_t region);
  // Lists a non-global supervisor-view page for the next CR3 load; past
  // kMaxLocalUnmaps that load drops the view whole, so the list stops
  // growing there (a guest that never loads CR3 cannot grow it forever).
  void note_kernel_local(uint32_t lin_page) {
    if (kernel_local_.size() <= kMaxLocalUnmaps) kernel_local_.push_back(lin_page);
  }
  // Maps the pages of `region` that no view holds yet and `page_at` gives
  // (physical page | kWritable | kGlobal, or 0), in runs of physically
  // contiguous pages with the same bits; `mapped` is told of each page.
  void map_rest_of_region(unsigned space, uint32_t region,
                          const std::function<uint32_t(uint32_t)>& page_at,
                          const std::function<void(uint32_t)>& mapped);
  void unmap_kernel_page(uint32_t lin_page);
  void drop_kernel_view();
  // Makes writable mappings of a physical page read-only (unmaps them).
  void protect(uint32_t phys_page);
  // Drops what the tables of `space` no longer give (see the top).
  void verify(unsigned space);

  Region& region_of(unsigned space, uint32_t region);
  // The entry of linear page number `p` in the view of `space`.
  uint32_t entry(unsigned space, uint32_t p) const;
  // Sets it, keeping the run count and the writable references.
  void set_entry(unsigned space, uint32_t p, uint32_t value);
  // mmap of `n` pages from linear page `p`, physical `phys`; entries set.
  bool map_run(unsigned space, uint32_t p, uint32_t phys, uint32_t n, bool writable, uint32_t extra);
  void unmap_host(uintptr_t host, size_t bytes);

  SoftMmu& mmu_;
  const CpuState& cpu_;
  uint8_t* region_ = nullptr;
  int fd_;
  const uint8_t* ram_base_;  // Guest RAM (the page tables verify() compares).
  uint32_t ram_bytes_;
  unsigned current_ = 0;
  uint64_t tick_ = 0;
  // What translation means (CR0.PG/WP, CR4.PSE, the softmmu's checks) when
  // the views were made: a change drops them all.
  uint64_t signature_ = 0;
  std::vector<Space> spaces_;  // kSpaces address spaces, then the shared supervisor view.
  // Non-global pages mapped in the supervisor view since the last CR3 load
  // (linear page numbers; may list pages unmapped since).
  std::vector<uint32_t> kernel_local_;
  uint64_t region_limit_ = kMaxRegionsInUse;
  static constexpr uint64_t kPressureMaps = 4096;
  uint64_t maps_at_eviction_ = 0;
  static constexpr uint32_t kNoPage = ~0u;
  std::vector<WritableList> writable_;  // By physical page number (RAM only is mapped).
  GuestViewStats stats_;
};

}  // namespace vmm::jit

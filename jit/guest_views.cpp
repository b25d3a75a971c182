#include "jit/guest_views.h"

#include <sys/mman.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <tuple>

namespace vmm::jit {

namespace {
// Address space with no access and no memory behind it.
constexpr int kReserveFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;

// The host's limit on mappings per process (vm.max_map_count).
uint64_t host_map_count_limit() {
  uint64_t limit = 65530;  // Linux's default.
  if (FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
    unsigned long long v = 0;
    if (std::fscanf(f, "%llu", &v) == 1 && v >= 1024) limit = v;
    std::fclose(f);
  }
  return limit;
}
}  // namespace

GuestViews::GuestViews(SoftMmu& mmu, const CpuState& cpu, int ram_fd, const uint8_t* ram, uint32_t ram_bytes)
    : mmu_(mmu), cpu_(cpu), fd_(ram_fd), ram_base_(ram), ram_bytes_(ram_bytes), spaces_(kSpaces + 1),
      writable_(ram_bytes / kPageSize) {
  void* p = mmap(nullptr, kRegionBytes, PROT_NONE, kReserveFlags, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("JIT: cannot reserve address space for the host-MMU path");
  region_ = static_cast<uint8_t*>(p);
  // A run of mapped pages splits the reservation around it: up to two host
  // mappings a run. What the rest of the process uses (code buffer, heap,
  // libraries, thread stacks) stays well inside the margin.
  const uint64_t limit = host_map_count_limit();
  stats_.host_mapping_limit = (limit > 16384 ? limit - 8192 : limit / 2) / 2;
  signature_ = signature();
  spaces_[kShared].key = kSharedKey;
  select_space();
}

GuestViews::~GuestViews() { munmap(region_, kRegionBytes); }

void GuestViews::unmap_host(uintptr_t host, size_t bytes) {
  // Replacing the range with a fresh reservation drops the file pages in one call.
  // A mapping left behind would outlive the guest translation it caches,
  // so failing here (only if the host runs out of memory) is fatal.
  if (mmap(reinterpret_cast<void*>(host), bytes, PROT_NONE, kReserveFlags | MAP_FIXED, -1, 0) == MAP_FAILED) {
    std::fprintf(stderr, "vmm: fatal: cannot unmap a JIT guest view page: %s\n", std::strerror(errno));
    std::abort();
  }
}

// --- Page entries and the run count ----------------------------------------

GuestViews::Region& GuestViews::region_of(unsigned space, uint32_t region) {
  Space& s = spaces_[space];
  if (s.regions.empty()) s.regions.resize(kRegions);
  Region& r = s.regions[region];
  if (!r.listed) {
    r.listed = true;
    s.active.push_back(static_cast<uint16_t>(region));
  }
  return r;
}

uint32_t GuestViews::entry(unsigned space, uint32_t p) const {
  const Space& s = spaces_[space];
  if (s.regions.empty()) return 0;
  const Region& r = s.regions[p / kRegionPages];
  return r.entry ? r.entry[p % kRegionPages] : 0;
}

void GuestViews::set_entry(unsigned space, uint32_t p, uint32_t value) {
  const uint32_t old = entry(space, p);
  if (old == value) return;
  // Two neighbouring pages are one host mapping when both are mapped with
  // the same protection and their physical pages follow each other.
  auto joins = [](uint32_t a, uint32_t b) {
    return (a & kMapped) && (b & kMapped) && ((a ^ b) & kWritable) == 0 &&
           (b & kPageMask) == (a & kPageMask) + kPageSize;
  };
  const uint32_t left = p > 0 ? entry(space, p - 1) : 0;
  const uint32_t right = p < (1u << 20) - 1 ? entry(space, p + 1) : 0;
  Region& r = region_of(space, p / kRegionPages);
  uint32_t compact = kNoPage;  // Physical page number whose writable list to compact.
  if (old & kMapped) {
    if (!joins(left, old)) --stats_.host_mappings;
    if (joins(old, right)) ++stats_.host_mappings;
    --r.pages;
    if (old & kWritable) {
      WritableList& list = writable_[(old & kPageMask) >> 12];
      --list.live;
      if (list.refs.size() > 2 * size_t{list.live} + 16) compact = (old & kPageMask) >> 12;
    }
  }
  if (value & kMapped) {
    if (!r.entry) {
      r.entry = std::make_unique<uint32_t[]>(kRegionPages);  // Zeroed.
      stats_.regions_in_use_peak = std::max(stats_.regions_in_use_peak, ++stats_.regions_in_use);
    }
    if (!joins(left, value)) ++stats_.host_mappings;
    if (joins(value, right)) --stats_.host_mappings;
    ++r.pages;
    r.last_map = tick_;
    if (value & kWritable) {
      WritableList& list = writable_[(value & kPageMask) >> 12];
      list.refs.push_back({space, p});
      ++list.live;
    }
  }
  if (r.entry) r.entry[p % kRegionPages] = value;
  if (compact != kNoPage) {
    // After the entry changed: keep the references that still map the page.
    const uint32_t phys_page = compact << 12;
    WritableList& list = writable_[compact];
    std::erase_if(list.refs, [&](const WritableRef& w) { return !maps_writable(w, phys_page); });
    std::sort(list.refs.begin(), list.refs.end());
    list.refs.erase(std::unique(list.refs.begin(), list.refs.end()), list.refs.end());
  }
  stats_.host_mappings_peak = std::max(stats_.host_mappings_peak, stats_.host_mappings);
}

bool GuestViews::map_run(unsigned space, uint32_t p, uint32_t phys, uint32_t n, bool writable, uint32_t extra) {
  const int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  if (mmap(reinterpret_cast<void*>(view_base(space) + uint64_t{p} * kPageSize), uint64_t{n} * kPageSize, prot,
           MAP_SHARED | MAP_FIXED, fd_, phys) == MAP_FAILED)
    return false;  // The accesses keep taking the slow path.
  ++stats_.maps;
  stats_.pages_mapped += n;
  for (uint32_t i = 0; i < n; ++i)
    set_entry(space, p + i, (phys + i * kPageSize) | kMapped | (writable ? kWritable : 0) | extra);
  return true;
}

void GuestViews::map_rest_of_region(unsigned space, uint32_t region,
                                    const std::function<uint32_t(uint32_t)>& page_at,
                                    const std::function<void(uint32_t)>& mapped) {
  const uint32_t first = region * kRegionPages, end = first + kRegionPages;
  for (uint32_t q = first; q < end;) {
    const uint32_t v = entry(space, q) ? 0 : page_at(q);
    if (!v) {
      ++q;
      continue;
    }
    uint32_t n = 1;
    while (q + n < end && !entry(space, q + n)) {
      const uint32_t w = page_at(q + n);
      if (!w || (w & ~kPageMask) != (v & ~kPageMask) || (w & kPageMask) != (v & kPageMask) + n * kPageSize) break;
      ++n;
    }
    // Near the host's limit, no more: eviction is for pages in use.
    if (stats_.host_mappings + 2 > stats_.host_mapping_limit) return;
    if (map_run(space, q, v & kPageMask, n, v & kWritable, v & kGlobal)) {
      stats_.pages_ahead += n;
      for (uint32_t i = 0; i < n; ++i) mapped(q + i);
    }
    q += n;
  }
}

// --- Address spaces ---------------------------------------------------------

uint32_t GuestViews::space_key() const { return (cpu_.cr0 & cr0::PG) ? (cpu_.cr3 & kPageMask) : kNoPaging; }

void GuestViews::select_space() {
  const uint32_t key = space_key();
  ++tick_;
  if (spaces_[current_].key == key) {
    spaces_[current_].last_use = tick_;
    return;
  }
  ++stats_.space_switches;
  unsigned pick = kSpaces, free_slot = kSpaces, oldest = 0;
  for (unsigned i = 0; i < kSpaces; ++i) {
    if (spaces_[i].key == key) pick = i;
    if (spaces_[i].key == kFree && free_slot == kSpaces) free_slot = i;
    if (spaces_[i].last_use < spaces_[oldest].last_use) oldest = i;
  }
  if (pick != kSpaces) {
    ++stats_.space_hits;
  } else {
    pick = free_slot;
    if (pick == kSpaces) {
      ++stats_.space_evictions;
      drop_space(oldest);
      pick = oldest;
    }
    spaces_[pick].key = key;
    ++stats_.spaces;
  }
  current_ = pick;
  spaces_[pick].last_use = tick_;
}

void GuestViews::drop_region(unsigned space, uint32_t region) {
  Space& s = spaces_[space];
  if (s.regions.empty()) return;
  Region& r = s.regions[region];
  if (r.pages) {
    for (uint32_t i = 0; i < kRegionPages; ++i)
      if (r.entry[i]) set_entry(space, region * kRegionPages + i, 0);
    unmap_host(view_base(space) + uint64_t{region} * kRegionPages * kPageSize, uint64_t{kRegionPages} * kPageSize);
  }
  r.table = kNoTable;
  r.pde = 0;
  r.pte.reset();
  r.faults = 0;
}

void GuestViews::drop_page(unsigned space, uint32_t p) {
  if (!entry(space, p)) return;
  set_entry(space, p, 0);
  unmap_host(view_base(space) + uint64_t{p} * kPageSize, kPageSize);
  ++stats_.pages_dropped;
}

void GuestViews::clear_space(unsigned space) {
  Space& s = spaces_[space];
  const std::vector<uint16_t> active = std::move(s.active);
  s.active.clear();
  for (uint16_t region : active) {
    drop_region(space, region);
    s.regions[region].listed = false;
    release_region(space, region);
  }
}

void GuestViews::release_region(unsigned space, uint32_t region) {
  Region& r = spaces_[space].regions[region];
  if (!r.entry) return;
  r.entry.reset();
  --stats_.regions_in_use;
}

void GuestViews::drop_space(unsigned space) {
  Space& s = spaces_[space];
  if (s.key == kFree) return;
  clear_space(space);
  s.key = kFree;
  s.last_use = 0;
  --stats_.spaces;
}

void GuestViews::drop_everything() {
  if (stats_.host_mappings) {
    ++stats_.flushes;
    unmap_host(region_begin(), kRegionBytes);
  }
  for (WritableList& list : writable_) list = WritableList{};
  for (Space& s : spaces_) s = Space{};
  spaces_[kShared].key = kSharedKey;
  kernel_local_.clear();
  stats_.host_mappings = 0;
  stats_.spaces = 0;
  stats_.regions_in_use = 0;
}

// When near the host's limit on mappings, or at the limit on regions in
// use, the regions mapped into least recently go (those of other address
// spaces first, as a rule), down to three quarters of the limit.
void GuestViews::make_room() {
  std::vector<std::tuple<uint64_t, unsigned, uint16_t>> regions;
  for (unsigned i = 0; i <= kShared; ++i)
    for (uint16_t r : spaces_[i].active)
      if (spaces_[i].regions[r].entry) regions.emplace_back(spaces_[i].regions[r].last_map, i, r);
  std::sort(regions.begin(), regions.end());
  const uint64_t target = stats_.host_mapping_limit * 3 / 4, region_target = region_limit_ * 3 / 4;
  for (const auto& [last, space, region] : regions) {
    if (stats_.host_mappings <= target && stats_.regions_in_use <= region_target) break;
    drop_region(space, region);
    release_region(space, region);
    ++stats_.region_evictions;
    maps_at_eviction_ = stats_.maps;
  }
}

// --- Coherence ------------------------------------------------------------

namespace {
// A paging entry changed in a way a mapping made through it must see: any
// bit but A and D, or A or D cleared (a walk sets them, never clears them).
bool entry_changed(uint32_t was, uint32_t now) {
  constexpr uint32_t kAD = (1u << 5) | (1u << 6);
  return ((was ^ now) & ~kAD) || (was & ~now & kAD);
}
}  // namespace

void GuestViews::verify(unsigned space) {
  Space& s = spaces_[space];
  if (s.key == kNoPaging || s.key == kFree) return;
  ++stats_.verifications;
  // The directory and tables were RAM pages when the regions were mapped
  // (mirror_entry checks), and RAM does not move.
  const auto* directory = reinterpret_cast<const uint32_t*>(ram_base_ + s.key);
  for (const uint16_t region : s.active) {  // drop_region leaves the list as it is.
    Region& r = s.regions[region];
    if (!r.pages || r.table == kNoTable) continue;
    if (entry_changed(r.pde, directory[region])) {
      ++stats_.regions_dropped;
      drop_region(space, region);
      continue;
    }
    r.pde = directory[region];
    if (!r.pte) continue;  // A 4 MiB page.
    const auto* table = reinterpret_cast<const uint32_t*>(ram_base_ + r.table);
    if (std::memcmp(r.pte.get(), table, kPageSize) == 0) continue;
    ++stats_.tables_changed;
    for (uint32_t i = 0; i < kRegionPages; ++i) {
      if (r.pte[i] == table[i]) continue;
      if (entry_changed(r.pte[i], table[i])) drop_page(space, region * kRegionPages + i);
      r.pte[i] = table[i];
    }
  }
}

void GuestViews::protect(uint32_t phys_page) {
  if ((phys_page >> 12) >= writable_.size()) return;
  WritableList& listed = writable_[phys_page >> 12];
  if (listed.refs.empty()) return;
  // Unmapped rather than made read-only: the next read maps it again as the
  // TLB allows it then.
  // (set_entry counts each live one out.)
  const std::vector<WritableRef> refs = std::move(listed.refs);
  listed.refs.clear();
  for (const WritableRef& w : refs) {
    if (!maps_writable(w, phys_page)) continue;
    set_entry(w.space, w.lin_page, 0);
    unmap_host(view_base(w.space) + uint64_t{w.lin_page} * kPageSize, kPageSize);
    ++stats_.write_protects;
  }
}

// --- Mapping ----------------------------------------------------------------

GuestViews::Want GuestViews::want(unsigned idx, uint32_t lin) const {
  if (!(cpu_.cr0 & cr0::PG)) {
    // With paging off, CR3 loads change nothing: the identity map is global.
    const uint32_t phys = lin & kPageMask;
    return {true, phys, !mmu_.is_code_page(phys), true, true, kNoTable, 0};
  }
  PageWalk w;
  if (!mmu_.peek(lin, idx, w) || !w.present || !w.accessed || (idx == kMmuUser && !w.user_ok)) return {};
  const uint32_t phys = w.phys & kPageMask;
  return {true,    phys,    w.may_write && w.dirty && !mmu_.is_code_page(phys), w.global, w.large,
          w.large ? kLargePage : w.table_page(), w.pde};
}

// User views: what the tables say, kept across CR3 loads (verify()).
// The supervisor view: what the TLB holds, dropped as the TLB is
// (tlb_flushed: non-global pages at CR3 loads).
void GuestViews::mirror_entry(unsigned idx, uint32_t lin, const TlbEntry& e) {
  const uint32_t page = lin & kPageMask;
  // A tag equal to the page number has no tlbflag bits: the fast path is allowed.
  if (e.tag_read != page) return;
  const Want here = want(idx, page);
  if (!here.ok || here.phys != e.phys_page) {
    ++stats_.stale_entries;  // The TLB entry is older than the tables: it stays on the slow path.
    return;
  }
  const bool user = idx == kMmuUser, tables = here.table != kNoTable && here.table != kLargePage;
  // (peek() read the directory entry from RAM: verify() can read it there.)
  if (!page_in_ram(here.phys) || (tables && !page_in_ram(here.table))) return;
  const bool writable = here.writable && e.tag_write == page;

  const unsigned space = space_of(idx);
  const uint32_t p = page >> 12, region = p / kRegionPages;
  // Room first: making it may drop the region this page goes into.
  const bool new_region = spaces_[space].regions.empty() || !spaces_[space].regions[region].entry;
  if (stats_.host_mappings + 2 > stats_.host_mapping_limit ||
      (new_region && stats_.regions_in_use >= region_limit_))
    make_room();
  ++tick_;
  Region& r = region_of(space, region);
  if (user && here.table != kNoTable && (r.table != here.table || r.pde != here.pde)) {
    // Mapped through another directory entry before: what came through it goes.
    if (r.table != kNoTable) drop_region(space, region);
    r.table = here.table;
    r.pde = here.pde;
    if (tables) {
      r.pte = std::make_unique<uint32_t[]>(kRegionPages);
      std::memcpy(r.pte.get(), ram_base_ + here.table, kPageSize);
    }
  }
  // What a page mapped here must leave behind: the table entry a user
  // mapping came through, as it is now; the supervisor view's non-global
  // pages, for the next CR3 load.
  auto mapped = [&](uint32_t q) {
    if (user && r.pte) std::memcpy(&r.pte[q % kRegionPages], ram_base_ + here.table + (q % kRegionPages) * 4, 4);
    if (!user && !(entry(space, q) & kGlobal)) note_kernel_local(q);
  };
  // The same entries, the same protection and global bit, physically contiguous.
  auto same = [&](const Want& w, uint32_t q) {
    return w.ok && w.table == here.table && w.pde == here.pde && w.global == here.global &&
           page_in_ram(w.phys) && w.phys == here.phys + (q - p) * kPageSize;
  };

  // The pages around it that map on from it (a 4 MiB page, or a table
  // mapping physically contiguous pages) go in the same host mapping,
  // unless some pages need per-access checks.
  uint32_t lo = p, hi = p;
  if (!mmu_.checks_active()) {
    const uint32_t reach = here.large ? kRegionPages : 16;
    const uint32_t first = region * kRegionPages, end = first + kRegionPages;
    auto continues = [&](uint32_t q) {
      if (entry(space, q)) return false;  // Mapped already.
      const Want w = want(idx, q << 12);
      return same(w, q) && w.writable == writable;
    };
    while (hi + 1 < end && hi + 1 - p < reach && continues(hi + 1)) ++hi;
    while (lo > first && p - (lo - 1) < reach && here.phys >= (p - lo + 1) * kPageSize && continues(lo - 1)) --lo;
  }
  if (!map_run(space, lo, here.phys - (p - lo) * kPageSize, hi - lo + 1, writable, here.global ? kGlobal : 0))
    return;
  stats_.pages_ahead += hi - lo;
  for (uint32_t q = lo; q <= hi; ++q) mapped(q);
  if (++r.faults == kBulkAfter && !mmu_.checks_active()) {
    map_rest_of_region(
        space, region,
        [&](uint32_t q) -> uint32_t {
          const Want w = want(idx, q << 12);
          if (!w.ok || !page_in_ram(w.phys) || w.table != here.table || w.pde != here.pde) return 0;
          return w.phys | kMapped | (w.writable ? kWritable : 0) | (w.global ? kGlobal : 0);
        },
        mapped);
  }
}

void GuestViews::unmap_kernel_page(uint32_t q) {
  if (!entry(kShared, q)) return;
  set_entry(kShared, q, 0);
  unmap_host(view_base(kShared) + uint64_t{q} * kPageSize, kPageSize);
  ++stats_.kernel_unmaps;
}

void GuestViews::drop_kernel_view() {
  kernel_local_.clear();
  if (spaces_[kShared].active.empty()) return;
  ++stats_.kernel_flushes;
  clear_space(kShared);
}

// --- Invalidations ----------------------------------------------------------

uint64_t GuestViews::signature() const {
  return (uint64_t{mmu_.check_generation()} << 32) | (cpu_.cr0 & (cr0::PG | cr0::WP)) | (cpu_.cr4 & cr4::PSE);
}

void GuestViews::tlb_flushed(bool keep_global) {
  // A TLB flush leaves the user views as they are: they follow the tables
  // in memory, not the TLB. Only a change of what a translation means (or
  // of which pages need per-access checks) drops them.
  if (signature() != signature_) {
    signature_ = signature();
    drop_everything();
  } else if (!keep_global || kernel_local_.size() > kMaxLocalUnmaps) {
    drop_kernel_view();
  } else {
    // A CR3 load: the supervisor view keeps its global pages, as the TLB
    // does, and the non-global pages the new tables translate exactly as
    // before with A (and, if writable, D) already set. After the load the
    // TLB holds no non-global entry, but the refill of such a page would
    // produce the same entry and write nothing to memory (SDM Vol. 3A,
    // 4.10.2 and 4.10.4.1), so the mapping stands for that refill. A
    // kernel whose pages are not global (no CR4.PGE) keeps its working set
    // across context switches instead of taking a host fault, a mapping
    // and an unmapping for each of its pages after every switch.
    // The others are unmapped together: one host call per run of
    // neighbouring pages (a system call costs as much as many accesses).
    std::sort(kernel_local_.begin(), kernel_local_.end());
    kernel_local_.erase(std::unique(kernel_local_.begin(), kernel_local_.end()), kernel_local_.end());
    std::vector<uint32_t> kept;
    uint32_t run = 0, run_pages = 0;
    auto unmap_run = [&] {
      if (run_pages) unmap_host(view_base(kShared) + uint64_t{run} * kPageSize, uint64_t{run_pages} * kPageSize);
      run_pages = 0;
    };
    for (uint32_t q : kernel_local_) {
      const uint32_t v = entry(kShared, q);
      if (!(v & kMapped) || (v & kGlobal)) continue;  // Unmapped since.
      const Want now = want(kMmuKernel, q << 12);
      if (now.ok && now.phys == (v & kPageMask) && now.writable == ((v & kWritable) != 0)) {
        kept.push_back(q);
        ++stats_.kernel_pages_kept;
        continue;
      }
      if (!run_pages || q != run + run_pages) {
        unmap_run();
        run = q;
      }
      set_entry(kShared, q, 0);
      ++run_pages;
      ++stats_.kernel_unmaps;
    }
    unmap_run();
    kernel_local_ = std::move(kept);  // Checked again at the next load.
  }
  // The space about to run: its mappings must now be what its tables say.
  select_space();
  verify(current_);
}

void GuestViews::tlb_page_flushed(uint32_t lin) {
  // INVLPG: the page goes from the supervisor view, as from the TLB, and
  // from the current user view (which verify() would otherwise check only
  // at the next CR3 load).
  unmap_kernel_page(lin >> 12);
  drop_page(current_, lin >> 12);
}

void GuestViews::code_page_marked(uint32_t phys_page) { protect(phys_page); }

}  // namespace vmm::jit

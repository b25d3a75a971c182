#include "jit/guest_views.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

namespace vmm::jit {

namespace {
// Address space with no access and no memory behind it.
constexpr int kReserveFlags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE;
}  // namespace

GuestViews::GuestViews(int ram_fd, uint32_t ram_bytes) : fd_(ram_fd), ram_bytes_(ram_bytes) {
  for (auto& m : mapped_) m.assign((uint64_t{1} << 32) / kPageSize / 64, 0);
  void* p = mmap(nullptr, kRegionBytes, PROT_NONE, kReserveFlags, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("JIT: cannot reserve address space for the host-MMU path");
  region_ = static_cast<uint8_t*>(p);
}

GuestViews::~GuestViews() { munmap(region_, kRegionBytes); }

void GuestViews::unmap(uintptr_t host, size_t bytes) {
  // Replacing the range with a fresh reservation drops the file pages in one call.
  // A mapping left behind would outlive the guest translation it caches,
  // so failing here (only if the host runs out of memory) is fatal.
  if (mmap(reinterpret_cast<void*>(host), bytes, PROT_NONE, kReserveFlags | MAP_FIXED, -1, 0) == MAP_FAILED) {
    std::fprintf(stderr, "vmm: fatal: cannot unmap a JIT guest view page: %s\n", std::strerror(errno));
    std::abort();
  }
}

void GuestViews::mirror_entry(unsigned idx, uint32_t lin, const TlbEntry& e) {
  const uint32_t page = lin & kPageMask;
  // A tag equal to the page number has no tlbflag bits: the fast path is allowed.
  if (e.tag_read != page) return;
  map(idx, page, e.phys_page, e.tag_write == page, e.global != 0);
}

void GuestViews::clear_bit(unsigned idx, uint32_t lin) {
  mapped_[idx][(lin >> 12) / 64] &= ~(uint64_t{1} << ((lin >> 12) % 64));
}

void GuestViews::map(unsigned idx, uint32_t lin, uint32_t phys, bool writable, bool global) {
  if (phys >= ram_bytes_ || ram_bytes_ - phys < kPageSize) return;  // Not RAM: stays unmapped.
  if (mappings_ >= kMaxMappings) flush_all();
  const int prot = PROT_READ | (writable ? PROT_WRITE : 0);
  if (mmap(reinterpret_cast<void*>(base(idx) + lin), kPageSize, prot, MAP_SHARED | MAP_FIXED, fd_, phys) ==
      MAP_FAILED)
    return;  // The access keeps taking the slow path.
  ++mappings_;
  ++stats_.pages_mapped;
  if (!mapped(idx, lin)) {
    mapped_[idx][(lin >> 12) / 64] |= uint64_t{1} << ((lin >> 12) % 64);
    mapped_list_.push_back(lin | idx);
  }
  // Listed again if remapped (read-only, then writable): unmapping twice is harmless.
  if (!global) local_list_.push_back(lin | idx);
  if (writable) writable_[phys].push_back(lin | idx);
}

void GuestViews::tlb_flushed(bool keep_global) {
  if (!mappings_) return;
  if (!keep_global || local_list_.size() > kMaxLocalUnmaps) {
    flush_all();
    return;
  }
  // A CR3 load: the TLB keeps its global entries, and so do the views;
  // the other pages are unmapped one by one.
  for (uint32_t v : local_list_) {
    const unsigned idx = v & (kPageSize - 1);
    const uint32_t lin = v & kPageMask;
    if (!mapped(idx, lin)) continue;
    unmap(base(idx) + lin, kPageSize);
    clear_bit(idx, lin);
  }
  local_list_.clear();
  ++stats_.global_keeps;
}

void GuestViews::flush_all() {
  unmap(reinterpret_cast<uintptr_t>(region_), kRegionBytes);
  mappings_ = 0;
  writable_.clear();
  for (uint32_t v : mapped_list_) mapped_[v & (kPageSize - 1)][(v >> 12) / 64] = 0;
  mapped_list_.clear();
  local_list_.clear();
  ++stats_.flushes;
}

void GuestViews::tlb_page_flushed(uint32_t lin) {
  bool any = false;
  for (unsigned idx = 0; idx < kMmuCount; ++idx) {
    if (!mapped(idx, lin)) continue;
    unmap(base(idx) + (lin & kPageMask), kPageSize);
    clear_bit(idx, lin);
    any = true;
  }
  if (any) ++stats_.page_unmaps;
}

void GuestViews::code_page_marked(uint32_t phys_page) {
  auto it = writable_.find(phys_page);
  if (it == writable_.end()) return;
  // Unmapped rather than made read-only: an entry may be stale, and read
  // access to a reservation page would read zeros instead of faulting.
  for (uint32_t v : it->second) {
    unmap(base(v & (kPageSize - 1)) + (v & kPageMask), kPageSize);
    clear_bit(v & (kPageSize - 1), v & kPageMask);
  }
  stats_.write_protects += it->second.size();
  writable_.erase(it);
}

}  // namespace vmm::jit

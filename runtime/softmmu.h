// The softmmu: a QEMU-style software TLB in front of the 2-level IA-32 page
// walker (SDM Vol. 3A, 4.3 "32-bit paging"). Every guest memory access of
// both engines goes through it. The TLB entry layout below is the one the JIT
// probes from emitted code (offsets via offsetof), so it is defined only here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <functional>
#include <vector>

#include "runtime/cpu_state.h"
#include "runtime/guest_ram.h"

namespace vmm {

class Bus;

enum class Access : uint8_t { kRead = 0, kWrite = 1, kFetch = 2 };

// Bits kept in the low (page-offset) bits of a TLB tag. Any set bit makes the
// fast-path compare fail, so the access goes to the slow path.
namespace tlbflag {
inline constexpr uint32_t kInvalid = 1u << 0;  // Entry holds nothing for this access kind.
inline constexpr uint32_t kMmio = 1u << 1;     // Page is not RAM: device or unassigned.
inline constexpr uint32_t kCode = 1u << 2;     // Write tag only: page holds decoded/translated code.
inline constexpr uint32_t kCheck = 1u << 3;    // Every access checks watchpoints / alignment (slow path).
}  // namespace tlbflag

inline constexpr uint32_t kPageSize = 4096;
inline constexpr uint32_t kPageMask = ~(kPageSize - 1);

// One TLB entry: a virtual page with a tag per access kind (the page number, or
// with tlbflag bits when the access must take the slow path) and the addend
// that turns a virtual address on that page into a host pointer into RAM.
struct TlbEntry {
  uint32_t tag_read;
  uint32_t tag_write;
  uint32_t tag_fetch;
  uint32_t phys_page;  // Guest physical page of the mapping.
  uintptr_t addend;    // host address = addend + virtual address (RAM pages only).
  uint32_t global;     // Non-zero for a global page (PTE.G with CR4.PGE): kept across CR3 loads.
  uint32_t reserved;
};
static_assert(sizeof(TlbEntry) == 32, "the JIT indexes TLB entries with a shift by 5");

// MMU index: separate TLBs for supervisor and user accesses, as QEMU's mmu_idx.
enum MmuIdx : uint8_t { kMmuKernel = 0, kMmuUser = 1, kMmuCount = 2 };
// Accesses at CPL 3 are user accesses (SDM Vol. 3A, 4.6).
constexpr unsigned mmu_idx_of_cpl(unsigned cpl) { return cpl == 3 ? kMmuUser : kMmuKernel; }

// One linear page translated by 32-bit paging (SDM Vol. 3A, 4.3) from the
// paging entries as they are in memory: what a walk would find, computed
// without faulting or setting A/D. The walk and the JIT's views (which check
// a TLB entry against the tables before mapping it) share it.
struct PageWalk {
  uint32_t pde_addr = 0, pde = 0;
  uint32_t pte_addr = 0, pte = 0;  // Unused for a 4 MiB page.
  bool large = false;              // PDE.PS with CR4.PSE.
  bool present = false;            // Present at every level.
  uint32_t phys = 0;               // Physical address of the linear address.
  bool user_ok = false;            // U/S=1 at every level (SDM Vol. 3A, 4.6).
  bool may_write = false;          // Writes allowed to this MMU index (R/W, CR0.WP).
  bool accessed = false;           // A set at every level.
  bool dirty = false;              // D set in the entry that maps the page.
  bool global = false;             // G with CR4.PGE.
  // The page-table page the translation went through (0 for a 4 MiB page).
  uint32_t table_page() const { return large ? 0 : pde & 0xFFFFF000u; }
};

struct SoftMmuStats {
  uint64_t walks = 0;
  uint64_t page_faults = 0;
  uint64_t flushes = 0;
  uint64_t page_flushes = 0;
  uint64_t mmio_accesses = 0;
  uint64_t code_writes = 0;
};

// Host mappings that cache the TLB's translations (the JIT's guest views,
// jit/guest_views.h) follow its invalidations through this interface.
class TlbMirror {
 public:
  virtual ~TlbMirror() = default;
  // Every translation dropped, or with keep_global every one but those of
  // global pages (a CR3 load with CR4.PGE, SDM Vol. 3A 4.10.4.1).
  virtual void tlb_flushed(bool keep_global) = 0;
  virtual void tlb_page_flushed(uint32_t lin) = 0;         // One linear page, all MMU indices.
  virtual void code_page_marked(uint32_t phys_page) = 0;   // Writes to this page must now be seen.
};

class SoftMmu {
 public:
  static constexpr unsigned kTlbBits = 10;
  static constexpr unsigned kTlbSize = 1u << kTlbBits;

  SoftMmu(CpuState& cpu, GuestRam& ram, Bus& bus);

  // Called when a write hits a physical page that holds decoded code, before
  // the write is done: the block cache drops that page's blocks and calls
  // clear_code_page().
  std::function<void(uint32_t phys_addr, unsigned size)> on_code_write;
  // Called for writes to unassigned physical addresses (for the -d unimp log).
  std::function<void(uint32_t phys_addr, unsigned size, bool is_write)> on_unassigned;
  // Told of every invalidation (nullptr: none).
  TlbMirror* mirror = nullptr;

  // --- Data accesses at linear address `lin` through the TLB of `idx`. ---
  template <typename T>
  T read(uint32_t lin, unsigned idx) {
    const TlbEntry& e = entry(idx, lin);
    T v;
    if (load_if_tagged(e.tag_read, e, lin, v)) [[likely]] return v;
    return static_cast<T>(read_slow(lin, sizeof(T), idx));  // Sizes up to 8 bytes.
  }

  template <typename T>
  void write(uint32_t lin, T value, unsigned idx) {
    const TlbEntry& e = entry(idx, lin);
    if (e.tag_write == ((lin + sizeof(T) - 1) & kPageMask)) [[likely]] {
      std::memcpy(reinterpret_cast<void*>(e.addend + lin), &value, sizeof(T));
      return;
    }
    write_slow(lin, static_cast<uint64_t>(value), sizeof(T), idx);
  }

  // The read of a read-modify-write instruction (ADD/INC/SHL/XCHG/XADD/
  // CMPXCHG/BTS... on memory): the CPU checks it as a write, so a
  // not-present or read-only page faults with W=1 before anything is read
  // (observed on the host: tests/unit/test_rmw_fault.cpp).
  template <typename T>
  T read_for_write(uint32_t lin, unsigned idx) {
    const TlbEntry& e = entry(idx, lin);
    T v;
    if (load_if_tagged(e.tag_write, e, lin, v)) [[likely]] return v;
    return static_cast<T>(read_for_write_slow(lin, sizeof(T), idx));
  }

  // Checks that [lin, lin+size) is writable (faulting as a write would),
  // without writing. For instructions that must fault before any side effect.
  void probe_write(uint32_t lin, unsigned size, unsigned idx);

  // Host pointer for `len` bytes at `lin` on one page for `acc`, or nullptr
  // when the page is not plain RAM (MMIO, code page for writes). Faults as
  // the access would. Used by string instructions to move page runs at once.
  uint8_t* host_run(uint32_t lin, uint32_t len, Access acc, unsigned idx);

  // Translates a code address (execute access) to a guest physical address.
  uint32_t translate_fetch(uint32_t lin, unsigned idx);

  // Full translation for an access kind, filling the TLB. Raises #PF.
  uint32_t translate(uint32_t lin, Access acc, unsigned idx);

  // Reads/writes guest physical memory (RAM, MMIO or unassigned), no paging.
  uint32_t phys_read(uint32_t phys, unsigned size);
  void phys_write(uint32_t phys, uint32_t value, unsigned size);

  // TLB maintenance (MOV CR3, paging mode changes, INVLPG). A CR3 load keeps
  // global pages (SDM Vol. 3A, 4.10.4.1); CR0/CR4 paging changes drop everything.
  void flush_all(bool keep_global = false);
  void flush_page(uint32_t lin);

  // The translation of `lin` for MMU index `idx` by the tables in memory
  // (paging on), with no side effect: false when a paging entry is not in
  // RAM. See PageWalk.
  bool peek(uint32_t lin, unsigned idx, PageWalk& out) const;

  // Code-page tracking for self-modifying code.
  void mark_code_page(uint32_t phys_page);
  void clear_code_page(uint32_t phys_page);
  bool is_code_page(uint32_t phys) const {
    const uint32_t p = phys >> 12;
    return p < code_pages_.size() && code_pages_[p];
  }


  // Data breakpoints (DR0-DR3 with R/W = 01 or 11): accesses that touch a
  // watched range set its bit in the hit mask (SDM Vol. 3B, 18.2.4). Pages
  // holding a watched range always take the slow path.
  struct Watchpoint {
    uint32_t addr;
    uint32_t len;
    bool reads;  // R/W = 11: reads and writes; 01: writes only.
  };
  void set_watchpoints(const Watchpoint* w, unsigned count, uint32_t enabled_mask);
  uint32_t take_watch_hits() {
    const uint32_t h = watch_hits_;
    watch_hits_ = 0;
    return h;
  }
  // Alignment checking (CR0.AM, EFLAGS.AC, CPL 3): misaligned user-mode data
  // accesses raise #AC(0) (SDM Vol. 3A, 6.15 "Interrupt 17").
  void set_alignment_check(bool on);
  bool alignment_check() const { return align_check_; }
  // Some pages need per-access checks (watchpoints, #AC): not every RAM page
  // may be accessed on a fast path.
  bool checks_active() const { return watch_mask_ != 0 || align_check_; }
  // Changes whenever the pages needing those checks may have changed.
  uint32_t check_generation() const { return check_generation_; }

  const TlbEntry* tlb(unsigned idx) const { return tlb_[idx]; }
  // The entry `lin` falls on in the TLB of `idx` (whatever page it holds).
  const TlbEntry& tlb_entry(unsigned idx, uint32_t lin) const { return tlb_[idx][(lin >> 12) & (kTlbSize - 1)]; }
  const SoftMmuStats& stats() const { return stats_; }

 private:
  TlbEntry& entry(unsigned idx, uint32_t lin) { return const_cast<TlbEntry&>(tlb_entry(idx, lin)); }
  // The fast path of a load: `tag` (one of e's) equals the page of the
  // access's last byte, which also rejects accesses crossing into the next page.
  template <typename T>
  static bool load_if_tagged(uint32_t tag, const TlbEntry& e, uint32_t lin, T& v) {
    if (tag != ((lin + sizeof(T) - 1) & kPageMask)) return false;
    std::memcpy(&v, reinterpret_cast<const void*>(e.addend + lin), sizeof(T));
    return true;
  }
  uint64_t read_slow(uint32_t lin, unsigned size, unsigned idx);
  uint64_t read_for_write_slow(uint32_t lin, unsigned size, unsigned idx);
  void write_slow(uint32_t lin, uint64_t value, unsigned size, unsigned idx);
  // Walks the page tables for one page; returns the physical address and the
  // access kinds the mapping allows without another walk (tlb fill rights).
  uint32_t walk(uint32_t lin, Access acc, unsigned idx, bool& writable_now, bool& global);
  template <typename ReadEntry>
  PageWalk lookup(uint32_t lin, unsigned idx, ReadEntry read) const;
  void fill(uint32_t lin, uint32_t phys, Access acc, unsigned idx, bool writable_now, bool global);

  CpuState& cpu_;
  GuestRam& ram_;
  Bus& bus_;
  alignas(64) TlbEntry tlb_[kMmuCount][kTlbSize];
  void check_special(uint32_t lin, unsigned size, bool write, unsigned idx);
  bool page_watched(uint32_t page) const;

  // Marks or unmarks a page as holding code and re-tags the TLB's write
  // entries for it. False when it already was so (or is not RAM).
  bool set_code_page(uint32_t phys_page, bool on);

  std::vector<uint8_t> code_pages_;  // Per physical page of RAM: holds decoded code.
  SoftMmuStats stats_;
  Watchpoint watch_[4] = {};
  uint32_t watch_mask_ = 0;  // Bit i: watch_[i] active.
  uint32_t watch_hits_ = 0;
  bool align_check_ = false;
  uint32_t check_generation_ = 0;
};

}  // namespace vmm

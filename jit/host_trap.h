// Host traps inside translated code (the trap-and-emulate fallback's second
// half). A natively executed DIV/IDIV raises SIGFPE on the host for exactly
// the cases where the guest's raises #DE (SDM Vol. 2A "DIV"/"IDIV": zero
// divisor, quotient too wide). The handler maps the host PC back to the guest
// instruction through the trap sites the translator recorded, stores the
// guest registers and flags from the signal context into CpuState and
// resumes at the engine's exit trampoline with status kExitHostTrap; the
// engine then raises the guest #DE in C++.
//
// On the host-MMU path (guest_views.h) a SIGSEGV at a recorded guest memory
// access whose fault address lies in the engine's guest views continues at
// that access's slow path, with the flags image in R11D.
//
// Any other SIGSEGV/SIGBUS/SIGILL/SIGFPE is a VMM bug: the handler names the
// signal, the host PC and whether it lies in translated code (and which guest
// block and instruction), restores the terminal and ends the process with
// status 3 (kExitGuestCrash) without running any more guest code. Builds
// with AddressSanitizer hand the signal to the sanitizer instead, for its
// stack trace.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "frontend/block.h"

namespace vmm::jit {

// A native instruction that may trap: its host address and guest position.
struct TrapSite {
  uintptr_t host_pc;
  uint32_t guest_eip;
  uint32_t unexecuted;  // Instructions of its block from this one on (returned to the budget).
  InstrRecord* instr;   // The instruction and its block, for JitEngine::note_host_trap.
  Block* block;
};

// A native guest memory access on the host-MMU path (guest_views.h): a
// host fault there continues at the access's slow path.
struct FaultSite {
  uintptr_t host_pc;
  uintptr_t slow_path;    // Expects R8D = guest linear address, R11D = the flags image.
  bool flags_in_rflags;   // RFLAGS hold the guest flags at the access (else R11D already holds their image).
};

// Sites of one code buffer, in increasing host address (the buffer is
// filled bottom-up and emptied whole), so lookups are a binary search.
template <typename Site>
class SiteTable {
 public:
  void add(const Site& t) { sites_.push_back(t); }
  void clear() { sites_.clear(); }
  const Site* find(uintptr_t pc) const {
    size_t lo = 0, hi = sites_.size();
    while (lo < hi) {
      const size_t mid = lo + (hi - lo) / 2;
      if (sites_[mid].host_pc < pc) lo = mid + 1;
      else hi = mid;
    }
    return lo < sites_.size() && sites_[lo].host_pc == pc ? &sites_[lo] : nullptr;
  }

 private:
  std::vector<Site> sites_;
};
using TrapSites = SiteTable<TrapSite>;
using FaultSites = SiteTable<FaultSite>;

// One engine's code buffer as seen by the signal handler.
struct TrapRegion {
  uintptr_t begin = 0, end = 0;
  const TrapSites* sites = nullptr;
  const FaultSites* faults = nullptr;
  uintptr_t view_begin = 0, view_end = 0;  // The guest views; faults elsewhere are VMM bugs.
  uint64_t* fault_count = nullptr;         // Counts faults sent to a slow path.
  uintptr_t exit_synced = 0;  // Trampoline resuming the dispatcher (R9 = instructions not run).
  // For the crash message: the translated block holding a host PC (false
  // when none does), its guest EIP, and the EIP of the guest instruction
  // whose code holds the PC (~0u in the block's out-of-line code).
  bool (*guest_code_at)(const void* engine, uintptr_t pc, uint32_t& block_eip, uint32_t& instr_eip) = nullptr;
  const void* engine = nullptr;
  const TrapSite** last_trap = nullptr;  // Set to the site of each guest #DE delivered.
};

// Installs the handlers on first use and makes `r` known to them; returns a
// slot for unregister_trap_region. Throws when too many engines are alive.
int register_trap_region(const TrapRegion& r);
void unregister_trap_region(int slot);

}  // namespace vmm::jit

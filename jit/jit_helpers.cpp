// C++ helpers called from translated code (jit_abi.h). They run with the
// guest state stored in CpuState and must never let a C++ exception reach
// the JIT frames: guest exceptions are caught here and left pending.
#include "jit/jit_abi.h"

#include "jit/jit_engine.h"
#include "runtime/cpu.h"
#include "runtime/interp/flags.h"

namespace vmm::jit {

namespace {
Cpu& cpu_of(CpuState* s) { return *reinterpret_cast<Cpu*>(s->jit.cpu); }

}  // namespace

extern "C" uint32_t vmm_jit_interp_one(CpuState* s, const InstrRecord* in) {
  Cpu& cpu = cpu_of(s);
  ++cpu.jit_helper_stats().interp_calls[in->mnemonic];
  flags_from_image(*s);
  uint32_t result;
  try {
    cpu.clear_end_block();
    const bool set_eip = in->handler(cpu, *in);
    if (!set_eip) s->eip += in->length;
    result = (set_eip || cpu.end_block_requested()) ? kHelperEndBlock : kHelperContinue;
    s->jit.status = kExitNext;
  } catch (const GuestException& e) {
    cpu.set_pending_exception(e);
    s->jit.status = kExitException;
    result = kHelperException;
  }
  flags_to_image(*s);
  // The helper may have changed CPL (and with it the guest view).
  GuestViews* views = cpu.jit() ? cpu.jit()->views() : nullptr;
  s->jit.mem_base = views ? views->base(cpu.mmu_idx()) : 0;
  return result;
}

namespace {
// The host-MMU path: the page just translated goes into the guest view with
// the rights its TLB entry grants on the fast path (read; write too unless
// the page is clean, holds code, or needs per-access checks), so the next
// accesses to it run without a fault.
void map_into_view(Cpu& cpu, uint32_t lin, unsigned idx) {
  GuestViews* views = cpu.jit() ? cpu.jit()->views() : nullptr;
  if (!views) return;
  const TlbEntry& e = cpu.mmu.tlb(idx)[(lin >> 12) & (SoftMmu::kTlbSize - 1)];
  const uint32_t page = lin & kPageMask;
  if (e.tag_read != page) return;
  views->map(idx, page, e.phys_page, e.tag_write == page);
}
}  // namespace

extern "C" uintptr_t vmm_jit_mem_slow(CpuState* s, uint32_t lin, uint32_t kind) {
  Cpu& cpu = cpu_of(s);
  const unsigned size = kind & 0xF;
  const bool write = kind & kMemWrite;
  JitHelperStats& stats = cpu.jit_helper_stats();
  if ((lin & ~kPageMask) + size > kPageSize) {
    ++stats.mem_slow_crossing;
    return kMemFallback;  // Crosses a page: split by the softmmu.
  }
  try {
    const unsigned idx = cpu.mmu_idx();
    uint8_t* p = cpu.mmu.host_run(lin, size, write ? Access::kWrite : Access::kRead, idx);
    ++(p ? stats.mem_slow_refills : stats.mem_slow_special);
    if (p) map_into_view(cpu, lin, idx);
    return p ? reinterpret_cast<uintptr_t>(p) : kMemFallback;
  } catch (const GuestException& e) {
    ++stats.mem_slow_faults;
    // The flags image is already stored; the dispatcher converts it on exit.
    cpu.set_pending_exception(e);
    s->jit.status = kExitException;
    return kMemException;
  }
}

extern "C" uintptr_t vmm_jit_mem_slow_site(CpuState* s, uint32_t lin, const SlowSite* site) {
  const uintptr_t r = vmm_jit_mem_slow(s, lin, site->kind);
  if (r == kMemException) return kSlowException;
  if (r != kMemFallback) return r;
  // Not plain RAM (MMIO, a page holding code, a page-crossing access): the
  // interpreter does this one instruction through the softmmu.
  switch (vmm_jit_interp_one(s, site->instr)) {
    case kHelperContinue: return kSlowContinue;
    case kHelperEndBlock: return kSlowEndBlock;
    default: return kSlowException;
  }
}

}  // namespace vmm::jit

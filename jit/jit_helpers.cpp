// C++ helpers called from translated code (jit_abi.h). They run with the
// guest state stored in CpuState and must never let a C++ exception reach
// the JIT frames: guest exceptions are caught here and left pending.
#include "jit/jit_abi.h"

#include "jit/host_fpu.h"
#include "jit/jit_engine.h"
#include "runtime/cpu.h"
#include "runtime/profiler.h"
#include "runtime/interp/flags.h"

namespace vmm::jit {

namespace {
Cpu& cpu_of(CpuState* s) { return *reinterpret_cast<Cpu*>(s->jit.cpu); }

}  // namespace

extern "C" uint32_t vmm_jit_interp_one(CpuState* s, const InstrRecord* in) {
  Cpu& cpu = cpu_of(s);
  ++cpu.jit_helper_stats().interp_calls[in->mnemonic];
  if (cpu.profiler) cpu.profiler->helper_call(in);
  flags_from_image(*s);
  uint32_t result;
  try {
    cpu.clear_end_block();
    bool set_eip;
    if (s->jit.fpu_in_host && (in->cls & iclass::kFpSimd)) {
      // The guest's x87 registers are in the host FPU (host_fpu.h): the
      // handler (x87, FXSAVE/FXRSTOR: iclass::kFpSimd) works on CpuState::fpu. One that leaves blockmode::kFpuNative
      // (FLDCW, FLDENV, FRSTOR, FXRSTOR unmasking an exception) ends the
      // block, whose later x87 instructions were translated for that mode.
      cpu.jit()->note_fpu_spill();
      const uint32_t mode = cpu.block_mode();
      host_fpu::Spill spill(*s, cpu.jit()->fpu_stubs());
      set_eip = in->handler(cpu, *in);
      if (cpu.block_mode() != mode) cpu.end_block();
    } else {
      set_eip = in->handler(cpu, *in);
    }
    if (!set_eip) s->eip += in->length;
    result = (set_eip || cpu.end_block_requested()) ? kHelperEndBlock : kHelperContinue;
    s->jit.status = kExitNext;
  } catch (const GuestException& e) {
    cpu.set_pending_exception(e);
    s->jit.status = kExitException;
    result = kHelperException;
  }
  flags_to_image(*s);
  s->jit.mem_base = cpu.jit()->mem_base();  // The helper may have changed CPL (and with it the guest view).
  return result;
}

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
    // The host-MMU path: the next accesses to this page run without a fault.
    // (A probed access has its TLB entry: mapping the page would only cost.)
    if (GuestViews* views = cpu.jit()->views(); p && views && (kind & kMemView))
      views->mirror_entry(idx, lin, cpu.mmu.tlb_entry(idx, lin));
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
  if (Profiler* p = cpu_of(s).profiler) p->slow_path(site->instr);
  const uintptr_t r = vmm_jit_mem_slow(s, lin, site->kind);
  if (r == kMemException) {
    if (site->kind & kMemView) cpu_of(s).jit()->note_view_exception(*site);
    return kSlowException;
  }
  if (r != kMemFallback) {
    if (site->kind & kMemView) cpu_of(s).jit()->note_view_refill(*site, lin);
    return r;
  }
  // A device, unassigned memory or a page holding code: every later access
  // of this instruction would take the same way (on the host-MMU path, a
  // host fault each time), so it becomes a helper call in a new translation.
  if ((lin & ~kPageMask) + (site->kind & 0xF) <= kPageSize) cpu_of(s).jit()->demote(*site);
  // Not plain RAM (MMIO, a page holding code, a page-crossing access): the
  // interpreter does this one instruction through the softmmu.
  switch (vmm_jit_interp_one(s, site->instr)) {
    case kHelperContinue: return kSlowContinue;
    case kHelperEndBlock: return kSlowEndBlock;
    default: return kSlowException;
  }
}

}  // namespace vmm::jit

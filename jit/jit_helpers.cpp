// C++ helpers called from translated code (jit_abi.h). They run with the
// guest state stored in CpuState and must never let a C++ exception reach
// the JIT frames: guest exceptions are caught here and left pending.
#include "jit/jit_abi.h"

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
  // The helper may have changed CPL (and with it the TLB to probe).
  s->jit.tlb = reinterpret_cast<uintptr_t>(cpu.mmu.tlb(cpu.mmu_idx()));
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
    uint8_t* p = cpu.mmu.host_run(lin, size, write ? Access::kWrite : Access::kRead, cpu.mmu_idx());
    ++(p ? stats.mem_slow_refills : stats.mem_slow_special);
    return p ? reinterpret_cast<uintptr_t>(p) : kMemFallback;
  } catch (const GuestException& e) {
    ++stats.mem_slow_faults;
    // The flags image is already stored; the dispatcher converts it on exit.
    cpu.set_pending_exception(e);
    s->jit.status = kExitException;
    return kMemException;
  }
}

}  // namespace vmm::jit

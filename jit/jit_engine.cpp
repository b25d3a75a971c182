#include "jit/jit_engine.h"
#include "jit/host_fpu.h"
#include "runtime/profiler.h"

#include <asmjit/x86.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <stdexcept>

#include <unistd.h>

#include "jit/flag_image.h"
#include "jit/host_regs.h"
#include "jit/jit_abi.h"
#include "jit/state_operands.h"
#include "runtime/cpu.h"
#include "runtime/interp/flags.h"
#include "runtime/log.h"

namespace vmm::jit {

using namespace asmjit;

JitEngine::JitEngine(Cpu& cpu, size_t buffer_bytes, bool host_mmu)
    : cpu_(cpu), buffer_(buffer_bytes) {
  if (host_mmu) {
    try {
      views_ = std::make_unique<GuestViews>(cpu_.mmu, cpu_.s, cpu_.ram.fd(), cpu_.ram.data(), cpu_.ram.size());
      cpu_.mmu.mirror = views_.get();
    } catch (const std::runtime_error& e) {
      // A host that limits address space (ulimit -v) still runs the JIT.
      std::fprintf(stderr, "vmm: warning: %s; using TLB probes (--host-mmu=off)\n", e.what());
      host_mmu = false;
    }
  }
  emit_trampolines();
  TranslatorEnv env;
  env.exit_common = exit_common_;
  env.exit_synced = exit_synced_;
  env.miss_stub = miss_stub_;
  env.slow_common = slow_common_;
  env.jump_table_of = [this](uint32_t mode) { return &jump_table_of(mode); };
  env.bmi2 = CpuInfo::host().hasFeature(CpuFeatures::X86::kBMI2);
  env.host_mmu = host_mmu;
  env.x87_native = host_fpu::supported();
  for (unsigned idx = 0; idx < kMmuCount; ++idx)
    env.tlb_offset[idx] = static_cast<int32_t>(reinterpret_cast<intptr_t>(cpu_.mmu.tlb(idx)) -
                                               reinterpret_cast<intptr_t>(&cpu_.s));
  translator_ = std::make_unique<Translator>(buffer_, trap_sites_, fault_sites_, env);
  TrapRegion r;
  r.begin = reinterpret_cast<uintptr_t>(buffer_.base());
  r.end = r.begin + buffer_.size();
  r.sites = &trap_sites_;
  if (views_) {
    r.faults = &fault_sites_;
    r.view_begin = views_->region_begin();
    r.view_end = views_->region_end();
    r.fault_count = &views_->stats().faults;
  }
  r.exit_synced = exit_synced_;
  r.guest_code_at = &JitEngine::guest_code_at;
  r.engine = this;
  r.last_trap = &last_trap_;
  trap_slot_ = register_trap_region(r);
}

JitEngine::~JitEngine() {
  unregister_trap_region(trap_slot_);
  if (cpu_.mmu.mirror == views_.get()) cpu_.mmu.mirror = nullptr;
}

// Called from the host-trap handler on a VMM bug: reads, never allocates.
bool JitEngine::guest_code_at(const void* engine, uintptr_t pc, uint32_t& block_eip, uint32_t& instr_eip) {
  const auto* e = static_cast<const JitEngine*>(engine);
  for (const auto& [code, block] : e->block_at_) {
    const auto start = reinterpret_cast<uintptr_t>(code);
    if (pc < start || pc >= start + block->host_size) continue;
    block_eip = block->virt_pc;
    instr_eip = ~0u;
    const auto offset = static_cast<uint32_t>(pc - start);
    if (offset >= block->out_of_line_offset) return true;
    uint32_t eip = block->virt_pc;
    for (size_t i = 0; i < block->host_offsets.size() && block->host_offsets[i] <= offset; ++i) {
      instr_eip = eip;
      eip += block->instrs[i].length;
    }
    return true;
  }
  return false;
}

// vmm_jit_enter(CpuState* state /*RDI*/, void* code /*RSI*/): saves the
// callee-saved registers, loads the guest registers and flags, and jumps to
// the block. Exits come back through exit_common/exit_synced, which store the
// guest state and return to the caller of enter. RSP stays 16-byte aligned
// inside translated code, so helpers are called with the ABI's alignment.
void JitEngine::emit_trampolines() {
  const uint64_t base = reinterpret_cast<uintptr_t>(buffer_.cursor());
  CodeHolder code;
  code.init(Environment::host(), base);
  x86::Assembler a(&code);
  Label exit_common = a.newLabel(), exit_synced = a.newLabel();

  // enter
  a.push(x86::rbx);
  a.push(x86::rbp);
  a.push(x86::r12);
  a.push(x86::r13);
  a.push(x86::r14);
  a.push(x86::r15);
  a.sub(x86::rsp, 8);
  a.mov(x86::r15, x86::rdi);
  a.mov(x86::r14, x86::qword_ptr(x86::r15, kOffMemBase));
  a.mov(x86::r13, x86::qword_ptr(x86::r15, kOffBudget));
  a.mov(x86::r8, x86::rsi);
  for (uint8_t g = 0; g < 8; ++g) a.mov(guest32(g), x86::dword_ptr(x86::r15, kOffGpr + 4 * g));
  emit_restore_flags(a, x86::dword_ptr(x86::r15, kOffFlagsImage));
  a.jmp(x86::r8);

  // miss_stub: an inline lookup found no translation (jit_abi.h, JumpTable);
  // R9D = the guest EIP to go to, flags live. The miss is counted with LEA,
  // which leaves the flags alone.
  Label miss_stub = a.newLabel();
  a.bind(miss_stub);
  a.mov(x86::dword_ptr(x86::r15, kOffEip), x86::r9d);
  a.mov(x86::r10, x86::qword_ptr(x86::r15, kOffIndirectMisses));
  a.lea(x86::r10, x86::ptr(x86::r10, 1));
  a.mov(x86::qword_ptr(x86::r15, kOffIndirectMisses), x86::r10);
  a.mov(x86::r9d, Imm(0));  // The whole block ran.
  // exit_common: guest registers and flags live; [eip] set; R9 = instructions
  // of the current block not executed (returned to the budget).
  a.bind(exit_common);
  emit_save_flags(a, x86::dword_ptr(x86::r15, kOffFlagsImage));
  for (uint8_t g = 0; g < 8; ++g) a.mov(x86::dword_ptr(x86::r15, kOffGpr + 4 * g), guest32(g));
  a.mov(x86::dword_ptr(x86::r15, kOffStatus), Imm(kExitNext));
  // exit_synced: state already stored, status set by the helper; R9 as above.
  a.bind(exit_synced);
  a.mov(x86::r9d, x86::r9d);
  a.add(x86::r13, x86::r9);
  a.mov(x86::qword_ptr(x86::r15, kOffBudget), x86::r13);
  a.add(x86::rsp, 8);
  a.pop(x86::r15);
  a.pop(x86::r14);
  a.pop(x86::r13);
  a.pop(x86::r12);
  a.pop(x86::rbp);
  a.pop(x86::rbx);
  a.ret();

  // The x87 load and ready stubs (host_fpu.h).
  Label fpu_load = a.newLabel(), fpu_ready = a.newLabel();
  host_fpu::emit_stubs(a, fpu_load, fpu_ready);

  // slow_common: the shared part of every native memory access's slow path
  // (jit_abi.h, SlowSite). R10 = the SlowSite, R8D = the guest linear
  // address, R11D = the flags image; guest registers live; RSP aligned.
  Label slow_common = a.newLabel(), slow_continue = a.newLabel(), slow_end = a.newLabel(),
        slow_fault = a.newLabel();
  auto site = [](int32_t field) { return x86::ptr(x86::r10, field); };
  auto load_guest = [&] {
    for (uint8_t g = 0; g < 8; ++g) a.mov(guest32(g), x86::dword_ptr(x86::r15, kOffGpr + 4 * g));
    a.mov(x86::r14, x86::qword_ptr(x86::r15, kOffMemBase));  // CPL may have changed.
  };
  auto reload_flags = [&] {  // Host flags and R11D from the image (the code jumped to may expect either).
    emit_restore_flags(a, x86::dword_ptr(x86::r15, kOffFlagsImage));
    a.mov(x86::r11d, x86::dword_ptr(x86::r15, kOffFlagsImage));
    a.mov(x86::r10, x86::qword_ptr(x86::r15, kOffSlowSite));
  };
  a.bind(slow_common);
  a.mov(x86::dword_ptr(x86::r15, kOffFlagsImage), x86::r11d);
  for (uint8_t g = 0; g < 8; ++g) a.mov(x86::dword_ptr(x86::r15, kOffGpr + 4 * g), guest32(g));
  a.mov(x86::qword_ptr(x86::r15, kOffSlowSite), x86::r10);
  // The budget as charged up to this instruction (exact -icount clock).
  a.mov(x86::r11d, site(offsetof(SlowSite, unexecuted)));
  a.add(x86::r11, x86::r13);
  a.mov(x86::qword_ptr(x86::r15, kOffBudget), x86::r11);
  a.mov(x86::r11d, site(offsetof(SlowSite, eip)));
  a.mov(x86::dword_ptr(x86::r15, kOffEip), x86::r11d);
  a.mov(x86::rdi, x86::r15);
  a.mov(x86::esi, x86::r8d);
  a.mov(x86::rdx, x86::r10);
  a.mov(x86::r11, Imm(reinterpret_cast<uint64_t>(&vmm_jit_mem_slow_site)));
  a.call(x86::r11);
  a.mov(x86::r10, x86::qword_ptr(x86::r15, kOffSlowSite));
  a.cmp(x86::rax, Imm(kSlowException));
  a.je(slow_fault);
  a.cmp(x86::rax, Imm(kSlowEndBlock));
  a.je(slow_end);
  a.cmp(x86::rax, Imm(kSlowContinue));
  a.je(slow_continue);
  // A host address: the access runs again on it.
  a.mov(x86::r8, x86::rax);
  load_guest();
  if (views_) {
    // A view access addresses [R14 + R8]; a probed one [R8].
    Label probed = a.newLabel();
    a.test(x86::dword_ptr(x86::r10, offsetof(SlowSite, kind)), Imm(kMemView));
    a.jz(probed);
    a.sub(x86::r8, x86::r14);
    a.bind(probed);
  }
  reload_flags();
  a.jmp(site(offsetof(SlowSite, resume)));
  a.bind(slow_continue);
  load_guest();
  reload_flags();
  a.jmp(site(offsetof(SlowSite, after)));
  a.bind(slow_end);
  a.mov(x86::r9d, site(offsetof(SlowSite, unexecuted_after)));
  a.jmp(exit_synced);
  a.bind(slow_fault);
  a.mov(x86::r9d, site(offsetof(SlowSite, unexecuted)));
  a.jmp(exit_synced);

  code.flatten();
  code.resolveUnresolvedLinks();
  const size_t size = code.codeSize();
  uint8_t* dst = buffer_.allocate(size);
  if (!dst || reinterpret_cast<uintptr_t>(dst) != base) throw std::runtime_error("JIT: code buffer too small");
  code.relocateToBase(base);
  code.copyFlattenedData(buffer_.writable(dst), size);
  enter_ = reinterpret_cast<EnterFn>(dst);
  exit_common_ = base + code.labelOffsetFromBase(exit_common);
  exit_synced_ = base + code.labelOffsetFromBase(exit_synced);
  miss_stub_ = base + code.labelOffsetFromBase(miss_stub);
  slow_common_ = base + code.labelOffsetFromBase(slow_common);
  fpu_stubs_.load = base + code.labelOffsetFromBase(fpu_load);
  fpu_stubs_.ready = base + code.labelOffsetFromBase(fpu_ready);
  trampoline_bytes_ = buffer_.used();
}

void JitEngine::flush() {
  if (cpu_.profiler) cpu_.profiler->flushing();
  // Translations of the old generation are recognised by Block::jit_generation.
  buffer_.reset_to(trampoline_bytes_);
  ++generation_;
  ++stats_.flushes;
  sites_.clear();
  trap_sites_.clear();
  fault_sites_.clear();
  churn_.clear();
  exceptions_at_.clear();
  incoming_.clear();
  block_at_.clear();
  last_exit_ = nullptr;
  clear_jump_table();
}

JumpTable& JitEngine::jump_table_of(uint32_t mode) {
  if (mode == last_mode_) return *last_table_;
  std::unique_ptr<JumpTable>& t = jump_tables_[mode];
  if (!t) {
    t = std::make_unique<JumpTable>();
    t->filled.resize(kJumpTableSize);  // A new table is cleared whole.
    clear(*t);
  }
  last_mode_ = mode;
  last_table_ = t.get();
  return *t;
}

void JitEngine::clear(JumpTable& t, bool keep_global) const {
  if (keep_global) {
    // A CR3 load: blocks of global code stay, as their translations do (the
    // list is compacted in place to the slots kept).
    size_t kept = 0;
    for (const uint16_t slot : t.filled) {
      if (t.host[slot] == miss_stub_) continue;
      if (t.global[slot]) {
        t.filled[kept++] = slot;
        continue;
      }
      t.eip[slot] = 0;
      t.host[slot] = miss_stub_;
    }
    t.filled.resize(kept);
    return;
  }
  if (t.filled.size() < kJumpTableSize / 8) {
    for (const unsigned slot : t.filled) {
      t.eip[slot] = 0;
      t.host[slot] = miss_stub_;
    }
  } else {
    std::fill(std::begin(t.eip), std::end(t.eip), 0u);
    std::fill(std::begin(t.host), std::end(t.host), static_cast<uint64_t>(miss_stub_));
  }
  t.filled.clear();
}

void JitEngine::clear_jump_table(bool keep_global) {
  for (auto& [mode, t] : jump_tables_) clear(*t, keep_global);
}

void JitEngine::drop_jump_table_page(uint32_t lin_page) {
  // The tables hold blocks with CS base 0 on one page only: EIP is linear.
  for (auto& [mode, t] : jump_tables_) {
    for (const unsigned slot : t->filled) {
      if ((t->eip[slot] & kPageMask) == lin_page && t->host[slot] != miss_stub_) {
        t->eip[slot] = 0;
        t->host[slot] = miss_stub_;
      }
    }
  }
}

// Translations adapt to what an instruction keeps costing at run time
// (docs/architecture.md, "Translations adapt"): after kAdaptAfter host
// faults or traps of one kind, its record is marked `how` (iclass::kUseHelper
// or kProbeMemory) and its block translated again without that cost.
namespace {
constexpr uint32_t kAdaptAfter = 8;
}  // namespace

void JitEngine::retranslate_as(InstrRecord* in, Block* b, uint16_t how, uint64_t& counter) {
  if (in->cls & how) return;
  in->cls |= how;
  ++counter;
  translate_again(b);
}

void JitEngine::demote(const SlowSite& site) {
  // A device, unassigned memory or a page holding code: at once.
  retranslate_as(const_cast<InstrRecord*>(site.instr), site.block, iclass::kUseHelper, stats_.demoted_accesses);
}

void JitEngine::translate_again(Block* b) {
  // Unlinked like a dropped block, so nothing enters the old code again.
  block_retired(b);
  b->host_code = nullptr;
}

// Each host trap costs a signal; the interpreter's handler checks for #DE
// in C++. An instruction that keeps trapping becomes a helper call.
void JitEngine::note_host_trap(const TrapSite& t) {
  if (++exceptions_at_[t.instr] < kAdaptAfter) return;
  retranslate_as(t.instr, t.block, iclass::kUseHelper, stats_.demoted_accesses);
}

// A view access that keeps raising a guest exception (#PF on a page that
// stays not present) costs a host fault each time: a probe misses instead.
void JitEngine::note_view_exception(const SlowSite& site) {
  auto* in = const_cast<InstrRecord*>(site.instr);
  if (++exceptions_at_[in] < kAdaptAfter) return;
  retranslate_as(in, site.block, iclass::kProbeMemory, stats_.probed_accesses);
}

// An access that faults again and again in the views becomes a probe: when
// the page it mapped last time faults again, or has been unmapped since (a
// map, touch, unmap loop; pages of the supervisor view dropped at CR3 loads).
// Streaming over new pages, whose mappings stay, does not count, nor a
// page first touched in another address space's view. Measured
// on mm_ptchurn (200,000 map/touch/unmap iterations): 2.3 s counting only
// the same page again, 0.31 s so (0.13 s with --host-mmu=off); on Linux the
// same either way.
void JitEngine::note_view_refill(const SlowSite& site, uint32_t lin) {
  ViewChurn& c = churn_[&site];
  const uint32_t page = lin >> 12;
  const unsigned idx = cpu_.mmu_idx();
  const uintptr_t view = views_->base(idx);
  // Only in the same view: the same code touching its page in another
  // process's view for the first time is no churn (mm_spaces).
  // Faults while the views are full count too: the page will not stay
  // (hostile/alias_flood: a million aliased pages read once each).
  const bool again = (c.seen && c.view == view && (c.page == page || !views_->is_mapped(idx, c.page << 12))) ||
                     views_->under_pressure();
  c.seen = true;
  c.view = view;
  c.page = page;
  if (!again || ++c.refaults < kAdaptAfter) return;
  retranslate_as(const_cast<InstrRecord*>(site.instr), site.block, iclass::kProbeMemory, stats_.probed_accesses);
}

void JitEngine::block_retired(Block* b) {
  auto it = incoming_.find(b);
  if (it != incoming_.end()) {
    for (ChainSite* site : it->second) {
      if (site->target == b->host_code) {
        patch_jump(buffer_, site->jump_end, site->stub);
        site->target = nullptr;
        ++stats_.unchains;
      }
    }
    incoming_.erase(it);
  }
  if (b->host_code) block_at_.erase(b->host_code);
  auto table = jump_tables_.find(b->mode);
  if (b->host_code && table != jump_tables_.end()) {
    JumpTable& t = *table->second;
    const unsigned slot = jump_table_slot(b->virt_pc);
    if (t.host[slot] == reinterpret_cast<uintptr_t>(b->host_code)) {
      t.eip[slot] = 0;
      t.host[slot] = miss_stub_;
    }
  }
  if (last_exit_ && last_exit_->target == b->host_code) last_exit_ = nullptr;
}

// Chains the exit taken last into `b` when that is safe: the target is on the
// source block's physical page (so the mapping that reached the source also
// reaches the target) and in the same mode.
void JitEngine::try_chain(Block& b) {
  ChainSite* site = last_exit_;
  last_exit_ = nullptr;
  if (!site || site->target || site->target_eip != b.virt_pc) return;
  if ((b.phys_pc & kPageMask) != site->from_page || b.mode != site->from_mode) return;
  if (b.phys_page2 != ~0u) return;  // Its second page is checked at lookup; keep it behind the dispatcher.
  patch_jump(buffer_, site->jump_end, static_cast<uint8_t*>(b.host_code));
  site->target = static_cast<uint8_t*>(b.host_code);
  incoming_[&b].push_back(site);
  ++stats_.chains;
}

void* JitEngine::translate(Block& b) {
  const auto t0 = std::chrono::steady_clock::now();
  void* code = translator_->translate(b, sites_);
  if (!code) {
    flush();
    code = translator_->translate(b, sites_);
    if (!code) throw std::runtime_error("JIT: a single block does not fit in the code buffer (--tb-size)");
  }
  b.jit_generation = generation_;
  block_at_[code] = &b;
  if (cpu_.profiler) cpu_.profiler->translated(b);
  ++stats_.translations;
  stats_.translate_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (cpu_.log && cpu_.log->enabled_at(LogMask::kOutAsm, b.virt_pc)) {
    cpu_.log->printf(LogMask::kOutAsm, "OUT: [guest 0x%08x, %zu instructions, %u host bytes]\n%s\n", b.virt_pc,
                     b.instrs.size(), b.host_size, disassemble_host(b.host_code, b.host_size).c_str());
  }
  if (perf_map_) {
    std::fprintf(perf_map_.get(), "%lx %x vmm_block_%08x_mode%x\n", static_cast<unsigned long>(reinterpret_cast<uintptr_t>(code)),
                 b.host_size, b.virt_pc, b.mode);
    std::fflush(perf_map_.get());
  }
  return code;
}

bool JitEngine::open_perf_map() {
  char path[64];
  std::snprintf(path, sizeof path, "/tmp/perf-%d.map", static_cast<int>(getpid()));
  perf_map_.reset(std::fopen(path, "w"));
  if (!perf_map_) return false;
  std::fprintf(perf_map_.get(), "%lx %zx vmm_trampolines\n",
               static_cast<unsigned long>(reinterpret_cast<uintptr_t>(buffer_.base())), trampoline_bytes_);
  return true;
}

uintptr_t JitEngine::mem_base() const { return views_ ? views_->base(cpu_.mmu_idx()) : 0; }

EngineStats JitEngine::stats() const {
  // Translated code counts inline lookups in CpuState (no copy per dispatch).
  EngineStats e = stats_;
  e.indirect_lookups = cpu_.s.jit.indirect_lookups;
  e.indirect_misses = cpu_.s.jit.indirect_misses;
  e.fpu_loads = cpu_.s.jit.fpu_loads;
  return e;
}

uint64_t JitEngine::in_flight() const {
  return running_ ? static_cast<uint64_t>(entry_budget_ - cpu_.s.jit.budget) : 0;
}

uint64_t JitEngine::execute(Block& b, uint64_t budget, bool& faulted) {
  const bool fresh = !(b.host_code && b.jit_generation == generation_);
  if (fresh) last_exit_ = nullptr;  // A flush may have dropped the source of the last exit.
  void* code = fresh ? translate(b) : b.host_code;
  if (last_exit_ && chaining_) try_chain(b);
  CpuState& s = cpu_.s;
  // Indirect branches that reach this block from now on stay in translated code.
  if (b.phys_page2 == ~0u && chaining_ && inline_lookup_ && (b.mode & blockmode::kCsBaseZero)) {
    JumpTable& t = jump_table_of(b.mode);
    const unsigned slot = jump_table_slot(b.virt_pc);
    if (t.host[slot] == miss_stub_) {
      if (t.filled.size() >= 2 * kJumpTableSize) {  // Slots emptied and filled again: list each once.
        t.filled.clear();
        for (unsigned i = 0; i < kJumpTableSize; ++i)
          if (t.host[i] != miss_stub_) t.filled.push_back(static_cast<uint16_t>(i));
      }
      t.filled.push_back(static_cast<uint16_t>(slot));
    }
    t.eip[slot] = b.virt_pc;
    t.host[slot] = reinterpret_cast<uintptr_t>(code);
    t.global[slot] = b.global_code;
  }
  // Within +-2^31 for the budget test on backward exits (Translator).
  const int64_t start = static_cast<int64_t>(std::min<uint64_t>(budget, uint64_t{1} << 30));
  s.jit.cpu = reinterpret_cast<uintptr_t>(&cpu_);
  s.jit.mem_base = mem_base();
  // The guest's x87 registers are in CpuState (host_fpu.h): a translation
  // with native x87 code loads them. (A CPU reset clears CpuState::jit.)
  s.jit.fpu_enter = fpu_stubs_.load;
  flags_to_image(s);
  s.jit.budget = start;
  s.jit.status = kExitNext;
  s.jit.chain_from = 0;
  ++stats_.executions;
  entry_budget_ = start;
  running_ = true;
  enter_(&s, code);
  running_ = false;
  host_fpu::store(s, fpu_stubs_);  // The guest's x87 registers, if a translation loaded them.
  flags_from_image(s);
  if (s.jit.status == kExitHostTrap) {
    // A native DIV/IDIV trapped; the handler stored the guest state at it.
    ++stats_.host_traps;
    if (last_trap_) note_host_trap(*last_trap_);
    last_trap_ = nullptr;
    cpu_.set_pending_exception(GuestException{kDE, false, 0});
    s.jit.status = kExitException;
  }
  faulted = s.jit.status == kExitException;
  if (faulted) ++stats_.exceptions;
  last_exit_ = reinterpret_cast<ChainSite*>(s.jit.chain_from);
  // Budget tests sit on backward exits only, so a run may overshoot a little
  // (deterministically); the count is exact either way.
  const uint64_t done = static_cast<uint64_t>(start - s.jit.budget);
  if (done >= budget && !faulted) ++stats_.budget_exits;
  if (!chaining_) last_exit_ = nullptr;
  return done;
}

}  // namespace vmm::jit

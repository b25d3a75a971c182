#include "jit/host_trap.h"

#include <signal.h>
#include <ucontext.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <stdexcept>

#include "jit/jit_abi.h"
#include "runtime/console.h"
#include "runtime/cpu_state.h"
#include "runtime/machine.h"  // kExitGuestCrash
#include "runtime/sanitizers.h"
#include "runtime/interp/flags.h"

namespace vmm::jit {

namespace {

// Engines alive at once: one per Cpu with the JIT on (two in lockstep runs,
// a few in unit tests). Slots are claimed and released from normal code;
// the handler only reads them, and only for signals raised synchronously
// by the thread running translated code, never while a slot is changing.
constexpr int kMaxRegions = 32;
TrapRegion g_regions[kMaxRegions];
std::atomic<bool> g_used[kMaxRegions];
std::mutex g_register_mutex;

constexpr int kSignals[] = {SIGFPE, SIGSEGV, SIGBUS, SIGILL};
struct sigaction g_previous[sizeof kSignals / sizeof kSignals[0]];

const TrapRegion* region_of(uintptr_t pc) {
  for (int i = 0; i < kMaxRegions; ++i)
    if (g_used[i].load(std::memory_order_acquire) && pc >= g_regions[i].begin && pc < g_regions[i].end)
      return &g_regions[i];
  return nullptr;
}

const char* signal_name(int sig) {
  switch (sig) {
    case SIGFPE: return "SIGFPE";
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGILL: return "SIGILL";
    default: return "signal";
  }
}

// The guest #DE of a native DIV/IDIV: the instruction did not execute, so
// the host registers and RFLAGS in the context are the guest's state before
// it (the translator keeps the flags exact in front of a trapping site).
void deliver_divide_error(ucontext_t* uc, const TrapRegion& r, const TrapSite& t) {
  greg_t* g = uc->uc_mcontext.gregs;
  auto* s = reinterpret_cast<CpuState*>(g[REG_R15]);
  static constexpr int kGuestRegs[8] = {REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_R12, REG_RBP, REG_RSI, REG_RDI};
  for (int i = 0; i < 8; ++i) s->gpr[i] = static_cast<uint32_t>(g[kGuestRegs[i]]);
  s->jit.flags_image = interp::flags_to_ax(static_cast<uint32_t>(g[REG_EFL]));
  s->eip = t.guest_eip;
  s->jit.status = kExitHostTrap;
  g[REG_R9] = t.unexecuted;
  g[REG_RIP] = static_cast<greg_t>(r.exit_synced);
}

// A guest access through a view hit a page not mapped for it: nothing of the
// instruction has happened, so its slow path takes over as after a TLB miss.
void resume_at_slow_path(ucontext_t* uc, const FaultSite& f) {
  greg_t* g = uc->uc_mcontext.gregs;
  if (f.flags_in_rflags) g[REG_R11] = interp::flags_to_ax(static_cast<uint32_t>(g[REG_EFL]));
  g[REG_RIP] = static_cast<greg_t>(f.slow_path);
}

// A host fault that is no guest access and no guest #DE is a VMM bug: one
// report naming the host PC and, in translated code, the guest block and
// instruction; then the end of the process, before any more guest code runs.
void report_vmm_fault(int sig, const siginfo_t* info, uintptr_t pc, const TrapRegion* r) {
  char msg[320];
  int n;
  uint32_t block_eip = ~0u, instr_eip = ~0u;
  if (r && r->guest_code_at && r->guest_code_at(r->engine, pc, block_eip, instr_eip)) {
    char instr[48] = "in its out-of-line code";
    if (instr_eip != ~0u) std::snprintf(instr, sizeof instr, "guest instruction at EIP %#x", instr_eip);
    n = std::snprintf(msg, sizeof msg,
                      "vmm: fatal: host %s at %#lx in translated code of the guest block at EIP %#x, %s; fault "
                      "address %p (a vmm bug)\n",
                      signal_name(sig), static_cast<unsigned long>(pc), block_eip, instr, info->si_addr);
  } else {
    n = std::snprintf(msg, sizeof msg, "vmm: fatal: host %s at %#lx %s; fault address %p (a vmm bug)\n",
                      signal_name(sig), static_cast<unsigned long>(pc),
                      r ? "in the translated-code buffer outside any block" : "outside translated code",
                      info->si_addr);
  }
  if (n > 0) (void)!write(STDERR_FILENO, msg, static_cast<size_t>(std::min<int>(n, sizeof msg - 1)));
  if constexpr (kAddressSanitizer) {
    // The sanitizer's report (with a stack trace) comes from re-executing
    // the faulting instruction under its handler.
    for (size_t i = 0; i < sizeof kSignals / sizeof kSignals[0]; ++i)
      if (kSignals[i] == sig) sigaction(sig, &g_previous[i], nullptr);
    return;
  }
  TerminalConsole::restore_from_signal_handler();
  _exit(kExitGuestCrash);
}

void on_host_signal(int sig, siginfo_t* info, void* ctx) {
  auto* uc = static_cast<ucontext_t*>(ctx);
  const uintptr_t pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  const TrapRegion* r = region_of(pc);
  if (sig == SIGSEGV && r && r->faults) {
    const auto addr = reinterpret_cast<uintptr_t>(info->si_addr);
    if (addr >= r->view_begin && addr < r->view_end) {
      if (const FaultSite* f = r->faults->find(pc)) {
        ++*r->fault_count;
        resume_at_slow_path(uc, *f);
        return;
      }
    }
  }
  if (sig == SIGFPE && r && info->si_code == FPE_INTDIV) {
    if (const TrapSite* t = r->sites->find(pc)) {
      if (r->last_trap) *r->last_trap = t;
      deliver_divide_error(uc, *r, *t);
      return;
    }
  }
  report_vmm_fault(sig, info, pc, r);
}

void install_handlers() {
  for (size_t i = 0; i < sizeof kSignals / sizeof kSignals[0]; ++i) {
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_host_signal;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(kSignals[i], &sa, &g_previous[i]);
  }
}

}  // namespace

int register_trap_region(const TrapRegion& r) {
  static std::once_flag installed;
  std::call_once(installed, install_handlers);
  std::lock_guard<std::mutex> lock(g_register_mutex);
  for (int i = 0; i < kMaxRegions; ++i) {
    if (!g_used[i].load(std::memory_order_relaxed)) {
      g_regions[i] = r;
      g_used[i].store(true, std::memory_order_release);
      return i;
    }
  }
  throw std::runtime_error("JIT: too many engines alive at once");
}

void unregister_trap_region(int slot) {
  std::lock_guard<std::mutex> lock(g_register_mutex);
  g_used[slot].store(false, std::memory_order_release);
}

}  // namespace vmm::jit

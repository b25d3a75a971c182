#include "runtime/machine.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "devices/debug_exit.h"
#include "devices/multiboot.h"
#include "devices/uart16550.h"
#include "frontend/decoder.h"
#include "jit/jit_engine.h"
#include "runtime/interrupts.h"

namespace vmm {

namespace {
// Instructions per slice of guest execution between polls of host input.
constexpr uint64_t kSliceInstructions = 1u << 20;
}  // namespace

Machine::Machine(const MachineConfig& config, Log& log) : config_(config), log_(log) {
  ram_ = std::make_unique<GuestRam>(config.ram_bytes);
  cpu_ = std::make_unique<Cpu>(*ram_, bus_);
  cpu_->log = &log_;
  if (config.engine == Engine::kJit) cpu_->enable_jit(config.tb_bytes);

  uart_ = std::make_unique<Uart16550>([this](uint8_t byte) {
    printed_ = true;
    if (config_.serial_stdio) {
      std::fputc(byte, stdout);
      if (byte == '\n') std::fflush(stdout);
    }
  });
  bus_.register_pio(Uart16550::kCom1Base, Uart16550::kPortCount, uart_.get());
  exit_device_ = std::make_unique<DebugExit>([this](int status) { cpu_->request_stop(StopReason::kExitDevice, status); });
  bus_.register_pio(DebugExit::kDefaultBase, DebugExit::kDefaultLength, exit_device_.get());
  bus_.on_unhandled = [this](const char* space, uint32_t addr, unsigned size, bool is_write, uint32_t value) {
    if (is_write)
      log_.printf(LogMask::kUnimp, "unassigned %s write: addr=0x%x size=%u value=0x%x\n", space, addr, size, value);
    else
      log_.printf(LogMask::kUnimp, "unassigned %s read: addr=0x%x size=%u\n", space, addr, size);
  };
  cpu_->mmu.on_unassigned = [this](uint32_t addr, unsigned size, bool is_write) {
    log_.printf(LogMask::kUnimp, "unassigned memory %s: addr=0x%x size=%u\n", is_write ? "write" : "read", addr, size);
  };

  cpu_->on_exception = [](Cpu& cpu, const GuestException& e) { deliver_exception(cpu, e); };

  kernel_image_ = read_file(config.kernel);
  boot();
  if (!isatty(STDIN_FILENO) && !config.serial_stdio) input_open_ = false;
}

Machine::~Machine() = default;

void Machine::boot() {
  // QEMU passes "<kernel file> <append>" as the multiboot command line.
  const BootInfo info = load_multiboot(*ram_, kernel_image_, config_.kernel + " " + config_.append);
  cpu_->reset_flat_protected(info.entry);
  cpu_->s.gpr[EAX] = info.eax;
  cpu_->s.gpr[EBX] = info.ebx;
}

void Machine::reset() {
  // A PC reset re-runs the firmware, which loads the kernel again (as QEMU's
  // -kernel option ROM does); RAM is cleared first.
  std::memset(ram_->data(), 0, ram_->size());
  uart_->reset();
  cpu_->flush_code_cache();
  cpu_->clear_stop();
  boot();
}

void Machine::poll_input() {
  if (!input_open_ || !config_.serial_stdio) return;
  while (uart_->can_receive()) {
    pollfd p{STDIN_FILENO, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP))) return;
    uint8_t byte;
    const ssize_t n = ::read(STDIN_FILENO, &byte, 1);
    if (n <= 0) {
      input_open_ = false;  // EOF or error: no more host input.
      return;
    }
    uart_->receive(byte);
  }
}

bool Machine::wait_for_event() {
  // No interrupt source is wired yet: the CPU cannot be woken.
  return false;
}

int Machine::run() {
  for (;;) {
    poll_input();
    const StopReason r = cpu_->run(kSliceInstructions);
    if (r == StopReason::kInstructionLimit) continue;
    std::fflush(stdout);
    switch (r) {
      case StopReason::kExitDevice:
        return cpu_->exit_status();
      case StopReason::kHalted:
        // HLT with interrupts disabled: nothing can wake the CPU (no NMI source).
        if (!(cpu_->s.eflags & flag::IF)) return 0;
        if (!wait_for_event()) {
          std::fprintf(stderr, "vmm: guest halted with interrupts enabled and no device able to wake it (eip=0x%08x)\n",
                       cpu_->s.eip);
          return 0;
        }
        continue;
      case StopReason::kTripleFault:
        if (config_.no_reboot) {
          std::fprintf(stderr, "vmm: guest %s; exiting (-no-reboot)\n", cpu_->stop_message().c_str());
          return kExitGuestCrash;
        }
        std::fprintf(stderr, "vmm: guest %s; resetting\n", cpu_->stop_message().c_str());
        reset();
        continue;
      default:
        std::fprintf(stderr, "vmm: %s\n",
                     cpu_->stop_message().empty() ? "guest stopped" : cpu_->stop_message().c_str());
        return kExitGuestCrash;
    }
  }
}

void Machine::print_stats(FILE* out, double seconds) const {
  const CpuStats& c = cpu_->stats();
  const SoftMmuStats& m = cpu_->mmu.stats();
  std::fprintf(out, "--- vmm statistics ---\n");
  std::fprintf(out, "engine                 %s\n", config_.engine == Engine::kJit ? "jit (interpreter fallback)" : "interp");
  std::fprintf(out, "guest instructions     %" PRIu64 "\n", c.instructions);
  std::fprintf(out, "run time               %.3f s\n", seconds);
  std::fprintf(out, "guest MIPS             %.1f\n", seconds > 0 ? c.instructions / seconds / 1e6 : 0.0);
  std::fprintf(out, "blocks decoded         %" PRIu64 " (%" PRIu64 " instructions)\n", c.blocks_built, c.instrs_decoded);
  std::fprintf(out, "block lookups          %" PRIu64 " (jump cache hits %" PRIu64 ")\n", c.block_lookups,
               c.jump_cache_hits);
  std::fprintf(out, "blocks invalidated     %" PRIu64 " (code-page writes %" PRIu64 ")\n", c.blocks_invalidated,
               m.code_writes);
  std::fprintf(out, "exceptions             %" PRIu64 "\n", c.exceptions);
  std::fprintf(out, "page walks             %" PRIu64 " (page faults %" PRIu64 ")\n", m.walks, m.page_faults);
  std::fprintf(out, "tlb flushes            %" PRIu64 " full, %" PRIu64 " single-page\n", m.flushes, m.page_flushes);
  std::fprintf(out, "mmio/unassigned access %" PRIu64 "\n", m.mmio_accesses);
  std::fprintf(out, "unhandled port/mmio    %" PRIu64 " reads, %" PRIu64 " writes\n", bus_.unhandled_reads(),
               bus_.unhandled_writes());
  if (jit::JitEngine* j = cpu_->jit()) {
    const jit::EngineStats& e = j->stats();
    const jit::TranslatorStats& t = j->translator_stats();
    std::fprintf(out, "jit blocks translated  %" PRIu64 " (%" PRIu64 " guest instructions, %" PRIu64 " flushes)\n",
                 e.translations, t.guest_instrs, e.flushes);
    std::fprintf(out, "jit native instrs      %" PRIu64 " (%.1f%% of translated)\n", t.native_instrs,
                 t.guest_instrs ? 100.0 * t.native_instrs / t.guest_instrs : 0.0);
    std::fprintf(out, "jit helper instrs      %" PRIu64 " (high-byte/REX fallbacks %" PRIu64 ")\n", t.helper_instrs,
                 t.high_byte_fallbacks);
    std::fprintf(out, "jit memory probes      %" PRIu64 " (live-flag restores %" PRIu64 ")\n", t.memory_probes,
                 t.flag_saves);
    std::fprintf(out, "jit host bytes/guest   %.1f\n", t.guest_instrs ? double(t.host_bytes) / t.guest_instrs : 0.0);
    std::fprintf(out, "jit translate time     %.3f s\n", e.translate_seconds);
    std::fprintf(out, "jit block entries      %" PRIu64 " (exceptions %" PRIu64 ")\n", e.executions, e.exceptions);
    std::vector<std::pair<uint64_t, uint16_t>> by;
    for (const auto& [m, n] : t.helper_by_mnemonic) by.emplace_back(n, m);
    std::sort(by.rbegin(), by.rend());
    std::fprintf(out, "jit interpreter fallbacks by mnemonic (translated sites):");
    for (size_t i = 0; i < by.size() && i < 16; ++i) std::fprintf(out, " %s=%" PRIu64, mnemonic_name(by[i].second), by[i].first);
    std::fprintf(out, "\n");
  }
}

}  // namespace vmm

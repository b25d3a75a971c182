#include "runtime/machine.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "devices/cmos_rtc.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/linux_boot.h"
#include "devices/pci_stub.h"
#include "devices/acpi_pm.h"
#include "devices/acpi_tables.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "devices/system_ports.h"
#include "runtime/virtual_clock.h"
#include "devices/multiboot.h"
#include "devices/uart16550.h"
#include "runtime/console.h"
#include "runtime/fpu.h"
#include "runtime/interrupts.h"
#include "runtime/read_file.h"
#include "runtime/stats_report.h"

namespace vmm {

namespace {
// Instructions per slice of guest execution between polls of host input and
// timers. With host time this bounds timer latency (~0.1-0.5 ms at the
// engines' speeds); with --icount slices also end exactly at timer deadlines.
constexpr uint64_t kSliceInstructions = 1u << 17;

// The largest kernel file vmm reads: its loaded parts must fit in guest RAM,
// but symbols and debug information may make the file larger, so the limit
// is guest RAM or 1 GiB, whichever is larger.
uint64_t max_kernel_file_bytes(uint64_t ram_bytes) { return std::max<uint64_t>(ram_bytes, uint64_t{1} << 30); }
}  // namespace

Machine::Machine(const MachineConfig& config, Log& log) : config_(config), log_(log) {
  ram_ = std::make_unique<GuestRam>(config.ram_bytes);
  cpu_ = std::make_unique<Cpu>(*ram_, bus_);
  cpu_->log = &log_;
  if (config.engine == Engine::kJit) cpu_->enable_jit(config.tb_bytes, config.host_mmu, config.jit_threshold);
  EngineTuning tuning = config.tuning;
  if (log_.enabled(LogMask::kNoChain)) tuning.chaining = false;  // QEMU's -d nochain.
  cpu_->set_tuning(tuning);

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
  wire_devices();
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

  kernel_image_ = read_file_bounded(config.kernel, max_kernel_file_bytes(config.ram_bytes));
  // The initrd goes into guest RAM whole: no larger file can be used.
  if (!config.initrd.empty()) initrd_image_ = read_file_bounded(config.initrd, config.ram_bytes);
  try {
    boot();
  } catch (const InitrdError& e) {
    throw LoadError(config.initrd + ": " + e.what());
  } catch (const LoadError& e) {
    throw LoadError(config.kernel + ": " + e.what());  // One line that names the file.
  }
  if (!isatty(STDIN_FILENO) && !config.serial_stdio) input_open_ = false;
}

Machine::~Machine() = default;

// The PC's interrupt and timer devices, wired as on a PC/AT: PIT channel 0
// on IRQ0, the 8042 on IRQ1/12, COM1 on IRQ4, the RTC on IRQ8, the slave PIC
// cascaded on IRQ2, and the PIC's INTR to the CPU.
void Machine::wire_devices() {
  if (config_.icount) {
    clock_ = std::make_unique<VirtualClock>([this] { return cpu_->retired_instructions(); }, config_.icount_shift);
  } else {
    clock_ = std::make_unique<VirtualClock>();
    // A long REP instruction stops between iterations for a due timer.
    cpu_->timers_due = [this] { return clock_->now_ns() >= clock_->next_deadline(); };
  }
  auto request_reset = [this] { cpu_->request_stop(StopReason::kReset); };
  cpu_->tsc_source = [this] { return clock_->now_ns(); };

  pic_ = std::make_unique<Pic8259Pair>();
  pic_->attach(bus_);
  pic_->intr = [this](bool level) { cpu_->set_intr(level); };
  cpu_->acknowledge_interrupt = [this] { return pic_->acknowledge(); };

  pit_ = std::make_unique<Pit8254>(*clock_);
  bus_.register_pio(Pit8254::kBase, Pit8254::kPortCount, pit_.get());
  pit_->irq0 = [this](bool level) { pic_->set_irq(0, level); };

  port61_ = std::make_unique<SystemControlPortB>([this](bool gate) { pit_->set_gate(2, gate); },
                                                 [this] { return pit_->out(2); });
  bus_.register_pio(SystemControlPortB::kPort, 1, port61_.get());
  post_ = std::make_unique<PostPort>();
  bus_.register_pio(PostPort::kPort, 1, post_.get());
  port92_ = std::make_unique<SystemControlPortA>(request_reset);
  bus_.register_pio(SystemControlPortA::kPort, 1, port92_.get());

  rtc_ = std::make_unique<CmosRtc>(*clock_, config_.ram_bytes);
  bus_.register_pio(CmosRtc::kBase, CmosRtc::kPortCount, rtc_.get());
  rtc_->irq = [this](bool level) { pic_->set_irq(8, level); };

  kbc_ = std::make_unique<I8042>(request_reset);
  bus_.register_pio(I8042::kDataPort, 1, &kbc_->data());
  bus_.register_pio(I8042::kCommandPort, 1, &kbc_->command());
  kbc_->irq1 = [this](bool level) { pic_->set_irq(1, level); };
  kbc_->irq12 = [this](bool level) { pic_->set_irq(12, level); };

  pci_ = std::make_unique<PciStub>();
  pci_->on_reset = request_reset;
  bus_.register_pio(PciStub::kBase, PciStub::kPortCount, pci_.get());

  // ACPI power management (devices/acpi_tables.h describes it to the guest):
  // entering S5 powers off, which ends vmm with status 0 as under QEMU.
  acpi_pm_ = std::make_unique<AcpiPm>(
      *clock_, [this] { cpu_->request_stop(StopReason::kExitDevice, 0); },
      [this](bool level) { pic_->set_irq(AcpiPm::kSciIrq, level); });
  bus_.register_pio(AcpiPm::kBase, AcpiPm::kPortCount, acpi_pm_.get());

  uart_->irq = [this](bool level) { pic_->set_irq(Uart16550::kCom1Irq, level); };

  // x87 errors with CR0.NE=0: FERR# -> IRQ 13, cleared through port 0xF0.
  fpu::ferr_signal = [this](Cpu&) { pic_->set_irq(13, true); };
  fpu_error_ = std::make_unique<CoprocessorErrorPort>([this] { pic_->set_irq(13, false); });
  bus_.register_pio(CoprocessorErrorPort::kPort, 1, fpu_error_.get());
}

void Machine::run_timers() {
  const uint64_t now = clock_->now_ns();
  if (now >= clock_->next_deadline()) clock_->run_due(now);
}

void Machine::boot() {
  // As QEMU decides: an image with a Linux setup header is a bzImage,
  // anything else must be a multiboot kernel.
  if (is_linux_bzimage(kernel_image_)) {
    // The command line is -append alone (QEMU's, for Linux).
    const LinuxBootInfo info =
        load_linux(*ram_, kernel_image_, config_.initrd.empty() ? nullptr : &initrd_image_, config_.append);
    cpu_->reset_protected_with_gdt(info.entry, info.gdt_base, info.gdt_limit, info.code_selector, info.data_selector);
    cpu_->s.gpr[ESI] = info.boot_params;
    // In the BIOS area the e820 map reserves: how the kernel finds the PM
    // registers and powers the machine off.
    install_acpi_tables(*ram_);
    return;
  }
  if (!config_.initrd.empty()) {
    throw LoadError("-initrd needs a Linux bzImage kernel (no setup header signature \"HdrS\" at offset 0x202); "
                    "multiboot modules are not supported");
  }
  // QEMU passes "<kernel file> <append>" as the multiboot command line.
  BootInfo info{};
  try {
    info = load_multiboot(*ram_, kernel_image_, config_.kernel + " " + config_.append);
  } catch (const LoadError&) {
    check_not_pre_2_00_linux(kernel_image_);  // A more telling message for an old Linux kernel.
    throw;
  }
  cpu_->reset_flat_protected(info.entry);
  cpu_->s.gpr[EAX] = info.eax;
  cpu_->s.gpr[EBX] = info.ebx;
}

void Machine::reset() {
  // A PC reset re-runs the firmware, which loads the kernel again (as QEMU's
  // -kernel option ROM does); RAM is cleared first.
  ram_->clear();
  uart_->reset();
  acpi_pm_->reset();
  cpu_->flush_code_cache();
  cpu_->clear_stop();
  boot();
}

void Machine::poll_input() {
  if (!input_open_ || !config_.serial_stdio) return;
  if (TerminalConsole* console = TerminalConsole::active()) {
    // An interactive terminal (runtime/console.h): its escape keys, and
    // Ctrl-A x ends the run with status 0.
    const auto status = console->pump([this] { return uart_->can_receive(); },
                                      [this](uint8_t byte) { uart_->receive(byte); });
    if (status == TerminalConsole::Status::kQuit) cpu_->request_stop(StopReason::kExitDevice, 0);
    if (status == TerminalConsole::Status::kClosed) input_open_ = false;
    return;
  }
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
  // HLT with IF=1: sleep until the next timer deadline or host input, so an
  // idle guest uses no host CPU. With --icount, time jumps to the deadline.
  const uint64_t deadline = clock_->next_deadline();
  const bool input = input_open_ && config_.serial_stdio;
  if (deadline == VirtualClock::kNoDeadline && !input) return false;
  if (clock_->deterministic()) {
    if (deadline == VirtualClock::kNoDeadline) return false;  // Input alone would make runs differ.
    clock_->warp_to(deadline);
  } else {
    const uint64_t now = clock_->now_ns();
    int timeout_ms = -1;
    if (deadline != VirtualClock::kNoDeadline) {
      timeout_ms = deadline > now ? static_cast<int>((deadline - now + 999999) / 1000000) : 0;
    }
    if (timeout_ms != 0) {
      pollfd p{input ? STDIN_FILENO : -1, POLLIN, 0};
      ::poll(&p, 1, timeout_ms);
    }
  }
  poll_input();
  run_timers();
  return true;
}

int Machine::run() {
  for (;;) {
    if (std::optional<int> status = run_slice(~uint64_t{0})) return *status;
  }
}

std::optional<int> Machine::run_slice(uint64_t max_instructions, bool to_deadline) {
  poll_input();
  run_timers();
  uint64_t slice = to_deadline ? std::min(kSliceInstructions, max_instructions) : max_instructions;
  if (to_deadline && clock_->deterministic()) {
    const uint64_t deadline = clock_->next_deadline();
    if (deadline != VirtualClock::kNoDeadline) {
      slice = std::max<uint64_t>(1, std::min(slice, clock_->instructions_until(deadline)));
    }
  }
  const StopReason r = cpu_->run(slice);
  if (r == StopReason::kInstructionLimit) return std::nullopt;
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
      return std::nullopt;
    case StopReason::kReset:
      if (config_.no_reboot) return 0;
      reset();
      return std::nullopt;
    case StopReason::kTripleFault:
      if (config_.no_reboot) {
        std::fprintf(stderr, "vmm: guest %s; exiting (-no-reboot)\n", cpu_->stop_message().c_str());
        return kExitGuestCrash;
      }
      std::fprintf(stderr, "vmm: guest %s; resetting\n", cpu_->stop_message().c_str());
      reset();
      return std::nullopt;
    default:
      std::fprintf(stderr, "vmm: %s\n", cpu_->stop_message().empty() ? "guest stopped" : cpu_->stop_message().c_str());
      return kExitGuestCrash;
  }
}

StatsReport Machine::stats_report(double seconds) const {
  return build_stats_report(StatsSources{.jit_engine = config_.engine == Engine::kJit,
                                         .seconds = seconds,
                                         .cpu = cpu_->stats(),
                                         .mmu = cpu_->mmu.stats(),
                                         .unhandled_reads = bus_.unhandled_reads(),
                                         .unhandled_writes = bus_.unhandled_writes(),
                                         .jit = cpu_->jit()});
}

}  // namespace vmm

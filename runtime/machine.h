// The PC-like machine: guest RAM, the bus with its devices, one CPU, and the
// loaders. It owns everything a guest run needs and maps a run's end to an
// exit status.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devices/bus.h"
#include "runtime/cpu.h"
#include "runtime/guest_ram.h"
#include "runtime/log.h"

namespace vmm {

class Uart16550;
class DebugExit;
class VirtualClock;
class Pic8259Pair;
class Pit8254;
class SystemControlPortA;
class SystemControlPortB;
class PostPort;
class CoprocessorErrorPort;
class CmosRtc;
class I8042;
class AcpiPm;
class PciStub;
struct StatsReport;

enum class Engine { kInterp, kJit };

struct MachineConfig {
  uint64_t ram_bytes = 128ull << 20;
  std::string kernel;
  std::string append;
  std::string initrd;  // -initrd: the initial ramdisk of a Linux bzImage kernel.
  Engine engine = Engine::kJit;  // --engine; the interpreter (kInterp) is the reference.
  bool serial_stdio = true;  // COM1 on stdin/stdout (-serial stdio); else discarded.
  bool no_reboot = false;
  uint64_t tb_bytes = 32ull << 20;  // JIT code buffer (--tb-size).
  bool host_mmu = true;             // JIT guest memory through host mappings (--host-mmu).
  unsigned jit_threshold = 32;      // A block is translated at its Nth entry (--jit-threshold).
  EngineTuning tuning;              // Block building and linking knobs (frontend/engine_tuning.h).
  bool icount = false;              // Deterministic time from the instruction count (--icount).
  unsigned icount_shift = 0;        // 2^shift ns per instruction.
};

// Process exit statuses other than the guest's own (see README).
inline constexpr int kExitUsage = 2;       // Bad option, bad or missing kernel, no memory.
inline constexpr int kExitGuestCrash = 3;  // The guest stopped on an unrecoverable condition.
inline constexpr int kExitLockstepMismatch = 4;  // --lockstep found the engines disagreeing.

class Machine {
 public:
  // Throws std::runtime_error with a one-line message when the RAM cannot be
  // allocated, FileError ("<file>: <what is wrong>") when the kernel or
  // initrd file cannot be read (read_file_bounded), or LoadError ("<file>:
  // <what is wrong>") when it is not a kernel that fits, or the initrd does
  // not fit with it.
  Machine(const MachineConfig& config, Log& log);
  ~Machine();

  // Runs the guest to its end; returns the process exit status.
  int run();
  // Runs at most `max_instructions` (fewer at a timer deadline or a stop);
  // returns the exit status once the run is over. With `to_deadline`
  // false the slice is not cut at a timer deadline: lockstep runs the
  // reference for exactly the instructions the JIT ran in its slice (which
  // may pass the deadline, since the JIT tests its budget on backward jumps).
  std::optional<int> run_slice(uint64_t max_instructions, bool to_deadline = true);

  // Execution statistics (--stats) of a run that took `seconds`.
  StatsReport stats_report(double seconds) const;

  Cpu& cpu() { return *cpu_; }
  Bus& bus() { return bus_; }
  GuestRam& ram() { return *ram_; }

 private:
  void poll_input();
  void run_timers();
  void wire_devices();
  void boot();
  void reset();
  // Waits (without spinning) until an interrupt can be pending; false when
  // nothing could ever wake the CPU.
  bool wait_for_event();

  MachineConfig config_;
  Log& log_;
  std::unique_ptr<GuestRam> ram_;
  Bus bus_;
  std::unique_ptr<Cpu> cpu_;
  // The one time source; created before every device that owns a timer.
  std::unique_ptr<VirtualClock> clock_;
  std::unique_ptr<Pic8259Pair> pic_;
  std::unique_ptr<Pit8254> pit_;
  std::unique_ptr<SystemControlPortB> port61_;
  std::unique_ptr<PostPort> post_;
  std::unique_ptr<CoprocessorErrorPort> fpu_error_;
  std::unique_ptr<SystemControlPortA> port92_;
  std::unique_ptr<CmosRtc> rtc_;
  std::unique_ptr<I8042> kbc_;
  std::unique_ptr<PciStub> pci_;
  std::unique_ptr<AcpiPm> acpi_pm_;
  std::unique_ptr<Uart16550> uart_;
  std::unique_ptr<DebugExit> exit_device_;
  std::vector<uint8_t> kernel_image_;
  std::vector<uint8_t> initrd_image_;
  bool input_open_ = true;
  bool printed_ = false;
};

}  // namespace vmm

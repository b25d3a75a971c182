// Fuzz harness: the device models of devices/ driven by a guest that does
// anything it likes with their ports, one device at a time on a bus of its
// own, or all of them together in a whole vmm::Machine.
//
// Input: [target][setup][op...]
//   target  % kTargets: the device (see make_target) or the whole board.
//   setup   target-specific: the RAM size the RTC reports; for the board,
//           bits 0-3 the icount shift, bit 4 -no-reboot, bits 5 and 6 both
//           set: the kernel whose interrupts end in an exception storm
//           (board_kernel).
//   op      a byte whose bits 0-2 are the kind and bits 3-7 its argument:
//     0, 1  port read: [range][offset], size kSizes[arg & 3], repeated
//           repeat_count(arg) times (as by REP INS: a guest polling or
//           flooding a port)
//     2, 3  port write: [range][offset][value: size bytes], repeated
//     4     MMIO read of the same address in the MMIO mirror (devices alone)
//     5     MMIO write
//     6     time passes: [u16] << (arg) ns of virtual time (board: [u16]
//           guest instructions, each 2^shift ns), then the due timers run
//     7     an event from outside the guest: a byte on the serial line, an
//           IRQ line, an INTA cycle, a PIT gate, a device reset (per target)
//   [range] picks one of the target's port ranges (0xff: [u16] any port);
//   [offset] goes up to 3 ports past the range's end, so that wide accesses
//   straddle its end and the next ports answer as unassigned.
//
// Properties checked besides "no crash, no sanitizer report, no hang":
//   - a read returns no bits beyond its size;
//   - every interrupt output callback reports the level the device reports
//     (Pic8259Pair::interrupt_pending, Uart16550::irq_level), and is called
//     only on changes;
//   - after the due timers ran, no timer is due any more (no timer storm: at
//     most kMaxCallbacksPerRun callbacks per run);
//   - queues are bounded: the UART's receiver holds at most 16 bytes (1 in
//     16450 mode) and the i8042's output buffer at most kMaxI8042Queue;
//   - the debug-exit device reports odd statuses (QEMU's (v << 1) | 1).
// Nothing here writes to the real stdout or reads stdin (the board's COM1 is
// discarded: MachineConfig::serial_stdio false), and nothing ends the
// process: the debug-exit and ACPI power-off callbacks only record the
// request (in the board they stop the CPU, which run_slice reports).
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "devices/acpi_pm.h"
#include "devices/bus.h"
#include "devices/cmos_rtc.h"
#include "devices/debug_exit.h"
#include "devices/i8042.h"
#include "devices/pci_stub.h"
#include "devices/pic8259.h"
#include "devices/pit8254.h"
#include "devices/system_ports.h"
#include "devices/uart16550.h"
#include "runtime/log.h"
#include "runtime/machine.h"
#include "runtime/virtual_clock.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using vmm::fuzz::FuzzInput;

constexpr unsigned kSizes[4] = {1, 2, 4, 1};
// Where the devices' port ranges are mirrored as MMIO (mmio op).
constexpr uint32_t kMmioMirror = 0xE0000000u;
// A device's timers may re-arm themselves inside a run, but only a handful
// of times: more is a storm (or an endless loop, which libFuzzer times out).
constexpr unsigned kMaxCallbacksPerRun = 64;
// Virtual time stays below 2^60 ns (36 years of uptime).
constexpr uint64_t kMaxTimeNs = uint64_t{1} << 60;
// The i8042's output buffer holds one byte on the real chip; the model
// queues a few replies, but must not grow with what the guest writes.
constexpr unsigned kMaxI8042Queue = 16;
// The board: guest instructions per input, to keep an input fast.
// Exceptions retire no instruction; the storm kernel's first slice delivers
// Cpu::kMaxExceptionsPerRun of them (slow: each is a C++ throw), one such
// slice per input is enough.
constexpr uint64_t kMaxBoardInstructions = uint64_t{1} << 18;
constexpr uint64_t kMaxBoardExceptions = 1;

uint32_t all_ones(unsigned size) { return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1; }

// How many times an access op is done: op bits 5-7 give 1, 4, 8, ..., 256.
unsigned repeat_count(unsigned arg) {
  const unsigned r = arg >> 2;
  return r == 0 ? 1 : 1u << (r + 1);
}

// An interrupt line as a device's callback drives it.
struct Line {
  bool level = false;
  uint64_t changes = 0;
  std::function<void(bool)> callback(const char* what) {
    return [this, what](bool l) {
      FUZZ_CHECK(l != level, "%s callback called without a level change (level %d)", what, l);
      level = l;
      ++changes;
    };
  }
};

struct Range {
  uint16_t base;
  uint16_t length;
};

// One fuzz target: a bus with devices on it and what time means for them.
class Target {
 public:
  virtual ~Target() = default;

  vmm::Bus& bus() { return *bus_; }
  const std::vector<Range>& ranges() const { return ranges_; }
  virtual bool has_mmio_mirror() const { return true; }
  // Time passes (op 6). Returns false once the machine is over.
  virtual bool advance(FuzzInput& in, unsigned arg) {
    const uint64_t delta = uint64_t{in.u16()} << (arg % 48);
    if (delta > kMaxTimeNs - instructions_) return true;
    instructions_ += delta;
    const uint64_t now = clock_.now_ns();
    const unsigned ran = clock_.run_due(now);
    FUZZ_CHECK(ran <= kMaxCallbacksPerRun, "%u timer callbacks in one run", ran);
    FUZZ_CHECK(clock_.next_deadline() > now, "a timer is still due after run_due (deadline %llu, now %llu)",
               static_cast<unsigned long long>(clock_.next_deadline()), static_cast<unsigned long long>(now));
    return true;
  }
  virtual void event(FuzzInput&) {}
  // After every op.
  virtual void check() {}
  // After the last op.
  virtual void finish() {}

 protected:
  // Devices register here (and in the MMIO mirror).
  void add(uint16_t base, uint16_t length, vmm::IoDevice* device) {
    bus_->register_pio(base, length, device);
    bus_->register_mmio(kMmioMirror + base, length, device);
    ranges_.push_back({base, length});
  }
  void add_range(uint16_t base, uint16_t length) { ranges_.push_back({base, length}); }
  void use_bus(vmm::Bus& bus) { bus_ = &bus; }

  // Deterministic time: the "instruction counter" is the virtual time in ns.
  uint64_t instructions_ = 0;
  vmm::VirtualClock clock_{[this] { return instructions_; }, 0};

 private:
  vmm::Bus own_bus_;
  vmm::Bus* bus_ = &own_bus_;
  std::vector<Range> ranges_;
};

// Reads a UART's receiver empty through the bus; returns the bytes it held.
unsigned drain_uart(vmm::Bus& bus, uint16_t base) {
  // With LCR.DLAB set, offset 0 is the divisor latch: clear it first.
  bus.pio_write(base + 3, 1, bus.pio_read(base + 3, 1) & 0x7f);
  unsigned n = 0;
  while ((bus.pio_read(base + 5, 1) & 1) && n <= vmm::Uart16550::kFifoDepth) {  // LSR.DR
    bus.pio_read(base, 1);  // RBR
    ++n;
  }
  return n;
}

// Reads the i8042's output buffer empty; returns the bytes it held.
unsigned drain_i8042(vmm::Bus& bus) {
  unsigned n = 0;
  while ((bus.pio_read(vmm::I8042::kCommandPort, 1) & 1) && n <= kMaxI8042Queue) {  // Status OBF.
    bus.pio_read(vmm::I8042::kDataPort, 1);
    ++n;
  }
  return n;
}

class PicTarget : public Target {
 public:
  PicTarget() {
    pic_.intr = intr_.callback("PIC INTR");
    add(vmm::Pic8259Pair::kMasterBase, vmm::Pic8259Pair::kChipPortCount, &pic_.master());
    add(vmm::Pic8259Pair::kSlaveBase, vmm::Pic8259Pair::kChipPortCount, &pic_.slave());
    add(vmm::Pic8259Pair::kElcrBase, vmm::Pic8259Pair::kElcrPortCount, &pic_.elcr());
  }
  void event(FuzzInput& in) override {
    const uint8_t e = in.u8();
    if (e & 0x80) {
      pic_.acknowledge();
    } else {
      pic_.set_irq(e & 0x1f, e & 0x20);  // Lines up to 31: 16 and more are ignored.
    }
  }
  void check() override {
    FUZZ_CHECK(intr_.level == pic_.interrupt_pending(), "INTR callback level %d, interrupt_pending %d", intr_.level,
               pic_.interrupt_pending());
  }

 private:
  vmm::Pic8259Pair pic_;
  Line intr_;
};

class PitTarget : public Target {
 public:
  PitTarget() {
    // The PIT drove IRQ0 to counter 0's OUT when it was made, before the
    // callback was set (as in the machine).
    irq0_.level = pit_.out(0);
    pit_.irq0 = irq0_.callback("PIT IRQ0");
    add(vmm::Pit8254::kBase, vmm::Pit8254::kPortCount, &pit_);
  }
  void event(FuzzInput& in) override {
    const uint8_t e = in.u8();
    if (e & 0x80) {
      pit_.out(e & 3);  // 3: no such counter.
    } else {
      pit_.set_gate(e & 3, e & 4);
    }
  }

 private:
  vmm::Pit8254 pit_{clock_};
  Line irq0_;
};

class UartTarget : public Target {
 public:
  UartTarget() {
    uart_.irq = irq_.callback("UART IRQ");
    add(vmm::Uart16550::kCom1Base, vmm::Uart16550::kPortCount, &uart_);
  }
  void event(FuzzInput& in) override {
    const uint8_t e = in.u8();
    if (e == 0xff) {
      uart_.reset();
    } else {
      uart_.receive(in.u8());  // Also when !can_receive(): an overrun.
    }
  }
  void check() override {
    FUZZ_CHECK(irq_.level == uart_.irq_level(), "UART irq callback level %d, irq_level %d", irq_.level,
               uart_.irq_level());
  }
  void finish() override {
    const unsigned held = drain_uart(bus(), vmm::Uart16550::kCom1Base);
    FUZZ_CHECK(held <= vmm::Uart16550::kFifoDepth, "the UART receiver held more than %u bytes",
               vmm::Uart16550::kFifoDepth);
  }

 private:
  // The serial output is discarded: nothing may be buffered for it.
  vmm::Uart16550 uart_{[this](uint8_t) { ++transmitted_; }};
  Line irq_;
  uint64_t transmitted_ = 0;
};

class RtcTarget : public Target {
 public:
  explicit RtcTarget(uint8_t setup) : rtc_(clock_, uint64_t{setup} << 22) {
    rtc_.irq = irq_.callback("RTC IRQ8");
    add(vmm::CmosRtc::kBase, vmm::CmosRtc::kPortCount, &rtc_);
  }

 private:
  vmm::CmosRtc rtc_;
  Line irq_;
};

class I8042Target : public Target {
 public:
  I8042Target() {
    kbc_.irq1 = irq1_.callback("i8042 IRQ1");
    kbc_.irq12 = irq12_.callback("i8042 IRQ12");
    kbc_.a20_changed = [this](bool enabled) {
      FUZZ_CHECK(enabled == kbc_.a20(), "a20_changed(%d) but a20() is %d", enabled, kbc_.a20());
    };
    add(vmm::I8042::kDataPort, 1, &kbc_.data());
    add(vmm::I8042::kCommandPort, 1, &kbc_.command());
  }
  void finish() override {
    const unsigned held = drain_i8042(bus());
    FUZZ_CHECK(held <= kMaxI8042Queue, "the i8042 output buffer held more than %u bytes", kMaxI8042Queue);
  }

 private:
  vmm::I8042 kbc_{[this] { ++resets_; }};
  Line irq1_, irq12_;
  uint64_t resets_ = 0;
};

class AcpiTarget : public Target {
 public:
  AcpiTarget() { add(vmm::AcpiPm::kBase, vmm::AcpiPm::kPortCount, &pm_); }
  void event(FuzzInput&) override { pm_.reset(); }
  void check() override { FUZZ_CHECK(pm_.timer() < (1u << 24), "PM timer 0x%x has more than 24 bits", pm_.timer()); }

 private:
  // set_sci is called with the level on every update, not only on changes.
  vmm::AcpiPm pm_{clock_, [this] { ++power_offs_; }, [this](bool level) { sci_ = level; }};
  uint64_t power_offs_ = 0;
  bool sci_ = false;
};

class PciTarget : public Target {
 public:
  PciTarget() {
    pci_.on_reset = [this] { ++resets_; };
    add(vmm::PciStub::kBase, vmm::PciStub::kPortCount, &pci_);
  }
  void check() override {
    FUZZ_CHECK((pci_.config_address() & 0x7f000003u) == 0, "CONFIG_ADDRESS 0x%x has reserved bits set",
               pci_.config_address());
  }

 private:
  vmm::PciStub pci_;
  uint64_t resets_ = 0;
};

// Port 0x61 (with a stand-in for PIT counter 2), 0x80, 0x92, 0xF0 and the
// debug-exit device.
class SystemPortsTarget : public Target {
 public:
  SystemPortsTarget() {
    add(vmm::SystemControlPortB::kPort, 1, &port61_);
    add(vmm::PostPort::kPort, 1, &post_);
    add(vmm::SystemControlPortA::kPort, 1, &port92_);
    add(vmm::CoprocessorErrorPort::kPort, 1, &fpu_error_);
    add(vmm::DebugExit::kDefaultBase, vmm::DebugExit::kDefaultLength, &exit_);
  }
  void event(FuzzInput& in) override { timer2_out_ = in.flag(); }

 private:
  bool timer2_out_ = false;
  bool timer2_gate_ = false;
  uint64_t resets_ = 0, fpu_clears_ = 0, exits_ = 0;
  vmm::SystemControlPortB port61_{[this](bool gate) {
                                    FUZZ_CHECK(gate != timer2_gate_, "port 0x61: gate set to what it was");
                                    timer2_gate_ = gate;
                                  },
                                  [this] { return timer2_out_; }};
  vmm::PostPort post_;
  vmm::SystemControlPortA port92_{[this] { ++resets_; }};
  vmm::CoprocessorErrorPort fpu_error_{[this] { ++fpu_clears_; }};
  vmm::DebugExit exit_{[this](int status) {
    FUZZ_CHECK(status & 1, "debug exit status %d is even", status);
    ++exits_;
  }};
};

// ---- The whole board ----

// A multiboot kernel (a.out kludge, loaded at 1 MiB) that sets up a stack,
// loads a GDT and an IDT whose 256 gates all point at an IRET, enables
// interrupts and spins: the fuzz program decides which interrupts it gets
// (PIC masks, EOIs). The `storm` variant leaves ESP at 0: its pushes go past
// the end of RAM and are lost, so the first interrupt's IRET pops all ones
// and faults, and so does the #GP handler, the same IRET, forever: a guest
// that retires no instruction again (Cpu::kMaxExceptionsPerRun).
std::vector<uint8_t> board_kernel(bool storm) {
  constexpr uint32_t kBase = 0x100000;
  constexpr uint32_t kCode = 0x20, kHandler = 0x36, kGdt = 0x80, kGdtr = 0xa0, kIdtr = 0xa8, kIdt = 0x100;
  std::vector<uint8_t> k(kIdt + 256 * 8, 0);
  auto put16 = [&](uint32_t off, uint16_t v) { std::memcpy(&k[off], &v, 2); };
  auto put32 = [&](uint32_t off, uint32_t v) { std::memcpy(&k[off], &v, 4); };
  auto put64 = [&](uint32_t off, uint64_t v) { std::memcpy(&k[off], &v, 8); };
  // Multiboot header with the address fields (flag 16).
  const uint32_t flags = 1u << 16;
  put32(0, 0x1BADB002);
  put32(4, flags);
  put32(8, 0u - 0x1BADB002u - flags);
  put32(12, kBase);          // header_addr
  put32(16, kBase);          // load_addr
  put32(20, 0);              // load_end_addr: the whole file
  put32(24, 0);              // bss_end_addr: none
  put32(28, kBase + kCode);  // entry_addr
  const uint8_t code[] = {
      0xbc, 0, 0, 0, 0,              // mov esp, kStack
      0x0f, 0x01, 0x15, 0, 0, 0, 0,  // lgdt [kBase + kGdtr]
      0x0f, 0x01, 0x1d, 0, 0, 0, 0,  // lidt [kBase + kIdtr]
      0xfb,                          // sti
      0xeb, 0xfe,                    // jmp $
      0xcf,                          // handler: iret
  };
  static_assert(kCode + sizeof code - 1 == kHandler);
  std::memcpy(&k[kCode], code, sizeof code);
  put32(kCode + 1, storm ? 0 : 0x90000);
  put32(kCode + 8, kBase + kGdtr);
  put32(kCode + 15, kBase + kIdtr);
  put64(kGdt + 8, 0x00CF9A000000FFFFull);   // 0x08: flat code
  put64(kGdt + 16, 0x00CF92000000FFFFull);  // 0x10: flat data
  put16(kGdtr, 23);
  put32(kGdtr + 2, kBase + kGdt);
  put16(kIdtr, 256 * 8 - 1);
  put32(kIdtr + 2, kBase + kIdt);
  for (uint32_t v = 0; v < 256; ++v) {
    const uint32_t handler = kBase + kHandler;
    put16(kIdt + 8 * v, static_cast<uint16_t>(handler));
    put16(kIdt + 8 * v + 2, 0x08);
    put16(kIdt + 8 * v + 4, 0x8E00);  // Present, DPL 0, 32-bit interrupt gate.
    put16(kIdt + 8 * v + 6, static_cast<uint16_t>(handler >> 16));
  }
  return k;
}

// The kernel as a file the machine can open: a memory file, named through
// /proc/self/fd (a regular file for read_file_bounded), made once.
std::string make_kernel_file(bool storm) {
  const std::vector<uint8_t> k = board_kernel(storm);
  const int fd = memfd_create("fuzz-board-kernel", 0);
  FUZZ_CHECK(fd >= 0, "memfd_create failed");
  FUZZ_CHECK(write(fd, k.data(), k.size()) == static_cast<ssize_t>(k.size()), "cannot write the board kernel");
  return "/proc/self/fd/" + std::to_string(fd);
}

const std::string& board_kernel_path(bool storm) {
  static const std::string normal = make_kernel_file(false);
  static const std::string stormy = make_kernel_file(true);
  return storm ? stormy : normal;
}

class BoardTarget : public Target {
 public:
  explicit BoardTarget(uint8_t setup) {
    vmm::MachineConfig config;
    config.ram_bytes = 2u << 20;
    // The storm kernel's inputs are slow (an exception is a C++ throw): one
    // board input in four uses it.
    config.kernel = board_kernel_path((setup & 0x60) == 0x60);
    config.engine = vmm::Engine::kInterp;
    config.serial_stdio = false;  // COM1 output discarded, no stdin.
    config.no_reboot = setup & 0x10;
    config.icount = true;  // Deterministic: time is the instruction count.
    config.icount_shift = (setup & 0x0f) % (vmm::VirtualClock::kMaxIcountShift + 1);
    machine_ = std::make_unique<vmm::Machine>(config, log_);
    use_bus(machine_->bus());
    for (const Range& r : std::initializer_list<Range>{{0x20, 2}, {0x40, 4}, {0x60, 1}, {0x61, 1}, {0x64, 1},
                                                       {0x70, 2}, {0x80, 1}, {0x92, 1}, {0xa0, 2}, {0xf0, 1},
                                                       {0xf4, 4}, {0x3f8, 8}, {0x4d0, 2}, {0x600, 12}, {0xcf8, 8}}) {
      add_range(r.base, r.length);
    }
  }
  bool has_mmio_mirror() const override { return false; }
  bool advance(FuzzInput& in, unsigned arg) override {
    // Enough for one input: instructions, and exceptions (which retire none).
    if (machine_->cpu().stats().exceptions >= kMaxBoardExceptions) return false;
    const uint64_t n = std::min<uint64_t>(in.u16(), kMaxBoardInstructions - executed_);
    executed_ += n;
    // arg bit 0: a lockstep-style slice that is not cut at timer deadlines.
    const uint64_t exceptions = machine_->cpu().stats().exceptions;
    const std::optional<int> status = machine_->run_slice(n, !(arg & 1));
    FUZZ_CHECK(machine_->cpu().stats().exceptions - exceptions <= vmm::Cpu::kMaxExceptionsPerRun,
               "one slice delivered %llu exceptions",
               static_cast<unsigned long long>(machine_->cpu().stats().exceptions - exceptions));
    if (status) {
      status_ = status;
      return false;
    }
    return true;
  }
  void finish() override {
    FUZZ_CHECK(drain_uart(bus(), vmm::Uart16550::kCom1Base) <= vmm::Uart16550::kFifoDepth,
               "the UART receiver held more than 16 bytes");
    FUZZ_CHECK(drain_i8042(bus()) <= kMaxI8042Queue, "the i8042 output buffer held more than %u bytes",
               kMaxI8042Queue);
  }

 private:
  vmm::Log log_;  // Nothing enabled: no output.
  std::unique_ptr<vmm::Machine> machine_;
  uint64_t executed_ = 0;
  std::optional<int> status_;
};

constexpr unsigned kTargets = 9;

std::unique_ptr<Target> make_target(uint8_t which, uint8_t setup) {
  switch (which % kTargets) {
    case 0: return std::make_unique<PicTarget>();
    case 1: return std::make_unique<PitTarget>();
    case 2: return std::make_unique<UartTarget>();
    case 3: return std::make_unique<RtcTarget>(setup);
    case 4: return std::make_unique<I8042Target>();
    case 5: return std::make_unique<AcpiTarget>();
    case 6: return std::make_unique<PciTarget>();
    case 7: return std::make_unique<SystemPortsTarget>();
    default: return std::make_unique<BoardTarget>(setup);
  }
}

// The port an access goes to: [range][offset], or [0xff][u16] for any port.
uint16_t pick_port(FuzzInput& in, const Target& t) {
  const uint8_t r = in.u8();
  if (r == 0xff) return in.u16();
  const Range& range = t.ranges()[r % t.ranges().size()];
  return static_cast<uint16_t>(range.base + in.u8() % (range.length + 3u));
}

uint32_t value_of_size(FuzzInput& in, unsigned size) {
  uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= uint32_t{in.u8()} << (8 * i);
  return v;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  const uint8_t which = in.u8();
  const uint8_t setup = in.u8();
  std::unique_ptr<Target> target;
  try {
    target = make_target(which, setup);
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, "setting up the target threw: %s", e.what());
  }
  vmm::Bus& bus = target->bus();
  bool running = true;
  while (running && !in.done()) {
    const uint8_t op = in.u8();
    const unsigned arg = op >> 3;
    const unsigned access_size = kSizes[arg & 3];
    const unsigned repeat = repeat_count(arg);
    switch (op & 7) {
      case 0:
      case 1: {
        const uint16_t port = pick_port(in, *target);
        for (unsigned i = 0; i < repeat; ++i) {
          const uint32_t v = bus.pio_read(port, access_size);
          FUZZ_CHECK(v <= all_ones(access_size), "read of %u bytes at port 0x%x returned 0x%x", access_size, port, v);
        }
        break;
      }
      case 2:
      case 3: {
        const uint16_t port = pick_port(in, *target);
        const uint32_t value = value_of_size(in, access_size);
        for (unsigned i = 0; i < repeat; ++i) bus.pio_write(port, access_size, value);
        break;
      }
      case 4:
      case 5: {
        const uint16_t port = pick_port(in, *target);
        const uint32_t addr = target->has_mmio_mirror() ? kMmioMirror + port : uint32_t{port} << 12;
        const uint32_t value = (op & 1) ? value_of_size(in, access_size) : 0;
        for (unsigned i = 0; i < repeat; ++i) {
          if (op & 1) {
            bus.mmio_write(addr, access_size, value);
          } else {
            const uint32_t v = bus.mmio_read(addr, access_size);
            FUZZ_CHECK(v <= all_ones(access_size), "MMIO read of %u bytes at 0x%x returned 0x%x", access_size, addr,
                       v);
          }
        }
        break;
      }
      case 6:
        running = target->advance(in, arg);
        break;
      default:
        target->event(in);
        break;
    }
    target->check();
  }
  target->finish();
  return 0;
}

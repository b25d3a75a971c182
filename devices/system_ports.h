// The PC/AT's motherboard control ports outside the big chips:
//  - SystemControlPortB at 0x61 (IBM PC/AT Technical Reference, "System
//    Control Port B"; Intel 82371AB PIIX4 datasheet, "NMISC - NMI Status and
//    Control Register"): PIT counter 2's GATE and speaker data, NMI enables,
//    and status bits (refresh toggle, counter 2 OUT, parity/IOCHK errors);
//  - PostPort at 0x80: the POST diagnostic port BIOSes write progress codes
//    to, and that Linux writes to as an I/O delay;
//  - SystemControlPortA at 0x92 (IBM PS/2 "System Control Port A"; PIIX4
//    "PORT92 - Port 92 Register"): fast A20 gate and fast CPU reset.
//
// Each is an IoDevice of one port, registered at kPort with length 1. They
// talk to the rest of the machine through injected callbacks only.
//
// Not thread-safe; call everything from the thread that runs the guest.
#pragma once

#include <cstdint>
#include <functional>
#include <utility>

#include "devices/io_device.h"

namespace vmm {

class SystemControlPortB : public IoDevice {
 public:
  static constexpr uint16_t kPort = 0x61;

  // Bits (PIIX4 NMISC; PC/AT Technical Reference).
  static constexpr uint8_t kTimer2Gate = 1u << 0;        // R/W: PIT counter 2 GATE.
  static constexpr uint8_t kSpeakerData = 1u << 1;       // R/W: speaker enabled (ANDed with counter 2 OUT).
  static constexpr uint8_t kParityCheckDisable = 1u << 2;  // R/W: PCI SERR# / parity NMI disable.
  static constexpr uint8_t kIochkDisable = 1u << 3;      // R/W: IOCHK# NMI disable.
  static constexpr uint8_t kRefreshToggle = 1u << 4;     // RO: toggles with DRAM refresh.
  static constexpr uint8_t kTimer2Out = 1u << 5;         // RO: PIT counter 2 OUT.
  static constexpr uint8_t kIochkStatus = 1u << 6;       // RO: IOCHK# NMI source (never here).
  static constexpr uint8_t kParityStatus = 1u << 7;      // RO: SERR#/parity NMI source (never here).
  static constexpr uint8_t kWritableBits = kTimer2Gate | kSpeakerData | kParityCheckDisable | kIochkDisable;

  // `set_timer2_gate` drives PIT counter 2's GATE (Pit8254::set_gate(2, level));
  // `timer2_out` reads its OUT (Pit8254::out(2)). Either may be empty.
  SystemControlPortB(std::function<void(bool level)> set_timer2_gate, std::function<bool()> timer2_out);

  const char* name() const override { return "port61"; }
  uint32_t read(uint32_t offset, unsigned size) override;
  void write(uint32_t offset, unsigned size, uint32_t value) override;

  // Whether the guest has the speaker on (gate and data both set).
  bool speaker_on() const { return (value_ & (kTimer2Gate | kSpeakerData)) == (kTimer2Gate | kSpeakerData); }

 private:
  std::function<void(bool)> set_timer2_gate_;
  std::function<bool()> timer2_out_;
  uint8_t value_ = 0;  // The writable bits.
  bool refresh_ = false;
};

// Port 0xF0: the PC/AT's coprocessor-error latch. With CR0.NE=0 an unmasked
// x87 exception asserts FERR#, which the AT wires to IRQ 13; a write of any
// value to 0xF0 clears the latch (and so IRQ 13). Reads return all ones.
class CoprocessorErrorPort : public IoDevice {
 public:
  static constexpr uint16_t kPort = 0xF0;
  explicit CoprocessorErrorPort(std::function<void()> clear) : clear_(std::move(clear)) {}
  const char* name() const override { return "fpu-error"; }
  uint32_t read(uint32_t, unsigned) override { return 0xFFFFFFFFu; }
  void write(uint32_t, unsigned, uint32_t) override {
    if (clear_) clear_();
  }

 private:
  std::function<void()> clear_;
};

class PostPort : public IoDevice {
 public:
  static constexpr uint16_t kPort = 0x80;

  const char* name() const override { return "post"; }
  // Returns the last value written: real POST cards latch it, and QEMU's
  // port 0x80 reads back what it got.
  uint32_t read(uint32_t offset, unsigned size) override;
  void write(uint32_t offset, unsigned size, uint32_t value) override;

  uint8_t last() const { return last_; }
  uint64_t writes() const { return writes_; }
  // Called with each byte written (e.g. for a -d log); may be empty.
  std::function<void(uint8_t code)> on_write;

 private:
  uint8_t last_ = 0;
  uint64_t writes_ = 0;
};

class SystemControlPortA : public IoDevice {
 public:
  static constexpr uint16_t kPort = 0x92;

  // Bits (PIIX4 PORT92).
  static constexpr uint8_t kFastReset = 1u << 0;  // 0 -> 1 resets the CPU; reads 0 afterwards.
  static constexpr uint8_t kA20 = 1u << 1;        // A20 gate: 1 = A20 enabled.

  // `reset` is called when the guest requests a CPU reset (the machine
  // resets or exits, as its -no-reboot setting says). May be empty.
  explicit SystemControlPortA(std::function<void()> reset);

  const char* name() const override { return "port92"; }
  uint32_t read(uint32_t offset, unsigned size) override;
  void write(uint32_t offset, unsigned size, uint32_t value) override;

  // The A20 gate as the guest set it. The vmm never masks A20 (memory always
  // sees all 32 address bits); the bit is kept so the guest reads back what
  // it wrote, as the A20 check of a boot loader expects.
  bool a20() const { return (value_ & kA20) != 0; }

 private:
  std::function<void()> reset_;
  uint8_t value_ = kA20;  // Enabled at reset: vmm starts guests with A20 on.
};

}  // namespace vmm

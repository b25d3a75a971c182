// The Intel 8042 keyboard controller of a PC/AT with nothing plugged into
// its keyboard and auxiliary (mouse) ports: data port 0x60, status/command
// port 0x64, interrupts on IRQ 1 (keyboard data) and IRQ 12 (aux data).
// References: IBM PC/AT Technical Reference ("Keyboard Controller"), the
// IBM PS/2 Hardware Interface Technical Reference ("Keyboard/Auxiliary
// Device Controller"), and Linux's drivers/input/serio/i8042.h for what a
// guest expects.
//
// The controller itself is complete enough for a guest to find it, test it,
// reset the machine through it and gate A20 with it. A byte the guest sends
// to the keyboard or the mouse gets no answer from a device; the controller
// reports the timeout as PS/2 controllers do: status bit 6 (TIMEOUT) set with
// 0xfe in the output buffer, so a driver's probe fails at once instead of
// waiting for its own timeout.
//
// Bus registration: the two ports are not contiguous (0x61 between them is
// SystemControlPortB), so they are two IoDevice objects: data() at kDataPort
// and command() at kCommandPort, one port each.
//
// Not thread-safe; call everything from the thread that runs the guest.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>

#include "devices/io_device.h"

namespace vmm {

class I8042 {
 public:
  static constexpr uint16_t kDataPort = 0x60;
  static constexpr uint16_t kCommandPort = 0x64;  // Reads: status register.
  static constexpr unsigned kKeyboardIrq = 1;
  static constexpr unsigned kAuxIrq = 12;
  // Output port bit 1 ("Output Port"): the A20 gate.
  static constexpr uint8_t kOutputPortA20 = 0x02;
  // Bytes waiting for the CPU at most (QEMU's PS2_QUEUE_SIZE); more are dropped.
  static constexpr unsigned kMaxQueuedOutput = 16;

  // `reset` is called when the guest resets the CPU through the controller
  // (pulse output port bit 0, or write it as 0). May be empty.
  explicit I8042(std::function<void()> reset);
  I8042(const I8042&) = delete;
  I8042& operator=(const I8042&) = delete;

  IoDevice& data() { return data_port_; }
  IoDevice& command() { return command_port_; }

  // The A20 gate (output port bit 1). The vmm never masks A20; the bit is
  // kept so the guest reads back what it set.
  bool a20() const { return (output_port_ & kOutputPortA20) != 0; }

  // Interrupt outputs; called with each level change. Set them before the
  // guest runs.
  std::function<void(bool level)> irq1;
  std::function<void(bool level)> irq12;
  // Called when the guest changes the A20 gate; may be empty.
  std::function<void(bool enabled)> a20_changed;

 private:
  // One port as an IoDevice; forwards byte accesses to the controller.
  class Port : public IoDevice {
   public:
    Port(I8042& controller, bool command) : controller_(controller), command_(command) {}
    const char* name() const override { return command_ ? "i8042-command" : "i8042-data"; }
    uint32_t read(uint32_t offset, unsigned size) override;
    void write(uint32_t offset, unsigned size, uint32_t value) override;

   private:
    I8042& controller_;
    bool command_;
  };

  // A byte waiting in the output buffer, with where it came from.
  struct Output {
    uint8_t byte;
    bool aux;      // From the auxiliary port (status AUX_DATA, IRQ 12).
    bool timeout;  // The device did not answer (status TIMEOUT).
  };

  uint8_t read_data();
  uint8_t read_status() const;
  void write_data(uint8_t value);
  void write_command(uint8_t value);
  void write_output_port(uint8_t value);
  void queue(uint8_t byte, bool aux, bool timeout = false);
  void update_irqs();

  Port data_port_;
  Port command_port_;
  std::function<void()> reset_;
  std::deque<Output> output_;
  uint8_t last_output_ = 0;     // Data reads with an empty buffer repeat it.
  uint8_t command_byte_;        // Controller RAM byte 0.
  uint8_t ram_[32] = {};        // Controller RAM bytes 1-31 (commands 0x21-0x3f / 0x61-0x7f).
  uint8_t output_port_;
  uint8_t pending_command_ = 0;  // A command waiting for its data byte, or 0.
  bool system_flag_;
  bool last_write_was_command_ = true;
  bool irq1_level_ = false;
  bool irq12_level_ = false;
};

}  // namespace vmm

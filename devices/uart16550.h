// A 16550A UART (National Semiconductor PC16550D, June 1995 datasheet), as the
// PC wires it at COM1: 8 byte-wide ports at 0x3f8, interrupt on IRQ 4.
//
// The serial line is virtual, so transmission takes no time: a byte written to
// THR reaches the output sink at once and THR/TSR are empty again before the
// guest's next access. Receiving is driven by the machine through receive().
//
// Not thread-safe: read(), write() and receive() must all be called from the
// thread that runs the guest (the machine polls the host input there), and the
// irq callback is invoked synchronously from those calls.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>

#include "devices/io_device.h"

namespace vmm {

class Uart16550 : public IoDevice {
 public:
  // PC/AT convention for the first serial port.
  static constexpr uint16_t kCom1Base = 0x3f8;
  static constexpr unsigned kCom1Irq = 4;
  static constexpr uint16_t kPortCount = 8;
  // PC16550D "FIFO Mode": 16-byte receive and transmit FIFOs.
  static constexpr unsigned kFifoDepth = 16;

  using OutputSink = std::function<void(uint8_t byte)>;

  // `output` receives every byte the guest transmits (outside loopback mode).
  explicit Uart16550(OutputSink output);

  const char* name() const override { return "uart16550"; }
  uint32_t read(uint32_t offset, unsigned size) override;
  void write(uint32_t offset, unsigned size, uint32_t value) override;

  // A byte arrives on the serial input. It is queued in the receiver (the
  // 16-byte FIFO in FIFO mode, the single RBR in 16450 mode); if the receiver
  // is full the byte is lost and LSR.OE is set, as on the real chip. In
  // loopback mode the serial input is disconnected and the byte is dropped.
  void receive(uint8_t byte);

  // Whether receive() would accept a byte without an overrun. The machine
  // should hold host input while this is false (the guest has not drained the
  // receiver yet, or it is in loopback), as a real modem honours RTS/CTS.
  bool can_receive() const;

  // Current level of the interrupt output (the chip's INTR pin).
  bool irq_level() const { return irq_level_; }

  // Master reset (MR pin): registers to the datasheet's reset configuration.
  // The divisor latch and SCR are not affected, as on the chip.
  void reset();

  // The interrupt output. Called with the new level each time it changes;
  // may be left empty. Set it before the guest runs: assigning it later does
  // not replay the current level (read irq_level() for that).
  std::function<void(bool level)> irq;

 private:
  uint8_t read_register(uint32_t reg);
  void write_register(uint32_t reg, uint8_t value);

  void transmit(uint8_t byte);
  void push_received(uint8_t byte);
  unsigned receiver_capacity() const;
  unsigned rx_trigger_level() const;
  bool fifo_enabled() const;
  void write_fcr(uint8_t value);
  void write_mcr(uint8_t value);
  void update_modem_status();
  uint8_t pending_interrupt() const;
  void update_irq();

  OutputSink output_;

  std::deque<uint8_t> rx_fifo_;  // Receiver FIFO; its head is what RBR reads.
  uint8_t last_rx_ = 0;          // RBR keeps the last byte once the FIFO is drained.
  uint16_t divisor_;
  uint8_t ier_ = 0;
  uint8_t fcr_ = 0;  // Write-only on the chip; kept for the FIFO enable and trigger level.
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t lsr_ = 0;
  uint8_t msr_ = 0;
  uint8_t scr_ = 0;
  bool thr_interrupt_pending_ = false;
  bool irq_level_ = false;
};

}  // namespace vmm

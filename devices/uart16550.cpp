#include "devices/uart16550.h"

#include <utility>

namespace vmm {

namespace {

// Register offsets from the base port (PC16550D, Table II "Summary of
// Registers"). Offsets 0 and 1 are the divisor latch while LCR.DLAB is set.
constexpr uint32_t kRbrThr = 0;  // Read: receiver buffer. Write: transmitter holding.
constexpr uint32_t kDll = 0;     // Divisor latch, least significant byte (DLAB = 1).
constexpr uint32_t kIer = 1;     // Interrupt enable (DLAB = 0).
constexpr uint32_t kDlm = 1;     // Divisor latch, most significant byte (DLAB = 1).
constexpr uint32_t kIirFcr = 2;  // Read: interrupt identification. Write: FIFO control.
constexpr uint32_t kLcr = 3;     // Line control.
constexpr uint32_t kMcr = 4;     // Modem control.
constexpr uint32_t kLsr = 5;     // Line status.
constexpr uint32_t kMsr = 6;     // Modem status.
constexpr uint32_t kScr = 7;     // Scratch.

// IER bits ("Interrupt Enable Register"); bits 7:4 are always 0 on the 16550.
constexpr uint8_t kIerRda = 1u << 0;   // ERBFI: received data available (and FIFO timeout).
constexpr uint8_t kIerThre = 1u << 1;  // ETBEI: transmitter holding register empty.
constexpr uint8_t kIerRls = 1u << 2;   // ELSI: receiver line status.
constexpr uint8_t kIerMs = 1u << 3;    // EDSSI: modem status.
constexpr uint8_t kIerMask = 0x0f;

// IIR values ("Interrupt Identification Register", Table IV "Interrupt
// Control Functions"). Bit 0 is 0 while an interrupt is pending; bits 3:1
// name the highest-priority source; bits 7:6 mirror FCR bit 0.
constexpr uint8_t kIirNoInterrupt = 0x01;
constexpr uint8_t kIirRls = 0x06;       // Priority 1: overrun/parity/framing error or break.
constexpr uint8_t kIirRda = 0x04;       // Priority 2: receiver data available / trigger level.
constexpr uint8_t kIirTimeout = 0x0c;   // Priority 2: character timeout (FIFO mode only).
constexpr uint8_t kIirThre = 0x02;      // Priority 3: transmitter holding register empty.
constexpr uint8_t kIirMs = 0x00;        // Priority 4: modem status change.
constexpr uint8_t kIirFifoEnabled = 0xc0;

// FCR bits ("FIFO Control Register").
constexpr uint8_t kFcrFifoEnable = 1u << 0;
constexpr uint8_t kFcrRxReset = 1u << 1;  // Self-clearing.
constexpr uint8_t kFcrTxReset = 1u << 2;  // Self-clearing.
constexpr uint8_t kFcrDmaMode = 1u << 3;  // Only changes RXRDY/TXRDY pins, which the PC does not wire.
constexpr uint8_t kFcrTriggerShift = 6;
constexpr uint8_t kFcrTriggerMask = 0xc0;
// What FCR keeps after a write: the reset bits are self-clearing.
constexpr uint8_t kFcrStoredMask = kFcrFifoEnable | kFcrDmaMode | kFcrTriggerMask;
static_assert((kFcrStoredMask & (kFcrRxReset | kFcrTxReset)) == 0);
// Receiver trigger levels selected by FCR bits 7:6.
constexpr unsigned kRxTriggerLevels[4] = {1, 4, 8, 14};

// LCR bits ("Line Control Register"). Word length, stop bits, parity and
// break only shape the waveform on the wire, which this UART does not have;
// they are stored so the guest reads back what it wrote.
constexpr uint8_t kLcrDlab = 1u << 7;  // Divisor latch access bit.

// MCR bits ("MODEM Control Register"); bits 7:5 are always 0.
constexpr uint8_t kMcrDtr = 1u << 0;
constexpr uint8_t kMcrRts = 1u << 1;
constexpr uint8_t kMcrOut1 = 1u << 2;
constexpr uint8_t kMcrOut2 = 1u << 3;
constexpr uint8_t kMcrLoop = 1u << 4;
constexpr uint8_t kMcrMask = 0x1f;

// LSR bits ("Line Status Register").
constexpr uint8_t kLsrDr = 1u << 0;         // Data ready.
constexpr uint8_t kLsrOe = 1u << 1;         // Overrun error.
constexpr uint8_t kLsrPe = 1u << 2;         // Parity error.
constexpr uint8_t kLsrFe = 1u << 3;         // Framing error.
constexpr uint8_t kLsrBi = 1u << 4;         // Break interrupt.
constexpr uint8_t kLsrThre = 1u << 5;       // Transmitter holding register (FIFO) empty.
constexpr uint8_t kLsrTemt = 1u << 6;       // Transmitter empty (THR and shift register).
constexpr uint8_t kLsrRxFifoError = 1u << 7;  // PE/FE/BI present in the receive FIFO.
// The conditions that raise the receiver line status interrupt and that a
// read of LSR clears.
constexpr uint8_t kLsrErrorBits = kLsrOe | kLsrPe | kLsrFe | kLsrBi;

// MSR bits ("MODEM Status Register"): deltas in 3:0, line states in 7:4.
constexpr uint8_t kMsrDcts = 1u << 0;  // CTS changed.
constexpr uint8_t kMsrDdsr = 1u << 1;  // DSR changed.
constexpr uint8_t kMsrTeri = 1u << 2;  // RI went from on to off (trailing edge).
constexpr uint8_t kMsrDdcd = 1u << 3;  // DCD changed.
constexpr uint8_t kMsrCts = 1u << 4;
constexpr uint8_t kMsrDsr = 1u << 5;
constexpr uint8_t kMsrRi = 1u << 6;
constexpr uint8_t kMsrDcd = 1u << 7;
constexpr uint8_t kMsrDeltaMask = kMsrDcts | kMsrDdsr | kMsrTeri | kMsrDdcd;
constexpr uint8_t kMsrLineMask = kMsrCts | kMsrDsr | kMsrRi | kMsrDcd;

// The host side of the virtual line behaves as a connected terminal that is
// always ready: CTS, DSR and DCD asserted, no ring. Guests that wait for
// CTS/DSR before sending (e.g. with hardware flow control) then transmit.
constexpr uint8_t kExternalModemLines = kMsrCts | kMsrDsr | kMsrDcd;

// Divisor 12 gives 9600 baud from the PC's 1.8432 MHz clock. The datasheet
// leaves the latch undefined at power-up; this is what BIOSes program.
constexpr uint16_t kDefaultDivisor = 12;

// A 16450-mode receiver holds a single character in RBR.
constexpr unsigned kRbrDepth = 1;

}  // namespace

Uart16550::Uart16550(OutputSink output) : output_(std::move(output)), divisor_(kDefaultDivisor) {
  reset();
}

void Uart16550::reset() {
  // PC16550D "UART Reset Configuration": IER, FCR, LCR, MCR cleared; IIR
  // reports no interrupt; LSR has only THRE and TEMT; MSR deltas cleared
  // and MSR lines follow the modem inputs. Both FIFOs are emptied.
  rx_fifo_.clear();
  last_rx_ = 0;
  ier_ = 0;
  fcr_ = 0;
  lcr_ = 0;
  mcr_ = 0;
  lsr_ = kLsrThre | kLsrTemt;
  msr_ = kExternalModemLines;
  thr_interrupt_pending_ = false;
  update_irq();
}

// The UART has an 8-bit data bus. A wider access is split into byte accesses
// at consecutive ports, lowest first, as the ISA bus does for an 8-bit device;
// bytes beyond the last register float high on reads and are dropped on writes.
uint32_t Uart16550::read(uint32_t offset, unsigned size) {
  uint32_t value = 0;
  for (unsigned i = 0; i < size; ++i) {
    uint32_t reg = offset + i;
    uint32_t byte = reg < kPortCount ? read_register(reg) : 0xffu;
    value |= byte << (8 * i);
  }
  return value;
}

void Uart16550::write(uint32_t offset, unsigned size, uint32_t value) {
  for (unsigned i = 0; i < size; ++i) {
    uint32_t reg = offset + i;
    if (reg < kPortCount) write_register(reg, static_cast<uint8_t>(value >> (8 * i)));
  }
}

uint8_t Uart16550::read_register(uint32_t reg) {
  if (lcr_ & kLcrDlab) {
    if (reg == kDll) return static_cast<uint8_t>(divisor_);
    if (reg == kDlm) return static_cast<uint8_t>(divisor_ >> 8);
  }
  switch (reg) {
    case kRbrThr: {
      // Reading RBR takes the oldest character; the data-available and
      // timeout interrupts clear once the FIFO drops below the trigger level
      // or empties (Table IV).
      if (!rx_fifo_.empty()) {
        last_rx_ = rx_fifo_.front();
        rx_fifo_.pop_front();
        if (rx_fifo_.empty()) lsr_ &= static_cast<uint8_t>(~kLsrDr);
        update_irq();
      }
      return last_rx_;
    }
    case kIer:
      return ier_;
    case kIirFcr: {
      uint8_t id = pending_interrupt();
      // Table IV: reading IIR resets the THRE interrupt when it is the
      // source being reported (a lower-priority THRE stays pending).
      if (id == kIirThre) {
        thr_interrupt_pending_ = false;
        update_irq();
      }
      return static_cast<uint8_t>(id | (fifo_enabled() ? kIirFifoEnabled : 0));
    }
    case kLcr:
      return lcr_;
    case kMcr:
      return mcr_;
    case kLsr: {
      // Reading LSR clears the error bits and with them the receiver line
      // status interrupt ("Line Status Register", Table IV).
      uint8_t value = lsr_;
      if (lsr_ & kLsrErrorBits) {
        lsr_ &= static_cast<uint8_t>(~(kLsrErrorBits | kLsrRxFifoError));
        update_irq();
      }
      return value;
    }
    case kMsr: {
      // Reading MSR clears the delta bits and the modem status interrupt.
      uint8_t value = msr_;
      if (msr_ & kMsrDeltaMask) {
        msr_ &= static_cast<uint8_t>(~kMsrDeltaMask);
        update_irq();
      }
      return value;
    }
    case kScr:
      return scr_;
    default:
      return 0xff;
  }
}

void Uart16550::write_register(uint32_t reg, uint8_t value) {
  if (lcr_ & kLcrDlab) {
    if (reg == kDll) {
      divisor_ = static_cast<uint16_t>((divisor_ & 0xff00) | value);
      return;
    }
    if (reg == kDlm) {
      divisor_ = static_cast<uint16_t>((divisor_ & 0x00ff) | (value << 8));
      return;
    }
  }
  switch (reg) {
    case kRbrThr:
      transmit(value);
      break;
    case kIer: {
      uint8_t changed = (ier_ ^ value) & kIerMask;
      ier_ = value & kIerMask;
      // Enabling ETBEI while THR is empty raises the THRE interrupt at
      // once, even if an earlier IIR read had cleared it. The 8250 family
      // behaves so and drivers depend on it (Linux probes for it, Windows
      // toggles IER to restart transmission). Disabling it drops the
      // pending state so a later enable starts clean.
      if (changed & kIerThre) {
        thr_interrupt_pending_ = (ier_ & kIerThre) && (lsr_ & kLsrThre);
      }
      if (changed) update_irq();
      break;
    }
    case kIirFcr:
      write_fcr(value);
      break;
    case kLcr:
      lcr_ = value;
      break;
    case kMcr:
      write_mcr(value);
      break;
    case kLsr:
    case kMsr:
      // Status registers: the datasheet reserves writes for factory test.
      break;
    case kScr:
      scr_ = value;
      break;
    default:
      break;
  }
}

void Uart16550::transmit(uint8_t byte) {
  // Writing THR resets the THRE interrupt (Table IV). The byte then moves
  // through the shift register instantly, so THR is empty again and THRE
  // fires anew: the interrupt output shows a falling then a rising edge,
  // which an edge-triggered PIC needs to see the next request.
  lsr_ &= static_cast<uint8_t>(~(kLsrThre | kLsrTemt));
  thr_interrupt_pending_ = false;
  update_irq();

  if (mcr_ & kMcrLoop) {
    // "MODEM Control Register" bit 4: the transmitter shift register is
    // looped back to the receiver and the serial output held in marking.
    push_received(byte);
  } else if (output_) {
    output_(byte);
  }

  lsr_ |= kLsrThre | kLsrTemt;
  thr_interrupt_pending_ = (ier_ & kIerThre) != 0;
  update_irq();
}

void Uart16550::receive(uint8_t byte) {
  if (mcr_ & kMcrLoop) return;  // Serial input disconnected in loopback mode.
  push_received(byte);
}

bool Uart16550::can_receive() const {
  return (mcr_ & kMcrLoop) == 0 && rx_fifo_.size() < receiver_capacity();
}

void Uart16550::push_received(uint8_t byte) {
  if (rx_fifo_.size() >= receiver_capacity()) {
    // "Line Status Register" bit 1. In FIFO mode the character in the shift
    // register is overwritten and the FIFO kept; in 16450 mode the new
    // character overwrites the unread one in RBR.
    if (!fifo_enabled()) {
      rx_fifo_.back() = byte;
    }
    lsr_ |= kLsrOe;
  } else {
    rx_fifo_.push_back(byte);
    lsr_ |= kLsrDr;
  }
  update_irq();
}

unsigned Uart16550::receiver_capacity() const { return fifo_enabled() ? kFifoDepth : kRbrDepth; }

unsigned Uart16550::rx_trigger_level() const {
  return kRxTriggerLevels[(fcr_ & kFcrTriggerMask) >> kFcrTriggerShift];
}

bool Uart16550::fifo_enabled() const { return (fcr_ & kFcrFifoEnable) != 0; }

void Uart16550::write_fcr(uint8_t value) {
  // "FIFO Control Register" bit 0: switching between FIFO and 16450 mode
  // clears both FIFOs, and the other bits are only programmed while bit 0
  // is written as 1.
  if ((value ^ fcr_) & kFcrFifoEnable) {
    rx_fifo_.clear();
    lsr_ &= static_cast<uint8_t>(~kLsrDr);
  }
  if (value & kFcrFifoEnable) {
    if (value & kFcrRxReset) {
      rx_fifo_.clear();
      lsr_ &= static_cast<uint8_t>(~kLsrDr);
    }
    // The transmit FIFO never holds data (transmission is instant), so a
    // transmit FIFO reset (kFcrTxReset) has nothing to clear. Both reset
    // bits self-clear, so only the mode bits are kept.
    fcr_ = value & kFcrStoredMask;
  } else {
    fcr_ = 0;
  }
  update_irq();
}

void Uart16550::write_mcr(uint8_t value) {
  mcr_ = value & kMcrMask;
  update_modem_status();
}

void Uart16550::update_modem_status() {
  // In loopback the modem inputs are disconnected and driven from the MCR
  // outputs: CTS <- RTS, DSR <- DTR, RI <- OUT1, DCD <- OUT2 ("MODEM Control
  // Register" bit 4). Otherwise they are the host side's fixed lines.
  uint8_t lines = kExternalModemLines;
  if (mcr_ & kMcrLoop) {
    lines = 0;
    if (mcr_ & kMcrRts) lines |= kMsrCts;
    if (mcr_ & kMcrDtr) lines |= kMsrDsr;
    if (mcr_ & kMcrOut1) lines |= kMsrRi;
    if (mcr_ & kMcrOut2) lines |= kMsrDcd;
  }
  uint8_t old_lines = msr_ & kMsrLineMask;
  uint8_t changed = old_lines ^ lines;
  uint8_t delta = 0;
  if (changed & kMsrCts) delta |= kMsrDcts;
  if (changed & kMsrDsr) delta |= kMsrDdsr;
  if (changed & kMsrDcd) delta |= kMsrDdcd;
  if ((old_lines & kMsrRi) && !(lines & kMsrRi)) delta |= kMsrTeri;  // Trailing edge only.
  msr_ = static_cast<uint8_t>((msr_ & kMsrDeltaMask) | delta | lines);
  update_irq();
}

// The highest-priority enabled interrupt condition, as IIR bits 3:0
// (Table IV). Priorities: line status, then received data (trigger level
// or timeout), then THR empty, then modem status.
uint8_t Uart16550::pending_interrupt() const {
  if ((ier_ & kIerRls) && (lsr_ & kLsrErrorBits)) return kIirRls;
  if ((ier_ & kIerRda) && !rx_fifo_.empty()) {
    if (!fifo_enabled() || rx_fifo_.size() >= rx_trigger_level()) return kIirRda;
    // Below the trigger level the chip reports a character timeout after
    // four character times without FIFO activity. The virtual line has no
    // character time and the guest cannot tell how long it has been, so
    // the timeout is treated as already elapsed.
    return kIirTimeout;
  }
  if ((ier_ & kIerThre) && thr_interrupt_pending_) return kIirThre;
  if ((ier_ & kIerMs) && (msr_ & kMsrDeltaMask)) return kIirMs;
  return kIirNoInterrupt;
}

void Uart16550::update_irq() {
  // INTR follows "an enabled interrupt is pending". On a PC, OUT2 gates
  // the line through a buffer on the board, not in the UART; like QEMU this
  // model does not apply that gate, so guests that leave OUT2 clear still
  // get interrupts.
  bool level = pending_interrupt() != kIirNoInterrupt;
  if (level == irq_level_) return;
  irq_level_ = level;
  if (irq) irq(level);
}

}  // namespace vmm

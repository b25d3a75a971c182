#include "devices/i8042.h"

#include <utility>

namespace vmm {

namespace {

// Status register (read at 0x64; PS/2 Hardware Interface Technical Reference,
// "Status Register"; Linux I8042_STR_*).
constexpr uint8_t kStatusObf = 0x01;      // Output buffer full: data for the CPU at 0x60.
constexpr uint8_t kStatusIbf = 0x02;      // Input buffer full (never: writes are taken at once).
constexpr uint8_t kStatusSystem = 0x04;   // System flag: POST / self-test passed.
constexpr uint8_t kStatusCommand = 0x08;  // Last write was to 0x64 (A2 = 1).
constexpr uint8_t kStatusUnlocked = 0x10; // Keyboard inhibit switch off.
constexpr uint8_t kStatusAuxData = 0x20;  // The output buffer byte is from the aux port.
constexpr uint8_t kStatusTimeout = 0x40;  // The device did not answer.
static_assert(kStatusIbf == 0x02);

// Command byte (controller RAM byte 0; "Command Byte"; Linux I8042_CTR_*).
constexpr uint8_t kCtrKeyboardInt = 0x01;
constexpr uint8_t kCtrAuxInt = 0x02;
constexpr uint8_t kCtrSystem = 0x04;
constexpr uint8_t kCtrKeyboardDisable = 0x10;
constexpr uint8_t kCtrAuxDisable = 0x20;
constexpr uint8_t kCtrTranslate = 0x40;
// As a BIOS leaves it: keyboard interrupt on, translation to scan code set
// 1, aux port disabled, system flag set.
constexpr uint8_t kCtrDefault = kCtrKeyboardInt | kCtrSystem | kCtrAuxDisable | kCtrTranslate;

// Controller commands written to 0x64 ("Keyboard Controller Commands").
constexpr uint8_t kCmdReadRamFirst = 0x20;  // 0x20-0x3f: read controller RAM byte (0x20: command byte).
constexpr uint8_t kCmdReadRamLast = 0x3f;
constexpr uint8_t kCmdWriteRamFirst = 0x60;  // 0x60-0x7f: write RAM byte with the next data byte.
constexpr uint8_t kCmdWriteRamLast = 0x7f;
constexpr uint8_t kRamIndexMask = 0x1f;
constexpr uint8_t kCmdAuxDisable = 0xa7;
constexpr uint8_t kCmdAuxEnable = 0xa8;
constexpr uint8_t kCmdAuxTest = 0xa9;        // Answers 0x00: interface lines fine.
constexpr uint8_t kCmdSelfTest = 0xaa;       // Answers 0x55.
constexpr uint8_t kCmdKeyboardTest = 0xab;   // Answers 0x00.
constexpr uint8_t kCmdKeyboardDisable = 0xad;
constexpr uint8_t kCmdKeyboardEnable = 0xae;
constexpr uint8_t kCmdReadInputPort = 0xc0;
constexpr uint8_t kCmdReadOutputPort = 0xd0;
constexpr uint8_t kCmdWriteOutputPort = 0xd1;
constexpr uint8_t kCmdWriteKeyboardBuffer = 0xd2;  // Next data byte appears as keyboard data.
constexpr uint8_t kCmdWriteAuxBuffer = 0xd3;       // Next data byte appears as aux data.
constexpr uint8_t kCmdWriteAux = 0xd4;             // Next data byte goes to the aux device.
constexpr uint8_t kCmdDisableA20 = 0xdd;           // HP Vectra A20 commands (QEMU has them too).
constexpr uint8_t kCmdEnableA20 = 0xdf;
constexpr uint8_t kCmdPulseFirst = 0xf0;  // 0xf0-0xff: pulse output port bits 3:0 low where 0.
constexpr uint8_t kPulseMask = 0x0f;

constexpr uint8_t kSelfTestPassed = 0x55;
constexpr uint8_t kInterfaceTestPassed = 0x00;
// Input port: bit 7 = keyboard not inhibited (QEMU answers 0x80 too).
constexpr uint8_t kInputPortDefault = 0x80;

// Output port ("Output Port"; QEMU KBD_OUT_*).
constexpr uint8_t kOutReset = 0x01;        // 0 = CPU reset asserted.
constexpr uint8_t kOutA20 = I8042::kOutputPortA20;
constexpr uint8_t kOutKeyboardObf = 0x10;  // Drives IRQ 1.
constexpr uint8_t kOutAuxObf = 0x20;       // Drives IRQ 12.
// Reset state: CPU running, A20 on, clock and data lines idle high.
constexpr uint8_t kOutDefault = 0xcf;

// What a PS/2 controller puts in the output buffer with TIMEOUT when the
// device does not answer (Linux i8042_interrupt treats 0xfe with TIMEOUT so).
constexpr uint8_t kNoAnswer = 0xfe;

constexpr uint32_t widen(uint8_t byte, unsigned size) { return size > 1 ? (0xffffff00u | byte) : byte; }

}  // namespace

I8042::I8042(std::function<void()> reset)
    : data_port_(*this, false),
      command_port_(*this, true),
      reset_(std::move(reset)),
      command_byte_(kCtrDefault),
      output_port_(kOutDefault),
      system_flag_(true) {}

// Each port is one byte wide; a wider access reaches only this byte and the
// rest float high (reads) or are dropped (writes), as on the ISA bus.
uint32_t I8042::Port::read(uint32_t offset, unsigned size) {
  if (offset != 0) return 0xffffffffu;
  return widen(command_ ? controller_.read_status() : controller_.read_data(), size);
}

void I8042::Port::write(uint32_t offset, unsigned /*size*/, uint32_t value) {
  if (offset != 0) return;
  if (command_) {
    controller_.write_command(static_cast<uint8_t>(value));
  } else {
    controller_.write_data(static_cast<uint8_t>(value));
  }
}

uint8_t I8042::read_status() const {
  uint8_t status = kStatusUnlocked;
  if (!output_.empty()) {
    status |= kStatusObf;
    if (output_.front().aux) status |= kStatusAuxData;
    if (output_.front().timeout) status |= kStatusTimeout;
  }
  if (system_flag_) status |= kStatusSystem;
  if (last_write_was_command_) status |= kStatusCommand;
  return status;
}

uint8_t I8042::read_data() {
  // With nothing new the controller's output buffer still holds the last
  // byte, which a read returns again.
  if (output_.empty()) return last_output_;
  last_output_ = output_.front().byte;
  output_.pop_front();
  // Reading empties the buffer and drops the interrupt; if another byte
  // follows, the line rises again (a new edge for the PIC).
  bool had1 = irq1_level_, had12 = irq12_level_;
  irq1_level_ = irq12_level_ = false;
  if (had1 && irq1) irq1(false);
  if (had12 && irq12) irq12(false);
  update_irqs();
  return last_output_;
}

void I8042::write_data(uint8_t value) {
  last_write_was_command_ = false;
  uint8_t command = pending_command_;
  pending_command_ = 0;
  if (command >= kCmdWriteRamFirst && command <= kCmdWriteRamLast) {
    unsigned index = command & kRamIndexMask;
    if (index == 0) {
      command_byte_ = value;
      system_flag_ = (value & kCtrSystem) != 0;
      update_irqs();
    } else {
      ram_[index] = value;
    }
    return;
  }
  switch (command) {
    case kCmdWriteOutputPort:
      write_output_port(value);
      return;
    case kCmdWriteKeyboardBuffer:
      queue(value, false);
      return;
    case kCmdWriteAuxBuffer:
      queue(value, true);
      return;
    case kCmdWriteAux:
      // To the aux device: there is none.
      queue(kNoAnswer, true, true);
      return;
    default:
      // A byte for the keyboard: there is none.
      queue(kNoAnswer, false, true);
      return;
  }
}

void I8042::write_command(uint8_t value) {
  last_write_was_command_ = true;
  pending_command_ = 0;
  if (value >= kCmdReadRamFirst && value <= kCmdReadRamLast) {
    unsigned index = value & kRamIndexMask;
    queue(index == 0 ? command_byte_ : ram_[index], false);
    return;
  }
  if (value >= kCmdWriteRamFirst && value <= kCmdWriteRamLast) {
    pending_command_ = value;
    return;
  }
  if (value >= kCmdPulseFirst) {
    // Pulse the output port bits whose command bit is 0 for ~6 us; bit 0
    // is the CPU reset line (0xfe is the classic keyboard-controller reset).
    if (!(value & kOutReset & kPulseMask) && reset_) reset_();
    return;
  }
  switch (value) {
    case kCmdAuxDisable:
      command_byte_ |= kCtrAuxDisable;
      break;
    case kCmdAuxEnable:
      command_byte_ &= static_cast<uint8_t>(~kCtrAuxDisable);
      break;
    case kCmdAuxTest:
    case kCmdKeyboardTest:
      queue(kInterfaceTestPassed, false);
      break;
    case kCmdSelfTest:
      system_flag_ = true;
      queue(kSelfTestPassed, false);
      break;
    case kCmdKeyboardDisable:
      command_byte_ |= kCtrKeyboardDisable;
      break;
    case kCmdKeyboardEnable:
      command_byte_ &= static_cast<uint8_t>(~kCtrKeyboardDisable);
      break;
    case kCmdReadInputPort:
      queue(kInputPortDefault, false);
      break;
    case kCmdReadOutputPort: {
      uint8_t value_out = static_cast<uint8_t>(output_port_ & ~(kOutKeyboardObf | kOutAuxObf));
      if (irq1_level_) value_out |= kOutKeyboardObf;
      if (irq12_level_) value_out |= kOutAuxObf;
      queue(value_out, false);
      break;
    }
    case kCmdWriteOutputPort:
    case kCmdWriteKeyboardBuffer:
    case kCmdWriteAuxBuffer:
    case kCmdWriteAux:
      pending_command_ = value;
      break;
    case kCmdDisableA20:
      write_output_port(static_cast<uint8_t>(output_port_ & ~kOutA20));
      break;
    case kCmdEnableA20:
      write_output_port(output_port_ | kOutA20);
      break;
    default:
      break;  // Unknown or vendor commands: ignored.
  }
}

void I8042::write_output_port(uint8_t value) {
  bool a20_was = (output_port_ & kOutA20) != 0;
  output_port_ = value;
  bool a20_now = (value & kOutA20) != 0;
  if (a20_now != a20_was && a20_changed) a20_changed(a20_now);
  if (!(value & kOutReset) && reset_) reset_();
}

void I8042::queue(uint8_t byte, bool aux, bool timeout) {
  // The real output buffer holds one byte, and the controller waits for the
  // CPU to read it before it answers again. A guest that keeps sending
  // without reading would make this queue grow without end (every byte to
  // the absent keyboard queues a reply): like QEMU's PS/2 queue, it holds
  // kMaxQueuedOutput bytes and drops what comes while it is full.
  if (output_.size() >= kMaxQueuedOutput) return;
  output_.push_back(Output{byte, aux, timeout});
  update_irqs();
}

void I8042::update_irqs() {
  // IRQ 1 / IRQ 12 follow "output buffer full" for the byte's source when
  // the command byte enables that interrupt.
  bool full = !output_.empty();
  bool level1 = full && !output_.front().aux && (command_byte_ & kCtrKeyboardInt);
  bool level12 = full && output_.front().aux && (command_byte_ & kCtrAuxInt);
  if (level1 != irq1_level_) {
    irq1_level_ = level1;
    if (irq1) irq1(level1);
  }
  if (level12 != irq12_level_) {
    irq12_level_ = level12;
    if (irq12) irq12(level12);
  }
}

}  // namespace vmm

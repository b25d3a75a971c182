#include "devices/system_ports.h"

#include <utility>

namespace vmm {

// All three are byte ports. A wider access covers the next ports too, which
// belong to other devices or none; like the ISA bus for an 8-bit device, only
// the first byte reaches this port, the others float high on reads and are
// dropped on writes.
namespace {
constexpr uint32_t kFloatingHigh = 0xffffff00u;
uint32_t widen(uint8_t byte, unsigned size) { return size > 1 ? (kFloatingHigh | byte) : byte; }
}  // namespace

// --- Port 0x61 -------------------------------------------------------------

SystemControlPortB::SystemControlPortB(std::function<void(bool)> set_timer2_gate, std::function<bool()> timer2_out)
    : set_timer2_gate_(std::move(set_timer2_gate)), timer2_out_(std::move(timer2_out)) {}

uint32_t SystemControlPortB::read(uint32_t offset, unsigned size) {
  if (offset != 0) return 0xffffffffu;
  // Bit 4 follows the refresh request (PIT counter 1 OUT on the AT, 15 us
  // period). Firmware delay loops wait for it to change, so it flips on
  // every read: each poll sees progress and the result does not depend on
  // host speed (QEMU does the same).
  refresh_ = !refresh_;
  uint8_t value = value_;
  if (refresh_) value |= kRefreshToggle;
  if (timer2_out_ && timer2_out_()) value |= kTimer2Out;
  return widen(value, size);
}

void SystemControlPortB::write(uint32_t offset, unsigned /*size*/, uint32_t value) {
  if (offset != 0) return;
  // Bits 7:4 are read-only status.
  uint8_t old = value_;
  value_ = static_cast<uint8_t>(value) & kWritableBits;
  if (((old ^ value_) & kTimer2Gate) && set_timer2_gate_) set_timer2_gate_((value_ & kTimer2Gate) != 0);
}

// --- Port 0x80 -------------------------------------------------------------

uint32_t PostPort::read(uint32_t offset, unsigned size) {
  if (offset != 0) return 0xffffffffu;
  return widen(last_, size);
}

void PostPort::write(uint32_t offset, unsigned /*size*/, uint32_t value) {
  if (offset != 0) return;
  last_ = static_cast<uint8_t>(value);
  ++writes_;
  if (on_write) on_write(last_);
}

// --- Port 0x92 -------------------------------------------------------------

SystemControlPortA::SystemControlPortA(std::function<void()> reset) : reset_(std::move(reset)) {}

uint32_t SystemControlPortA::read(uint32_t offset, unsigned size) {
  if (offset != 0) return 0xffffffffu;
  return widen(value_, size);
}

void SystemControlPortA::write(uint32_t offset, unsigned /*size*/, uint32_t value) {
  if (offset != 0) return;
  uint8_t next = static_cast<uint8_t>(value);
  // PIIX4 PORT92 bit 0: a 0 to 1 transition resets the CPU. The bit reads
  // back as 0 once the reset is under way (QEMU stores the byte without it),
  // so every write with bit 0 set is such a transition.
  value_ = static_cast<uint8_t>(next & ~kFastReset);
  bool reset_request = (next & kFastReset) != 0;
  if (reset_request && reset_) reset_();
}

}  // namespace vmm

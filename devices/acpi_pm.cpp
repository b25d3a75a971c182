#include "devices/acpi_pm.h"

#include <utility>

namespace vmm {

namespace {
constexpr uint64_t kNsPerSecond = 1'000'000'000;
// Offsets inside the registered range.
constexpr uint32_t kStatusOff = 0;   // PM1_STS, 2 bytes.
constexpr uint32_t kEnableOff = 2;   // PM1_EN, 2 bytes.
constexpr uint32_t kControlOff = 4;  // PM1_CNT, 2 bytes.
constexpr uint32_t kTimerOff = 8;    // PM_TMR, 4 bytes.
constexpr unsigned kTimerBits = 24;  // TMR_VAL_EXT = 0 in the FADT.
}  // namespace

AcpiPm::AcpiPm(VirtualClock& clock, std::function<void()> power_off, std::function<void(bool)> set_sci)
    : clock_(clock),
      overflow_(clock, [this](uint64_t) {
        update_timer_status();
        arm_overflow_timer();
      }),
      power_off_(std::move(power_off)),
      set_sci_(std::move(set_sci)) {
  reset();
}

void AcpiPm::reset() {
  status_ = 0;
  enable_ = 0;
  control_ = kSciEn;
  seen_half_periods_ = ticks() >> (kTimerBits - 1);
  overflow_.disarm();
  update_sci();
}

uint64_t AcpiPm::ticks() const {
  const uint64_t ns = clock_.now_ns();
  // Split so the product cannot overflow 64 bits however long the run.
  return (ns / kNsPerSecond) * kTimerHz + (ns % kNsPerSecond) * kTimerHz / kNsPerSecond;
}

uint32_t AcpiPm::timer() const { return static_cast<uint32_t>(ticks() & ((1u << kTimerBits) - 1)); }

// TMR_STS: "set any time the last bit of the timer (bit 23) goes from 0 to 1
// or 1 to 0" (4.8.3.3): one per half period of the counter.
void AcpiPm::update_timer_status() {
  const uint64_t half_periods = ticks() >> (kTimerBits - 1);
  if (half_periods != seen_half_periods_) {
    seen_half_periods_ = half_periods;
    status_ |= kTmrSts;
  }
  update_sci();
}

void AcpiPm::arm_overflow_timer() {
  if (!(enable_ & kTmrSts)) {
    overflow_.disarm();
    return;
  }
  const uint64_t next = (seen_half_periods_ + 1) << (kTimerBits - 1);  // In PM timer ticks.
  const uint64_t ns = (next / kTimerHz) * kNsPerSecond + ((next % kTimerHz) * kNsPerSecond + kTimerHz - 1) / kTimerHz;
  overflow_.arm(ns);
}

void AcpiPm::update_sci() {
  // The SCI is level-triggered and active while an enabled event is pending
  // (4.8.2.1), and only with SCI_EN set.
  if (set_sci_) set_sci_((control_ & kSciEn) && (status_ & enable_ & kEnableBits));
}

uint8_t AcpiPm::read_byte(uint32_t offset) {
  switch (offset) {
    case kStatusOff: update_timer_status(); return static_cast<uint8_t>(status_);
    case kStatusOff + 1: update_timer_status(); return static_cast<uint8_t>(status_ >> 8);
    case kEnableOff: return static_cast<uint8_t>(enable_);
    case kEnableOff + 1: return static_cast<uint8_t>(enable_ >> 8);
    // SLP_EN and GBL_RLS are write-only and read as 0.
    case kControlOff: return static_cast<uint8_t>(control_ & ~(kSlpEn | kGblRls));
    case kControlOff + 1: return static_cast<uint8_t>((control_ & ~(kSlpEn | kGblRls)) >> 8);
    case kTimerOff: case kTimerOff + 1: case kTimerOff + 2: case kTimerOff + 3:
      return static_cast<uint8_t>(timer() >> (8 * (offset - kTimerOff)));
    default:
      return 0xFF;  // Ports 6-7 of the block: nothing there.
  }
}

uint32_t AcpiPm::read(uint32_t offset, unsigned size) {
  uint32_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= uint32_t{read_byte(offset + i)} << (8 * i);
  return v;
}

void AcpiPm::write_byte(uint32_t offset, uint8_t value) {
  switch (offset) {
    case kStatusOff: case kStatusOff + 1: {
      // Write 1 to clear (4.8.3.1.1); writing 0 has no effect.
      const uint16_t bits = static_cast<uint16_t>(uint16_t{value} << (8 * (offset - kStatusOff)));
      update_timer_status();
      status_ &= static_cast<uint16_t>(~bits);
      update_sci();
      return;
    }
    case kEnableOff: case kEnableOff + 1: {
      const unsigned shift = 8 * (offset - kEnableOff);
      enable_ = static_cast<uint16_t>((enable_ & ~(0xFFu << shift)) | (uint32_t{value} << shift)) & kEnableBits;
      arm_overflow_timer();
      update_sci();
      return;
    }
    case kControlOff:
      control_ = static_cast<uint16_t>((control_ & 0xFF00) | (value & (kSciEn | kBmRld)));
      update_sci();
      return;
    case kControlOff + 1: {
      const uint16_t high = static_cast<uint16_t>(uint16_t{value} << 8);
      control_ = static_cast<uint16_t>((control_ & 0x00FF) | (high & kSlpTypMask));
      // SLP_EN: enter the sleep state in SLP_TYP (4.8.3.2.1).
      if (high & kSlpEn) {
        const uint16_t type = (high & kSlpTypMask) >> kSlpTypShift;
        if (type == kSleepTypeSoftOff) {
          if (power_off_) power_off_();
        } else {
          ++ignored_sleeps_;  // No other sleep state is declared in the DSDT.
        }
      }
      return;
    }
    default:
      return;  // The timer is read-only; ports 6-7 hold nothing.
  }
}

void AcpiPm::write(uint32_t offset, unsigned size, uint32_t value) {
  // Byte lanes in address order, so a 16-bit PM1_CNT write sets SLP_TYP
  // (high byte) and acts on SLP_EN in the same access.
  for (unsigned i = 0; i < size; ++i) write_byte(offset + i, static_cast<uint8_t>(value >> (8 * i)));
}

}  // namespace vmm

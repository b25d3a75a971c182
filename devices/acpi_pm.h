// The ACPI fixed-hardware power-management registers of the PC (ACPI 6.4,
// 4.8 "ACPI Hardware Model", fixed hardware registers), as the FADT built by
// devices/acpi_tables.cpp describes them at kBase:
//  - PM1a event block (4 bytes at kBase + 0): PM1_STS (status, write 1 to
//    clear) and PM1_EN (enables); an enabled status raises the SCI (IRQ 9);
//  - PM1a control block (2 bytes at kBase + 4): SCI_EN, and SLP_TYP/SLP_EN,
//    through which the guest enters a sleep state: the \_S5 value of the
//    DSDT (kSleepTypeSoftOff) with SLP_EN powers the machine off;
//  - PM timer (4 bytes at kBase + 8, read-only): a 24-bit counter at
//    3.579545 MHz (4.8.3.3), from the machine's virtual clock; TMR_STS is
//    set each time its bit 23 changes.
// The layout matches QEMU's PIIX4 PM I/O block (base 0x600), which guests
// and tools know.
//
// Not thread-safe; call everything from the thread that runs the guest.
#pragma once

#include <cstdint>
#include <functional>

#include "devices/io_device.h"
#include "runtime/virtual_clock.h"

namespace vmm {

class AcpiPm : public IoDevice {
 public:
  static constexpr uint16_t kBase = 0x600;
  static constexpr uint16_t kPortCount = 12;
  static constexpr uint16_t kEventBlock = kBase;        // PM1a_EVT_BLK, PM1_EVT_LEN = 4.
  static constexpr uint16_t kControlBlock = kBase + 4;  // PM1a_CNT_BLK, PM1_CNT_LEN = 2.
  static constexpr uint16_t kTimerBlock = kBase + 8;    // PM_TMR_BLK, PM_TMR_LEN = 4.
  static constexpr unsigned kSciIrq = 9;                // FADT SCI_INT.
  static constexpr uint64_t kTimerHz = 3579545;         // PM timer frequency (4.8.3.3).
  // The sleep type the DSDT's \_S5 package gives for PM1a_CNT.SLP_TYP.
  static constexpr uint16_t kSleepTypeSoftOff = 5;

  // PM1_STS / PM1_EN bits (Tables 4.16, 4.17).
  static constexpr uint16_t kTmrSts = 1u << 0;
  static constexpr uint16_t kBmSts = 1u << 4;
  static constexpr uint16_t kGblSts = 1u << 5;
  static constexpr uint16_t kPwrbtnSts = 1u << 8;
  static constexpr uint16_t kSlpbtnSts = 1u << 9;
  static constexpr uint16_t kRtcSts = 1u << 10;
  static constexpr uint16_t kWakSts = 1u << 15;
  static constexpr uint16_t kEnableBits = kTmrSts | kGblSts | kPwrbtnSts | kSlpbtnSts | kRtcSts;
  // PM1_CNT bits (Table 4.18).
  static constexpr uint16_t kSciEn = 1u << 0;
  static constexpr uint16_t kBmRld = 1u << 1;
  static constexpr uint16_t kGblRls = 1u << 2;  // Write-only.
  static constexpr unsigned kSlpTypShift = 10;
  static constexpr uint16_t kSlpTypMask = 7u << kSlpTypShift;
  static constexpr uint16_t kSlpEn = 1u << 13;  // Write-only.

  // `power_off` runs when the guest enters S5; `set_sci` drives IRQ 9.
  AcpiPm(VirtualClock& clock, std::function<void()> power_off, std::function<void(bool)> set_sci);

  const char* name() const override { return "acpi-pm"; }
  uint32_t read(uint32_t offset, unsigned size) override;
  void write(uint32_t offset, unsigned size, uint32_t value) override;

  // Machine reset: the registers' power-on values.
  void reset();
  // The 24-bit PM timer value now.
  uint32_t timer() const;
  // Sleep-state requests other than S5 (not in the DSDT, so not expected).
  uint64_t ignored_sleep_requests() const { return ignored_sleeps_; }

 private:
  uint64_t ticks() const;    // PM timer ticks since the clock started.
  void update_timer_status();
  void arm_overflow_timer();
  void update_sci();
  uint8_t read_byte(uint32_t offset);
  void write_byte(uint32_t offset, uint8_t value);

  VirtualClock& clock_;
  VirtualClock::Timer overflow_;
  std::function<void()> power_off_;
  std::function<void(bool)> set_sci_;
  uint16_t status_ = 0;
  uint16_t enable_ = 0;
  uint16_t control_ = kSciEn;  // No SMI_CMD: the machine is always in ACPI mode.
  uint64_t seen_half_periods_ = 0;  // PM timer bit-23 changes accounted in TMR_STS.
  uint64_t ignored_sleeps_ = 0;
};

}  // namespace vmm

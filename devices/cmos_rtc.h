// The Motorola MC146818A real-time clock with its 128 bytes of CMOS RAM, as
// the PC/AT has it (MC146818A datasheet; IBM PC/AT Technical Reference for
// the CMOS RAM layout): index register at 0x70 (bit 7 gates NMI), data at
// 0x71, interrupt on IRQ 8.
//
// Time is not kept by ticking. The RTC's time is the VirtualClock's plus an
// offset: in host-time mode the offset is the host wall clock (UTC) at the
// clock's origin; in deterministic (--icount) mode it is a fixed epoch
// (kDeterministicEpoch), so the guest reads the same dates in every run. The
// guest may set the time (SET bit, or plain writes as QEMU allows); that
// moves the offset. The calendar registers, UIP and the interrupt flags are
// computed from the time of each access; VirtualClock timers are armed only
// for interrupts that are enabled and not yet pending.
//
// Simplifications, as in QEMU: the update cycle is instantaneous at each
// second boundary (UIP is set for the 244 us before it); the time base is
// always nominal whatever DV2-DV0 selects (the crystal is virtual); DSE is
// stored but no daylight-saving adjustment is made; the SQW pin is not wired.
//
// Not thread-safe; call everything from the thread that runs the guest.
#pragma once

#include <cstdint>
#include <functional>

#include "devices/io_device.h"
#include "runtime/virtual_clock.h"

namespace vmm {

class CmosRtc : public IoDevice {
 public:
  static constexpr uint16_t kBase = 0x70;
  static constexpr uint16_t kPortCount = 2;
  static constexpr unsigned kIrq = 8;
  static constexpr unsigned kRamSize = 128;
  // 2024-01-01T00:00:00Z: the RTC's time at clock 0 in deterministic mode.
  static constexpr int64_t kDeterministicEpoch = 1'704'067'200;

  // `ram_bytes` is the guest RAM size, reported in the memory-size bytes as
  // a PC BIOS does (0x15-0x18, 0x30-0x31, 0x34-0x35).
  CmosRtc(VirtualClock& clock, uint64_t ram_bytes);

  const char* name() const override { return "mc146818"; }
  uint32_t read(uint32_t offset, unsigned size) override;
  void write(uint32_t offset, unsigned size, uint32_t value) override;

  // Bit 7 of the last index written: the PC's NMI mask (1 = NMI disabled).
  bool nmi_disabled() const { return nmi_disabled_; }

  // The IRQ output (the chip's IRQ# inverted, as the PC does): true while
  // IRQF is set, false once register C is read. Set it before the guest runs.
  std::function<void(bool level)> irq;

 private:
  uint8_t read_register(uint8_t index, uint64_t now);
  void write_register(uint8_t index, uint8_t value, uint64_t now);

  int64_t rtc_ns(uint64_t now) const { return static_cast<int64_t>(now) + offset_ns_; }
  bool divider_running() const;
  bool frozen() const;  // The calendar registers hold the time (SET, or divider held in reset).
  bool update_in_progress(uint64_t now) const;
  // Calendar registers <-> seconds since 1970-01-01 UTC, in the current
  // binary/BCD and 12/24-hour formats.
  void store_time(int64_t seconds);
  int64_t load_time() const;
  uint8_t encode(unsigned value) const;
  unsigned decode(uint8_t value) const;
  uint8_t encode_hour(unsigned hour) const;
  unsigned decode_hour(uint8_t value) const;
  // Restarts the time line at `rtc` ns (a guest time setting).
  void set_time(int64_t rtc, uint64_t now);
  // Writes of registers A and B: freeze and thaw the calendar.
  void change_control(uint8_t a, uint8_t b, uint64_t now);

  // Interrupt flags (register C), evaluated lazily up to `now`.
  void update_flags(uint64_t now);
  void update_irq();
  void schedule(uint64_t now);
  unsigned periodic_period() const;  // In 32.768 kHz clocks; 0 = none.
  int64_t periodic_index(int64_t rtc) const;
  int64_t next_alarm_after(int64_t seconds) const;  // INT64_MAX if never.

  VirtualClock& clock_;
  VirtualClock::Timer timer_;
  uint8_t ram_[kRamSize] = {};
  uint8_t index_ = 0;
  bool nmi_disabled_ = false;
  int64_t offset_ns_ = 0;     // RTC time (ns since the Unix epoch) minus clock time.
  int64_t flags_rtc_ns_ = 0;  // RTC time up to which register C's flags are evaluated.
  uint8_t reg_c_ = 0;
  bool irq_level_ = false;
};

}  // namespace vmm

// The MC146818 RTC through ports 0x70/0x71 on a deterministic clock (1
// instruction = 1 ns), which starts the RTC at 2024-01-01 00:00:00 UTC.
// Register and bit values from the MC146818A datasheet.
#include <gtest/gtest.h>

#include <vector>

#include "devices/bus.h"
#include "devices/cmos_rtc.h"
#include "runtime/virtual_clock.h"

namespace vmm {
namespace {

constexpr uint64_t kMs = 1'000'000, kS = 1'000'000'000;
constexpr uint8_t kSec = 0x00, kSecAlarm = 0x01, kMin = 0x02, kMinAlarm = 0x03, kHour = 0x04,
                  kHourAlarm = 0x05, kDow = 0x06, kDay = 0x07, kMonth = 0x08, kYear = 0x09, kA = 0x0a,
                  kB = 0x0b, kC = 0x0c, kD = 0x0d, kCentury = 0x32;
constexpr uint8_t kUip = 0x80;
constexpr uint8_t kSet = 0x80, kPie = 0x40, kAie = 0x20, kUie = 0x10, kDm = 0x04, k24h = 0x02;
constexpr uint8_t kIrqf = 0x80, kPf = 0x40, kAf = 0x20, kUf = 0x10;

class RtcTest : public ::testing::Test {
 protected:
  RtcTest() : clock([this] { return insns; }, 0), rtc(clock, 128ull << 20) {
    rtc.irq = [this](bool level) { irq_level = level; };
    bus.register_pio(CmosRtc::kBase, CmosRtc::kPortCount, &rtc);
  }

  uint8_t get(uint8_t index) {
    bus.pio_write(0x70, 1, index);
    return static_cast<uint8_t>(bus.pio_read(0x71, 1));
  }
  void set(uint8_t index, uint8_t value) {
    bus.pio_write(0x70, 1, index);
    bus.pio_write(0x71, 1, value);
  }
  // Runs timers up to `ns`; `handler` reads register C whenever IRQ 8 is
  // raised, as an interrupt handler would, and counts the interrupts.
  void run_until(uint64_t ns, bool handler = true) {
    for (uint64_t d = clock.next_deadline(); d <= ns; d = clock.next_deadline()) {
      insns = d;
      clock.run_due(d);
      if (handler && irq_level) {
        ++interrupts;
        last_c = get(kC);
      }
    }
    insns = ns;
  }

  uint64_t insns = 0;
  VirtualClock clock;
  Bus bus;
  CmosRtc rtc;
  bool irq_level = false;
  int interrupts = 0;
  uint8_t last_c = 0;
};

TEST_F(RtcTest, DeterministicStartIsNewYear2024InBcd) {
  EXPECT_EQ(get(kSec), 0x00);
  EXPECT_EQ(get(kMin), 0x00);
  EXPECT_EQ(get(kHour), 0x00);
  EXPECT_EQ(get(kDow), 0x02);  // Monday (Sunday = 1).
  EXPECT_EQ(get(kDay), 0x01);
  EXPECT_EQ(get(kMonth), 0x01);
  EXPECT_EQ(get(kYear), 0x24);
  EXPECT_EQ(get(kCentury), 0x20);
  EXPECT_EQ(get(kA), 0x26);
  EXPECT_EQ(get(kB), k24h);
  EXPECT_EQ(get(kD), 0x80);
}

TEST_F(RtcTest, TimeFollowsTheClock) {
  insns = 3661 * kS + 500 * kMs;
  EXPECT_EQ(get(kHour), 0x01);
  EXPECT_EQ(get(kMin), 0x01);
  EXPECT_EQ(get(kSec), 0x01);
  insns = (31 * 86400 + 23 * 3600 + 59 * 60 + 59) * kS;
  EXPECT_EQ(get(kDay), 0x01);
  EXPECT_EQ(get(kMonth), 0x02);
  EXPECT_EQ(get(kHour), 0x23);
  EXPECT_EQ(get(kSec), 0x59);
  EXPECT_EQ(get(kDow), 0x05);  // Thursday, 1 February 2024.
}

TEST_F(RtcTest, BinaryAnd12HourFormats) {
  insns = (13 * 3600 + 5 * 60 + 45) * kS;
  set(kB, kDm | k24h);
  EXPECT_EQ(get(kSec), 45);
  EXPECT_EQ(get(kHour), 13);
  EXPECT_EQ(get(kYear), 24);
  set(kB, 0x00);  // BCD, 12-hour.
  EXPECT_EQ(get(kHour), 0x81);  // 1 PM.
  EXPECT_EQ(get(kSec), 0x45);
  insns = (24 * 3600 + 30 * 60) * kS;
  EXPECT_EQ(get(kHour), 0x12);  // 12 AM.
}

TEST_F(RtcTest, UpdateInProgressForTheLast244Microseconds) {
  insns = 500 * kMs;
  EXPECT_EQ(get(kA) & kUip, 0);
  insns = kS - 300'000;
  EXPECT_EQ(get(kA) & kUip, 0);
  insns = kS - 200'000;
  EXPECT_EQ(get(kA) & kUip, kUip);
  insns = kS - 1;
  EXPECT_EQ(get(kA) & kUip, kUip);
  EXPECT_EQ(get(kSec), 0x00);  // The update has not happened yet.
  insns = kS;
  EXPECT_EQ(get(kA) & kUip, 0);
  EXPECT_EQ(get(kSec), 0x01);
  // SET inhibits updates: no UIP.
  insns = 2 * kS - 100'000;
  set(kB, kSet | k24h);
  EXPECT_EQ(get(kA) & kUip, 0);
}

TEST_F(RtcTest, RegisterCClearsOnRead) {
  set(kB, kPie | k24h);  // 1024 Hz from register A's default.
  EXPECT_FALSE(irq_level);
  insns = 2 * kMs;
  EXPECT_EQ(get(kC), kIrqf | kPf);
  EXPECT_FALSE(irq_level);
  EXPECT_EQ(get(kC), 0x00);
}

TEST_F(RtcTest, FlagsAreSetWithoutInterruptEnables) {
  insns = 1500 * kMs;
  // A periodic flag and an update flag, but no IRQF: nothing is enabled.
  EXPECT_EQ(get(kC), kPf | kUf);
  EXPECT_FALSE(irq_level);
  EXPECT_EQ(clock.next_deadline(), VirtualClock::kNoDeadline);
}

TEST_F(RtcTest, PeriodicInterruptAt1024Hz) {
  set(kB, kPie | k24h);
  run_until(kS);
  EXPECT_EQ(interrupts, 1024);
  // The last one coincides with the update cycle: UF is set too.
  EXPECT_EQ(last_c, kIrqf | kPf | kUf);
}

TEST_F(RtcTest, PeriodicInterruptRates) {
  set(kA, 0x2f);  // RS = 15: 2 Hz.
  set(kB, kPie | k24h);
  run_until(10 * kS);
  EXPECT_EQ(interrupts, 20);
  interrupts = 0;
  set(kA, 0x23);  // RS = 3: 8192 Hz.
  run_until(11 * kS);
  EXPECT_EQ(interrupts, 8192);
  interrupts = 0;
  set(kA, 0x21);  // RS = 1: 256 Hz (same as RS = 8).
  run_until(12 * kS);
  EXPECT_EQ(interrupts, 256);
  interrupts = 0;
  set(kA, 0x20);  // RS = 0: none.
  run_until(13 * kS);
  EXPECT_EQ(interrupts, 0);
}

TEST_F(RtcTest, UnservicedInterruptStaysAsserted) {
  set(kB, kPie | k24h);
  run_until(kS, false);
  EXPECT_TRUE(irq_level);
  EXPECT_EQ(clock.next_deadline(), VirtualClock::kNoDeadline);  // No timer while IRQF is set.
  EXPECT_EQ(get(kC), kIrqf | kPf | kUf);
  EXPECT_FALSE(irq_level);
}

TEST_F(RtcTest, UpdateEndedInterruptEverySecond) {
  set(kB, kUie | k24h);
  run_until(10 * kS + 1);
  EXPECT_EQ(interrupts, 10);
  EXPECT_EQ(last_c & (kIrqf | kAf | kUf), kIrqf | kUf);  // PF runs along (RS = 6).
}

TEST_F(RtcTest, AlarmInterrupt) {
  set(kSecAlarm, 0x05);
  set(kMinAlarm, 0x00);
  set(kHourAlarm, 0x00);
  set(kB, kAie | k24h);
  run_until(4 * kS + 999 * kMs);
  EXPECT_EQ(interrupts, 0);
  run_until(5 * kS);
  EXPECT_EQ(interrupts, 1);
  EXPECT_EQ(last_c & (kIrqf | kAf | kUf), kIrqf | kAf | kUf);
  run_until(3600 * kS);
  EXPECT_EQ(interrupts, 1);
  // "Don't care" hours and minutes: every minute at :30.
  set(kMinAlarm, 0xc0);
  set(kHourAlarm, 0xff);
  set(kSecAlarm, 0x30);
  run_until(3600 * kS + 5 * 60 * kS);
  EXPECT_EQ(interrupts, 1 + 5);
}

TEST_F(RtcTest, SettingTheTimeUnderSet) {
  insns = 10 * kS + 250 * kMs;
  set(kB, kSet | k24h);
  set(kSec, 0x56);
  set(kMin, 0x34);
  set(kHour, 0x12);
  set(kDay, 0x15);
  set(kMonth, 0x06);
  set(kYear, 0x30);
  insns = 20 * kS;  // Frozen while SET.
  EXPECT_EQ(get(kSec), 0x56);
  set(kB, k24h);
  EXPECT_EQ(get(kSec), 0x56);
  EXPECT_EQ(get(kDay), 0x15);
  EXPECT_EQ(get(kYear), 0x30);
  EXPECT_EQ(get(kDow), 0x07);  // 15 June 2030 is a Saturday.
  // The divider kept running under SET, so the update cycles keep their
  // phase (whole clock seconds here), not that of the moment SET was set.
  insns = 20 * kS + 999 * kMs;
  EXPECT_EQ(get(kSec), 0x56);
  insns = 21 * kS;
  EXPECT_EQ(get(kSec), 0x57);
}

// The century and year bytes can name years the RTC's nanosecond time line
// cannot hold (it ends in 2262): a set date is kept within 1900-2199, in
// BCD (99 99) and in binary mode (255 * 100 + 255), under SET and while
// running (found by tests/fuzz/fuzz_devices: a signed overflow).
TEST_F(RtcTest, DatesOutsideTheClocksRangeAreClamped) {
  set(kB, kSet | k24h);
  set(kCentury, 0x99);
  set(kYear, 0x99);
  set(kB, k24h);
  EXPECT_EQ(get(kCentury), 0x21);
  EXPECT_EQ(get(kYear), 0x99);
  set(kCentury, 0x00);  // Running: year 0099.
  EXPECT_EQ(get(kCentury), 0x19);
  EXPECT_EQ(get(kYear), 0x00);
  set(kB, kDm | k24h);
  set(kCentury, 0xff);
  EXPECT_EQ(get(kCentury), 21);
  EXPECT_EQ(get(kYear), 99);
}

TEST_F(RtcTest, SetClearsUpdateInterruptEnable) {
  set(kB, kSet | kUie | k24h);
  EXPECT_EQ(get(kB), kSet | k24h);
}

TEST_F(RtcTest, DividerResetStopsTheClock) {
  insns = 5 * kS + 100 * kMs;
  set(kA, 0x76);  // Divider held in reset.
  insns = 50 * kS;
  EXPECT_EQ(get(kSec), 0x05);
  set(kA, 0x26);  // Released: first update half a second later.
  insns = 50 * kS + 499 * kMs;
  EXPECT_EQ(get(kSec), 0x05);
  insns = 50 * kS + 500 * kMs;
  EXPECT_EQ(get(kSec), 0x06);
}

TEST_F(RtcTest, MemorySizeAndEquipmentBytes) {
  EXPECT_EQ(get(0x15) | get(0x16) << 8, 640);
  EXPECT_EQ(get(0x17) | get(0x18) << 8, 0xffff);  // 127 MiB in KiB, capped.
  EXPECT_EQ(get(0x30) | get(0x31) << 8, 0xffff);
  EXPECT_EQ(get(0x34) | get(0x35) << 8, (128 - 16) * 16);
  EXPECT_EQ(get(0x14) & 0x02, 0x02);  // FPU present.
  // AT checksum of 0x10-0x2d at 0x2e (high), 0x2f (low).
  unsigned sum = 0;
  for (uint8_t i = 0x10; i <= 0x2d; ++i) sum += get(i);
  EXPECT_EQ(get(0x2e) << 8 | get(0x2f), sum);

  uint64_t insns2 = 0;
  VirtualClock clock2([&] { return insns2; }, 0);
  CmosRtc small(clock2, 8ull << 20);
  Bus bus2;
  bus2.register_pio(0x70, 2, &small);
  auto get2 = [&](uint8_t i) {
    bus2.pio_write(0x70, 1, i);
    return static_cast<unsigned>(bus2.pio_read(0x71, 1));
  };
  EXPECT_EQ(get2(0x17) | get2(0x18) << 8, 7u * 1024);
  EXPECT_EQ(get2(0x34) | get2(0x35) << 8, 0u);
}

TEST_F(RtcTest, RamAndIndexPort) {
  set(0x40, 0xab);
  EXPECT_EQ(get(0x40), 0xab);
  bus.pio_write(0x70, 1, 0x80 | 0x40);  // NMI disabled, same register.
  EXPECT_TRUE(rtc.nmi_disabled());
  EXPECT_EQ(bus.pio_read(0x71, 1), 0xabu);
  EXPECT_EQ(bus.pio_read(0x70, 1), 0xffu);  // The index register is write-only.
  set(kD, 0x00);
  EXPECT_EQ(get(kD), 0x80);
  set(kC, 0xff);
  EXPECT_EQ(get(kC) & 0x0f, 0);
}

}  // namespace
}  // namespace vmm

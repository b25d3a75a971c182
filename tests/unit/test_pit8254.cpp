// The 8254 PIT through its ports, on a deterministic clock: 1 instruction =
// 1 ns, and the test sets the instruction count to move time. Values follow
// the Intel 82C54 datasheet's mode descriptions: a count N written at clock
// period t is loaded at period t+1 and decremented from t+2 on.
#include <gtest/gtest.h>

#include <vector>

#include "devices/bus.h"
#include "devices/pit8254.h"
#include "devices/system_ports.h"
#include "runtime/virtual_clock.h"

namespace vmm {
namespace {

constexpr uint16_t kCounter0 = 0x40, kCounter2 = 0x42, kControl = 0x43, kPortB = 0x61;
constexpr uint64_t kHz = 1193182;

// First nanosecond of PIT clock period `t` (periods counted from time 0).
uint64_t tick_ns(uint64_t t) { return (t * 1'000'000'000ull + kHz - 1) / kHz; }

class PitTest : public ::testing::Test {
 protected:
  PitTest()
      : clock([this] { return insns; }, 0),
        pit(clock),
        port_b([this](bool level) { pit.set_gate(2, level); }, [this] { return pit.out(2); }) {
    pit.irq0 = [this](bool level) {
      if (level && !irq0_level) ++irq0_edges;
      irq0_level = level;
    };
    bus.register_pio(Pit8254::kBase, Pit8254::kPortCount, &pit);
    bus.register_pio(SystemControlPortB::kPort, 1, &port_b);
  }

  void out(uint16_t port, uint8_t v) { bus.pio_write(port, 1, v); }
  uint8_t in(uint16_t port) { return static_cast<uint8_t>(bus.pio_read(port, 1)); }
  void at_tick(uint64_t t) { insns = tick_ns(t); }
  // Runs the machine's timer loop up to `ns`, as an idle guest would.
  void run_until(uint64_t ns) {
    for (uint64_t d = clock.next_deadline(); d <= ns; d = clock.next_deadline()) {
      insns = d;
      clock.run_due(d);
    }
    insns = ns;
  }
  void program(unsigned counter, uint8_t mode, uint16_t count, bool bcd = false) {
    out(kControl, static_cast<uint8_t>(counter << 6 | 0x30 | mode << 1 | (bcd ? 1 : 0)));
    out(static_cast<uint16_t>(kCounter0 + counter), static_cast<uint8_t>(count));
    out(static_cast<uint16_t>(kCounter0 + counter), static_cast<uint8_t>(count >> 8));
  }
  uint16_t latched(unsigned counter) {
    out(kControl, static_cast<uint8_t>(counter << 6));  // Counter latch command.
    uint16_t lo = in(static_cast<uint16_t>(kCounter0 + counter));
    return static_cast<uint16_t>(lo | in(static_cast<uint16_t>(kCounter0 + counter)) << 8);
  }
  uint8_t status(unsigned counter) {
    out(kControl, static_cast<uint8_t>(0xe0 | 2 << counter));  // Read-back: status only.
    return in(static_cast<uint16_t>(kCounter0 + counter));
  }
  bool out_pin(unsigned counter) { return (status(counter) & 0x80) != 0; }

  uint64_t insns = 0;
  VirtualClock clock;
  Bus bus;
  Pit8254 pit;
  SystemControlPortB port_b;
  bool irq0_level = false;
  int irq0_edges = 0;
};

TEST_F(PitTest, Mode0CountsDownAndRaisesOutAtTerminalCount) {
  at_tick(100);
  program(0, 0, 1000);
  EXPECT_FALSE(out_pin(0));
  at_tick(101);
  EXPECT_EQ(latched(0), 1000);
  at_tick(600);
  EXPECT_EQ(latched(0), 501);
  EXPECT_FALSE(out_pin(0));
  at_tick(1100);
  EXPECT_EQ(latched(0), 1);
  EXPECT_FALSE(out_pin(0));
  at_tick(1101);  // N + 1 periods after the write.
  EXPECT_EQ(latched(0), 0);
  EXPECT_TRUE(out_pin(0));
  at_tick(1102);  // Counting goes on and wraps; OUT stays high.
  EXPECT_EQ(latched(0), 0xffff);
  EXPECT_TRUE(out_pin(0));
}

TEST_F(PitTest, Mode0InterruptsOnceAtTerminalCount) {
  program(0, 0, 500);
  int before = irq0_edges;
  run_until(tick_ns(500));
  EXPECT_EQ(irq0_edges, before);
  run_until(tick_ns(502));
  EXPECT_EQ(irq0_edges, before + 1);
  run_until(1'000'000'000);
  EXPECT_EQ(irq0_edges, before + 1);
  EXPECT_EQ(clock.next_deadline(), VirtualClock::kNoDeadline);
}

TEST_F(PitTest, Mode0FirstByteStopsCounting) {
  program(0, 0, 100);
  at_tick(50);
  out(kCounter0, 0x10);  // First byte of a new count: counting stops, OUT low.
  at_tick(500);
  EXPECT_FALSE(out_pin(0));
  out(kCounter0, 0x00);  // Second byte: count 0x0010 loads next period.
  at_tick(501 + 16);
  EXPECT_TRUE(out_pin(0));
}

TEST_F(PitTest, Mode2RateGenerator) {
  program(0, 2, 100);  // Written at period 0, loaded at 1.
  EXPECT_TRUE(out_pin(0));
  at_tick(1);
  EXPECT_EQ(latched(0), 100);
  at_tick(99);
  EXPECT_EQ(latched(0), 2);
  EXPECT_TRUE(out_pin(0));
  at_tick(100);
  EXPECT_EQ(latched(0), 1);
  EXPECT_FALSE(out_pin(0));  // Low for the one period with count 1.
  at_tick(101);
  EXPECT_EQ(latched(0), 100);  // Reloaded.
  EXPECT_TRUE(out_pin(0));
  at_tick(1 + 100 * 7 + 30);
  EXPECT_EQ(latched(0), 70);
}

TEST_F(PitTest, Mode2NewCountTakesEffectAtTheEndOfTheCycle) {
  program(0, 2, 100);
  at_tick(50);
  out(kCounter0, 10);  // New count 10 while counting.
  out(kCounter0, 0);
  EXPECT_EQ(status(0) & 0x40, 0x40);  // NULL COUNT until it is loaded.
  at_tick(100);
  EXPECT_EQ(latched(0), 1);  // The current cycle runs out.
  at_tick(101);
  EXPECT_EQ(latched(0), 10);
  EXPECT_EQ(status(0) & 0x40, 0);
  at_tick(111);
  EXPECT_EQ(latched(0), 10);
}

TEST_F(PitTest, Mode3SquareWaveEvenCount) {
  program(0, 3, 10);
  // Loaded at period 1: high for 5 periods counting 10, 8, 6, 4, 2; low for 5.
  std::vector<uint16_t> counts;
  std::vector<bool> outs;
  for (uint64_t t = 1; t <= 11; ++t) {
    at_tick(t);
    counts.push_back(latched(0));
    outs.push_back(out_pin(0));
  }
  EXPECT_EQ(counts, (std::vector<uint16_t>{10, 8, 6, 4, 2, 10, 8, 6, 4, 2, 10}));
  EXPECT_EQ(outs, (std::vector<bool>{true, true, true, true, true, false, false, false, false, false, true}));
}

TEST_F(PitTest, Mode3SquareWaveOddCount) {
  program(0, 3, 5);
  // Odd N: N-1 is loaded; high for (N+1)/2 = 3 periods (4, 2, 0), low for 2 (4, 2).
  std::vector<uint16_t> counts;
  std::vector<bool> outs;
  for (uint64_t t = 1; t <= 6; ++t) {
    at_tick(t);
    counts.push_back(latched(0));
    outs.push_back(out_pin(0));
  }
  EXPECT_EQ(counts, (std::vector<uint16_t>{4, 2, 0, 4, 2, 4}));
  EXPECT_EQ(outs, (std::vector<bool>{true, true, true, false, false, true}));
}

TEST_F(PitTest, Mode4StrobesOnce) {
  program(0, 4, 50);
  EXPECT_TRUE(out_pin(0));
  at_tick(50);
  EXPECT_TRUE(out_pin(0));
  at_tick(51);  // Count 0: OUT low for one period.
  EXPECT_EQ(latched(0), 0);
  EXPECT_FALSE(out_pin(0));
  at_tick(52);
  EXPECT_TRUE(out_pin(0));
  EXPECT_EQ(latched(0), 0xffff);
}

TEST_F(PitTest, Mode4OneShotsLikeLinuxClockevents) {
  // Linux's PIT clockevent in one-shot mode: control word 0x38 once, then
  // only a count per event.
  out(kControl, 0x38);
  int before = irq0_edges;
  for (int i = 0; i < 5; ++i) {
    out(kCounter0, 100);
    out(kCounter0, 0);
    run_until(clock.now_ns() + tick_ns(200));
  }
  EXPECT_EQ(irq0_edges, before + 5);
}

TEST_F(PitTest, LatchHoldsTheCountUntilRead) {
  program(0, 2, 1000);
  at_tick(101);
  out(kControl, 0x00);  // Latch counter 0.
  at_tick(301);
  out(kControl, 0x00);  // Ignored: a latch is already held.
  EXPECT_EQ(in(kCounter0), 900 & 0xff);
  at_tick(501);
  EXPECT_EQ(in(kCounter0), 900 >> 8);
  // Released: a new latch sees the current count.
  EXPECT_EQ(latched(0), 500);
}

TEST_F(PitTest, AccessModesSequenceTheBytes) {
  // LSB only.
  out(kControl, 0x14);  // Counter 0, LSB, mode 2.
  out(kCounter0, 0x50);
  at_tick(1);
  EXPECT_EQ(in(kCounter0), 0x50);
  EXPECT_EQ(in(kCounter0), 0x50);  // Every read is the LSB.
  // MSB only: the count is 0x1200.
  out(kControl, 0x24);
  out(kCounter0, 0x12);
  at_tick(2);
  EXPECT_EQ(in(kCounter0), 0x12);
  // LSB then MSB, unlatched reads alternate.
  program(0, 2, 0x1234);
  at_tick(3);
  EXPECT_EQ(in(kCounter0), 0x34);
  EXPECT_EQ(in(kCounter0), 0x12);
  EXPECT_EQ(in(kCounter0), 0x34);
  EXPECT_EQ(bus.pio_read(kCounter0, 1), 0x12u);
}

TEST_F(PitTest, ReadBackStatusThenCount) {
  program(0, 2, 0x100);
  // Just written: NULL COUNT until the next period loads it.
  EXPECT_EQ(status(0), 0x80 | 0x40 | 0x30 | 2 << 1);
  at_tick(1 + 0x10);
  out(kControl, 0xc2);  // Read-back counter 0: count and status.
  EXPECT_EQ(in(kCounter0), 0x80 | 0x30 | 2 << 1);  // Status first.
  EXPECT_EQ(in(kCounter0), 0xf0);
  EXPECT_EQ(in(kCounter0), 0x00);
  // Mode 0 status: OUT low after the control word.
  out(kControl, 0x70);  // Counter 1, LSB/MSB, mode 0.
  EXPECT_EQ(status(1), 0x40 | 0x30);
}

TEST_F(PitTest, BcdCounting) {
  program(0, 0, 0x1000, true);  // 1000 decimal.
  at_tick(2);
  EXPECT_EQ(latched(0), 0x0999);
  at_tick(1 + 1000);
  EXPECT_EQ(latched(0), 0x0000);
  at_tick(2 + 1000);
  EXPECT_EQ(latched(0), 0x9999);
}

TEST_F(PitTest, Irq0At1000HzForOneSecond) {
  program(0, 2, 1193);  // Linux's LATCH for HZ=1000.
  int before = irq0_edges;
  run_until(1'000'000'000);
  // Edges at periods 1 + k*1193 <= 1193182 for k >= 1.
  EXPECT_EQ(irq0_edges - before, 1000);
  EXPECT_EQ(clock.next_deadline(), tick_ns(1 + 1001 * 1193));
}

TEST_F(PitTest, Irq0SquareWaveAt100Hz) {
  program(0, 3, 11932);  // Linux's LATCH for HZ=100 in mode 3.
  int before = irq0_edges;
  run_until(1'000'000'000);
  EXPECT_EQ(irq0_edges - before, 99);  // 100 Hz minus a hair: 1193182 / 11932.
  run_until(1'000'000'000 + tick_ns(11932));
  EXPECT_EQ(irq0_edges - before, 100);
}

TEST_F(PitTest, ResetStateTicksAt18Hz) {
  int before = irq0_edges;
  run_until(1'000'000'000);
  EXPECT_EQ(irq0_edges - before, 18);  // 1193182 / 65536 = 18.2.
}

TEST_F(PitTest, Channel2GateAndOutThroughPort61) {
  // Linux's pit_calibrate_tsc: gate on, speaker off, counter 2 mode 0.
  out(kPortB, static_cast<uint8_t>((in(kPortB) & ~0x02) | 0x01));
  EXPECT_TRUE(pit.gate(2));
  out(kControl, 0xb0);
  out(kCounter2, 0xe8);  // 1000.
  out(kCounter2, 0x03);
  EXPECT_EQ(in(kPortB) & 0x20, 0);
  at_tick(1000);
  EXPECT_EQ(in(kPortB) & 0x20, 0);
  at_tick(1001);
  EXPECT_EQ(in(kPortB) & 0x20, 0x20);
}

TEST_F(PitTest, Channel2GateLowHoldsTheCount) {
  out(kPortB, 0x01);
  out(kControl, 0xb0);
  out(kCounter2, 0xe8);
  out(kCounter2, 0x03);
  at_tick(401);
  EXPECT_EQ(latched(2), 600);
  out(kPortB, 0x00);  // Gate low: mode 0 stops counting.
  at_tick(901);
  EXPECT_EQ(latched(2), 600);
  EXPECT_EQ(in(kPortB) & 0x20, 0);
  out(kPortB, 0x01);  // Resumes where it stopped.
  at_tick(1301);
  EXPECT_EQ(latched(2), 200);
  at_tick(1501);
  EXPECT_EQ(in(kPortB) & 0x20, 0x20);
}

TEST_F(PitTest, Mode2GateRisingEdgeReloads) {
  out(kPortB, 0x00);
  program(2, 2, 100);
  at_tick(50);
  EXPECT_TRUE(pit.out(2));  // Not counting: OUT high.
  out(kPortB, 0x01);        // Rising edge: loaded at the next period.
  at_tick(51);
  EXPECT_EQ(latched(2), 100);
  at_tick(81);
  EXPECT_EQ(latched(2), 70);
  out(kPortB, 0x00);
  at_tick(200);
  EXPECT_EQ(latched(2), 70);
  out(kPortB, 0x01);
  at_tick(201);
  EXPECT_EQ(latched(2), 100);
}

TEST_F(PitTest, ControlPortReadsFloat) {
  EXPECT_EQ(in(kControl), 0xff);
}

}  // namespace
}  // namespace vmm

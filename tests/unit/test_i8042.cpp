// The 8042 with no keyboard or mouse, driven as Linux's i8042 driver and
// reboot code do. Command and status values from Linux's i8042.h.
#include <gtest/gtest.h>

#include <vector>

#include "devices/bus.h"
#include "devices/i8042.h"

namespace vmm {
namespace {

constexpr uint16_t kData = 0x60, kCmd = 0x64;
constexpr uint8_t kObf = 0x01, kIbf = 0x02, kSys = 0x04, kCmdDat = 0x08, kUnlocked = 0x10,
                  kAuxData = 0x20, kTimeout = 0x40;

class I8042Test : public ::testing::Test {
 protected:
  I8042Test() : kbc([this] { ++resets; }) {
    kbc.irq1 = [this](bool l) { irq1.push_back(l); };
    kbc.irq12 = [this](bool l) { irq12.push_back(l); };
    bus.register_pio(I8042::kDataPort, 1, &kbc.data());
    bus.register_pio(I8042::kCommandPort, 1, &kbc.command());
  }
  void out(uint16_t port, uint8_t v) { bus.pio_write(port, 1, v); }
  uint8_t in(uint16_t port) { return static_cast<uint8_t>(bus.pio_read(port, 1)); }
  // i8042_command: write the command, optional parameter, read the answer.
  uint8_t command(uint8_t cmd) {
    out(kCmd, cmd);
    EXPECT_TRUE(in(kCmd) & kObf);
    return in(kData);
  }

  Bus bus;
  int resets = 0;
  std::vector<bool> irq1, irq12;
  I8042 kbc;
};

TEST_F(I8042Test, IdleStatus) {
  uint8_t s = in(kCmd);
  EXPECT_EQ(s & (kObf | kIbf), 0);
  EXPECT_TRUE(s & kSys);
  EXPECT_TRUE(s & kUnlocked);
}

TEST_F(I8042Test, SelfTestAnswers55) {
  EXPECT_EQ(command(0xaa), 0x55);
  EXPECT_EQ(in(kCmd) & kObf, 0);
  EXPECT_TRUE(in(kCmd) & kSys);
  EXPECT_TRUE(in(kCmd) & kCmdDat);
}

TEST_F(I8042Test, InterfaceTestsPass) {
  EXPECT_EQ(command(0xab), 0x00);
  EXPECT_EQ(command(0xa9), 0x00);
}

TEST_F(I8042Test, CommandByteReadWrite) {
  uint8_t ctr = command(0x20);
  EXPECT_EQ(ctr, 0x65);  // BIOS-like: translate, aux disabled, system, kbd interrupt.
  out(kCmd, 0x60);
  out(kData, 0x44);  // Interrupts off.
  EXPECT_FALSE(in(kCmd) & kCmdDat);
  EXPECT_EQ(command(0x20), 0x44);
  out(kCmd, 0xad);  // Disable keyboard.
  EXPECT_EQ(command(0x20), 0x54);
  out(kCmd, 0xae);
  out(kCmd, 0xa8);  // Enable aux.
  EXPECT_EQ(command(0x20), 0x44 & ~0x20);
  out(kCmd, 0xa7);
  EXPECT_EQ(command(0x20), 0x64);
}

TEST_F(I8042Test, ResponsesRaiseIrq1WhenEnabled) {
  out(kCmd, 0xaa);
  EXPECT_EQ(irq1, (std::vector<bool>{true}));
  in(kData);
  EXPECT_EQ(irq1, (std::vector<bool>{true, false}));
  out(kCmd, 0x60);
  out(kData, 0x00);  // No interrupts.
  out(kCmd, 0xaa);
  EXPECT_EQ(irq1.size(), 2u);
  EXPECT_TRUE(in(kCmd) & kObf);
}

TEST_F(I8042Test, KeyboardCommandTimesOut) {
  out(kData, 0xff);  // Keyboard reset: nobody answers.
  uint8_t s = in(kCmd);
  EXPECT_TRUE(s & kObf);
  EXPECT_TRUE(s & kTimeout);
  EXPECT_FALSE(s & kAuxData);
  EXPECT_EQ(in(kData), 0xfe);
  EXPECT_EQ(in(kCmd) & (kObf | kTimeout), 0);
}

TEST_F(I8042Test, AuxLoopbackAndNoMouse) {
  out(kCmd, 0x60);
  out(kData, 0x47);  // Aux interrupt on too.
  out(kCmd, 0xd3);   // Linux i8042_check_aux: aux loopback.
  out(kData, 0x5a);
  EXPECT_EQ(in(kCmd) & (kObf | kAuxData), kObf | kAuxData);
  EXPECT_EQ(irq12, (std::vector<bool>{true}));
  EXPECT_EQ(in(kData), 0x5a);
  out(kCmd, 0xd4);  // To the mouse: there is none.
  out(kData, 0xf2);
  EXPECT_EQ(in(kCmd) & (kObf | kAuxData | kTimeout), kObf | kAuxData | kTimeout);
  EXPECT_EQ(in(kData), 0xfe);
}

TEST_F(I8042Test, PulseOutputPortResets) {
  out(kCmd, 0xfe);
  EXPECT_EQ(resets, 1);
  out(kCmd, 0xff);  // Pulses nothing.
  EXPECT_EQ(resets, 1);
}

TEST_F(I8042Test, OutputPortA20AndReset) {
  uint8_t port = command(0xd0);
  EXPECT_EQ(port & 0x03, 0x03);  // Not in reset, A20 on.
  std::vector<bool> a20;
  kbc.a20_changed = [&](bool on) { a20.push_back(on); };
  out(kCmd, 0xd1);
  out(kData, 0xcd);  // A20 off.
  EXPECT_FALSE(kbc.a20());
  EXPECT_EQ(command(0xd0) & 0x02, 0);
  out(kCmd, 0xdf);  // Enable A20.
  EXPECT_TRUE(kbc.a20());
  EXPECT_EQ(a20, (std::vector<bool>{false, true}));
  EXPECT_EQ(resets, 0);
  out(kCmd, 0xd1);
  out(kData, 0xce);  // Bit 0 low: reset.
  EXPECT_EQ(resets, 1);
}

TEST_F(I8042Test, EmptyBufferRepeatsTheLastByte) {
  EXPECT_EQ(command(0xaa), 0x55);
  EXPECT_EQ(in(kData), 0x55);
}

// A guest that keeps sending to the absent keyboard without reading the
// answers: the queue of replies stops at kMaxQueuedOutput bytes, the later
// ones are dropped (found by tests/fuzz/fuzz_devices: it grew without end).
TEST_F(I8042Test, OutputQueueIsBounded) {
  for (int i = 0; i < 1000; ++i) out(kData, 0xff);
  out(kCmd, 0xaa);  // Its 0x55 finds the queue full too.
  unsigned n = 0;
  while ((in(kCmd) & kObf) && n < 2000) {
    EXPECT_EQ(in(kData), 0xfe);
    ++n;
  }
  EXPECT_EQ(n, I8042::kMaxQueuedOutput);
  EXPECT_EQ(command(0xaa), 0x55);  // Drained: answers again.
}

}  // namespace
}  // namespace vmm

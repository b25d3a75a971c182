// Ports 0x61, 0x80 and 0x92 through the bus.
#include <gtest/gtest.h>

#include <vector>

#include "devices/bus.h"
#include "devices/system_ports.h"

namespace vmm {
namespace {

class SystemPortsTest : public ::testing::Test {
 protected:
  SystemPortsTest()
      : port_b([this](bool level) { gate_changes.push_back(level); }, [this] { return timer2_out; }),
        port_a([this] { ++resets; }) {
    bus.register_pio(0x61, 1, &port_b);
    bus.register_pio(0x80, 1, &post);
    bus.register_pio(0x92, 1, &port_a);
  }
  void out(uint16_t port, uint8_t v) { bus.pio_write(port, 1, v); }
  uint8_t in(uint16_t port) { return static_cast<uint8_t>(bus.pio_read(port, 1)); }

  Bus bus;
  std::vector<bool> gate_changes;
  bool timer2_out = false;
  int resets = 0;
  SystemControlPortB port_b;
  PostPort post;
  SystemControlPortA port_a;
};

TEST_F(SystemPortsTest, PortBKeepsTheWritableBitsOnly) {
  out(0x61, 0xff);
  EXPECT_EQ(in(0x61) & 0xcf, 0x0f);  // Bits 7:6 never set; 5:4 are status.
  out(0x61, 0x02);
  EXPECT_EQ(in(0x61) & 0x0f, 0x02);
  EXPECT_FALSE(port_b.speaker_on());
  out(0x61, 0x03);
  EXPECT_TRUE(port_b.speaker_on());
}

TEST_F(SystemPortsTest, PortBBit0DrivesTimer2Gate) {
  out(0x61, 0x01);
  out(0x61, 0x03);  // Gate unchanged: no new call.
  out(0x61, 0x00);
  EXPECT_EQ(gate_changes, (std::vector<bool>{true, false}));
}

TEST_F(SystemPortsTest, PortBBit5IsTimer2Out) {
  EXPECT_EQ(in(0x61) & 0x20, 0);
  timer2_out = true;
  EXPECT_EQ(in(0x61) & 0x20, 0x20);
}

TEST_F(SystemPortsTest, PortBRefreshBitToggles) {
  uint8_t a = in(0x61) & 0x10;
  uint8_t b = in(0x61) & 0x10;
  uint8_t c = in(0x61) & 0x10;
  EXPECT_NE(a, b);
  EXPECT_EQ(a, c);
}

TEST_F(SystemPortsTest, PostPortReadsBackTheLastCode) {
  std::vector<uint8_t> codes;
  post.on_write = [&](uint8_t c) { codes.push_back(c); };
  EXPECT_EQ(in(0x80), 0x00);
  out(0x80, 0x42);
  out(0x80, 0x55);
  EXPECT_EQ(in(0x80), 0x55);
  EXPECT_EQ(post.writes(), 2u);
  EXPECT_EQ(codes, (std::vector<uint8_t>{0x42, 0x55}));
}

TEST_F(SystemPortsTest, PortAReportsA20AndResets) {
  EXPECT_EQ(in(0x92), 0x02);  // A20 on at reset.
  EXPECT_TRUE(port_a.a20());
  out(0x92, 0x00);
  EXPECT_EQ(in(0x92), 0x00);
  EXPECT_FALSE(port_a.a20());
  EXPECT_EQ(resets, 0);
  out(0x92, 0x03);  // Fast reset with A20 on.
  EXPECT_EQ(resets, 1);
  EXPECT_EQ(in(0x92), 0x02);  // Bit 0 reads back 0.
  out(0x92, 0x03);
  EXPECT_EQ(resets, 2);
}

TEST_F(SystemPortsTest, WideAccessesReachOnlyTheByte) {
  out(0x80, 0x12);
  EXPECT_EQ(bus.pio_read(0x80, 2), 0xff12u);
}

}  // namespace
}  // namespace vmm

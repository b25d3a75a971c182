// DebugExit: QEMU isa-debug-exit semantics at iobase 0xf4, iosize 4.
#include <gtest/gtest.h>

#include <vector>

#include "devices/bus.h"
#include "devices/debug_exit.h"

namespace vmm {
namespace {

constexpr uint16_t kPort = 0xf4;

class DebugExitTest : public ::testing::Test {
 protected:
  DebugExitTest() : dev([this](int status) { statuses.push_back(status); }) {
    bus.register_pio(DebugExit::kDefaultBase, DebugExit::kDefaultLength, &dev);
  }

  Bus bus;
  DebugExit dev;
  std::vector<int> statuses;
};

TEST_F(DebugExitTest, RegistersAtQemuDefaultPorts) {
  EXPECT_EQ(DebugExit::kDefaultBase, 0xf4);
  EXPECT_EQ(DebugExit::kDefaultLength, 4);
}

TEST_F(DebugExitTest, ByteWriteGivesShiftedStatusWithLowBitSet) {
  bus.pio_write(kPort, 1, 0);
  bus.pio_write(kPort, 1, 1);
  bus.pio_write(kPort, 1, 0x10);
  bus.pio_write(kPort, 1, 0x7f);
  bus.pio_write(kPort, 1, 0xff);
  EXPECT_EQ(statuses, (std::vector<int>{1, 3, 0x21, 0xff, 0x1ff}));
}

TEST_F(DebugExitTest, WordAndDwordWritesUseTheWholeValue) {
  bus.pio_write(kPort, 2, 0x1234);
  bus.pio_write(kPort, 4, 0x12345678);
  EXPECT_EQ(statuses, (std::vector<int>{0x2469, 0x2468acf1}));
}

TEST_F(DebugExitTest, TopBitOfA32BitValueIsShiftedOut) {
  bus.pio_write(kPort, 4, 0x80000000);
  bus.pio_write(kPort, 4, 0xffffffff);
  ASSERT_EQ(statuses.size(), 2u);
  EXPECT_EQ(statuses[0], 1);
  EXPECT_EQ(static_cast<uint32_t>(statuses[1]), 0xffffffffu);
}

TEST_F(DebugExitTest, WritesAnywhereInTheRangeCount) {
  bus.pio_write(kPort + 1, 1, 2);
  bus.pio_write(kPort + 3, 1, 3);
  EXPECT_EQ(statuses, (std::vector<int>{5, 7}));
}

TEST_F(DebugExitTest, ReadsReturnZeroAndDoNotExit) {
  EXPECT_EQ(bus.pio_read(kPort, 1), 0u);
  EXPECT_EQ(bus.pio_read(kPort, 2), 0u);
  EXPECT_EQ(bus.pio_read(kPort, 4), 0u);
  EXPECT_TRUE(statuses.empty());
}

TEST_F(DebugExitTest, NeighbouringPortsAreNotClaimed) {
  bus.pio_write(kPort - 1, 1, 0);
  bus.pio_write(kPort + 4, 1, 0);
  EXPECT_TRUE(statuses.empty());
  EXPECT_EQ(bus.unhandled_writes(), 2u);
}

TEST(DebugExitStandaloneTest, EmptyCallbackIsHarmless) {
  DebugExit dev{DebugExit::ExitCallback{}};
  EXPECT_NO_THROW(dev.write(0, 1, 1));
  EXPECT_EQ(dev.read(0, 4), 0u);
}

TEST(DebugExitStandaloneTest, StatusEncoding) {
  EXPECT_EQ(DebugExit::status_for(0), 1);
  EXPECT_EQ(DebugExit::status_for(0x31), 0x63);
}

}  // namespace
}  // namespace vmm

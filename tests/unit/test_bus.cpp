// Bus: port I/O and MMIO dispatch, ISA-style answers for unclaimed accesses,
// and rejection of overlapping ranges.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "devices/bus.h"

namespace vmm {
namespace {

// Records every access and answers reads with a fixed pattern.
class RecordingDevice : public IoDevice {
 public:
  struct Access {
    bool write;
    uint32_t offset;
    unsigned size;
    uint32_t value;
  };

  explicit RecordingDevice(const char* name, uint32_t read_value = 0x12345678)
      : name_(name), read_value_(read_value) {}
  const char* name() const override { return name_; }
  uint32_t read(uint32_t offset, unsigned size) override {
    log.push_back({false, offset, size, 0});
    return read_value_;
  }
  void write(uint32_t offset, unsigned size, uint32_t value) override { log.push_back({true, offset, size, value}); }

  std::vector<Access> log;

 private:
  const char* name_;
  uint32_t read_value_;
};

struct Unhandled {
  std::string space;
  uint32_t addr;
  unsigned size;
  bool write;
  uint32_t value;
};

class BusTest : public ::testing::Test {
 protected:
  BusTest() {
    bus.on_unhandled = [this](const char* space, uint32_t addr, unsigned size, bool write, uint32_t value) {
      unhandled.push_back({space, addr, size, write, value});
    };
  }

  Bus bus;
  std::vector<Unhandled> unhandled;
};

TEST_F(BusTest, PioDispatchesWithOffsetRelativeToRangeBase) {
  RecordingDevice uart("uart"), pit("pit");
  bus.register_pio(0x3f8, 8, &uart);
  bus.register_pio(0x40, 4, &pit);

  bus.pio_write(0x3fb, 1, 0x83);
  bus.pio_read(0x3fd, 1);
  bus.pio_write(0x43, 1, 0x34);

  ASSERT_EQ(uart.log.size(), 2u);
  EXPECT_TRUE(uart.log[0].write);
  EXPECT_EQ(uart.log[0].offset, 3u);
  EXPECT_EQ(uart.log[0].size, 1u);
  EXPECT_EQ(uart.log[0].value, 0x83u);
  EXPECT_FALSE(uart.log[1].write);
  EXPECT_EQ(uart.log[1].offset, 5u);
  ASSERT_EQ(pit.log.size(), 1u);
  EXPECT_EQ(pit.log[0].offset, 3u);
  EXPECT_EQ(pit.log[0].value, 0x34u);
  EXPECT_EQ(bus.unhandled_reads(), 0u);
  EXPECT_EQ(bus.unhandled_writes(), 0u);
}

TEST_F(BusTest, FirstAndLastPortOfRangeHitTheDevice) {
  RecordingDevice dev("dev");
  bus.register_pio(0x100, 4, &dev);
  bus.pio_read(0x100, 1);
  bus.pio_read(0x103, 1);
  bus.pio_read(0x0ff, 1);
  bus.pio_read(0x104, 1);
  ASSERT_EQ(dev.log.size(), 2u);
  EXPECT_EQ(dev.log[0].offset, 0u);
  EXPECT_EQ(dev.log[1].offset, 3u);
  EXPECT_EQ(bus.unhandled_reads(), 2u);
}

TEST_F(BusTest, ReadsAreMaskedToAccessSize) {
  RecordingDevice dev("dev", 0xaabbccdd);
  bus.register_pio(0x60, 4, &dev);
  EXPECT_EQ(bus.pio_read(0x60, 1), 0xddu);
  EXPECT_EQ(bus.pio_read(0x60, 2), 0xccddu);
  EXPECT_EQ(bus.pio_read(0x60, 4), 0xaabbccddu);
}

TEST_F(BusTest, WritesAreMaskedToAccessSize) {
  RecordingDevice dev("dev");
  bus.register_pio(0x60, 4, &dev);
  bus.pio_write(0x60, 1, 0x11223344);
  bus.pio_write(0x60, 2, 0x11223344);
  ASSERT_EQ(dev.log.size(), 2u);
  EXPECT_EQ(dev.log[0].value, 0x44u);
  EXPECT_EQ(dev.log[1].value, 0x3344u);
}

TEST_F(BusTest, UnhandledPioReadsFloatHighAndAreCounted) {
  EXPECT_EQ(bus.pio_read(0x80, 1), 0xffu);
  EXPECT_EQ(bus.pio_read(0x80, 2), 0xffffu);
  EXPECT_EQ(bus.pio_read(0x80, 4), 0xffffffffu);
  EXPECT_EQ(bus.unhandled_reads(), 3u);
  EXPECT_EQ(bus.unhandled_writes(), 0u);
  ASSERT_EQ(unhandled.size(), 3u);
  EXPECT_EQ(unhandled[0].space, "pio");
  EXPECT_EQ(unhandled[0].addr, 0x80u);
  EXPECT_EQ(unhandled[1].size, 2u);
  EXPECT_FALSE(unhandled[2].write);
}

TEST_F(BusTest, UnhandledWritesAreDroppedAndCounted) {
  bus.pio_write(0x80, 1, 0x55);
  bus.mmio_write(0xfee00000, 4, 0xdeadbeef);
  EXPECT_EQ(bus.unhandled_writes(), 2u);
  EXPECT_EQ(bus.unhandled_reads(), 0u);
  ASSERT_EQ(unhandled.size(), 2u);
  EXPECT_EQ(unhandled[0].space, "pio");
  EXPECT_TRUE(unhandled[0].write);
  EXPECT_EQ(unhandled[0].value, 0x55u);
  EXPECT_EQ(unhandled[1].space, "mmio");
  EXPECT_EQ(unhandled[1].addr, 0xfee00000u);
  EXPECT_EQ(unhandled[1].value, 0xdeadbeefu);
}

TEST_F(BusTest, UnhandledAccessesWithoutCallbackAreStillCounted) {
  bus.on_unhandled = nullptr;
  EXPECT_EQ(bus.mmio_read(0x1000, 4), 0xffffffffu);
  bus.pio_write(0x1234, 2, 0);
  EXPECT_EQ(bus.unhandled_reads(), 1u);
  EXPECT_EQ(bus.unhandled_writes(), 1u);
}

TEST_F(BusTest, MmioDispatchAndIsMmio) {
  RecordingDevice hpet("hpet", 0x8086a201);
  bus.register_mmio(0xfed00000, 0x400, &hpet);
  EXPECT_TRUE(bus.is_mmio(0xfed00000));
  EXPECT_TRUE(bus.is_mmio(0xfed003ff));
  EXPECT_FALSE(bus.is_mmio(0xfed00400));
  EXPECT_FALSE(bus.is_mmio(0xfecfffff));

  EXPECT_EQ(bus.mmio_read(0xfed00004, 4), 0x8086a201u);
  bus.mmio_write(0xfed00010, 4, 3);
  ASSERT_EQ(hpet.log.size(), 2u);
  EXPECT_EQ(hpet.log[0].offset, 4u);
  EXPECT_EQ(hpet.log[1].offset, 0x10u);
  EXPECT_EQ(hpet.log[1].value, 3u);
}

TEST_F(BusTest, PioAndMmioAreSeparateAddressSpaces) {
  RecordingDevice port_dev("port"), mem_dev("mem");
  bus.register_pio(0x70, 2, &port_dev);
  bus.register_mmio(0x70, 2, &mem_dev);  // Same numbers, other space: no overlap.
  bus.pio_read(0x70, 1);
  bus.mmio_read(0x71, 1);
  EXPECT_EQ(port_dev.log.size(), 1u);
  EXPECT_EQ(mem_dev.log.size(), 1u);
  EXPECT_FALSE(bus.is_mmio(0x1000));
}

TEST_F(BusTest, OverlappingRangesAreRejected) {
  RecordingDevice a("a"), b("b");
  bus.register_pio(0x3f8, 8, &a);
  EXPECT_THROW(bus.register_pio(0x3f8, 8, &b), std::logic_error);  // Identical.
  EXPECT_THROW(bus.register_pio(0x3f0, 9, &b), std::logic_error);  // Covers the first port.
  EXPECT_THROW(bus.register_pio(0x3ff, 1, &b), std::logic_error);  // The last port.
  EXPECT_THROW(bus.register_pio(0x3fa, 1, &b), std::logic_error);  // Inside.
  EXPECT_THROW(bus.register_pio(0x300, 0x200, &b), std::logic_error);  // Around.

  bus.register_mmio(0x1000, 0x1000, &a);
  EXPECT_THROW(bus.register_mmio(0x1fff, 2, &b), std::logic_error);
  EXPECT_THROW(bus.register_mmio(0x0800, 0x1000, &b), std::logic_error);
}

TEST_F(BusTest, OverlapMessageNamesBothDevices) {
  RecordingDevice a("uart16550"), b("intruder");
  bus.register_pio(0x3f8, 8, &a);
  try {
    bus.register_pio(0x3fc, 2, &b);
    FAIL() << "overlap not rejected";
  } catch (const std::logic_error& e) {
    std::string msg = e.what();
    EXPECT_NE(msg.find("uart16550"), std::string::npos) << msg;
    EXPECT_NE(msg.find("intruder"), std::string::npos) << msg;
  }
}

TEST_F(BusTest, AdjacentRangesAreAccepted) {
  RecordingDevice a("a"), b("b"), c("c");
  bus.register_pio(0x3f8, 8, &a);
  EXPECT_NO_THROW(bus.register_pio(0x3f0, 8, &b));
  EXPECT_NO_THROW(bus.register_pio(0x400, 1, &c));
  bus.pio_read(0x3f7, 1);
  bus.pio_read(0x3f8, 1);
  bus.pio_read(0x400, 1);
  EXPECT_EQ(a.log.size(), 1u);
  EXPECT_EQ(b.log.size(), 1u);
  EXPECT_EQ(c.log.size(), 1u);
}

TEST_F(BusTest, RejectedRegistrationLeavesBusUnchanged) {
  RecordingDevice a("a"), b("b");
  bus.register_pio(0x60, 1, &a);
  EXPECT_THROW(bus.register_pio(0x5f, 4, &b), std::logic_error);
  bus.pio_read(0x61, 1);  // Would belong to b had the registration stuck.
  EXPECT_TRUE(b.log.empty());
  EXPECT_EQ(bus.unhandled_reads(), 1u);
}

TEST_F(BusTest, EmptyRangeOrNullDeviceIsRejected) {
  RecordingDevice a("a");
  EXPECT_THROW(bus.register_pio(0x80, 0, &a), std::logic_error);
  EXPECT_THROW(bus.register_pio(0x80, 1, nullptr), std::logic_error);
  EXPECT_THROW(bus.register_mmio(0x1000, 0, &a), std::logic_error);
}

TEST_F(BusTest, RangeEndingAtTopOfPortSpace) {
  RecordingDevice a("a");
  bus.register_pio(0xfff0, 0x10, &a);
  bus.pio_read(0xffff, 1);
  ASSERT_EQ(a.log.size(), 1u);
  EXPECT_EQ(a.log[0].offset, 0xfu);
}

TEST_F(BusTest, RangeEndingAtTopOfAddressSpace) {
  RecordingDevice bios("bios");
  bus.register_mmio(0xffff0000, 0x10000, &bios);
  EXPECT_TRUE(bus.is_mmio(0xffffffff));
  bus.mmio_read(0xfffffff0, 4);
  ASSERT_EQ(bios.log.size(), 1u);
  EXPECT_EQ(bios.log[0].offset, 0xfff0u);
}

}  // namespace
}  // namespace vmm

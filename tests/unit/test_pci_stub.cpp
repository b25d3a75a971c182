// PCI configuration mechanism #1 with no devices: the probe Linux's
// pci_check_type1 makes, then configuration reads.
#include <gtest/gtest.h>

#include "devices/bus.h"
#include "devices/pci_stub.h"

namespace vmm {
namespace {

class PciStubTest : public ::testing::Test {
 protected:
  PciStubTest() { bus.register_pio(PciStub::kBase, PciStub::kPortCount, &pci); }
  Bus bus;
  PciStub pci;
};

TEST_F(PciStubTest, ConfigAddressReadsBackAsWritten) {
  bus.pio_write(0xcf8, 4, 0x80000000u);
  EXPECT_EQ(bus.pio_read(0xcf8, 4), 0x80000000u);
  // Bus 1, device 2, function 3, register 0x10; low two bits read 0.
  bus.pio_write(0xcf8, 4, 0x80011310u | 3);
  EXPECT_EQ(bus.pio_read(0xcf8, 4), 0x80011310u);
  bus.pio_write(0xcf8, 4, 0x0000fffcu);  // Enable bit clear.
  EXPECT_EQ(bus.pio_read(0xcf8, 4), 0x0000fffcu);
}

TEST_F(PciStubTest, LinuxType1Probe) {
  bus.pio_write(0xcfb, 1, 0x01);  // Byte write: not CONFIG_ADDRESS.
  uint32_t saved = bus.pio_read(0xcf8, 4);
  bus.pio_write(0xcf8, 4, 0x80000000u);
  EXPECT_EQ(bus.pio_read(0xcf8, 4), 0x80000000u);
  bus.pio_write(0xcf8, 4, saved);
  EXPECT_EQ(bus.pio_read(0xcf8, 4), saved);
}

TEST_F(PciStubTest, NarrowAccessesToCf8AreNotTheAddressRegister) {
  bus.pio_write(0xcf8, 4, 0x80000000u);
  bus.pio_write(0xcf8, 1, 0x00);
  EXPECT_EQ(bus.pio_read(0xcf8, 4), 0x80000000u);
  EXPECT_EQ(bus.pio_read(0xcf8, 1), 0xffu);
  EXPECT_EQ(bus.pio_read(0xcfa, 2), 0xffffu);
}

TEST_F(PciStubTest, EveryFunctionReadsAllOnes) {
  for (uint32_t bdf : {0x000000u, 0x000800u, 0x00f800u, 0x010000u, 0xff0700u}) {
    for (uint32_t reg : {0x00u, 0x08u, 0x3cu, 0xfcu}) {
      bus.pio_write(0xcf8, 4, 0x80000000u | bdf | reg);
      EXPECT_EQ(bus.pio_read(0xcfc, 4), 0xffffffffu);
      EXPECT_EQ(bus.pio_read(0xcfe, 2), 0xffffu);
      EXPECT_EQ(bus.pio_read(0xcff, 1), 0xffu);
    }
  }
  bus.pio_write(0xcfc, 4, 0x12345678u);  // Dropped.
  EXPECT_EQ(bus.pio_read(0xcfc, 4), 0xffffffffu);
  EXPECT_EQ(bus.unhandled_reads(), 0u);
}

}  // namespace
}  // namespace vmm

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

// Linux's reboot through 0xcf9 (arch/x86/kernel/reboot.c, BOOT_CF9_FORCE):
// 0x02 (hard reset selected), then 0x06 (RCPU set: the reset happens).
TEST_F(PciStubTest, ResetControlRegisterResetsOnRcpuRisingEdge) {
  int resets = 0;
  pci.on_reset = [&] { ++resets; };
  bus.pio_write(PciStub::kResetControl, 1, PciStub::kSystemReset);
  EXPECT_EQ(resets, 0);
  EXPECT_EQ(bus.pio_read(PciStub::kResetControl, 1), PciStub::kSystemReset);
  bus.pio_write(PciStub::kResetControl, 1, PciStub::kSystemReset | PciStub::kResetCpu);
  EXPECT_EQ(resets, 1);
  EXPECT_EQ(bus.pio_read(PciStub::kResetControl, 1), PciStub::kSystemReset);  // RCPU reads as 0.
  // A dword write to 0xcf8 is CONFIG_ADDRESS, never a reset.
  bus.pio_write(0xcf8, 4, 0x0000ff00u);
  EXPECT_EQ(resets, 1);
}

}  // namespace
}  // namespace vmm

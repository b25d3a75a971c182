// PCI configuration mechanism #1 with no devices behind it (PCI Local Bus
// Specification 3.0, 3.2.2.3.2 "Software Generation of Configuration
// Transactions"): CONFIG_ADDRESS at 0xcf8 and CONFIG_DATA at 0xcfc-0xcff.
//
// Every configuration read returns all ones, which is what a host bridge
// answers for a function that does not exist (a master abort); writes are
// dropped. A guest probing the bus (Linux's pci_check_type1 and its sanity
// check) thus finds the mechanism but no host bridge, and goes on without PCI.
//
// The byte port 0xcf9 inside the range is the chipset's Reset Control
// register (Intel 82371AB PIIX4 datasheet, "RC - Reset Control Register"):
// a 0-to-1 transition of RCPU (bit 2) resets the system, which Linux's
// reboot=pci (and its fallback chain) uses.
//
// Bus registration: one range, kBase (0xcf8) with kPortCount (8) ports.
//
// Not thread-safe; call everything from the thread that runs the guest.
#pragma once

#include <cstdint>
#include <functional>

#include "devices/io_device.h"

namespace vmm {

class PciStub : public IoDevice {
 public:
  static constexpr uint16_t kBase = 0xcf8;
  static constexpr uint16_t kPortCount = 8;
  static constexpr uint16_t kResetControl = 0xcf9;
  // Reset Control bits (PIIX4 RC).
  static constexpr uint8_t kSystemReset = 1u << 1;  // SRST: hard (1) or soft (0) reset.
  static constexpr uint8_t kResetCpu = 1u << 2;     // RCPU: 0 -> 1 starts the reset.
  static constexpr uint8_t kFullReset = 1u << 3;

  // Called on a reset through 0xcf9.
  std::function<void()> on_reset;

  const char* name() const override { return "pci-conf1"; }
  uint32_t read(uint32_t offset, unsigned size) override;
  void write(uint32_t offset, unsigned size, uint32_t value) override;

  // The last CONFIG_ADDRESS written (as it reads back).
  uint32_t config_address() const { return config_address_; }

 private:
  uint32_t config_address_ = 0;
  uint8_t reset_control_ = 0;
};

}  // namespace vmm

#include "devices/pci_stub.h"

namespace vmm {

namespace {

// Offsets within the range at 0xcf8.
constexpr uint32_t kConfigAddress = 0;  // 0xcf8, a 32-bit register; 0xcfc-0xcff (4-7) is CONFIG_DATA.

// CONFIG_ADDRESS layout (PCI 3.0, Figure 3-2): bit 31 enable, bits 30:24
// reserved (read as 0), 23:16 bus, 15:11 device, 10:8 function, 7:2
// register number, 1:0 always 0.
constexpr uint32_t kAddressEnable = 1u << 31;
constexpr uint32_t kAddressWritable = kAddressEnable | 0x00fffffcu;
static_assert((kAddressWritable & 0x7f000003u) == 0);

constexpr uint32_t all_ones(unsigned size) { return size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1; }

}  // namespace

uint32_t PciStub::read(uint32_t offset, unsigned size) {
  // "Only 32-bit accesses to CONFIG_ADDRESS are recognised as accesses to
  // it"; byte and word accesses at 0xcf8-0xcfb go to the I/O bus as normal
  // I/O, where nothing answers: all ones.
  if (offset == kConfigAddress && size == 4) return config_address_;
  if (offset == kResetControl - kBase && size == 1) return reset_control_ & (kSystemReset | kFullReset);
  // CONFIG_DATA (offsets 4-7): no function answers on any bus/device/
  // function, a master abort, which reads as all ones.
  return all_ones(size);
}

void PciStub::write(uint32_t offset, unsigned size, uint32_t value) {
  if (offset == kConfigAddress && size == 4) config_address_ = value & kAddressWritable;
  if (offset == kResetControl - kBase && size == 1) {
    const uint8_t v = static_cast<uint8_t>(value);
    const bool start = (v & kResetCpu) && !(reset_control_ & kResetCpu);
    reset_control_ = v & (kSystemReset | kFullReset);  // RCPU reads back as 0.
    if (start && on_reset) on_reset();
  }
  // Narrow accesses to 0xcf8-0xcfb and all CONFIG_DATA writes are dropped:
  // there is no function to take them.
}

}  // namespace vmm

// Port I/O and MMIO dispatch. Devices register ranges; accesses that hit no
// device are counted and answered as an ISA bus does (reads all ones, writes
// dropped).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "devices/io_device.h"

namespace vmm {

class Bus {
 public:
  struct Range {
    uint32_t base;
    uint32_t length;
    IoDevice* device;
  };

  // Registering a range that overlaps an existing one is a VMM bug: throws std::logic_error.
  void register_pio(uint16_t base, uint16_t length, IoDevice* device);
  void register_mmio(uint32_t base, uint32_t length, IoDevice* device);

  uint32_t pio_read(uint16_t port, unsigned size);
  void pio_write(uint16_t port, unsigned size, uint32_t value);
  uint32_t mmio_read(uint32_t addr, unsigned size);
  void mmio_write(uint32_t addr, unsigned size, uint32_t value);

  // Whether a physical address belongs to a registered MMIO range.
  bool is_mmio(uint32_t addr) const { return find(mmio_, addr) != nullptr; }

  uint64_t unhandled_reads() const { return unhandled_reads_; }
  uint64_t unhandled_writes() const { return unhandled_writes_; }

  // Called for every access that hit no device ("pio"/"mmio", address, size,
  // is_write, value); the machine routes it to the -d unimp log.
  std::function<void(const char*, uint32_t, unsigned, bool, uint32_t)> on_unhandled;

 private:
  static const Range* find(const std::vector<Range>& v, uint32_t addr);
  static void insert(std::vector<Range>& v, Range r);

  std::vector<Range> pio_;
  std::vector<Range> mmio_;
  uint64_t unhandled_reads_ = 0;
  uint64_t unhandled_writes_ = 0;
};

}  // namespace vmm

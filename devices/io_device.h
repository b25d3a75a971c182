// The interface every emulated device implements: reads and writes of 1, 2 or
// 4 bytes at an offset inside one of the ranges it registered on the Bus.
#pragma once

#include <cstdint>

namespace vmm {

class IoDevice {
 public:
  virtual ~IoDevice() = default;
  virtual const char* name() const = 0;
  // `offset` is relative to the start of the registered range; `size` is 1, 2 or 4.
  virtual uint32_t read(uint32_t offset, unsigned size) = 0;
  virtual void write(uint32_t offset, unsigned size, uint32_t value) = 0;
};

}  // namespace vmm

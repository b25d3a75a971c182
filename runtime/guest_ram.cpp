#include "runtime/guest_ram.h"

#include <sys/mman.h>

#include <stdexcept>
#include <string>

namespace vmm {

GuestRam::GuestRam(uint64_t bytes) {
  // The guest's physical address space is 4 GiB; leave room for MMIO above RAM.
  if (bytes == 0 || bytes > 0xF0000000ull) {
    throw std::runtime_error("guest RAM size must be between 1 byte and 3840 MiB");
  }
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) {
    throw std::runtime_error("cannot allocate " + std::to_string(bytes >> 20) + " MiB of guest RAM");
  }
  data_ = static_cast<uint8_t*>(p);
  size_ = static_cast<uint32_t>(bytes);
}

GuestRam::~GuestRam() {
  if (data_) munmap(data_, size_);
}

}  // namespace vmm

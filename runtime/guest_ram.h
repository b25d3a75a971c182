// Guest physical RAM: one host allocation of the size given by -m, starting at
// guest physical address 0. It is a memory file (memfd), so that the JIT can
// map its pages a second time at guest-virtual positions (jit/guest_views.h).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace vmm {

class GuestRam {
 public:
  // Throws std::runtime_error when the host cannot provide `bytes`.
  explicit GuestRam(uint64_t bytes);
  ~GuestRam();
  GuestRam(const GuestRam&) = delete;
  GuestRam& operator=(const GuestRam&) = delete;

  uint8_t* data() { return data_; }
  uint32_t size() const { return size_; }
  // Whether [addr, addr+len) lies in RAM (overflow-safe).
  bool contains(uint64_t addr, uint64_t len = 1) const { return addr <= size_ && len <= size_ - addr; }
  uint8_t* ptr(uint32_t addr) { return data_ + addr; }
  // Zeroes all of RAM, giving its pages back to the host.
  void clear();
  // The memory file holding RAM (offset = guest physical address).
  int fd() const { return fd_; }

 private:
  uint8_t* data_ = nullptr;
  uint32_t size_ = 0;
  int fd_ = -1;
};

}  // namespace vmm

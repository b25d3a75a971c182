#include "runtime/guest_ram.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <string>

namespace vmm {

GuestRam::GuestRam(uint64_t bytes) {
  // The guest's physical address space is 4 GiB; leave room for MMIO above RAM.
  if (bytes == 0 || bytes > 0xF0000000ull) {
    throw std::runtime_error("guest RAM size must be between 1 byte and 3840 MiB");
  }
  // RAM is whole pages (as QEMU rounds -m): every page the TLB, the block
  // builder and the guest views treat as RAM is RAM to its last byte.
  bytes = (bytes + 4095) & ~uint64_t{4095};
  const std::string error = "cannot allocate " + std::to_string(bytes >> 20) + " MiB of guest RAM";
  fd_ = memfd_create("vmm-guest-ram", MFD_CLOEXEC);
  if (fd_ < 0) throw std::runtime_error(error + " (memfd_create failed)");
  if (ftruncate(fd_, static_cast<off_t>(bytes)) != 0) {
    close(fd_);
    throw std::runtime_error(error);
  }
  // Pages are allocated on first touch, as for anonymous memory.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd_, 0);
  if (p == MAP_FAILED) {
    close(fd_);
    throw std::runtime_error(error);
  }
  data_ = static_cast<uint8_t*>(p);
  size_ = static_cast<uint32_t>(bytes);
}

void GuestRam::clear() {
  // Punching a hole reads back as zeros in every mapping of the file.
  if (fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, size_) != 0) std::memset(data_, 0, size_);
}

GuestRam::~GuestRam() {
  if (data_) munmap(data_, size_);
  if (fd_ >= 0) close(fd_);
}

}  // namespace vmm

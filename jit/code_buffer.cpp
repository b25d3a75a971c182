#include "jit/code_buffer.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>

namespace vmm::jit {

CodeBuffer::CodeBuffer(size_t bytes) {
  const std::string what = "cannot map a " + std::to_string(bytes >> 20) + " MiB code buffer";
  const int fd = memfd_create("vmm-jit-code", MFD_CLOEXEC);
  if (fd < 0) throw std::runtime_error(what + ": " + std::strerror(errno));
  if (ftruncate(fd, static_cast<off_t>(bytes)) != 0) {
    close(fd);
    throw std::runtime_error(what + ": " + std::strerror(errno));
  }
  void* x = mmap(nullptr, bytes, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
  void* w = x == MAP_FAILED ? MAP_FAILED : mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);  // The mappings keep the file.
  if (w == MAP_FAILED) {
    if (x != MAP_FAILED) munmap(x, bytes);
    throw std::runtime_error(what);
  }
  base_ = static_cast<uint8_t*>(x);
  write_base_ = static_cast<uint8_t*>(w);
  size_ = bytes;
}

CodeBuffer::~CodeBuffer() {
  if (base_) munmap(base_, size_);
  if (write_base_) munmap(write_base_, size_);
}

uint8_t* CodeBuffer::allocate(size_t bytes) {
  const size_t start = (used_ + 15) & ~size_t{15};
  if (start + bytes > size_) return nullptr;
  used_ = start + bytes;
  return base_ + start;
}

void CodeBuffer::reset_to(size_t keep) { used_ = keep; }

}  // namespace vmm::jit

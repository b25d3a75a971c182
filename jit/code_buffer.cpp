#include "jit/code_buffer.h"

#include <sys/mman.h>

#include <stdexcept>
#include <string>

namespace vmm::jit {

CodeBuffer::CodeBuffer(size_t bytes) {
  // Readable, writable and executable: blocks are patched in place when they
  // are chained and unchained. The buffer holds only code this JIT emitted.
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) throw std::runtime_error("cannot map a " + std::to_string(bytes >> 20) + " MiB code buffer");
  base_ = static_cast<uint8_t*>(p);
  size_ = bytes;
}

CodeBuffer::~CodeBuffer() {
  if (base_) munmap(base_, size_);
}

uint8_t* CodeBuffer::allocate(size_t bytes) {
  const size_t start = (used_ + 15) & ~size_t{15};
  if (start + bytes > size_) return nullptr;
  used_ = start + bytes;
  return base_ + start;
}

void CodeBuffer::reset_to(size_t keep) { used_ = keep; }

}  // namespace vmm::jit

// The JIT's code buffer: one bounded host mapping holding translated blocks
// and the entry/exit trampolines. Filled from the bottom; when a translation
// does not fit, the translation cache is flushed whole (design decision 8).
#pragma once

#include <cstddef>
#include <cstdint>

namespace vmm::jit {

class CodeBuffer {
 public:
  // Throws std::runtime_error when the mapping cannot be created.
  explicit CodeBuffer(size_t bytes);
  ~CodeBuffer();
  CodeBuffer(const CodeBuffer&) = delete;
  CodeBuffer& operator=(const CodeBuffer&) = delete;

  uint8_t* base() const { return base_; }
  size_t size() const { return size_; }
  size_t used() const { return used_; }
  size_t free_bytes() const { return size_ - used_; }
  bool contains(const void* p) const {
    auto a = reinterpret_cast<uintptr_t>(p), b = reinterpret_cast<uintptr_t>(base_);
    return a >= b && a < b + size_;
  }

  // Address where the next allocation will start (16-byte aligned).
  uint8_t* cursor() const { return base_ + used_; }
  // Claims `bytes` at cursor(); returns nullptr when they do not fit.
  uint8_t* allocate(size_t bytes);
  // Drops everything above `keep` bytes (the trampolines stay).
  void reset_to(size_t keep);

 private:
  uint8_t* base_ = nullptr;
  size_t size_ = 0;
  size_t used_ = 0;
};

}  // namespace vmm::jit

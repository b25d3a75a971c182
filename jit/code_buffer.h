// The JIT's code buffer: one bounded memory file holding translated blocks
// and the entry/exit trampolines. Filled from the bottom; when a translation
// does not fit, the translation cache is flushed whole (design decision 8).
//
// W^X: the file is mapped twice, read + execute where translated code runs
// (base(), and every code address the JIT records), and read + write at an
// unrelated address, through which code is emitted and chains are patched
// (writable(), write()). No page of the process is writable and executable
// at once, so a stray write, the guest's included, cannot become host code.
// x86 keeps instruction fetches coherent with stores to the same physical
// memory through any mapping (SDM Vol. 3A, 11.6 "Self-Modifying Code").
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
  // The writable alias of executable address `exec` in the buffer.
  uint8_t* writable(const uint8_t* exec) const { return write_base_ + (exec - base_); }
  // Copies `n` bytes to executable address `at` through the writable alias.
  void write(const uint8_t* at, const void* src, size_t n) { __builtin_memcpy(writable(at), src, n); }
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
  uint8_t* base_ = nullptr;        // Read + execute.
  uint8_t* write_base_ = nullptr;  // Read + write.
  size_t size_ = 0;
  size_t used_ = 0;
};

}  // namespace vmm::jit

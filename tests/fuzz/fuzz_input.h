// Helpers shared by the fuzz harnesses (tests/fuzz/fuzz_*.cpp).
//
// FuzzInput hands out the fuzz input as little-endian integers and byte
// strings, front to back. Once the input is used up every read returns zeros
// (an empty string), so a harness never has to check the length; `done()`
// tells it to stop looping.
//
// FUZZ_CHECK(cond, ...) is the harness's assertion: when a property the
// harness states does not hold it prints the message and aborts, which
// libFuzzer (and the replay driver) reports as a finding with the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace vmm::fuzz {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}

  bool done() const { return pos_ >= size_; }
  size_t remaining() const { return size_ - pos_; }

  uint8_t u8() { return pos_ < size_ ? data_[pos_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | u8() << 8); }
  uint32_t u32() { return u16() | uint32_t{u16()} << 16; }
  uint64_t u64() { return u32() | uint64_t{u32()} << 32; }
  bool flag() { return u8() & 1; }

  // Up to `n` bytes (fewer at the end of the input).
  std::vector<uint8_t> bytes(size_t n) {
    if (n > remaining()) n = remaining();
    std::vector<uint8_t> v(data_ + pos_, data_ + pos_ + n);
    pos_ += n;
    return v;
  }
  std::string string(size_t n) {
    std::vector<uint8_t> v = bytes(n);
    return std::string(v.begin(), v.end());
  }
  // A string whose length is the next byte (0-255).
  std::string short_string() { return string(u8()); }
  // Everything not read yet.
  std::vector<uint8_t> rest() { return bytes(remaining()); }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace vmm::fuzz

#define FUZZ_CHECK(cond, ...)                                                           \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: fuzz check failed: %s: ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                \
      std::fputc('\n', stderr);                                                         \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)

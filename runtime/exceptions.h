// Guest exceptions (SDM Vol. 3A, 6.3.1). A guest fault raised anywhere in the
// VMM (softmmu, an instruction semantic, an emulation routine) is thrown as a
// GuestException and caught by the run loop, which delivers it to the guest.
#pragma once

#include <cstdint>

namespace vmm {

enum Vector : uint8_t {
  kDE = 0,   // Divide error.
  kDB = 1,   // Debug.
  kNMI = 2,
  kBP = 3,   // Breakpoint (INT3).
  kOF = 4,   // Overflow (INTO).
  kBR = 5,   // BOUND range exceeded.
  kUD = 6,   // Invalid opcode.
  kNM = 7,   // Device not available.
  kDF = 8,   // Double fault.
  kTS = 10,  // Invalid TSS.
  kNP = 11,  // Segment not present.
  kSS = 12,  // Stack-segment fault.
  kGP = 13,  // General protection.
  kPF = 14,  // Page fault.
  kMF = 16,  // x87 floating-point error.
  kAC = 17,  // Alignment check.
  kMC = 18,  // Machine check.
  kXM = 19,  // SIMD floating-point exception.
};

// #PF error code bits (SDM Vol. 3A, 4.7).
namespace pferr {
inline constexpr uint32_t kPresent = 1u << 0;
inline constexpr uint32_t kWrite = 1u << 1;
inline constexpr uint32_t kUser = 1u << 2;
inline constexpr uint32_t kReserved = 1u << 3;
inline constexpr uint32_t kFetch = 1u << 4;
}  // namespace pferr

struct GuestException {
  uint8_t vector;
  bool has_error;
  uint32_t error;
};

[[noreturn]] inline void raise_exception(uint8_t vector) { throw GuestException{vector, false, 0}; }
[[noreturn]] inline void raise_exception(uint8_t vector, uint32_t error) {
  throw GuestException{vector, true, error};
}

// Whether an exception vector pushes an error code (SDM Vol. 3A, Table 6-1).
inline bool vector_has_error_code(uint8_t v) {
  return v == kDF || v == kTS || v == kNP || v == kSS || v == kGP || v == kPF || v == kAC;
}

}  // namespace vmm

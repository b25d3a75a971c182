// Re-encodes an unprivileged guest instruction for the 64-bit host: the same
// mnemonic, guest registers replaced by the host registers that hold them
// (host_regs.h), and a memory operand replaced by [R8], which the translator
// has loaded with the host address. Zydis' encoder picks the encoding, so
// what changes meaning in 64-bit mode (0x40-0x4F are REX prefixes, ESP lives
// in R12) is handled by construction.
#pragma once

#include <cstddef>
#include <cstdint>

#include "frontend/instr.h"

namespace vmm::jit {

enum class EncodeResult {
  kOk,
  kHighByteWithRex,  // AH/CH/DH/BH together with R8-R15 (memory or guest ESP): no encoding exists.
  kUnsupported,      // Operand kind or form the encoder does not take.
};

// Encodes `in` into `out` (at least 15 bytes). `len` receives the length.
// The memory operand is [R8], or [R14 + R8] with `via_view` (the host-MMU
// path: R8 the guest linear address, R14 the guest view's base).
EncodeResult encode_native(const InstrRecord& in, uint8_t* out, size_t& len, bool via_view = false);

}  // namespace vmm::jit

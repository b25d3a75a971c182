// Zydis-based decoder for 32-bit protected-mode code, producing InstrRecords.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include <Zydis/Zydis.h>

#include "frontend/instr.h"

namespace vmm {

enum class DecodeStatus {
  kOk,
  kNeedMoreBytes,  // The bytes given end inside the instruction.
  kInvalid,        // Not a valid instruction: executes as #UD.
};

class Decoder {
 public:
  // `code32`: CS.D (default operand and address size 32).
  explicit Decoder(bool code32 = true);

  // Decodes one instruction from `bytes` (at most `avail` bytes, at most 15
  // used). Fills `out` (handler left null) on kOk; on kInvalid, `out` is a
  // one-byte record with iclass::kInvalid.
  DecodeStatus decode(const uint8_t* bytes, size_t avail, InstrRecord& out) const;

  // Full Zydis decode, for the disassembler and the JIT's re-encoder.
  bool decode_full(const uint8_t* bytes, size_t avail, ZydisDecodedInstruction& insn,
                   ZydisDecodedOperand* operands) const;

  // Intel-syntax disassembly of the instruction at `bytes` located at `eip`.
  std::string disassemble(const uint8_t* bytes, size_t avail, uint32_t eip) const;

 private:
  ZydisDecoder decoder_;
};

// Name of a ZydisMnemonic, for logs.
const char* mnemonic_name(uint16_t mnemonic);

}  // namespace vmm

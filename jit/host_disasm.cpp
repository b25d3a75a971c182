// Zydis disassembly of host code, for -d out_asm.
#include <Zydis/Zydis.h>

#include <cstdio>
#include <string>

#include "jit/translator.h"

namespace vmm::jit {

std::string disassemble_host(const void* code, size_t size) {
  ZydisDecoder dec;
  ZydisDecoderInit(&dec, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisFormatter fmt;
  ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL);
  std::string out;
  const auto* p = static_cast<const uint8_t*>(code);
  size_t off = 0;
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  while (off < size) {
    char line[256];
    const uint64_t addr = reinterpret_cast<uint64_t>(p + off);
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&dec, p + off, size - off, &insn, ops))) {
      std::snprintf(line, sizeof line, "0x%016llx:  (bad)\n", static_cast<unsigned long long>(addr));
      out += line;
      ++off;
      continue;
    }
    char text[200];
    ZydisFormatterFormatInstruction(&fmt, &insn, ops, insn.operand_count_visible, text, sizeof text, addr, nullptr);
    std::snprintf(line, sizeof line, "0x%016llx:  %s\n", static_cast<unsigned long long>(addr), text);
    out += line;
    off += insn.length;
  }
  return out;
}

}  // namespace vmm::jit

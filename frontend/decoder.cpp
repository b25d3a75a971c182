#include "frontend/decoder.h"

#include <cstring>

#include "runtime/cpu_state.h"

namespace vmm {
namespace {

// Byte offset of an 8/16/32-bit general register inside CpuState::gpr.
// AH..BH are byte 1 of EAX..EBX (little-endian host).
bool gpr_offset(ZydisRegister r, uint8_t& off) {
  if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL) {
    off = static_cast<uint8_t>((r - ZYDIS_REGISTER_AL) * 4);
    return true;
  }
  if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) {
    off = static_cast<uint8_t>((r - ZYDIS_REGISTER_AH) * 4 + 1);
    return true;
  }
  if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_DI) {
    off = static_cast<uint8_t>((r - ZYDIS_REGISTER_AX) * 4);
    return true;
  }
  if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI) {
    off = static_cast<uint8_t>((r - ZYDIS_REGISTER_EAX) * 4);
    return true;
  }
  return false;
}

// GPR index of a 16/32-bit address register; kZeroGpr for none.
uint8_t addr_reg(ZydisRegister r) {
  if (r == ZYDIS_REGISTER_NONE) return kZeroGpr;
  if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_DI) return static_cast<uint8_t>(r - ZYDIS_REGISTER_AX);
  if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI) return static_cast<uint8_t>(r - ZYDIS_REGISTER_EAX);
  return 0xff;
}

uint8_t seg_index(ZydisRegister r) {
  switch (r) {
    case ZYDIS_REGISTER_ES: return ES;
    case ZYDIS_REGISTER_CS: return CS;
    case ZYDIS_REGISTER_SS: return SS;
    case ZYDIS_REGISTER_DS: return DS;
    case ZYDIS_REGISTER_FS: return FS;
    case ZYDIS_REGISTER_GS: return GS;
    default: return kNoSeg;
  }
}

// Condition code (the low nibble of the 0F 8x / 0F 9x / 0F 4x opcodes).
int condition_of(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_JO: case ZYDIS_MNEMONIC_SETO: case ZYDIS_MNEMONIC_CMOVO: return 0;
    case ZYDIS_MNEMONIC_JNO: case ZYDIS_MNEMONIC_SETNO: case ZYDIS_MNEMONIC_CMOVNO: return 1;
    case ZYDIS_MNEMONIC_JB: case ZYDIS_MNEMONIC_SETB: case ZYDIS_MNEMONIC_CMOVB: case ZYDIS_MNEMONIC_FCMOVB: return 2;
    case ZYDIS_MNEMONIC_JNB: case ZYDIS_MNEMONIC_SETNB: case ZYDIS_MNEMONIC_CMOVNB: case ZYDIS_MNEMONIC_FCMOVNB: return 3;
    case ZYDIS_MNEMONIC_JZ: case ZYDIS_MNEMONIC_SETZ: case ZYDIS_MNEMONIC_CMOVZ: case ZYDIS_MNEMONIC_FCMOVE: return 4;
    case ZYDIS_MNEMONIC_JNZ: case ZYDIS_MNEMONIC_SETNZ: case ZYDIS_MNEMONIC_CMOVNZ: case ZYDIS_MNEMONIC_FCMOVNE: return 5;
    case ZYDIS_MNEMONIC_JBE: case ZYDIS_MNEMONIC_SETBE: case ZYDIS_MNEMONIC_CMOVBE: case ZYDIS_MNEMONIC_FCMOVBE: return 6;
    case ZYDIS_MNEMONIC_JNBE: case ZYDIS_MNEMONIC_SETNBE: case ZYDIS_MNEMONIC_CMOVNBE: case ZYDIS_MNEMONIC_FCMOVNBE: return 7;
    case ZYDIS_MNEMONIC_JS: case ZYDIS_MNEMONIC_SETS: case ZYDIS_MNEMONIC_CMOVS: return 8;
    case ZYDIS_MNEMONIC_JNS: case ZYDIS_MNEMONIC_SETNS: case ZYDIS_MNEMONIC_CMOVNS: return 9;
    case ZYDIS_MNEMONIC_JP: case ZYDIS_MNEMONIC_SETP: case ZYDIS_MNEMONIC_CMOVP: case ZYDIS_MNEMONIC_FCMOVU: return 10;
    case ZYDIS_MNEMONIC_JNP: case ZYDIS_MNEMONIC_SETNP: case ZYDIS_MNEMONIC_CMOVNP: case ZYDIS_MNEMONIC_FCMOVNU: return 11;
    case ZYDIS_MNEMONIC_JL: case ZYDIS_MNEMONIC_SETL: case ZYDIS_MNEMONIC_CMOVL: return 12;
    case ZYDIS_MNEMONIC_JNL: case ZYDIS_MNEMONIC_SETNL: case ZYDIS_MNEMONIC_CMOVNL: return 13;
    case ZYDIS_MNEMONIC_JLE: case ZYDIS_MNEMONIC_SETLE: case ZYDIS_MNEMONIC_CMOVLE: return 14;
    case ZYDIS_MNEMONIC_JNLE: case ZYDIS_MNEMONIC_SETNLE: case ZYDIS_MNEMONIC_CMOVNLE: return 15;
    default: return -1;
  }
}

bool is_string_op(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD:
    case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD:
    case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD:
    case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSD:
    case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW: case ZYDIS_MNEMONIC_SCASD:
    case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD:
      return true;
    default:
      return false;
  }
}

// Instructions that read or write state a VMM must virtualize although they
// do not fault at CPL 3 (the Popek-Goldberg problem on x86), plus the ones
// that end a block because they change the mode translation depends on.
bool is_sensitive(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_PUSHFD: case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_POPFD:
    case ZYDIS_MNEMONIC_POPF: case ZYDIS_MNEMONIC_SGDT: case ZYDIS_MNEMONIC_SIDT:
    case ZYDIS_MNEMONIC_SLDT: case ZYDIS_MNEMONIC_STR: case ZYDIS_MNEMONIC_SMSW:
    case ZYDIS_MNEMONIC_LAR: case ZYDIS_MNEMONIC_LSL: case ZYDIS_MNEMONIC_VERR:
    case ZYDIS_MNEMONIC_VERW: case ZYDIS_MNEMONIC_CPUID: case ZYDIS_MNEMONIC_RDTSC: case ZYDIS_MNEMONIC_RDPMC:
    case ZYDIS_MNEMONIC_INT: case ZYDIS_MNEMONIC_INT1: case ZYDIS_MNEMONIC_INT3:
    case ZYDIS_MNEMONIC_INTO: case ZYDIS_MNEMONIC_IRET: case ZYDIS_MNEMONIC_IRETD:
    case ZYDIS_MNEMONIC_SYSENTER: case ZYDIS_MNEMONIC_SYSEXIT: case ZYDIS_MNEMONIC_BOUND:
    case ZYDIS_MNEMONIC_ARPL: case ZYDIS_MNEMONIC_CLI: case ZYDIS_MNEMONIC_STI:
    case ZYDIS_MNEMONIC_LDS: case ZYDIS_MNEMONIC_LES: case ZYDIS_MNEMONIC_LFS:
    case ZYDIS_MNEMONIC_LGS: case ZYDIS_MNEMONIC_LSS:
      return true;
    default:
      return false;
  }
}

}  // namespace

Decoder::Decoder(bool code32) {
  ZydisDecoderInit(&decoder_, code32 ? ZYDIS_MACHINE_MODE_LEGACY_32 : ZYDIS_MACHINE_MODE_LEGACY_16,
                   code32 ? ZYDIS_STACK_WIDTH_32 : ZYDIS_STACK_WIDTH_16);
  // The CPU vmm presents has neither LZCNT (ABM) nor TZCNT (BMI1): like such
  // a CPU, it runs F3 0F BD / F3 0F BC as BSR / BSF with an ignored F3
  // prefix (SDM Vol. 2A LZCNT/TZCNT: "on processors that do not support
  // ... the instruction byte encoding is executed as BSR/BSF"). Linux's
  // find-bit routines use the TZCNT encoding for that reason.
  ZydisDecoderEnableMode(&decoder_, ZYDIS_DECODER_MODE_LZCNT, ZYAN_FALSE);
  ZydisDecoderEnableMode(&decoder_, ZYDIS_DECODER_MODE_TZCNT, ZYAN_FALSE);
  // Nor CET: ENDBR32/ENDBR64 (F3 0F 1E FB/FA), which gcc puts at every
  // function entry by default, are hint NOPs on such a CPU (SDM ENDBR32).
  ZydisDecoderEnableMode(&decoder_, ZYDIS_DECODER_MODE_CET, ZYAN_FALSE);
}

bool Decoder::decode_full(const uint8_t* bytes, size_t avail, ZydisDecodedInstruction& insn,
                          ZydisDecodedOperand* operands) const {
  return ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder_, bytes, avail, &insn, operands));
}

DecodeStatus Decoder::decode(const uint8_t* bytes, size_t avail, InstrRecord& out) const {
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
  out = InstrRecord{};
  ZyanStatus st = ZydisDecoderDecodeFull(&decoder_, bytes, avail < 15 ? avail : 15, &insn, zops);
  if (st == ZYDIS_STATUS_NO_MORE_DATA) {
    // Fewer than 15 bytes offered: the instruction may continue past them.
    if (avail < 15) return DecodeStatus::kNeedMoreBytes;
  }
  if (!ZYAN_SUCCESS(st)) {
    out.cls = iclass::kInvalid | iclass::kEndsBlock;
    out.length = 1;
    out.opcode = avail ? bytes[0] : 0;
    return DecodeStatus::kInvalid;
  }

  out.mnemonic = static_cast<uint16_t>(insn.mnemonic);
  out.length = insn.length;
  out.opsize = static_cast<uint8_t>(insn.operand_width / 8);
  out.addrsize = static_cast<uint8_t>(insn.address_width / 8);
  out.opcode = insn.opcode;
  out.modrm = insn.raw.modrm.offset ? static_cast<uint8_t>((insn.raw.modrm.mod << 6) | (insn.raw.modrm.reg << 3) |
                                                           insn.raw.modrm.rm)
                                    : 0;
  if (insn.cpu_flags) {
    const ZydisAccessedFlags& f = *insn.cpu_flags;
    out.flags_read = static_cast<uint16_t>(f.tested);
    out.flags_written = static_cast<uint16_t>(f.modified | f.set_0 | f.set_1 | f.undefined);
    out.flags_undefined = static_cast<uint16_t>(f.undefined);
  }

  // Prefixes: the last of F2/F3 wins, as on hardware.
  for (uint8_t i = 0; i < insn.raw.prefix_count; ++i) {
    uint8_t v = insn.raw.prefixes[i].value;
    if (v == 0xF3) out.prefixes = (out.prefixes & ~prefix::kRepne) | prefix::kRep;
    if (v == 0xF2) out.prefixes = (out.prefixes & ~prefix::kRep) | prefix::kRepne;
    if (v == 0xF0) out.prefixes |= prefix::kLock;
    if (v == 0x66) out.prefixes |= prefix::kOpSize;
    if (v == 0x67) out.prefixes |= prefix::kAddrSize;
  }
  out.seg = DS;
  const uint64_t a = insn.attributes;
  if (a & ZYDIS_ATTRIB_HAS_SEGMENT) {
    out.prefixes |= prefix::kSegOverride;
    if (a & ZYDIS_ATTRIB_HAS_SEGMENT_ES) out.seg = ES;
    else if (a & ZYDIS_ATTRIB_HAS_SEGMENT_CS) out.seg = CS;
    else if (a & ZYDIS_ATTRIB_HAS_SEGMENT_SS) out.seg = SS;
    else if (a & ZYDIS_ATTRIB_HAS_SEGMENT_FS) out.seg = FS;
    else if (a & ZYDIS_ATTRIB_HAS_SEGMENT_GS) out.seg = GS;
  }

  int cc = condition_of(insn.mnemonic);
  if (cc >= 0) out.cond = static_cast<uint8_t>(cc);

  uint16_t cls = 0;
  if (a & ZYDIS_ATTRIB_IS_PRIVILEGED) cls |= iclass::kPrivileged | iclass::kEndsBlock;
  if (is_sensitive(insn.mnemonic)) cls |= iclass::kSensitive | iclass::kEndsBlock;
  if (is_string_op(insn.mnemonic)) cls |= iclass::kString;
  switch (insn.meta.category) {
    case ZYDIS_CATEGORY_COND_BR:
    case ZYDIS_CATEGORY_UNCOND_BR:
    case ZYDIS_CATEGORY_CALL:
    case ZYDIS_CATEGORY_RET:
    case ZYDIS_CATEGORY_SYSTEM:
    case ZYDIS_CATEGORY_INTERRUPT:
    case ZYDIS_CATEGORY_SYSCALL:
    case ZYDIS_CATEGORY_SYSRET:
      cls |= iclass::kControl | iclass::kEndsBlock;
      break;
    case ZYDIS_CATEGORY_IO:
    case ZYDIS_CATEGORY_IOSTRINGOP:
      cls |= iclass::kIo | iclass::kEndsBlock;
      break;
    case ZYDIS_CATEGORY_X87_ALU:
    case ZYDIS_CATEGORY_FCMOV:
    case ZYDIS_CATEGORY_MMX:
    case ZYDIS_CATEGORY_SSE:
      cls |= iclass::kFpSimd;
      break;
    default:
      break;
  }
  if (insn.meta.category == ZYDIS_CATEGORY_COND_BR && cc >= 0 &&
      insn.operand_count_visible == 1 && zops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)
    cls |= iclass::kJcc;
  if (insn.meta.branch_type == ZYDIS_BRANCH_TYPE_FAR) cls |= iclass::kFar | iclass::kSensitive | iclass::kEndsBlock;
  if (insn.mnemonic == ZYDIS_MNEMONIC_LOOP || insn.mnemonic == ZYDIS_MNEMONIC_LOOPE ||
      insn.mnemonic == ZYDIS_MNEMONIC_LOOPNE || insn.mnemonic == ZYDIS_MNEMONIC_JCXZ ||
      insn.mnemonic == ZYDIS_MNEMONIC_JECXZ || insn.mnemonic == ZYDIS_MNEMONIC_HLT)
    cls |= iclass::kControl | iclass::kEndsBlock;
  // The segment register that is the first operand, if any.
  const uint8_t seg_operand = insn.operand_count_visible > 0 && zops[0].type == ZYDIS_OPERAND_TYPE_REGISTER
                                  ? seg_index(zops[0].reg.value)
                                  : uint8_t{kNoSeg};
  // MOV/POP to a segment register: emulated. The emulation routine ends the
  // block when the load changes the block mode (load_segment,
  // runtime/segmentation.cpp); a load of SS, which inhibits interrupts for
  // one instruction, always ends it, and is marked here too so the block
  // builder stops decoding after it.
  if ((insn.mnemonic == ZYDIS_MNEMONIC_MOV || insn.mnemonic == ZYDIS_MNEMONIC_POP) && seg_operand != kNoSeg) {
    cls |= iclass::kSensitive;
    if (seg_operand == SS) cls |= iclass::kEndsBlock;
  }
  if (insn.mnemonic == ZYDIS_MNEMONIC_PUSH && seg_operand != kNoSeg) cls |= iclass::kSensitive;

  uint8_t n = 0;
  for (uint8_t i = 0; i < insn.operand_count_visible && n < 3; ++i) {
    const ZydisDecodedOperand& z = zops[i];
    Operand& o = out.ops[n];
    o.size = static_cast<uint8_t>((z.size + 7) / 8);
    o.access = static_cast<uint8_t>(((z.actions & ZYDIS_OPERAND_ACTION_MASK_READ) ? opaccess::kRead : 0) |
                                    ((z.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) ? opaccess::kWrite : 0));
    switch (z.type) {
      case ZYDIS_OPERAND_TYPE_REGISTER: {
        ZydisRegister r = z.reg.value;
        uint8_t off;
        if (gpr_offset(r, off)) {
          o.kind = OpKind::Reg;
          o.reg = off;
        } else if (seg_index(r) != kNoSeg) {
          o.kind = OpKind::Seg;
          o.reg = seg_index(r);
          o.size = 2;
        } else if (r >= ZYDIS_REGISTER_CR0 && r <= ZYDIS_REGISTER_CR15) {
          o.kind = OpKind::Ctrl;
          o.reg = static_cast<uint8_t>(r - ZYDIS_REGISTER_CR0);
        } else if (r >= ZYDIS_REGISTER_DR0 && r <= ZYDIS_REGISTER_DR15) {
          o.kind = OpKind::Debug;
          o.reg = static_cast<uint8_t>(r - ZYDIS_REGISTER_DR0);
        } else if (r >= ZYDIS_REGISTER_ST0 && r <= ZYDIS_REGISTER_ST7) {
          o.kind = OpKind::X87;
          o.reg = static_cast<uint8_t>(r - ZYDIS_REGISTER_ST0);
        } else if (r >= ZYDIS_REGISTER_MM0 && r <= ZYDIS_REGISTER_MM7) {
          o.kind = OpKind::Mmx;
          o.reg = static_cast<uint8_t>(r - ZYDIS_REGISTER_MM0);
        } else if (r >= ZYDIS_REGISTER_XMM0 && r <= ZYDIS_REGISTER_XMM7) {
          o.kind = OpKind::Xmm;
          o.reg = static_cast<uint8_t>(r - ZYDIS_REGISTER_XMM0);
        } else {
          // Other visible registers (x87 control words, etc.) carry no
          // information the semantic needs beyond the mnemonic.
          continue;
        }
        break;
      }
      case ZYDIS_OPERAND_TYPE_MEMORY: {
        o.kind = OpKind::Mem;
        uint8_t s = seg_index(z.mem.segment);
        o.seg = s == kNoSeg ? static_cast<uint8_t>(DS) : s;
        o.base = addr_reg(z.mem.base);
        o.index = addr_reg(z.mem.index);
        if (o.base == 0xff || o.index == 0xff) {
          out.cls = iclass::kInvalid | iclass::kEndsBlock;
          return DecodeStatus::kInvalid;
        }
        o.scale = z.mem.scale == 8 ? 3 : z.mem.scale == 4 ? 2 : z.mem.scale == 2 ? 1 : 0;
        o.disp = static_cast<int32_t>(z.mem.disp.value);
        if (z.mem.type == ZYDIS_MEMOP_TYPE_MEM) cls |= iclass::kMemory;
        break;
      }
      case ZYDIS_OPERAND_TYPE_IMMEDIATE:
        o.kind = OpKind::Imm;
        o.imm = static_cast<uint32_t>(z.imm.value.u);
        break;
      case ZYDIS_OPERAND_TYPE_POINTER:
        o.kind = OpKind::Far;
        o.imm = z.ptr.offset;
        out.far_selector = z.ptr.segment;
        break;
      default:
        continue;
    }
    ++n;
  }
  out.nops = n;
  out.cls = cls;
  return DecodeStatus::kOk;
}

std::string Decoder::disassemble(const uint8_t* bytes, size_t avail, uint32_t eip) const {
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
  if (!decode_full(bytes, avail < 15 ? avail : 15, insn, zops)) return "(bad)";
  ZydisFormatter fmt;
  ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_INTEL);
  char buf[256];
  ZydisFormatterFormatInstruction(&fmt, &insn, zops, insn.operand_count_visible, buf, sizeof buf, eip,
                                  nullptr);
  return buf;
}

const char* mnemonic_name(uint16_t mnemonic) {
  const char* s = ZydisMnemonicGetString(static_cast<ZydisMnemonic>(mnemonic));
  return s ? s : "?";
}

}  // namespace vmm

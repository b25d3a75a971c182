#include "jit/native_encoder.h"

#include <Zydis/Zydis.h>

#include <cstring>

#include "jit/host_regs.h"

namespace vmm::jit {

namespace {

// Sign-extends an immediate to 64 bits from the operand's size, so the
// encoder can choose the short sign-extended forms (83 /0 ib and so on).
int64_t sign_extend(uint32_t v, unsigned size) {
  switch (size) {
    case 1: return static_cast<int8_t>(v);
    case 2: return static_cast<int16_t>(v);
    default: return static_cast<int32_t>(v);
  }
}

bool is_high_byte(const Operand& o) { return o.kind == OpKind::Reg && o.size == 1 && (o.reg & 1); }

}  // namespace

EncodeResult encode_native(const InstrRecord& in, uint8_t* out, size_t& len, bool via_view) {
  bool high = false, rex = false;
  for (unsigned i = 0; i < in.nops; ++i) {
    const Operand& o = in.ops[i];
    if (is_high_byte(o)) high = true;
    if (o.kind == OpKind::Mem) rex = true;
    if (o.kind == OpKind::Reg && o.reg / 4 == ESP && !(o.reg & 1)) rex = true;
  }
  if (high && rex) return EncodeResult::kHighByteWithRex;

  ZydisEncoderRequest req;
  std::memset(&req, 0, sizeof req);
  req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;
  req.mnemonic = static_cast<ZydisMnemonic>(in.mnemonic);
  req.operand_count = in.nops;
  // The immediate's width follows the destination's (e.g. 83 /0 sign-extends imm8 to the operand size).
  const unsigned opsize = in.nops ? in.ops[0].size : in.opsize;
  for (unsigned i = 0; i < in.nops; ++i) {
    const Operand& o = in.ops[i];
    ZydisEncoderOperand& z = req.operands[i];
    switch (o.kind) {
      case OpKind::Reg:
        z.type = ZYDIS_OPERAND_TYPE_REGISTER;
        z.reg.value = host_zydis_reg(o.reg, o.size);
        if (z.reg.value == ZYDIS_REGISTER_NONE) return EncodeResult::kUnsupported;
        break;
      case OpKind::X87:  // ST(i): the guest's registers are the host's (jit/host_fpu.h).
        z.type = ZYDIS_OPERAND_TYPE_REGISTER;
        z.reg.value = static_cast<ZydisRegister>(ZYDIS_REGISTER_ST0 + (o.reg & 7));
        break;
      case OpKind::Mem:
        z.type = ZYDIS_OPERAND_TYPE_MEMORY;
        z.mem.base = host_zydis_reg64(via_view ? kViewReg : kAddrReg);
        z.mem.index = via_view ? host_zydis_reg64(kAddrReg) : ZYDIS_REGISTER_NONE;
        z.mem.scale = via_view ? 1 : 0;
        z.mem.displacement = 0;
        z.mem.size = o.size;
        break;
      case OpKind::Imm:
        z.type = ZYDIS_OPERAND_TYPE_IMMEDIATE;
        z.imm.s = sign_extend(o.imm, o.size ? o.size : opsize);
        break;
      default:
        return EncodeResult::kUnsupported;
    }
  }
  ZyanUSize n = ZYDIS_MAX_INSTRUCTION_LENGTH;
  if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&req, out, &n))) return EncodeResult::kUnsupported;
  len = n;
  return EncodeResult::kOk;
}

}  // namespace vmm::jit

// Which guest instructions the translator runs natively, and what they do
// to the arithmetic flags (jit/native_rules.h).
#include "jit/native_rules.h"

#include <Zydis/Zydis.h>

#include "runtime/cpu_state.h"

namespace vmm::jit {

// Everything not listed calls its interpreter handler.
bool native_mnemonic(uint16_t m) {
  switch (m) {
    case ZYDIS_MNEMONIC_ADD: case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_ADC: case ZYDIS_MNEMONIC_SBB:
    case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_SUB: case ZYDIS_MNEMONIC_XOR: case ZYDIS_MNEMONIC_CMP:
    case ZYDIS_MNEMONIC_TEST: case ZYDIS_MNEMONIC_INC: case ZYDIS_MNEMONIC_DEC: case ZYDIS_MNEMONIC_NEG:
    case ZYDIS_MNEMONIC_NOT: case ZYDIS_MNEMONIC_MOV: case ZYDIS_MNEMONIC_MOVZX: case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR: case ZYDIS_MNEMONIC_ROL:
    case ZYDIS_MNEMONIC_ROR: case ZYDIS_MNEMONIC_RCL: case ZYDIS_MNEMONIC_RCR: case ZYDIS_MNEMONIC_SHLD:
    case ZYDIS_MNEMONIC_SHRD: case ZYDIS_MNEMONIC_IMUL: case ZYDIS_MNEMONIC_MUL: case ZYDIS_MNEMONIC_BSWAP:
    case ZYDIS_MNEMONIC_XCHG: case ZYDIS_MNEMONIC_XADD: case ZYDIS_MNEMONIC_CMPXCHG:
    case ZYDIS_MNEMONIC_CMPXCHG8B: case ZYDIS_MNEMONIC_BT: case ZYDIS_MNEMONIC_BTS: case ZYDIS_MNEMONIC_BTR:
    case ZYDIS_MNEMONIC_BTC: case ZYDIS_MNEMONIC_BSF: case ZYDIS_MNEMONIC_BSR: case ZYDIS_MNEMONIC_CBW:
    case ZYDIS_MNEMONIC_CWDE: case ZYDIS_MNEMONIC_CWD: case ZYDIS_MNEMONIC_CDQ: case ZYDIS_MNEMONIC_CLC:
    case ZYDIS_MNEMONIC_STC: case ZYDIS_MNEMONIC_CMC: case ZYDIS_MNEMONIC_LAHF: case ZYDIS_MNEMONIC_SAHF:
    case ZYDIS_MNEMONIC_SETO: case ZYDIS_MNEMONIC_SETNO: case ZYDIS_MNEMONIC_SETB: case ZYDIS_MNEMONIC_SETNB:
    case ZYDIS_MNEMONIC_SETZ: case ZYDIS_MNEMONIC_SETNZ: case ZYDIS_MNEMONIC_SETBE: case ZYDIS_MNEMONIC_SETNBE:
    case ZYDIS_MNEMONIC_SETS: case ZYDIS_MNEMONIC_SETNS: case ZYDIS_MNEMONIC_SETP: case ZYDIS_MNEMONIC_SETNP:
    case ZYDIS_MNEMONIC_SETL: case ZYDIS_MNEMONIC_SETNL: case ZYDIS_MNEMONIC_SETLE: case ZYDIS_MNEMONIC_SETNLE:
    case ZYDIS_MNEMONIC_CMOVO: case ZYDIS_MNEMONIC_CMOVNO: case ZYDIS_MNEMONIC_CMOVB: case ZYDIS_MNEMONIC_CMOVNB:
    case ZYDIS_MNEMONIC_CMOVZ: case ZYDIS_MNEMONIC_CMOVNZ: case ZYDIS_MNEMONIC_CMOVBE:
    case ZYDIS_MNEMONIC_CMOVNBE: case ZYDIS_MNEMONIC_CMOVS: case ZYDIS_MNEMONIC_CMOVNS:
    case ZYDIS_MNEMONIC_CMOVP: case ZYDIS_MNEMONIC_CMOVNP: case ZYDIS_MNEMONIC_CMOVL: case ZYDIS_MNEMONIC_CMOVNL:
    case ZYDIS_MNEMONIC_CMOVLE: case ZYDIS_MNEMONIC_CMOVNLE:
    case ZYDIS_MNEMONIC_DIV: case ZYDIS_MNEMONIC_IDIV:  // #DE through the host trap (jit/host_trap.h).
      return true;
    default:
      return false;
  }
}

// Native instructions that raise a host trap exactly where the guest's
// raises an exception: DIV and IDIV (#DE).
bool may_trap(uint16_t m) { return m == ZYDIS_MNEMONIC_DIV || m == ZYDIS_MNEMONIC_IDIV; }

X87Native x87_native(uint16_t m) {
  switch (m) {
    case ZYDIS_MNEMONIC_FLD: case ZYDIS_MNEMONIC_FST: case ZYDIS_MNEMONIC_FSTP: case ZYDIS_MNEMONIC_FILD:
    case ZYDIS_MNEMONIC_FIST: case ZYDIS_MNEMONIC_FISTP: case ZYDIS_MNEMONIC_FISTTP: case ZYDIS_MNEMONIC_FBLD:
    case ZYDIS_MNEMONIC_FBSTP: case ZYDIS_MNEMONIC_FXCH: case ZYDIS_MNEMONIC_FCMOVB: case ZYDIS_MNEMONIC_FCMOVE:
    case ZYDIS_MNEMONIC_FCMOVBE: case ZYDIS_MNEMONIC_FCMOVU: case ZYDIS_MNEMONIC_FCMOVNB:
    case ZYDIS_MNEMONIC_FCMOVNE: case ZYDIS_MNEMONIC_FCMOVNBE: case ZYDIS_MNEMONIC_FCMOVNU:
    case ZYDIS_MNEMONIC_FADD: case ZYDIS_MNEMONIC_FADDP: case ZYDIS_MNEMONIC_FIADD: case ZYDIS_MNEMONIC_FSUB:
    case ZYDIS_MNEMONIC_FSUBP: case ZYDIS_MNEMONIC_FISUB: case ZYDIS_MNEMONIC_FSUBR: case ZYDIS_MNEMONIC_FSUBRP:
    case ZYDIS_MNEMONIC_FISUBR: case ZYDIS_MNEMONIC_FMUL: case ZYDIS_MNEMONIC_FMULP: case ZYDIS_MNEMONIC_FIMUL:
    case ZYDIS_MNEMONIC_FDIV: case ZYDIS_MNEMONIC_FDIVP: case ZYDIS_MNEMONIC_FIDIV: case ZYDIS_MNEMONIC_FDIVR:
    case ZYDIS_MNEMONIC_FDIVRP: case ZYDIS_MNEMONIC_FIDIVR: case ZYDIS_MNEMONIC_FPREM: case ZYDIS_MNEMONIC_FPREM1:
    case ZYDIS_MNEMONIC_FABS: case ZYDIS_MNEMONIC_FCHS: case ZYDIS_MNEMONIC_FRNDINT: case ZYDIS_MNEMONIC_FSCALE:
    case ZYDIS_MNEMONIC_FSQRT: case ZYDIS_MNEMONIC_FXTRACT: case ZYDIS_MNEMONIC_FCOM: case ZYDIS_MNEMONIC_FCOMP:
    case ZYDIS_MNEMONIC_FCOMPP: case ZYDIS_MNEMONIC_FUCOM: case ZYDIS_MNEMONIC_FUCOMP: case ZYDIS_MNEMONIC_FUCOMPP:
    case ZYDIS_MNEMONIC_FICOM: case ZYDIS_MNEMONIC_FICOMP: case ZYDIS_MNEMONIC_FCOMI: case ZYDIS_MNEMONIC_FCOMIP:
    case ZYDIS_MNEMONIC_FUCOMI: case ZYDIS_MNEMONIC_FUCOMIP: case ZYDIS_MNEMONIC_FTST: case ZYDIS_MNEMONIC_FXAM:
    case ZYDIS_MNEMONIC_FSIN: case ZYDIS_MNEMONIC_FCOS: case ZYDIS_MNEMONIC_FSINCOS: case ZYDIS_MNEMONIC_FPTAN:
    case ZYDIS_MNEMONIC_FPATAN: case ZYDIS_MNEMONIC_F2XM1: case ZYDIS_MNEMONIC_FYL2X: case ZYDIS_MNEMONIC_FYL2XP1:
    case ZYDIS_MNEMONIC_FLD1: case ZYDIS_MNEMONIC_FLDL2T: case ZYDIS_MNEMONIC_FLDL2E: case ZYDIS_MNEMONIC_FLDPI:
    case ZYDIS_MNEMONIC_FLDLG2: case ZYDIS_MNEMONIC_FLDLN2: case ZYDIS_MNEMONIC_FLDZ: case ZYDIS_MNEMONIC_FINCSTP:
    case ZYDIS_MNEMONIC_FDECSTP: case ZYDIS_MNEMONIC_FFREE: case ZYDIS_MNEMONIC_FFREEP: case ZYDIS_MNEMONIC_FNOP:
    case ZYDIS_MNEMONIC_FSTPNCE:
      return X87Native::kRecorded;
    case ZYDIS_MNEMONIC_FNSTSW: case ZYDIS_MNEMONIC_FNSTCW: case ZYDIS_MNEMONIC_FNCLEX: case ZYDIS_MNEMONIC_FWAIT:
      return X87Native::kControl;
    case ZYDIS_MNEMONIC_FLDCW:
      return X87Native::kFldcw;
    default:
      return X87Native::kHelper;
  }
}

namespace {
bool is_shift(uint16_t m) {
  switch (m) {
    case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR: case ZYDIS_MNEMONIC_ROL:
    case ZYDIS_MNEMONIC_ROR: case ZYDIS_MNEMONIC_RCL: case ZYDIS_MNEMONIC_RCR: case ZYDIS_MNEMONIC_SHLD:
    case ZYDIS_MNEMONIC_SHRD:
      return true;
    default:
      return false;
  }
}

// Whether this host's multiplies overwrite SF/ZF/AF/PF whatever their old
// value (Intel Xeon: yes; AMD EPYC: no, it keeps them): IMUL run with all
// four clear and with all four set must leave them the same.
bool host_multiply_overwrites_flags() {
  static const bool overwrites = [] {
    uint64_t out[2];
    for (int k = 0; k < 2; ++k) {
      uint64_t f = flag::kFixed1 | (k ? flag::SF | flag::ZF | flag::AF | flag::PF : 0);
      uint32_t a = 0x1234, b = 0x5678;
      // Below the red zone: PUSHF/POPF write the stack.
      asm("sub $128, %%rsp\n\tpush %[f]\n\tpopf\n\timul %[b], %[a]\n\tpushf\n\tpop %[f]\n\tadd $128, %%rsp"
          : [f] "+r"(f), [a] "+r"(a)
          : [b] "r"(b)
          : "cc");
      out[k] = f & (flag::SF | flag::ZF | flag::AF | flag::PF);
    }
    return out[0] == out[1];
  }();
  return overwrites;
}

// Instructions whose "undefined" flags (SDM) the CPU overwrites whatever
// their old value (AF after logic ops and shifts, SF/ZF/AF/PF after BSF/BSR
// and, on some hosts, multiplies): the native instruction and the
// interpreter, which runs the same host instruction, produce the same value,
// so the old value is dead. Rotates, BT* and DIV/IDIV may keep theirs and
// are not listed (measured on Intel and AMD hosts).
bool undefined_flags_overwritten(uint16_t m) {
  switch (m) {
    case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_XOR: case ZYDIS_MNEMONIC_TEST:
    case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR: case ZYDIS_MNEMONIC_SHLD:
    case ZYDIS_MNEMONIC_SHRD: case ZYDIS_MNEMONIC_BSF: case ZYDIS_MNEMONIC_BSR:
      return true;
    case ZYDIS_MNEMONIC_MUL: case ZYDIS_MNEMONIC_IMUL:
      return host_multiply_overwrites_flags();
    default:
      return false;
  }
}
}  // namespace

// Flags an instruction certainly overwrites (so the saved image goes stale). A shift by CL,
// or by an immediate that masks to 0, and a REP CMPS/SCAS with ECX = 0 may
// leave every flag alone.
uint32_t flags_killed(const InstrRecord& in) {
  if ((in.cls & iclass::kString) && (in.prefixes & (prefix::kRep | prefix::kRepne))) return 0;
  if (is_shift(in.mnemonic)) {
    const Operand& count = in.ops[in.nops - 1];
    if (count.kind != OpKind::Imm || (count.imm & 31) == 0) return 0;
  }
  const uint32_t undefined = undefined_flags_overwritten(in.mnemonic) ? 0 : in.flags_undefined;
  return in.flags_written & ~undefined & flag::kArith;
}

const Operand* memory_operand(const InstrRecord& in) {
  for (unsigned i = 0; i < in.nops; ++i)
    if (in.ops[i].kind == OpKind::Mem) return &in.ops[i];
  return nullptr;
}

// Whether the instruction writes its memory operand (a store or a
// read-modify-write: its access is checked as a write, as the CPU checks it).
bool memory_written(const InstrRecord&, const Operand* mem) { return mem->access & opaccess::kWrite; }

}  // namespace vmm::jit

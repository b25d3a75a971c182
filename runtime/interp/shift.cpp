// SHL/SAL, SHR, SAR, ROL, ROR, RCL, RCR, SHLD, SHRD (SDM Vol. 2B,
// "SAL/SAR/SHL/SHR—Shift", "RCL/RCR/ROL/ROR—Rotate", "SHLD—Double Precision
// Shift Left", "SHRD—Double Precision Shift Right").
//
// Every form runs the same instruction on the host with the count in CL. The
// host masks the count to 5 bits for 8/16/32-bit operands exactly as the guest
// does, rotates RCL/RCR modulo 9/17 on 8/16 bits, and leaves every flag alone
// when the masked count is 0, so none of that is re-implemented here. The
// guest's flags are loaded into the host flags first (SAHF plus an ADD that
// sets OF), so flags the SDM calls undefined (AF, OF for counts above 1, all of
// SHLD/SHRD with a count above the operand size) come out as a real CPU makes
// them from the same input, including "left unchanged" where a CPU does that.
#include <Zydis/Zydis.h>

#include "runtime/interp/flags.h"
#include "runtime/interp/interp.h"
#include "runtime/interp/operands.h"

namespace vmm::interp {
namespace {


enum class Sh { kShl, kShr, kSar, kRol, kRor, kRcl, kRcr };

// Rotates write only CF and OF (SDM "RCL/RCR/ROL/ROR", Flags Affected);
// shifts write all six (AF undefined, which the host decides).
template <Sh OP>
inline constexpr uint32_t kWritten =
    (OP == Sh::kShl || OP == Sh::kShr || OP == Sh::kSar) ? flag::kArith : (flag::CF | flag::OF);

// Executes `a OP= count` on the host; `eflags` supplies the input flags (CF
// for RCL/RCR) and receives the flags in kMask.
template <Sh OP, typename T, uint32_t kMask = kWritten<OP>>
inline T host_shift(uint32_t& eflags, T a, uint8_t count) {
  uint16_t ax = flags_to_ax(eflags);
  if constexpr (OP == Sh::kShl) {
    asm(VMM_FLAGS_IN "shl %%cl, %1" VMM_FLAGS_OUT : "+a"(ax), "+r"(a) : "c"(count) : "cc");
  } else if constexpr (OP == Sh::kShr) {
    asm(VMM_FLAGS_IN "shr %%cl, %1" VMM_FLAGS_OUT : "+a"(ax), "+r"(a) : "c"(count) : "cc");
  } else if constexpr (OP == Sh::kSar) {
    asm(VMM_FLAGS_IN "sar %%cl, %1" VMM_FLAGS_OUT : "+a"(ax), "+r"(a) : "c"(count) : "cc");
  } else if constexpr (OP == Sh::kRol) {
    asm(VMM_FLAGS_IN "rol %%cl, %1" VMM_FLAGS_OUT : "+a"(ax), "+r"(a) : "c"(count) : "cc");
  } else if constexpr (OP == Sh::kRor) {
    asm(VMM_FLAGS_IN "ror %%cl, %1" VMM_FLAGS_OUT : "+a"(ax), "+r"(a) : "c"(count) : "cc");
  } else if constexpr (OP == Sh::kRcl) {
    asm(VMM_FLAGS_IN "rcl %%cl, %1" VMM_FLAGS_OUT : "+a"(ax), "+r"(a) : "c"(count) : "cc");
  } else {
    asm(VMM_FLAGS_IN "rcr %%cl, %1" VMM_FLAGS_OUT : "+a"(ax), "+r"(a) : "c"(count) : "cc");
  }
  merge_flags(eflags, lahf_seto_to_eflags(ax), kMask);
  return a;
}

// The count operand: an imm8 (D0/D1 forms carry an immediate 1) or CL.
template <K S>
inline uint8_t count_of(const Cpu& c, const InstrRecord& in) {
  if constexpr (S == K::I) return static_cast<uint8_t>(in.ops[1].imm);
  else return static_cast<uint8_t>(c.s.gpr[ECX]);
}

// kKeepOf: the form leaves OF alone (see select_shift).
template <Sh OP, bool kKeepOf = false>
struct ShiftForm {
  static constexpr uint32_t kMask = kKeepOf ? kWritten<OP> & ~flag::OF : kWritten<OP>;
  template <typename T, K D, K S>
  static bool run(Cpu& c, const InstrRecord& in) {
    const uint8_t count = count_of<S>(c, in);
    if constexpr (D == K::M) {
      const uint32_t lin = c.checked_linear(in.ops[0].seg, c.ea(in, in.ops[0]), sizeof(T), true);
      const T a = c.mmu.read_for_write<T>(lin, c.mmu_idx());
      // A masked count of 0 is a no-operation: no flags, no write (SDM
      // "SAL/SAR/SHL/SHR", Operation: "IF (COUNT and countMASK) ≠ 0").
      if ((count & 0x1F) == 0) return false;
      uint32_t f = c.s.eflags;
      const T r = host_shift<OP, T, kMask>(f, a, count);
      c.mmu.write<T>(lin, r, c.mmu_idx());
      c.s.eflags = f;  // Only once the write cannot fault any more.
    } else {
      reg_set<T>(c, in.ops[0].reg, host_shift<OP, T, kMask>(c.s.eflags, reg_get<T>(c, in.ops[0].reg), count));
    }
    return false;
  }
};

// Whether this host's ROL r32, imm8 with a count other than 1 leaves OF
// alone: ROL 0x12345678 by 5 computes OF = 0 (MSB of the result XOR CF),
// so OF = 1 afterwards means it was kept.
bool host_rotate_imm_keeps_of() {
  static const bool keeps = [] {
    uint64_t f = flag::kFixed1 | flag::OF;
    uint32_t v = 0x12345678;
    // Below the red zone: PUSHF/POPF write the stack.
    asm("sub $128, %%rsp\n\tpush %[f]\n\tpopf\n\troll $5, %[v]\n\tpushf\n\tpop %[f]\n\tadd $128, %%rsp"
        : [f] "+r"(f), [v] "+r"(v)
        :
        : "cc");
    return (f & flag::OF) != 0;
  }();
  return keeps;
}

template <Sh OP>
InterpHandler select_shift(const InstrRecord& in) {
  if (in.nops != 2) return nullptr;
  const K d = kind_of(in.ops[0]), s = kind_of(in.ops[1]);
  if (d == K::I || s == K::M) return nullptr;
  if (s == K::R && in.ops[1].reg != 4) return nullptr;  // Only CL counts exist.
  if constexpr (OP == Sh::kRol || OP == Sh::kRor) {
    // The handlers run the CL form on the host, but on Intel CPUs the forms
    // differ in one undefined flag: ROL/ROR of a register by an imm8 (C0/C1)
    // whose masked count is not 1 leave OF unchanged, while the CL forms and
    // the memory forms compute it (measured on an Intel Xeon, every count and
    // width). AMD CPUs compute it in every form (measured on an AMD EPYC).
    // The JIT runs the guest's own form natively, so the interpreter follows
    // whichever this host does.
    if (d == K::R && s == K::I && (in.ops[1].imm & 0x1F) != 1 && host_rotate_imm_keeps_of()) {
      switch (in.ops[0].size) {
        case 1: return &ShiftForm<OP, true>::template run<uint8_t, K::R, K::I>;
        case 2: return &ShiftForm<OP, true>::template run<uint16_t, K::R, K::I>;
        case 4: return &ShiftForm<OP, true>::template run<uint32_t, K::R, K::I>;
        default: return nullptr;
      }
    }
  }
  auto pick = [&]<typename T>() -> InterpHandler {
    if (d == K::R) return s == K::I ? &ShiftForm<OP>::template run<T, K::R, K::I> : &ShiftForm<OP>::template run<T, K::R, K::R>;
    return s == K::I ? &ShiftForm<OP>::template run<T, K::M, K::I> : &ShiftForm<OP>::template run<T, K::M, K::R>;
  };
  switch (in.ops[0].size) {
    case 1: return pick.template operator()<uint8_t>();
    case 2: return pick.template operator()<uint16_t>();
    case 4: return pick.template operator()<uint32_t>();
    default: return nullptr;
  }
}

// SHLD/SHRD: all six flags written, AF always and OF beyond count 1
// undefined; with a 16-bit operand and a count above 16 the result and flags
// are undefined too (SDM "SHLD", Operation): the host decides all of them.
template <bool kLeft, typename T>
inline T host_double(uint32_t& eflags, T dst, T src, uint8_t count) {
  uint16_t ax = flags_to_ax(eflags);
  if constexpr (kLeft) {
    asm(VMM_FLAGS_IN "shld %%cl, %2, %1" VMM_FLAGS_OUT : "+a"(ax), "+r"(dst) : "r"(src), "c"(count) : "cc");
  } else {
    asm(VMM_FLAGS_IN "shrd %%cl, %2, %1" VMM_FLAGS_OUT : "+a"(ax), "+r"(dst) : "r"(src), "c"(count) : "cc");
  }
  merge_flags(eflags, lahf_seto_to_eflags(ax), flag::kArith);
  return dst;
}

template <bool kLeft, typename T, K D, K S>
bool double_shift(Cpu& c, const InstrRecord& in) {
  const uint8_t count = S == K::I ? static_cast<uint8_t>(in.ops[2].imm) : static_cast<uint8_t>(c.s.gpr[ECX]);
  const T src = reg_get<T>(c, in.ops[1].reg);
  if constexpr (D == K::M) {
    const uint32_t lin = c.checked_linear(in.ops[0].seg, c.ea(in, in.ops[0]), sizeof(T), true);
    const T a = c.mmu.read_for_write<T>(lin, c.mmu_idx());
    if ((count & 0x1F) == 0) return false;  // SDM "SHLD": "IF (COUNT = 0) THEN No operation".
    uint32_t f = c.s.eflags;
    const T r = host_double<kLeft, T>(f, a, src, count);
    c.mmu.write<T>(lin, r, c.mmu_idx());
    c.s.eflags = f;
  } else {
    reg_set<T>(c, in.ops[0].reg, host_double<kLeft, T>(c.s.eflags, reg_get<T>(c, in.ops[0].reg), src, count));
  }
  return false;
}

template <bool kLeft>
InterpHandler select_double(const InstrRecord& in) {
  if (in.nops != 3 || in.ops[1].kind != OpKind::Reg) return nullptr;
  const K d = kind_of(in.ops[0]), s = kind_of(in.ops[2]);
  if (d == K::I || s == K::M) return nullptr;
  auto pick = [&]<typename T>() -> InterpHandler {
    if (d == K::R) return s == K::I ? &double_shift<kLeft, T, K::R, K::I> : &double_shift<kLeft, T, K::R, K::R>;
    return s == K::I ? &double_shift<kLeft, T, K::M, K::I> : &double_shift<kLeft, T, K::M, K::R>;
  };
  switch (in.ops[0].size) {
    case 2: return pick.template operator()<uint16_t>();
    case 4: return pick.template operator()<uint32_t>();
    default: return nullptr;
  }
}


}  // namespace

void register_shift(SelectorTable& t) {
  t.add(ZYDIS_MNEMONIC_SHL, &select_shift<Sh::kShl>);  // Zydis decodes SAL (D0 /6 etc.) as SHL.
  t.add(ZYDIS_MNEMONIC_SHR, &select_shift<Sh::kShr>);
  t.add(ZYDIS_MNEMONIC_SAR, &select_shift<Sh::kSar>);
  t.add(ZYDIS_MNEMONIC_ROL, &select_shift<Sh::kRol>);
  t.add(ZYDIS_MNEMONIC_ROR, &select_shift<Sh::kRor>);
  t.add(ZYDIS_MNEMONIC_RCL, &select_shift<Sh::kRcl>);
  t.add(ZYDIS_MNEMONIC_RCR, &select_shift<Sh::kRcr>);
  t.add(ZYDIS_MNEMONIC_SHLD, &select_double<true>);
  t.add(ZYDIS_MNEMONIC_SHRD, &select_double<false>);
}

}  // namespace vmm::interp

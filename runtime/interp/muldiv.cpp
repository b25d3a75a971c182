// MUL, IMUL, DIV, IDIV (SDM Vol. 2A, "MUL—Unsigned Multiply", "IMUL—Signed
// Multiply", "DIV—Unsigned Divide", "IDIV—Signed Divide").
//
// Multiplies run on the host: CF/OF are defined, but SF/ZF/AF/PF are undefined
// and only a real multiplier reproduces them, so the guest flags are loaded
// into the host flags first and all six are read back. Divides check for #DE
// in C++ before anything changes, so no host divide can trap, then divide on
// the host the same way: the SDM leaves all six flags undefined, and CPUs
// differ (Intel's leave them alone, AMD's change them), so only the host's
// own divider gives what the JIT's native DIV/IDIV gives.
#include <Zydis/Zydis.h>

#include <cstdint>

#include "runtime/interp/flags.h"
#include "runtime/interp/interp.h"
#include "runtime/interp/operands.h"

namespace vmm::interp {
namespace {


constexpr uint8_t kRegA = 0;      // Byte offset of AL/AX/EAX in CpuState::gpr.
constexpr uint8_t kRegD = 2 * 4;  // DX/EDX.

// AX := AL * b (MUL/IMUL r/m8). The result is moved out of AX before LAHF.
template <bool kSigned>
inline uint16_t host_mul8(uint32_t& eflags, uint8_t a, uint8_t b) {
  uint16_t fl = flags_to_ax(eflags), r;
  if constexpr (kSigned) {
    asm(VMM_FLAGS_IN "movb %2, %%al\n\timulb %3\n\tmovw %%ax, %1" VMM_FLAGS_OUT
        : "+a"(fl), "=&r"(r) : "r"(a), "r"(b) : "cc");
  } else {
    asm(VMM_FLAGS_IN "movb %2, %%al\n\tmulb %3\n\tmovw %%ax, %1" VMM_FLAGS_OUT
        : "+a"(fl), "=&r"(r) : "r"(a), "r"(b) : "cc");
  }
  merge_flags(eflags, lahf_seto_to_eflags(fl), flag::kArith);
  return r;
}

// DX:AX := AX * b or EDX:EAX := EAX * b; returns the low half, `hi` the high.
template <bool kSigned, typename T>
inline T host_mul(uint32_t& eflags, T a, T b, T& hi) {
  uint16_t fl = flags_to_ax(eflags);
  T lo;
  if constexpr (sizeof(T) == 4) {
    if constexpr (kSigned) {
      asm(VMM_FLAGS_IN "movl %3, %%eax\n\timull %4\n\tmovl %%eax, %2" VMM_FLAGS_OUT
          : "+a"(fl), "=d"(hi), "=&r"(lo) : "r"(a), "r"(b) : "cc");
    } else {
      asm(VMM_FLAGS_IN "movl %3, %%eax\n\tmull %4\n\tmovl %%eax, %2" VMM_FLAGS_OUT
          : "+a"(fl), "=d"(hi), "=&r"(lo) : "r"(a), "r"(b) : "cc");
    }
  } else {
    if constexpr (kSigned) {
      asm(VMM_FLAGS_IN "movw %3, %%ax\n\timulw %4\n\tmovw %%ax, %2" VMM_FLAGS_OUT
          : "+a"(fl), "=d"(hi), "=&r"(lo) : "r"(a), "r"(b) : "cc");
    } else {
      asm(VMM_FLAGS_IN "movw %3, %%ax\n\tmulw %4\n\tmovw %%ax, %2" VMM_FLAGS_OUT
          : "+a"(fl), "=d"(hi), "=&r"(lo) : "r"(a), "r"(b) : "cc");
    }
  }
  merge_flags(eflags, lahf_seto_to_eflags(fl), flag::kArith);
  return lo;
}

// (E)DX:(E)AX or AX divided by d on the host, flags in and out as for the
// multiplies; the caller has ruled out #DE. `lo`/`hi` are the dividend's
// halves (AX alone for bytes) and become the quotient and remainder.
template <bool kSigned, typename T>
inline void host_div(uint32_t& eflags, uint32_t& lo, uint32_t& hi, T d) {
  uint32_t fl = flags_to_ax(eflags), q;
  // The flags image travels in a register of its own: the divide needs AX and DX.
  if constexpr (sizeof(T) == 1 && kSigned) {
    asm("movw %w[fl], %%ax\n\t" VMM_FLAGS_IN "movw %w[lo], %%ax\n\tidivb %[d]\n\tmovw %%ax, %w[q]" VMM_FLAGS_OUT
        "\n\tmovw %%ax, %w[fl]"
        : [fl] "+r"(fl), [q] "=&r"(q) : [lo] "r"(lo), [d] "q"(d) : "eax", "cc");
  } else if constexpr (sizeof(T) == 1) {
    asm("movw %w[fl], %%ax\n\t" VMM_FLAGS_IN "movw %w[lo], %%ax\n\tdivb %[d]\n\tmovw %%ax, %w[q]" VMM_FLAGS_OUT
        "\n\tmovw %%ax, %w[fl]"
        : [fl] "+r"(fl), [q] "=&r"(q) : [lo] "r"(lo), [d] "q"(d) : "eax", "cc");
  } else if constexpr (sizeof(T) == 2 && kSigned) {
    asm("movw %w[fl], %%ax\n\t" VMM_FLAGS_IN "movw %w[lo], %%ax\n\tidivw %[d]\n\tmovw %%ax, %w[q]" VMM_FLAGS_OUT
        "\n\tmovw %%ax, %w[fl]"
        : [fl] "+r"(fl), [q] "=&r"(q), "+d"(hi) : [lo] "r"(lo), [d] "r"(d) : "eax", "cc");
  } else if constexpr (sizeof(T) == 2) {
    asm("movw %w[fl], %%ax\n\t" VMM_FLAGS_IN "movw %w[lo], %%ax\n\tdivw %[d]\n\tmovw %%ax, %w[q]" VMM_FLAGS_OUT
        "\n\tmovw %%ax, %w[fl]"
        : [fl] "+r"(fl), [q] "=&r"(q), "+d"(hi) : [lo] "r"(lo), [d] "r"(d) : "eax", "cc");
  } else if constexpr (kSigned) {
    asm("movw %w[fl], %%ax\n\t" VMM_FLAGS_IN "movl %[lo], %%eax\n\tidivl %[d]\n\tmovl %%eax, %[q]" VMM_FLAGS_OUT
        "\n\tmovw %%ax, %w[fl]"
        : [fl] "+r"(fl), [q] "=&r"(q), "+d"(hi) : [lo] "r"(lo), [d] "r"(d) : "eax", "cc");
  } else {
    asm("movw %w[fl], %%ax\n\t" VMM_FLAGS_IN "movl %[lo], %%eax\n\tdivl %[d]\n\tmovl %%eax, %[q]" VMM_FLAGS_OUT
        "\n\tmovw %%ax, %w[fl]"
        : [fl] "+r"(fl), [q] "=&r"(q), "+d"(hi) : [lo] "r"(lo), [d] "r"(d) : "eax", "cc");
  }
  merge_flags(eflags, lahf_seto_to_eflags(static_cast<uint16_t>(fl)), flag::kArith);
  lo = q;
}

// Truncating a * b (IMUL r, r/m and IMUL r, r/m, imm); CF = OF = the
// product did not fit the destination.
template <typename T>
inline T host_imul2(uint32_t& eflags, T a, T b) {
  uint16_t fl = flags_to_ax(eflags);
  asm(VMM_FLAGS_IN "imul %2, %1" VMM_FLAGS_OUT : "+a"(fl), "+r"(a) : "r"(b) : "cc");
  merge_flags(eflags, lahf_seto_to_eflags(fl), flag::kArith);
  return a;
}


// MUL r/m, IMUL r/m: the accumulator times the operand, double width.
template <bool kSigned>
struct Mul1Form {
  template <typename T, K D>
  static bool run(Cpu& c, const InstrRecord& in) {
    const T src = get<D, T>(c, in, in.ops[0]);
    if constexpr (sizeof(T) == 1) {
      reg_set<uint16_t>(c, kRegA, host_mul8<kSigned>(c.s.eflags, static_cast<uint8_t>(c.s.gpr[EAX]), src));
    } else {
      T hi;
      const T lo = host_mul<kSigned, T>(c.s.eflags, reg_get<T>(c, kRegA), src, hi);
      reg_set<T>(c, kRegA, lo);
      reg_set<T>(c, kRegD, hi);
    }
    return false;
  }
};

// IMUL r, r/m (0F AF).
template <typename T, K S>
bool imul2(Cpu& c, const InstrRecord& in) {
  const T b = get<S, T>(c, in, in.ops[1]);
  reg_set<T>(c, in.ops[0].reg, host_imul2<T>(c.s.eflags, reg_get<T>(c, in.ops[0].reg), b));
  return false;
}

// IMUL r, r/m, imm (69, 6B): the immediate is already sign-extended.
template <typename T, K S>
bool imul3(Cpu& c, const InstrRecord& in) {
  const T b = get<S, T>(c, in, in.ops[1]);
  reg_set<T>(c, in.ops[0].reg, host_imul2<T>(c.s.eflags, b, static_cast<T>(in.ops[2].imm)));
  return false;
}

InterpHandler select_imul(const InstrRecord& in) {
  if (in.nops == 1) return select_1op<Mul1Form<true>>(in);
  if (in.ops[0].kind != OpKind::Reg) return nullptr;
  const bool mem = in.ops[1].kind == OpKind::Mem;
  if (in.ops[1].kind != OpKind::Reg && !mem) return nullptr;
  if (in.nops == 2) {
    if (in.ops[0].size == 2) return mem ? &imul2<uint16_t, K::M> : &imul2<uint16_t, K::R>;
    if (in.ops[0].size == 4) return mem ? &imul2<uint32_t, K::M> : &imul2<uint32_t, K::R>;
    return nullptr;
  }
  if (in.nops == 3 && in.ops[2].kind == OpKind::Imm) {
    if (in.ops[0].size == 2) return mem ? &imul3<uint16_t, K::M> : &imul3<uint16_t, K::R>;
    if (in.ops[0].size == 4) return mem ? &imul3<uint32_t, K::M> : &imul3<uint32_t, K::R>;
  }
  return nullptr;
}

// DIV r/m: (E)DX:(E)AX or AX divided by the operand. #DE on a zero divisor
// and on a quotient wider than the destination (SDM "DIV", Operation), raised
// before any register changes. The operand is read first, so a fault on the
// read wins over #DE as on hardware.
template <typename T, K D>
bool div_op(Cpu& c, const InstrRecord& in) {
  const T d = get<D, T>(c, in, in.ops[0]);
  if (d == 0) raise_exception(kDE);
  uint32_t lo = c.s.gpr[EAX], hi = c.s.gpr[EDX];
  // The quotient fits exactly when the high half of the dividend is below
  // the divisor (for bytes: AH < divisor), so the host divide cannot trap.
  if constexpr (sizeof(T) == 1) {
    if (((lo >> 8) & 0xFF) >= d) raise_exception(kDE);
  } else if constexpr (sizeof(T) == 2) {
    if ((hi & 0xFFFF) >= d) raise_exception(kDE);
  } else {
    if (hi >= d) raise_exception(kDE);
  }
  host_div<false, T>(c.s.eflags, lo, hi, d);
  if constexpr (sizeof(T) == 4) {
    c.s.gpr[EAX] = lo;
    c.s.gpr[EDX] = hi;
  } else {
    reg_set<uint16_t>(c, kRegA, static_cast<uint16_t>(lo));  // AL:AH, or AX.
    if constexpr (sizeof(T) == 2) reg_set<uint16_t>(c, kRegD, static_cast<uint16_t>(hi));
  }
  return false;
}

// IDIV r/m: signed, quotient truncated toward zero, remainder with the sign
// of the dividend (C++ division has the same rounding). #DE on a zero divisor
// and on a quotient outside the signed destination range, which includes the
// most negative dividend divided by -1 (SDM "IDIV", Operation).
template <typename T, K D>
bool idiv_op(Cpu& c, const InstrRecord& in) {
  const T raw = get<D, T>(c, in, in.ops[0]);
  if (raw == 0) raise_exception(kDE);
  if constexpr (sizeof(T) == 1) {
    const int32_t n = static_cast<int16_t>(c.s.gpr[EAX]);
    const int32_t q = n / static_cast<int8_t>(raw);  // No overflow in 32 bits: |n| <= 2^15.
    if (q > 127 || q < -128) raise_exception(kDE);
  } else if constexpr (sizeof(T) == 2) {
    const int64_t n = static_cast<int32_t>((c.s.gpr[EDX] << 16) | (c.s.gpr[EAX] & 0xFFFF));
    const int64_t q = n / static_cast<int16_t>(raw);  // No overflow in 64 bits: |n| <= 2^31.
    if (q > 0x7FFF || q < -0x8000) raise_exception(kDE);
  } else {
    const int64_t n = static_cast<int64_t>((uint64_t{c.s.gpr[EDX]} << 32) | c.s.gpr[EAX]);
    const int64_t d = static_cast<int32_t>(raw);
    // INT64_MIN / -1 is the one 64-bit quotient C++ cannot form; its true
    // value 2^63 does not fit 32 bits anyway.
    if (d == -1 && n == INT64_MIN) raise_exception(kDE);
    const int64_t q = n / d;
    if (q > INT32_MAX || q < INT32_MIN) raise_exception(kDE);
  }
  // In range: the host's IDIV computes the same quotient and remainder
  // (truncated toward zero, remainder with the dividend's sign) and cannot trap.
  uint32_t lo = c.s.gpr[EAX], hi = c.s.gpr[EDX];
  host_div<true, T>(c.s.eflags, lo, hi, raw);
  if constexpr (sizeof(T) == 4) {
    c.s.gpr[EAX] = lo;
    c.s.gpr[EDX] = hi;
  } else {
    reg_set<uint16_t>(c, kRegA, static_cast<uint16_t>(lo));
    if constexpr (sizeof(T) == 2) reg_set<uint16_t>(c, kRegD, static_cast<uint16_t>(hi));
  }
  return false;
}

template <bool kSigned>
InterpHandler select_div(const InstrRecord& in) {
  if (in.nops < 1) return nullptr;
  const K d = kind_of(in.ops[0]);
  if (d == K::I) return nullptr;
  const bool m = d == K::M;
  switch (in.ops[0].size) {
    case 1:
      if constexpr (kSigned) return m ? &idiv_op<uint8_t, K::M> : &idiv_op<uint8_t, K::R>;
      else return m ? &div_op<uint8_t, K::M> : &div_op<uint8_t, K::R>;
    case 2:
      if constexpr (kSigned) return m ? &idiv_op<uint16_t, K::M> : &idiv_op<uint16_t, K::R>;
      else return m ? &div_op<uint16_t, K::M> : &div_op<uint16_t, K::R>;
    case 4:
      if constexpr (kSigned) return m ? &idiv_op<uint32_t, K::M> : &idiv_op<uint32_t, K::R>;
      else return m ? &div_op<uint32_t, K::M> : &div_op<uint32_t, K::R>;
    default:
      return nullptr;
  }
}

}  // namespace

void register_muldiv(SelectorTable& t) {
  t.add(ZYDIS_MNEMONIC_MUL, &select_1op<Mul1Form<false>>);
  t.add(ZYDIS_MNEMONIC_IMUL, &select_imul);
  t.add(ZYDIS_MNEMONIC_DIV, &select_div<false>);
  t.add(ZYDIS_MNEMONIC_IDIV, &select_div<true>);
}

}  // namespace vmm::interp

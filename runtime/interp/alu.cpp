// ADD, OR, ADC, SBB, AND, SUB, XOR, CMP, TEST, INC, DEC, NEG, NOT
// (SDM Vol. 2A/2B). The operation runs on the host ALU; its flags are read
// back with LAHF/SETO and merged into the guest EFLAGS.
#include <Zydis/Zydis.h>

#include "runtime/interp/flags.h"
#include "runtime/interp/interp.h"
#include "runtime/interp/operands.h"

namespace vmm::interp {
namespace {

enum class Alu { kAdd, kOr, kAdc, kSbb, kAnd, kSub, kXor, kCmp, kTest };

// Executes `a OP b` on the host and returns the result; the six arithmetic
// flags are written to `eflags` (ADC/SBB read CF from it first).
template <Alu OP, typename T>
inline T host_alu(uint32_t& eflags, T a, T b) {
  uint16_t ax;
  if constexpr (OP == Alu::kAdd) {
    asm("add %2, %0\n\tlahf\n\tseto %%al" : "+r"(a), "=&a"(ax) : "r"(b) : "cc");
  } else if constexpr (OP == Alu::kOr) {
    asm("or %2, %0\n\tlahf\n\tseto %%al" : "+r"(a), "=&a"(ax) : "r"(b) : "cc");
  } else if constexpr (OP == Alu::kAdc) {
    asm("btl $0, %3\n\tadc %2, %0\n\tlahf\n\tseto %%al" : "+r"(a), "=&a"(ax) : "r"(b), "r"(eflags) : "cc");
  } else if constexpr (OP == Alu::kSbb) {
    asm("btl $0, %3\n\tsbb %2, %0\n\tlahf\n\tseto %%al" : "+r"(a), "=&a"(ax) : "r"(b), "r"(eflags) : "cc");
  } else if constexpr (OP == Alu::kAnd || OP == Alu::kTest) {
    asm("and %2, %0\n\tlahf\n\tseto %%al" : "+r"(a), "=&a"(ax) : "r"(b) : "cc");
  } else if constexpr (OP == Alu::kSub || OP == Alu::kCmp) {
    asm("sub %2, %0\n\tlahf\n\tseto %%al" : "+r"(a), "=&a"(ax) : "r"(b) : "cc");
  } else {
    asm("xor %2, %0\n\tlahf\n\tseto %%al" : "+r"(a), "=&a"(ax) : "r"(b) : "cc");
  }
  merge_flags(eflags, lahf_seto_to_eflags(ax), flag::kArith);
  return a;
}

template <Alu OP>
struct AluForm {
  static constexpr bool kWrites = OP != Alu::kCmp && OP != Alu::kTest;
  template <typename T, K D, K S>
  static bool run(Cpu& c, const InstrRecord& in) {
    if constexpr (D == K::M) {
      // Read-modify-write: one address computation for both accesses.
      const uint32_t lin = c.checked_linear(in.ops[0].seg, c.ea(in, in.ops[0]), sizeof(T), kWrites);
      const T b = get<S, T>(c, in, in.ops[1]);
      const T a = kWrites ? c.mmu.read_for_write<T>(lin, c.mmu_idx()) : c.mmu.read<T>(lin, c.mmu_idx());
      // Flags are committed only once the write succeeded: a faulting
      // instruction leaves the architectural state unchanged.
      uint32_t f = c.s.eflags;
      const T r = host_alu<OP, T>(f, a, b);
      if constexpr (kWrites) c.mmu.write<T>(lin, r, c.mmu_idx());
      c.s.eflags = f;
    } else {
      const T a = get<D, T>(c, in, in.ops[0]);
      const T b = get<S, T>(c, in, in.ops[1]);
      const T r = host_alu<OP, T>(c.s.eflags, a, b);
      if constexpr (kWrites) set<D, T>(c, in, in.ops[0], r);
    }
    return false;
  }
};

enum class Unary { kInc, kDec, kNeg, kNot };

template <Unary OP, typename T>
inline T host_unary(uint32_t& eflags, T a) {
  uint16_t ax;
  if constexpr (OP == Unary::kInc) {
    asm("inc %0\n\tlahf\n\tseto %%al" : "+r"(a), "=&a"(ax) : : "cc");
    // INC/DEC leave CF alone (SDM Vol. 2A, INC "Flags Affected").
    merge_flags(eflags, lahf_seto_to_eflags(ax), flag::kArith & ~flag::CF);
  } else if constexpr (OP == Unary::kDec) {
    asm("dec %0\n\tlahf\n\tseto %%al" : "+r"(a), "=&a"(ax) : : "cc");
    merge_flags(eflags, lahf_seto_to_eflags(ax), flag::kArith & ~flag::CF);
  } else if constexpr (OP == Unary::kNeg) {
    asm("neg %0\n\tlahf\n\tseto %%al" : "+r"(a), "=&a"(ax) : : "cc");
    merge_flags(eflags, lahf_seto_to_eflags(ax), flag::kArith);
  } else {
    a = static_cast<T>(~a);  // NOT affects no flags.
  }
  return a;
}

template <Unary OP>
struct UnaryForm {
  template <typename T, K D>
  static bool run(Cpu& c, const InstrRecord& in) {
    if constexpr (D == K::M) {
      const uint32_t lin = c.checked_linear(in.ops[0].seg, c.ea(in, in.ops[0]), sizeof(T), true);
      const T a = c.mmu.read_for_write<T>(lin, c.mmu_idx());
      uint32_t f = c.s.eflags;
      c.mmu.write<T>(lin, host_unary<OP, T>(f, a), c.mmu_idx());
      c.s.eflags = f;
    } else {
      reg_set<T>(c, in.ops[0].reg, host_unary<OP, T>(c.s.eflags, reg_get<T>(c, in.ops[0].reg)));
    }
    return false;
  }
};

}  // namespace

void register_alu(SelectorTable& t) {
  t.add(ZYDIS_MNEMONIC_ADD, &select_2op<AluForm<Alu::kAdd>>);
  t.add(ZYDIS_MNEMONIC_OR, &select_2op<AluForm<Alu::kOr>>);
  t.add(ZYDIS_MNEMONIC_ADC, &select_2op<AluForm<Alu::kAdc>>);
  t.add(ZYDIS_MNEMONIC_SBB, &select_2op<AluForm<Alu::kSbb>>);
  t.add(ZYDIS_MNEMONIC_AND, &select_2op<AluForm<Alu::kAnd>>);
  t.add(ZYDIS_MNEMONIC_SUB, &select_2op<AluForm<Alu::kSub>>);
  t.add(ZYDIS_MNEMONIC_XOR, &select_2op<AluForm<Alu::kXor>>);
  t.add(ZYDIS_MNEMONIC_CMP, &select_2op<AluForm<Alu::kCmp>>);
  t.add(ZYDIS_MNEMONIC_TEST, &select_2op<AluForm<Alu::kTest>>);
  t.add(ZYDIS_MNEMONIC_INC, &select_1op<UnaryForm<Unary::kInc>>);
  t.add(ZYDIS_MNEMONIC_DEC, &select_1op<UnaryForm<Unary::kDec>>);
  t.add(ZYDIS_MNEMONIC_NEG, &select_1op<UnaryForm<Unary::kNeg>>);
  t.add(ZYDIS_MNEMONIC_NOT, &select_1op<UnaryForm<Unary::kNot>>);
}

}  // namespace vmm::interp

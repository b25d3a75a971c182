// Near JMP, Jcc, CALL, RET, LOOP/LOOPE/LOOPNE, JCXZ/JECXZ (SDM Vol. 2A/2B).
// Every handler sets EIP and returns true. With a 16-bit operand size the
// new EIP is truncated to 16 bits, as the SDM's pseudo-code does.
//
// A branch to a target beyond the CS limit raises #GP(0) at the branch,
// before it changes anything (pushes, pops, ECX): each instruction's
// pseudo-code has "IF tempEIP is not within code segment limit THEN #GP(0)".
// Translated code does not check (its blocks run under a 4 GiB CS limit
// only: Cpu::build_block), and neither does the check cost anything there.
#include <Zydis/Zydis.h>

#include "runtime/interp/flags.h"
#include "runtime/interp/interp.h"
#include "runtime/interp/operands.h"
#include "runtime/interp/system.h"

namespace vmm::interp {
namespace {

template <unsigned kOpSize>
inline uint32_t fit_eip(uint32_t v) {
  return kOpSize == 2 ? (v & 0xFFFF) : v;
}

inline void check_target(const Cpu& c, uint32_t target) {
  if (target > c.s.seg[CS].limit) [[unlikely]]
    raise_exception(kGP, 0);
}

template <unsigned kOpSize>
bool jmp_rel(Cpu& c, const InstrRecord& in) {
  const uint32_t target = fit_eip<kOpSize>(c.s.eip + in.length + in.ops[0].imm);
  check_target(c, target);
  c.s.eip = target;
  return true;
}

template <unsigned kOpSize>
bool jmp_indirect(Cpu& c, const InstrRecord& in) {
  using T = std::conditional_t<kOpSize == 2, uint16_t, uint32_t>;
  const uint32_t target = get_any<T>(c, in, in.ops[0]);
  check_target(c, target);
  c.s.eip = target;
  return true;
}

// Not taken, it falls through (the block goes on after it, see
// frontend/block.h); taken, it ends the block.
template <unsigned kOpSize>
bool jcc(Cpu& c, const InstrRecord& in) {
  if (!condition(c.s.eflags, in.cond)) return false;
  const uint32_t target = fit_eip<kOpSize>(c.s.eip + in.length + in.ops[0].imm);
  check_target(c, target);
  c.s.eip = target;
  return true;
}

template <unsigned kOpSize>
bool call_rel(Cpu& c, const InstrRecord& in) {
  using T = std::conditional_t<kOpSize == 2, uint16_t, uint32_t>;
  const uint32_t next = c.s.eip + in.length;
  const uint32_t target = fit_eip<kOpSize>(next + in.ops[0].imm);
  check_target(c, target);
  c.push<T>(static_cast<T>(next));
  c.s.eip = target;
  return true;
}

template <unsigned kOpSize>
bool call_indirect(Cpu& c, const InstrRecord& in) {
  using T = std::conditional_t<kOpSize == 2, uint16_t, uint32_t>;
  // The target is read before the push (CALL [ESP] uses the old ESP).
  const T target = get_any<T>(c, in, in.ops[0]);
  check_target(c, target);
  c.push<T>(static_cast<T>(c.s.eip + in.length));
  c.s.eip = target;
  return true;
}

template <unsigned kOpSize, bool kImm>
bool ret_near(Cpu& c, const InstrRecord& in) {
  using T = std::conditional_t<kOpSize == 2, uint16_t, uint32_t>;
  const uint32_t sp = c.s.gpr[ESP];
  const uint32_t target = c.read<T>(SS, c.s.stack32() ? sp : (sp & 0xFFFF));
  check_target(c, target);  // ESP is unchanged when it faults.
  const uint32_t n = sp + sizeof(T);
  c.s.gpr[ESP] = c.s.stack32() ? n : ((sp & 0xFFFF0000u) | (n & 0xFFFF));
  if constexpr (kImm) {
    const uint16_t n = static_cast<uint16_t>(in.ops[0].imm);
    if (c.s.stack32()) c.s.gpr[ESP] += n;
    else c.s.gpr[ESP] = (c.s.gpr[ESP] & 0xFFFF0000u) | ((c.s.gpr[ESP] + n) & 0xFFFF);
  }
  c.s.eip = target;
  return true;
}

enum class Loop { kLoop, kLoope, kLoopne, kJcxz };

// The counter is CX or ECX by the address size (SDM Vol. 2A, LOOPcc).
template <Loop L, unsigned kAddrSize, unsigned kOpSize>
bool loop(Cpu& c, const InstrRecord& in) {
  const uint32_t old_ecx = c.s.gpr[ECX];
  uint32_t count;
  if constexpr (L == Loop::kJcxz) {
    count = kAddrSize == 2 ? (c.s.gpr[ECX] & 0xFFFF) : c.s.gpr[ECX];
  } else if constexpr (kAddrSize == 2) {
    count = (c.s.gpr[ECX] - 1) & 0xFFFF;
    c.s.gpr[ECX] = (c.s.gpr[ECX] & 0xFFFF0000u) | count;
  } else {
    count = --c.s.gpr[ECX];
  }
  bool taken;
  if constexpr (L == Loop::kJcxz) taken = count == 0;
  else if constexpr (L == Loop::kLoop) taken = count != 0;
  else if constexpr (L == Loop::kLoope) taken = count != 0 && (c.s.eflags & flag::ZF);
  else taken = count != 0 && !(c.s.eflags & flag::ZF);
  const uint32_t next = c.s.eip + in.length;
  if (taken) {
    const uint32_t target = fit_eip<kOpSize>(next + in.ops[0].imm);
    if (target > c.s.seg[CS].limit) [[unlikely]] {
      c.s.gpr[ECX] = old_ecx;  // A fault leaves the count as it was.
      raise_exception(kGP, 0);
    }
    c.s.eip = target;
  } else {
    c.s.eip = next;
  }
  return true;
}

template <Loop L>
InterpHandler select_loop(const InstrRecord& in) {
  if (in.addrsize == 2) return in.opsize == 2 ? &loop<L, 2, 2> : &loop<L, 2, 4>;
  return in.opsize == 2 ? &loop<L, 4, 2> : &loop<L, 4, 4>;
}

InterpHandler select_jmp(const InstrRecord& in) {
  if (in.nops < 1) return nullptr;
  if (in.cls & iclass::kFar) return select_far_transfer(in);
  if (in.ops[0].kind == OpKind::Imm) return in.opsize == 2 ? &jmp_rel<2> : &jmp_rel<4>;
  return in.opsize == 2 ? &jmp_indirect<2> : &jmp_indirect<4>;
}

InterpHandler select_call(const InstrRecord& in) {
  if (in.nops < 1) return nullptr;
  if (in.cls & iclass::kFar) return select_far_transfer(in);
  if (in.ops[0].kind == OpKind::Imm) return in.opsize == 2 ? &call_rel<2> : &call_rel<4>;
  return in.opsize == 2 ? &call_indirect<2> : &call_indirect<4>;
}

InterpHandler select_ret(const InstrRecord& in) {
  if (in.cls & iclass::kFar) return select_far_transfer(in);
  const bool imm = in.nops >= 1 && in.ops[0].kind == OpKind::Imm;
  if (in.opsize == 2) return imm ? &ret_near<2, true> : &ret_near<2, false>;
  return imm ? &ret_near<4, true> : &ret_near<4, false>;
}

InterpHandler select_jcc(const InstrRecord& in) { return in.opsize == 2 ? &jcc<2> : &jcc<4>; }

}  // namespace

void register_control(SelectorTable& t) {
  t.add(ZYDIS_MNEMONIC_JMP, &select_jmp);
  t.add(ZYDIS_MNEMONIC_CALL, &select_call);
  t.add(ZYDIS_MNEMONIC_RET, &select_ret);
  for (uint16_t m : {ZYDIS_MNEMONIC_JO, ZYDIS_MNEMONIC_JNO, ZYDIS_MNEMONIC_JB, ZYDIS_MNEMONIC_JNB,
                     ZYDIS_MNEMONIC_JZ, ZYDIS_MNEMONIC_JNZ, ZYDIS_MNEMONIC_JBE, ZYDIS_MNEMONIC_JNBE,
                     ZYDIS_MNEMONIC_JS, ZYDIS_MNEMONIC_JNS, ZYDIS_MNEMONIC_JP, ZYDIS_MNEMONIC_JNP,
                     ZYDIS_MNEMONIC_JL, ZYDIS_MNEMONIC_JNL, ZYDIS_MNEMONIC_JLE, ZYDIS_MNEMONIC_JNLE})
    t.add(m, &select_jcc);
  t.add(ZYDIS_MNEMONIC_LOOP, &select_loop<Loop::kLoop>);
  t.add(ZYDIS_MNEMONIC_LOOPE, &select_loop<Loop::kLoope>);
  t.add(ZYDIS_MNEMONIC_LOOPNE, &select_loop<Loop::kLoopne>);
  t.add(ZYDIS_MNEMONIC_JCXZ, &select_loop<Loop::kJcxz>);
  t.add(ZYDIS_MNEMONIC_JECXZ, &select_loop<Loop::kJcxz>);
}

}  // namespace vmm::interp

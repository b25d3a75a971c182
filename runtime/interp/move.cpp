// MOV, MOVZX, MOVSX, LEA, XCHG, PUSH, POP (SDM Vol. 2B). Forms that name
// segment or control registers are system instructions (system.cpp).
#include <Zydis/Zydis.h>

#include "runtime/interp/interp.h"
#include "runtime/interp/operands.h"
#include "runtime/interp/system.h"

namespace vmm::interp {
namespace {

struct MovForm {
  template <typename T, K D, K S>
  static bool run(Cpu& c, const InstrRecord& in) {
    set<D, T>(c, in, in.ops[0], get<S, T>(c, in, in.ops[1]));
    return false;
  }
};

InterpHandler select_mov(const InstrRecord& in) {
  if (in.nops == 2 && (in.ops[0].kind == OpKind::Seg || in.ops[1].kind == OpKind::Seg ||
                       in.ops[0].kind == OpKind::Ctrl || in.ops[1].kind == OpKind::Ctrl ||
                       in.ops[0].kind == OpKind::Debug || in.ops[1].kind == OpKind::Debug))
    return select_mov_system(in);
  return select_2op<MovForm>(in);
}

// MOVZX/MOVSX: destination T, source S (narrower).
template <typename T, typename S, bool kSigned>
bool movx(Cpu& c, const InstrRecord& in) {
  const S v = get_any<S>(c, in, in.ops[1]);
  T r;
  if constexpr (kSigned) {
    using SS = std::make_signed_t<S>;
    r = static_cast<T>(static_cast<int32_t>(static_cast<SS>(v)));
  } else {
    r = static_cast<T>(v);
  }
  reg_set<T>(c, in.ops[0].reg, r);
  return false;
}

template <bool kSigned>
InterpHandler select_movx(const InstrRecord& in) {
  if (in.nops != 2 || in.ops[0].kind != OpKind::Reg) return nullptr;
  const unsigned d = in.ops[0].size, s = in.ops[1].size;
  if (d == 4 && s == 1) return &movx<uint32_t, uint8_t, kSigned>;
  if (d == 4 && s == 2) return &movx<uint32_t, uint16_t, kSigned>;
  if (d == 2 && s == 1) return &movx<uint16_t, uint8_t, kSigned>;
  if (d == 2 && s == 2) return &movx<uint16_t, uint16_t, kSigned>;
  return nullptr;
}

// LEA: the effective address (no segment base), truncated to the operand size.
template <typename T>
bool lea(Cpu& c, const InstrRecord& in) {
  reg_set<T>(c, in.ops[0].reg, static_cast<T>(c.ea(in, in.ops[1])));
  return false;
}

InterpHandler select_lea(const InstrRecord& in) {
  if (in.nops != 2 || in.ops[0].kind != OpKind::Reg || in.ops[1].kind != OpKind::Mem) return nullptr;
  return in.ops[0].size == 2 ? &lea<uint16_t> : &lea<uint32_t>;
}

struct XchgForm {
  template <typename T, K D, K S>
  static bool run(Cpu& c, const InstrRecord& in) {
    if constexpr (S == K::I) {
      return unimplemented(c, in);
    } else if constexpr (D == K::M || S == K::M) {
      // One operand in memory: check writability before changing anything.
      const Operand& m = D == K::M ? in.ops[0] : in.ops[1];
      const Operand& r = D == K::M ? in.ops[1] : in.ops[0];
      const uint32_t lin = c.checked_linear(m.seg, c.ea(in, m), sizeof(T), true);
      const T mv = c.mmu.read_for_write<T>(lin, c.mmu_idx());
      c.mmu.write<T>(lin, reg_get<T>(c, r.reg), c.mmu_idx());
      reg_set<T>(c, r.reg, mv);
    } else {
      const T a = reg_get<T>(c, in.ops[0].reg);
      const T b = reg_get<T>(c, in.ops[1].reg);
      reg_set<T>(c, in.ops[0].reg, b);
      reg_set<T>(c, in.ops[1].reg, a);
    }
    return false;
  }
};

// PUSH r/m, imm (SDM Vol. 2B, PUSH): PUSH ESP pushes the value before the push.
template <typename T>
bool push_op(Cpu& c, const InstrRecord& in) {
  const T v = get_any<T>(c, in, in.ops[0]);
  c.push<T>(v);
  return false;
}

// POP r/m: an ESP-based memory destination is addressed after ESP is
// incremented (SDM Vol. 2B, POP). Register ESP as destination gets the value.
template <typename T>
bool pop_op(Cpu& c, const InstrRecord& in) {
  if (in.ops[0].kind == OpKind::Mem) {
    const uint32_t old_esp = c.s.gpr[ESP];
    const T v = c.pop<T>();
    try {
      set_any<T>(c, in, in.ops[0], v);
    } catch (...) {
      c.s.gpr[ESP] = old_esp;  // A faulting POP leaves ESP unchanged.
      throw;
    }
    return false;
  }
  const T v = c.pop<T>();
  reg_set<T>(c, in.ops[0].reg, v);
  return false;
}

InterpHandler select_push(const InstrRecord& in) {
  if (in.nops < 1) return nullptr;
  if (in.ops[0].kind == OpKind::Seg) return select_push_seg(in);
  // The operand size of the push is the instruction's, also for PUSH imm8.
  return in.opsize == 2 ? &push_op<uint16_t> : &push_op<uint32_t>;
}

InterpHandler select_pop(const InstrRecord& in) {
  if (in.nops < 1) return nullptr;
  if (in.ops[0].kind == OpKind::Seg) return select_pop_seg(in);
  return in.opsize == 2 ? &pop_op<uint16_t> : &pop_op<uint32_t>;
}

}  // namespace

void register_move(SelectorTable& t) {
  t.add(ZYDIS_MNEMONIC_MOV, &select_mov);
  t.add(ZYDIS_MNEMONIC_MOVZX, &select_movx<false>);
  t.add(ZYDIS_MNEMONIC_MOVSX, &select_movx<true>);
  t.add(ZYDIS_MNEMONIC_LEA, &select_lea);
  t.add(ZYDIS_MNEMONIC_XCHG, &select_2op<XchgForm>);
  t.add(ZYDIS_MNEMONIC_PUSH, &select_push);
  t.add(ZYDIS_MNEMONIC_POP, &select_pop);
}

}  // namespace vmm::interp

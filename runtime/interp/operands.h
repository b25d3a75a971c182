// Operand access for instruction semantics: registers, memory (through
// segmentation and the softmmu) and immediates, specialised by operand kind at
// compile time so a handler bound to one form has no kind dispatch left.
#pragma once

#include <cstdint>
#include <cstring>
#include <type_traits>

#include "frontend/instr.h"
#include "runtime/cpu.h"

namespace vmm::interp {

// Operand-form selectors used as template parameters.
enum class K : uint8_t { R, M, I };

template <typename T>
inline T reg_get(const Cpu& c, uint8_t off) {
  T v;
  std::memcpy(&v, reinterpret_cast<const uint8_t*>(c.s.gpr) + off, sizeof(T));
  return v;
}
template <typename T>
inline void reg_set(Cpu& c, uint8_t off, T v) {
  std::memcpy(reinterpret_cast<uint8_t*>(c.s.gpr) + off, &v, sizeof(T));
}

template <K kind, typename T>
inline T get(Cpu& c, const InstrRecord& in, const Operand& o) {
  if constexpr (kind == K::R) {
    return reg_get<T>(c, o.reg);
  } else if constexpr (kind == K::M) {
    return c.read<T>(o.seg, c.ea(in, o));
  } else {
    return static_cast<T>(o.imm);
  }
}

template <K kind, typename T>
inline void set(Cpu& c, const InstrRecord& in, const Operand& o, T v) {
  static_assert(kind != K::I, "cannot write an immediate");
  if constexpr (kind == K::R) {
    reg_set<T>(c, o.reg, v);
  } else {
    c.write<T>(o.seg, c.ea(in, o), v);
  }
}

// Runtime-kind access, for handlers that are not specialised per form.
template <typename T>
inline T get_any(Cpu& c, const InstrRecord& in, const Operand& o) {
  switch (o.kind) {
    case OpKind::Reg: return reg_get<T>(c, o.reg);
    case OpKind::Mem: return c.read<T>(o.seg, c.ea(in, o));
    default: return static_cast<T>(o.imm);
  }
}
template <typename T>
inline void set_any(Cpu& c, const InstrRecord& in, const Operand& o, T v) {
  if (o.kind == OpKind::Reg) reg_set<T>(c, o.reg, v);
  else c.write<T>(o.seg, c.ea(in, o), v);
}

inline K kind_of(const Operand& o) {
  return o.kind == OpKind::Reg ? K::R : o.kind == OpKind::Mem ? K::M : K::I;
}

// Calls F::template handler<T, K...> for the record's operand size and the
// kinds of its first two operands; returns nullptr for other forms.
// F must define: template <typename T, K D, K S> static bool run(Cpu&, const InstrRecord&).
template <typename F>
InterpHandler select_2op(const InstrRecord& in) {
  if (in.nops < 2) return nullptr;
  const K d = kind_of(in.ops[0]), s = kind_of(in.ops[1]);
  const unsigned size = in.ops[0].size;
  auto pick = [&]<typename T>() -> InterpHandler {
    if (d == K::R && s == K::R) return &F::template run<T, K::R, K::R>;
    if (d == K::R && s == K::M) return &F::template run<T, K::R, K::M>;
    if (d == K::R && s == K::I) return &F::template run<T, K::R, K::I>;
    if (d == K::M && s == K::R) return &F::template run<T, K::M, K::R>;
    if (d == K::M && s == K::I) return &F::template run<T, K::M, K::I>;
    return nullptr;
  };
  switch (size) {
    case 1: return pick.template operator()<uint8_t>();
    case 2: return pick.template operator()<uint16_t>();
    case 4: return pick.template operator()<uint32_t>();
    default: return nullptr;
  }
}

// Same for one-operand forms: F::template run<T, K D>.
template <typename F>
InterpHandler select_1op(const InstrRecord& in) {
  if (in.nops < 1) return nullptr;
  const K d = kind_of(in.ops[0]);
  auto pick = [&]<typename T>() -> InterpHandler {
    if (d == K::R) return &F::template run<T, K::R>;
    if (d == K::M) return &F::template run<T, K::M>;
    return nullptr;
  };
  switch (in.ops[0].size) {
    case 1: return pick.template operator()<uint8_t>();
    case 2: return pick.template operator()<uint16_t>();
    case 4: return pick.template operator()<uint32_t>();
    default: return nullptr;
  }
}

}  // namespace vmm::interp

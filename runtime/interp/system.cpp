// Interpreter handlers for privileged and sensitive instructions. Each one
// decodes its operands and calls the emulation routine in runtime/ that the
// JIT calls too; no semantics live here.
#include <Zydis/Zydis.h>

#include "runtime/emulation.h"
#include "runtime/interp/interp.h"
#include "runtime/interp/operands.h"
#include "runtime/interp/system.h"
#include "runtime/segmentation.h"

namespace vmm::interp {
namespace {

// Port number: DX or an 8-bit immediate.
inline uint16_t port_of(Cpu& c, const Operand& o) {
  return o.kind == OpKind::Imm ? static_cast<uint16_t>(o.imm & 0xFF) : static_cast<uint16_t>(c.s.gpr[EDX]);
}

// IN acc, port / OUT port, acc. Ends the block so device effects (an exit
// request, an interrupt) are seen before the next instruction.
bool in_port(Cpu& c, const InstrRecord& in) {
  const unsigned size = in.ops[0].size;
  const uint32_t v = io_in(c, port_of(c, in.ops[1]), size);
  if (size == 1) reg_set<uint8_t>(c, 0, static_cast<uint8_t>(v));
  else if (size == 2) reg_set<uint16_t>(c, 0, static_cast<uint16_t>(v));
  else c.s.gpr[EAX] = v;
  c.s.eip += in.length;
  return true;
}

bool out_port(Cpu& c, const InstrRecord& in) {
  const unsigned size = in.ops[1].size;
  io_out(c, port_of(c, in.ops[0]), size, c.s.gpr[EAX] & (size == 4 ? ~0u : (1u << (8 * size)) - 1));
  c.s.eip += in.length;
  return true;
}

bool hlt_op(Cpu& c, const InstrRecord& in) {
  hlt(c);
  c.s.eip += in.length;  // HLT completes; an interrupt returns after it.
  return true;
}

bool cli_op(Cpu& c, const InstrRecord&) {
  cli(c);
  return false;
}
bool sti_op(Cpu& c, const InstrRecord& in) {
  sti(c);
  c.s.eip += in.length;
  return true;  // Interrupts are considered after the next instruction (issue: shadow).
}
bool cpuid_op(Cpu& c, const InstrRecord&) {
  cpuid(c);
  return false;
}
bool rdtsc_op(Cpu& c, const InstrRecord&) {
  rdtsc(c);
  return false;
}

bool mov_to_cr_op(Cpu& c, const InstrRecord& in) {
  mov_to_cr(c, in.ops[0].reg, reg_get<uint32_t>(c, in.ops[1].reg));
  c.s.eip += in.length;
  return true;  // Paging or mode may have changed: end the block.
}
bool mov_from_cr_op(Cpu& c, const InstrRecord& in) {
  reg_set<uint32_t>(c, in.ops[0].reg, mov_from_cr(c, in.ops[1].reg));
  return false;
}
bool mov_to_dr_op(Cpu& c, const InstrRecord& in) {
  mov_to_dr(c, in.ops[0].reg, reg_get<uint32_t>(c, in.ops[1].reg));
  return false;
}
bool mov_from_dr_op(Cpu& c, const InstrRecord& in) {
  reg_set<uint32_t>(c, in.ops[0].reg, mov_from_dr(c, in.ops[1].reg));
  return false;
}

bool mov_to_seg(Cpu& c, const InstrRecord& in) {
  const uint16_t sel = get_any<uint16_t>(c, in, in.ops[1]);
  const auto seg = static_cast<SegReg>(in.ops[0].reg);
  if (seg == CS) raise_exception(kUD);
  load_segment(c, seg, sel);
  c.s.eip += in.length;
  return true;
}

// MOV r/m, Sreg: a register destination with 32-bit operand size gets the
// selector zero-extended; a memory destination is always written as 16 bits.
bool mov_from_seg(Cpu& c, const InstrRecord& in) {
  const uint16_t sel = c.s.seg[in.ops[1].reg].selector;
  if (in.ops[0].kind == OpKind::Reg) {
    if (in.ops[0].size == 4) reg_set<uint32_t>(c, in.ops[0].reg, sel);
    else reg_set<uint16_t>(c, in.ops[0].reg, sel);
  } else {
    c.write<uint16_t>(in.ops[0].seg, c.ea(in, in.ops[0]), sel);
  }
  return false;
}

template <typename T>
bool push_seg(Cpu& c, const InstrRecord& in) {
  c.push<T>(c.s.seg[in.ops[0].reg].selector);
  return false;
}

template <typename T>
bool pop_seg(Cpu& c, const InstrRecord& in) {
  // Read the selector without moving ESP, load it (which may fault), then pop.
  const uint32_t sp = c.s.gpr[ESP];
  const uint16_t sel = static_cast<uint16_t>(c.read<T>(SS, c.s.stack32() ? sp : (sp & 0xFFFF)));
  load_segment(c, static_cast<SegReg>(in.ops[0].reg), sel);
  c.pop<T>();
  c.s.eip += in.length;
  return true;
}

// LDS/LES/LFS/LGS/LSS r, m16:16/32.
template <typename T>
bool load_far_pointer(Cpu& c, const InstrRecord& in) {
  SegReg seg;
  switch (in.mnemonic) {
    case ZYDIS_MNEMONIC_LDS: seg = DS; break;
    case ZYDIS_MNEMONIC_LES: seg = ES; break;
    case ZYDIS_MNEMONIC_LFS: seg = FS; break;
    case ZYDIS_MNEMONIC_LGS: seg = GS; break;
    default: seg = SS; break;
  }
  const Operand& m = in.ops[1];
  if (m.kind != OpKind::Mem) raise_exception(kUD);
  const uint32_t off = c.ea(in, m);
  const T value = c.read<T>(m.seg, off);
  const uint16_t sel = c.read<uint16_t>(m.seg, off + sizeof(T));
  load_segment(c, seg, sel);
  reg_set<T>(c, in.ops[0].reg, value);
  c.s.eip += in.length;
  return true;
}

// Far JMP/CALL/RET at the same privilege level (SDM Vol. 3A, 5.8.1-5.8.2).
template <typename T>
bool far_jmp(Cpu& c, const InstrRecord& in) {
  uint16_t sel;
  uint32_t off;
  if (in.ops[0].kind == OpKind::Far) {
    sel = in.far_selector;
    off = static_cast<T>(in.ops[0].imm);
  } else {
    const uint32_t a = c.ea(in, in.ops[0]);
    off = c.read<T>(in.ops[0].seg, a);
    sel = c.read<uint16_t>(in.ops[0].seg, a + sizeof(T));
  }
  load_code_segment(c, sel, off);
  c.s.eip = off;
  return true;
}

template <typename T>
bool far_call(Cpu& c, const InstrRecord& in) {
  uint16_t sel;
  uint32_t off;
  if (in.ops[0].kind == OpKind::Far) {
    sel = in.far_selector;
    off = static_cast<T>(in.ops[0].imm);
  } else {
    const uint32_t a = c.ea(in, in.ops[0]);
    off = c.read<T>(in.ops[0].seg, a);
    sel = c.read<uint16_t>(in.ops[0].seg, a + sizeof(T));
  }
  // Both pushes must be possible before CS changes.
  const uint32_t old_esp = c.s.gpr[ESP];
  const SegmentCache old_cs = c.s.seg[CS];
  c.push<T>(static_cast<T>(old_cs.selector));
  c.push<T>(static_cast<T>(c.s.eip + in.length));
  try {
    load_code_segment(c, sel, off);
  } catch (...) {
    c.s.gpr[ESP] = old_esp;
    c.s.seg[CS] = old_cs;
    throw;
  }
  c.s.eip = off;
  return true;
}

template <typename T>
bool far_ret(Cpu& c, const InstrRecord& in) {
  const uint32_t sp = c.s.gpr[ESP];
  const uint32_t base = c.s.stack32() ? sp : (sp & 0xFFFF);
  const uint32_t off = c.read<T>(SS, base);
  const uint16_t sel = static_cast<uint16_t>(c.read<T>(SS, base + sizeof(T)));
  if ((sel & 3) != c.s.cpl) {
    // A return to an outer privilege level switches stacks: part of the
    // privilege-transition work, not handled here.
    return unimplemented(c, in);
  }
  load_code_segment(c, sel, off);
  uint32_t n = 2 * sizeof(T) + (in.nops >= 1 && in.ops[0].kind == OpKind::Imm ? (in.ops[0].imm & 0xFFFF) : 0);
  c.s.gpr[ESP] = c.s.stack32() ? sp + n : ((sp & 0xFFFF0000u) | ((sp + n) & 0xFFFF));
  c.s.eip = off;
  return true;
}

bool lgdt_op(Cpu& c, const InstrRecord& in) {
  lgdt(c, c.linear(in.ops[0].seg, c.ea(in, in.ops[0])), in.opsize);
  return false;
}
bool lidt_op(Cpu& c, const InstrRecord& in) {
  lidt(c, c.linear(in.ops[0].seg, c.ea(in, in.ops[0])), in.opsize);
  return false;
}
bool invlpg_op(Cpu& c, const InstrRecord& in) {
  invlpg(c, c.linear(in.ops[0].seg, c.ea(in, in.ops[0])));
  c.s.eip += in.length;
  return true;
}

InterpHandler select_in(const InstrRecord& in) { return in.nops == 2 ? &in_port : nullptr; }
InterpHandler select_out(const InstrRecord& in) { return in.nops == 2 ? &out_port : nullptr; }

template <InterpHandler H>
InterpHandler always(const InstrRecord&) {
  return H;
}

InterpHandler select_lxs(const InstrRecord& in) {
  return in.opsize == 2 ? &load_far_pointer<uint16_t> : &load_far_pointer<uint32_t>;
}

}  // namespace

InterpHandler select_mov_system(const InstrRecord& in) {
  const OpKind d = in.ops[0].kind, s = in.ops[1].kind;
  if (d == OpKind::Seg) return &mov_to_seg;
  if (s == OpKind::Seg) return &mov_from_seg;
  if (d == OpKind::Ctrl) return &mov_to_cr_op;
  if (s == OpKind::Ctrl) return &mov_from_cr_op;
  if (d == OpKind::Debug) return &mov_to_dr_op;
  if (s == OpKind::Debug) return &mov_from_dr_op;
  return nullptr;
}

InterpHandler select_push_seg(const InstrRecord& in) {
  return in.opsize == 2 ? &push_seg<uint16_t> : &push_seg<uint32_t>;
}

InterpHandler select_pop_seg(const InstrRecord& in) {
  if (in.ops[0].reg == CS) return nullptr;
  return in.opsize == 2 ? &pop_seg<uint16_t> : &pop_seg<uint32_t>;
}

InterpHandler select_far_transfer(const InstrRecord& in) {
  const bool o16 = in.opsize == 2;
  switch (in.mnemonic) {
    case ZYDIS_MNEMONIC_JMP: return o16 ? &far_jmp<uint16_t> : &far_jmp<uint32_t>;
    case ZYDIS_MNEMONIC_CALL: return o16 ? &far_call<uint16_t> : &far_call<uint32_t>;
    case ZYDIS_MNEMONIC_RET: return o16 ? &far_ret<uint16_t> : &far_ret<uint32_t>;
    default: return nullptr;
  }
}

void register_system(SelectorTable& t) {
  t.add(ZYDIS_MNEMONIC_IN, &select_in);
  t.add(ZYDIS_MNEMONIC_OUT, &select_out);
  t.add(ZYDIS_MNEMONIC_HLT, &always<&hlt_op>);
  t.add(ZYDIS_MNEMONIC_CLI, &always<&cli_op>);
  t.add(ZYDIS_MNEMONIC_STI, &always<&sti_op>);
  t.add(ZYDIS_MNEMONIC_CPUID, &always<&cpuid_op>);
  t.add(ZYDIS_MNEMONIC_RDTSC, &always<&rdtsc_op>);
  t.add(ZYDIS_MNEMONIC_LGDT, &always<&lgdt_op>);
  t.add(ZYDIS_MNEMONIC_LIDT, &always<&lidt_op>);
  t.add(ZYDIS_MNEMONIC_INVLPG, &always<&invlpg_op>);
  for (uint16_t m : {ZYDIS_MNEMONIC_LDS, ZYDIS_MNEMONIC_LES, ZYDIS_MNEMONIC_LFS, ZYDIS_MNEMONIC_LGS,
                     ZYDIS_MNEMONIC_LSS})
    t.add(m, &select_lxs);
}

}  // namespace vmm::interp

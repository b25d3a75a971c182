// Interpreter handlers for privileged and sensitive instructions. Each one
// decodes its operands and calls the emulation routine in runtime/ that the
// JIT calls too; no semantics live here.
#include <Zydis/Zydis.h>

#include "devices/bus.h"
#include "runtime/emulation.h"
#include "runtime/interrupts.h"
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

// INS/OUTS with and without REP (SDM Vol. 2A, INS; Vol. 2B, OUTS). Port I/O
// is slow anyway, so elements go one by one; ECX/EDI/ESI are updated after
// each, so a fault leaves the instruction restartable as on hardware. A REP
// form stops early between elements as REP MOVS does (Cpu::iteration_break:
// a pending interrupt, timers to run, the machine stopped by a device),
// EIP still at the instruction.
constexpr uint32_t kElementsPerCheck = 256;

template <typename T, bool kIn>
bool string_io(Cpu& c, const InstrRecord& in) {
  const bool a16 = in.addrsize == 2;
  const bool rep = in.prefixes & (prefix::kRep | prefix::kRepne);
  const uint16_t port = static_cast<uint16_t>(c.s.gpr[EDX]);
  const int32_t step = (c.s.eflags & flag::DF) ? -static_cast<int32_t>(sizeof(T)) : static_cast<int32_t>(sizeof(T));
  auto reg_read = [&](Gpr r) { return a16 ? (c.s.gpr[r] & 0xFFFF) : c.s.gpr[r]; };
  auto reg_write = [&](Gpr r, uint32_t v) {
    c.s.gpr[r] = a16 ? ((c.s.gpr[r] & 0xFFFF0000u) | (v & 0xFFFF)) : v;
  };
  check_io_permission(c, port, sizeof(T));
  uint32_t count = rep ? reg_read(ECX) : 1;
  while (count != 0) {
    if constexpr (kIn) {
      // The destination must be writable before the port is read (a read may have side effects).
      const uint32_t di = reg_read(EDI);
      c.mmu.probe_write(c.linear(ES, di), sizeof(T), c.mmu_idx());
      const T v = static_cast<T>(c.bus.pio_read(port, sizeof(T)));
      c.write<T>(ES, di, v);
      reg_write(EDI, di + step);
    } else {
      const uint32_t si = reg_read(ESI);
      const T v = c.read<T>(in.seg, si);
      c.bus.pio_write(port, sizeof(T), v);
      reg_write(ESI, si + step);
    }
    --count;
    if (rep) reg_write(ECX, count);
    if (count != 0 && (count % kElementsPerCheck) == 0 && c.iteration_break()) return true;
  }
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
  sti(c, c.s.eip + in.length);
  c.s.eip += in.length;
  return true;  // End the block: a pending interrupt is taken after the next instruction.
}
bool cpuid_op(Cpu& c, const InstrRecord&) {
  cpuid(c);
  return false;
}
bool rdtsc_op(Cpu& c, const InstrRecord&) {
  rdtsc(c);
  return false;
}
bool rdpmc_op(Cpu& c, const InstrRecord&) {
  rdpmc(c);
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
  load_segment(c, seg, sel);  // Ends the block when it must.
  if (seg == SS) c.inhibit_interrupts_until(c.s.eip + in.length);  // MOV SS shadow (SDM Vol. 3A, 6.8.3).
  return false;
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
  load_segment(c, static_cast<SegReg>(in.ops[0].reg), sel);  // Ends the block when it must.
  c.pop<T>();
  if (in.ops[0].reg == SS) c.inhibit_interrupts_until(c.s.eip + in.length);  // POP SS shadow.
  return false;
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

// Far JMP/CALL/RET: operand decoding here, semantics in runtime/far_transfer.cpp.
template <typename T>
void far_pointer(Cpu& c, const InstrRecord& in, uint16_t& sel, uint32_t& off) {
  if (in.ops[0].kind == OpKind::Far) {
    sel = in.far_selector;
    off = static_cast<T>(in.ops[0].imm);
  } else {
    const uint32_t a = c.ea(in, in.ops[0]);
    off = c.read<T>(in.ops[0].seg, a);
    sel = c.read<uint16_t>(in.ops[0].seg, a + sizeof(T));
  }
}

template <typename T>
bool far_jmp_op(Cpu& c, const InstrRecord& in) {
  uint16_t sel;
  uint32_t off;
  far_pointer<T>(c, in, sel, off);
  far_jmp(c, sel, off, sizeof(T), c.s.eip + in.length);  // A task switch saves the address after the JMP.
  return true;
}

template <typename T>
bool far_call_op(Cpu& c, const InstrRecord& in) {
  uint16_t sel;
  uint32_t off;
  far_pointer<T>(c, in, sel, off);
  far_call(c, sel, off, sizeof(T), c.s.eip + in.length);
  return true;
}

template <typename T>
bool far_ret_op(Cpu& c, const InstrRecord& in) {
  const uint16_t n = in.nops >= 1 && in.ops[0].kind == OpKind::Imm ? static_cast<uint16_t>(in.ops[0].imm) : 0;
  far_ret(c, sizeof(T), n);
  return true;
}

// INT n / INT3 / INTO / INT1 and IRET (runtime/interrupts.cpp).
bool int_n(Cpu& c, const InstrRecord& in) {
  software_interrupt(c, static_cast<uint8_t>(in.ops[0].imm), EventSource::kSoftware, c.s.eip + in.length);
  return true;
}
bool int3_op(Cpu& c, const InstrRecord& in) {
  software_interrupt(c, kBP, EventSource::kSoftware, c.s.eip + in.length);
  return true;
}
bool int1_op(Cpu& c, const InstrRecord& in) {
  software_interrupt(c, kDB, EventSource::kIcebp, c.s.eip + in.length);
  return true;
}
bool into_op(Cpu& c, const InstrRecord& in) {
  if (!(c.s.eflags & flag::OF)) return false;
  software_interrupt(c, kOF, EventSource::kSoftware, c.s.eip + in.length);
  return true;
}
template <unsigned kOpSize>
bool iret_op(Cpu& c, const InstrRecord& in) {
  iret(c, kOpSize, c.s.eip + in.length);
  return true;
}

// BOUND r, m: #BR when the signed index is outside [lower, upper] (SDM Vol. 2A, BOUND).
template <typename T>
bool bound_op(Cpu& c, const InstrRecord& in) {
  using S = std::make_signed_t<T>;
  if (in.ops[1].kind != OpKind::Mem) raise_exception(kUD);
  const uint32_t a = c.ea(in, in.ops[1]);
  const S lower = static_cast<S>(c.read<T>(in.ops[1].seg, a));
  const S upper = static_cast<S>(c.read<T>(in.ops[1].seg, a + sizeof(T)));
  const S index = static_cast<S>(reg_get<T>(c, in.ops[0].reg));
  if (index < lower || index > upper) raise_exception(kBR);
  return false;
}

// Stores of system registers to r/m: a register destination with a 32-bit
// operand size receives the zero-extended value, memory always 16 bits.
void store_system16(Cpu& c, const InstrRecord& in, uint32_t value) {
  if (in.ops[0].kind == OpKind::Reg) {
    if (in.ops[0].size == 4) reg_set<uint32_t>(c, in.ops[0].reg, value);
    else reg_set<uint16_t>(c, in.ops[0].reg, static_cast<uint16_t>(value));
  } else {
    c.write<uint16_t>(in.ops[0].seg, c.ea(in, in.ops[0]), static_cast<uint16_t>(value));
  }
}

bool sldt_op(Cpu& c, const InstrRecord& in) {
  store_system16(c, in, c.s.ldtr.selector);
  return false;
}
bool str_op(Cpu& c, const InstrRecord& in) {
  store_system16(c, in, c.s.tr.selector);
  return false;
}
bool smsw_op(Cpu& c, const InstrRecord& in) {
  store_system16(c, in, in.ops[0].kind == OpKind::Reg && in.ops[0].size == 4 ? c.s.cr0 : (c.s.cr0 & 0xFFFF));
  return false;
}
bool lmsw_op(Cpu& c, const InstrRecord& in) {
  lmsw(c, get_any<uint16_t>(c, in, in.ops[0]));
  c.s.eip += in.length;
  return true;
}
bool clts_op(Cpu& c, const InstrRecord&) {
  clts(c);
  return false;
}
bool ltr_op(Cpu& c, const InstrRecord& in) {
  ltr(c, get_any<uint16_t>(c, in, in.ops[0]));
  return false;
}
bool lldt_op(Cpu& c, const InstrRecord& in) {
  lldt(c, get_any<uint16_t>(c, in, in.ops[0]));
  return false;
}
bool sgdt_op(Cpu& c, const InstrRecord& in) {
  sgdt(c, c.checked_linear(in.ops[0].seg, c.ea(in, in.ops[0]), 6, true));
  return false;
}
bool sidt_op(Cpu& c, const InstrRecord& in) {
  sidt(c, c.checked_linear(in.ops[0].seg, c.ea(in, in.ops[0]), 6, true));
  return false;
}

inline void set_zf(Cpu& c, bool z) {
  if (z) c.s.eflags |= flag::ZF;
  else c.s.eflags &= ~flag::ZF;
}

bool lar_op(Cpu& c, const InstrRecord& in) {
  uint32_t v;
  const bool ok = lar(c, get_any<uint16_t>(c, in, in.ops[1]), v);
  set_zf(c, ok);
  if (ok) {
    if (in.ops[0].size == 4) reg_set<uint32_t>(c, in.ops[0].reg, v);
    else reg_set<uint16_t>(c, in.ops[0].reg, static_cast<uint16_t>(v & 0xFF00));
  }
  return false;
}
bool lsl_op(Cpu& c, const InstrRecord& in) {
  uint32_t v;
  const bool ok = lsl(c, get_any<uint16_t>(c, in, in.ops[1]), v);
  set_zf(c, ok);
  if (ok) {
    if (in.ops[0].size == 4) reg_set<uint32_t>(c, in.ops[0].reg, v);
    else reg_set<uint16_t>(c, in.ops[0].reg, static_cast<uint16_t>(v));
  }
  return false;
}
bool verr_op(Cpu& c, const InstrRecord& in) {
  set_zf(c, verr(c, get_any<uint16_t>(c, in, in.ops[0])));
  return false;
}
bool verw_op(Cpu& c, const InstrRecord& in) {
  set_zf(c, verw(c, get_any<uint16_t>(c, in, in.ops[0])));
  return false;
}
bool arpl_op(Cpu& c, const InstrRecord& in) {
  // ARPL is invalid in real mode (SDM Vol. 2A, ARPL).
  if (!(c.s.cr0 & cr0::PE)) raise_exception(kUD);
  uint16_t d = get_any<uint16_t>(c, in, in.ops[0]);
  const bool changed = arpl(d, reg_get<uint16_t>(c, in.ops[1].reg));
  if (changed) set_any<uint16_t>(c, in, in.ops[0], d);
  set_zf(c, changed);
  return false;
}
bool rdmsr_op(Cpu& c, const InstrRecord&) {
  rdmsr(c);
  return false;
}
bool wrmsr_op(Cpu& c, const InstrRecord&) {
  wrmsr(c);
  return false;
}
bool sysenter_op(Cpu& c, const InstrRecord&) {
  sysenter(c);
  return true;
}
bool sysexit_op(Cpu& c, const InstrRecord&) {
  sysexit(c);
  return true;
}
// WBINVD/INVD: privileged; caches are not modelled, so nothing else to do.
bool cache_op(Cpu& c, const InstrRecord&) {
  require_cpl0(c);
  return false;
}

bool lgdt_op(Cpu& c, const InstrRecord& in) {
  lgdt(c, c.checked_linear(in.ops[0].seg, c.ea(in, in.ops[0]), 6, false), in.opsize);
  return false;
}
bool lidt_op(Cpu& c, const InstrRecord& in) {
  lidt(c, c.checked_linear(in.ops[0].seg, c.ea(in, in.ops[0]), 6, false), in.opsize);
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
    case ZYDIS_MNEMONIC_JMP: return o16 ? &far_jmp_op<uint16_t> : &far_jmp_op<uint32_t>;
    case ZYDIS_MNEMONIC_CALL: return o16 ? &far_call_op<uint16_t> : &far_call_op<uint32_t>;
    case ZYDIS_MNEMONIC_RET: return o16 ? &far_ret_op<uint16_t> : &far_ret_op<uint32_t>;
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
  t.add(ZYDIS_MNEMONIC_RDPMC, &always<&rdpmc_op>);
  t.add(ZYDIS_MNEMONIC_LGDT, &always<&lgdt_op>);
  t.add(ZYDIS_MNEMONIC_LIDT, &always<&lidt_op>);
  t.add(ZYDIS_MNEMONIC_INVLPG, &always<&invlpg_op>);
  for (uint16_t m : {ZYDIS_MNEMONIC_LDS, ZYDIS_MNEMONIC_LES, ZYDIS_MNEMONIC_LFS, ZYDIS_MNEMONIC_LGS,
                     ZYDIS_MNEMONIC_LSS})
    t.add(m, &select_lxs);
  t.add(ZYDIS_MNEMONIC_INSB, &always<&string_io<uint8_t, true>>);
  t.add(ZYDIS_MNEMONIC_INSW, &always<&string_io<uint16_t, true>>);
  t.add(ZYDIS_MNEMONIC_INSD, &always<&string_io<uint32_t, true>>);
  t.add(ZYDIS_MNEMONIC_OUTSB, &always<&string_io<uint8_t, false>>);
  t.add(ZYDIS_MNEMONIC_OUTSW, &always<&string_io<uint16_t, false>>);
  t.add(ZYDIS_MNEMONIC_OUTSD, &always<&string_io<uint32_t, false>>);
  t.add(ZYDIS_MNEMONIC_INT, &always<&int_n>);
  t.add(ZYDIS_MNEMONIC_INT3, &always<&int3_op>);
  t.add(ZYDIS_MNEMONIC_INT1, &always<&int1_op>);
  t.add(ZYDIS_MNEMONIC_INTO, &always<&into_op>);
  t.add(ZYDIS_MNEMONIC_IRET, &always<&iret_op<2>>);
  t.add(ZYDIS_MNEMONIC_IRETD, &always<&iret_op<4>>);
  t.add(ZYDIS_MNEMONIC_BOUND, [](const InstrRecord& in) -> InterpHandler {
    return in.opsize == 2 ? &bound_op<uint16_t> : &bound_op<uint32_t>;
  });
  t.add(ZYDIS_MNEMONIC_SLDT, &always<&sldt_op>);
  t.add(ZYDIS_MNEMONIC_STR, &always<&str_op>);
  t.add(ZYDIS_MNEMONIC_SMSW, &always<&smsw_op>);
  t.add(ZYDIS_MNEMONIC_LMSW, &always<&lmsw_op>);
  t.add(ZYDIS_MNEMONIC_CLTS, &always<&clts_op>);
  t.add(ZYDIS_MNEMONIC_LTR, &always<&ltr_op>);
  t.add(ZYDIS_MNEMONIC_LLDT, &always<&lldt_op>);
  t.add(ZYDIS_MNEMONIC_SGDT, &always<&sgdt_op>);
  t.add(ZYDIS_MNEMONIC_SIDT, &always<&sidt_op>);
  t.add(ZYDIS_MNEMONIC_LAR, &always<&lar_op>);
  t.add(ZYDIS_MNEMONIC_LSL, &always<&lsl_op>);
  t.add(ZYDIS_MNEMONIC_VERR, &always<&verr_op>);
  t.add(ZYDIS_MNEMONIC_VERW, &always<&verw_op>);
  t.add(ZYDIS_MNEMONIC_ARPL, &always<&arpl_op>);
  t.add(ZYDIS_MNEMONIC_RDMSR, &always<&rdmsr_op>);
  t.add(ZYDIS_MNEMONIC_WRMSR, &always<&wrmsr_op>);
  t.add(ZYDIS_MNEMONIC_SYSENTER, &always<&sysenter_op>);
  t.add(ZYDIS_MNEMONIC_SYSEXIT, &always<&sysexit_op>);
  t.add(ZYDIS_MNEMONIC_WBINVD, &always<&cache_op>);
  t.add(ZYDIS_MNEMONIC_INVD, &always<&cache_op>);
}

}  // namespace vmm::interp

// CBW, CWDE, CWD, CDQ, XADD, CMPXCHG, CMPXCHG8B, CLC, STC, CMC, CLD, STD,
// LAHF, SAHF, NOP (all forms), PAUSE, XLAT, UD0/UD1/UD2 (SDM Vol. 2A/2B, the
// sections named at each handler). SALC (D6) is not an i686 instruction and is
// deliberately not registered, so it raises #UD as an unimplemented form.
#include <Zydis/Zydis.h>

#include "runtime/interp/flags.h"
#include "runtime/interp/interp.h"
#include "runtime/interp/operands.h"

namespace vmm::interp {
namespace {

constexpr uint8_t kRegA = 0;  // Byte offset of AL/AX/EAX in CpuState::gpr.

// ---------------------------------------------------------------------------
// Sign extensions (SDM "CBW/CWDE/CDQE", "CWD/CDQ/CQO"). Zydis names each
// operand-size form by its own mnemonic, so no size check is needed.

bool cbw(Cpu& c, const InstrRecord&) {
  reg_set<uint16_t>(c, kRegA, static_cast<uint16_t>(static_cast<int8_t>(c.s.gpr[EAX])));
  return false;
}
bool cwde(Cpu& c, const InstrRecord&) {
  c.s.gpr[EAX] = static_cast<uint32_t>(static_cast<int32_t>(static_cast<int16_t>(c.s.gpr[EAX])));
  return false;
}
bool cwd(Cpu& c, const InstrRecord&) {
  reg_set<uint16_t>(c, 2 * 4, (c.s.gpr[EAX] & 0x8000) ? 0xFFFF : 0);
  return false;
}
bool cdq(Cpu& c, const InstrRecord&) {
  c.s.gpr[EDX] = (c.s.gpr[EAX] & 0x80000000u) ? 0xFFFFFFFFu : 0;
  return false;
}

// ---------------------------------------------------------------------------
// XADD and CMPXCHG: their flags are those of ADD and CMP, all defined, so the
// host ALU computes them without loading the guest flags first.

template <typename T>
inline T host_add(uint32_t& eflags, T a, T b) {
  uint16_t ax;
  asm("add %2, %0\n\tlahf\n\tseto %%al" : "+r"(a), "=&a"(ax) : "r"(b) : "cc");
  merge_flags(eflags, lahf_seto_to_eflags(ax), flag::kArith);
  return a;
}

template <typename T>
inline void host_cmp(uint32_t& eflags, T a, T b) {
  uint16_t ax;
  asm("cmp %2, %1\n\tlahf\n\tseto %%al" : "=&a"(ax) : "r"(a), "r"(b) : "cc");
  merge_flags(eflags, lahf_seto_to_eflags(ax), flag::kArith);
}

// XADD r/m, r (SDM "XADD"): TEMP := SRC + DEST; SRC := DEST; DEST := TEMP.
// With the same register as both operands the sum wins, as in that order.
template <typename T, K D>
bool xadd(Cpu& c, const InstrRecord& in) {
  const uint8_t src_reg = in.ops[1].reg;
  const T src = reg_get<T>(c, src_reg);
  if constexpr (D == K::M) {
    const uint32_t lin = c.checked_linear(in.ops[0].seg, c.ea(in, in.ops[0]), sizeof(T), true);
    const T dst = c.mmu.read_for_write<T>(lin, c.mmu_idx());
    uint32_t f = c.s.eflags;
    const T sum = host_add<T>(f, dst, src);
    c.mmu.write<T>(lin, sum, c.mmu_idx());
    // Flags and the register change only once the write cannot fault.
    c.s.eflags = f;
    reg_set<T>(c, src_reg, dst);
  } else {
    const T dst = reg_get<T>(c, in.ops[0].reg);
    const T sum = host_add<T>(c.s.eflags, dst, src);
    reg_set<T>(c, src_reg, dst);
    reg_set<T>(c, in.ops[0].reg, sum);
  }
  return false;
}

// CMPXCHG r/m, r (SDM "CMPXCHG"): flags as CMP accumulator, DEST. On a match
// DEST := SRC; otherwise accumulator := DEST and DEST is written back with its
// own value: the processor always issues the write, so a read-only
// destination faults even when the comparison fails.
template <typename T, K D>
bool cmpxchg(Cpu& c, const InstrRecord& in) {
  const T src = reg_get<T>(c, in.ops[1].reg);
  const T acc = reg_get<T>(c, kRegA);
  if constexpr (D == K::M) {
    const uint32_t lin = c.checked_linear(in.ops[0].seg, c.ea(in, in.ops[0]), sizeof(T), true);
    const T dst = c.mmu.read_for_write<T>(lin, c.mmu_idx());
    uint32_t f = c.s.eflags;
    host_cmp<T>(f, acc, dst);
    c.mmu.write<T>(lin, acc == dst ? src : dst, c.mmu_idx());
    c.s.eflags = f;
    if (acc != dst) reg_set<T>(c, kRegA, dst);
  } else {
    const T dst = reg_get<T>(c, in.ops[0].reg);
    host_cmp<T>(c.s.eflags, acc, dst);
    if (acc == dst) reg_set<T>(c, in.ops[0].reg, src);
    else reg_set<T>(c, kRegA, dst);
  }
  return false;
}

InterpHandler select_xadd(const InstrRecord& in) {
  if (in.nops != 2 || in.ops[1].kind != OpKind::Reg) return nullptr;
  const bool mem = in.ops[0].kind == OpKind::Mem;
  if (!mem && in.ops[0].kind != OpKind::Reg) return nullptr;
  switch (in.ops[0].size) {
    case 1: return mem ? &xadd<uint8_t, K::M> : &xadd<uint8_t, K::R>;
    case 2: return mem ? &xadd<uint16_t, K::M> : &xadd<uint16_t, K::R>;
    case 4: return mem ? &xadd<uint32_t, K::M> : &xadd<uint32_t, K::R>;
    default: return nullptr;
  }
}

InterpHandler select_cmpxchg(const InstrRecord& in) {
  if (in.nops != 2 || in.ops[1].kind != OpKind::Reg) return nullptr;
  const bool mem = in.ops[0].kind == OpKind::Mem;
  if (!mem && in.ops[0].kind != OpKind::Reg) return nullptr;
  switch (in.ops[0].size) {
    case 1: return mem ? &cmpxchg<uint8_t, K::M> : &cmpxchg<uint8_t, K::R>;
    case 2: return mem ? &cmpxchg<uint16_t, K::M> : &cmpxchg<uint16_t, K::R>;
    case 4: return mem ? &cmpxchg<uint32_t, K::M> : &cmpxchg<uint32_t, K::R>;
    default: return nullptr;
  }
}

// CMPXCHG8B m64 (SDM "CMPXCHG8B/CMPXCHG16B"): compares EDX:EAX with m64; on a
// match m64 := ECX:EBX, else EDX:EAX := m64 and m64 is written back
// unchanged (the write cycle happens either way). Only ZF is written. The two
// halves go through 32-bit accesses (the softmmu's slow path is 32 bits
// wide); the whole 8 bytes are probed for writing first so a fault on the
// second dword leaves memory untouched.
bool cmpxchg8b(Cpu& c, const InstrRecord& in) {
  const unsigned idx = c.mmu_idx();
  const uint32_t lin = c.checked_linear(in.ops[0].seg, c.ea(in, in.ops[0]), 8, true);
  // Checked as a write before the read, as every read-modify-write.
  c.mmu.probe_write(lin, 8, idx);
  const uint32_t lo = c.mmu.read<uint32_t>(lin, idx);
  const uint32_t hi = c.mmu.read<uint32_t>(lin + 4, idx);
  const bool equal = lo == c.s.gpr[EAX] && hi == c.s.gpr[EDX];
  c.mmu.write<uint32_t>(lin, equal ? c.s.gpr[EBX] : lo, idx);
  c.mmu.write<uint32_t>(lin + 4, equal ? c.s.gpr[ECX] : hi, idx);
  if (equal) {
    c.s.eflags |= flag::ZF;
  } else {
    c.s.eflags &= ~flag::ZF;
    c.s.gpr[EAX] = lo;
    c.s.gpr[EDX] = hi;
  }
  return false;
}

bool invalid_opcode(Cpu&, const InstrRecord&) { raise_exception(kUD); }

// The register form (0F C7 /1 with mod = 3) is #UD (SDM "CMPXCHG8B",
// Exceptions); the decoder normally rejects it already.
InterpHandler select_cmpxchg8b(const InstrRecord& in) {
  if (in.nops == 1 && in.ops[0].kind == OpKind::Mem) return &cmpxchg8b;
  return &invalid_opcode;
}

// ---------------------------------------------------------------------------
// Flag instructions (SDM "CLC", "STC", "CMC", "CLD", "STD", "LAHF", "SAHF").

template <uint32_t kClear, uint32_t kSet, uint32_t kToggle>
bool flag_op(Cpu& c, const InstrRecord&) {
  c.s.eflags = ((c.s.eflags & ~kClear) | kSet) ^ kToggle;
  return false;
}

constexpr uint32_t kAhFlags = flag::SF | flag::ZF | flag::AF | flag::PF | flag::CF;

// AH := SF:ZF:0:AF:0:PF:1:CF; bit 1 of EFLAGS always reads 1.
bool lahf(Cpu& c, const InstrRecord&) {
  reg_set<uint8_t>(c, 1, static_cast<uint8_t>((c.s.eflags & kAhFlags) | flag::kFixed1));
  return false;
}

// Loads SF ZF AF PF CF from AH; bits 1, 3, 5 of EFLAGS keep their fixed values.
bool sahf(Cpu& c, const InstrRecord&) {
  merge_flags(c.s.eflags, c.s.gpr[EAX] >> 8, kAhFlags);
  return false;
}

// ---------------------------------------------------------------------------
// NOP (90, and 0F 1F /0 and the other 0F 19..1F hint forms, whose ModRM
// memory operand is never accessed: SDM "NOP"), PAUSE (F3 90: a spin-loop
// hint with no architectural effect, SDM "PAUSE").

bool nop(Cpu&, const InstrRecord&) { return false; }

// XLAT (SDM "XLAT/XLATB"): AL := [seg:(E)BX + ZeroExtend(AL)], BX with a
// 16-bit address size (the sum wraps at 64 KiB), EBX with a 32-bit one. The
// segment is DS unless overridden.
template <unsigned kAddrSize>
bool xlat(Cpu& c, const InstrRecord& in) {
  uint32_t addr = c.s.gpr[EBX] + (c.s.gpr[EAX] & 0xFF);
  if constexpr (kAddrSize == 2) addr &= 0xFFFF;
  reg_set<uint8_t>(c, kRegA, c.read<uint8_t>(in.seg, addr));
  return false;
}

InterpHandler select_xlat(const InstrRecord& in) { return in.addrsize == 2 ? &xlat<2> : &xlat<4>; }

template <InterpHandler H>
InterpHandler always(const InstrRecord&) {
  return H;
}

}  // namespace

void register_misc(SelectorTable& t) {
  t.add(ZYDIS_MNEMONIC_CBW, &always<&cbw>);
  t.add(ZYDIS_MNEMONIC_CWDE, &always<&cwde>);
  t.add(ZYDIS_MNEMONIC_CWD, &always<&cwd>);
  t.add(ZYDIS_MNEMONIC_CDQ, &always<&cdq>);
  t.add(ZYDIS_MNEMONIC_XADD, &select_xadd);
  t.add(ZYDIS_MNEMONIC_CMPXCHG, &select_cmpxchg);
  t.add(ZYDIS_MNEMONIC_CMPXCHG8B, &select_cmpxchg8b);
  t.add(ZYDIS_MNEMONIC_CLC, &always<&flag_op<flag::CF, 0, 0>>);
  t.add(ZYDIS_MNEMONIC_STC, &always<&flag_op<0, flag::CF, 0>>);
  t.add(ZYDIS_MNEMONIC_CMC, &always<&flag_op<0, 0, flag::CF>>);
  t.add(ZYDIS_MNEMONIC_CLD, &always<&flag_op<flag::DF, 0, 0>>);
  t.add(ZYDIS_MNEMONIC_STD, &always<&flag_op<0, flag::DF, 0>>);
  t.add(ZYDIS_MNEMONIC_LAHF, &always<&lahf>);
  t.add(ZYDIS_MNEMONIC_SAHF, &always<&sahf>);
  t.add(ZYDIS_MNEMONIC_NOP, &always<&nop>);
  t.add(ZYDIS_MNEMONIC_PAUSE, &always<&nop>);
  t.add(ZYDIS_MNEMONIC_XLAT, &select_xlat);
  // UD0/UD1/UD2 are defined to raise #UD (SDM "UD—Undefined Instruction");
  // binding them explicitly keeps them out of the unimplemented-form log.
  t.add(ZYDIS_MNEMONIC_UD0, &always<&invalid_opcode>);
  t.add(ZYDIS_MNEMONIC_UD1, &always<&invalid_opcode>);
  t.add(ZYDIS_MNEMONIC_UD2, &always<&invalid_opcode>);
}

}  // namespace vmm::interp

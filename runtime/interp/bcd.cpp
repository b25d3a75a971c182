// DAA, DAS, AAA, AAS, AAM, AAD (SDM Vol. 2A, "DAA—Decimal Adjust AL after
// Addition", "DAS—Decimal Adjust AL after Subtraction", "AAA—ASCII Adjust
// After Addition", "AAS—ASCII Adjust AL After Subtraction", "AAM—ASCII Adjust
// AX After Multiply", "AAD—ASCII Adjust AX Before Division").
//
// These are invalid in 64-bit mode, so unlike the other groups they cannot
// run on the host: the SDM pseudo-code is implemented directly. For the flags
// the SDM leaves undefined, the values are those an Intel CPU produces; they
// were measured exhaustively (every AX, every input flag combination, AAM and
// AAD with several bases) by running these instructions in a 32-bit
// compatibility-mode code segment on an Intel Xeon host:
//   DAA, DAS: OF := 0.
//   AAA, AAS: SF, ZF, PF from the final AL (after AL := AL AND 0FH); OF := 0.
//   AAM:      OF, AF, CF := 0.
//   AAD:      CF, AF, OF as the 8-bit ADD AL + (AH * imm8) that forms AL.
// The input OF/SF/ZF/PF never influenced any result.
#include <Zydis/Zydis.h>

#include "runtime/interp/flags.h"
#include "runtime/interp/interp.h"
#include "runtime/interp/operands.h"

namespace vmm::interp {
namespace {

inline uint8_t get_al(const Cpu& c) { return static_cast<uint8_t>(c.s.gpr[EAX]); }
inline void set_al(Cpu& c, uint8_t v) { c.s.gpr[EAX] = (c.s.gpr[EAX] & ~0xFFu) | v; }
inline void set_ax(Cpu& c, uint16_t v) { c.s.gpr[EAX] = (c.s.gpr[EAX] & ~0xFFFFu) | v; }

// SDM "DAA", Operation.
bool daa(Cpu& c, const InstrRecord&) {
  const uint32_t f = c.s.eflags;
  const uint8_t old_al = get_al(c);
  const bool old_cf = f & flag::CF;
  uint8_t al = old_al;
  uint32_t out = 0;
  if ((al & 0x0F) > 9 || (f & flag::AF)) {
    // CF := old_CF or (carry from AL + 6); that carry needs AL >= FA, which
    // implies old_AL > 99 and so sets CF below anyway.
    al = static_cast<uint8_t>(al + 6);
    out |= flag::AF;
  }
  if (old_al > 0x99 || old_cf) {
    al = static_cast<uint8_t>(al + 0x60);
    out |= flag::CF;
  }
  set_al(c, al);
  merge_flags(c.s.eflags, out | szp_flags<uint8_t>(al), flag::kArith);  // OF := 0 (measured).
  return false;
}

// SDM "DAS", Operation.
bool das(Cpu& c, const InstrRecord&) {
  const uint32_t f = c.s.eflags;
  const uint8_t old_al = get_al(c);
  const bool old_cf = f & flag::CF;
  uint8_t al = old_al;
  uint32_t out = 0;
  if ((al & 0x0F) > 9 || (f & flag::AF)) {
    if (old_cf || al < 6) out |= flag::CF;  // CF := old_CF or (borrow from AL - 6).
    al = static_cast<uint8_t>(al - 6);
    out |= flag::AF;
  }
  if (old_al > 0x99 || old_cf) {
    al = static_cast<uint8_t>(al - 0x60);
    out |= flag::CF;
  }
  set_al(c, al);
  merge_flags(c.s.eflags, out | szp_flags<uint8_t>(al), flag::kArith);  // OF := 0 (measured).
  return false;
}

// SDM "AAA"/"AAS", Operation. The adjustment is on all of AX (AX + 106H,
// AX - 6 then AH - 1), so a carry or borrow out of AL reaches AH, as current
// SDMs and the hardware do (older SDMs wrote AL + 6 and AH + 1).
template <bool kSub>
bool aaa_aas(Cpu& c, const InstrRecord&) {
  uint16_t ax = static_cast<uint16_t>(c.s.gpr[EAX]);
  uint32_t out = 0;
  if ((ax & 0x0F) > 9 || (c.s.eflags & flag::AF)) {
    ax = static_cast<uint16_t>(kSub ? ax - 0x106 : ax + 0x106);
    out = flag::AF | flag::CF;
  }
  ax &= 0xFF0F;
  set_ax(c, ax);
  merge_flags(c.s.eflags, out | szp_flags<uint8_t>(static_cast<uint8_t>(ax)), flag::kArith);
  return false;
}

// SDM "AAM", Operation: an immediate base of 0 raises #DE before any change.
bool aam(Cpu& c, const InstrRecord& in) {
  const uint8_t base = static_cast<uint8_t>(in.ops[0].imm);
  if (base == 0) raise_exception(kDE);
  const uint8_t al = get_al(c);
  const uint8_t q = al / base, r = al % base;
  set_ax(c, static_cast<uint16_t>((q << 8) | r));
  merge_flags(c.s.eflags, szp_flags<uint8_t>(r), flag::kArith);  // OF, AF, CF := 0 (measured).
  return false;
}

// SDM "AAD", Operation: AL := (AL + AH * imm8) AND FFH; AH := 0.
bool aad(Cpu& c, const InstrRecord& in) {
  const uint8_t base = static_cast<uint8_t>(in.ops[0].imm);
  const uint8_t al = get_al(c), ah = static_cast<uint8_t>(c.s.gpr[EAX] >> 8);
  const uint8_t t = static_cast<uint8_t>(ah * base);
  const unsigned sum = unsigned{al} + t;
  const uint8_t r = static_cast<uint8_t>(sum);
  // The undefined CF, AF, OF are those of that final 8-bit addition (measured).
  uint32_t out = szp_flags<uint8_t>(r);
  if (sum > 0xFF) out |= flag::CF;
  if ((al ^ t ^ r) & 0x10) out |= flag::AF;
  if (~(al ^ t) & (al ^ r) & 0x80) out |= flag::OF;
  set_ax(c, r);
  merge_flags(c.s.eflags, out, flag::kArith);
  return false;
}

template <InterpHandler H>
InterpHandler always(const InstrRecord&) {
  return H;
}

// AAM/AAD always carry their base as an immediate (D4/D5 ib).
template <InterpHandler H>
InterpHandler with_imm(const InstrRecord& in) {
  return in.nops == 1 && in.ops[0].kind == OpKind::Imm ? H : nullptr;
}

}  // namespace

void register_bcd(SelectorTable& t) {
  t.add(ZYDIS_MNEMONIC_DAA, &always<&daa>);
  t.add(ZYDIS_MNEMONIC_DAS, &always<&das>);
  t.add(ZYDIS_MNEMONIC_AAA, &always<&aaa_aas<false>>);
  t.add(ZYDIS_MNEMONIC_AAS, &always<&aaa_aas<true>>);
  t.add(ZYDIS_MNEMONIC_AAM, &with_imm<&aam>);
  t.add(ZYDIS_MNEMONIC_AAD, &with_imm<&aad>);
}

}  // namespace vmm::interp

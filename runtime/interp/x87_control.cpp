// x87 control instructions (SDM Vol. 1, 8.3.11-8.3.13): FNINIT, FNCLEX,
// FNSTSW, FNSTCW, FLDCW, FNSTENV, FLDENV, FNSAVE, FRSTOR, FWAIT, FINCSTP,
// FDECSTP, FFREE, FNOP, and FXSAVE/FXRSTOR (Vol. 1, 10.5).
//
// The no-wait forms (FNINIT, FNCLEX, FNSTSW, FNSTCW, FNSTENV, FNSAVE) do not
// check for a pending unmasked exception, so an exception handler can read
// and clear the state; FSTSW etc. are FWAIT followed by these and decode as
// two instructions. None of the control instructions updates FIP/FOP/FDP
// (8.1.8), except FINCSTP, FDECSTP, FFREE and FNOP, which are not in that list.
#include <Zydis/Zydis.h>

#include "runtime/interp/operands.h"
#include "runtime/interp/x87_internal.h"

namespace vmm::interp {
namespace x87 {
namespace {

// FNINIT (SDM Vol. 2A FINIT/FNINIT).
bool fninit(Cpu& c, const InstrRecord&) {
  fpu::check_nm(c);
  State(c.s.fpu).init();
  return false;
}

// FNCLEX: clears PE, UE, OE, ZE, DE, IE, SF, ES and B.
bool fnclex(Cpu& c, const InstrRecord&) {
  fpu::check_nm(c);
  State f(c.s.fpu);
  f.set_fsw(static_cast<uint16_t>(f.fsw() & ~(0x00FFu | fpu::kB)));
  return false;
}

// FNSTSW AX / m16: the status word, TOP included.
bool fnstsw(Cpu& c, const InstrRecord& in) {
  fpu::check_nm(c);
  const uint16_t sw = State(c.s.fpu).fsw();
  if (in.ops[0].kind == OpKind::Mem) mem_write<uint16_t>(c, in, in.ops[0], sw);
  else reg_set<uint16_t>(c, in.ops[0].reg, sw);
  return false;
}

bool fnstcw(Cpu& c, const InstrRecord& in) {
  fpu::check_nm(c);
  mem_write<uint16_t>(c, in, in.ops[0], State(c.s.fpu).fcw());
  return false;
}

// FLDCW: a waiting instruction. Unmasking a flag that is already set makes
// the exception pending for the next waiting instruction.
bool fldcw(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  const uint16_t cw = mem_read<uint16_t>(c, in, in.ops[0]);
  f.set_fcw(static_cast<uint16_t>((cw & fpu::kFcwWritable) | fpu::kFcwFixed1));
  f.update_es();
  return false;
}

// FNSTENV/FLDENV/FNSAVE/FRSTOR: 16- or 32-bit operand-size images.
bool fnstenv(Cpu& c, const InstrRecord& in) {
  fpu::check_nm(c);
  fpu::fnstenv(c, in.ops[0].seg, c.ea(in, in.ops[0]), in.opsize == 2);
  return false;
}
bool fldenv(Cpu& c, const InstrRecord& in) {
  enter(c);
  fpu::fldenv(c, in.ops[0].seg, c.ea(in, in.ops[0]), in.opsize == 2);
  return false;
}
bool fnsave(Cpu& c, const InstrRecord& in) {
  fpu::check_nm(c);
  fpu::fnsave(c, in.ops[0].seg, c.ea(in, in.ops[0]), in.opsize == 2);
  return false;
}
bool frstor(Cpu& c, const InstrRecord& in) {
  enter(c);
  fpu::frstor(c, in.ops[0].seg, c.ea(in, in.ops[0]), in.opsize == 2);
  return false;
}

// WAIT/FWAIT: #NM only with CR0.MP and CR0.TS both set; then the pending
// exception check.
bool fwait(Cpu& c, const InstrRecord&) {
  fpu::check_nm_wait(c);
  fpu::check_pending(c);
  return false;
}

// FINCSTP/FDECSTP: TOP +/- 1 with no tag change, C1 = 0.
template <bool kInc>
bool fincdec(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  record(c, f, in, nullptr);
  if (kInc) f.inc_top();
  else f.dec_top();
  f.set_cc(fpu::kC1, 0);
  return false;
}

// FFREE ST(i): tags it empty. FFREEP (DF C0+i, undocumented but executed by
// every x87 since the 287): FFREE then pop.
template <bool kPop>
bool ffree(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  record(c, f, in, nullptr);
  // C0-C3 are undefined (SDM Vol. 2A FFREE); some hosts clear C1.
  if (!fpu::host::keeps_c1(fpu::host::C1Case::kFfree)) f.set_cc(fpu::kC1, 0);
  f.set_empty(in.nops ? in.ops[0].reg : 0);
  if (kPop) f.pop();
  return false;
}

bool fnop(Cpu& c, const InstrRecord& in) {
  State f = enter(c);
  record(c, f, in, nullptr);
  return false;
}

// FENI/FDISI (8087) and FSETPM (287): the 387 and later execute them as
// no-ops (SDM Vol. 3, "IA-32 Architecture Compatibility", x87 FPU). They
// are the no-wait encodings (DB E0, DB E1, DB E4).
bool fnop_legacy(Cpu& c, const InstrRecord&) {
  fpu::check_nm(c);
  return false;
}

// FXSAVE/FXRSTOR (SDM Vol. 2A): #UD with CR0.EM (they are SSE-state
// instructions), #NM with CR0.TS; no pending-exception check, no pointer
// update.
bool fxsave(Cpu& c, const InstrRecord& in) {
  if (c.s.cr0 & cr0::EM) raise_exception(kUD);
  if (c.s.cr0 & cr0::TS) raise_exception(kNM);
  fpu::fxsave(c, in.ops[0].seg, c.ea(in, in.ops[0]));
  return false;
}
bool fxrstor(Cpu& c, const InstrRecord& in) {
  if (c.s.cr0 & cr0::EM) raise_exception(kUD);
  if (c.s.cr0 & cr0::TS) raise_exception(kNM);
  fpu::fxrstor(c, in.ops[0].seg, c.ea(in, in.ops[0]));
  return false;
}

template <InterpHandler H>
InterpHandler always(const InstrRecord&) {
  return H;
}
template <InterpHandler H>
InterpHandler mem_only(const InstrRecord& in) {
  return (in.nops >= 1 && in.ops[0].kind == OpKind::Mem) ? H : nullptr;
}
InterpHandler sel_fnstsw(const InstrRecord& in) {
  if (in.nops < 1) return nullptr;
  if (in.ops[0].kind == OpKind::Mem || in.ops[0].kind == OpKind::Reg) return &fnstsw;
  return nullptr;
}

}  // namespace

void register_x87_control(SelectorTable& t) {
  t.add(ZYDIS_MNEMONIC_FNINIT, &always<&fninit>);
  t.add(ZYDIS_MNEMONIC_FNCLEX, &always<&fnclex>);
  t.add(ZYDIS_MNEMONIC_FNSTSW, &sel_fnstsw);
  t.add(ZYDIS_MNEMONIC_FNSTCW, &mem_only<&fnstcw>);
  t.add(ZYDIS_MNEMONIC_FLDCW, &mem_only<&fldcw>);
  t.add(ZYDIS_MNEMONIC_FNSTENV, &mem_only<&fnstenv>);
  t.add(ZYDIS_MNEMONIC_FLDENV, &mem_only<&fldenv>);
  t.add(ZYDIS_MNEMONIC_FNSAVE, &mem_only<&fnsave>);
  t.add(ZYDIS_MNEMONIC_FRSTOR, &mem_only<&frstor>);
  t.add(ZYDIS_MNEMONIC_FWAIT, &always<&fwait>);
  t.add(ZYDIS_MNEMONIC_FINCSTP, &always<&fincdec<true>>);
  t.add(ZYDIS_MNEMONIC_FDECSTP, &always<&fincdec<false>>);
  t.add(ZYDIS_MNEMONIC_FFREE, &always<&ffree<false>>);
  t.add(ZYDIS_MNEMONIC_FFREEP, &always<&ffree<true>>);
  t.add(ZYDIS_MNEMONIC_FNOP, &always<&fnop>);
  t.add(ZYDIS_MNEMONIC_FENI8087_NOP, &always<&fnop_legacy>);
  t.add(ZYDIS_MNEMONIC_FDISI8087_NOP, &always<&fnop_legacy>);
  t.add(ZYDIS_MNEMONIC_FSETPM287_NOP, &always<&fnop_legacy>);
  t.add(ZYDIS_MNEMONIC_FXSAVE, &mem_only<&fxsave>);
  t.add(ZYDIS_MNEMONIC_FXRSTOR, &mem_only<&fxrstor>);
}

}  // namespace x87
}  // namespace vmm::interp

// The mnemonic -> selector table and handler binding.
#include <Zydis/Zydis.h>

#include <array>
#include <cstdio>
#include <mutex>

#include "runtime/cpu.h"
#include "runtime/interp/interp.h"
#include "runtime/log.h"

namespace vmm::interp {
namespace {

std::array<Selector, ZYDIS_MNEMONIC_MAX_VALUE + 1>& selectors() {
  static std::array<Selector, ZYDIS_MNEMONIC_MAX_VALUE + 1> table{};
  return table;
}

const SelectorTable& table() {
  static SelectorTable t;
  static std::once_flag once;
  std::call_once(once, [] {
    register_alu(t);
    register_move(t);
    register_control(t);
    register_system(t);
    register_shift(t);
    register_muldiv(t);
    register_bcd(t);
    register_bitops(t);
    register_misc(t);
    register_string(t);
    register_stack(t);
    register_x87(t);
  });
  return t;
}

bool invalid_opcode(Cpu& c, const InstrRecord& in) {
  (void)in;
  (void)c;
  raise_exception(kUD);
}

// An instruction whose bytes run past the CS limit (iclass::kBeyondCsLimit).
bool beyond_cs_limit(Cpu&, const InstrRecord&) { raise_exception(kGP, 0); }

}  // namespace

void SelectorTable::add(uint16_t mnemonic, Selector s) { selectors()[mnemonic] = s; }

Selector SelectorTable::get(uint16_t mnemonic) const {
  return mnemonic <= ZYDIS_MNEMONIC_MAX_VALUE ? selectors()[mnemonic] : nullptr;
}

bool unimplemented(Cpu& c, const InstrRecord& in) {
  // Logged once per mnemonic (-d unimp), then the guest sees #UD.
  static std::array<bool, ZYDIS_MNEMONIC_MAX_VALUE + 1> logged{};
  if (in.mnemonic <= ZYDIS_MNEMONIC_MAX_VALUE && !logged[in.mnemonic]) {
    logged[in.mnemonic] = true;
    if (c.log) {
      c.log->printf(LogMask::kUnimp, "unimplemented instruction: %s (opcode 0x%02x) at eip=0x%08x, raising #UD\n",
                    mnemonic_name(in.mnemonic), in.opcode, c.s.eip);
    }
  }
  raise_exception(kUD);
}

void bind(InstrRecord& in) {
  if (in.cls & iclass::kBeyondCsLimit) {
    in.handler = &beyond_cs_limit;
    return;
  }
  if (in.cls & iclass::kInvalid) {
    in.handler = &invalid_opcode;
    return;
  }
  Selector s = table().get(in.mnemonic);
  InterpHandler h = s ? s(in) : nullptr;
  in.handler = h ? h : &unimplemented;
}

}  // namespace vmm::interp

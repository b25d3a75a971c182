// Where guest state lives in host registers while translated code runs
// (design decision 3). Guest EAX..EDI keep their hardware numbers in the
// host's RAX..RDI, except guest ESP, which cannot be the host stack pointer
// and lives in R12. The remaining registers are the JIT's own.
#pragma once

#include <Zydis/Zydis.h>

#include <cstdint>

#include "runtime/cpu_state.h"

namespace vmm::jit {

// Host register numbers (hardware encoding).
enum HostReg : uint8_t {
  kRax = 0, kRcx = 1, kRdx = 2, kRbx = 3, kRsp = 4, kRbp = 5, kRsi = 6, kRdi = 7,
  kR8 = 8, kR9 = 9, kR10 = 10, kR11 = 11, kR12 = 12, kR13 = 13, kR14 = 14, kR15 = 15,
};

// Fixed roles.
inline constexpr HostReg kStateReg = kR15;  // CpuState*.
inline constexpr HostReg kViewReg = kR14;   // Guest view base of the current MMU index (guest_views.h).
inline constexpr HostReg kBudgetReg = kR13; // Guest instructions left to run (CpuState::JitLink::budget).
inline constexpr HostReg kAddrReg = kR8;    // Guest linear address, then host address.
inline constexpr HostReg kTmp1 = kR9;
inline constexpr HostReg kTmp2 = kR10;
inline constexpr HostReg kFlagsReg = kR11;  // Saved flags image (LAHF/SETO layout).

// The host register holding guest GPR `g`.
constexpr HostReg host_of(uint8_t g) { return g == ESP ? kR12 : static_cast<HostReg>(g); }

// Zydis register for a guest register operand given as a CpuState::gpr byte
// offset (InstrRecord) and a size in bytes; NONE when it has no host form
// (AH..BH cannot name R12-based ESP, never happens; see needs_rex).
inline ZydisRegister host_zydis_reg(uint8_t gpr_offset, uint8_t size) {
  const uint8_t g = gpr_offset / 4;
  const bool high = gpr_offset & 1;
  const HostReg h = host_of(g);
  switch (size) {
    case 1:
      if (high) return static_cast<ZydisRegister>(int{ZYDIS_REGISTER_AH} + g);  // AH, CH, DH, BH.
      if (h >= kR8) return static_cast<ZydisRegister>(int{ZYDIS_REGISTER_R8B} + (int{h} - int{kR8}));
      // Guest AL..BL only: SPL/BPL/SIL/DIL never appear (their guest numbers are AH..BH).
      return static_cast<ZydisRegister>(int{ZYDIS_REGISTER_AL} + int{h});
    case 2:
      if (h >= kR8) return static_cast<ZydisRegister>(int{ZYDIS_REGISTER_R8W} + (int{h} - int{kR8}));
      return static_cast<ZydisRegister>(int{ZYDIS_REGISTER_AX} + int{h});
    case 4:
      if (h >= kR8) return static_cast<ZydisRegister>(int{ZYDIS_REGISTER_R8D} + (int{h} - int{kR8}));
      return static_cast<ZydisRegister>(int{ZYDIS_REGISTER_EAX} + int{h});
    default:
      return ZYDIS_REGISTER_NONE;
  }
}

inline ZydisRegister host_zydis_reg64(HostReg h) { return static_cast<ZydisRegister>(int{ZYDIS_REGISTER_RAX} + int{h}); }

}  // namespace vmm::jit

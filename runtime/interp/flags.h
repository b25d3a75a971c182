// EFLAGS helpers for the interpreter. Arithmetic flags come from the host ALU:
// the semantic runs the same instruction on the host and reads the host flags
// back with LAHF/SETO (no stack access, so no red-zone hazard), which makes
// every defined flag exact and the undefined ones those of a real CPU.
#pragma once

#include <cstdint>

#include "runtime/cpu_state.h"

namespace vmm::interp {

// Converts AH (from LAHF: SF ZF 0 AF 0 PF 1 CF) and AL (from SETO) into EFLAGS bits.
inline uint32_t lahf_seto_to_eflags(uint16_t ax) {
  return ((ax >> 8) & (flag::SF | flag::ZF | flag::AF | flag::PF | flag::CF)) | ((ax & 1u) << 11);
}

// AX image that VMM_FLAGS_IN turns into host flags: AH = EFLAGS[7:0] for SAHF,
// AL = OF (ADD 7F overflows exactly when AL is 1; SAHF then leaves OF alone).
// Semantics whose undefined flags depend on the input flags load the guest's
// flags into the host this way before running the host instruction.
inline uint16_t flags_to_ax(uint32_t f) { return static_cast<uint16_t>((f << 8) | ((f >> 11) & 1)); }

// Inline-asm fragments (string literals, so they can be pasted into asm
// templates): load host flags from AX as built by flags_to_ax, and read them
// back into AX in the LAHF/SETO layout lahf_seto_to_eflags expects.
#define VMM_FLAGS_IN "addb $0x7f, %%al\n\tsahf\n\t"
#define VMM_FLAGS_OUT "\n\tlahf\n\tseto %%al"

// Replaces the flags in `mask` with those in `host`.
inline void merge_flags(uint32_t& eflags, uint32_t host, uint32_t mask) {
  eflags = (eflags & ~mask) | (host & mask);
}

// Evaluates condition code `cc` (the low nibble of Jcc/SETcc/CMOVcc) on EFLAGS
// (SDM Vol. 1, Appendix B).
inline bool condition(uint32_t f, unsigned cc) {
  bool r;
  switch (cc >> 1) {
    case 0: r = f & flag::OF; break;
    case 1: r = f & flag::CF; break;
    case 2: r = f & flag::ZF; break;
    case 3: r = f & (flag::CF | flag::ZF); break;
    case 4: r = f & flag::SF; break;
    case 5: r = f & flag::PF; break;
    case 6: r = !(f & flag::SF) != !(f & flag::OF); break;
    default: r = (f & flag::ZF) || (!(f & flag::SF) != !(f & flag::OF)); break;
  }
  return (cc & 1) ? !r : r;
}

// Parity flag of the low byte (set when the number of one bits is even).
inline bool parity_even(uint8_t v) { return !__builtin_parity(v); }

// SF, ZF, PF of a result of width T (for semantics computed in C++).
template <typename T>
inline uint32_t szp_flags(T r) {
  uint32_t f = 0;
  if (r == 0) f |= flag::ZF;
  if (r >> (sizeof(T) * 8 - 1)) f |= flag::SF;
  if (parity_even(static_cast<uint8_t>(r))) f |= flag::PF;
  return f;
}

}  // namespace vmm::interp

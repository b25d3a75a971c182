// The arithmetic flags image of translated code: AH = LAHF (SF ZF AF PF CF),
// AL = SETO (OF), the layout interp::lahf_seto_to_eflags reads. Saving and
// restoring it borrows AH/AL, so guest RAX is parked in R10 meanwhile; no
// stack access, so nothing depends on RSP. Used by the translator and by the
// entry/exit trampolines.
#pragma once

#include <asmjit/x86.h>

namespace vmm::jit {

// Stores the host flags' image into `dst` (a 32-bit register or memory).
template <typename Dst>
inline void emit_save_flags(asmjit::x86::Assembler& a, const Dst& dst) {
  using namespace asmjit;
  a.mov(x86::r10, x86::rax);
  a.lahf();
  a.seto(x86::al);
  a.mov(dst, x86::eax);
  a.mov(x86::rax, x86::r10);
}

// Loads the host flags from an image in `src` (ADD 7F overflows exactly when
// AL is 1; SAHF then sets the other five and leaves OF alone).
template <typename Src>
inline void emit_restore_flags(asmjit::x86::Assembler& a, const Src& src) {
  using namespace asmjit;
  a.mov(x86::r10, x86::rax);
  a.mov(x86::eax, src);
  a.add(x86::al, 0x7F);
  a.sahf();
  a.mov(x86::rax, x86::r10);
}

}  // namespace vmm::jit

// The interpreter: one handler per instruction form, chosen at decode time
// (interp::bind) and stored in the InstrRecord, so executing a cached block is
// a loop of indirect calls with no re-decode.
#pragma once

#include <cstdint>

#include "frontend/instr.h"

namespace vmm {
class Cpu;
}

namespace vmm::interp {

// Picks a handler for one decoded form, or returns nullptr when this form is
// not one the selector implements.
using Selector = InterpHandler (*)(const InstrRecord& in);

// Sets in.handler. Forms no group implements get the #UD handler, which logs
// the mnemonic once (-d unimp) and raises #UD.
void bind(InstrRecord& in);

// The mnemonic -> selector table, filled once by the groups' register functions.
class SelectorTable {
 public:
  void add(uint16_t mnemonic, Selector s);
  Selector get(uint16_t mnemonic) const;
};

// Each instruction group registers its mnemonics (one function per file).
void register_alu(SelectorTable& t);       // alu.cpp: ADD..CMP, TEST, INC, DEC, NEG, NOT.
void register_move(SelectorTable& t);      // move.cpp: MOV, MOVZX, MOVSX, LEA, XCHG, PUSH, POP.
void register_control(SelectorTable& t);   // control.cpp: JMP, Jcc, CALL, RET, LOOP*, JCXZ.
void register_system(SelectorTable& t);    // system.cpp: IN, OUT, HLT, CLI, STI, CPUID, RDTSC.
void register_shift(SelectorTable& t);     // shift.cpp: SHL..RCR, SHLD, SHRD.
void register_muldiv(SelectorTable& t);    // muldiv.cpp: MUL, IMUL, DIV, IDIV.
void register_bcd(SelectorTable& t);       // bcd.cpp: DAA, DAS, AAA, AAS, AAM, AAD.
void register_bitops(SelectorTable& t);    // bitops.cpp: BT*, BSF, BSR, BSWAP, SETcc, CMOVcc.
void register_misc(SelectorTable& t);      // misc.cpp: CBW.., XADD, CMPXCHG*, flag ops, NOP, ...
void register_string(SelectorTable& t);    // string.cpp: MOVS..SCAS with REP prefixes.
void register_stack(SelectorTable& t);     // stack.cpp: PUSHA/POPA, ENTER/LEAVE, PUSHF/POPF.
void register_x87(SelectorTable& t);       // x87*.cpp: the x87 FPU, FXSAVE/FXRSTOR.

// The #UD handler for unimplemented forms (logs once per mnemonic).
bool unimplemented(Cpu& cpu, const InstrRecord& in);

}  // namespace vmm::interp

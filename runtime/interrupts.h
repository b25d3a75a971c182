// Interrupt and exception delivery (SDM Vol. 3A, chapter 6), IRET, and the
// double-fault rules. Emulation routines shared by both engines.
#pragma once

#include <cstdint>

#include "runtime/exceptions.h"

namespace vmm {

class Cpu;

// What raised the event; decides the privilege check on the gate (software
// INT n/INT3/INTO only) and the EXT bit of error codes raised while
// delivering it (SDM Vol. 3A, 6.13).
enum class EventSource : uint8_t {
  kException,  // A fault or trap detected by the processor.
  kExternal,   // A hardware interrupt (INTR).
  kSoftware,   // INT n, INT3, INTO: the gate's DPL must be >= CPL.
  kIcebp,      // INT1 (F1): no DPL check.
};

// Delivers `vector` through the IDT (protected mode) or the IVT (real mode).
// The return address pushed is cpu.s.eip as the caller left it (the faulting
// instruction for faults, the next one for traps and INT n). Raises guest
// exceptions when the delivery itself faults; the CPU state is then as it
// was before the delivery began.
void deliver_interrupt(Cpu& cpu, uint8_t vector, EventSource source, bool has_error = false, uint32_t error = 0);

// Delivers an exception raised by an instruction, applying the double-fault
// rules (SDM Vol. 3A, Table 6-5) when the delivery faults again. A fault
// while delivering #DF is a triple fault: the CPU stops with kTripleFault.
void deliver_exception(Cpu& cpu, const GuestException& e);

// IRET/IRETD (SDM Vol. 2A, IRET): same-privilege and outer-privilege
// returns, and the nested-task return through the TSS back link;
// `next_eip` is the address after the IRET, where a task left by a nested-task
// return resumes when it is re-entered.
void iret(Cpu& cpu, unsigned opsize, uint32_t next_eip);

// INT n / INT3 / INTO / INT1 executed by the guest: `next_eip` is the
// address after the instruction.
void software_interrupt(Cpu& cpu, uint8_t vector, EventSource source, uint32_t next_eip);

}  // namespace vmm

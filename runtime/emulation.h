// Emulation routines for privileged and sensitive operations. Each is the one
// implementation of its operation: the interpreter's handlers call it, and the
// JIT emits a call to it with the guest state synced. They raise guest
// exceptions by throwing GuestException.
#pragma once

#include <cstdint>

#include "runtime/cpu_state.h"

namespace vmm {

class Cpu;

// #GP(0) unless CPL = 0 (SDM Vol. 3A, 5.9 "Privileged instructions").
void require_cpl0(Cpu& cpu);

// IN/OUT with the I/O permission check: allowed when CPL <= IOPL, otherwise
// only when the TSS I/O bitmap clears every bit of the port range
// (SDM Vol. 1, 19.5).
void check_io_permission(Cpu& cpu, uint16_t port, unsigned size);
uint32_t io_in(Cpu& cpu, uint16_t port, unsigned size);
void io_out(Cpu& cpu, uint16_t port, unsigned size, uint32_t value);

// HLT: privileged; stops the machine when nothing could wake it.
void hlt(Cpu& cpu);

// CLI/STI: IOPL-sensitive (SDM Vol. 2A, CLI; protected mode without VME/PVI).
void cli(Cpu& cpu);
void sti(Cpu& cpu);

// CPUID: a family-6 CPU reporting only what is implemented.
void cpuid(Cpu& cpu);

// RDTSC: the time-stamp counter from the virtual clock; #GP(0) at CPL > 0 with CR4.TSD.
void rdtsc(Cpu& cpu);

// MOV to/from CRn and DRn (privileged). Writes flush what the change affects.
void mov_to_cr(Cpu& cpu, unsigned n, uint32_t value);
uint32_t mov_from_cr(Cpu& cpu, unsigned n);
void mov_to_dr(Cpu& cpu, unsigned n, uint32_t value);
uint32_t mov_from_dr(Cpu& cpu, unsigned n);

// LGDT/LIDT from a 6-byte pseudo-descriptor at linear `lin` (opsize 2 keeps 24 base bits).
void lgdt(Cpu& cpu, uint32_t lin, unsigned opsize);
void lidt(Cpu& cpu, uint32_t lin, unsigned opsize);

// INVLPG (privileged): drops the TLB entry of one page.
void invlpg(Cpu& cpu, uint32_t lin);

// The time-stamp counter value now.
uint64_t read_tsc(const Cpu& cpu);

}  // namespace vmm

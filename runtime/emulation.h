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

// HLT: privileged; the CPU waits for an interrupt (Cpu::run returns kHalted).
void hlt(Cpu& cpu);

// CLI/STI: IOPL-sensitive (SDM Vol. 2A, CLI; protected mode without VME/PVI).
// STI that sets IF inhibits interrupts until `next_eip` has executed.
void cli(Cpu& cpu);
void sti(Cpu& cpu, uint32_t next_eip);

// CPUID: a family-6 CPU reporting only what is implemented.
void cpuid(Cpu& cpu);

// RDTSC: the time-stamp counter from the virtual clock; #GP(0) at CPL > 0 with CR4.TSD.
void rdtsc(Cpu& cpu);

// RDPMC: performance-monitoring counter ECX (0 or 1, reading 0) into
// EDX:EAX; #GP(0) at CPL > 0 with CR4.PCE clear, and for any other ECX.
void rdpmc(Cpu& cpu);

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

namespace vmm {

// --- Descriptor-table instructions (SDM Vol. 2A/2B; runtime/descriptor_ops.cpp). ---
// LTR/LLDT (privileged): load TR from an available TSS descriptor (marking it
// busy) / LDTR from an LDT descriptor; null LDT selector allowed.
void ltr(Cpu& cpu, uint16_t selector);
void lldt(Cpu& cpu, uint16_t selector);
// SGDT/SIDT store 6 bytes at `lin` (not privileged: the classic sensitive
// instructions). SLDT/STR/SMSW return the value to store.
void sgdt(Cpu& cpu, uint32_t lin);
void sidt(Cpu& cpu, uint32_t lin);
// LMSW (privileged): loads CR0 bits 0-3; cannot clear PE.
void lmsw(Cpu& cpu, uint16_t value);
// CLTS (privileged): clears CR0.TS.
void clts(Cpu& cpu);
// LAR/LSL/VERR/VERW: ZF=1 and the result when the descriptor is visible at
// the current CPL and RPL, else ZF=0 (no fault for bad selectors).
bool lar(Cpu& cpu, uint16_t selector, uint32_t& access);
bool lsl(Cpu& cpu, uint16_t selector, uint32_t& limit);
bool verr(Cpu& cpu, uint16_t selector);
bool verw(Cpu& cpu, uint16_t selector);
// ARPL (adjust RPL): returns true (ZF=1) when dest's RPL was raised.
bool arpl(uint16_t& dest, uint16_t src);

// --- MSRs and fast system calls (runtime/msr.cpp). ---
// RDMSR/WRMSR (privileged): TSC, SYSENTER_CS/ESP/EIP; #GP(0) for any other MSR.
void rdmsr(Cpu& cpu);
void wrmsr(Cpu& cpu);
// SYSENTER/SYSEXIT (SDM Vol. 2B): flat ring-0/ring-3 segments from SYSENTER_CS.
void sysenter(Cpu& cpu);
void sysexit(Cpu& cpu);

// --- Far transfers (runtime/far_transfer.cpp). ---
// JMP/CALL far to a code segment, a call gate, a TSS or a task gate
// (SDM Vol. 3A 5.8 and 7.3); `next_eip` is the return address of CALL.
void far_jmp(Cpu& cpu, uint16_t selector, uint32_t offset, unsigned opsize, uint32_t next_eip);
void far_call(Cpu& cpu, uint16_t selector, uint32_t offset, unsigned opsize, uint32_t next_eip);
// RET far [imm16], same or outer privilege level.
void far_ret(Cpu& cpu, unsigned opsize, uint16_t pop_bytes);

}  // namespace vmm

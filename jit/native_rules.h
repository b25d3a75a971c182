// Which guest instructions the translator runs natively (re-encoded for
// the host), and what they do to the arithmetic flags: the facts the
// translator's flag handling and memory probes rest on.
#pragma once

#include <cstdint>

#include "frontend/instr.h"

namespace vmm::jit {

// Unprivileged, no effect on EIP, ESP, DF or system state, no fault other
// than a memory access (which the probe handles) or DIV/IDIV's #DE (the
// host trap): the register/memory forms of these run natively.
bool native_mnemonic(uint16_t m);
// Native instructions that raise a host trap exactly where the guest's
// raises an exception: DIV and IDIV (#DE).
bool may_trap(uint16_t m);
// How an x87 instruction runs in translated code when the block mode has
// blockmode::kFpuNative (jit/host_fpu.h):
//  kRecorded: natively, then FOP, FIP/FCS (and FDP/FDS for a memory operand)
//             are stored as the interpreter records them (a non-control
//             instruction, SDM Vol. 1, 8.1.8);
//  kControl:  natively, nothing recorded (FNSTSW, FNSTCW, FNCLEX, FWAIT);
//  kFldcw:    FLDCW: natively unless the new control word unmasks an
//             exception, which leaves the mode (then its interpreter handler);
//  kHelper:   its interpreter handler (FNINIT, the environment and state
//             images, and anything not an x87 instruction).
enum class X87Native : uint8_t { kHelper, kRecorded, kControl, kFldcw };
X87Native x87_native(uint16_t m);
// Arithmetic flags the instruction certainly overwrites (a stale saved image
// of the flags must not be reused after it).
uint32_t flags_killed(const InstrRecord& in);
// The instruction's memory operand, or null.
const Operand* memory_operand(const InstrRecord& in);
// Whether that operand is written (for the probe's TLB tag).
bool memory_written(const InstrRecord& in, const Operand* mem);

}  // namespace vmm::jit

// Operands generated code uses to reach the guest state: CpuState fields as
// offsets from R15 (which holds the CpuState* in translated code and the
// trampolines), and the host registers holding guest GPRs (jit/host_regs.h).
// One definition for the translator and the engine's trampolines.
#pragma once

#include <asmjit/x86.h>

#include <cstddef>
#include <cstdint>

#include "jit/host_regs.h"
#include "runtime/cpu_state.h"

namespace vmm::jit {

constexpr int32_t state_off(size_t off) { return static_cast<int32_t>(off); }
constexpr int32_t jit_off(size_t field) { return state_off(offsetof(CpuState, jit) + field); }

inline constexpr int32_t kOffGpr = state_off(offsetof(CpuState, gpr));
inline constexpr int32_t kOffEip = state_off(offsetof(CpuState, eip));
inline constexpr int32_t kOffEflags = state_off(offsetof(CpuState, eflags));
// SegmentCache::base of segment 0; segment i is sizeof(SegmentCache) * i further.
inline constexpr int32_t kOffSegBase = state_off(offsetof(CpuState, seg) + offsetof(SegmentCache, base));
// SegmentCache::selector of segment 0 (the same stride).
inline constexpr int32_t kOffSegSelector = state_off(offsetof(CpuState, seg) + offsetof(SegmentCache, selector));
// The FXSAVE image of the guest's FPU state (runtime/fpu.h has its field offsets).
inline constexpr int32_t kOffFpu = state_off(offsetof(CpuState, fpu));
inline constexpr int32_t kOffMemBase = jit_off(offsetof(CpuState::JitLink, mem_base));
inline constexpr int32_t kOffBudget = jit_off(offsetof(CpuState::JitLink, budget));
inline constexpr int32_t kOffFlagsImage = jit_off(offsetof(CpuState::JitLink, flags_image));
inline constexpr int32_t kOffStatus = jit_off(offsetof(CpuState::JitLink, status));
inline constexpr int32_t kOffChainFrom = jit_off(offsetof(CpuState::JitLink, chain_from));
inline constexpr int32_t kOffIndirectLookups = jit_off(offsetof(CpuState::JitLink, indirect_lookups));
inline constexpr int32_t kOffIndirectMisses = jit_off(offsetof(CpuState::JitLink, indirect_misses));
inline constexpr int32_t kOffScratch = jit_off(offsetof(CpuState::JitLink, scratch));
inline constexpr int32_t kOffFpuInHost = jit_off(offsetof(CpuState::JitLink, fpu_in_host));
inline constexpr int32_t kOffFpuEnter = jit_off(offsetof(CpuState::JitLink, fpu_enter));
inline constexpr int32_t kOffFpuLoads = jit_off(offsetof(CpuState::JitLink, fpu_loads));
inline constexpr int32_t kOffSlowSite = jit_off(offsetof(CpuState::JitLink, slow_site));

inline asmjit::x86::Gpd guest32(uint8_t g) { return asmjit::x86::gpd(host_of(g)); }
inline asmjit::x86::Gpq guest64(uint8_t g) { return asmjit::x86::gpq(host_of(g)); }
// A 32-bit CpuState field.
inline asmjit::x86::Mem state(int32_t off) { return asmjit::x86::dword_ptr(asmjit::x86::r15, off); }

}  // namespace vmm::jit

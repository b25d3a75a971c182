// A decoded basic block: the instruction records from one guest start address
// up to a control transfer, a privileged/sensitive instruction, the end of a
// page, or a length limit.
#pragma once

#include <cstdint>
#include <vector>

#include "frontend/instr.h"

namespace vmm {

struct Block {
  uint32_t virt_pc = 0;       // EIP at which it was built (the jump-cache key).
  uint32_t cs_base = 0;       // CS base it was built under: its code is at linear cs_base + EIP.
  // CS limit it was built under: it holds no byte beyond it, and it is used
  // under that limit only (BlockBuilder::build).
  uint32_t cs_limit = 0xFFFFFFFFu;
  uint32_t phys_pc = 0;       // Guest physical address of the first byte.
  uint32_t phys_page2 = ~0u;  // Second physical page when the code crosses one, else ~0.
  uint32_t mode = 0;          // Mode bits the decode depends on (see block_mode()).
  uint32_t byte_length = 0;   // Guest bytes covered.
  bool valid = true;          // Cleared when a write to its page invalidates it.
  // Never translated: on a page whose code keeps being rewritten, or decoded
  // under a CS limit below 4 GiB (Cpu::build_block).
  bool interp_only = false;
  // Its code's pages were reached through global TLB entries when it was
  // last cached: its jump-cache and jump-table entries stay across CR3
  // loads, as the translations do (SDM Vol. 3A, 4.10.4.1).
  bool global_code = false;
  uint32_t executions = 0;    // Entries by the interpreter while not translated (Cpu::enable_jit's threshold).
  std::vector<InstrRecord> instrs;
  // Host code translated from this block by the JIT (null until translated;
  // dropped with the block or when the code buffer is flushed).
  void* host_code = nullptr;
  uint32_t host_size = 0;
  // Where each instruction's code starts in host_code (the main line; the
  // out-of-line slow paths follow from out_of_line_offset on): a host fault
  // that is a VMM bug is reported with the guest instruction it hit.
  std::vector<uint32_t> host_offsets;
  uint32_t out_of_line_offset = 0;
  uint32_t jit_generation = 0;  // Code-buffer generation host_code belongs to.
  // --profile (runtime/profiler.h): entries of its translation (counted by
  // the translation itself) and interpreted entries.
  uint64_t profile_jit_entries = 0;
  uint64_t profile_interp_entries = 0;
};

// Mode bits (Block::mode) that change how a block is decoded or translated.
namespace blockmode {
inline constexpr uint32_t kCode32 = 1u << 0;   // CS.D.
inline constexpr uint32_t kCplShift = 1;       // Bits 1-2: CPL.
inline constexpr uint32_t kStack32 = 1u << 3;  // SS.B.
// Bits 4-9: segment i is flat (SegmentCache::flat); for FS and GS, which
// Linux uses with a base for per-CPU data and TLS, unbounded (base anywhere,
// translated code adds it: SegmentCache::unbounded).
inline constexpr uint32_t kFlatShift = 4;
// CS base 0: EIP is the linear address. Only such blocks go into the JIT's
// inline-lookup tables, which are keyed by EIP alone.
inline constexpr uint32_t kCsBaseZero = 1u << 10;
// x87 instructions may run natively (jit/host_fpu.h): CR0.EM and CR0.TS
// clear (no #NM, SDM Vol. 3A 2.5 Table 2-2) and every x87 exception masked
// in the guest's FCW (none can be pending: FSW.ES is clear). A native x87
// instruction then has the same effect as its interpreter handler, which
// runs the same instruction on the host FPU.
inline constexpr uint32_t kFpuNative = 1u << 11;
inline constexpr unsigned kBits = 12;  // Mode values are below 1 << kBits.
}  // namespace blockmode

// Limit on instructions per block: long enough for loops, short enough that
// interrupts are taken promptly.
inline constexpr unsigned kMaxBlockInstrs = 64;

// Target of a Jcc (iclass::kJcc) at `eip`, wrapped to the operand size.
inline uint32_t jcc_target(const InstrRecord& in, uint32_t eip) {
  const uint32_t t = eip + in.length + in.ops[0].imm;
  return in.opsize == 2 ? (t & 0xFFFF) : t;
}

// A block goes on past a Jcc (superblock): the interpreter leaves the block
// when the branch is taken; the JIT branches inside its translation when the
// target is a later instruction of the block, and otherwise takes a side
// exit to the target, so if/else inside a loop and early loop exits stay in
// one block.

}  // namespace vmm

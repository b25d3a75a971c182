// Knobs of block building and of the JIT's block linking, for the
// translation-cache studies of bench/ (each is a command-line option). The
// defaults are what vmm runs with; every setting gives the same guest
// results, only the speed changes.
#pragma once

#include "frontend/block.h"

namespace vmm {

struct EngineTuning {
  // Longest block, in guest instructions (--max-block-insns; 1 is QEMU's
  // -one-insn-per-tb).
  unsigned max_block_instrs = kMaxBlockInstrs;
  // Blocks go on past a Jcc (frontend/block.h); off: a Jcc ends its block
  // (--superblocks).
  bool superblocks = true;
  // The run loop probes the jump cache (virtual EIP -> block) before the
  // block map; off: every lookup translates EIP and probes the map
  // (--jump-cache).
  bool jump_cache = true;
  // JIT: a direct exit is patched to jump into the next block's translation
  // (--jit-chain; QEMU's -d nochain turns it off, inline lookups with it).
  bool chaining = true;
  // JIT: an indirect branch looks its target up in an inline table and
  // enters its translation; off: it goes back to the run loop (--jit-lookup).
  bool inline_lookup = true;
  // JIT: x87 instructions run natively on the guest's registers in the host
  // FPU where the block mode allows it (blockmode::kFpuNative); off: each
  // calls its interpreter handler (--jit-x87).
  bool x87_native = true;
};

}  // namespace vmm

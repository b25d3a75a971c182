// Direct block chaining (design decision 8): every exit of a block to a
// constant guest EIP on the same page is a `jmp rel32` or `jcc rel32` that
// first points at the exit's stub (which returns to the dispatcher); once the
// target block is translated on the same physical page, the jump is patched
// to enter it directly, and unpatched when the target is invalidated.
#pragma once

#include <cstdint>

#include "jit/code_buffer.h"

namespace vmm::jit {

struct ChainSite {
  uint8_t* jump_end = nullptr;  // End of the jmp/jcc rel32 in the source block (rel32 is the last 4 bytes).
  uint8_t* stub = nullptr;    // Its unchained destination.
  uint32_t target_eip = 0;    // Guest EIP the exit goes to.
  uint32_t from_page = 0;     // Physical page of the source block's first byte.
  uint32_t from_mode = 0;     // Source block's mode bits.
  uint8_t* target = nullptr;  // Host code it is chained to, or null.
};

// Points the jump ending at `jump_end` at `dest` (executable addresses),
// writing through the code buffer's writable alias.
inline void patch_jump(CodeBuffer& buffer, uint8_t* jump_end, const uint8_t* dest) {
  const int32_t rel = static_cast<int32_t>(dest - jump_end);
  buffer.write(jump_end - 4, &rel, 4);
}

}  // namespace vmm::jit

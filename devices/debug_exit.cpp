#include "devices/debug_exit.h"

#include <utility>

namespace vmm {

DebugExit::DebugExit(ExitCallback on_exit) : on_exit_(std::move(on_exit)) {}

uint32_t DebugExit::read(uint32_t, unsigned) { return 0; }

void DebugExit::write(uint32_t, unsigned, uint32_t value) {
  // QEMU's debug_exit_write ignores the offset and uses the value as written
  // (zero-extended to the access size, which the Bus has already masked).
  if (on_exit_) on_exit_(status_for(value));
}

}  // namespace vmm

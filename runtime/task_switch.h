// Hardware task switching (SDM Vol. 3A, 7.3): JMP/CALL to a TSS or task
// gate, interrupts through task gates (Linux i386 handles #DF this way), and
// IRET with NT=1.
#pragma once

#include <cstdint>

namespace vmm {

class Cpu;

enum class TaskSwitchReason : uint8_t { kJmp, kCall, kInterrupt, kIret };

// Switches to the task whose TSS descriptor `selector` names (the caller has
// already resolved a task gate to its TSS selector). Saves the current state
// into the current TSS, loads the new one, and for kInterrupt pushes
// `error` on the new task's stack when `has_error`.
void task_switch(Cpu& cpu, uint16_t selector, TaskSwitchReason reason, bool has_error, uint32_t error);

}  // namespace vmm

// Hardware task switching (SDM Vol. 3A, 7.3): JMP/CALL to a TSS or task
// gate, interrupts through task gates (Linux i386 handles #DF this way), and
// IRET with NT=1.
#pragma once

#include <cstdint>

#include "runtime/exceptions.h"

namespace vmm {

class Cpu;

enum class TaskSwitchReason : uint8_t { kJmp, kCall, kInterrupt, kIret };

// Switches to the task whose TSS descriptor `selector` names (the caller has
// already resolved a task gate to its TSS selector). Saves the current state
// into the current TSS, loads the new one, and for kInterrupt pushes
// `error` on the new task's stack when `has_error`.
//
// `return_eip` is the EIP saved in the outgoing task's TSS, where that task
// resumes when it is re-entered (SDM Vol. 3A, 7.3 step 8 "saves the state of
// the current task"): the instruction after a JMP, CALL or IRET (SDM Vol. 2A,
// IRET "TASK-RETURN": a task re-entered later executes the code after the
// IRET), after INT n and trap-class exceptions, the faulting instruction for
// faults, the interrupted instruction for external interrupts. cpu.s.eip is
// left alone until the switch commits, so a fault before that is reported at
// the instruction that caused the switch.
//
// A fault after the commit point belongs to the new task (SDM Vol. 3A, 7.3
// step 12 and Table 7-1): it is thrown as FaultInNewTask, and callers that
// roll their own state back on a fault must let it pass untouched.
void task_switch(Cpu& cpu, uint16_t selector, TaskSwitchReason reason, uint32_t return_eip, bool has_error,
                 uint32_t error);

struct FaultInNewTask : GuestException {};

}  // namespace vmm

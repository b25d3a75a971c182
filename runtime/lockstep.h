// Lockstep differential mode (--lockstep N): the JIT machine and an
// interpreter machine run the same guest side by side with deterministic
// time, and their complete CPU state (and periodically RAM) is compared every
// N instructions. A mismatch prints the instructions around it and both states.
#pragma once

#include <cstdint>

namespace vmm {

class Machine;

// Returns the guest's exit status, or kExitLockstepMismatch.
int run_lockstep(Machine& jit, Machine& reference, uint64_t interval);

}  // namespace vmm

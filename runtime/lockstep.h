// Lockstep differential mode (--lockstep N): the JIT machine and an
// interpreter machine run the same guest side by side with deterministic
// time, and their complete CPU state (and periodically RAM) is compared every
// N instructions. A mismatch prints the instructions around it and both states.
//
// The comparison works on two LockstepSides: whole machines (the command
// line) or bare CPUs over their own RAM (the system-code fuzzing harness).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace vmm {

class Cpu;
class GuestRam;
class Machine;
struct CpuState;

// One engine's half of a lockstep run.
class LockstepSide {
 public:
  virtual ~LockstepSide() = default;
  // Runs at most `max_instructions` (see Machine::run_slice); the exit
  // status once the run is over.
  virtual std::optional<int> run_slice(uint64_t max_instructions, bool to_deadline) = 0;
  virtual Cpu& cpu() = 0;
  virtual GuestRam& ram() = 0;
};

struct LockstepResult {
  bool agree = true;
  std::optional<int> status;   // The guest's exit status when the run ended.
  uint64_t instructions = 0;   // Compared instructions.
};

// Runs both sides until the guest's run ends, the engines disagree (a report
// on stderr) or `max_instructions` have been compared (each exception
// delivered counting as one, so that an exception storm ends too).
LockstepResult run_lockstep(LockstepSide& jit, LockstepSide& reference, uint64_t interval,
                            uint64_t max_instructions = ~uint64_t{0});

// The command line's form: returns the guest's exit status, or kExitLockstepMismatch.
int run_lockstep(Machine& jit, Machine& reference, uint64_t interval);

// The architectural state both engines must agree on, and its description.
bool same_architectural_state(const CpuState& a, const CpuState& b);
std::string describe_state(const CpuState& s);

}  // namespace vmm

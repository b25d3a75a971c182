// The two engines under comparison, behind one small interface: load a
// sequence, run it to its end (or to a guest exception), or advance it
// instruction by instruction for locating the first divergence.
#pragma once

#include <memory>

#include "tests/diff/common.h"

namespace vmm::diff {

class Engine {
 public:
  virtual ~Engine() = default;
  virtual const char* name() const = 0;
  virtual void load(const Sequence& seq) = 0;
  // Runs until EIP reaches seq.end_eip or a guest exception stops the CPU.
  virtual void run_to_end() = 0;
  // Executes one instruction (a whole REP string instruction counts as one).
  // `until` is where the other engine got to; engines that cannot count
  // instructions exactly may use it as a stop address.
  virtual void step(uint32_t until) = 0;
  // Runs from the current state until EIP reaches `addr` (or the end, or an
  // exception). Unicorn translates the instructions before `addr` into the
  // same blocks as in a full run, which single-stepping would not.
  virtual void run_until(uint32_t addr) = 0;
  virtual State state(bool with_memory = true) = 0;
  // True once the run has ended (end reached, exception or engine failure).
  virtual bool done() const = 0;
};

std::unique_ptr<Engine> make_vmm_engine();
std::unique_ptr<Engine> make_unicorn_engine();

}  // namespace vmm::diff

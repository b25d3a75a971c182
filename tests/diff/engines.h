// The two engines under comparison, behind one small interface: load a
// sequence, run it to its end (or to a guest exception), or advance it
// instruction by instruction for locating the first divergence. The
// default mode compares vmm's interpreter with Unicorn, --jit vmm's JIT
// with its interpreter.
#pragma once

#include <cstddef>
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

// How vmm runs a sequence. The JIT's ways differ in which of its paths they
// exercise: chained blocks with an unlimited budget, budget exits and blocks
// split by a small Cpu::run budget, one unchained block per run, flushes.
struct VmmConfig {
  bool jit = false;
  uint64_t slice = 0;          // Budget of each Cpu::run call; 0: unlimited.
  bool flush_slices = false;   // All translations dropped after each slice, as when the code buffer is full.
  bool single_block = false;   // Cpu::set_single_block.
  // The sequence first runs runs-1 times in the same Cpu, which keeps its
  // translations: a direct jump is chained when it is taken the second
  // time (the first reaches a fresh translation), so only a third run takes
  // chained jumps in code without loops.
  unsigned runs = 1;
  bool host_mmu = true;        // Guest memory through the guest views, else inline TLB probes.
};

// Statistics of the JIT runs since the engine was made (--jit summary).
struct JitTotals {
  uint64_t translations = 0, flushes = 0, chains = 0, budget_exits = 0, exceptions = 0;
};

class VmmEngine : public Engine {
 public:
  // Takes effect at the next load().
  virtual void configure(const VmmConfig& config) = 0;
  // Runs at least `n` more instructions (or to the end, or an exception):
  // exactly n for the interpreter; the JIT may run a few more, as its budget
  // is tested on backward exits only. state().executed says how many.
  virtual void run_instructions(uint64_t n) = 0;
  virtual JitTotals jit_totals() const = 0;
};

std::unique_ptr<VmmEngine> make_vmm_engine(const VmmConfig& config = {});
std::unique_ptr<Engine> make_unicorn_engine();

}  // namespace vmm::diff

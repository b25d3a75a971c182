// The hot-block profile (--profile): which guest blocks the time goes to.
//
// A profiling timer (ITIMER_PROF, process CPU time) interrupts the run
// about 1,000 times a second; the signal handler only records the host PC
// and the guest block the interpreter is running, if any, in a fixed array
// (async-signal-safe: no allocation, no lock). The samples are attributed
// in the run loop's context (drain()): a PC inside translated code to the
// block whose translation holds it, before any translation can go away (a
// block retired, the code buffer flushed); a PC elsewhere to the block the
// interpreter was running, or to "outside guest blocks" (the run loop,
// helpers called from translated code, devices, idle).
//
// Per block (keyed by physical address, EIP and mode, so a block decoded
// again after self-modifying code or a flush adds to the same line):
// samples, executions (entries of its translation, counted by two
// flag-preserving instructions at its entry that only a profiling run
// emits, and interpreted entries), guest instructions and host bytes.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace vmm {

struct Block;
class Cpu;

class Profiler {
 public:
  // Starts sampling at `hz` samples per second of process CPU time. One
  // profiler at a time (the signal handler is process-wide).
  explicit Profiler(unsigned hz = 1000);
  ~Profiler();
  Profiler(const Profiler&) = delete;
  Profiler& operator=(const Profiler&) = delete;

  // The interpreter starts running `b` (nullptr: no longer in a block).
  void interpreting(const Block* b);
  // A translation was made, is about to go away, or all of them are.
  void translated(const Block& b);
  // Translated code called the interpreter for instruction `in` (a helper),
  // or took a memory access's slow path (a TLB refill, a host fault).
  void helper_call(const void* in) { ++line_of_instr(in).helper_calls; }
  void slow_path(const void* in) { ++line_of_instr(in).slow_paths; }
  void retiring(const Block& b, bool translation_live);
  void flushing();
  // The JIT's code buffer: samples in it outside any block's translation are
  // its shared trampolines (entry, exits, the miss path of inline lookups,
  // slow-path calls).
  void set_code_buffer(uintptr_t begin, uintptr_t end) {
    buffer_begin_ = begin;
    buffer_end_ = end;
  }
  // Attributes the samples taken so far.
  void drain();
  // Stops sampling and folds in every block still alive.
  void finish(Cpu& cpu);

  // The report: the `top` blocks by samples, with the guest and host code
  // of the first few.
  void write_text(std::FILE* f, Cpu& cpu, unsigned top = 20) const;
  void write_json(std::FILE* f) const;

  uint64_t samples() const { return total_samples_; }
  // Of the blocks starting at guest `eip` (every physical address and mode):
  // entries (translated and interpreted) and samples, after finish().
  uint64_t executions_at(uint32_t eip) const {
    const Line l = total_at(eip);
    return l.jit_entries + l.interp_entries;
  }
  uint64_t samples_at(uint32_t eip) const {
    const Line l = total_at(eip);
    return l.jit_samples + l.interp_samples;
  }
  uint64_t helper_calls_at(uint32_t eip) const { return total_at(eip).helper_calls; }

 private:
  struct Key {
    uint32_t phys, eip, mode;
    bool operator==(const Key& o) const { return phys == o.phys && eip == o.eip && mode == o.mode; }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      return (uint64_t{k.phys} * 0x9E3779B97F4A7C15ull) ^ (uint64_t{k.eip} << 17) ^ k.mode;
    }
  };
  struct Line {
    uint64_t jit_samples = 0, interp_samples = 0;
    uint64_t jit_entries = 0, interp_entries = 0;
    uint64_t helper_calls = 0, slow_paths = 0;
    uint32_t guest_instrs = 0, guest_bytes = 0, host_bytes = 0, translations = 0;
  };
  struct Range {
    uintptr_t end;
    Key key;
  };
  static Key key_of(const Block& b);
  Line total_at(uint32_t eip) const;  // The counts of every line at `eip`, summed.
  void fold(const Block& b);
  std::vector<std::pair<Key, Line>> ranked() const;

  // The line of the translated block holding instruction record `in`
  // (unattributed_, never reported, if none does).
  Line& line_of_instr(const void* in);
  std::map<uintptr_t, Range> translations_;  // Host start -> end and block, for the live translations.
  std::map<uintptr_t, Range> instr_ranges_;  // Block::instrs of translated blocks -> block.
  // The last range line_of_instr found, and its line: a block's helper calls
  // come one after another (an x87 loop makes 20 per block entry), and the
  // map lookup would otherwise be a large share of a helper call's cost.
  // Forgotten when instr_ranges_ changes (lines_ never drops a line).
  uintptr_t last_begin_ = 0, last_end_ = 0;
  Line* last_line_ = nullptr;
  Line unattributed_;
  std::unordered_map<Key, Line, KeyHash> lines_;
  // Samples outside guest blocks by the host function holding the PC
  // (dladdr: vmm is linked with its symbols exported), by its start address.
  std::unordered_map<uintptr_t, uint64_t> host_functions_;
  uint64_t total_samples_ = 0, outside_samples_ = 0, trampoline_samples_ = 0;
  uintptr_t buffer_begin_ = 0, buffer_end_ = 0;
  unsigned hz_;
};

}  // namespace vmm

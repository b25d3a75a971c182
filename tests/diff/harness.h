// What the two modes of vmm_diff share (interpreter vs Unicorn in main.cpp,
// JIT vs interpreter in jit_mode.cpp): options, state comparison, listings
// and the coverage summary.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "tests/diff/common.h"
#include "tests/diff/gen.h"

#ifndef VMM_DIFF_NATIVE
#define VMM_DIFF_NATIVE ""
#endif

namespace vmm::diff {

extern const char* const kRegNames[8];

struct Options {
  uint64_t seed = 1;
  uint64_t count = 1000;
  unsigned length = 24;
  std::string only;
  bool verbose = false;
  unsigned details = 5;
  std::string native = VMM_DIFF_NATIVE;
  bool native_all = false;
  bool jit = false;
  std::string hex, regs;
};

// The arguments that regenerate sequence `seed` alone.
std::string reproduce_args(const Options& opt, uint64_t seed);

// EFLAGS bits the generator guarantees defined: at the end of a run that
// stopped at `s` (exception or end), or before the instruction at `eip`.
uint32_t defined_flags(const Sequence& seq, const State& s);
uint32_t defined_flags_before(const Sequence& seq, uint32_t eip);

struct Comparison {
  bool equal = true;
  std::string text;  // Differences, one per line.
  uint32_t regs_differ = 0;
};

// Compares the EFLAGS bits in `flags`, the data and stack regions when
// `memory`, and the instruction counts when `counts` (vmm's engines only).
Comparison compare(const State& a, const State& b, uint32_t flags, bool memory = true, bool counts = false);

std::string flags_str(uint32_t f);
// The sequence's instructions, `mark` flagged with "=>".
void print_listing(const Sequence& seq, uint32_t mark = 0);
void print_initial(const Sequence& seq);
void print_state(const char* name, const State& s, uint32_t differ);
// The form (or set-up mnemonic) of the instruction at `addr`, "?" if none.
std::string form_at(const Sequence& seq, uint32_t addr);

// The sequence to run: generated, or --hex code with the seed's initial state.
Sequence make_sequence(Generator& gen, const Options& opt, uint64_t seed);

// Mismatch counts by the form of the first diverging instruction.
void print_culprits(const std::map<std::string, uint64_t>& culprits);
// Generated instruction features, units per group and the forms never generated.
void print_coverage(const Generator& gen, const Options& opt);

}  // namespace vmm::diff

// vmm_diff --jit: the JIT against the interpreter. Both engines are vmm's
// and deterministic, so everything is compared: all EFLAGS bits (undefined
// ones included) and the instruction counts, besides the GPRs, EIP, the
// exception vector and the data and stack regions.
#include "tests/diff/jit_mode.h"

#include <algorithm>
#include <cstdio>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "frontend/block.h"
#include "tests/diff/engines.h"

namespace vmm::diff {
namespace {

constexpr uint32_t kAllFlags = ~0u;

struct Variant {
  std::string name;
  VmmConfig config;
};

// The ways the JIT runs sequence `seed`. Chained blocks with an unlimited
// budget are how guests run. A small budget per Cpu::run call makes budget
// exits, and a block longer than what is left runs interpreted, so that the
// next translation starts in the middle of it. Single blocks run unchained
// (as --lockstep 1 does). The third run in one Cpu takes chained jumps (see
// VmmConfig::runs), with budgets tested at the inline lookups of RET and
// indirect jumps. Flushes retranslate in the middle of a run. All but the
// last reach guest memory through the guest views; the last through inline
// TLB probes (--host-mmu=off).
std::vector<Variant> variants(uint64_t seed) {
  static const uint64_t kSlices[] = {1, 2, 3, 4, 5, 7, 11, 16};
  const uint64_t slice = kSlices[seed % std::size(kSlices)];
  const std::string sliced = "slices of " + std::to_string(slice);
  return {{"chained", {.jit = true}},
          {sliced, {.jit = true, .slice = slice}},
          {"single blocks", {.jit = true, .single_block = true}},
          {"third run", {.jit = true, .runs = 3}},
          {"third run, " + sliced, {.jit = true, .slice = slice, .runs = 3}},
          {sliced + ", flushed after each", {.jit = true, .slice = slice, .flush_slices = true}},
          {"third run, TLB probes", {.jit = true, .runs = 3, .host_mmu = false}}};
}

// `seq` restarted from a state reached in it.
Sequence resumed(const Sequence& seq, const State& st) {
  Sequence r = seq;
  std::copy(std::begin(st.gpr), std::end(st.gpr), r.gpr);
  r.eflags = st.eflags;
  r.data = st.data;
  r.stack = st.stack;
  r.fpu = st.fpu;
  r.start_eip = st.eip;
  return r;
}

// Runs `seq` from its start for at least `n` instructions, or to its end.
State run_for(VmmEngine& e, const Sequence& seq, uint64_t n, bool to_end) {
  e.load(seq);
  if (to_end) e.run_to_end();
  else e.run_instructions(n);
  return e.state(true);
}

struct Divergence {
  uint64_t at = 0;          // Instruction count where the states first differ.
  bool end = false;         // ... which is the end of the run (HLT or exception).
  bool budgets_agree = false;  // Only the whole run differs (see locate).
  uint32_t last = 0;        // The instruction completing `at`.
  std::string what;         // The differences there.
  bool narrowed = false;    // The JIT started just before `culprit` diverges by `at`,
  uint32_t culprit = 0;     // started just after it does not.
  uint64_t culprit_index = 0;
  std::string culprit_what;
};

// Where the JIT first departs from the interpreter. The JIT is re-run from
// the start with budgets n = 1, 2, ...; it executes whole translated blocks
// (and may overshoot n, Cpu::run's budget being tested on backward exits
// only), so each run is compared with the interpreter after as many
// instructions as the JIT executed. When all of those agree (a difference
// that depends on the budget left, e.g. flags computed from it), the whole
// run is the point of divergence. That point is then narrowed down: the JIT
// is started from the interpreter's state before each earlier instruction,
// latest first, and run to that point; the latest start that still
// diverges names the instruction whose translation (with what follows it in
// the block) is wrong.
Divergence locate(const Sequence& seq, VmmEngine& interp, VmmEngine& jit, uint64_t total) {
  Divergence d;
  uint64_t checked = 0;
  State reference;
  // The JIT runs a block only when the budget covers all of it, and may end
  // (fault) inside it: budgets go up to a block's length past the
  // interpreter's count.
  for (uint64_t n = 1; n <= total + kMaxBlockInstrs && !d.at; ++n) {
    const State sj = run_for(jit, seq, n, false);
    d.end = jit.done();
    if (sj.executed == checked && !d.end) continue;
    checked = sj.executed;
    reference = run_for(interp, seq, sj.executed, d.end);
    const Comparison c = compare(reference, sj, kAllFlags, true, true);
    if (!c.equal) {
      d.at = sj.executed;
      d.what = c.text;
    } else if (d.end) {
      break;
    }
  }
  if (!d.at) {
    d.budgets_agree = true;
    d.at = total;
    d.end = true;
    reference = run_for(interp, seq, total, true);
  }
  d.last = d.at ? run_for(interp, seq, d.at - 1, false).eip : seq.start_eip;
  for (uint64_t j = d.at; j-- > 0;) {
    const State start = run_for(interp, seq, j, false);
    State sj = run_for(jit, resumed(seq, start), d.at - j, d.end);
    sj.executed += j;
    const Comparison c = compare(reference, sj, kAllFlags, true, true);
    if (!c.equal) {
      d.narrowed = true;
      d.culprit = start.eip;
      d.culprit_index = j + 1;
      d.culprit_what = c.text;
      break;
    }
  }
  return d;
}

void report(const Options& opt, const Sequence& seq, const Variant& v, const State& a, const State& b,
            const Comparison& c, const Divergence& d) {
  std::printf("=== MISMATCH jit (%s) vs interpreter, seed %llu (reproduce: %s)\n", v.name.c_str(),
              static_cast<unsigned long long>(seq.seed), reproduce_args(opt, seq.seed).c_str());
  print_listing(seq, d.narrowed ? d.culprit : d.last);
  print_initial(seq);
  print_state("interp", a, c.regs_differ);
  print_state("jit", b, c.regs_differ);
  std::printf("  final differences (interpreter vs jit, all EFLAGS bits compared):\n%s", c.text.c_str());
  if (d.budgets_agree)
    std::printf("  re-runs with growing budgets agree; the whole run differs\n");
  else
    std::printf("  first divergence after %llu instructions%s, the last at %08x (%s):\n%s",
                static_cast<unsigned long long>(d.at), d.end ? " (the end of the run)" : "", d.last,
                form_at(seq, d.last).c_str(), d.what.c_str());
  if (d.narrowed)
    std::printf("  the JIT started from the interpreter's state before instruction %llu, at %08x (%s), diverges "
                "by then; started after it, it does not:\n%s",
                static_cast<unsigned long long>(d.culprit_index), d.culprit, form_at(seq, d.culprit).c_str(),
                d.culprit_what.c_str());
  else
    std::printf("  the JIT started from any of the interpreter's intermediate states does not diverge\n");
}

}  // namespace

int run_jit_mode(const Options& opt) {
  Generator gen(opt.only, /*native=*/false, /*x87=*/true);
  auto interp = make_vmm_engine();
  auto jit = make_vmm_engine(VmmConfig{.jit = true});
  uint64_t mismatches = 0, exceptions = 0, executed = 0, runs = 0;
  std::map<std::string, uint64_t> culprits;
  for (uint64_t i = 0; i < opt.count; ++i) {
    const uint64_t seed = opt.seed + i;
    const Sequence seq = make_sequence(gen, opt, seed);
    const bool show = opt.verbose || !opt.hex.empty();
    if (show) {
      std::printf("--- seed %llu\n", static_cast<unsigned long long>(seed));
      print_listing(seq);
    }
    interp->load(seq);
    interp->run_to_end();
    const State a = interp->state(true);
    executed += a.executed;
    if (!opt.hex.empty()) print_state("interp", a, 0);
    bool equal = true;
    for (const Variant& v : variants(seed)) {
      jit->configure(v.config);
      jit->load(seq);
      jit->run_to_end();
      const State b = jit->state(true);
      ++runs;
      const Comparison c = compare(a, b, kAllFlags, true, true);
      if (!opt.hex.empty()) print_state(("jit: " + v.name).c_str(), b, c.regs_differ);
      if (c.equal) continue;
      equal = false;
      ++mismatches;
      const Divergence d = locate(seq, *interp, *jit, a.executed);
      ++culprits[form_at(seq, d.narrowed ? d.culprit : d.last)];
      if (mismatches <= opt.details) report(opt, seq, v, a, b, c, d);
      std::fflush(stdout);
      break;  // One report per sequence: the other ways would likely repeat it.
    }
    if (equal && a.vector >= 0) ++exceptions;
  }
  const JitTotals t = jit->jit_totals();
  std::printf("diff --jit: %llu sequences (%llu JIT runs), %llu mismatches, %llu exceptions matched\n",
              static_cast<unsigned long long>(opt.count), static_cast<unsigned long long>(runs),
              static_cast<unsigned long long>(mismatches), static_cast<unsigned long long>(exceptions));
  if (opt.count)
    std::printf("per sequence: %.1f instructions executed\n",
                static_cast<double>(executed) / static_cast<double>(opt.count));
  std::printf("JIT: %llu translations, %llu code-buffer flushes, %llu chains, %llu budget exits, "
              "%llu guest exceptions\n",
              static_cast<unsigned long long>(t.translations), static_cast<unsigned long long>(t.flushes),
              static_cast<unsigned long long>(t.chains), static_cast<unsigned long long>(t.budget_exits),
              static_cast<unsigned long long>(t.exceptions));
  print_culprits(culprits);
  print_coverage(gen, opt);
  return mismatches ? 1 : 0;
}

}  // namespace vmm::diff

// vmm_diff: differential tester of the interpreter against Unicorn, or
// (--jit) of the JIT against the interpreter.
//
//   vmm_diff [--jit] [--seed S] [--count N] [--length L] [--only SUBSTR] [--verbose]
//            [--details K] [--native PATH] [--native-all]
//            [--hex "BYTES" [--regs eax=V,...,efl=V]]
//
// --hex runs the given code (then HLT) instead of generated sequences, with
// the initial state of the seed's sequence, overridden by --regs.
// Sequence i uses seed S+i, so "--seed X --count 1" reproduces one sequence.
// On a mismatch it prints the sequence, both states, the first instruction
// after which the engines differ (lock-step re-run) and, when the 32-bit
// helper is available, which engine the real CPU agrees with.
//
// Built without Unicorn (VMM_DIFF_HAVE_UNICORN unset), only --jit runs; the
// other modes exit with 77 (ctest's SKIP_RETURN_CODE) saying why.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "tests/diff/engines.h"
#include "tests/diff/harness.h"
#include "tests/diff/jit_mode.h"
#include "tests/diff/native_run.h"

namespace vmm::diff {
namespace {

#ifdef VMM_DIFF_HAVE_UNICORN
// Finds the first instruction after which the engines differ: `a` (the
// interpreter) is stepped; after each step `b` is re-run from the start up
// to the same address and the states compared. Returns its address (0 if
// none found).
uint32_t locate(const Sequence& seq, Engine& a, Engine& b, std::string& what) {
  a.load(seq);
  for (int step = 0; step < 100000 && !a.done(); ++step) {
    const uint32_t pc = a.state(false).eip;
    a.step(0);
    const State sa = a.state(true);
    b.load(seq);
    if (sa.vector >= 0 || a.done()) b.run_to_end();
    else b.run_until(sa.eip);
    const State sb = b.state(true);
    // Flags: those defined before the next instruction.
    const Comparison c = compare(sa, sb, defined_flags_before(seq, seq.at(sa.eip) ? sa.eip : pc));
    if (!c.equal) {
      what = c.text;
      return pc;
    }
  }
  return 0;
}

#endif

int usage() {
  std::fprintf(stderr,
               "usage: vmm_diff [--jit] [--seed S] [--count N] [--length L] [--only SUBSTR] [--verbose]\n"
               "                [--details K] [--native PATH] [--native-all]\n");
  return 2;
}

#ifdef VMM_DIFF_HAVE_UNICORN
int run(const Options& opt) {
  struct stat sb;
  const bool have_native = !opt.native.empty() && stat(opt.native.c_str(), &sb) == 0;
  Generator gen(opt.only, opt.native_all && have_native);
  auto vmm = make_vmm_engine();
  auto uc = make_unicorn_engine();
  uint64_t mismatches = 0, exceptions = 0, native_runs = 0, native_mismatches = 0, executed = 0, flag_bits = 0,
           native_only = 0;
  std::map<std::string, uint64_t> culprits;
  for (uint64_t i = 0; i < opt.count; ++i) {
    const uint64_t seed = opt.seed + i;
    const Sequence seq = make_sequence(gen, opt, seed);
    if (opt.verbose || !opt.hex.empty()) {
      std::printf("--- seed %llu\n", static_cast<unsigned long long>(seed));
      print_listing(seq);
    }
    vmm->load(seq);
    vmm->run_to_end();
    const State a = vmm->state(true);
    if (seq.native_only) {
      // A case Unicorn gets wrong: the real CPU is the oracle.
      State n;
      run_native(opt.native, seq, n);
      ++native_runs;
      ++native_only;
      const Comparison c = compare(a, n, defined_flags(seq, a));
      if (c.equal) {
        if (a.vector >= 0) ++exceptions;
        continue;
      }
      ++mismatches;
      ++culprits["(real-CPU oracle) see listing"];
      if (mismatches > opt.details) continue;
      std::printf("=== MISMATCH vmm vs real CPU, seed %llu (reproduce: %s --native-all)\n",
                  static_cast<unsigned long long>(seed), reproduce_args(opt, seed).c_str());
      print_listing(seq, n.vector >= 0 ? n.eip : a.vector >= 0 ? a.eip : 0);
      print_state("vmm", a, c.regs_differ);
      print_state("native", n, c.regs_differ);
      std::printf("  differences (vmm vs native):\n%s", c.text.c_str());
      std::fflush(stdout);
      continue;
    }
    uc->load(seq);
    uc->run_to_end();
    const State b = uc->state(true);
    const uint32_t flags = defined_flags(seq, a);
    const Comparison c = compare(a, b, flags);
    State n;
    bool native_done = false;
    if (have_native && (opt.native_all || !c.equal)) {
      native_done = run_native(opt.native, seq, n);
      ++native_runs;
      if (native_done && opt.native_all && c.equal && !compare(a, n, flags).equal) {
        ++native_mismatches;
        if (native_mismatches <= opt.details) {
          std::printf("=== vmm and unicorn agree, the real CPU differs: seed %llu\n",
                      static_cast<unsigned long long>(seed));
          print_listing(seq);
          std::printf("  vmm vs native:\n%s", compare(a, n, flags).text.c_str());
        }
      }
    }
    executed += a.executed;
    flag_bits += static_cast<unsigned>(__builtin_popcount(fl::kArith & flags));
    if (!opt.hex.empty()) {
      print_state("vmm", a, c.regs_differ);
      print_state("unicorn", b, c.regs_differ);
      State nn;
      if (have_native && run_native(opt.native, seq, nn)) print_state("native", nn, 0);
    }
    if (c.equal) {
      if (a.vector >= 0) ++exceptions;
      continue;
    }
    ++mismatches;
    std::string what;
    const uint32_t at = locate(seq, *vmm, *uc, what);
    const std::string form = form_at(seq, at);
    ++culprits[form];
    if (mismatches > opt.details) continue;
    std::printf("=== MISMATCH seed %llu (reproduce: %s)\n", static_cast<unsigned long long>(seed),
                reproduce_args(opt, seed).c_str());
    print_listing(seq, at);
    print_initial(seq);
    print_state("vmm", a, c.regs_differ);
    print_state("unicorn", b, c.regs_differ);
    std::printf("  final differences (vmm vs unicorn; flags not compared: %s):\n%s",
                flags_str(fl::kCompared & ~flags).c_str(), c.text.c_str());
    if (at) std::printf("  first divergence after the instruction at %08x (%s):\n%s", at, form.c_str(), what.c_str());
    else std::printf("  lock-step re-run found no divergence\n");
    if (native_done) {
      print_state("native", n, 0);
      const bool nv = compare(a, n, flags).equal, nu = compare(b, n, flags).equal;
      std::printf("  real CPU agrees with: %s\n", nv && nu ? "both?" : nv ? "vmm (Unicorn is wrong)"
                                                          : nu ? "unicorn (vmm is wrong)" : "neither");
      if (!nv && !nu) std::printf("  vmm vs native:\n%s", compare(a, n, flags).text.c_str());
    } else if (have_native) {
      std::printf("  native run failed: %s\n", n.error.c_str());
    }
    std::fflush(stdout);
  }
  std::printf("diff: %llu sequences, %llu mismatches, %llu exceptions matched\n",
              static_cast<unsigned long long>(opt.count), static_cast<unsigned long long>(mismatches),
              static_cast<unsigned long long>(exceptions));
  if (opt.count)
    std::printf("per sequence: %.1f instructions executed, %.2f of 6 arithmetic flags compared at the end\n",
                static_cast<double>(executed) / static_cast<double>(opt.count),
                static_cast<double>(flag_bits) / static_cast<double>(opt.count));
  if (have_native && opt.native_all)
    std::printf("native: %llu runs, %llu where vmm and unicorn agree but the real CPU differs; "
                "%llu sequences with cases Unicorn gets wrong checked against the real CPU only\n",
                static_cast<unsigned long long>(native_runs), static_cast<unsigned long long>(native_mismatches),
                static_cast<unsigned long long>(native_only));
  print_culprits(culprits);
  print_coverage(gen, opt);
  return mismatches || native_mismatches ? 1 : 0;
}
#else
int run(const Options&) {
  std::printf("SKIP: vmm_diff was built without Unicorn; only --jit is available\n");
  return 77;
}
#endif

}  // namespace
}  // namespace vmm::diff

int main(int argc, char** argv) {
  vmm::diff::Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--verbose") opt.verbose = true;
    else if (a == "--jit") opt.jit = true;
    else if (a == "--native-all") opt.native_all = true;
    else if ((a == "--seed" || a == "--count" || a == "--length" || a == "--only" || a == "--details" ||
              a == "--native" || a == "--hex" || a == "--regs") && (v = val())) {
      if (a == "--seed") opt.seed = std::strtoull(v, nullptr, 0);
      else if (a == "--count") opt.count = std::strtoull(v, nullptr, 0);
      else if (a == "--length") opt.length = static_cast<unsigned>(std::strtoul(v, nullptr, 0));
      else if (a == "--only") opt.only = v;
      else if (a == "--details") opt.details = static_cast<unsigned>(std::strtoul(v, nullptr, 0));
      else if (a == "--hex") opt.hex = v;
      else if (a == "--regs") opt.regs = v;
      else opt.native = v;
    } else {
      return vmm::diff::usage();
    }
  }
  try {
    return opt.jit ? vmm::diff::run_jit_mode(opt) : vmm::diff::run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vmm_diff: %s\n", e.what());
    return 2;
  }
}

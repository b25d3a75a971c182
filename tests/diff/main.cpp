// vmm_diff: differential tester of the interpreter against Unicorn.
//
//   vmm_diff [--seed S] [--count N] [--length L] [--only SUBSTR] [--verbose]
//            [--details K] [--native PATH] [--native-all]
//            [--hex "BYTES" [--regs eax=V,...,efl=V]]
//
// --hex runs the given code (then HLT) instead of generated sequences, with
// the initial state of the seed's sequence, overridden by --regs.
// Sequence i uses seed S+i, so "--seed X --count 1" reproduces one sequence.
// On a mismatch it prints the sequence, both states, the first instruction
// after which the engines differ (lock-step re-run) and, when the 32-bit
// helper is available, which engine the real CPU agrees with.
#include <sys/stat.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <string>

#include "frontend/decoder.h"
#include "tests/diff/engines.h"
#include "tests/diff/gen.h"
#include "tests/diff/native_run.h"

#ifndef VMM_DIFF_NATIVE
#define VMM_DIFF_NATIVE ""
#endif

namespace vmm::diff {
namespace {

const char* const kRegNames[8] = {"EAX", "ECX", "EDX", "EBX", "ESP", "EBP", "ESI", "EDI"};

// Flags not compared for a run that ended at `eip` (exception or end).
uint32_t undef_mask(const Sequence& seq, const State& s) {
  if (s.vector < 0) return seq.undef_final;
  if (const InstrMeta* m = seq.at(s.eip)) return m->undef_before;
  return fl::kArith;
}

struct Comparison {
  bool equal = true;
  std::string text;  // Differences, one per line.
  uint32_t regs_differ = 0;
  bool flags_differ = false;
};

void add(Comparison& c, const std::string& s) {
  c.equal = false;
  c.text += "    " + s + "\n";
}

Comparison compare(const Sequence& seq, const State& a, const State& b, bool memory = true, int64_t mask_eip = -1) {
  Comparison c;
  char buf[256];
  if (!a.ok || !b.ok) {
    add(c, "engine failure: " + (a.ok ? std::string() : a.error) + " | " + (b.ok ? std::string() : b.error));
    return c;
  }
  if (a.vector != b.vector) {
    std::snprintf(buf, sizeof buf, "exception vector %d vs %d", a.vector, b.vector);
    add(c, buf);
  }
  if (a.eip != b.eip) {
    std::snprintf(buf, sizeof buf, "EIP %08x vs %08x", a.eip, b.eip);
    add(c, buf);
  }
  for (int r = 0; r < 8; ++r) {
    if (a.gpr[r] != b.gpr[r]) {
      c.regs_differ |= 1u << r;
      std::snprintf(buf, sizeof buf, "%s %08x vs %08x", kRegNames[r], a.gpr[r], b.gpr[r]);
      add(c, buf);
    }
  }
  uint32_t und = undef_mask(seq, a);
  if (mask_eip >= 0) {
    const InstrMeta* m = seq.at(static_cast<uint32_t>(mask_eip));
    und = m ? m->undef_before : fl::kArith;
  }
  const uint32_t mask = fl::kCompared & ~und;
  if ((a.eflags ^ b.eflags) & mask) {
    c.flags_differ = true;
    std::snprintf(buf, sizeof buf, "EFLAGS %08x vs %08x (compared bits %03x, differing %03x)", a.eflags, b.eflags,
                  mask, (a.eflags ^ b.eflags) & mask);
    add(c, buf);
  }
  if (memory) {
    int shown = 0, total = 0;
    auto mem = [&](const std::vector<uint8_t>& x, const std::vector<uint8_t>& y, uint32_t base) {
      for (size_t i = 0; i < x.size() && i < y.size(); ++i) {
        if (x[i] == y[i]) continue;
        if (++total <= 8) {
          std::snprintf(buf, sizeof buf, "mem[%05zx] %02x vs %02x", base + i, x[i], y[i]);
          add(c, buf);
          ++shown;
        }
      }
    };
    mem(a.data, b.data, kDataBase);
    mem(a.stack, b.stack, kStackBase);
    if (total > shown) add(c, std::to_string(total - shown) + " more differing bytes");
  }
  return c;
}

std::string flags_str(uint32_t f) {
  std::string s;
  const char* n[] = {"CF", "PF", "AF", "ZF", "SF", "DF", "OF"};
  const uint32_t b[] = {fl::CF, fl::PF, fl::AF, fl::ZF, fl::SF, fl::DF, fl::OF};
  for (int i = 0; i < 7; ++i)
    if (f & b[i]) s += std::string(s.empty() ? "" : " ") + n[i];
  return s.empty() ? "-" : s;
}

void print_listing(const Sequence& seq, uint32_t mark = 0) {
  static const Decoder dec(true);
  const auto& forms = form_table();
  for (auto& m : seq.instrs) {
    const uint8_t* p = seq.code.data() + (m.addr - kCodeBase);
    std::string hex;
    char b[4];
    for (int i = 0; i < m.len; ++i) {
      std::snprintf(b, sizeof b, "%02x", p[i]);
      hex += b;
    }
    std::string note = m.setup ? "set-up" : m.form >= 0 ? forms[m.form].name : "";
    if (m.flags_undef) note += "  [undef " + flags_str(m.flags_undef) + "]";
    std::printf("  %s %08x  %-30s %-36s %s\n", m.addr == mark ? "=>" : "  ", m.addr, hex.c_str(),
                dec.disassemble(p, m.len, m.addr).c_str(), note.c_str());
  }
}

void print_state(const char* name, const State& s, uint32_t differ) {
  std::printf("  %-8s", name);
  for (int r = 0; r < 8; ++r) std::printf(" %s=%08x%s", kRegNames[r], s.gpr[r], (differ >> r) & 1 ? "*" : "");
  std::printf(" EIP=%08x EFL=%08x", s.eip, s.eflags);
  if (s.vector >= 0) std::printf(" exception=%d", s.vector);
  if (!s.ok) std::printf(" FAILED: %s", s.error.c_str());
  std::printf("\n");
}

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
    // Flags: those possibly undefined before the next instruction.
    const InstrMeta* next = seq.at(sa.eip);
    const Comparison c = compare(seq, sa, sb, true, next ? sa.eip : pc);
    if (!c.equal) {
      what = c.text;
      return pc;
    }
  }
  return 0;
}

// A sequence from hand-written code (--hex): initial state from the seed's
// generated sequence, code decoded linearly, undefined flags accumulated.
Sequence custom_sequence(Generator& gen, uint64_t seed, const std::string& hex, const std::string& regs) {
  static const Decoder dec(true);
  Sequence seq = gen.generate(seed, 1);
  std::vector<uint8_t> code;
  for (size_t i = 0; i + 1 < hex.size();) {
    if (hex[i] == ' ') {
      ++i;
      continue;
    }
    code.push_back(static_cast<uint8_t>(std::stoul(hex.substr(i, 2), nullptr, 16)));
    i += 2;
  }
  seq.code.assign(kCodeSize, 0xF4);
  std::copy(code.begin(), code.end(), seq.code.begin());
  seq.instrs.clear();
  seq.fs_gs_prefixes.clear();
  uint32_t und = 0, off = 0;
  while (off < code.size()) {
    InstrRecord rec;
    if (dec.decode(code.data() + off, code.size() - off, rec) != DecodeStatus::kOk) {
      rec = InstrRecord{};  // Invalid (#UD): the rest of the bytes as one "instruction".
      rec.length = static_cast<uint8_t>(code.size() - off);
    }
    InstrMeta m;
    m.addr = kCodeBase + off;
    m.len = rec.length;
    m.mnemonic = rec.mnemonic;
    m.undef_before = und;
    m.flags_undef = rec.flags_undefined;
    und |= rec.flags_undefined & fl::kArith;
    seq.instrs.push_back(m);
    off += rec.length;
  }
  seq.end_eip = kCodeBase + off;
  InstrMeta h;
  h.addr = seq.end_eip;
  h.len = 1;
  h.undef_before = und;
  seq.instrs.push_back(h);
  seq.undef_final = und;
  // --regs eax=1,efl=0x202,...
  size_t p = 0;
  while (p < regs.size()) {
    size_t e = regs.find(',', p);
    if (e == std::string::npos) e = regs.size();
    const std::string kv = regs.substr(p, e - p);
    const size_t eq = kv.find('=');
    if (eq != std::string::npos) {
      std::string k = kv.substr(0, eq);
      for (auto& ch : k) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
      const uint32_t v = static_cast<uint32_t>(std::stoul(kv.substr(eq + 1), nullptr, 0));
      if (k == "EFL") seq.eflags = v;
      for (int r = 0; r < 8; ++r)
        if (k == kRegNames[r]) seq.gpr[r] = v;
    }
    p = e + 1;
  }
  return seq;
}

struct Options {
  uint64_t seed = 1;
  uint64_t count = 1000;
  unsigned length = 24;
  std::string only;
  bool verbose = false;
  unsigned details = 5;
  std::string native = VMM_DIFF_NATIVE;
  bool native_all = false;
  std::string hex, regs;
};

int usage() {
  std::fprintf(stderr,
               "usage: vmm_diff [--seed S] [--count N] [--length L] [--only SUBSTR] [--verbose]\n"
               "                [--details K] [--native PATH] [--native-all]\n");
  return 2;
}

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
    const Sequence seq =
        opt.hex.empty() ? gen.generate(seed, opt.length) : custom_sequence(gen, seed, opt.hex, opt.regs);
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
      const Comparison c = compare(seq, a, n);
      if (c.equal) {
        if (a.vector >= 0) ++exceptions;
        continue;
      }
      ++mismatches;
      ++culprits["(real-CPU oracle) see listing"];
      if (mismatches > opt.details) continue;
      std::printf("=== MISMATCH vmm vs real CPU, seed %llu (reproduce: --seed %llu --count 1 --length %u --native-all%s%s)\n",
                  static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed), opt.length,
                  opt.only.empty() ? "" : " --only ", opt.only.c_str());
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
    const Comparison c = compare(seq, a, b);
    State n;
    bool native_done = false;
    if (have_native && (opt.native_all || !c.equal)) {
      native_done = run_native(opt.native, seq, n);
      ++native_runs;
      if (native_done && opt.native_all && c.equal && !compare(seq, a, n).equal) {
        ++native_mismatches;
        if (native_mismatches <= opt.details) {
          std::printf("=== vmm and unicorn agree, the real CPU differs: seed %llu\n",
                      static_cast<unsigned long long>(seed));
          print_listing(seq);
          std::printf("  vmm vs native:\n%s", compare(seq, a, n).text.c_str());
        }
      }
    }
    executed += a.executed;
    flag_bits += static_cast<unsigned>(__builtin_popcount(fl::kArith & ~undef_mask(seq, a)));
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
    const InstrMeta* m = seq.at(at);
    const std::string form =
        m ? (m->setup ? std::string("set-up ") + mnemonic_name(m->mnemonic)
                      : m->form >= 0 ? form_table()[m->form].name : mnemonic_name(m->mnemonic))
          : "?";
    ++culprits[form];
    if (mismatches > opt.details) continue;
    std::printf("=== MISMATCH seed %llu (reproduce: --seed %llu --count 1 --length %u%s%s)\n",
                static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed), opt.length,
                opt.only.empty() ? "" : " --only ", opt.only.c_str());
    print_listing(seq, at);
    std::printf("  initial ");
    for (int r = 0; r < 8; ++r) std::printf(" %s=%08x", kRegNames[r], seq.gpr[r]);
    std::printf(" EFL=%08x\n", seq.eflags);
    print_state("vmm", a, c.regs_differ);
    print_state("unicorn", b, c.regs_differ);
    std::printf("  final differences (vmm vs unicorn; flags not compared: %s):\n%s",
                flags_str(undef_mask(seq, a)).c_str(), c.text.c_str());
    if (at) std::printf("  first divergence after the instruction at %08x (%s):\n%s", at, form.c_str(), what.c_str());
    else std::printf("  lock-step re-run found no divergence\n");
    if (native_done) {
      print_state("native", n, 0);
      const bool nv = compare(seq, a, n).equal, nu = compare(seq, b, n).equal;
      std::printf("  real CPU agrees with: %s\n", nv && nu ? "both?" : nv ? "vmm (Unicorn is wrong)"
                                                          : nu ? "unicorn (vmm is wrong)" : "neither");
      if (!nv && !nu) std::printf("  vmm vs native:\n%s", compare(seq, a, n).text.c_str());
    } else if (have_native) {
      std::printf("  native run failed: %s\n", n.error.c_str());
    }
    std::fflush(stdout);
  }
  // Coverage.
  const auto& forms = form_table();
  const auto& counts = gen.form_counts();
  std::map<std::string, uint64_t> groups;
  std::vector<std::string> never;
  for (size_t f = 0; f < forms.size(); ++f) {
    groups[forms[f].group] += counts[f];
    if (!counts[f] && (gen.native() || !forms[f].native_only)) never.push_back(forms[f].name);
  }
  std::printf("diff: %llu sequences, %llu mismatches, %llu exceptions matched\n",
              static_cast<unsigned long long>(opt.count), static_cast<unsigned long long>(mismatches),
              static_cast<unsigned long long>(exceptions));
  if (opt.count)
    std::printf("per sequence: %.1f instructions executed, %.2f of 6 arithmetic flags compared at the end\n",
                static_cast<double>(executed) / static_cast<double>(opt.count),
                static_cast<double>(flag_bits) / static_cast<double>(opt.count));
  const auto& ft = gen.features();
  std::printf("instructions generated: %llu; with memory operand %llu, 67 %llu, 66 %llu, segment override %llu, "
              "LOCK %llu, REP/REPNE %llu\n",
              static_cast<unsigned long long>(ft.instrs), static_cast<unsigned long long>(ft.memory),
              static_cast<unsigned long long>(ft.addr16), static_cast<unsigned long long>(ft.opsize16),
              static_cast<unsigned long long>(ft.seg), static_cast<unsigned long long>(ft.lock),
              static_cast<unsigned long long>(ft.rep));
  std::printf("units per group:");
  for (auto& [g, n] : groups) std::printf(" %s=%llu", g.c_str(), static_cast<unsigned long long>(n));
  std::printf("\n");
  if (have_native && opt.native_all)
    std::printf("native: %llu runs, %llu where vmm and unicorn agree but the real CPU differs; "
                "%llu sequences with cases Unicorn gets wrong checked against the real CPU only\n",
                static_cast<unsigned long long>(native_runs), static_cast<unsigned long long>(native_mismatches),
                static_cast<unsigned long long>(native_only));
  if (!culprits.empty()) {
    std::printf("mismatches by first diverging form:\n");
    for (auto& [f, n] : culprits) std::printf("  %6llu  %s\n", static_cast<unsigned long long>(n), f.c_str());
  }
  if (never.size() <= 40 || opt.verbose) {
    std::printf("forms never generated (%zu of %zu):", never.size(), forms.size());
    for (auto& s : never) std::printf(" [%s]", s.c_str());
    std::printf("\n");
  } else {
    std::printf("forms never generated: %zu of %zu (listed with --verbose or when at most 40)\n", never.size(),
                forms.size());
  }
  return mismatches || native_mismatches ? 1 : 0;
}

}  // namespace
}  // namespace vmm::diff

int main(int argc, char** argv) {
  vmm::diff::Options opt;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--verbose") opt.verbose = true;
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
    return vmm::diff::run(opt);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vmm_diff: %s\n", e.what());
    return 2;
  }
}

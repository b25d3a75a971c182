#include "tests/diff/harness.h"

#include <cstdio>
#include <cstring>

#include "frontend/decoder.h"

namespace vmm::diff {

const char* const kRegNames[8] = {"EAX", "ECX", "EDX", "EBX", "ESP", "EBP", "ESI", "EDI"};

std::string reproduce_args(const Options& opt, uint64_t seed) {
  std::string s = std::string(opt.jit ? "--jit " : "") + "--seed " + std::to_string(seed) + " --count 1 --length " +
                  std::to_string(opt.length);
  if (!opt.only.empty()) s += " --only " + opt.only;
  if (!opt.hex.empty()) s += " --hex \"" + opt.hex + "\"";
  if (!opt.regs.empty()) s += " --regs " + opt.regs;
  return s;
}

uint32_t defined_flags_before(const Sequence& seq, uint32_t eip) {
  const InstrMeta* m = seq.at(eip);
  return fl::kCompared & ~(m ? m->undef_before : fl::kArith);
}

uint32_t defined_flags(const Sequence& seq, const State& s) {
  return s.vector < 0 ? fl::kCompared & ~seq.undef_final : defined_flags_before(seq, s.eip);
}

namespace {

void add(Comparison& c, const std::string& s) {
  c.equal = false;
  c.text += "    " + s + "\n";
}

}  // namespace

Comparison compare(const State& a, const State& b, uint32_t flags, bool memory, bool counts) {
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
  if (counts && a.executed != b.executed) {
    std::snprintf(buf, sizeof buf, "instructions executed %llu vs %llu", static_cast<unsigned long long>(a.executed),
                  static_cast<unsigned long long>(b.executed));
    add(c, buf);
  }
  for (int r = 0; r < 8; ++r) {
    if (a.gpr[r] != b.gpr[r]) {
      c.regs_differ |= 1u << r;
      std::snprintf(buf, sizeof buf, "%s %08x vs %08x", kRegNames[r], a.gpr[r], b.gpr[r]);
      add(c, buf);
    }
  }
  if ((a.eflags ^ b.eflags) & flags) {
    std::snprintf(buf, sizeof buf, "EFLAGS %08x vs %08x (compared bits %03x, differing %03x)", a.eflags, b.eflags,
                  flags, (a.eflags ^ b.eflags) & flags);
    add(c, buf);
  }
  if (!a.fpu.empty() && !b.fpu.empty() && a.fpu != b.fpu) {
    // The x87 fields of the FXSAVE image (SDM Vol. 1, Table 10-2).
    static const struct {
      const char* name;
      unsigned off, size;
    } kFields[] = {{"FCW", 0, 2}, {"FSW", 2, 2}, {"FTW", 4, 1}, {"FOP", 6, 2}, {"FIP", 8, 4}, {"FCS", 12, 2},
                   {"FDP", 16, 4}, {"FDS", 20, 2}, {"ST0", 32, 10}, {"ST1", 48, 10}, {"ST2", 64, 10},
                   {"ST3", 80, 10}, {"ST4", 96, 10}, {"ST5", 112, 10}, {"ST6", 128, 10}, {"ST7", 144, 10}};
    auto hex = [](const std::vector<uint8_t>& v, unsigned off, unsigned size) {
      std::string s;
      for (unsigned i = size; i-- > 0;) {
        char h[3];
        std::snprintf(h, sizeof h, "%02x", v[off + i]);
        s += h;
      }
      return s;
    };
    bool any = false;
    for (const auto& f : kFields) {
      if (std::memcmp(a.fpu.data() + f.off, b.fpu.data() + f.off, f.size) == 0) continue;
      add(c, std::string("x87 ") + f.name + " " + hex(a.fpu, f.off, f.size) + " vs " + hex(b.fpu, f.off, f.size));
      any = true;
    }
    if (!any) add(c, "x87 state: reserved bytes of the FXSAVE image differ");
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

void print_listing(const Sequence& seq, uint32_t mark) {
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

void print_initial(const Sequence& seq) {
  std::printf("  initial ");
  for (int r = 0; r < 8; ++r) std::printf(" %s=%08x", kRegNames[r], seq.gpr[r]);
  std::printf(" EFL=%08x\n", seq.eflags);
}

void print_state(const char* name, const State& s, uint32_t differ) {
  std::printf("  %-8s", name);
  for (int r = 0; r < 8; ++r) std::printf(" %s=%08x%s", kRegNames[r], s.gpr[r], (differ >> r) & 1 ? "*" : "");
  std::printf(" EIP=%08x EFL=%08x", s.eip, s.eflags);
  if (s.vector >= 0) std::printf(" exception=%d", s.vector);
  if (!s.ok) std::printf(" FAILED: %s", s.error.c_str());
  std::printf("\n");
}

std::string form_at(const Sequence& seq, uint32_t addr) {
  if (addr == seq.end_eip) return "final HLT";
  const InstrMeta* m = seq.at(addr);
  if (!m) return "?";
  if (m->setup) return std::string("set-up ") + mnemonic_name(m->mnemonic);
  return m->form >= 0 ? form_table()[m->form].name : mnemonic_name(m->mnemonic);
}

namespace {

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

}  // namespace

Sequence make_sequence(Generator& gen, const Options& opt, uint64_t seed) {
  return opt.hex.empty() ? gen.generate(seed, opt.length) : custom_sequence(gen, seed, opt.hex, opt.regs);
}

void print_culprits(const std::map<std::string, uint64_t>& culprits) {
  if (culprits.empty()) return;
  std::printf("mismatches by first diverging form:\n");
  for (auto& [f, n] : culprits) std::printf("  %6llu  %s\n", static_cast<unsigned long long>(n), f.c_str());
}

void print_coverage(const Generator& gen, const Options& opt) {
  const auto& forms = form_table();
  const auto& counts = gen.form_counts();
  std::map<std::string, uint64_t> groups;
  std::vector<std::string> never;
  for (size_t f = 0; f < forms.size(); ++f) {
    groups[forms[f].group] += counts[f];
    if (!counts[f] && (gen.native() || !forms[f].native_only)) never.push_back(forms[f].name);
  }
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
  if (never.size() <= 40 || opt.verbose) {
    std::printf("forms never generated (%zu of %zu):", never.size(), forms.size());
    for (auto& s : never) std::printf(" [%s]", s.c_str());
    std::printf("\n");
  } else {
    std::printf("forms never generated: %zu of %zu (listed with --verbose or when at most 40)\n", never.size(),
                forms.size());
  }
}

}  // namespace vmm::diff

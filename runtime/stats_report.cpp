#include "runtime/stats_report.h"

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <numeric>

#include "frontend/decoder.h"
#include "jit/jit_engine.h"

namespace vmm {

namespace {

// Appends entries to one section; rates and per-unit quantities whose
// denominator is zero are recorded as undefined rather than as 0.
class SectionBuilder {
 public:
  SectionBuilder(StatsReport& report, std::string key, std::string title)
      : s_(report.sections.emplace_back(StatSection{std::move(key), std::move(title), {}, {}})) {}

  void count(const char* key, const char* label, uint64_t v) {
    StatEntry& e = add(key, label, StatEntry::Kind::kCount);
    e.count = v;
  }
  void seconds(const char* key, const char* label, double v) { add(key, label, StatEntry::Kind::kSeconds).real = v; }
  void text(const char* key, const char* label, std::string v) {
    add(key, label, StatEntry::Kind::kText).text = std::move(v);
  }
  // numerator / denominator, with `decimals` digits in the text.
  void quotient(const char* key, const char* label, double numerator, double denominator, int decimals) {
    StatEntry& e = add(key, label, StatEntry::Kind::kReal);
    e.decimals = decimals;
    set_quotient(e, numerator, denominator);
  }
  // A fraction of events (hit rate, share).
  void rate(const char* key, const char* label, double part, double whole) {
    set_quotient(add(key, label, StatEntry::Kind::kRate), part, whole);
  }
  void distribution(const char* key, const char* label, std::vector<std::pair<std::string, uint64_t>> rows,
                    size_t text_rows = 0) {
    s_.distributions.push_back(StatDistribution{key, label, std::move(rows), text_rows});
  }

 private:
  StatEntry& add(const char* key, const char* label, StatEntry::Kind kind) {
    StatEntry& e = s_.entries.emplace_back();
    e.key = key;
    e.label = label;
    e.kind = kind;
    return e;
  }
  static void set_quotient(StatEntry& e, double numerator, double denominator) {
    e.defined = denominator != 0;
    e.real = e.defined ? numerator / denominator : 0;
  }

  StatSection& s_;  // Valid until the next section is added.
};

using Rows = std::vector<std::pair<std::string, uint64_t>>;

// Largest count first; equal counts by name, so the output is stable.
Rows sorted(Rows rows) {
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : a.first < b.first;
  });
  return rows;
}

// The non-zero counts of a table indexed by code, named by `name(code)`.
template <size_t N, typename NameFn>
Rows nonzero_rows(const std::array<uint64_t, N>& counts, NameFn name) {
  Rows rows;
  for (size_t i = 0; i < N; ++i)
    if (counts[i]) rows.emplace_back(name(i), counts[i]);
  return sorted(std::move(rows));
}

std::string exception_label(size_t vector) {
  const char* name = vector_name(static_cast<uint8_t>(vector));
  if (std::string_view(name) != "INT") return name;
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02zx", vector);
  return buf;
}

std::string interrupt_label(size_t vector) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%02zx", vector);
  return buf;
}

std::string mnemonic_label(size_t mnemonic) { return mnemonic_name(static_cast<uint16_t>(mnemonic)); }

// Mnemonics shown in the text; JSON has all of them.
constexpr size_t kTopMnemonics = 15;

void add_jit_sections(StatsReport& report, const CpuStats& c, const jit::JitEngine& j) {
  const jit::EngineStats e = j.stats();
  const jit::TranslatorStats& t = j.translator_stats();
  const JitHelperStats& h = c.jit_helpers;

  SectionBuilder tr(report, "jit_translation", "jit translation");
  tr.count("blocks_translated", "blocks translated", e.translations);
  tr.count("guest_instructions", "guest instructions translated", t.guest_instrs);
  tr.count("native_instructions", "  run natively", t.native_instrs);
  tr.rate("native_share", "  native share", double(t.native_instrs), double(t.guest_instrs));
  tr.count("helper_sites", "  interpreter fallback sites", t.helper_instrs);
  tr.count("high_byte_fallbacks", "  high-byte/REX fallback sites", t.high_byte_fallbacks);
  tr.count("x87_native", "x87 instructions run natively", t.x87_native);
  tr.count("view_accesses", "memory accesses through guest views", t.view_accesses);
  tr.count("memory_probes", "inline TLB probes", t.memory_probes);
  tr.count("live_flag_restores", "  restoring live flags", t.flag_saves);
  tr.count("indirect_sites", "indirect-branch sites", t.indirect_sites);
  tr.count("host_bytes", "host code bytes", t.host_bytes);
  tr.quotient("host_bytes_per_guest_instruction", "host bytes per guest instruction", double(t.host_bytes),
              double(t.guest_instrs), 1);
  tr.seconds("translate_seconds", "host-code generation time", e.translate_seconds);
  tr.count("code_buffer_bytes", "code buffer size", j.buffer().size());
  tr.count("code_buffer_used", "code buffer in use", j.buffer().used());
  tr.count("code_buffer_flushes", "code buffer flushes", e.flushes);
  Rows sites;
  for (const auto& [m, n] : t.helper_by_mnemonic) sites.emplace_back(mnemonic_label(m), n);
  tr.distribution("fallback_sites_by_mnemonic", "interpreter fallback sites by mnemonic", sorted(std::move(sites)),
                  kTopMnemonics);

  SectionBuilder ex(report, "jit_execution", "jit execution");
  ex.count("block_entries", "entries from the dispatcher", e.executions);
  ex.count("budget_exits", "  returned on the budget", e.budget_exits);
  ex.count("chains_made", "chains made", e.chains);
  ex.count("chains_undone", "chains undone", e.unchains);
  ex.count("indirect_lookups", "indirect-branch inline lookups", e.indirect_lookups);
  ex.count("indirect_misses", "  missed (left for the dispatcher)", e.indirect_misses);
  ex.rate("indirect_hit_rate", "  hit rate", double(e.indirect_lookups) - double(e.indirect_misses),
          double(e.indirect_lookups));
  ex.count("exceptions", "guest exceptions in translated code", e.exceptions);
  ex.count("host_traps", "  from host traps (SIGFPE -> #DE)", e.host_traps);
  const uint64_t helper_calls = std::accumulate(h.interp_calls.begin(), h.interp_calls.end(), uint64_t{0});
  ex.count("helper_calls", "interpreter helper calls", helper_calls);
  ex.count("mem_slow_calls", "memory slow-path calls",
           h.mem_slow_refills + h.mem_slow_crossing + h.mem_slow_special + h.mem_slow_faults);
  ex.count("mem_slow_refills", "  TLB refilled, native access resumed", h.mem_slow_refills);
  ex.count("mem_slow_crossing", "  page-crossing, interpreted", h.mem_slow_crossing);
  ex.count("mem_slow_special", "  MMIO/code/watched page, interpreted", h.mem_slow_special);
  ex.count("mem_slow_faults", "  guest exception", h.mem_slow_faults);
  ex.count("demoted_accesses", "made helper calls (MMIO/code page, #DE traps)", e.demoted_accesses);
  ex.count("probed_accesses", "view accesses made TLB probes (remapped, #PF)", e.probed_accesses);
  ex.count("fpu_loads", "x87 registers loaded into the host FPU", e.fpu_loads);
  ex.count("fpu_spills", "  stored for an x87 helper", e.fpu_spills);
  ex.distribution("helper_calls_by_mnemonic", "interpreter helper calls by mnemonic",
                  nonzero_rows(h.interp_calls, mnemonic_label), kTopMnemonics);

  SectionBuilder hm(report, "jit_host_mmu", "jit host-MMU path (guest views)");
  const jit::GuestViews* views = j.views();
  const jit::GuestViewStats v = views ? views->stats() : jit::GuestViewStats{};
  hm.text("host_mmu", "host-MMU path", views ? "on" : "off");
  hm.count("pages_mapped", "guest pages mapped", v.pages_mapped);
  hm.count("pages_ahead", "  mapped ahead (4 MiB pages, contiguous runs)", v.pages_ahead);
  hm.count("maps", "host mmap calls", v.maps);
  hm.count("faults", "host faults sent to the slow path", v.faults);
  hm.count("stale_entries", "TLB entries left unmapped (tables changed)", v.stale_entries);
  hm.count("host_mappings", "host mappings held at exit", v.host_mappings);
  hm.count("host_mappings_peak", "host mappings held at most", v.host_mappings_peak);
  hm.count("host_mapping_limit", "host mappings before eviction", v.host_mapping_limit);
  hm.count("regions_in_use", "4 MiB regions in use at exit", v.regions_in_use);
  hm.count("regions_in_use_peak", "4 MiB regions in use at most", v.regions_in_use_peak);
  hm.count("region_limit", "4 MiB regions before eviction", views ? views->region_limit() : 0);
  hm.count("region_evictions", "4 MiB regions evicted (mapping or region limit)", v.region_evictions);
  hm.count("spaces", "address spaces kept at exit", v.spaces);
  hm.count("space_switches", "address-space switches (CR3 loads)", v.space_switches);
  hm.count("space_hits", "  to a space with its views kept", v.space_hits);
  hm.count("space_evictions", "address spaces evicted", v.space_evictions);
  hm.count("verifications", "user views checked against the tables", v.verifications);
  hm.count("tables_changed", "  tables found changed", v.tables_changed);
  hm.count("pages_dropped", "  mapped pages dropped (entry changed, INVLPG)", v.pages_dropped);
  hm.count("regions_dropped", "  4 MiB regions dropped (directory entry changed)", v.regions_dropped);
  hm.count("flushes", "views dropped whole (paging mode, checks)", v.flushes);
  hm.count("kernel_flushes", "supervisor view dropped whole (TLB flushes)", v.kernel_flushes);
  hm.count("kernel_unmaps", "supervisor-view pages unmapped (CR3 loads, INVLPG)", v.kernel_unmaps);
  hm.count("kernel_pages_kept", "supervisor-view pages kept at CR3 loads (same translation)", v.kernel_pages_kept);
  hm.count("write_protects", "writable pages unmapped (became code)", v.write_protects);
}

// Text layout: labels padded to the longest one, values right-aligned.
constexpr int kValueWidth = 14;
constexpr int kIndent = 2;

std::string text_value(const StatEntry& e) {
  if (!e.defined) return "-";
  char buf[64];
  switch (e.kind) {
    case StatEntry::Kind::kCount: std::snprintf(buf, sizeof buf, "%" PRIu64, e.count); break;
    case StatEntry::Kind::kSeconds: std::snprintf(buf, sizeof buf, "%.3f s", e.real); break;
    case StatEntry::Kind::kReal: std::snprintf(buf, sizeof buf, "%.*f", e.decimals, e.real); break;
    case StatEntry::Kind::kRate: std::snprintf(buf, sizeof buf, "%.2f %%", 100.0 * e.real); break;
    case StatEntry::Kind::kText: return e.text;
  }
  return buf;
}

void write_text_distribution(FILE* out, const StatDistribution& d) {
  const size_t shown = d.text_rows ? std::min(d.text_rows, d.rows.size()) : d.rows.size();
  std::fprintf(out, "%*s%s", kIndent, "", d.label.c_str());
  if (d.rows.empty()) {
    std::fprintf(out, ": none\n");
    return;
  }
  if (shown < d.rows.size()) std::fprintf(out, " (top %zu of %zu)", shown, d.rows.size());
  std::fprintf(out, ":\n");
  constexpr size_t kPerLine = 3;
  for (size_t i = 0; i < shown; ++i) {
    const bool line_start = i % kPerLine == 0;
    const bool line_end = i % kPerLine == kPerLine - 1 || i + 1 == shown;
    std::fprintf(out, "%*s%-10s %12" PRIu64 "%s", line_start ? 2 * kIndent : 4, "", d.rows[i].first.c_str(),
                 d.rows[i].second, line_end ? "\n" : "");
  }
}

// JSON numbers: integers as they are, reals with enough digits; no NaN or
// infinity exists in JSON, so those become null.
std::string json_value(const StatEntry& e) {
  if (e.kind == StatEntry::Kind::kText) return json_quote(e.text);
  if (e.kind == StatEntry::Kind::kCount) return std::to_string(e.count);
  if (!e.defined || !std::isfinite(e.real)) return "null";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", e.real);
  return buf;
}

}  // namespace

StatsReport build_stats_report(const StatsSources& src) {
  const CpuStats& c = src.cpu;
  const SoftMmuStats& m = src.mmu;
  const jit::JitEngine* j = src.jit;
  StatsReport report;

  {
    SectionBuilder run(report, "run", "run");
    run.text("engine", "engine", src.jit_engine ? "jit" : "interp");
    run.count("guest_instructions", "guest instructions", c.instructions);
    run.seconds("seconds", "run time", src.seconds);
    run.quotient("mips", "guest MIPS", c.instructions / 1e6, src.seconds, 1);
    // Translation is decoding blocks plus, under the JIT, generating host
    // code for them; everything else is running guest code (and devices).
    const double translate = c.decode_seconds + (j ? j->stats().translate_seconds : 0.0);
    run.seconds("translate_seconds", "translating (decode + host code)", translate);
    run.rate("translate_share", "  share of the run", translate, src.seconds);
    run.seconds("execute_seconds", "running guest code, devices, idle", std::max(0.0, src.seconds - translate));
  }
  {
    SectionBuilder b(report, "block_cache", "decoded-block cache");
    b.count("blocks_decoded", "blocks decoded", c.blocks_built);
    b.count("instructions_decoded", "guest instructions decoded", c.instrs_decoded);
    b.count("superblock_jccs", "conditional branches inside blocks", c.superblock_jccs);
    b.seconds("decode_seconds", "decode time", c.decode_seconds);
    b.count("jump_cache_lookups", "jump-cache lookups", c.block_lookups);
    b.count("jump_cache_hits", "  hits", c.jump_cache_hits);
    b.count("jump_cache_misses", "  misses", c.block_lookups - c.jump_cache_hits);
    b.rate("jump_cache_hit_rate", "  hit rate", double(c.jump_cache_hits), double(c.block_lookups));
    b.count("block_map_lookups", "block hash-table lookups", c.block_map_lookups);
    b.count("block_map_hits", "  hits", c.block_map_hits);
    b.count("block_map_misses", "  misses (block decoded)", c.block_map_lookups - c.block_map_hits);
    b.count("block_map_stale", "  of which stale alias, decoded again", c.blocks_stale);
    b.rate("block_map_hit_rate", "  hit rate", double(c.block_map_hits), double(c.block_map_lookups));
  }
  {
    SectionBuilder inv(report, "invalidation", "invalidations by cause");
    inv.count("smc_writes", "guest writes to decoded code (SMC)", c.smc_invalidations);
    inv.count("smc_blocks", "  blocks dropped", c.blocks_invalidated);
    inv.count("smc_interpreted_blocks", "  blocks interpreted: page rewritten often", c.smc_interpreted_blocks);
    inv.count("invlpg", "INVLPG (jump caches dropped)", c.invlpg_flushes);
    inv.count("cr3_loads", "CR3 loads, task switches", c.cr3_flushes);
    inv.count("paging_changes", "CR0/CR4 paging changes, resets", c.paging_flushes);
    inv.count("full_flushes", "whole block cache flushed", c.code_cache_flushes);
    inv.count("full_flushes_at_limit", "  because it was full", c.code_cache_full);
    inv.count("full_flush_blocks", "  blocks dropped", c.blocks_flushed);
  }
  {
    SectionBuilder ev(report, "events", "guest events");
    ev.count("exceptions", "exceptions delivered", c.exceptions);
    ev.count("interrupts", "external interrupts", c.interrupts);
    ev.count("unhandled_io_reads", "unanswered port/MMIO reads", src.unhandled_reads);
    ev.count("unhandled_io_writes", "unanswered port/MMIO writes", src.unhandled_writes);
    ev.distribution("exceptions_by_vector", "exceptions by vector", nonzero_rows(c.exceptions_by_vector, exception_label));
    ev.distribution("interrupts_by_vector", "interrupts by vector", nonzero_rows(c.interrupts_by_vector, interrupt_label));
  }
  {
    SectionBuilder tlb(report, "tlb", "softmmu");
    tlb.count("page_walks", "page walks (TLB refills)", m.walks);
    tlb.count("page_faults", "page faults", m.page_faults);
    tlb.count("full_flushes", "TLB flushes, whole", m.flushes);
    tlb.count("page_flushes", "TLB flushes, one page", m.page_flushes);
    tlb.count("mmio_accesses", "MMIO/unassigned accesses", m.mmio_accesses);
  }
  if (j) add_jit_sections(report, c, *j);
  return report;
}

void write_stats_text(FILE* out, const StatsReport& report) {
  size_t label_width = 0;
  for (const StatSection& s : report.sections)
    for (const StatEntry& e : s.entries) label_width = std::max(label_width, e.label.size());
  std::fprintf(out, "--- vmm statistics ---\n");
  for (const StatSection& s : report.sections) {
    std::fprintf(out, "%s\n", s.title.c_str());
    for (const StatEntry& e : s.entries) {
      std::fprintf(out, "%*s%-*s %*s\n", kIndent, "", static_cast<int>(label_width), e.label.c_str(), kValueWidth,
                   text_value(e).c_str());
    }
    for (const StatDistribution& d : s.distributions) write_text_distribution(out, d);
  }
}

void write_stats_json(FILE* out, const StatsReport& report) {
  std::fprintf(out, "{\n  \"format\": \"vmm-stats\",\n  \"version\": 1");
  for (const StatSection& s : report.sections) {
    std::fprintf(out, ",\n  %s: {", json_quote(s.key).c_str());
    const char* sep = "\n";
    for (const StatEntry& e : s.entries) {
      std::fprintf(out, "%s    %s: %s", sep, json_quote(e.key).c_str(), json_value(e).c_str());
      sep = ",\n";
    }
    for (const StatDistribution& d : s.distributions) {
      std::fprintf(out, "%s    %s: {", sep, json_quote(d.key).c_str());
      for (size_t i = 0; i < d.rows.size(); ++i) {
        std::fprintf(out, "%s%s: %" PRIu64, i ? ", " : "", json_quote(d.rows[i].first).c_str(), d.rows[i].second);
      }
      std::fprintf(out, "}");
      sep = ",\n";
    }
    std::fprintf(out, "\n  }");
  }
  std::fprintf(out, "\n}\n");
}

namespace {
// The length of the well-formed UTF-8 sequence that starts s[i] (RFC 3629,
// section 4: no overlong forms, no surrogates, nothing past U+10FFFF), or 0.
size_t utf8_length(std::string_view s, size_t i) {
  const auto at = [&](size_t k) { return i + k < s.size() ? static_cast<unsigned char>(s[i + k]) : 0u; };
  const auto tail = [&](size_t k) { return (at(k) & 0xC0) == 0x80; };
  const unsigned c = at(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return tail(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return at(1) >= lo && at(1) <= hi && tail(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return at(1) >= lo && at(1) <= hi && tail(2) && tail(3) ? 4 : 0;
  }
  return 0;
}
}  // namespace

std::string json_quote(std::string_view s) {
  std::string q = "\"";
  for (size_t i = 0; i < s.size(); ++i) {
    const char ch = s[i];
    const auto u = static_cast<unsigned char>(ch);
    if (u >= 0x80) {
      // JSON text is UTF-8 (RFC 8259, section 8.1): well-formed sequences
      // pass through; a byte that starts none (a name from a non-UTF-8
      // source) becomes U+FFFD, as a decoder would show it, so the document
      // stays valid.
      const size_t n = utf8_length(s, i);
      if (n == 0) {
        q += "\\ufffd";
      } else {
        q.append(s.substr(i, n));
        i += n - 1;
      }
      continue;
    }
    switch (ch) {
      case '"': q += "\\\""; break;
      case '\\': q += "\\\\"; break;
      case '\n': q += "\\n"; break;
      case '\r': q += "\\r"; break;
      case '\t': q += "\\t"; break;
      default:
        if (u < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", u);
          q += buf;
        } else {
          q += ch;
        }
    }
  }
  q += '"';
  return q;
}

}  // namespace vmm

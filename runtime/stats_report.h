// Execution statistics at exit (--stats): collected once from the counters of
// the CPU, the softmmu, the bus and the JIT into a StatsReport, then written
// as aligned text for people or as one JSON object for tools. Both writers
// walk the same report, so a statistic is defined (name, meaning, derived
// rate) in one place: build_stats_report.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/cpu.h"
#include "runtime/softmmu.h"

namespace vmm {

namespace jit {
class JitEngine;
}

// One statistic. `key` is its JSON name (snake_case, unique in its section),
// `label` its text label.
struct StatEntry {
  enum class Kind {
    kCount,    // Integer.
    kSeconds,  // Seconds (text: "1.234 s").
    kReal,     // A derived quantity (text: `decimals` digits).
    kRate,     // A fraction in [0, 1] (JSON: the fraction; text: a percentage).
    kText,
  };
  std::string key;
  std::string label;
  Kind kind = Kind::kCount;
  uint64_t count = 0;
  double real = 0;
  int decimals = 1;
  std::string text;
  bool defined = true;  // False for a rate over no events: JSON null, text "-".
};

// Counts per name (mnemonic, vector), largest first. JSON lists every row;
// the text shows the first `text_rows` (all when 0).
struct StatDistribution {
  std::string key;
  std::string label;
  std::vector<std::pair<std::string, uint64_t>> rows;
  size_t text_rows = 0;
};

struct StatSection {
  std::string key;    // JSON member holding the section.
  std::string title;  // Text heading.
  std::vector<StatEntry> entries;
  std::vector<StatDistribution> distributions;  // Printed after the entries.
};

struct StatsReport {
  std::vector<StatSection> sections;
};

// What the report is built from (Machine::stats_report fills it in).
struct StatsSources {
  bool jit_engine = false;
  double seconds = 0;  // Wall-clock time of the run.
  const CpuStats& cpu;
  const SoftMmuStats& mmu;
  uint64_t unhandled_reads = 0;   // Port/MMIO accesses no device answered.
  uint64_t unhandled_writes = 0;
  const jit::JitEngine* jit = nullptr;  // Null under the interpreter.
};

StatsReport build_stats_report(const StatsSources& src);

// Aligned text, one section after the other (--stats).
void write_stats_text(FILE* out, const StatsReport& report);
// One JSON object: {"format": "vmm-stats", "version": 1, <section key>: {...}, ...}
// (--stats=json=FILE).
void write_stats_json(FILE* out, const StatsReport& report);

// `s` as a JSON string literal, quotes included (RFC 8259, section 7).
// Well-formed UTF-8 passes through; bytes that are not become U+FFFD.
std::string json_quote(std::string_view s);

}  // namespace vmm

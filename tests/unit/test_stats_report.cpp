// --stats: the counters are attributed to the right cause, the report derives
// misses and rates from them once, both writers render the same report (JSON
// escaping, undefined rates), and the command line accepts exactly the
// documented spellings. The JSON as a whole is parsed by the stats.* ctests
// (tests/guests/check_stats.py).
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "devices/bus.h"
#include "jit/jit_engine.h"
#include "runtime/cli.h"
#include "runtime/cpu.h"
#include "runtime/log.h"
#include "runtime/stats_report.h"

namespace vmm {
namespace {

const StatEntry* find(const StatsReport& r, const std::string& section, const std::string& key) {
  for (const StatSection& s : r.sections)
    if (s.key == section)
      for (const StatEntry& e : s.entries)
        if (e.key == key) return &e;
  return nullptr;
}

const StatDistribution* find_distribution(const StatsReport& r, const std::string& section, const std::string& key) {
  for (const StatSection& s : r.sections)
    if (s.key == section)
      for (const StatDistribution& d : s.distributions)
        if (d.key == key) return &d;
  return nullptr;
}

std::string render(void (*writer)(FILE*, const StatsReport&), const StatsReport& r) {
  char* buf = nullptr;
  size_t size = 0;
  FILE* f = open_memstream(&buf, &size);
  writer(f, r);
  std::fclose(f);
  std::string s(buf, size);
  std::free(buf);
  return s;
}

TEST(StatsReport, JsonQuoteEscapes) {
  EXPECT_EQ(json_quote("plain"), "\"plain\"");
  EXPECT_EQ(json_quote("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(json_quote("\n\r\t\x01\x1f"), "\"\\n\\r\\t\\u0001\\u001f\"");
  EXPECT_EQ(json_quote("caf\xc3\xa9"), "\"caf\xc3\xa9\"");  // UTF-8 as it is.
  EXPECT_EQ(json_quote("\xf0\x9f\x98\x80"), "\"\xf0\x9f\x98\x80\"");
}

// JSON text must be UTF-8 (RFC 8259, 8.1): bytes that are not well-formed
// UTF-8 (a stray continuation byte, a truncated sequence, an overlong form, an
// encoded surrogate) become U+FFFD, one per byte, and the rest passes through.
TEST(StatsReport, JsonQuoteReplacesInvalidUtf8) {
  EXPECT_EQ(json_quote("a\xff" "b"), "\"a\\ufffdb\"");
  EXPECT_EQ(json_quote("\x80"), "\"\\ufffd\"");
  EXPECT_EQ(json_quote("\xc3"), "\"\\ufffd\"");
  EXPECT_EQ(json_quote("\xc0\xaf"), "\"\\ufffd\\ufffd\"");
  EXPECT_EQ(json_quote("\xed\xa0\x80" "x"), "\"\\ufffd\\ufffd\\ufffdx\"");
  EXPECT_EQ(json_quote("\xe2\x82" "\xe2\x82\xac"), "\"\\ufffd\\ufffd\xe2\x82\xac\"");
}

TEST(StatsReport, DerivesMissesAndRatesOnce) {
  CpuStats c;
  c.instructions = 1000;
  c.block_lookups = 10;
  c.jump_cache_hits = 7;
  c.block_map_lookups = 3;
  c.block_map_hits = 1;
  c.exceptions = 3;
  c.exceptions_by_vector[14] = 2;
  c.exceptions_by_vector[13] = 1;
  const SoftMmuStats m;
  const StatsReport r = build_stats_report(StatsSources{.jit_engine = false, .seconds = 0.5, .cpu = c, .mmu = m});

  EXPECT_EQ(find(r, "block_cache", "jump_cache_misses")->count, 3u);
  EXPECT_EQ(find(r, "block_cache", "block_map_misses")->count, 2u);
  EXPECT_DOUBLE_EQ(find(r, "block_cache", "jump_cache_hit_rate")->real, 0.7);
  EXPECT_DOUBLE_EQ(find(r, "run", "mips")->real, 0.002);
  EXPECT_EQ(find(r, "jit_translation", "blocks_translated"), nullptr) << "no JIT sections under the interpreter";
  const StatDistribution* d = find_distribution(r, "events", "exceptions_by_vector");
  ASSERT_NE(d, nullptr);
  ASSERT_EQ(d->rows.size(), 2u);
  EXPECT_EQ(d->rows[0], (std::pair<std::string, uint64_t>{"#PF", 2}));  // Largest first.

  const std::string json = render(write_stats_json, r);
  EXPECT_NE(json.find("\"jump_cache_misses\": 3,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"exceptions_by_vector\": {\"#PF\": 2, \"#GP\": 1}"), std::string::npos) << json;
  const std::string text = render(write_stats_text, r);
  EXPECT_NE(text.find("#PF                   2"), std::string::npos) << text;
}

TEST(StatsReport, RateOverNoEventsIsUndefined) {
  const CpuStats c;  // No lookups, no time.
  const SoftMmuStats m;
  const StatsReport r = build_stats_report(StatsSources{.jit_engine = false, .seconds = 0, .cpu = c, .mmu = m});
  EXPECT_FALSE(find(r, "block_cache", "jump_cache_hit_rate")->defined);
  EXPECT_FALSE(find(r, "run", "mips")->defined);
  EXPECT_NE(render(write_stats_json, r).find("\"jump_cache_hit_rate\": null"), std::string::npos);
  const std::string text = render(write_stats_text, r);
  const size_t at = text.find("guest MIPS");
  ASSERT_NE(at, std::string::npos);
  EXPECT_EQ(text.substr(text.find('\n', at) - 1, 1), "-") << text;
}

TEST(StatsReport, InvalidationsCountedByCause) {
  GuestRam ram(1u << 20);
  Bus bus;
  Cpu cpu(ram, bus);
  const CpuStats before = cpu.stats();  // Construction resets the CPU (a paging change).
  cpu.tlb_flush_page(0x1000);
  cpu.paging_changed(/*keep_global=*/true);
  cpu.paging_changed();
  cpu.flush_code_cache();
  const CpuStats& after = cpu.stats();
  EXPECT_EQ(after.invlpg_flushes - before.invlpg_flushes, 1u);
  EXPECT_EQ(after.cr3_flushes - before.cr3_flushes, 1u);
  EXPECT_EQ(after.paging_flushes - before.paging_flushes, 1u);
  EXPECT_EQ(after.code_cache_flushes - before.code_cache_flushes, 1u);
  EXPECT_EQ(after.smc_invalidations, 0u);
}

TEST(StatsReport, JitHelpersCountedAtRunTime) {
  GuestRam ram(4u << 20);
  Bus bus;
  Cpu cpu(ram, bus);
  cpu.reset_flat_protected(0x1000);
  cpu.enable_jit(4u << 20);
  // mov ecx, 5; L: out 0x80, al; mov [ecx*4+0x8000], eax; dec ecx; jnz L;
  // mov [0x1000], al (a write over the decoded first instruction); hlt
  const std::vector<uint8_t> code = {0xB9, 0x05, 0x00, 0x00, 0x00, 0xE6, 0x80, 0x89, 0x04, 0x8D, 0x00, 0x80,
                                     0x00, 0x00, 0x49, 0x75, 0xF4, 0xA2, 0x00, 0x10, 0x00, 0x00, 0xF4};
  std::memcpy(ram.ptr(0x1000), code.data(), code.size());
  EXPECT_EQ(cpu.run(1000), StopReason::kHalted);

  const CpuStats& c = cpu.stats();
  EXPECT_EQ(c.jit_helpers.interp_calls[ZYDIS_MNEMONIC_OUT], 5u);  // OUT always goes through its handler.
  EXPECT_GE(c.jit_helpers.mem_slow_refills, 1u);                  // The first store misses the TLB.
  EXPECT_EQ(c.smc_invalidations, 1u);
  EXPECT_GE(c.blocks_invalidated, 1u);
  EXPECT_LE(c.jump_cache_hits, c.block_lookups);
  EXPECT_EQ(c.block_map_lookups, c.block_map_hits + c.blocks_built);

  const StatsReport r = build_stats_report(
      StatsSources{.jit_engine = true, .seconds = 1, .cpu = c, .mmu = cpu.mmu.stats(), .jit = cpu.jit()});
  // OUT five times, the store to the code page (the memory slow path hands
  // it to the interpreter), HLT.
  const StatDistribution* d = find_distribution(r, "jit_execution", "helper_calls_by_mnemonic");
  ASSERT_NE(d, nullptr);
  using Row = std::pair<std::string, uint64_t>;
  EXPECT_EQ(d->rows, (std::vector<Row>{{"out", 5}, {"hlt", 1}, {"mov", 1}}));
  EXPECT_EQ(find(r, "jit_execution", "helper_calls")->count, 7u);
  EXPECT_EQ(find(r, "jit_execution", "mem_slow_special")->count, 1u);
  EXPECT_GT(find(r, "jit_translation", "guest_instructions")->count, 0u);
}

bool parse(std::vector<std::string> args, CliOptions& out, std::string& error) {
  args.insert(args.begin(), {"vmm", "-kernel", "k.elf"});
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  return parse_command_line(static_cast<int>(argv.size()), argv.data(), out, error);
}

TEST(StatsCli, Spellings) {
  struct Case {
    std::vector<std::string> args;
    bool text;
    std::string json;
  };
  const Case cases[] = {
      {{}, false, ""},
      {{"--stats"}, true, ""},
      {{"-stats"}, true, ""},  // QEMU-style single dash.
      {{"--stats=text"}, true, ""},
      {{"--stats=json=out.json"}, false, "out.json"},
      {{"--stats=json=-"}, false, "-"},
      {{"--stats=json=a=b.json"}, false, "a=b.json"},
      {{"--stats", "--stats=json=s.json"}, true, "s.json"},
  };
  for (const Case& c : cases) {
    CliOptions opt;
    std::string error;
    ASSERT_TRUE(parse(c.args, opt, error)) << error;
    EXPECT_EQ(opt.stats_text, c.text);
    EXPECT_EQ(opt.stats_json, c.json);
  }
}

TEST(StatsCli, MalformedValuesAreOneLineErrors) {
  for (const char* bad : {"--stats=xml", "--stats=json", "--stats=json=", "--stats=JSON=x"}) {
    CliOptions opt;
    std::string error;
    EXPECT_FALSE(parse({bad}, opt, error)) << bad;
    EXPECT_NE(error.find("--stats"), std::string::npos) << error;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  }
  // The value is part of the option: a separate word is not taken as one.
  CliOptions opt;
  std::string error;
  EXPECT_FALSE(parse({"--stats", "json=x"}, opt, error));
}

// The JIT's memory path and the perf map (QEMU's -perfmap) in both spellings.
TEST(JitCli, HostMmuAndPerfmap) {
  struct Case {
    std::vector<std::string> args;
    bool host_mmu, perfmap;
  };
  const Case cases[] = {
      {{}, true, false},
      {{"--host-mmu=off"}, false, false},
      {{"-host-mmu", "off"}, false, false},
      {{"--host-mmu=on", "--perfmap"}, true, true},
      {{"-perfmap"}, true, true},
  };
  for (const Case& c : cases) {
    CliOptions opt;
    std::string error;
    ASSERT_TRUE(parse(c.args, opt, error)) << error;
    EXPECT_EQ(opt.machine.host_mmu, c.host_mmu);
    EXPECT_EQ(opt.perfmap, c.perfmap);
  }
  CliOptions opt;
  std::string error;
  EXPECT_FALSE(parse({"--host-mmu=maybe"}, opt, error));
  EXPECT_NE(error.find("--host-mmu"), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
}

// --jit-threshold: 32 by default, both spellings, at least 1; --lockstep
// translates every block the JIT machine runs.
TEST(JitCli, JitThreshold) {
  CliOptions opt;
  std::string error;
  ASSERT_TRUE(parse({}, opt, error)) << error;
  EXPECT_EQ(opt.machine.jit_threshold, 32u);
  ASSERT_TRUE(parse({"--jit-threshold", "5"}, opt, error)) << error;
  EXPECT_EQ(opt.machine.jit_threshold, 5u);
  ASSERT_TRUE(parse({"-jit-threshold", "1"}, opt, error)) << error;
  EXPECT_EQ(opt.machine.jit_threshold, 1u);
  CliOptions lock;
  ASSERT_TRUE(parse({"--jit-threshold", "9", "--lockstep", "100"}, lock, error)) << error;
  EXPECT_EQ(lock.machine.jit_threshold, 1u);
  CliOptions bad;
  EXPECT_FALSE(parse({"--jit-threshold", "0"}, bad, error));
  EXPECT_NE(error.find("--jit-threshold"), std::string::npos) << error;
}

// -dfilter, as QEMU spells its ranges: START+SIZE, START-SIZE (ending at
// START), START..END (inclusive); several, comma separated.
TEST(LogCli, DfilterRanges) {
  CliOptions opt;
  std::string error;
  ASSERT_TRUE(parse({"-d", "in_asm", "-dfilter", "0x1000+0x10,0x3000-0x100,0x5000..0x5003"}, opt, error)) << error;
  Log log;
  ASSERT_TRUE(log.parse(opt.log_items, error)) << error;
  ASSERT_TRUE(log.parse_filter(opt.log_filter, error)) << error;
  for (uint32_t in : {0x1000u, 0x100Fu, 0x2F01u, 0x3000u, 0x5000u, 0x5003u})
    EXPECT_TRUE(log.enabled_at(LogMask::kInAsm, in)) << std::hex << in;
  for (uint32_t out : {0xFFFu, 0x1010u, 0x2F00u, 0x3001u, 0x4FFFu, 0x5004u})
    EXPECT_FALSE(log.enabled_at(LogMask::kInAsm, out)) << std::hex << out;
  EXPECT_FALSE(log.enabled_at(LogMask::kOutAsm, 0x1000));  // Not asked for.
  Log all;
  ASSERT_TRUE(all.parse("in_asm", error));
  EXPECT_TRUE(all.enabled_at(LogMask::kInAsm, 0xDEADBEEF));  // No filter: every address.
  for (const char* bad : {"0x1000", "0x1000+0", "0x2000..0x1000", "0x10-0x20", "0xFFFFFFFF+2", "x+1", "1+2+3"}) {
    Log l;
    EXPECT_FALSE(l.parse_filter(bad, error)) << bad;
    EXPECT_NE(error.find("-dfilter"), std::string::npos) << error;
  }
}

// -sandbox on|off as QEMU spells it: on by default; QEMU's sub-options are
// accepted only as =deny, which is what vmm's filter always does.
TEST(SandboxCli, OnByDefaultAndOffOnRequest) {
  CliOptions opt;
  std::string error;
  ASSERT_TRUE(parse({}, opt, error)) << error;
  EXPECT_TRUE(opt.sandbox);
  CliOptions off;
  ASSERT_TRUE(parse({"-sandbox", "off"}, off, error)) << error;
  EXPECT_FALSE(off.sandbox);
  CliOptions deny;
  ASSERT_TRUE(parse({"-sandbox", "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"}, deny,
                    error))
      << error;
  EXPECT_TRUE(deny.sandbox);
  for (const char* bad : {"maybe", "on,spawn=allow", "on,spawn", "off,foo=deny", ""}) {
    CliOptions o;
    EXPECT_FALSE(parse({"-sandbox", bad}, o, error)) << bad;
    EXPECT_NE(error.find("-sandbox"), std::string::npos) << error;
  }
}

}  // namespace
}  // namespace vmm

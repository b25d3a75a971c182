#include "runtime/cli.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace vmm {

namespace {
// QEMU options are single-dash words (-kernel, -append). CLI11 reads words
// after a double dash, so single-dash spellings of these names are rewritten.
const char* const kQemuStyle[] = {"kernel", "initrd", "append", "m", "nographic", "serial", "d", "D", "dfilter", "no-reboot",
                                  "display", "monitor", "device", "engine", "stats", "tb-size", "icount", "lockstep",
                                  "perfmap", "host-mmu", "jit-threshold", "sandbox"};

std::vector<std::string> normalise(int argc, char** argv) {
  std::vector<std::string> args;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.size() > 2 && a[0] == '-' && a[1] != '-') {
      const std::string word = a.substr(1, a.find('=') == std::string::npos ? std::string::npos : a.find('=') - 1);
      for (const char* q : kQemuStyle) {
        if (word == q && std::strlen(q) > 1) {
          a = "-" + a;
          break;
        }
      }
    }
    args.push_back(a);
  }
  return args;
}
// QEMU's -sandbox on|off[,obsolete=..][,elevateprivileges=..][,spawn=..][,resourcecontrol=..].
// vmm's filter denies all four kinds of call, so only =deny is accepted.
bool parse_sandbox(const std::string& text, bool& on, std::string& error) {
  const size_t comma = text.find(',');
  const std::string mode = text.substr(0, comma);
  if (mode != "on" && mode != "off") {
    error = "invalid -sandbox '" + text + "' (expected on or off)";
    return false;
  }
  on = mode == "on";
  size_t pos = comma;
  while (pos != std::string::npos) {
    const size_t next = text.find(',', pos + 1);
    const std::string item = text.substr(pos + 1, next == std::string::npos ? std::string::npos : next - pos - 1);
    const size_t eq = item.find('=');
    const std::string key = item.substr(0, eq);
    const bool known = key == "obsolete" || key == "elevateprivileges" || key == "spawn" || key == "resourcecontrol";
    if (!known || eq == std::string::npos || item.substr(eq + 1) != "deny") {
      error = "unsupported -sandbox option '" + item +
              "' (vmm's sandbox always denies obsolete, elevateprivileges, spawn and resourcecontrol calls)";
      return false;
    }
    pos = next;
  }
  return true;
}
}  // namespace

bool parse_memory_size(const std::string& text, uint64_t& bytes) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text[0]))) return false;
  size_t pos = 0;
  unsigned long long v;
  try {
    v = std::stoull(text, &pos);
  } catch (...) {
    return false;
  }
  std::string suffix = text.substr(pos);
  uint64_t mul = 1ull << 20;  // QEMU: a bare number is MiB.
  if (suffix == "K" || suffix == "k") mul = 1ull << 10;
  else if (suffix == "M" || suffix == "m" || suffix.empty()) mul = 1ull << 20;
  else if (suffix == "G" || suffix == "g") mul = 1ull << 30;
  else return false;
  if (v == 0 || v > (1ull << 40) / mul) return false;
  bytes = v * mul;
  return true;
}

namespace {
// The values of a report option given as OPTION, OPTION=text or
// OPTION=json=FILE (--stats, --profile), possibly more than once.
bool parse_report_option(const std::string& option, const std::vector<std::string>& values, bool& text,
                         std::string& json, std::string& error) {
  for (const std::string& v : values) {
    if (v == "true" || v == "text") {  // CLI11 hands a bare flag over as "true".
      text = true;
    } else if (v.rfind("json=", 0) == 0 && v.size() > 5) {
      json = v.substr(5);
    } else {
      error = "invalid " + option + " '" + v + "' (expected " + option + ", " + option + "=text or " + option +
              "=json=FILE)";
      return false;
    }
  }
  return true;
}
}  // namespace

bool parse_command_line(int argc, char** argv, CliOptions& out, std::string& error) {
  CLI::App app{"vmm: an IA-32 virtual machine monitor (interpreter and block-caching JIT)", "vmm"};
  std::string mem = "128";
  std::string serial = "stdio";
  std::string engine = "jit";
  std::string display, monitor;
  std::vector<std::string> devices;
  app.add_option("--kernel", out.machine.kernel,
                 "Kernel to boot: a Linux bzImage, or a multiboot kernel (ELF32 or a.out kludge)")
      ->required();
  app.add_option("--initrd", out.machine.initrd, "Initial ramdisk for a Linux bzImage kernel");
  app.add_option("--append", out.machine.append, "Kernel command line");
  app.add_option("-m", mem, "Guest RAM size in MiB (suffixes K, M, G as QEMU)");
  bool nographic = false;
  app.add_flag("--nographic", nographic, "No graphical output; serial on stdio (always the case)");
  app.add_option("--serial", serial, "Serial port back end: stdio (default) or none/null");
  app.add_option("-d", out.log_items, "Log items, comma separated: in_asm,out_asm,exec,int,cpu,unimp,guest_errors");
  app.add_option("--dfilter", out.log_filter,
                 "Limit the per-block -d items to guest code in these ranges: START+SIZE, START-SIZE, START..END");
  app.add_option("-D", out.log_file, "Write the -d log to this file instead of stderr");
  app.add_flag("--no-reboot", out.machine.no_reboot, "Exit instead of rebooting on a triple fault");
  app.add_option("--display", display, "Display back end (only 'none')");
  app.add_option("--monitor", monitor, "Monitor back end (only 'none')");
  app.add_option("--device", devices, "Device (only isa-debug-exit, which is always present at 0xf4)");
  app.add_option("--engine", engine, "Execution engine: interp or jit")->check(CLI::IsMember({"interp", "jit"}));
  std::vector<std::string> stats;
  app.add_flag("--stats", stats,
               "Statistics at exit: as text on stderr (--stats, --stats=text) or as one JSON object "
               "written to FILE (--stats=json=FILE; '-' is stdout); may be given twice for both")
      ->option_text("[=text|json=FILE]");
  app.add_option("--lockstep", out.lockstep,
                 "Run the JIT and the interpreter side by side, comparing state every N instructions "
                 "(implies --engine=jit and --icount)")
      ->check(CLI::Range(uint64_t{1}, uint64_t{1} << 40));
  std::vector<std::string> profile;
  app.add_flag("--profile", profile,
               "Hot-block profile at exit (sampling 1000 Hz of CPU time): guest blocks ranked by time, with "
               "executions, host bytes and the code of the hottest, as text on stderr (--profile) or JSON "
               "(--profile=json=FILE)")
      ->option_text("[=text|json=FILE]");
  app.add_flag("--perfmap", out.perfmap,
               "Write /tmp/perf-<pid>.map naming each translated block, for perf (QEMU's -perfmap)");
  std::string host_mmu = "on";
  app.add_option("--host-mmu", host_mmu,
                 "JIT: guest memory through host mappings of guest pages (on, the default) or inline "
                 "softmmu TLB probes (off)")
      ->check(CLI::IsMember({"on", "off"}));
  std::string icount;
  app.add_option("--icount", icount,
                 "Deterministic virtual time: each instruction takes 2^N ns ('N' or 'shift=N' as QEMU; N <= 10)");
  app.add_option("--jit-threshold", out.machine.jit_threshold,
                 "JIT: translate a block at its Nth execution, interpret it before (default 32; 1: at once)")
      ->check(CLI::Range(1u, 1000000u));
  std::string sandbox = "on";
  app.add_option("--sandbox", sandbox,
                 "Seccomp sandbox of the running VM: on (the default) or off; QEMU's sub-options "
                 "obsolete, elevateprivileges, spawn and resourcecontrol are accepted as =deny "
                 "(what vmm's sandbox always does)");
  // Translation-cache study knobs (frontend/engine_tuning.h, bench/README.md).
  EngineTuning& tuning = out.machine.tuning;
  app.add_option("--max-block-insns", tuning.max_block_instrs,
                 "Longest block in guest instructions (default 64; 1 as QEMU's -one-insn-per-tb)")
      ->check(CLI::Range(1u, kMaxBlockInstrs));
  bool one_insn = false;
  app.add_flag("--one-insn-per-tb", one_insn, "One guest instruction per block (QEMU's -one-insn-per-tb)");
  std::string superblocks = "on", jump_cache = "on", jit_chain = "on", jit_lookup = "on", jit_x87 = "on";
  app.add_option("--superblocks", superblocks, "Blocks go on past a conditional branch: on (default) or off")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--jump-cache", jump_cache,
                 "Block lookup probes the jump cache (virtual EIP) before the block map: on (default) or off")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--jit-chain", jit_chain,
                 "JIT: direct exits jump into the next translation: on (default) or off (also -d nochain, "
                 "which turns inline lookups off too)")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--jit-lookup", jit_lookup,
                 "JIT: indirect branches look their target up inline: on (default) or off (back to the run loop)")
      ->check(CLI::IsMember({"on", "off"}));
  app.add_option("--jit-x87", jit_x87,
                 "JIT: x87 instructions run natively on the guest's registers in the host FPU where every x87 "
                 "exception is masked: on (default) or off (interpreter helpers)")
      ->check(CLI::IsMember({"on", "off"}));
  unsigned tb_mb = 32;
  app.add_option("--tb-size", tb_mb, "JIT translation buffer size in MiB (QEMU's tb-size)")
      ->check(CLI::Range(1u, 2047u));

  std::vector<std::string> args = normalise(argc, argv);
  std::reverse(args.begin(), args.end());
  try {
    app.parse(args);
  } catch (const CLI::CallForHelp&) {
    out.show_help = true;
    error = app.help();
    return true;
  } catch (const CLI::ParseError& e) {
    error = e.what();
    return false;
  }

  if (!parse_memory_size(mem, out.machine.ram_bytes)) {
    error = "invalid memory size '" + mem + "' (expected MiB, or a number with K/M/G)";
    return false;
  }
  if (serial == "stdio") out.machine.serial_stdio = true;
  else if (serial == "none" || serial == "null") out.machine.serial_stdio = false;
  else {
    error = "unsupported -serial back end '" + serial + "' (stdio, none)";
    return false;
  }
  if (!display.empty() && display != "none") {
    error = "unsupported -display '" + display + "' (vmm has no display; use none)";
    return false;
  }
  if (!monitor.empty() && monitor != "none") {
    error = "unsupported -monitor '" + monitor + "' (use none)";
    return false;
  }
  for (const std::string& d : devices) {
    if (d.rfind("isa-debug-exit", 0) != 0) {
      error = "unsupported -device '" + d + "' (only isa-debug-exit, which is built in at port 0xf4)";
      return false;
    }
  }
  if (!parse_report_option("--stats", stats, out.stats_text, out.stats_json, error) ||
      !parse_report_option("--profile", profile, out.profile_text, out.profile_json, error))
    return false;
  if (!parse_sandbox(sandbox, out.sandbox, error)) return false;
  out.machine.engine = engine == "jit" ? Engine::kJit : Engine::kInterp;
  out.machine.tb_bytes = uint64_t{tb_mb} << 20;
  out.machine.host_mmu = host_mmu == "on";
  if (one_insn) tuning.max_block_instrs = 1;
  tuning.superblocks = superblocks == "on";
  tuning.jump_cache = jump_cache == "on";
  tuning.chaining = jit_chain == "on";
  tuning.inline_lookup = jit_lookup == "on";
  tuning.x87_native = jit_x87 == "on";
  if (out.lockstep) {
    out.machine.engine = Engine::kJit;
    out.machine.jit_threshold = 1;  // Every block the JIT machine runs is translated code.
    out.machine.icount = true;  // Both machines must see the same time.
  }
  if (!icount.empty()) {
    std::string v = icount;
    if (v.rfind("shift=", 0) == 0) v = v.substr(6);
    const size_t comma = v.find(',');
    if (comma != std::string::npos) v = v.substr(0, comma);
    if (v.empty() || v.size() > 2 || v.find_first_not_of("0123456789") != std::string::npos || std::stoul(v) > 10) {
      error = "invalid --icount '" + icount + "' (expected N or shift=N with N from 0 to 10)";
      return false;
    }
    out.machine.icount = true;
    out.machine.icount_shift = static_cast<unsigned>(std::stoul(v));
  }
  return true;
}

}  // namespace vmm

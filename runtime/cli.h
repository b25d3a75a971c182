// The command line, in QEMU's spelling wherever QEMU has the option.
#pragma once

#include <string>
#include <vector>

#include "runtime/machine.h"

namespace vmm {

struct CliOptions {
  MachineConfig machine;
  std::string log_items;  // -d
  std::string log_file;   // -D
  std::string log_filter;  // -dfilter
  bool stats_text = false;  // --stats, --stats=text: statistics on stderr at exit.
  std::string stats_json;   // --stats=json=FILE: statistics as JSON into FILE ("-": stdout).
  bool perfmap = false;     // --perfmap: /tmp/perf-<pid>.map for perf (QEMU's -perfmap).
  bool profile_text = false;  // --profile, --profile=text: the hot-block profile on stderr at exit.
  std::string profile_json;   // --profile=json=FILE: the profile as JSON into FILE ("-": stdout).
  uint64_t lockstep = 0;  // --lockstep N: compare JIT and interpreter every N instructions.
  bool sandbox = true;    // -sandbox on|off: the seccomp filter of runtime/sandbox.h.
  bool show_help = false;
};

// Parses argv. On an error returns false with a one-line message in `error`;
// on -h/--help returns true with show_help set and the text in `error`.
bool parse_command_line(int argc, char** argv, CliOptions& out, std::string& error);

// Parses a QEMU -m size: a number of MiB, or with a suffix K/M/G (as QEMU).
bool parse_memory_size(const std::string& text, uint64_t& bytes);

}  // namespace vmm

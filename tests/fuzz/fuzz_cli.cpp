// Fuzz harness: the command line (runtime/cli.h) and the -d / -dfilter lists
// (runtime/log.h), as runtime/main.cpp takes them.
//
// Input: the arguments, separated by NUL bytes (argv[0] is "vmm"; an input
// that does not end in NUL has its last argument end with the input).
//
// Properties: parse_command_line returns (no exception, crash or sanitizer
// report); a refused command line has a one-line error message (one that
// names an argument holding a newline may show it); an accepted one gives
// values within the documented ranges; parse_memory_size accepts only sizes
// between 1 byte and 1 TiB; Log::parse and Log::parse_filter likewise refuse
// with one line.
#include <exception>
#include <string>
#include <vector>

#include "runtime/cli.h"
#include "runtime/log.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

void check_error(const std::string& error, bool input_has_newline, const char* what) {
  FUZZ_CHECK(!error.empty(), "%s refused without a message", what);
  FUZZ_CHECK(input_has_newline || error.find('\n') == std::string::npos, "%s: message is not one line: '%s'", what,
             error.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> args{"vmm"};
  std::string current;
  for (size_t i = 0; i < size; ++i) {
    if (data[i] == 0) {
      args.push_back(current);
      current.clear();
    } else {
      current += static_cast<char>(data[i]);
    }
  }
  if (!current.empty()) args.push_back(current);
  if (args.size() > 256) return 0;  // The work grows with the count; nothing new is found past that.
  bool newline = false;
  for (const std::string& a : args) newline |= a.find('\n') != std::string::npos;

  for (const std::string& a : args) {
    uint64_t bytes = 0;
    if (vmm::parse_memory_size(a, bytes)) {
      FUZZ_CHECK(bytes >= 1 && bytes <= (uint64_t{1} << 40), "parse_memory_size('%s') = %llu", a.c_str(),
                 static_cast<unsigned long long>(bytes));
    }
  }

  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  vmm::CliOptions opt;
  std::string error;
  bool ok = false;
  try {
    ok = vmm::parse_command_line(static_cast<int>(args.size()), argv.data(), opt, error);
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, "parse_command_line threw: %s", e.what());
  }
  if (!ok) {
    check_error(error, newline, "parse_command_line");
    return 0;
  }
  if (opt.show_help) {
    FUZZ_CHECK(!error.empty(), "help without text");
    return 0;
  }
  const vmm::MachineConfig& m = opt.machine;
  FUZZ_CHECK(m.ram_bytes >= 1 && m.ram_bytes <= (uint64_t{1} << 40), "ram_bytes %llu",
             static_cast<unsigned long long>(m.ram_bytes));
  FUZZ_CHECK(m.icount_shift <= 10, "icount shift %u", m.icount_shift);
  FUZZ_CHECK(m.tb_bytes >= (uint64_t{1} << 20) && m.tb_bytes <= (uint64_t{2047} << 20), "tb_bytes %llu",
             static_cast<unsigned long long>(m.tb_bytes));
  FUZZ_CHECK(m.jit_threshold >= 1 && m.jit_threshold <= 1000000, "jit threshold %u", m.jit_threshold);
  FUZZ_CHECK(opt.lockstep <= (uint64_t{1} << 40), "lockstep %llu", static_cast<unsigned long long>(opt.lockstep));
  FUZZ_CHECK(!opt.lockstep || (m.engine == vmm::Engine::kJit && m.icount), "--lockstep without JIT and icount");

  // What main() does next with the -d and -dfilter lists (-D opens a file:
  // not here).
  vmm::Log log;
  std::string log_error;
  try {
    if (!log.parse(opt.log_items, log_error)) check_error(log_error, newline, "Log::parse");
    log_error.clear();
    if (!log.parse_filter(opt.log_filter, log_error)) check_error(log_error, newline, "Log::parse_filter");
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, "the log options threw: %s", e.what());
  }
  return 0;
}

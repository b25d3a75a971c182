// vmm: command-line entry point.
#include <chrono>
#include <cstdio>
#include <exception>

#include "runtime/cli.h"
#include "runtime/lockstep.h"
#include "runtime/log.h"
#include "runtime/machine.h"

int main(int argc, char** argv) {
  using namespace vmm;
  CliOptions opt;
  std::string error;
  if (!parse_command_line(argc, argv, opt, error)) {
    std::fprintf(stderr, "vmm: %s\n", error.c_str());
    return kExitUsage;
  }
  if (opt.show_help) {
    std::fputs(error.c_str(), stdout);
    return 0;
  }
  Log log;
  if (opt.log_items == "help") {
    std::fputs(Log::help(), stdout);
    return 0;
  }
  if (!log.parse(opt.log_items, error)) {
    std::fprintf(stderr, "vmm: %s\n", error.c_str());
    return kExitUsage;
  }
  if (!opt.log_file.empty() && !log.open(opt.log_file)) {
    std::fprintf(stderr, "vmm: cannot open log file '%s'\n", opt.log_file.c_str());
    return kExitUsage;
  }

  try {
    Machine machine(opt.machine, log);
    const auto t0 = std::chrono::steady_clock::now();
    int status;
    if (opt.lockstep) {
      MachineConfig ref_config = opt.machine;
      ref_config.engine = Engine::kInterp;
      ref_config.serial_stdio = false;
      Log quiet;
      Machine reference(ref_config, quiet);
      status = run_lockstep(machine, reference, opt.lockstep);
    } else {
      status = machine.run();
    }
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fflush(stdout);
    if (opt.stats) machine.print_stats(stderr, secs);
    return status;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vmm: %s\n", e.what());
    return kExitUsage;
  }
}

// vmm: command-line entry point.
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <exception>
#include <memory>
#include <new>

#include "jit/jit_engine.h"
#include "runtime/cli.h"
#include "runtime/console.h"
#include "runtime/lockstep.h"
#include "runtime/profiler.h"
#include "runtime/log.h"
#include "runtime/machine.h"
#include "runtime/sandbox.h"
#include "runtime/stats_report.h"

namespace {

using OutputFile = std::unique_ptr<FILE, int (*)(FILE*)>;

// Opens a report's output file (--stats=json=FILE, --profile=json=FILE)
// before the run, so that a bad path does not cost one: "-" is stdout, ""
// none. On failure, one line on stderr.
bool open_output(const std::string& path, const char* what, OutputFile& out) {
  if (path == "-") {
    out = {stdout, [](FILE*) { return 0; }};
  } else if (!path.empty()) {
    out.reset(std::fopen(path.c_str(), "w"));
    if (!out) {
      std::fprintf(stderr, "vmm: cannot open %s file '%s': %s\n", what, path.c_str(), std::strerror(errno));
      return false;
    }
  }
  return true;
}

int run_vmm(int argc, char** argv) {
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
  if (!log.parse(opt.log_items, error) || !log.parse_filter(opt.log_filter, error)) {
    std::fprintf(stderr, "vmm: %s\n", error.c_str());
    return kExitUsage;
  }
  if (!opt.log_file.empty() && !log.open(opt.log_file)) {
    std::fprintf(stderr, "vmm: %s: cannot open log file: %s\n", opt.log_file.c_str(), std::strerror(errno));
    return kExitUsage;
  }

  // A terminal on stdin becomes the serial console in raw mode (Ctrl-A x
  // quits); opened before the machine, so that its fatal-signal handlers
  // restoring the terminal come before the JIT's, which pass on to them.
  std::unique_ptr<TerminalConsole> console;
  if (opt.machine.serial_stdio) console = TerminalConsole::open(STDIN_FILENO, STDOUT_FILENO);

  {
    Machine machine(opt.machine, log);
    // Opened before the run, so that a bad path does not cost one.
    OutputFile stats_json(nullptr, std::fclose);
    if (!open_output(opt.stats_json, "statistics", stats_json)) return kExitUsage;
    // Inline lookups of indirect branches are counted only when reported.
    if ((opt.stats_text || stats_json) && machine.cpu().jit()) machine.cpu().jit()->set_count_lookups(true);
    if (opt.perfmap) {
      if (!machine.cpu().jit()) {
        std::fprintf(stderr, "vmm: --perfmap needs --engine=jit\n");
        return kExitUsage;
      }
      if (!machine.cpu().jit()->open_perf_map()) {
        std::fprintf(stderr, "vmm: cannot create /tmp/perf-<pid>.map: %s\n", std::strerror(errno));
        return kExitUsage;
      }
    }
    // The profile's JSON file is opened now (the sandbox forbids opening files);
    // sampling starts with the run.
    std::unique_ptr<Profiler> profiler;
    OutputFile profile_json(nullptr, std::fclose);
    if (!open_output(opt.profile_json, "profile", profile_json)) return kExitUsage;
    // The lockstep reference is built before the sandbox closes the file system.
    Log quiet;
    std::unique_ptr<Machine> reference;
    if (opt.lockstep) {
      MachineConfig ref_config = opt.machine;
      ref_config.engine = Engine::kInterp;
      ref_config.serial_stdio = false;
      reference = std::make_unique<Machine>(ref_config, quiet);
    }
    // Sampling starts now: the timer cannot be set once the sandbox is on.
    if (opt.profile_text || profile_json) {
      profiler = std::make_unique<Profiler>();
      machine.cpu().profiler = profiler.get();
      if (jit::JitEngine* jit = machine.cpu().jit()) {
        jit->set_profile(true);
        const auto begin = reinterpret_cast<uintptr_t>(jit->buffer().base());
        profiler->set_code_buffer(begin, begin + jit->buffer().size());
      }
    }
    // From here on the process only runs the guest: everything it opens is open.
    if (opt.sandbox && !enter_sandbox(error)) {
      std::fprintf(stderr, "vmm: %s (-sandbox off runs without it)\n", error.c_str());
      return kExitUsage;
    }
    const auto t0 = std::chrono::steady_clock::now();
    const int status = reference ? run_lockstep(machine, *reference, opt.lockstep) : machine.run();
    const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::fflush(stdout);
    if (opt.stats_text || stats_json) {
      const StatsReport report = machine.stats_report(secs);
      if (opt.stats_text) write_stats_text(stderr, report);
      if (stats_json) {
        write_stats_json(stats_json.get(), report);
        if (std::fflush(stats_json.get()) != 0 || std::ferror(stats_json.get()))
          std::fprintf(stderr, "vmm: cannot write statistics file '%s'\n", opt.stats_json.c_str());
      }
    }
    if (profiler) {
      profiler->finish(machine.cpu());
      if (opt.profile_text) profiler->write_text(stderr, machine.cpu());
      if (profile_json) {
        profiler->write_json(profile_json.get());
        if (std::fflush(profile_json.get()) != 0 || std::ferror(profile_json.get()))
          std::fprintf(stderr, "vmm: cannot write profile file '%s'\n", opt.profile_json.c_str());
      }
      machine.cpu().profiler = nullptr;
    }
    return status;
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing a run throws may end it with an abort: every exception becomes
  // one line on stderr and a status the README documents.
  try {
    return run_vmm(argc, argv);
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "vmm: out of host memory\n");
    return vmm::kExitUsage;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vmm: %s\n", e.what());
    return vmm::kExitUsage;
  } catch (...) {
    std::fprintf(stderr, "vmm: unexpected internal error\n");
    return vmm::kExitGuestCrash;
  }
}

// The seccomp sandbox (runtime/sandbox.h): a running VM keeps the calls its
// run loop needs, and a forbidden call made while the guest runs kills the
// process with one line naming it. The forbidden calls are made by a test
// device on an I/O port the guest writes to, standing in for a VMM bug a
// guest could reach; each case runs in a death-test child process, since
// the filter cannot be lifted.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "devices/io_device.h"
#include "runtime/machine.h"
#include "runtime/sandbox.h"
#include "runtime/sanitizers.h"

namespace vmm {
namespace {

constexpr uint16_t kTestPort = 0x500;  // No device of the PC board lives here.

// Runs `action` when the guest writes to kTestPort.
class ActionDevice : public IoDevice {
 public:
  explicit ActionDevice(std::function<void()> action) : action_(std::move(action)) {}
  const char* name() const override { return "sandbox-test"; }
  uint32_t read(uint32_t, unsigned) override { return 0; }
  void write(uint32_t, unsigned, uint32_t) override { action_(); }

 private:
  std::function<void()> action_;
};

void put32(std::vector<uint8_t>& v, size_t at, uint32_t x) {
  for (int i = 0; i < 4; ++i) v[at + i] = static_cast<uint8_t>(x >> (8 * i));
}

// An a.out-kludge multiboot kernel loaded at 1 MiB whose code (at 0x100020,
// checked with objdump -b binary -mi386) is:
//   mov al, 1 / mov dx, 0x500 / out dx, al   ; the test device's action
//   mov al, 0 / out 0xf4, al                 ; isa-debug-exit: status 1
//   hlt / jmp $-1
std::string write_guest() {
  std::vector<uint8_t> image(0x20, 0);
  put32(image, 0, 0x1BADB002);
  put32(image, 4, 1u << 16);
  put32(image, 8, static_cast<uint32_t>(0u - 0x1BADB002 - (1u << 16)));
  put32(image, 12, 0x100000);  // header_addr
  put32(image, 16, 0x100000);  // load_addr
  put32(image, 28, 0x100020);  // entry
  const uint8_t code[] = {0xB0, 0x01, 0x66, 0xBA, 0x00, 0x05, 0xEE, 0xB0, 0x00, 0xE6, 0xF4, 0xF4, 0xEB, 0xFD};
  image.insert(image.end(), std::begin(code), std::end(code));
  char path[] = "/tmp/vmm-sandbox-test-XXXXXX";
  const int fd = mkstemp(path);
  if (fd < 0) return "";
  close(fd);
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(image.data()),
                                               static_cast<std::streamsize>(image.size()));
  return path;
}

// Builds the machine, enters the sandbox, runs the guest and ends the
// process with the run's status (as vmm's main does, in this order).
[[noreturn]] void run_sandboxed(const std::string& kernel, Engine engine, std::function<void()> action) {
  MachineConfig config;
  config.ram_bytes = 8 << 20;
  config.kernel = kernel;
  config.serial_stdio = false;
  config.engine = engine;
  config.jit_threshold = 1;  // The OUT runs from translated code.
  Log log;
  Machine machine(config, log);
  ActionDevice device(std::move(action));
  machine.bus().register_pio(kTestPort, 1, &device);
  std::string error;
  if (!enter_sandbox(error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    std::_Exit(100);
  }
  std::_Exit(machine.run());
}

class Sandbox : public ::testing::TestWithParam<Engine> {
 protected:
  void SetUp() override {
    GTEST_FLAG_SET(death_test_style, "threadsafe");
    kernel_ = write_guest();
    ASSERT_FALSE(kernel_.empty());
  }
  void TearDown() override { std::remove(kernel_.c_str()); }
  std::string kernel_;
};

// What the run loop does is allowed: console writes, the clock, memory
// management without PROT_EXEC, signals. The guest's own exit status (1)
// comes through.
TEST_P(Sandbox, AllowsWhatTheRunLoopNeeds) {
  EXPECT_EXIT(run_sandboxed(kernel_, GetParam(),
                            [] {
                              const char line[] = "device: guest wrote\n";
                              (void)!write(STDERR_FILENO, line, sizeof line - 1);
                              void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                                             -1, 0);
                              if (p == MAP_FAILED || munmap(p, 4096) != 0) std::_Exit(101);
                            }),
              ::testing::ExitedWithCode(1), "device: guest wrote");
}

// AddressSanitizer's runtime opens files and starts a tracer thread for its
// reports, so a sanitizer build's filter allows those two (runtime/sandbox.h).
constexpr const char* kAllowedForTheSanitizer = "allowed for the sanitizer runtime in this build";

TEST_P(Sandbox, OpeningAFileKillsTheProcess) {
  if (kAddressSanitizer) GTEST_SKIP() << kAllowedForTheSanitizer;
  EXPECT_EXIT(run_sandboxed(kernel_, GetParam(), [] { (void)!open("/etc/hostname", O_RDONLY); }),
              ::testing::KilledBySignal(SIGSYS),
              "vmm: sandbox: forbidden system call openat \\(257\\) at host pc 0x[0-9a-f]+; killing the process");
}

TEST_P(Sandbox, CreatingAProcessKillsTheProcess) {
  if (kAddressSanitizer) GTEST_SKIP() << kAllowedForTheSanitizer;
  EXPECT_EXIT(run_sandboxed(kernel_, GetParam(), [] { (void)!fork(); }), ::testing::KilledBySignal(SIGSYS),
              "vmm: sandbox: forbidden system call clone \\(56\\)");
}

TEST_P(Sandbox, NewExecutableMemoryKillsTheProcess) {
  EXPECT_EXIT(run_sandboxed(kernel_, GetParam(),
                            [] {
                              (void)!mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1,
                                          0);
                            }),
              ::testing::KilledBySignal(SIGSYS), "vmm: sandbox: forbidden system call mmap \\(9\\)");
}

TEST_P(Sandbox, SocketsKillTheProcess) {
  EXPECT_EXIT(run_sandboxed(kernel_, GetParam(), [] { (void)!socket(AF_INET, SOCK_STREAM, 0); }),
              ::testing::KilledBySignal(SIGSYS), "vmm: sandbox: forbidden system call socket \\(41\\)");
}

INSTANTIATE_TEST_SUITE_P(Engines, Sandbox, ::testing::Values(Engine::kInterp, Engine::kJit),
                         [](const ::testing::TestParamInfo<Engine>& info) {
                           return info.param == Engine::kJit ? "Jit" : "Interp";
                         });

}  // namespace
}  // namespace vmm

// --profile (runtime/profiler.h): block entries are counted exactly, by the
// translations' own counters and by the interpreter, and the samples go to
// the block the time is spent in; translated code that counts its entries
// computes what the interpreter computes.
#include <gtest/gtest.h>

#include "runtime/profiler.h"
#include "tests/unit/jit_pair.h"

namespace vmm {
namespace {

using namespace jit_test;

// mov ecx, N; L: dec ecx; jnz L; hlt  (L = kCode + 5; checked with ndisasm)
std::vector<uint8_t> countdown(uint32_t n) {
  return {0xB9, static_cast<uint8_t>(n), static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n >> 16),
          static_cast<uint8_t>(n >> 24), 0x49, 0x75, 0xFD, 0xF4};
}
constexpr uint32_t kLoop = kCode + 5;

class Profile : public ::testing::TestWithParam<bool> {};
INSTANTIATE_TEST_SUITE_P(Engine, Profile, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Jit" : "Interp"; });

// The first iteration runs in the block at kCode (a superblock: the loop's
// Jcc is inside it); the other 999 enter the block at L.
TEST_P(Profile, BlockEntriesAreCountedExactly) {
  Vm vm(GetParam());
  Profiler prof;
  vm.cpu.profiler = &prof;
  if (vm.cpu.jit()) vm.cpu.jit()->set_profile(true);
  vm.put(kCode, countdown(1000));
  vm.cpu.run(100000);
  prof.finish(vm.cpu);
  vm.cpu.profiler = nullptr;
  EXPECT_EQ(vm.cpu.s.gpr[ECX], 0u);
  EXPECT_EQ(prof.executions_at(kCode), 1u);
  EXPECT_EQ(prof.executions_at(kLoop), 999u);
}

// A loop of a few hundred million iterations: most samples fall in its block.
TEST(ProfileJit, SamplesGoToTheHotBlock) {
  Vm vm(true);
  Profiler prof;
  vm.cpu.profiler = &prof;
  vm.cpu.jit()->set_profile(true);
  vm.put(kCode, countdown(400'000'000));
  while (vm.cpu.run(10'000'000) == StopReason::kInstructionLimit) {
  }
  prof.finish(vm.cpu);
  vm.cpu.profiler = nullptr;
  ASSERT_GT(prof.samples(), 20u);
  EXPECT_GT(prof.samples_at(kLoop) * 10, prof.samples() * 8) << prof.samples_at(kLoop) << " of " << prof.samples();
  EXPECT_EQ(prof.executions_at(kLoop), 399'999'999u);
}

// Helper calls are counted for the block that made them: OUT (an
// interpreter helper that ends its block) at L, 99 times from L's own
// translation (the first OUT ends the first block).
TEST(ProfileJit, HelperCallsGoToTheirBlock) {
  Vm vm(true);
  Profiler prof;
  vm.cpu.profiler = &prof;
  vm.cpu.jit()->set_profile(true);
  // mov ecx, 100; mov dx, 0x80; L: out dx, al; dec ecx; jnz L; hlt  (L = 0x1009; ndisasm)
  vm.put(kCode, {0xB9, 0x64, 0x00, 0x00, 0x00, 0x66, 0xBA, 0x80, 0x00, 0xEE, 0x49, 0x75, 0xFC, 0xF4});
  vm.cpu.run(100000);
  prof.finish(vm.cpu);
  vm.cpu.profiler = nullptr;
  EXPECT_EQ(prof.executions_at(0x1009), 99u);
  EXPECT_EQ(prof.helper_calls_at(0x1009), 99u);
  EXPECT_EQ(prof.helper_calls_at(kCode), 1u);
}

// The entry counter (MOV/LEA at each translation's entry) leaves the
// guest's flags and registers alone: a loop whose flags flow across block
// entries gives the interpreter's results.
TEST(ProfileJit, CountingTranslationsComputeWhatTheInterpreterDoes) {
  Pair p;
  Profiler prof;
  p.jit.cpu.profiler = &prof;
  p.jit.cpu.jit()->set_profile(true);
  // mov ecx, 300; xor eax, eax; stc; L: adc eax, ecx; dec ecx; jnz L2; hlt; L2: cmc; jmp L
  // (checked with ndisasm: L = 0x1008, L2 = 0x100e)
  run_both(p, {0xB9, 0x2C, 0x01, 0x00, 0x00, 0x31, 0xC0, 0xF9, 0x11, 0xC8, 0x49, 0x75, 0x01, 0xF4, 0xF5, 0xEB, 0xF7});
  prof.finish(p.jit.cpu);
  p.jit.cpu.profiler = nullptr;
  EXPECT_EQ(prof.executions_at(0x100E), 299u);  // Every iteration but the last.
}

}  // namespace
}  // namespace vmm

// VirtualClock: host-time and instruction-counting modes, and the timer
// facility devices schedule their events with.
#include <gtest/gtest.h>

#include <stdexcept>
#include <vector>

#include "runtime/virtual_clock.h"

namespace vmm {
namespace {

TEST(VirtualClockTest, HostModeStartsAtZeroAndIsMonotonic) {
  VirtualClock clock;
  EXPECT_FALSE(clock.deterministic());
  uint64_t a = clock.now_ns();
  EXPECT_LT(a, 1'000'000'000u);  // Since the clock was created, not since boot.
  uint64_t b = clock.now_ns();
  EXPECT_GE(b, a);
  EXPECT_EQ(clock.instructions_until(b + 1000), UINT64_MAX);
  clock.warp_to(b + 10'000'000'000ull);  // Host time cannot be warped.
  EXPECT_LT(clock.now_ns(), b + 10'000'000'000ull);
}

TEST(VirtualClockTest, IcountTimeIsInstructionsShifted) {
  uint64_t insns = 0;
  VirtualClock clock([&] { return insns; }, 3);
  EXPECT_TRUE(clock.deterministic());
  EXPECT_EQ(clock.icount_shift(), 3u);
  EXPECT_EQ(clock.now_ns(), 0u);
  insns = 10;
  EXPECT_EQ(clock.now_ns(), 80u);
  // 8 ns per instruction: 20 ns away is 3 instructions (rounded up).
  EXPECT_EQ(clock.instructions_until(100), 3u);
  EXPECT_EQ(clock.instructions_until(80), 0u);
  EXPECT_EQ(clock.instructions_until(50), 0u);
}

TEST(VirtualClockTest, IcountRejectsBadArguments) {
  EXPECT_THROW(VirtualClock(VirtualClock::InstructionCounter{}, 0), std::invalid_argument);
  EXPECT_THROW(VirtualClock([] { return uint64_t{0}; }, VirtualClock::kMaxIcountShift + 1), std::invalid_argument);
}

TEST(VirtualClockTest, WarpMovesIcountTimeForwardOnly) {
  uint64_t insns = 5;
  VirtualClock clock([&] { return insns; }, 0);
  clock.warp_to(1000);
  EXPECT_EQ(clock.now_ns(), 1000u);
  insns = 7;  // Instructions keep counting on top of the warp.
  EXPECT_EQ(clock.now_ns(), 1002u);
  clock.warp_to(500);  // Never backwards.
  EXPECT_EQ(clock.now_ns(), 1002u);
}

TEST(VirtualClockTest, NoTimersNoDeadline) {
  uint64_t insns = 0;
  VirtualClock clock([&] { return insns; }, 0);
  EXPECT_EQ(clock.next_deadline(), VirtualClock::kNoDeadline);
  VirtualClock::Timer t(clock, [](uint64_t) {});
  EXPECT_EQ(clock.next_deadline(), VirtualClock::kNoDeadline);
  EXPECT_EQ(clock.run_due(1'000'000), 0u);
}

TEST(VirtualClockTest, RunsDueTimersInDeadlineOrder) {
  uint64_t insns = 0;
  VirtualClock clock([&] { return insns; }, 0);
  std::vector<int> order;
  VirtualClock::Timer a(clock, [&](uint64_t) { order.push_back(30); });
  VirtualClock::Timer b(clock, [&](uint64_t) { order.push_back(10); });
  VirtualClock::Timer c(clock, [&](uint64_t) { order.push_back(20); });
  a.arm(30);
  b.arm(10);
  c.arm(20);
  EXPECT_EQ(clock.next_deadline(), 10u);
  EXPECT_EQ(clock.run_due(25), 2u);
  EXPECT_EQ(order, (std::vector<int>{10, 20}));
  EXPECT_FALSE(b.armed());
  EXPECT_TRUE(a.armed());
  EXPECT_EQ(clock.next_deadline(), 30u);
  EXPECT_EQ(clock.run_due(30), 1u);
  EXPECT_EQ(order, (std::vector<int>{10, 20, 30}));
  EXPECT_EQ(clock.next_deadline(), VirtualClock::kNoDeadline);
}

TEST(VirtualClockTest, EqualDeadlinesRunInArmOrder) {
  uint64_t insns = 0;
  VirtualClock clock([&] { return insns; }, 0);
  std::vector<char> order;
  VirtualClock::Timer x(clock, [&](uint64_t) { order.push_back('x'); });
  VirtualClock::Timer y(clock, [&](uint64_t) { order.push_back('y'); });
  y.arm(5);
  x.arm(5);
  clock.run_due(5);
  EXPECT_EQ(order, (std::vector<char>{'y', 'x'}));
}

TEST(VirtualClockTest, CallbackMayRearmAndGetsNow) {
  uint64_t insns = 0;
  VirtualClock clock([&] { return insns; }, 0);
  std::vector<uint64_t> seen;
  VirtualClock::Timer* self = nullptr;
  VirtualClock::Timer periodic(clock, [&](uint64_t now) {
    seen.push_back(now);
    self->arm(self->deadline() + 10);
  });
  self = &periodic;
  periodic.arm(10);
  // Re-armed at 20 and 30, both still <= 35: they run in the same call.
  EXPECT_EQ(clock.run_due(35), 3u);
  EXPECT_EQ(seen, (std::vector<uint64_t>{35, 35, 35}));
  EXPECT_EQ(periodic.deadline(), 40u);
  EXPECT_EQ(clock.next_deadline(), 40u);
}

TEST(VirtualClockTest, CallbackMayDisarmAnother) {
  uint64_t insns = 0;
  VirtualClock clock([&] { return insns; }, 0);
  int second_ran = 0;
  VirtualClock::Timer second(clock, [&](uint64_t) { ++second_ran; });
  VirtualClock::Timer first(clock, [&](uint64_t) { second.disarm(); });
  first.arm(1);
  second.arm(2);
  clock.run_due(10);
  EXPECT_EQ(second_ran, 0);
}

TEST(VirtualClockTest, DisarmAndDestroy) {
  uint64_t insns = 0;
  VirtualClock clock([&] { return insns; }, 0);
  int ran = 0;
  {
    VirtualClock::Timer t(clock, [&](uint64_t) { ++ran; });
    t.arm(100);
    EXPECT_EQ(clock.next_deadline(), 100u);
  }
  EXPECT_EQ(clock.next_deadline(), VirtualClock::kNoDeadline);
  VirtualClock::Timer u(clock, [&](uint64_t) { ++ran; });
  u.arm(50);
  u.disarm();
  EXPECT_EQ(clock.run_due(1000), 0u);
  EXPECT_EQ(ran, 0);
}

TEST(VirtualClockTest, IdleGuestWarpsToNextTimer) {
  // What the machine does on HLT in icount mode.
  uint64_t insns = 0;
  VirtualClock clock([&] { return insns; }, 0);
  int fired = 0;
  VirtualClock::Timer t(clock, [&](uint64_t) { ++fired; });
  t.arm(1'000'000);
  clock.warp_to(clock.next_deadline());
  EXPECT_EQ(clock.now_ns(), 1'000'000u);
  clock.run_due(clock.now_ns());
  EXPECT_EQ(fired, 1);
}

}  // namespace
}  // namespace vmm

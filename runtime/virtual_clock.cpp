#include "runtime/virtual_clock.h"

#include <algorithm>
#include <ctime>
#include <stdexcept>
#include <utility>

namespace vmm {

namespace {

uint64_t host_monotonic_ns() {
  // CLOCK_MONOTONIC: not affected by wall-clock adjustments, so machine time
  // never runs backwards when the host's time is set.
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000u + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace

VirtualClock::VirtualClock() : host_start_ns_(host_monotonic_ns()) {}

VirtualClock::VirtualClock(InstructionCounter counter, unsigned shift)
    : counter_(std::move(counter)), shift_(shift) {
  if (!counter_) throw std::invalid_argument("virtual clock: icount mode needs an instruction counter");
  if (shift_ > kMaxIcountShift) throw std::invalid_argument("virtual clock: icount shift out of range");
}

VirtualClock::~VirtualClock() {
  // Timers that outlive the clock (a wiring mistake) become inert rather
  // than touching freed memory.
  for (Timer* t : timers_) t->clock_ = nullptr;
}

uint64_t VirtualClock::now_ns() const {
  if (counter_) return (counter_() << shift_) + warp_ns_;
  return host_monotonic_ns() - host_start_ns_;
}

uint64_t VirtualClock::instructions_until(uint64_t deadline_ns) const {
  if (!counter_) return UINT64_MAX;
  uint64_t now = now_ns();
  if (deadline_ns <= now) return 0;
  uint64_t delta = deadline_ns - now;
  // Round up: the instruction that reaches or passes the deadline is the one
  // after which the timer is due.
  return (delta + (uint64_t{1} << shift_) - 1) >> shift_;
}

void VirtualClock::warp_to(uint64_t ns) {
  if (!counter_) return;
  uint64_t now = now_ns();
  if (ns > now) warp_ns_ += ns - now;
}

uint64_t VirtualClock::next_deadline() const {
  uint64_t best = kNoDeadline;
  for (const Timer* t : timers_) {
    if (t->armed_ && t->deadline_ < best) best = t->deadline_;
  }
  return best;
}

unsigned VirtualClock::run_due(uint64_t now) {
  unsigned ran = 0;
  for (;;) {
    // Pick the earliest due timer each round: callbacks may arm or disarm
    // any timer, including themselves, so no order computed up front holds.
    Timer* next = nullptr;
    for (Timer* t : timers_) {
      if (!t->armed_ || t->deadline_ > now) continue;
      if (next == nullptr || t->deadline_ < next->deadline_ ||
          (t->deadline_ == next->deadline_ && t->sequence_ < next->sequence_)) {
        next = t;
      }
    }
    if (next == nullptr) return ran;
    next->armed_ = false;
    ++ran;
    if (next->callback_) next->callback_(now);
  }
}

void VirtualClock::remove(Timer* t) { timers_.erase(std::remove(timers_.begin(), timers_.end(), t), timers_.end()); }

VirtualClock::Timer::Timer(VirtualClock& clock, Callback callback) : clock_(&clock), callback_(std::move(callback)) {
  clock_->add(this);
}

VirtualClock::Timer::~Timer() {
  if (clock_) clock_->remove(this);
}

void VirtualClock::Timer::arm(uint64_t deadline_ns) {
  if (!clock_) return;
  deadline_ = deadline_ns;
  sequence_ = clock_->next_sequence_++;
  armed_ = true;
}

}  // namespace vmm

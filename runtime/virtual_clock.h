// The one time source of the machine. Every device that needs time (PIT, RTC)
// reads it here and schedules its future events as Timers here, so the whole
// machine can switch between host time and a deterministic instruction count
// with one option, as QEMU's QEMU_CLOCK_VIRTUAL does with -icount.
//
// Two modes:
//  - host time: nanoseconds of CLOCK_MONOTONIC since the clock was created;
//  - instruction counting (--icount shift=N): each executed guest instruction
//    advances time by 2^N ns, read from a counter the CPU provides. Runs are
//    then reproducible: the same guest sees the same times. A halted CPU
//    executes nothing, so the machine warps the clock to the next deadline
//    (warp_to()), as QEMU's icount does when all CPUs are idle.
//
// No threads: timers only run inside run_due(), which the machine calls from
// the thread that runs the guest (between blocks, and after waking from HLT).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

namespace vmm {

class VirtualClock {
 public:
  // Returns the number of guest instructions executed so far (monotonic).
  using InstructionCounter = std::function<uint64_t()>;

  static constexpr uint64_t kNoDeadline = UINT64_MAX;
  // QEMU accepts shift values 0..10 for -icount; larger ones would make a
  // single instruction last longer than a microsecond and overflow sooner.
  static constexpr unsigned kMaxIcountShift = 10;

  // Host-time mode.
  VirtualClock();
  // Instruction-counting mode: now_ns() = (counter() << shift) + warped time.
  // Throws std::invalid_argument if counter is empty or shift > kMaxIcountShift.
  VirtualClock(InstructionCounter counter, unsigned shift);
  ~VirtualClock();

  VirtualClock(const VirtualClock&) = delete;
  VirtualClock& operator=(const VirtualClock&) = delete;

  // Nanoseconds of machine time since the clock was created. Monotonic.
  uint64_t now_ns() const;
  // True in instruction-counting mode: time depends only on the guest's execution.
  bool deterministic() const { return static_cast<bool>(counter_); }
  unsigned icount_shift() const { return shift_; }

  // Instruction-counting mode: how many more guest instructions bring the
  // clock to `deadline_ns` (0 if already there). The machine uses it as the
  // execution budget so a timer fires on the exact instruction. Host mode:
  // UINT64_MAX (time does not depend on instructions).
  uint64_t instructions_until(uint64_t deadline_ns) const;

  // Instruction-counting mode only: moves the clock forward to `ns` while the
  // CPU is idle (HLT), so an idle guest jumps straight to its next timer. The
  // jump depends only on guest state, so runs stay deterministic. Never moves
  // the clock backwards; does nothing in host mode (there the machine sleeps
  // until the deadline instead).
  void warp_to(uint64_t ns);

  // A deadline-driven callback owned by a device. It registers with the clock
  // on construction and unregisters on destruction; the clock must outlive it
  // (the machine declares the clock before the devices). Not copyable.
  class Timer {
   public:
    // `now_ns` is the time run_due() was called with (>= the deadline).
    using Callback = std::function<void(uint64_t now_ns)>;

    Timer(VirtualClock& clock, Callback callback);
    ~Timer();
    Timer(const Timer&) = delete;
    Timer& operator=(const Timer&) = delete;

    // Sets (or moves) the deadline. Arming for a time already past makes the
    // timer due at the next run_due().
    void arm(uint64_t deadline_ns);
    void disarm() { armed_ = false; }
    bool armed() const { return armed_; }
    uint64_t deadline() const { return deadline_; }

   private:
    friend class VirtualClock;
    VirtualClock* clock_;
    Callback callback_;
    uint64_t deadline_ = 0;
    uint64_t sequence_ = 0;  // Arm order, to break deadline ties deterministically.
    bool armed_ = false;
  };

  // The earliest armed deadline, or kNoDeadline when no timer is armed.
  uint64_t next_deadline() const;

  // Runs every timer whose deadline is <= now, earliest deadline first (ties
  // in arm order). Each timer is disarmed before its callback runs; a callback
  // may re-arm it or arm/disarm others, and a timer re-armed at or before
  // `now` runs again in the same call. Returns the number of callbacks run.
  unsigned run_due(uint64_t now);

 private:
  void add(Timer* t) { timers_.push_back(t); }
  void remove(Timer* t);

  InstructionCounter counter_;  // Empty in host mode.
  unsigned shift_ = 0;
  uint64_t warp_ns_ = 0;        // Idle time skipped by warp_to() (icount mode).
  uint64_t host_start_ns_ = 0;  // CLOCK_MONOTONIC at creation (host mode).
  uint64_t next_sequence_ = 0;
  // All registered timers, armed or not. A handful per machine, so a linear
  // scan beats a heap and stays correct while callbacks arm and disarm.
  std::vector<Timer*> timers_;
};

}  // namespace vmm

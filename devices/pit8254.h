// The Intel 8254 programmable interval timer (Intel 82C54 datasheet, order
// no. 231244) as a PC wires it: ports 0x40-0x42 are counters 0-2, 0x43 the
// control word register; all three count the 1.193182 MHz clock. Counter 0's
// OUT is IRQ 0; counter 1 once refreshed DRAM (its OUT goes nowhere); counter
// 2's GATE is port 0x61 bit 0 and its OUT is readable at port 0x61 bit 5
// (devices/system_ports.h).
//
// Nothing ticks. Each counter remembers when its count was loaded (in PIT
// clock periods on the VirtualClock's time line) and computes its current
// count and OUT level from the time of each access. For IRQ 0 a VirtualClock
// timer is armed for the next rising edge of counter 0's OUT, so an idle
// guest wakes exactly when its next tick is due and never sooner.
//
// IRQ 0 is reported at rising edges of OUT: the irq0 callback gets false then
// true at each edge (a pulse; the PIC latches edges), and the level changes
// that programming causes (mode 0's control word drives OUT low, for
// instance). OUT's falling edges in modes 2 and 3 are not reported on their
// own: an edge-triggered PIC ignores them, and reporting them would double
// the wake-ups. When the machine runs timers late (host time), the ticks that
// passed are coalesced into one edge, which is all the PIC's IRR could hold.
//
// Not thread-safe; call everything from the thread that runs the guest.
#pragma once

#include <cstdint>
#include <functional>

#include "devices/io_device.h"
#include "runtime/virtual_clock.h"

namespace vmm {

class Pit8254 : public IoDevice {
 public:
  static constexpr uint16_t kBase = 0x40;
  static constexpr uint16_t kPortCount = 4;
  static constexpr unsigned kIrq = 0;
  static constexpr unsigned kChannels = 3;
  // The PC's timer input: the 14.31818 MHz system oscillator divided by 12.
  static constexpr uint64_t kInputHz = 1'193'182;

  // Reset state as QEMU's: every counter in mode 3 (square wave), lobyte/
  // hibyte access, binary, count 0 (65536); counters 0 and 1 run from time 0
  // with GATE high, counter 2 waits with GATE low (port 0x61 bit 0 clear).
  // Counter 0 thus ticks at 18.2 Hz as after a BIOS, until reprogrammed.
  explicit Pit8254(VirtualClock& clock);

  const char* name() const override { return "pit8254"; }
  uint32_t read(uint32_t offset, unsigned size) override;
  void write(uint32_t offset, unsigned size, uint32_t value) override;

  // The GATE input of a counter (counters 0 and 1 are tied high on a PC).
  void set_gate(unsigned channel, bool level);
  bool gate(unsigned channel) const;
  // The OUT level of a counter now.
  bool out(unsigned channel);

  // Counter 0's OUT, wired to IRQ 0 (see the header comment for what is
  // reported). Set it before the guest runs.
  std::function<void(bool level)> irq0;

 private:
  // One counter. Times are PIT clock periods ("ticks") since the clock's
  // origin, signed so that mode 3's reload bookkeeping may start a cycle in
  // the past.
  struct Channel {
    static constexpr int64_t kNever = INT64_MAX;

    // Programming, from the control word.
    uint8_t mode_bits = 3;  // M2-M0 as written (6 and 7 alias modes 2 and 3).
    uint8_t access = 3;     // RW1-RW0: 1 LSB, 2 MSB, 3 LSB then MSB.
    bool bcd = false;
    bool gate = true;

    // The count register (CR) and the sequencing of count writes.
    uint16_t cr = 0;
    bool has_count = false;    // A complete count was written since the control word.
    bool write_high_next = false;
    uint8_t write_low = 0;

    // The counting element (CE).
    bool loaded = false;   // CE holds a count (modes 1 and 5: has been triggered).
    bool running = false;  // CE is counting.
    uint32_t n = 0;        // Count in use, 1..65536 (1..10000 in BCD).
    int64_t start = 0;     // Tick at which CE held n (elapsed count 0).
    uint64_t elapsed_before = 0;  // Modes 0/1/4/5: ticks counted before a GATE pause.
    uint32_t frozen_ce = 0;       // CE value while it does not count.
    // Modes 2 and 3: a count written while counting takes effect at the end
    // of the current cycle (mode 2) or half-cycle (mode 3).
    bool pending = false;
    bool pending_low = false;  // Mode 3: the new count starts with OUT low.
    uint32_t pending_n = 0;
    int64_t pending_tick = 0;
    // Status NULL COUNT: CR written but not yet moved into CE.
    bool null_count = true;
    int64_t null_clear_tick = kNever;

    // Latches and read sequencing.
    bool count_latched = false;
    uint16_t latched_count = 0;
    bool status_latched = false;
    uint8_t latched_status = 0;
    bool read_high_next = false;

    unsigned mode() const { return mode_bits > 5 ? mode_bits - 4u : mode_bits; }
    uint32_t modulus() const { return bcd ? 10000u : 65536u; }
    uint32_t count_from_cr() const;
    uint16_t encode(uint32_t ce) const;
    uint64_t elapsed(int64_t t) const;
    void fold(int64_t t);  // Applies a pending reload that is due by t.
    uint32_t ce(int64_t t) const;
    bool out(int64_t t) const;
    uint8_t status(int64_t t) const;
    int64_t next_rising_edge(int64_t t) const;

    void control(uint8_t mode, uint8_t access, bool bcd, int64_t t);
    void write_count(uint8_t byte, int64_t t);
    void count_written(int64_t t);
    void latch_count(int64_t t);
    uint8_t read_byte(int64_t t);
    void set_gate(bool level, int64_t t);
  };

  int64_t now_ticks() const;
  void write_control(uint8_t value, int64_t t);
  // Counter 0 changed: report OUT's new level and re-arm the IRQ 0 timer.
  void channel0_changed(int64_t t);
  void schedule_irq0(int64_t t);
  void on_irq0_timer(uint64_t now_ns);
  void set_irq0_level(bool level);

  VirtualClock& clock_;
  VirtualClock::Timer irq0_timer_;
  Channel channels_[kChannels];
  bool irq0_level_ = false;
};

}  // namespace vmm

#include "devices/pit8254.h"

#include <algorithm>

namespace vmm {

namespace {

// Port offsets (82C54 datasheet, Table 1 "8254 Read/Write Operations
// Summary"; A1 A0 = 11 is the control word register).
constexpr uint32_t kControlPort = 3;

// Control word format ("Control Word Format", Figure 7).
constexpr unsigned kSelectShift = 6;  // SC1-SC0: counter, or 11 = read-back.
constexpr uint8_t kSelectReadBack = 3;
constexpr unsigned kAccessShift = 4;  // RW1-RW0.
constexpr uint8_t kAccessMask = 3;
constexpr uint8_t kAccessLatch = 0;   // Counter latch command.
constexpr uint8_t kAccessLsb = 1;     // Read/write least significant byte only.
constexpr uint8_t kAccessMsb = 2;     // Read/write most significant byte only.
constexpr uint8_t kAccessWord = 3;    // Least significant byte first, then most.
constexpr unsigned kModeShift = 1;    // M2-M0.
constexpr uint8_t kModeMask = 7;
constexpr uint8_t kBcd = 1u << 0;     // Binary coded decimal counter (4 decades).

// Read-back command ("Read-Back Command", Figure 10): COUNT and STATUS are
// active low; CNT2-CNT0 select the counters.
constexpr uint8_t kReadBackNoCount = 1u << 5;
constexpr uint8_t kReadBackNoStatus = 1u << 4;
constexpr unsigned kReadBackCounterShift = 1;

// Status byte ("Status Byte", Figure 11).
constexpr uint8_t kStatusOut = 1u << 7;
constexpr uint8_t kStatusNullCount = 1u << 6;

constexpr uint64_t kNsPerSecond = 1'000'000'000;

}  // namespace

// ---------------------------------------------------------------------------
// Time conversion. The PIT clock's edges sit on a fixed grid from the
// VirtualClock's origin: tick k starts at ceil(k * 1e9 / 1193182) ns.

static int64_t ns_to_ticks(uint64_t ns) {
  return static_cast<int64_t>(static_cast<unsigned __int128>(ns) * Pit8254::kInputHz / kNsPerSecond);
}

static uint64_t ticks_to_ns(int64_t ticks) {
  if (ticks <= 0) return 0;
  unsigned __int128 scaled = static_cast<unsigned __int128>(ticks) * kNsPerSecond;
  return static_cast<uint64_t>((scaled + Pit8254::kInputHz - 1) / Pit8254::kInputHz);
}

// ---------------------------------------------------------------------------
// Channel: the counting element as a function of time.

uint32_t Pit8254::Channel::count_from_cr() const {
  // "Counter Loading": a count of 0 is the maximum, 2^16 in binary and 10^4
  // in BCD counting.
  uint32_t value = cr;
  if (bcd) {
    value = (cr >> 12 & 0xf) * 1000 + (cr >> 8 & 0xf) * 100 + (cr >> 4 & 0xf) * 10 + (cr & 0xf);
    value %= 10000;
  }
  return value == 0 ? modulus() : value;
}

uint16_t Pit8254::Channel::encode(uint32_t ce) const {
  ce %= modulus();
  if (!bcd) return static_cast<uint16_t>(ce);
  return static_cast<uint16_t>((ce / 1000) << 12 | (ce / 100 % 10) << 8 | (ce / 10 % 10) << 4 | (ce % 10));
}

uint64_t Pit8254::Channel::elapsed(int64_t t) const {
  uint64_t e = elapsed_before;
  if (running && t > start) e += static_cast<uint64_t>(t - start);
  return e;
}

void Pit8254::Channel::fold(int64_t t) {
  if (!pending || t < pending_tick) return;
  n = pending_n;
  // A mode 3 count that takes over at the falling edge starts in its low
  // half: place the cycle's virtual start half a (new) cycle earlier.
  start = pending_tick - (pending_low ? static_cast<int64_t>((n + 1) / 2) : 0);
  pending = false;
}

uint32_t Pit8254::Channel::ce(int64_t t) const {
  if (!loaded) return frozen_ce;
  uint32_t m = modulus();
  switch (mode()) {
    case 2: {
      // Mode 2 "Rate Generator": CE counts n, n-1, ..., 1 and is reloaded.
      if (!running) return frozen_ce;
      uint64_t e = elapsed(t);
      return (n - static_cast<uint32_t>(e % n)) % m;
    }
    case 3: {
      // Mode 3 "Square Wave Mode": CE counts down by two in each half-cycle,
      // from n (even counts) or n-1 (odd counts; the high half lasts one
      // clock longer and ends at 0).
      if (!running) return frozen_ce;
      uint64_t ep = elapsed(t) % n;
      uint64_t high_half = (n + 1) / 2;
      uint64_t x = ep < high_half ? ep : ep - high_half;
      uint32_t base = (n & 1) ? n - 1 : n;
      return static_cast<uint32_t>((base - 2 * x) % m);
    }
    default: {
      // Modes 0, 1, 4, 5 count down once and wrap around (to FFFF, or 9999
      // in BCD) without reloading.
      uint32_t e = static_cast<uint32_t>(elapsed(t) % m);
      return (n + m - e) % m;
    }
  }
}

bool Pit8254::Channel::out(int64_t t) const {
  // "Mode Definitions": after a control word, OUT is low in mode 0 and high
  // in every other mode until counting changes it.
  if (!loaded) return mode() != 0;
  switch (mode()) {
    case 0:
      // Mode 0 "Interrupt on Terminal Count": high once CE reaches 0, and it
      // stays high while the counter wraps around.
      return elapsed(t) >= n;
    case 1:
      // Mode 1 "Hardware Retriggerable One-Shot": low from the clock after
      // the trigger until CE reaches 0.
      return !(t >= start && elapsed(t) < n);
    case 2:
      // Mode 2: low for the one clock in which CE is 1. GATE low forces OUT high.
      if (!running || t < start) return true;
      return elapsed(t) % n != n - 1;
    case 3:
      // Mode 3: high for ceil(n/2) clocks, low for floor(n/2). GATE low forces OUT high.
      if (!running || t < start) return true;
      return elapsed(t) % n < (n + 1) / 2;
    default:
      // Modes 4 and 5 "Strobe": low for the one clock in which CE is 0.
      return !(t >= start && elapsed(t) == n);
  }
}

uint8_t Pit8254::Channel::status(int64_t t) const {
  uint8_t s = static_cast<uint8_t>(access << kAccessShift | mode_bits << kModeShift | (bcd ? kBcd : 0));
  if (out(t)) s |= kStatusOut;
  if (null_count && t < null_clear_tick) s |= kStatusNullCount;
  return s;
}

int64_t Pit8254::Channel::next_rising_edge(int64_t t) const {
  if (!loaded) return kNever;
  int64_t edge = kNever;
  switch (mode()) {
    case 0:
      // OUT rises when CE reaches 0.
      if (running && elapsed(t) < n) edge = start + static_cast<int64_t>(n - elapsed_before);
      break;
    case 1:
      if (elapsed(t) < n) edge = start + static_cast<int64_t>(n);
      break;
    case 2:
    case 3:
      // OUT rises at each reload, n clocks apart. A count of 1 never
      // produces an edge (mode 2 holds OUT low, mode 3 high).
      if (running && n >= 2) {
        int64_t k = t < start ? 1 : (t - start) / static_cast<int64_t>(n) + 1;
        edge = start + k * static_cast<int64_t>(n);
      }
      break;
    default:
      // Modes 4 and 5: OUT rises one clock after the strobe went low.
      if (running && elapsed(t) <= n) edge = start + static_cast<int64_t>(n + 1 - elapsed_before);
      break;
  }
  if (pending && pending_tick < edge) {
    // The pending count takes over before that edge (mode 3 at a falling
    // edge): the next edge belongs to the new count.
    Channel next = *this;
    next.fold(pending_tick);
    return next.next_rising_edge(pending_tick);
  }
  return edge;
}

void Pit8254::Channel::control(uint8_t new_mode, uint8_t new_access, bool new_bcd, int64_t t) {
  // "Write Operations": a control word resets the counter's control logic:
  // OUT goes to its initial state and nothing counts until a count is
  // written. CE keeps its value.
  if (loaded) frozen_ce = ce(t);
  mode_bits = new_mode;
  access = new_access;
  bcd = new_bcd;
  has_count = false;
  write_high_next = false;
  read_high_next = false;
  loaded = false;
  running = false;
  pending = false;
  elapsed_before = 0;
  null_count = true;
  null_clear_tick = kNever;
}

void Pit8254::Channel::write_count(uint8_t byte, int64_t t) {
  switch (access) {
    case kAccessLsb:
      cr = byte;
      break;
    case kAccessMsb:
      cr = static_cast<uint16_t>(byte << 8);
      break;
    default:
      if (!write_high_next) {
        write_low = byte;
        write_high_next = true;
        // Mode 0: "Writing the first byte disables counting. OUT is set low
        // immediately (no clock pulse required)."
        if (mode() == 0) {
          if (loaded) frozen_ce = ce(t);
          loaded = false;
          running = false;
        }
        return;
      }
      cr = static_cast<uint16_t>(write_low | byte << 8);
      write_high_next = false;
      break;
  }
  count_written(t);
}

void Pit8254::Channel::count_written(int64_t t) {
  fold(t);
  has_count = true;
  null_count = true;
  uint32_t count = count_from_cr();
  switch (mode()) {
    case 0:
    case 4:
      // Modes 0 and 4: the count is loaded on the next clock (which does not
      // decrement it) and counting restarts from it; GATE low holds the count.
      // Mode 0's OUT goes low, so it rises n + 1 clocks after the write.
      loaded = true;
      n = count;
      start = t + 1;
      elapsed_before = 0;
      running = gate;
      null_clear_tick = t + 1;
      break;
    case 1:
    case 5:
      // Modes 1 and 5: the count waits for the next GATE trigger; a one-shot
      // in progress is not affected.
      null_clear_tick = kNever;
      break;
    default:
      if (loaded && running && t >= start) {
        // Modes 2 and 3 while counting: "the new count is loaded at the end
        // of the current counting cycle" (mode 3: half-cycle).
        uint64_t e = elapsed(t);
        uint64_t boundary;
        if (mode() == 2) {
          boundary = (e / n + 1) * n;
          pending_low = false;
        } else {
          uint64_t ep = e % n;
          uint64_t high_half = (n + 1) / 2;
          pending_low = ep < high_half;
          boundary = e - ep + (pending_low ? high_half : n);
        }
        pending = true;
        pending_n = count;
        pending_tick = start + static_cast<int64_t>(boundary);
        null_clear_tick = pending_tick;
      } else if (loaded && running) {
        // Written again before the first count was loaded: replace it.
        n = count;
        null_clear_tick = start;
      } else {
        // First count after the control word: loaded on the next clock. With
        // GATE low the count waits for GATE's rising edge, which reloads it.
        loaded = true;
        n = count;
        pending = false;
        if (gate) {
          running = true;
          start = t + 1;
        } else {
          running = false;
          frozen_ce = count % modulus();
        }
        null_clear_tick = t + 1;
      }
      break;
  }
}

void Pit8254::Channel::latch_count(int64_t t) {
  // "Counter Latch Command": a second latch before the count is read is ignored.
  if (count_latched) return;
  latched_count = encode(ce(t));
  count_latched = true;
}

uint8_t Pit8254::Channel::read_byte(int64_t t) {
  // "Read-Back Command": a latched status is read first, then the count.
  if (status_latched) {
    status_latched = false;
    return latched_status;
  }
  uint16_t value = count_latched ? latched_count : encode(ce(t));
  uint8_t byte;
  bool done = true;
  switch (access) {
    case kAccessLsb:
      byte = static_cast<uint8_t>(value);
      break;
    case kAccessMsb:
      byte = static_cast<uint8_t>(value >> 8);
      break;
    default:
      // Two-byte reads alternate LSB, MSB; a latch is released after both.
      if (!read_high_next) {
        byte = static_cast<uint8_t>(value);
        read_high_next = true;
        done = false;
      } else {
        byte = static_cast<uint8_t>(value >> 8);
        read_high_next = false;
      }
      break;
  }
  if (done) count_latched = false;
  return byte;
}

void Pit8254::Channel::set_gate(bool level, int64_t t) {
  fold(t);
  bool rising = level && !gate;
  bool falling = !level && gate;
  gate = level;
  if (!rising && !falling) return;
  switch (mode()) {
    case 0:
    case 4:
      // "GATE = 1 enables counting; GATE = 0 disables counting."
      if (!loaded) break;
      if (falling && running) {
        elapsed_before = elapsed(t);
        running = false;
      } else if (rising) {
        // A count written with GATE low is still loaded on its first clock.
        start = std::max(t, start);
        running = true;
      }
      break;
    case 1:
    case 5:
      // A rising edge triggers: CE is (re)loaded from CR on the next clock.
      if (rising && has_count) {
        loaded = true;
        running = true;
        n = count_from_cr();
        start = t + 1;
        elapsed_before = 0;
        null_clear_tick = t + 1;
      }
      break;
    default:
      // Modes 2 and 3: GATE low stops counting and forces OUT high; its
      // rising edge reloads the count on the next clock.
      if (falling && running) {
        frozen_ce = ce(t);
        running = false;
        pending = false;
      } else if (rising && has_count) {
        loaded = true;
        running = true;
        pending = false;
        n = count_from_cr();
        start = t + 1;
        null_clear_tick = std::min(null_clear_tick, t + 1);
      }
      break;
  }
}

// ---------------------------------------------------------------------------
// The device.

Pit8254::Pit8254(VirtualClock& clock)
    : clock_(clock), irq0_timer_(clock, [this](uint64_t now) { on_irq0_timer(now); }) {
  int64_t t = now_ticks();
  for (unsigned c = 0; c < kChannels; ++c) {
    channels_[c].gate = c != 2;
    // Control word: counter c, LSB then MSB, mode 3, binary; then count 0.
    write_control(static_cast<uint8_t>(c << kSelectShift | kAccessWord << kAccessShift | 3 << kModeShift), t);
    channels_[c].write_count(0, t);
    channels_[c].write_count(0, t);
  }
  channel0_changed(t);
}

int64_t Pit8254::now_ticks() const { return ns_to_ticks(clock_.now_ns()); }

// The 8254 has an 8-bit data bus: a wider access is split into byte accesses
// at consecutive ports, lowest first.
uint32_t Pit8254::read(uint32_t offset, unsigned size) {
  int64_t t = now_ticks();
  uint32_t value = 0;
  for (unsigned i = 0; i < size; ++i) {
    uint32_t port = offset + i;
    uint32_t byte = 0xff;  // The control word register is write-only (a read floats).
    if (port < kChannels) {
      channels_[port].fold(t);
      byte = channels_[port].read_byte(t);
    }
    value |= byte << (8 * i);
  }
  return value;
}

void Pit8254::write(uint32_t offset, unsigned size, uint32_t value) {
  int64_t t = now_ticks();
  for (unsigned i = 0; i < size; ++i) {
    uint32_t port = offset + i;
    uint8_t byte = static_cast<uint8_t>(value >> (8 * i));
    if (port < kChannels) {
      channels_[port].write_count(byte, t);
      if (port == 0) channel0_changed(t);
    } else if (port == kControlPort) {
      write_control(byte, t);
    }
  }
}

void Pit8254::write_control(uint8_t value, int64_t t) {
  uint8_t select = value >> kSelectShift;
  if (select == kSelectReadBack) {
    // Read-back: latch count and/or status of each selected counter; each
    // latch already held is kept ("Read-Back Command").
    for (unsigned c = 0; c < kChannels; ++c) {
      if (!(value & (1u << (c + kReadBackCounterShift)))) continue;
      Channel& ch = channels_[c];
      ch.fold(t);
      if (!(value & kReadBackNoCount)) ch.latch_count(t);
      if (!(value & kReadBackNoStatus) && !ch.status_latched) {
        ch.latched_status = ch.status(t);
        ch.status_latched = true;
      }
    }
    return;
  }
  Channel& ch = channels_[select];
  ch.fold(t);
  uint8_t access = (value >> kAccessShift) & kAccessMask;
  if (access == kAccessLatch) {
    ch.latch_count(t);
    return;
  }
  ch.control((value >> kModeShift) & kModeMask, access, (value & kBcd) != 0, t);
  if (select == 0) channel0_changed(t);
}

void Pit8254::set_gate(unsigned channel, bool level) {
  if (channel >= kChannels) return;
  int64_t t = now_ticks();
  channels_[channel].set_gate(level, t);
  if (channel == 0) channel0_changed(t);
}

bool Pit8254::gate(unsigned channel) const { return channel < kChannels && channels_[channel].gate; }

bool Pit8254::out(unsigned channel) {
  if (channel >= kChannels) return false;
  int64_t t = now_ticks();
  channels_[channel].fold(t);
  return channels_[channel].out(t);
}

void Pit8254::channel0_changed(int64_t t) {
  set_irq0_level(channels_[0].out(t));
  schedule_irq0(t);
}

void Pit8254::schedule_irq0(int64_t t) {
  int64_t edge = channels_[0].next_rising_edge(t);
  if (edge == Channel::kNever) {
    irq0_timer_.disarm();
  } else {
    irq0_timer_.arm(ticks_to_ns(edge));
  }
}

void Pit8254::on_irq0_timer(uint64_t now_ns) {
  int64_t t = ns_to_ticks(now_ns);
  channels_[0].fold(t);
  // A rising edge of OUT: make sure the line is seen low first.
  if (irq0_level_) set_irq0_level(false);
  set_irq0_level(true);
  schedule_irq0(t);
}

void Pit8254::set_irq0_level(bool level) {
  if (level == irq0_level_) return;
  irq0_level_ = level;
  if (irq0) irq0(level);
}

}  // namespace vmm

#include "devices/cmos_rtc.h"

#include <algorithm>
#include <ctime>

namespace vmm {

namespace {

// Ports (PC/AT): the index register and the data register.
constexpr uint32_t kIndexPort = 0;
constexpr uint32_t kDataPort = 1;
constexpr uint8_t kIndexMask = 0x7f;
constexpr uint8_t kIndexNmiDisable = 0x80;

// MC146818A "Address Map": time, alarm and calendar bytes, then the four
// status registers.
constexpr uint8_t kSeconds = 0x00;
constexpr uint8_t kSecondsAlarm = 0x01;
constexpr uint8_t kMinutes = 0x02;
constexpr uint8_t kMinutesAlarm = 0x03;
constexpr uint8_t kHours = 0x04;
constexpr uint8_t kHoursAlarm = 0x05;
constexpr uint8_t kDayOfWeek = 0x06;  // 1-7, Sunday = 1.
constexpr uint8_t kDayOfMonth = 0x07;
constexpr uint8_t kMonth = 0x08;
constexpr uint8_t kYear = 0x09;
constexpr uint8_t kRegA = 0x0a;
constexpr uint8_t kRegB = 0x0b;
constexpr uint8_t kRegC = 0x0c;
constexpr uint8_t kRegD = 0x0d;

// Register A ("Register A").
constexpr uint8_t kAUip = 0x80;      // Update in progress (read-only).
constexpr uint8_t kADvMask = 0x70;   // DV2-DV0: time base / divider reset.
constexpr uint8_t kADv32k = 0x20;    // 32.768 kHz time base, divider running.
constexpr uint8_t kARsMask = 0x0f;   // RS3-RS0: periodic interrupt rate.
// What a PC BIOS programs: 32.768 kHz, 1024 Hz periodic rate.
constexpr uint8_t kADefault = kADv32k | 0x06;

// Register B ("Register B").
constexpr uint8_t kBSet = 0x80;   // Inhibit updates while the time is set.
constexpr uint8_t kBPie = 0x40;   // Periodic interrupt enable.
constexpr uint8_t kBAie = 0x20;   // Alarm interrupt enable.
constexpr uint8_t kBUie = 0x10;   // Update-ended interrupt enable.
constexpr uint8_t kBSqwe = 0x08;  // Square-wave enable (the pin is not wired on a PC).
constexpr uint8_t kBDm = 0x04;    // Data mode: 1 binary, 0 BCD.
constexpr uint8_t kB24h = 0x02;   // 1 = 24-hour mode, 0 = 12-hour with the PM bit.
constexpr uint8_t kBDse = 0x01;   // Daylight savings enable (not applied).
// What a PC BIOS leaves: BCD, 24-hour, no interrupts.
constexpr uint8_t kBDefault = kB24h;
static_assert((kBDefault & (kBSqwe | kBDse)) == 0);

// Register C ("Register C"): read-only, cleared by a read.
constexpr uint8_t kCIrqf = 0x80;  // = PF.PIE + AF.AIE + UF.UIE.
constexpr uint8_t kCPf = 0x40;    // Periodic interrupt flag.
constexpr uint8_t kCAf = 0x20;    // Alarm interrupt flag.
constexpr uint8_t kCUf = 0x10;    // Update-ended interrupt flag.

// Register D ("Register D"): VRT, valid RAM and time (the battery is good).
constexpr uint8_t kDVrt = 0x80;

// The 12-hour mode PM flag in the hour bytes ("Time, Calendar and Alarm
// Locations"), and the alarm "don't care" code (two high bits set).
constexpr uint8_t kHourPm = 0x80;
constexpr uint8_t kAlarmDontCare = 0xc0;

// PC/AT CMOS RAM layout (IBM PC/AT Technical Reference, "CMOS RAM Address
// Map"; 0x30-0x35 as BIOSes and QEMU use them).
constexpr uint8_t kEquipment = 0x14;
constexpr uint8_t kEquipmentFpu = 0x02;    // Math coprocessor installed.
constexpr uint8_t kBaseMemoryLow = 0x15;   // Base memory in KiB.
constexpr uint8_t kBaseMemoryHigh = 0x16;
constexpr uint8_t kExtMemoryLow = 0x17;    // Memory above 1 MiB in KiB.
constexpr uint8_t kExtMemoryHigh = 0x18;
constexpr uint8_t kChecksumFirst = 0x10;   // Checksummed range 0x10-0x2d.
constexpr uint8_t kChecksumLast = 0x2d;
constexpr uint8_t kChecksumHigh = 0x2e;
constexpr uint8_t kChecksumLow = 0x2f;
constexpr uint8_t kExtMemory2Low = 0x30;   // Same as 0x17/0x18, set by POST.
constexpr uint8_t kExtMemory2High = 0x31;
constexpr uint8_t kCentury = 0x32;
constexpr uint8_t kHighMemoryLow = 0x34;   // Memory above 16 MiB in 64 KiB units.
constexpr uint8_t kHighMemoryHigh = 0x35;
constexpr unsigned kBaseMemoryKiB = 640;

constexpr int64_t kNsPerSecond = 1'000'000'000;
constexpr int64_t kSecondsPerDay = 86400;
// The dates a guest can set (load_time).
constexpr int64_t kMinYear = 1900;
constexpr int64_t kMaxYear = 2199;
constexpr int64_t kTimeBaseHz = 32768;
// UIP rises 244 us (8 periods of the 32.768 kHz time base) before the update.
constexpr int64_t kUipHoldNs = 8 * kNsPerSecond / kTimeBaseHz;
// After the divider leaves reset, "the first update cycle begins one-half
// second later".
constexpr int64_t kDividerReleasePhaseNs = kNsPerSecond / 2;

int64_t floor_div(int64_t a, int64_t b) { return a / b - ((a % b != 0) && ((a < 0) != (b < 0))); }
int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

// Proleptic Gregorian calendar <-> days since 1970-01-01 (H. Hinnant's
// algorithms), so the RTC does not depend on the host's time zone or libc.
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  int64_t era = floor_div(y, 400);
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

void civil_from_days(int64_t z, int64_t& y, unsigned& m, unsigned& d) {
  z += 719468;
  int64_t era = floor_div(z, 146097);
  int64_t doe = z - era * 146097;
  int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  int64_t mp = (5 * doy + 2) / 153;
  d = static_cast<unsigned>(doy - (153 * mp + 2) / 5 + 1);
  m = static_cast<unsigned>(mp < 10 ? mp + 3 : mp - 9);
  y = yoe + era * 400 + (m <= 2);
}

int64_t host_realtime_ns() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return static_cast<int64_t>(ts.tv_sec) * kNsPerSecond + ts.tv_nsec;
}

}  // namespace

CmosRtc::CmosRtc(VirtualClock& clock, uint64_t ram_bytes)
    : clock_(clock), timer_(clock, [this](uint64_t now) {
        update_flags(now);
        schedule(now);
      }) {
  uint64_t now = clock_.now_ns();
  // Deterministic runs start at a fixed date at clock 0; otherwise the RTC
  // shows the host's UTC time.
  offset_ns_ = clock_.deterministic() ? kDeterministicEpoch * kNsPerSecond
                                      : host_realtime_ns() - static_cast<int64_t>(now);
  flags_rtc_ns_ = rtc_ns(now);
  ram_[kRegA] = kADefault;
  ram_[kRegB] = kBDefault;
  ram_[kRegD] = kDVrt;

  // Memory size as POST reports it: 640 KiB base memory; extended memory
  // above 1 MiB in KiB, capped at 65535 (0x17/0x18 and 0x30/0x31); memory
  // above 16 MiB in 64 KiB units, capped at 65535 (0x34/0x35).
  auto put16 = [this](uint8_t low, uint8_t high, uint64_t value) {
    value = std::min<uint64_t>(value, 0xffff);
    ram_[low] = static_cast<uint8_t>(value);
    ram_[high] = static_cast<uint8_t>(value >> 8);
  };
  constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB;
  put16(kBaseMemoryLow, kBaseMemoryHigh, kBaseMemoryKiB);
  uint64_t ext_kib = ram_bytes > kMiB ? (ram_bytes - kMiB) / kKiB : 0;
  put16(kExtMemoryLow, kExtMemoryHigh, ext_kib);
  put16(kExtMemory2Low, kExtMemory2High, ext_kib);
  uint64_t high_units = ram_bytes > 16 * kMiB ? (ram_bytes - 16 * kMiB) / (64 * kKiB) : 0;
  put16(kHighMemoryLow, kHighMemoryHigh, high_units);
  ram_[kEquipment] = kEquipmentFpu;
  // The AT BIOS checksum of 0x10-0x2d, stored big-endian at 0x2e.
  unsigned sum = 0;
  for (unsigned i = kChecksumFirst; i <= kChecksumLast; ++i) sum += ram_[i];
  ram_[kChecksumHigh] = static_cast<uint8_t>(sum >> 8);
  ram_[kChecksumLow] = static_cast<uint8_t>(sum);
}

// Byte ports: a wider access is split into byte accesses at consecutive
// ports, as the ISA bus does for an 8-bit device.
uint32_t CmosRtc::read(uint32_t offset, unsigned size) {
  uint64_t now = clock_.now_ns();
  uint32_t value = 0;
  for (unsigned i = 0; i < size; ++i) {
    uint32_t port = offset + i;
    // The index register is write-only on the AT; reads float high.
    uint32_t byte = port == kDataPort ? read_register(index_, now) : 0xffu;
    value |= byte << (8 * i);
  }
  return value;
}

void CmosRtc::write(uint32_t offset, unsigned size, uint32_t value) {
  uint64_t now = clock_.now_ns();
  for (unsigned i = 0; i < size; ++i) {
    uint32_t port = offset + i;
    uint8_t byte = static_cast<uint8_t>(value >> (8 * i));
    if (port == kIndexPort) {
      index_ = byte & kIndexMask;
      nmi_disabled_ = (byte & kIndexNmiDisable) != 0;
    } else if (port == kDataPort) {
      write_register(index_, byte, now);
    }
  }
}

uint8_t CmosRtc::read_register(uint8_t index, uint64_t now) {
  switch (index) {
    case kSeconds:
    case kMinutes:
    case kHours:
    case kDayOfWeek:
    case kDayOfMonth:
    case kMonth:
    case kYear:
    case kCentury:
      if (!frozen()) store_time(floor_div(rtc_ns(now), kNsPerSecond));
      return ram_[index];
    case kRegA:
      return static_cast<uint8_t>(ram_[kRegA] | (update_in_progress(now) ? kAUip : 0));
    case kRegC: {
      // "Register C": all flags are cleared by the read, and IRQ# goes high.
      update_flags(now);
      uint8_t value = reg_c_;
      reg_c_ = 0;
      update_irq();
      schedule(now);
      return value;
    }
    case kRegD:
      return kDVrt;
    default:
      return ram_[index];
  }
}

void CmosRtc::write_register(uint8_t index, uint8_t value, uint64_t now) {
  switch (index) {
    case kSeconds:
    case kMinutes:
    case kHours:
    case kDayOfWeek:
    case kDayOfMonth:
    case kMonth:
    case kYear:
    case kCentury:
      if (frozen()) {
        // Under SET (or divider reset) the calendar bytes are plain RAM
        // until the clock is released.
        ram_[index] = value;
      } else {
        // QEMU lets a running clock be set one byte at a time: the new
        // time counts on from this moment's position within the second.
        update_flags(now);
        int64_t rtc = rtc_ns(now);
        store_time(floor_div(rtc, kNsPerSecond));
        ram_[index] = value;
        set_time(load_time() * kNsPerSecond + floor_mod(rtc, kNsPerSecond), now);
      }
      break;
    case kSecondsAlarm:
    case kMinutesAlarm:
    case kHoursAlarm:
      update_flags(now);
      ram_[index] = value;
      schedule(now);
      break;
    case kRegA:
      change_control(static_cast<uint8_t>(value & ~kAUip), ram_[kRegB], now);
      break;
    case kRegB:
      change_control(ram_[kRegA], value, now);
      break;
    case kRegC:
    case kRegD:
      break;  // Read-only.
    default:
      ram_[index] = value;
      break;
  }
}

bool CmosRtc::divider_running() const {
  // DV2-DV0 = 000, 001, 010 are the three time bases; 11x hold the divider
  // in reset. Like QEMU, any running setting counts at the nominal rate.
  return (ram_[kRegA] & kADvMask) <= kADv32k;
}

bool CmosRtc::frozen() const { return (ram_[kRegB] & kBSet) || !divider_running(); }

bool CmosRtc::update_in_progress(uint64_t now) const {
  // "UIP": set from 244 us before each update cycle; never while SET
  // inhibits updates or the divider is held.
  if (frozen()) return false;
  return floor_mod(rtc_ns(now), kNsPerSecond) >= kNsPerSecond - kUipHoldNs;
}

uint8_t CmosRtc::encode(unsigned value) const {
  if (ram_[kRegB] & kBDm) return static_cast<uint8_t>(value);
  return static_cast<uint8_t>((value / 10) << 4 | (value % 10));
}

unsigned CmosRtc::decode(uint8_t value) const {
  if (ram_[kRegB] & kBDm) return value;
  return (value >> 4) * 10u + (value & 0x0fu);
}

uint8_t CmosRtc::encode_hour(unsigned hour) const {
  if (ram_[kRegB] & kB24h) return encode(hour);
  // 12-hour mode: 12, 1, ..., 11 with the PM flag from noon.
  unsigned h12 = hour % 12 == 0 ? 12 : hour % 12;
  return static_cast<uint8_t>(encode(h12) | (hour >= 12 ? kHourPm : 0));
}

unsigned CmosRtc::decode_hour(uint8_t value) const {
  if (ram_[kRegB] & kB24h) return decode(value);
  unsigned h12 = decode(value & static_cast<uint8_t>(~kHourPm));
  return h12 % 12 + ((value & kHourPm) ? 12 : 0);
}

void CmosRtc::store_time(int64_t seconds) {
  int64_t days = floor_div(seconds, kSecondsPerDay);
  int64_t sod = seconds - days * kSecondsPerDay;
  int64_t year;
  unsigned month, day;
  civil_from_days(days, year, month, day);
  ram_[kSeconds] = encode(static_cast<unsigned>(sod % 60));
  ram_[kMinutes] = encode(static_cast<unsigned>(sod / 60 % 60));
  ram_[kHours] = encode_hour(static_cast<unsigned>(sod / 3600));
  // 1970-01-01 was a Thursday (day 5 with Sunday = 1).
  ram_[kDayOfWeek] = encode(static_cast<unsigned>(floor_mod(days + 4, 7) + 1));
  ram_[kDayOfMonth] = encode(day);
  ram_[kMonth] = encode(month);
  ram_[kYear] = encode(static_cast<unsigned>(floor_mod(year, 100)));
  ram_[kCentury] = encode(static_cast<unsigned>(floor_div(year, 100) % 100));
}

int64_t CmosRtc::load_time() const {
  // Out-of-range bytes are clamped, as the real chip would carry them into
  // something valid sooner or later; the day of week is ignored (it is
  // derived from the date). The year too: the RTC keeps its time in int64_t
  // nanoseconds, which reach from 1677 to 2262 only, and the century and
  // year bytes can say anything from 0 to 25755; the guest's date is kept
  // within 1900-2199, with decades of room for the clock to run on.
  int64_t year = std::clamp<int64_t>(static_cast<int64_t>(decode(ram_[kCentury])) * 100 + decode(ram_[kYear]),
                                     kMinYear, kMaxYear);
  unsigned month = std::clamp(decode(ram_[kMonth]), 1u, 12u);
  unsigned day = std::clamp(decode(ram_[kDayOfMonth]), 1u, 31u);
  unsigned hour = std::min(decode_hour(ram_[kHours]), 23u);
  unsigned minute = std::min(decode(ram_[kMinutes]), 59u);
  unsigned second = std::min(decode(ram_[kSeconds]), 59u);
  return days_from_civil(year, month, day) * kSecondsPerDay + hour * 3600 + minute * 60 + second;
}

void CmosRtc::set_time(int64_t rtc, uint64_t now) {
  offset_ns_ = rtc - static_cast<int64_t>(now);
  // A new time line: no update cycle or alarm happened "between" the old
  // and the new time.
  flags_rtc_ns_ = rtc;
  schedule(now);
}

void CmosRtc::change_control(uint8_t a, uint8_t b, uint64_t now) {
  update_flags(now);
  bool was_frozen = frozen();
  bool was_running = divider_running();
  // The calendar bytes take the current time before they stop following it.
  if (!was_frozen) store_time(floor_div(rtc_ns(now), kNsPerSecond));
  // "Register B": setting SET clears UIE.
  if (b & kBSet) b &= static_cast<uint8_t>(~kBUie);
  ram_[kRegA] = a;
  ram_[kRegB] = b;
  if (was_frozen && !frozen()) {
    // Released: the time continues from the calendar bytes. After SET the
    // divider kept running, so the update cycles keep their phase; after a
    // divider reset the first update comes half a second later.
    int64_t phase = was_running ? floor_mod(rtc_ns(now), kNsPerSecond) : kDividerReleasePhaseNs;
    set_time(load_time() * kNsPerSecond + phase, now);
  } else if (!was_running && divider_running()) {
    // Divider released while SET still holds the calendar: only the phase
    // matters, and it restarts half a second before the next update.
    offset_ns_ = floor_div(rtc_ns(now), kNsPerSecond) * kNsPerSecond + kDividerReleasePhaseNs -
                 static_cast<int64_t>(now);
    flags_rtc_ns_ = rtc_ns(now);
  }
  update_irq();  // The enables may have changed IRQF.
  schedule(now);
}

unsigned CmosRtc::periodic_period() const {
  // "Periodic Interrupt Rate" table (32.768 kHz time base): RS = 1 and 2 give
  // 3.90625 ms and 7.8125 ms (the rates of RS = 8 and 9); RS = 3..15 give
  // 122.070 us * 2^(RS - 3), i.e. 2^(RS - 1) clocks; RS = 0 is none.
  unsigned rs = ram_[kRegA] & kARsMask;
  if (rs == 0) return 0;
  if (rs <= 2) rs += 7;
  return 1u << (rs - 1);
}

int64_t CmosRtc::periodic_index(int64_t rtc) const {
  // The periodic rates divide the 32.768 kHz chain that also makes the
  // seconds, so the interrupts are in phase with the update cycles.
  __int128 clocks = static_cast<__int128>(rtc) * kTimeBaseHz;
  __int128 ticks = clocks / kNsPerSecond - ((clocks % kNsPerSecond) < 0);
  return static_cast<int64_t>(ticks / periodic_period());
}

int64_t CmosRtc::next_alarm_after(int64_t seconds) const {
  // The alarm matches when each of the three alarm bytes equals the time
  // byte or holds the "don't care" code (11xxxxxx) ("Alarm"). Search day by
  // day, hour by hour, skipping whole hours and minutes already past.
  auto matches = [](uint8_t alarm, uint8_t value) {
    return (alarm & kAlarmDontCare) == kAlarmDontCare || alarm == value;
  };
  int64_t day_start = floor_div(seconds, kSecondsPerDay) * kSecondsPerDay;
  for (int d = 0; d < 2; ++d, day_start += kSecondsPerDay) {
    for (unsigned h = 0; h < 24; ++h) {
      int64_t hour_start = day_start + h * 3600;
      if (hour_start + 3599 <= seconds || !matches(ram_[kHoursAlarm], encode_hour(h))) continue;
      for (unsigned m = 0; m < 60; ++m) {
        int64_t minute_start = hour_start + m * 60;
        if (minute_start + 59 <= seconds || !matches(ram_[kMinutesAlarm], encode(m))) continue;
        for (unsigned s = 0; s < 60; ++s) {
          int64_t t = minute_start + s;
          if (t > seconds && matches(ram_[kSecondsAlarm], encode(s))) return t;
        }
      }
    }
  }
  return INT64_MAX;
}

void CmosRtc::update_flags(uint64_t now) {
  int64_t cur = rtc_ns(now);
  int64_t prev = flags_rtc_ns_;
  if (cur <= prev) return;
  flags_rtc_ns_ = cur;
  if (!divider_running()) return;  // The chain is stopped: nothing happens.
  // "Periodic Interrupt": PF is set at every period, whether PIE is set or not.
  if (periodic_period() != 0 && periodic_index(cur) > periodic_index(prev)) reg_c_ |= kCPf;
  if (!(ram_[kRegB] & kBSet)) {
    int64_t prev_s = floor_div(prev, kNsPerSecond);
    int64_t cur_s = floor_div(cur, kNsPerSecond);
    if (cur_s > prev_s) {
      // "Update Cycle": UF after every update; AF when an update produces
      // the alarm time.
      reg_c_ |= kCUf;
      if (next_alarm_after(prev_s) <= cur_s) reg_c_ |= kCAf;
    }
  }
  update_irq();
}

void CmosRtc::update_irq() {
  uint8_t b = ram_[kRegB];
  bool irqf = ((reg_c_ & kCPf) && (b & kBPie)) || ((reg_c_ & kCAf) && (b & kBAie)) ||
              ((reg_c_ & kCUf) && (b & kBUie));
  if (irqf) {
    reg_c_ |= kCIrqf;
  } else {
    reg_c_ &= static_cast<uint8_t>(~kCIrqf);
  }
  if (irqf == irq_level_) return;
  irq_level_ = irqf;
  if (irq) irq(irqf);
}

void CmosRtc::schedule(uint64_t now) {
  // Only an interrupt that would raise IRQ needs a timer: flags alone are
  // computed when register C is read, and while IRQF is set the line is
  // already asserted.
  timer_.disarm();
  if (irq_level_ || !divider_running()) return;
  uint8_t b = ram_[kRegB];
  int64_t cur = rtc_ns(now);
  int64_t next = INT64_MAX;
  if ((b & kBPie) && periodic_period() != 0) {
    __int128 clocks = static_cast<__int128>(periodic_index(cur) + 1) * periodic_period();
    __int128 scaled = clocks * kNsPerSecond;
    next = static_cast<int64_t>(scaled / kTimeBaseHz + (scaled % kTimeBaseHz > 0));
  }
  if (!(b & kBSet)) {
    int64_t cur_s = floor_div(cur, kNsPerSecond);
    if (b & kBUie) next = std::min(next, (cur_s + 1) * kNsPerSecond);
    if (b & kBAie) {
      int64_t alarm = next_alarm_after(cur_s);
      if (alarm != INT64_MAX) next = std::min(next, alarm * kNsPerSecond);
    }
  }
  if (next == INT64_MAX) return;
  timer_.arm(static_cast<uint64_t>(std::max<int64_t>(next - offset_ns_, static_cast<int64_t>(now))));
}

}  // namespace vmm

// QEMU-style -d logging: a set of enabled items, written to stderr or to the
// file given with -D.
#pragma once

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace vmm {

enum class LogMask : uint32_t {
  kInAsm = 1u << 0,   // Guest code of each block when it is decoded.
  kExec = 1u << 1,    // Each block executed.
  kInt = 1u << 2,     // Exceptions and interrupts delivered.
  kCpu = 1u << 3,     // CPU state before each block.
  kUnimp = 1u << 4,   // Unimplemented instructions and unassigned device accesses.
  kOutAsm = 1u << 5,  // Host code generated for each block (JIT).
  kGuestErrors = 1u << 6,
  kNoChain = 1u << 7,  // Not a log: QEMU's -d nochain, translated blocks not chained (EngineTuning).
};

class Log {
 public:
  Log() = default;
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Parses a comma-separated -d list ("in_asm,exec,int,cpu,unimp,out_asm,guest_errors").
  // Returns false with `error` set for an unknown item. "help" lists the items.
  bool parse(const std::string& list, std::string& error);
  // Parses a -dfilter list of guest address ranges, as QEMU spells them:
  // START+SIZE, START-SIZE (the SIZE bytes ending at START), START..END
  // (inclusive). Returns false with `error` set for a malformed range.
  bool parse_filter(const std::string& list, std::string& error);
  // Redirects output to `path` (-D). Returns false when it cannot be opened.
  bool open(const std::string& path);

  bool enabled(LogMask m) const { return mask_ & static_cast<uint32_t>(m); }
  // Item `m` is enabled for guest code at `addr`: no -dfilter, or `addr`
  // within one of its ranges. The per-block items (in_asm, out_asm, exec,
  // cpu) use this.
  bool enabled_at(LogMask m, uint32_t addr) const { return enabled(m) && in_filter(addr); }
  bool in_filter(uint32_t addr) const {
    if (ranges_.empty()) return true;
    for (const Range& r : ranges_)
      if (addr >= r.first && addr <= r.last) return true;
    return false;
  }
  void printf(LogMask m, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
  FILE* stream() { return out_ ? out_ : stderr; }
  static const char* help();

 private:
  struct Range {
    uint32_t first, last;  // Inclusive.
  };
  uint32_t mask_ = 0;
  std::vector<Range> ranges_;
  FILE* out_ = nullptr;
};

}  // namespace vmm

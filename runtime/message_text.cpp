#include "runtime/message_text.h"

#include <cinttypes>
#include <cstdio>
#include <iterator>

namespace vmm {

std::string size_text(uint64_t bytes) {
  static const char* const kUnits[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
  if (bytes == 1) return "1 byte";
  // The largest unit that divides the size exactly.
  size_t unit = 0;
  while (bytes != 0 && unit + 1 < std::size(kUnits) && bytes % (uint64_t{1} << (10 * (unit + 1))) == 0) ++unit;
  return std::to_string(bytes >> (10 * unit)) + " " + kUnits[unit];
}

std::string hex_text(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%" PRIx64, v);
  return buf;
}

std::string range_text(uint64_t begin, uint64_t end) { return "[" + hex_text(begin) + ", " + hex_text(end) + ")"; }

}  // namespace vmm

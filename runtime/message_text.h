// Numbers as the one-line error messages print them.
#pragma once

#include <cstdint>
#include <string>

namespace vmm {

// "8 GiB", "4 KiB", "4095 bytes": a size, exact (the largest unit that divides it).
std::string size_text(uint64_t bytes);
// "0x1f000".
std::string hex_text(uint64_t v);
// "[0x100000, 0x200000)": a half-open range of addresses.
std::string range_text(uint64_t begin, uint64_t end);

}  // namespace vmm

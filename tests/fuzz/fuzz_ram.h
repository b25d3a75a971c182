// Guest RAM for the loader harnesses: one GuestRam per size, made once and
// reused (a memfd and a mapping per input would dominate the run time), and
// a cheap test of "nothing was written to RAM".
//
// Before each input the RAM is cleared (GuestRam::clear punches a hole in its
// memory file, so no page of it is in memory afterwards). A loader never
// reads guest RAM, so a page that is in memory after a load (mincore) is one
// the loader wrote to: after a rejected image there must be none, whatever
// the RAM size, without scanning the RAM.
#pragma once

#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "runtime/guest_ram.h"
#include "tests/fuzz/fuzz_input.h"

namespace vmm::fuzz {

// A cleared GuestRam of `bytes` (rounded up to whole pages by GuestRam).
inline GuestRam& fresh_ram(uint64_t bytes) {
  static std::map<uint64_t, std::unique_ptr<GuestRam>> rams;
  std::unique_ptr<GuestRam>& ram = rams[bytes];
  if (!ram) ram = std::make_unique<GuestRam>(bytes);
  ram->clear();
  return *ram;
}

// The number of RAM pages in memory, i.e. written since fresh_ram().
inline size_t touched_pages(GuestRam& ram) {
  const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
  const size_t pages = (ram.size() + page - 1) / page;
  std::vector<unsigned char> vec(pages);
  FUZZ_CHECK(mincore(ram.data(), ram.size(), vec.data()) == 0, "mincore failed");
  size_t n = 0;
  for (unsigned char v : vec) n += v & 1;
  return n;
}

}  // namespace vmm::fuzz

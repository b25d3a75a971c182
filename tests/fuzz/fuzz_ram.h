// Guest RAM for the loader harnesses: one GuestRam per size, made once and
// reused (a memfd and a mapping per input would dominate the run time), and
// a cheap test of "nothing was written to RAM".
//
// Before each input the RAM is cleared (GuestRam::clear punches a hole in its
// memory file, which then holds no page). Touching a page of the shared
// mapping allocates it in the file, which fstat counts in st_blocks at once,
// whatever the RAM size (mincore costs a page-cache lookup per page). A
// loader never reads guest RAM, so an allocated page is one it wrote to:
// after a rejected image there must be none.
#pragma once

#include <sys/stat.h>
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

// The number of RAM pages touched since fresh_ram().
inline uint64_t touched_pages(GuestRam& ram) {
  struct stat st;
  FUZZ_CHECK(fstat(ram.fd(), &st) == 0, "fstat of the guest RAM file failed");
  return static_cast<uint64_t>(st.st_blocks) * 512 / static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
}

}  // namespace vmm::fuzz

// Fuzz harness: the multiboot loader and the flat-binary loader
// (devices/multiboot.h) on hostile images.
//
// Input: [config][cmdline length][cmdline][flat load u32][flat entry u32][image...]
//   config  bit 3 makes the flat addresses relative (load = value % RAM
//           size, entry = load + value % image size), which reaches the
//           success path more often; the other bits are unused.
// For each guest RAM size in kRamSizes (the user's -m, not part of the file:
// every file meets every size, the edges included) the image goes to
// load_multiboot and then, into cleared RAM, to load_flat.
//
// Properties: a bad image is a LoadError with a one-line message and leaves
// RAM untouched; no other exception, crash or sanitizer report; a loaded
// kernel's boot information lies in RAM and says what the loader was given.
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "devices/multiboot.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_ram.h"

namespace {

using vmm::fuzz::FuzzInput;

constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB;
constexpr uint64_t kRamSizes[8] = {4 * kKiB, 64 * kKiB, 640 * kKiB, 1 * kMiB,
                                   1 * kMiB + 64 * kKiB, 2 * kMiB, 4 * kMiB, 16 * kMiB};

uint32_t get32(vmm::GuestRam& ram, uint64_t addr) {
  FUZZ_CHECK(ram.contains(addr, 4), "read of 4 bytes at 0x%llx outside RAM", static_cast<unsigned long long>(addr));
  uint32_t v;
  std::memcpy(&v, ram.ptr(static_cast<uint32_t>(addr)), 4);
  return v;
}

// The NUL-terminated string at `addr`, which must end inside RAM.
std::string get_string(vmm::GuestRam& ram, uint32_t addr) {
  FUZZ_CHECK(ram.contains(addr), "string at 0x%x outside RAM", addr);
  const char* p = reinterpret_cast<const char*>(ram.ptr(addr));
  const void* nul = std::memchr(p, 0, ram.size() - addr);
  FUZZ_CHECK(nul, "string at 0x%x has no NUL before the end of RAM", addr);
  return std::string(p, static_cast<const char*>(nul));
}

void check_one_line(const std::exception& e) {
  const std::string what = e.what();
  FUZZ_CHECK(!what.empty() && what.find('\n') == std::string::npos, "error message is not one line: '%s'",
             what.c_str());
}

void check_multiboot(vmm::GuestRam& ram, const vmm::BootInfo& info, const std::string& cmdline) {
  FUZZ_CHECK(info.eax == vmm::kMultibootBootloaderMagic, "eax 0x%x", info.eax);
  FUZZ_CHECK(info.entry < ram.size(), "entry 0x%x outside RAM (0x%x bytes)", info.entry, ram.size());
  // 3.3 "Boot information format".
  const uint32_t base = info.ebx;
  FUZZ_CHECK(ram.contains(base, 116), "boot information at 0x%x outside RAM", base);
  const uint32_t flags = get32(ram, base);
  FUZZ_CHECK(flags == ((1u << 0) | (1u << 2) | (1u << 6) | (1u << 9)), "info flags 0x%x", flags);
  FUZZ_CHECK(get32(ram, base + 4) <= 640, "mem_lower %u KiB", get32(ram, base + 4));
  FUZZ_CHECK(get_string(ram, get32(ram, base + 16)) == cmdline, "command line differs");
  FUZZ_CHECK(get_string(ram, get32(ram, base + 64)) == "vmm", "boot loader name differs");
  const uint32_t mmap_length = get32(ram, base + 44);
  const uint32_t mmap_addr = get32(ram, base + 48);
  FUZZ_CHECK(ram.contains(mmap_addr, mmap_length), "memory map 0x%x+0x%x outside RAM", mmap_addr, mmap_length);
  for (uint64_t off = 0; off < mmap_length; off += 24) {
    FUZZ_CHECK(get32(ram, mmap_addr + off) == 20, "mmap entry size %u", get32(ram, mmap_addr + off));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  const uint8_t config = in.u8();
  const std::string cmdline = in.short_string();
  const uint32_t flat_load = in.u32();
  const uint32_t flat_entry = in.u32();
  const std::vector<uint8_t> image = in.rest();

  for (const uint64_t ram_size : kRamSizes) {
    vmm::GuestRam& ram = vmm::fuzz::fresh_ram(ram_size);
    try {
      const vmm::BootInfo info = vmm::load_multiboot(ram, image, cmdline);
      check_multiboot(ram, info, cmdline);
    } catch (const vmm::LoadError& e) {
      check_one_line(e);
      FUZZ_CHECK(vmm::fuzz::touched_pages(ram) == 0, "a rejected multiboot image wrote to RAM (%s)", e.what());
    } catch (const std::exception& e) {
      FUZZ_CHECK(false, "load_multiboot threw something other than LoadError: %s", e.what());
    }

    uint32_t load = flat_load, entry = flat_entry;
    if (config & 8) {
      load %= ram.size();
      if (!image.empty()) entry = load + entry % image.size();
    }
    vmm::GuestRam& flat_ram = vmm::fuzz::fresh_ram(ram_size);
    try {
      const vmm::BootInfo info = vmm::load_flat(flat_ram, image, load, entry);
      FUZZ_CHECK(info.entry == entry && info.eax == 0 && info.ebx == 0, "flat boot info");
      FUZZ_CHECK(flat_ram.contains(load, image.size()), "flat image accepted outside RAM");
      FUZZ_CHECK(entry >= load && entry - load < image.size(), "flat entry outside the image");
      FUZZ_CHECK(std::memcmp(flat_ram.ptr(load), image.data(), image.size()) == 0, "flat image not copied");
    } catch (const vmm::LoadError& e) {
      check_one_line(e);
      FUZZ_CHECK(vmm::fuzz::touched_pages(flat_ram) == 0, "a rejected flat image wrote to RAM (%s)", e.what());
    } catch (const std::exception& e) {
      FUZZ_CHECK(false, "load_flat threw something other than LoadError: %s", e.what());
    }
  }
  return 0;
}

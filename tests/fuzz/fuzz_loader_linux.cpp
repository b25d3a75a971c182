// Fuzz harness: the Linux bzImage loader (devices/linux_boot.h) on hostile
// kernels, initrds and command lines.
//
// Input: [config][cmdline length u16][initrd length u32][cmdline][initrd][kernel...]
//   config  bit 3: pass the initrd (else none, whatever its length says);
//           the other bits are unused.
//   The lengths are cut to what the input holds; the kernel is the rest.
//
// As Machine::boot decides: an image with "HdrS" goes to load_linux, once
// for each guest RAM size in kRamSizes (the size is the user's -m, not part
// of the file: every file meets every size, the edges included); every image
// goes to check_not_pre_2_00_linux (the message for an old kernel).
//
// Properties: a bad kernel or initrd is a LoadError (InitrdError) with a
// one-line message and leaves RAM untouched; nothing else is thrown, no
// crash, no sanitizer report; a loaded kernel's zero page, command line and
// initrd are where the returned LinuxBootInfo says and hold what was given.
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include "devices/linux_boot.h"
#include "tests/fuzz/fuzz_input.h"
#include "tests/fuzz/fuzz_ram.h"

namespace {

using vmm::fuzz::FuzzInput;

constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB;
constexpr uint64_t kRamSizes[8] = {512 * kKiB, 1 * kMiB + 4 * kKiB, 1 * kMiB + 64 * kKiB, 2 * kMiB,
                                   4 * kMiB,   16 * kMiB,           64 * kMiB,            1024 * kMiB};
constexpr uint32_t kKernelLoadAddr = 0x100000;
constexpr uint32_t kZeroPage = 0x10000;
constexpr uint32_t kCmdline = 0x20000;

uint32_t get32(vmm::GuestRam& ram, uint32_t addr) {
  FUZZ_CHECK(ram.contains(addr, 4), "read at 0x%x outside RAM", addr);
  uint32_t v;
  std::memcpy(&v, ram.ptr(addr), 4);
  return v;
}

void check_one_line(const std::exception& e) {
  const std::string what = e.what();
  FUZZ_CHECK(!what.empty() && what.find('\n') == std::string::npos, "error message is not one line: '%s'",
             what.c_str());
}

void check_loaded(vmm::GuestRam& ram, const vmm::LinuxBootInfo& info, const std::vector<uint8_t>& kernel,
                  const std::vector<uint8_t>* initrd, const std::string& cmdline) {
  FUZZ_CHECK(info.entry >= kKernelLoadAddr && info.entry < kKernelLoadAddr + kernel.size() && info.entry < ram.size(),
             "entry 0x%x outside the loaded kernel", info.entry);
  FUZZ_CHECK(info.boot_params == kZeroPage && info.cmdline_addr == kCmdline, "zero page 0x%x, command line 0x%x",
             info.boot_params, info.cmdline_addr);
  FUZZ_CHECK(info.gdt_limit == 31 && ram.contains(info.gdt_base, 32), "GDT 0x%x+%u", info.gdt_base, info.gdt_limit);
  FUZZ_CHECK(info.code_selector == vmm::kLinuxBootCs && info.data_selector == vmm::kLinuxBootDs, "selectors");
  FUZZ_CHECK(ram.contains(kCmdline, cmdline.size() + 1), "command line outside RAM");
  FUZZ_CHECK(std::memcmp(ram.ptr(kCmdline), cmdline.data(), cmdline.size()) == 0 && ram.ptr(kCmdline)[cmdline.size()] == 0,
             "command line not copied");
  // boot_params: cmd_line_ptr, ramdisk_image, ramdisk_size.
  FUZZ_CHECK(get32(ram, kZeroPage + 0x228) == kCmdline, "cmd_line_ptr");
  FUZZ_CHECK(get32(ram, kZeroPage + 0x218) == info.initrd_addr && get32(ram, kZeroPage + 0x21C) == info.initrd_size,
             "ramdisk fields");
  if (!initrd) {
    FUZZ_CHECK(info.initrd_addr == 0 && info.initrd_size == 0, "an initrd without one");
    return;
  }
  FUZZ_CHECK(info.initrd_size == initrd->size(), "initrd size %u, given %zu", info.initrd_size, initrd->size());
  FUZZ_CHECK(info.initrd_addr % 4096 == 0, "initrd at 0x%x is not page aligned", info.initrd_addr);
  FUZZ_CHECK(ram.contains(info.initrd_addr, info.initrd_size), "initrd outside RAM");
  // Above the protected-mode kernel (whose size is at most the file's).
  FUZZ_CHECK(info.initrd_addr >= kKernelLoadAddr + 1, "initrd at 0x%x overlaps the kernel", info.initrd_addr);
  FUZZ_CHECK(std::memcmp(ram.ptr(info.initrd_addr), initrd->data(), initrd->size()) == 0, "initrd not copied");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  const uint8_t config = in.u8();
  const size_t cmdline_length = in.u16();
  const size_t initrd_length = in.u32();
  const std::string cmdline = in.string(cmdline_length);
  const std::vector<uint8_t> initrd_bytes = in.bytes(initrd_length);
  const std::vector<uint8_t> kernel = in.rest();
  const std::vector<uint8_t>* initrd = (config & 8) ? &initrd_bytes : nullptr;

  try {
    vmm::check_not_pre_2_00_linux(kernel);
  } catch (const vmm::LoadError& e) {
    check_one_line(e);
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, "check_not_pre_2_00_linux threw something other than LoadError: %s", e.what());
  }
  if (!vmm::is_linux_bzimage(kernel)) return 0;

  for (const uint64_t ram_size : kRamSizes) {
    vmm::GuestRam& ram = vmm::fuzz::fresh_ram(ram_size);
    try {
      const vmm::LinuxBootInfo info = vmm::load_linux(ram, kernel, initrd, cmdline);
      check_loaded(ram, info, kernel, initrd, cmdline);
    } catch (const vmm::LoadError& e) {  // InitrdError too.
      check_one_line(e);
      FUZZ_CHECK(vmm::fuzz::touched_pages(ram) == 0, "a rejected kernel wrote to RAM (%s)", e.what());
    } catch (const std::exception& e) {
      FUZZ_CHECK(false, "load_linux threw something other than LoadError: %s", e.what());
    }
  }
  return 0;
}

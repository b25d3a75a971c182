// Kernel loading: the Linux x86 boot protocol (Documentation/arch/x86/boot.rst)
// for bzImage kernels, started through its "32-bit boot protocol" section:
// no BIOS and no real-mode setup code run; the loader builds the zero page
// (struct boot_params) itself and enters the protected-mode kernel at
// code32_start.
//
// As with the multiboot loader (devices/multiboot.h), every field read from
// the image is range-checked, nothing is allocated by a size the file gives,
// and nothing is written to guest RAM until the kernel, the command line
// and the initrd have all been validated and placed. Errors are LoadError
// (InitrdError for the initrd) with a one-line message naming the field.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "devices/multiboot.h"  // LoadError
#include "runtime/guest_ram.h"

namespace vmm {

// A LoadError about the initrd file rather than the kernel image (the
// caller names the initrd file in the message).
class InitrdError : public LoadError {
 public:
  using LoadError::LoadError;
};

// Where the boot CPU starts and what it finds (boot.rst, "32-bit boot
// protocol"): 32-bit protected mode, paging and interrupts off, GDTR =
// {gdt_base, gdt_limit} holding flat 4 GiB descriptors for __BOOT_CS
// (execute/read) and __BOOT_DS (read/write), CS = __BOOT_CS, DS = ES = SS
// (and FS, GS) = __BOOT_DS, ESI = boot_params, EBP = EDI = EBX = 0,
// EIP = entry. The descriptors in guest memory carry the accessed bit, so
// loading them leaves memory and the hidden parts as a CPU would.
struct LinuxBootInfo {
  uint32_t entry;        // code32_start.
  uint32_t boot_params;  // The zero page (ESI).
  uint32_t gdt_base;
  uint16_t gdt_limit;
  uint16_t code_selector;  // __BOOT_CS.
  uint16_t data_selector;  // __BOOT_DS.
  uint32_t cmdline_addr;
  uint32_t initrd_addr;  // 0 without an initrd.
  uint32_t initrd_size;
};

inline constexpr uint16_t kLinuxBootCs = 0x10;
inline constexpr uint16_t kLinuxBootDs = 0x18;

// Whether the image carries a Linux setup header (the "HdrS" signature at
// offset 0x202, boot.rst "The real-mode kernel header"): it is then loaded
// by load_linux, and any inconsistency in it is an error (as QEMU decides).
bool is_linux_bzimage(const std::vector<uint8_t>& image);

// Throws LoadError when the image looks like a Linux kernel without a setup
// header (a boot sector: boot_flag 0xAA55 at 0x1FE, no "HdrS"), i.e. one
// older than boot protocol 2.00, which load_linux cannot start. For the
// caller to give that message when the image is not a multiboot kernel
// either.
void check_not_pre_2_00_linux(const std::vector<uint8_t>& image);

// Loads a bzImage: the protected-mode kernel at 0x100000, the zero page, the
// command line (`cmdline`, as given: at most the header's cmdline_size
// bytes), the initrd when `initrd` is not null (page aligned, as high as
// possible below initrd_addr_max, the end of RAM, and clear of the memory
// the kernel needs), an e820 map of the RAM and the GDT. Requires boot
// protocol 2.04 or later and LOADED_HIGH. Throws LoadError (InitrdError for
// an initrd that does not fit).
LinuxBootInfo load_linux(GuestRam& ram, const std::vector<uint8_t>& image, const std::vector<uint8_t>* initrd,
                         const std::string& cmdline);

}  // namespace vmm

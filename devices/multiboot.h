// Kernel loading: Multiboot v1 (Multiboot Specification 0.6.96) for ELF32 i386
// kernels and a.out-kludge images, and flat binaries at a given address.
//
// Everything read from the image is checked before use and nothing is written
// to guest RAM until the whole image has been validated, so a rejected kernel
// leaves RAM untouched. Errors are LoadError with a one-line message that
// names the offending part of the file.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "runtime/guest_ram.h"

namespace vmm {

class LoadError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where and how the boot CPU starts: EIP, EAX and EBX. The rest of the
// machine state (3.2 "Machine state": 32-bit protected mode, flat 4 GiB
// code and data segments, paging and interrupts off, A20 enabled) is the
// machine's to set up.
struct BootInfo {
  uint32_t entry;
  uint32_t eax;
  uint32_t ebx;
};

// 3.2: the value in EAX that tells the kernel a Multiboot loader started it.
inline constexpr uint32_t kMultibootBootloaderMagic = 0x2BADB002;

// Loads a Multiboot v1 kernel and builds its boot information (memory sizes
// and map, command line, boot loader name) in guest RAM. Returns the entry
// point, EAX = kMultibootBootloaderMagic and EBX = the information's address.
// Throws LoadError if the image has no valid Multiboot header, asks for
// features this loader lacks, or is malformed or does not fit in RAM.
BootInfo load_multiboot(GuestRam& ram, const std::vector<uint8_t>& image, const std::string& cmdline);

// Copies a flat binary to `load_addr` and starts it at `entry`, which must
// lie inside the image. No boot information: EAX = EBX = 0.
BootInfo load_flat(GuestRam& ram, const std::vector<uint8_t>& image, uint32_t load_addr, uint32_t entry);

}  // namespace vmm

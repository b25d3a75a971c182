// QEMU's isa-debug-exit device: a port that ends the emulation when the guest
// writes to it, so test kernels can report pass/fail as the VMM's exit status.
// The machine registers it at 0xf4, length 4, as
// `-device isa-debug-exit,iobase=0xf4,iosize=0x04` does in QEMU.
#pragma once

#include <cstdint>
#include <functional>

#include "devices/io_device.h"

namespace vmm {

class DebugExit : public IoDevice {
 public:
  static constexpr uint16_t kDefaultBase = 0xf4;
  static constexpr uint16_t kDefaultLength = 4;

  // `on_exit` is called with the exit status for every write; it normally
  // stops the machine and the VMM then exits with that status.
  using ExitCallback = std::function<void(int status)>;
  explicit DebugExit(ExitCallback on_exit);

  // QEMU's status encoding: a write of v gives (v << 1) | 1, so a guest can
  // never produce status 0 and a plain crash is told apart from a report.
  // Computed modulo 2^32 (a 32-bit v loses its top bit), as the process exit
  // status keeps only the low 8 bits anyway.
  static int status_for(uint32_t value) { return static_cast<int>((value << 1) | 1u); }

  const char* name() const override { return "isa-debug-exit"; }
  // Reads return 0, as in QEMU.
  uint32_t read(uint32_t offset, unsigned size) override;
  // Any write, of any size at any offset in the range, reports the value.
  void write(uint32_t offset, unsigned size, uint32_t value) override;

 private:
  ExitCallback on_exit_;
};

}  // namespace vmm

// unicorn_run - runs a multiboot guest program under Unicorn 2 (the
// QEMU-derived CPU emulator library people embed), for bench/run's "unicorn"
// column.
//
//   unicorn_run [-m MiB] KERNEL
//
// The kernel is loaded by vmm's own multiboot loader into RAM that Unicorn
// maps without copying; the CPU starts as the Multiboot specification says
// (3.2: flat 32-bit protected mode, paging and interrupts off, EAX = magic,
// EBX = the boot information). Port I/O is answered through Unicorn's IN/OUT
// hooks, as the guest programs of tests/guests need it: COM1's transmit
// register goes to stdout (unless the line control register selects the
// divisor latch), its line status always says "ready", and a write
// to QEMU's isa-debug-exit port 0xf4 ends the run with status (v << 1) | 1,
// as under QEMU and vmm. Other ports read as all ones and ignore writes.
//
// Unicorn has no devices, no interrupts and no timers: only programs that
// compute and print (tests/guests/progs) run here. A guest exception or an
// instruction Unicorn cannot run ends the run with status 2 and a message.
#include <unicorn/unicorn.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "devices/multiboot.h"
#include "runtime/guest_ram.h"
#include "runtime/read_file.h"

namespace {

constexpr uint16_t kCom1 = 0x3f8;
constexpr uint16_t kDebugExit = 0xf4;
constexpr uint8_t kLsrReady = 0x60;  // THR and transmitter empty.

struct Run {
  uc_engine* uc = nullptr;
  std::string out;
  int status = -1;
  uint8_t lcr = 0;  // COM1's line control: with DLAB (bit 7) set, port 0x3f8 is the divisor latch.
};

uint32_t on_in(uc_engine*, uint32_t port, int size, void* user) {
  (void)user;
  if (port == kCom1 + 5u) return kLsrReady;
  return size == 1 ? 0xFFu : size == 2 ? 0xFFFFu : 0xFFFFFFFFu;
}

void on_out(uc_engine* uc, uint32_t port, int size, uint32_t value, void* user) {
  auto* run = static_cast<Run*>(user);
  (void)size;
  if (port == kCom1 + 3u) {
    run->lcr = static_cast<uint8_t>(value);
  } else if (port == kCom1 && !(run->lcr & 0x80)) {
    run->out.push_back(static_cast<char>(value & 0xFF));
    if (run->out.size() >= 4096) {
      std::fwrite(run->out.data(), 1, run->out.size(), stdout);
      run->out.clear();
    }
  } else if (port == kDebugExit) {
    run->status = static_cast<int>(((value & 0xFF) << 1) | 1);
    uc_emu_stop(uc);
  }
}

void on_interrupt(uc_engine* uc, uint32_t intno, void* user) {
  auto* run = static_cast<Run*>(user);
  uint32_t eip = 0;
  uc_reg_read(uc, UC_X86_REG_EIP, &eip);
  std::fprintf(stderr, "unicorn_run: guest exception or interrupt %u at EIP 0x%08x (no IDT here)\n", intno, eip);
  run->status = 2;
  uc_emu_stop(uc);
}

[[noreturn]] void die(const std::string& what) {
  std::fprintf(stderr, "unicorn_run: %s\n", what.c_str());
  std::exit(2);
}

void check(uc_err e, const char* what) {
  if (e != UC_ERR_OK) die(std::string(what) + ": " + uc_strerror(e));
}

}  // namespace

int main(int argc, char** argv) {
  uint64_t mib = 64;
  int i = 1;
  if (i + 1 < argc && std::strcmp(argv[i], "-m") == 0) {
    mib = std::strtoull(argv[i + 1], nullptr, 10);
    i += 2;
  }
  if (i + 1 != argc || mib < 1 || mib > 3072) die("usage: unicorn_run [-m MiB (1-3072)] KERNEL");

  vmm::GuestRam ram(mib << 20);
  vmm::BootInfo boot{};
  try {
    boot = vmm::load_multiboot(ram, vmm::read_file_bounded(argv[i], ram.size()), argv[i]);
  } catch (const std::exception& e) {
    die(e.what());
  }

  Run run;
  check(uc_open(UC_ARCH_X86, UC_MODE_32, &run.uc), "uc_open");
  check(uc_mem_map_ptr(run.uc, 0, ram.size(), UC_PROT_ALL, ram.data()), "uc_mem_map_ptr");
  uc_hook in_hook, out_hook, intr_hook;
  check(uc_hook_add(run.uc, &in_hook, UC_HOOK_INSN, reinterpret_cast<void*>(&on_in), &run, 1, 0, UC_X86_INS_IN),
        "uc_hook_add IN");
  check(uc_hook_add(run.uc, &out_hook, UC_HOOK_INSN, reinterpret_cast<void*>(&on_out), &run, 1, 0, UC_X86_INS_OUT),
        "uc_hook_add OUT");
  check(uc_hook_add(run.uc, &intr_hook, UC_HOOK_INTR, reinterpret_cast<void*>(&on_interrupt), &run, 1, 0),
        "uc_hook_add INTR");
  uint32_t eax = boot.eax, ebx = boot.ebx, eflags = 0x2;
  check(uc_reg_write(run.uc, UC_X86_REG_EAX, &eax), "EAX");
  check(uc_reg_write(run.uc, UC_X86_REG_EBX, &ebx), "EBX");
  check(uc_reg_write(run.uc, UC_X86_REG_EFLAGS, &eflags), "EFLAGS");

  const uc_err err = uc_emu_start(run.uc, boot.entry, 0xFFFFFFFFull, 0, 0);
  std::fwrite(run.out.data(), 1, run.out.size(), stdout);
  std::fflush(stdout);
  if (err != UC_ERR_OK) {
    uint32_t eip = 0;
    uc_reg_read(run.uc, UC_X86_REG_EIP, &eip);
    die(std::string("stopped at EIP ") + std::to_string(eip) + ": " + uc_strerror(err));
  }
  uc_close(run.uc);
  if (run.status < 0) die("the guest stopped without writing to the debug-exit port");
  return run.status;
}

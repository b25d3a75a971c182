// The JIT against the interpreter on one test machine each: a CPU with
// 4 MiB of RAM, flat protected mode, code at 0x1000. Shared by the JIT's
// unit tests (test_jit.cpp, test_shadow_paging.cpp).
#pragma once

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <vector>

#include "devices/bus.h"
#include "jit/jit_engine.h"
#include "runtime/cpu.h"

namespace vmm::jit_test {

constexpr uint32_t kCode = 0x1000;

// Which of the JIT's two memory paths the test runs on: the guest views
// (host-MMU path) or the inline softmmu TLB probes (--host-mmu=off).
inline bool g_host_mmu = true;

struct Vm {
  explicit Vm(bool jit, size_t tb = 4u << 20) : ram(4u << 20), cpu(ram, bus) {
    cpu.reset_flat_protected(kCode);
    if (jit) cpu.enable_jit(tb, g_host_mmu);
  }
  void put(uint32_t addr, const std::vector<uint8_t>& bytes) { std::memcpy(ram.ptr(addr), bytes.data(), bytes.size()); }
  uint32_t get32(uint32_t addr) {
    uint32_t v;
    std::memcpy(&v, ram.ptr(addr), 4);
    return v;
  }
  void put32(uint32_t addr, uint32_t v) { std::memcpy(ram.ptr(addr), &v, 4); }
  GuestRam ram;
  Bus bus;
  Cpu cpu;
};

// Runs `code` at 0x1000 on both engines until HLT (or the instruction limit),
// after `setup` on each, and checks they agree. Returns the JIT VM's state.
struct Pair {
  Vm interp{false};
  Vm jit{true};
};

// `count`: the instructions retired too, which are exact when the run
// stopped on its own (HLT, a stop); a run ended by its instruction limit may
// overshoot it by a few in translated code (budget tests sit on backward
// exits only).
inline void expect_same(Vm& a, Vm& b, bool count = true) {
  for (int r = 0; r < 8; ++r) EXPECT_EQ(a.cpu.s.gpr[r], b.cpu.s.gpr[r]) << "register " << r;
  EXPECT_EQ(a.cpu.s.eip, b.cpu.s.eip);
  EXPECT_EQ(a.cpu.s.eflags, b.cpu.s.eflags);
  EXPECT_EQ(a.cpu.s.cr2, b.cpu.s.cr2);
  if (count) {
    EXPECT_EQ(a.cpu.stats().instructions, b.cpu.stats().instructions) << "instructions retired";
  }
  EXPECT_EQ(a.cpu.stop_message(), b.cpu.stop_message());
  EXPECT_EQ(std::memcmp(a.ram.data(), b.ram.data(), a.ram.size()), 0) << "RAM differs";
}

inline void run_both(Pair& p, const std::vector<uint8_t>& code, const std::function<void(Vm&)>& setup = nullptr,
              uint64_t limit = 10'000'000) {
  for (Vm* v : {&p.interp, &p.jit}) {
    v->put(kCode, code);
    if (setup) setup(*v);
    v->cpu.run(limit);
  }
  expect_same(p.interp, p.jit, p.interp.cpu.stats().instructions < limit);
}

}  // namespace vmm::jit_test

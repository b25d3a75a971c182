// Isolation and agreement between the engines on what hostile guests do at
// the edges: instructions that run off the end of RAM, the #PF error code of
// read-modify-write instructions (checked against the real CPU), locked
// instructions whose operand crosses a cache line.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/mman.h>
#include <ucontext.h>

#include <csetjmp>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "devices/bus.h"
#include "jit/jit_engine.h"
#include "runtime/cpu.h"
#include "runtime/log.h"

namespace vmm {
namespace {

constexpr uint32_t kCode = 0x1000;
constexpr uint32_t kRam = 4u << 20;

enum class Engine { kInterp, kJitViews, kJitProbes };
const char* name(Engine e) {
  return e == Engine::kInterp ? "interp" : e == Engine::kJitViews ? "jit (guest views)" : "jit (TLB probes)";
}
constexpr Engine kEngines[] = {Engine::kInterp, Engine::kJitViews, Engine::kJitProbes};

struct Vm {
  explicit Vm(Engine e) : ram(kRam), cpu(ram, bus) {
    cpu.reset_flat_protected(kCode);
    if (e != Engine::kInterp) cpu.enable_jit(4u << 20, e == Engine::kJitViews);
  }
  void put(uint32_t addr, const std::vector<uint8_t>& bytes) { std::memcpy(ram.ptr(addr), bytes.data(), bytes.size()); }
  void put32(uint32_t addr, uint32_t v) { std::memcpy(ram.ptr(addr), &v, 4); }
  GuestRam ram;
  Bus bus;
  Cpu cpu;
};

// An instruction whose first byte is the last byte of RAM and whose
// immediate would come from beyond it: the block builder used to return an
// empty block, which the JIT translated to nothing and ran whatever followed
// in its code buffer (a host write at the guest's EAX). It executes as #UD,
// like any code outside RAM, in every engine.
TEST(Isolation, InstructionRunningOffTheEndOfRamIsUndefined) {
  for (Engine e : kEngines) {
    for (uint32_t at : {kRam - 2, kRam - 1, kRam - 4}) {
      SCOPED_TRACE(std::string(name(e)) + " at " + std::to_string(at));
      Vm vm(e);
      // mov eax, 0x12345678; mov ebx, at; jmp ebx
      vm.put(kCode, {0xB8, 0x78, 0x56, 0x34, 0x12, 0xBB, 0, 0, 0, 0, 0xFF, 0xE3});
      vm.put32(kCode + 6, at);
      if (at == kRam - 1) vm.put(at, {0xB8});  // mov eax, imm32: needs 5 bytes.
      if (at == kRam - 2) vm.put(at, {0xB8, 0x90});
      if (at == kRam - 4) vm.put(at, {0x90, 0x90, 0xB8, 0x90});  // Two NOPs first, then the same.
      vm.cpu.run(1000);
      const uint32_t ud_at = at == kRam - 4 ? kRam - 2 : at;
      EXPECT_EQ(vm.cpu.s.eip, ud_at);
      char want[96];
      std::snprintf(want, sizeof want, "unhandled guest exception #UD (vector 6, error code 0x0) at eip=0x%08x", ud_at);
      EXPECT_EQ(vm.cpu.stop_message(), want);
      EXPECT_EQ(vm.cpu.s.gpr[EAX], 0x12345678u);
    }
  }
}

// --- #PF error codes of memory operands, against the host CPU. ---

// Guest instructions on [EAX] whose encoding means the same in 64-bit mode
// on [RAX] (no REX, no 32-bit-only opcode), so the host CPU can run them too.
struct Form {
  const char* text;
  std::vector<uint8_t> bytes;
};
const std::vector<Form>& forms() {
  static const std::vector<Form> f = {
      {"mov ecx, [eax]", {0x8B, 0x08}},        {"mov [eax], ecx", {0x89, 0x08}},
      {"movzx ecx, byte [eax]", {0x0F, 0xB6, 0x08}},
      {"cmp [eax], ecx", {0x39, 0x08}},        {"test [eax], ecx", {0x85, 0x08}},
      {"bt [eax], ecx", {0x0F, 0xA3, 0x08}},   {"mul dword [eax]", {0xF7, 0x20}},
      {"imul dword [eax]", {0xF7, 0x28}},      {"div dword [eax]", {0xF7, 0x30}},
      {"idiv dword [eax]", {0xF7, 0x38}},      {"mul byte [eax]", {0xF6, 0x20}},
      {"div word [eax]", {0x66, 0xF7, 0x30}},  {"add [eax], ecx", {0x01, 0x08}},
      {"add ecx, [eax]", {0x03, 0x08}},        {"inc dword [eax]", {0xFF, 0x00}},
      {"not dword [eax]", {0xF7, 0x10}},       {"neg byte [eax]", {0xF6, 0x18}},
      {"shl dword [eax], 1", {0xD1, 0x20}},    {"shl dword [eax], cl (count 0)", {0xD3, 0x20}},    {"rol word [eax], cl", {0x66, 0xD3, 0x00}},
      {"xchg [eax], ecx", {0x87, 0x08}},       {"xchg [eax], cl", {0x86, 0x08}},
      {"lock add [eax], ecx", {0xF0, 0x01, 0x08}},
      {"cmpxchg [eax], ecx", {0x0F, 0xB1, 0x08}},
      {"xadd [eax], ecx", {0x0F, 0xC1, 0x08}}, {"bts [eax], ecx", {0x0F, 0xAB, 0x08}},
      {"cmpxchg8b [eax]", {0x0F, 0xC7, 0x08}}, {"shld [eax], ecx, 3", {0x0F, 0xA4, 0x08, 0x03}},
      {"setz byte [eax]", {0x0F, 0x94, 0x00}},
  };
  return f;
}

sigjmp_buf g_jump;
long g_error_code;
void on_segv(int, siginfo_t*, void* uc) {
  g_error_code = static_cast<ucontext_t*>(uc)->uc_mcontext.gregs[REG_ERR];
  siglongjmp(g_jump, 1);
}

// The page-fault error code the host CPU reports for `bytes` on a
// not-present page (-1: no fault). ECX and EDX are 0.
long host_error_code(const std::vector<uint8_t>& bytes) {
  void* code = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  std::memcpy(code, bytes.data(), bytes.size());
  static_cast<uint8_t*>(code)[bytes.size()] = 0xC3;  // ret
  mprotect(code, 4096, PROT_READ | PROT_EXEC);
  struct sigaction sa = {}, old = {};
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_NODEFER;
  sigaction(SIGSEGV, &sa, &old);
  long result = -1;
  if (sigsetjmp(g_jump, 1) == 0) {
    asm volatile("xor %%ecx, %%ecx\n\txor %%edx, %%edx\n\tcall *%1"
                 :
                 : "a"(page), "r"(code)
                 : "rcx", "rdx", "memory", "cc");
  } else {
    result = g_error_code;
  }
  sigaction(SIGSEGV, &old, nullptr);
  munmap(code, 4096);
  munmap(page, 4096);
  return result;
}

// Identity paging of the 4 MiB of RAM with the page at kHole not present.
constexpr uint32_t kHole = 0x300000;
void enable_paging(Vm& vm) {
  constexpr uint32_t pd = 0x8000, pt = 0x9000;
  vm.put32(pd, pt | 3);
  for (uint32_t i = 0; i < 1024; ++i) vm.put32(pt + 4 * i, (i << 12) == kHole ? 0 : (i << 12) | 3);
  vm.cpu.s.cr3 = pd;
  vm.cpu.s.cr0 |= cr0::PG;
  vm.cpu.paging_changed();
}

TEST(Isolation, PageFaultErrorCodesMatchTheHostCpu) {
  for (const Form& f : forms()) {
    const long host = host_error_code(f.bytes);
    ASSERT_NE(host, -1) << f.text << " did not fault on the host";
    // The host ran it at CPL 3: the guest runs at CPL 0, so U/S differs.
    const uint32_t want = static_cast<uint32_t>(host) & ~pferr::kUser;
    for (Engine e : kEngines) {
      SCOPED_TRACE(std::string(f.text) + " under " + name(e));
      Vm vm(e);
      enable_paging(vm);
      vm.put(kCode, f.bytes);
      vm.put(kCode + static_cast<uint32_t>(f.bytes.size()), {0xF4});
      vm.cpu.s.gpr[EAX] = kHole + 0x10;
      vm.cpu.run(100);
      char expect[96];
      std::snprintf(expect, sizeof expect, "unhandled guest exception #PF (vector 14, error code 0x%x) at eip=0x%08x",
                    want, kCode);
      EXPECT_EQ(vm.cpu.stop_message(), expect);
      EXPECT_EQ(vm.cpu.s.cr2, kHole + 0x10);
    }
  }
}

// Read-modify-write instructions fault as writes on a present read-only
// page too (CR0.WP=1 makes supervisor writes check R/W), with P=1.
TEST(Isolation, ReadModifyWriteOnAReadOnlyPageFaultsAsAWrite) {
  for (Engine e : kEngines) {
    SCOPED_TRACE(name(e));
    Vm vm(e);
    enable_paging(vm);
    vm.put32(0x9000 + 4 * (kHole >> 12), kHole | 1);  // Present, read-only.
    vm.cpu.s.cr0 |= cr0::WP;
    vm.cpu.paging_changed();
    // mov ecx, [eax] (a read: fine); add [eax], ecx (faults, W=1 P=1).
    vm.put(kCode, {0x8B, 0x08, 0x01, 0x08, 0xF4});
    vm.cpu.s.gpr[EAX] = kHole + 0x20;
    vm.cpu.run(100);
    EXPECT_EQ(vm.cpu.stop_message(),
              "unhandled guest exception #PF (vector 14, error code 0x3) at eip=0x00001002");
  }
}

// XCHG with memory (implicitly locked) and LOCK-prefixed instructions on a
// dword that crosses a 64-byte cache line: the host must never see a locked
// split access. The results are the architectural ones in every engine.
TEST(Isolation, LockedAccessesAcrossACacheLine) {
  for (Engine e : kEngines) {
    SCOPED_TRACE(name(e));
    Vm vm(e);
    const uint32_t data = 0x20000 + 62;  // Crosses the line at 0x20040.
    vm.put32(data, 0x11223344);
    // mov ecx, 0x100; loop: xchg [ebx], eax; lock add [ebx], edx; lock xadd [ebx], esi;
    // dec ecx; jnz loop; hlt
    vm.put(kCode, {0xB9, 0x00, 0x01, 0x00, 0x00,  //
                   0x87, 0x03,                    // xchg [ebx], eax
                   0xF0, 0x01, 0x13,              // lock add [ebx], edx
                   0xF0, 0x0F, 0xC1, 0x33,        // lock xadd [ebx], esi
                   0x49,                          // dec ecx
                   0x75, 0xF4,                    // jnz -12 (to the xchg at 0x1005)
                   0xF4});
    vm.cpu.s.gpr[EBX] = data;
    vm.cpu.s.gpr[EAX] = 1;
    vm.cpu.s.gpr[EDX] = 2;
    vm.cpu.s.gpr[ESI] = 3;
    // The translated code, as -d out_asm shows it.
    Log log;
    std::string error;
    const std::string path = ::testing::TempDir() + "vmm_locked_out_asm.txt";
    ASSERT_TRUE(log.parse("out_asm", error) && log.open(path));
    vm.cpu.log = &log;
    vm.cpu.run(10000);
    vm.cpu.log = nullptr;
    std::fflush(log.stream());
    std::ifstream in(path);
    std::stringstream text;
    text << in.rdbuf();
    if (e != Engine::kInterp) {
      EXPECT_NE(text.str().find("OUT:"), std::string::npos);
      std::string line;
      while (std::getline(text, line)) {
        EXPECT_EQ(line.find("lock"), std::string::npos) << line;
        if (line.find("xchg") != std::string::npos) {
          EXPECT_EQ(line.find('['), std::string::npos) << line;
        }
      }
    }
    // Independent model of the loop.
    uint32_t m = 0x11223344, eax = 1, esi = 3;
    for (int i = 0; i < 0x100; ++i) {
      std::swap(m, eax);
      m += 2;
      const uint32_t sum = m + esi;
      esi = m;
      m = sum;
    }
    uint32_t got;
    std::memcpy(&got, vm.ram.ptr(data), 4);
    EXPECT_EQ(got, m);
    EXPECT_EQ(vm.cpu.s.gpr[EAX], eax);
    EXPECT_EQ(vm.cpu.s.gpr[ESI], esi);
    EXPECT_EQ(vm.cpu.s.gpr[ECX], 0u);
    EXPECT_EQ(vm.cpu.s.eip, kCode + 18);
  }
}

// A REP STOS over megabytes stops between page runs when the machine has a
// due timer (host time), with EIP at the instruction and ECX/EDI showing the
// progress, and goes on from there when run again: the machine runs its
// timers in between, so a PIT tick can interrupt the instruction.
TEST(Isolation, LongRepStringStopsForDueTimers) {
  for (Engine e : kEngines) {
    SCOPED_TRACE(name(e));
    Vm vm(e);
    // mov ecx, 0x80000; mov edi, 0x10000; mov eax, 0x5a5a5a5a; rep stosd; hlt
    vm.put(kCode, {0xB9, 0x00, 0x00, 0x08, 0x00, 0xBF, 0x00, 0x00, 0x01, 0x00, 0xB8, 0x5A, 0x5A, 0x5A, 0x5A,
                   0xF3, 0xAB, 0xF4});
    int asked = 0;
    vm.cpu.timers_due = [&] { return ++asked == 3; };
    EXPECT_EQ(vm.cpu.run(1000), StopReason::kInstructionLimit);
    EXPECT_EQ(vm.cpu.s.eip, kCode + 15);
    const uint32_t left = vm.cpu.s.gpr[ECX];
    EXPECT_GT(left, 0u);
    EXPECT_LT(left, 0x80000u);
    EXPECT_EQ(vm.cpu.s.gpr[EDI], 0x10000 + 4 * (0x80000 - left));
    uint32_t last, next;
    std::memcpy(&last, vm.ram.ptr(vm.cpu.s.gpr[EDI] - 4), 4);
    std::memcpy(&next, vm.ram.ptr(vm.cpu.s.gpr[EDI]), 4);
    EXPECT_EQ(last, 0x5a5a5a5au);
    EXPECT_EQ(next, 0u);
    vm.cpu.timers_due = nullptr;
    vm.cpu.run(1000);
    EXPECT_EQ(vm.cpu.s.gpr[ECX], 0u);
    EXPECT_EQ(vm.cpu.s.gpr[EDI], 0x10000u + 4 * 0x80000);
    EXPECT_EQ(vm.cpu.s.eip, kCode + 18);
  }
}

// A block is interpreted until its threshold-th entry, then translated: the
// JIT engine's statistics count the translation only then.
TEST(Isolation, BlocksAreTranslatedAtTheirThresholdEntry) {
  GuestRam ram(kRam);
  Bus bus;
  Cpu cpu(ram, bus);
  cpu.reset_flat_protected(kCode);
  cpu.enable_jit(4u << 20, true, 5);
  // mov ecx, 10; L: call F; dec ecx; jnz L; hlt; F (at 0x1100): inc eax; ret
  const std::vector<uint8_t> code = {0xB9, 0x0A, 0x00, 0x00, 0x00, 0xE8, 0xF6, 0x00, 0x00, 0x00,
                                     0x49, 0x75, 0xF8, 0xF4};
  std::memcpy(ram.ptr(kCode), code.data(), code.size());
  const std::vector<uint8_t> f = {0x40, 0xC3};
  std::memcpy(ram.ptr(0x1100), f.data(), f.size());
  cpu.s.gpr[ESP] = 0x8000;
  cpu.run(1'000'000);
  EXPECT_EQ(cpu.s.gpr[EAX], 10u);
  EXPECT_EQ(cpu.s.gpr[ECX], 0u);
  // The entry block (0x1000) runs once: never translated. F (0x1100) and
  // the block after the call (0x100a) run ten times, the call at 0x1005
  // nine times: each is translated at its fifth entry.
  EXPECT_EQ(cpu.jit()->stats().translations, 3u);
  EXPECT_GE(cpu.jit()->stats().executions, 1u);
  EXPECT_LE(cpu.jit()->stats().executions, 6u + 6u + 5u);
}

}  // namespace
}  // namespace vmm

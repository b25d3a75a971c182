// Micro-benchmarks of the parts a guest's speed is made of (Google
// Benchmark): decoding, block building, translation, block lookup on each
// path, the softmmu TLB's hit and refill, and one helper call from
// translated code.
//
//   build/bench/vmm_microbench [--benchmark_filter=REGEX] [--benchmark_repetitions=N]
//
// The guest code is assembled by hand below; every sequence was checked
// with ndisasm -b32.
#include <benchmark/benchmark.h>

#include <cstring>
#include <vector>

#include "devices/bus.h"
#include "frontend/block_builder.h"
#include "frontend/decoder.h"
#include "jit/jit_engine.h"
#include "runtime/cpu.h"
#include "runtime/guest_ram.h"

namespace vmm {
namespace {

// A mix of common integer instructions (28 instructions, 76 bytes):
// mov/add/sub/cmp/lea/and/or/xor/shl/imul with registers, immediates and
// memory operands, push/pop, inc/dec, test, movzx, a Jcc and a call.
const std::vector<uint8_t> kMix = {
    0x89, 0xD8,                          // mov eax, ebx
    0x83, 0xC0, 0x04,                    // add eax, 4
    0x2B, 0x4E, 0x08,                    // sub ecx, [esi+8]
    0x8B, 0x54, 0x24, 0x04,              // mov edx, [esp+4]
    0x39, 0xD0,                          // cmp eax, edx
    0x8D, 0x44, 0x8B, 0x10,              // lea eax, [ebx+ecx*4+0x10]
    0x21, 0xC8,                          // and eax, ecx
    0x09, 0xD3,                          // or ebx, edx
    0x31, 0xF6,                          // xor esi, esi
    0xC1, 0xE0, 0x03,                    // shl eax, 3
    0x0F, 0xAF, 0xC3,                    // imul eax, ebx
    0x50,                                // push eax
    0x5B,                                // pop ebx
    0x41,                                // inc ecx
    0x4A,                                // dec edx
    0x85, 0xC0,                          // test eax, eax
    0x0F, 0xB6, 0x07,                    // movzx eax, byte [edi]
    0x89, 0x47, 0x0C,                    // mov [edi+12], eax
    0x03, 0x05, 0x00, 0x20, 0x00, 0x00,  // add eax, [0x2000]
    0xC7, 0x46, 0x04, 0x01, 0x00, 0x00, 0x00,  // mov dword [esi+4], 1
    0x74, 0x00,                          // jz +0
    0x8B, 0x0C, 0x8D, 0x00, 0x30, 0x00, 0x00,  // mov ecx, [ecx*4+0x3000]
    0x01, 0xC8,                          // add eax, ecx
    0x29, 0xD8,                          // sub eax, ebx
    0xF7, 0xD8,                          // neg eax
    0x89, 0xC2,                          // mov edx, eax
    0xD1, 0xEA,                          // shr edx, 1
    0x31, 0xD0,                          // xor eax, edx
};

void BM_Decode(benchmark::State& state) {
  Decoder dec(true);
  InstrRecord r;
  uint64_t n = 0;
  for (auto _ : state) {
    for (size_t off = 0; off < kMix.size();) {
      dec.decode(kMix.data() + off, kMix.size() - off, r);
      benchmark::DoNotOptimize(r);
      off += r.length;
      ++n;
    }
  }
  state.counters["guest_insns_per_s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_Decode);

// Code at physical = linear address 0x1000 of a flat RAM.
class FlatCode : public CodeSource {
 public:
  explicit FlatCode(const std::vector<uint8_t>& code) : ram_(0x10000, 0xF4) {
    std::memcpy(ram_.data() + 0x1000, code.data(), code.size());
  }
  uint32_t translate(uint32_t eip) override { return eip; }
  const uint8_t* bytes(uint32_t phys) override { return ram_.data() + phys; }

 private:
  std::vector<uint8_t> ram_;
};

void BM_BuildBlock(benchmark::State& state) {
  Decoder dec(true);
  BlockBuilder builder(dec);
  FlatCode src(kMix);
  uint64_t n = 0;
  for (auto _ : state) {
    Block b;
    builder.build(src, 0x1000, 0xFFFFFFFFu, b);
    n += b.instrs.size();
    benchmark::DoNotOptimize(b.instrs.data());
  }
  state.counters["guest_insns_per_s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_BuildBlock);

struct Machine {
  explicit Machine(bool jit, bool host_mmu = true) : ram(4u << 20), cpu(ram, bus) {
    cpu.reset_flat_protected(0x1000);
    if (jit) cpu.enable_jit(16u << 20, host_mmu, 1);
  }
  void put(uint32_t addr, const std::vector<uint8_t>& code) { std::memcpy(ram.ptr(addr), code.data(), code.size()); }
  GuestRam ram;
  Bus bus;
  Cpu cpu;
};

// Decode + translate + run once, a block never seen before each time: the
// cost of cold code. 20,000 copies of kMix, one per iteration; when
// all have run, the code cache is emptied outside the timing. Each copy
// ends in JMP $ and runs for exactly its 29 instructions.
void BM_TranslateBlock(benchmark::State& state) {
  Machine m(true);
  constexpr uint32_t kBase = 0x100000, kStride = 80, kCopies = 20000;
  std::vector<uint8_t> code = kMix;
  code.push_back(0xEB);  // jmp $
  code.push_back(0xFE);
  for (uint32_t i = 0; i < kCopies; ++i) m.put(kBase + i * kStride, code);
  uint64_t n = 0;
  uint32_t next = 0;
  for (auto _ : state) {
    if (next == kCopies) {
      state.PauseTiming();
      m.cpu.flush_code_cache();
      next = 0;
      state.ResumeTiming();
    }
    m.cpu.s.eip = kBase + next++ * kStride;
    m.cpu.s.gpr[ESP] = 0x8000;
    m.cpu.s.gpr[ESI] = 0x4000;
    m.cpu.s.gpr[EDI] = 0x5000;
    m.cpu.run(29);
    n += 28;
  }
  state.counters["guest_insns_per_s"] = benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_TranslateBlock);

// A loop of two blocks (mov ecx, N; L: inc eax; jmp M; M: dec ecx; jnz L;
// hlt) under the JIT: each iteration crosses two block boundaries, taken
// by a chained jump, through the run loop's jump cache, or through the
// block map (range(0): 0, 1, 2).
void BM_BlockLookup(benchmark::State& state) {
  Machine m(true);
  EngineTuning t;
  const char* label = "chained";
  if (state.range(0) >= 1) {
    t.chaining = false;
    label = "jump cache";
  }
  if (state.range(0) == 2) {
    t.jump_cache = false;
    label = "block map";
  }
  t.superblocks = false;
  m.cpu.set_tuning(t);
  constexpr uint32_t kIters = 1'000'000;
  // 0x1000: mov ecx, kIters; 0x1005: inc eax; 0x1006: jmp 0x1009; 0x1008: (int3 pad)
  // 0x1009: dec ecx; 0x100a: jnz 0x1005; 0x100c: hlt
  m.put(0x1000, {0xB9, 0x40, 0x42, 0x0F, 0x00, 0x40, 0xEB, 0x01, 0xCC, 0x49, 0x75, 0xF9, 0xF4});
  for (auto _ : state) {
    m.cpu.reset_flat_protected(0x1000);
    m.cpu.run(10 * kIters);
  }
  state.SetLabel(label);
  state.counters["ns_per_iteration"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kIters, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_BlockLookup)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond);

// The softmmu (the interpreter's and --host-mmu=off's path): a 4-byte read
// hitting the TLB, and one refilled by a page walk each time (INVLPG of the
// page before it; paging on, 4 KiB pages).
void BM_SoftTlb(benchmark::State& state) {
  Machine m(false);
  // Page directory 0x10000 -> table 0x11000 identity-mapping 0-4 MiB.
  for (uint32_t i = 0; i < 1024; ++i) {
    const uint32_t pte = (i << 12) | 0x23;  // P, RW, A.
    std::memcpy(m.ram.ptr(0x11000 + 4 * i), &pte, 4);
  }
  const uint32_t pde = 0x11023;
  std::memcpy(m.ram.ptr(0x10000), &pde, 4);
  m.cpu.s.cr3 = 0x10000;
  m.cpu.s.cr0 |= cr0::PG;
  m.cpu.paging_changed();
  const bool refill = state.range(0);
  uint32_t sum = 0;
  for (auto _ : state) {
    if (refill) m.cpu.mmu.flush_page(0x20000);
    sum += m.cpu.mmu.read<uint32_t>(0x20010, kMmuKernel);
  }
  benchmark::DoNotOptimize(sum);
  state.SetLabel(refill ? "refill (page walk)" : "hit");
}
BENCHMARK(BM_SoftTlb)->Arg(0)->Arg(1);

// One interpreter helper call from translated code: a chained loop with
// OUT 0x80, AL (a helper) against the same loop with NOP.
void BM_HelperCall(benchmark::State& state) {
  Machine m(true);
  constexpr uint32_t kIters = 1'000'000;
  // mov ecx, kIters; L: out 0x80, al | nop nop; dec ecx; jnz L; hlt
  const bool helper = state.range(0);
  m.put(0x1000, {0xB9, 0x40, 0x42, 0x0F, 0x00, helper ? uint8_t{0xE6} : uint8_t{0x90},
                 helper ? uint8_t{0x80} : uint8_t{0x90}, 0x49, 0x75, 0xFB, 0xF4});
  for (auto _ : state) {
    m.cpu.reset_flat_protected(0x1000);
    m.cpu.run(10 * kIters);
  }
  state.SetLabel(helper ? "OUT (helper)" : "NOP (native)");
  state.counters["ns_per_iteration"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kIters, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_HelperCall)->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace vmm

BENCHMARK_MAIN();

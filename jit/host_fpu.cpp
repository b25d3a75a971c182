// The guest's x87 registers in the host FPU (jit/host_fpu.h).
#include "jit/host_fpu.h"

#include <cstring>

#include "jit/state_operands.h"
#include "runtime/fpu.h"

namespace vmm::jit::host_fpu {

namespace x86 = asmjit::x86;

namespace {
// The parts of the FXSAVE image exchanged with the host (SDM Vol. 1, 10.5.1,
// Table 10-2): FCW, FSW and the abridged tag byte; the ten bytes of each
// ST(i) slot (the other six are reserved and stay as the interpreter keeps them).
constexpr unsigned kControlBytes = 5;
constexpr unsigned kValueBytes = 10;
// The XSAVE header after the legacy area (SDM Vol. 1, 13.4.2): XSTATE_BV.
constexpr int32_t kOffXstateBv = kOffFpu + static_cast<int32_t>(offsetof(FpuState, xsave_header));
static_assert(offsetof(FpuState, xsave_header) == 512 && alignof(FpuState) == 64);
static_assert(offsetof(CpuState, fpu) % 64 == 0);
}  // namespace

bool supported() {
  const asmjit::CpuInfo& cpu = asmjit::CpuInfo::host();
  return cpu.hasFeature(asmjit::CpuFeatures::X86::kXSAVE) && cpu.hasFeature(asmjit::CpuFeatures::X86::kOSXSAVE);
}

void emit_stubs(x86::Assembler& a, asmjit::Label& load, asmjit::Label& ready) {
  a.bind(load);
  // XRSTOR with the requested-feature bitmap EDX:EAX = 1 loads the x87
  // state alone (FCW, FSW, tags, FOP, FIP, FDP, ST(0)-ST(7)) from the
  // standard-form area at CpuState::fpu, MXCSR and the XMM registers left
  // alone (SDM Vol. 1, 13.8). XSTATE_BV bit 0 says the x87 state is in
  // memory, not in its initial configuration. No instruction here writes
  // the flags.
  a.mov(x86::r10, x86::rax);
  a.mov(x86::r11, x86::rdx);
  a.mov(x86::byte_ptr(x86::r15, kOffXstateBv), 1);
  a.mov(x86::eax, 1);
  a.mov(x86::edx, 0);
  a.xrstor(x86::ptr(x86::r15, kOffFpu));
  a.mov(x86::rax, x86::r10);
  a.mov(x86::rdx, x86::r11);
  a.mov(x86::byte_ptr(x86::r15, kOffFpuInHost), 1);
  a.lea(x86::r10, x86::ptr(ready));
  a.mov(x86::qword_ptr(x86::r15, kOffFpuEnter), x86::r10);
  a.mov(x86::r10, x86::qword_ptr(x86::r15, kOffFpuLoads));
  a.lea(x86::r10, x86::ptr(x86::r10, 1));
  a.mov(x86::qword_ptr(x86::r15, kOffFpuLoads), x86::r10);
  a.bind(ready);
  a.ret();
}

void load(CpuState& s, const Stubs& stubs) {
  alignas(16) uint8_t img[512] = {};
  std::memcpy(img, s.fpu.fxsave, fpu::kOffXmm0);
  uint32_t mxcsr;
  asm volatile("stmxcsr %0" : "=m"(mxcsr));
  std::memcpy(img + fpu::kOffMxcsr, &mxcsr, 4);  // The host's: FXRSTOR loads MXCSR too.
  // FXRSTOR also loads XMM0-XMM15 (zeros here): the compiler keeps nothing there across it.
  asm volatile("fxrstor %0"
               :
               : "m"(img)
               : "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9",
                 "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
  s.jit.fpu_in_host = 1;
  s.jit.fpu_enter = stubs.ready;
}

void store(CpuState& s, const Stubs& stubs) {
  if (!s.jit.fpu_in_host) return;
  alignas(16) uint8_t img[512];
  asm volatile("fxsave %0\n\tfninit" : "=m"(img) : : "memory");
  std::memcpy(s.fpu.fxsave, img, kControlBytes);
  for (unsigned i = 0; i < 8; ++i)
    std::memcpy(s.fpu.fxsave + fpu::kOffSt0 + 16 * i, img + fpu::kOffSt0 + 16 * i, kValueBytes);
  s.jit.fpu_in_host = 0;
  s.jit.fpu_enter = stubs.load;
}

Spill::~Spill() {
  if (loaded_ && s_.fpu_native()) load(s_, stubs_);
}

}  // namespace vmm::jit::host_fpu

// The guest's x87 registers in the host FPU (jit/host_fpu.h).
#include "jit/host_fpu.h"

#include <cstring>

#include "runtime/fpu.h"

namespace vmm::jit::host_fpu {

namespace {
// The parts of the FXSAVE image exchanged with the host (SDM Vol. 1, 10.5.1,
// Table 10-2): FCW, FSW and the abridged tag byte; the ten bytes of each
// ST(i) slot (the other six are reserved and stay as the interpreter keeps them).
constexpr unsigned kControlBytes = 5;
constexpr unsigned kValueBytes = 10;
}  // namespace

void load(CpuState& s) {
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
}

void store(CpuState& s) {
  if (!s.jit.fpu_in_host) return;
  alignas(16) uint8_t img[512];
  asm volatile("fxsave %0\n\tfninit" : "=m"(img) : : "memory");
  std::memcpy(s.fpu.fxsave, img, kControlBytes);
  for (unsigned i = 0; i < 8; ++i)
    std::memcpy(s.fpu.fxsave + fpu::kOffSt0 + 16 * i, img + fpu::kOffSt0 + 16 * i, kValueBytes);
  s.jit.fpu_in_host = 0;
}

Spill::~Spill() {
  if (loaded_ && s_.fpu_native()) load(s_);
}

}  // namespace vmm::jit::host_fpu

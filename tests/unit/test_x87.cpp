// x87 FPU: guest instruction sequences run on the VMM compared with the same
// sequences run natively on the host x87 (this is an x86-64 host), plus the
// state images, #NM/#MF and the stack-fault responses.
#include <gtest/gtest.h>

#include <cfloat>
#include <cmath>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "devices/bus.h"
#include "runtime/cpu.h"
#include "runtime/fpu.h"
#include "runtime/guest_ram.h"

namespace vmm {
namespace {

using fpu::F80;

constexpr uint32_t kCode = 0x1000;
constexpr uint32_t kData = 0x8000;
// Offsets in the data area, shared by the guest (at kData) and the native
// run (a host buffer).
constexpr uint32_t kA = 0x00, kB = 0x10, kCw = 0x20, kR = 0x30, kSw = 0x40, kR2 = 0x50, kSw2 = 0x60, kEnv = 0x100,
                   kEnv2 = 0x140, kSave = 0x200, kSave2 = 0x300, kFx = 0x400, kFx2 = 0x600, kHostCw = 0x7F0;
constexpr uint32_t kDataSize = 0x800;

// A tiny x87 encoder (opcodes from the SDM Vol. 2 instruction pages); memory
// operands are [disp32] into the data area.
class Asm {
 public:
  Asm& raw(std::initializer_list<uint8_t> b) {
    bytes.insert(bytes.end(), b);
    return *this;
  }
  // opcode bytes, then ModR/M with mod=00 rm=101 (disp32) and /reg.
  Asm& m(std::initializer_list<uint8_t> op, uint8_t reg, uint32_t off) {
    raw(op);
    bytes.push_back(static_cast<uint8_t>((reg << 3) | 5));
    const uint32_t a = kData + off;
    for (int i = 0; i < 4; ++i) bytes.push_back(static_cast<uint8_t>(a >> (8 * i)));
    return *this;
  }
  Asm& fninit() { return raw({0xDB, 0xE3}); }
  Asm& fnclex() { return raw({0xDB, 0xE2}); }
  Asm& fwait() { return raw({0x9B}); }
  Asm& fldcw(uint32_t o) { return m({0xD9}, 5, o); }
  Asm& fnstcw(uint32_t o) { return m({0xD9}, 7, o); }
  Asm& fnstsw(uint32_t o) { return m({0xDD}, 7, o); }
  Asm& fnstsw_ax() { return raw({0xDF, 0xE0}); }
  Asm& fld32(uint32_t o) { return m({0xD9}, 0, o); }
  Asm& fld64(uint32_t o) { return m({0xDD}, 0, o); }
  Asm& fld80(uint32_t o) { return m({0xDB}, 5, o); }
  Asm& fst32(uint32_t o) { return m({0xD9}, 2, o); }
  Asm& fstp32(uint32_t o) { return m({0xD9}, 3, o); }
  Asm& fst64(uint32_t o) { return m({0xDD}, 2, o); }
  Asm& fstp64(uint32_t o) { return m({0xDD}, 3, o); }
  Asm& fstp80(uint32_t o) { return m({0xDB}, 7, o); }
  Asm& fld_st(int i) { return raw({0xD9, static_cast<uint8_t>(0xC0 + i)}); }
  Asm& fstp_st(int i) { return raw({0xDD, static_cast<uint8_t>(0xD8 + i)}); }
  Asm& fld1() { return raw({0xD9, 0xE8}); }
  Asm& fldz() { return raw({0xD9, 0xEE}); }
  Asm& fldpi() { return raw({0xD9, 0xEB}); }
  Asm& fnop() { return raw({0xD9, 0xD0}); }
  Asm& fnstenv(uint32_t o) { return m({0xD9}, 6, o); }
  Asm& fldenv(uint32_t o) { return m({0xD9}, 4, o); }
  Asm& fnsave(uint32_t o) { return m({0xDD}, 6, o); }
  Asm& frstor(uint32_t o) { return m({0xDD}, 4, o); }
  Asm& fxsave(uint32_t o) { return m({0x0F, 0xAE}, 0, o); }
  Asm& fxrstor(uint32_t o) { return m({0x0F, 0xAE}, 1, o); }

  std::vector<uint8_t> bytes;
};

F80 f80(long double v) {
  F80 r;
  std::memcpy(&r.mant, &v, 8);
  std::memcpy(&r.se, reinterpret_cast<const uint8_t*>(&v) + 8, 2);
  return r;
}
F80 raw80(uint16_t se, uint64_t mant) {
  F80 r;
  r.se = se;
  r.mant = mant;
  return r;
}

std::string hex80(const F80& v) {
  char b[40];
  std::snprintf(b, sizeof b, "%04x:%016llx", v.se, static_cast<unsigned long long>(v.mant));
  return b;
}

// A spread of operands: ordinary values, both zeros, denormals (true and
// pseudo), the range limits, infinities, QNaN, SNaN, an unnormal.
std::vector<F80> sample_values() {
  return {f80(1.0L),
          f80(-2.5L),
          f80(3.0L),
          f80(1.0L / 3.0L),
          f80(-0.1L),
          f80(123456789.987654321L),
          f80(0.0L),
          f80(-0.0L),
          f80(LDBL_MAX),
          f80(LDBL_MIN),
          f80(LDBL_TRUE_MIN),
          f80(1e4000L),
          f80(-1e-4000L),
          f80(INFINITY),
          f80(-INFINITY),
          raw80(0x7FFF, 0xC000000000000123ull),  // QNaN
          raw80(0xFFFF, 0xA000000000000456ull),  // SNaN
          raw80(0x3FFF, 0x4000000000000000ull),  // Unnormal (unsupported)
          raw80(0x0000, 0x8000000000000001ull)}; // Pseudo-denormal
}

// Control words with every exception masked, over all PC and RC settings.
std::vector<uint16_t> masked_cws() {
  std::vector<uint16_t> v;
  for (uint16_t pc : {0x000, 0x200, 0x300})
    for (uint16_t rc : {0x000, 0x400, 0x800, 0xC00}) v.push_back(static_cast<uint16_t>(0x007F | pc | rc));
  return v;
}

// Native execution: `body` uses %0 as the data-area base. The host control
// word is saved and restored around it and the host stack left empty.
#define X87_NATIVE(mem, body)                                                                                \
  asm volatile("fnstcw 0x7f0(%0)\n\t" body "\n\tfninit\n\tfldcw 0x7f0(%0)"                                  \
               :                                                                                            \
               : "r"(mem)                                                                                   \
               : "memory", "cc", "rax", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)")

// Every test runs under the interpreter and under the JIT, whose x87
// instructions run natively on the guest's registers in the host FPU where
// every exception is masked (jit/host_fpu.h) and through the interpreter's
// handlers otherwise.
class X87Test : public ::testing::TestWithParam<bool> {
 protected:
  X87Test() : ram(1 << 20), cpu(ram, bus) {
    cpu.reset_flat_protected(kCode);
    fpu::reset(cpu.s.fpu);
    cpu.s.cr0 |= cr0::NE;  // Native x87 error reporting, as Linux sets it.
    std::memset(host, 0, sizeof host);
    if (jit()) cpu.enable_jit(4u << 20, true, /*threshold=*/1);
  }
  bool jit() const { return GetParam(); }

  // Runs `a` at kCode to its end. Returns kInstructionLimit when the end was
  // reached. The interpreter runs one instruction at a time; the JIT runs
  // the code, translated, into a JMP to itself placed after it, until the
  // instruction budget (far more than the code's length) runs out.
  StopReason run(const Asm& a) {
    std::vector<uint8_t> code = a.bytes;
    if (jit()) code.insert(code.end(), {0xEB, 0xFE});
    std::memcpy(ram.ptr(kCode), code.data(), code.size());
    cpu.flush_code_cache();
    cpu.s.eip = kCode;
    const uint32_t end = kCode + static_cast<uint32_t>(a.bytes.size());
    if (jit()) {
      const StopReason r = cpu.run(2000);
      return r == StopReason::kInstructionLimit && cpu.s.eip != end ? StopReason::kNone : r;
    }
    for (int i = 0; i < 10000 && cpu.s.eip != end; ++i) {
      const StopReason r = cpu.run(1);
      if (r != StopReason::kInstructionLimit) return r;
    }
    return StopReason::kInstructionLimit;
  }

  uint8_t* g(uint32_t off) { return ram.ptr(kData + off); }
  template <typename T>
  void put(uint32_t off, T v) {
    std::memcpy(g(off), &v, sizeof v);
    std::memcpy(host + off, &v, sizeof v);
  }
  void put80(uint32_t off, const F80& v) {
    for (uint8_t* p : {g(off), host + off}) {
      std::memcpy(p, &v.mant, 8);
      std::memcpy(p + 8, &v.se, 2);
    }
  }
  template <typename T>
  T get(const uint8_t* base, uint32_t off) {
    T v;
    std::memcpy(&v, base + off, sizeof v);
    return v;
  }
  F80 get80(const uint8_t* base, uint32_t off) {
    F80 v;
    std::memcpy(&v.mant, base + off, 8);
    std::memcpy(&v.se, base + off + 8, 2);
    return v;
  }
  // Guest and host bytes of [off, off+n) are equal.
  ::testing::AssertionResult same(uint32_t off, uint32_t n) {
    if (std::memcmp(g(off), host + off, n) == 0) return ::testing::AssertionSuccess();
    std::string s = "guest:";
    for (uint32_t i = 0; i < n; ++i) s += " " + std::to_string(g(off)[i]);
    s += "\nhost: ";
    for (uint32_t i = 0; i < n; ++i) s += " " + std::to_string(host[off + i]);
    return ::testing::AssertionFailure() << s;
  }
  fpu::State st() { return fpu::State(cpu.s.fpu); }

  GuestRam ram;
  Bus bus;
  Cpu cpu;
  alignas(16) uint8_t host[kDataSize];
};

// --------------------------------------------------------------------------

TEST_P(X87Test, LinuxFpuProbe) {
  // arch/x86/kernel/fpu/init.c: fninit; fnstsw; fnstcw with FSW 0 and
  // (FCW & 0x103f) == 0x003f meaning an FPU is present.
  put<uint16_t>(kSw, 0xFFFF);
  put<uint16_t>(kCw, 0xFFFF);
  cpu.s.gpr[EAX] = 0x12345678;
  Asm a;
  a.fninit().fnstsw_ax().fnstsw(kSw).fnstcw(kCw);
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  EXPECT_EQ(cpu.s.gpr[EAX], 0x12340000u);
  EXPECT_EQ(get<uint16_t>(g(0), kSw), 0);
  EXPECT_EQ(get<uint16_t>(g(0), kCw), 0x037F);
  EXPECT_EQ(get<uint16_t>(g(0), kCw) & 0x103F, 0x003F);
}

TEST_P(X87Test, FldcwStoresWhatHardwareKeeps) {
  for (uint16_t cw : {0x0000, 0xFFFF, 0x1234, 0x0F7F}) {
    put<uint16_t>(kCw, cw);
    Asm a;
    a.fninit().fldcw(kCw).fnstcw(kR);
    ASSERT_EQ(run(a), StopReason::kInstructionLimit);
    X87_NATIVE(host, "fninit\n\tfldcw 0x20(%0)\n\tfnstcw 0x30(%0)");
    EXPECT_TRUE(same(kR, 2)) << "cw " << cw;
  }
}

// Register-form arithmetic: ST(0) <- ST(0) OP ST(1), every operand pair,
// PC and RC setting; the result and the whole status word must match.
TEST_P(X87Test, RegisterArithmeticMatchesHost) {
  const auto vals = sample_values();
  const uint8_t kRegField[] = {0, 1, 4, 5, 6, 7};  // add mul sub subr div divr
  for (int op = 0; op < 6; ++op) {
    Asm a;
    a.fninit().fldcw(kCw).fld80(kB).fld80(kA).raw({0xD8, static_cast<uint8_t>(0xC1 | (kRegField[op] << 3))});
    a.fnstsw(kSw).fstp80(kR).fstp_st(0);
    for (uint16_t cw : masked_cws()) {
      for (const F80& x : vals) {
        for (const F80& y : vals) {
          put80(kA, x);
          put80(kB, y);
          put<uint16_t>(kCw, cw);
          ASSERT_EQ(run(a), StopReason::kInstructionLimit);
#define BODY(insn) \
  "fninit\n\tfldcw 0x20(%0)\n\tfldt 0x10(%0)\n\tfldt 0x00(%0)\n\t" insn "\n\tfnstsw 0x40(%0)\n\tfstpt 0x30(%0)\n\tfstp %%st(0)"
          switch (op) {
            case 0: X87_NATIVE(host, BODY("fadd %%st(1), %%st")); break;
            case 1: X87_NATIVE(host, BODY("fmul %%st(1), %%st")); break;
            case 2: X87_NATIVE(host, BODY("fsub %%st(1), %%st")); break;
            case 3: X87_NATIVE(host, BODY("fsubr %%st(1), %%st")); break;
            case 4: X87_NATIVE(host, BODY("fdiv %%st(1), %%st")); break;
            case 5: X87_NATIVE(host, BODY("fdivr %%st(1), %%st")); break;
          }
#undef BODY
          ASSERT_TRUE(same(kR, 10) && same(kSw, 2))
              << "op " << op << " cw " << std::hex << cw << " " << hex80(x) << " " << hex80(y)
              << " guest sw " << get<uint16_t>(g(0), kSw) << " host sw " << get<uint16_t>(host, kSw);
        }
      }
    }
  }
}

// ST(i) destination and popping forms: FSUB ST(1),ST(0) etc.
TEST_P(X87Test, ReverseAndPoppingFormsMatchHost) {
  // DC E9 = fsub st(1),st(0): ST(1) <- ST(1) - ST(0); DE F9 = fdivp
  // st(1),st(0): ST(1) <- ST(1) / ST(0), pop; DE E1 = fsubrp; DC F1 = fdivr.
  struct Case {
    uint8_t op0, op1;
  };
  const Case cases[] = {{0xDC, 0xE9}, {0xDC, 0xE1}, {0xDC, 0xF9}, {0xDC, 0xF1}, {0xDE, 0xC1},
                        {0xDE, 0xC9}, {0xDE, 0xE9}, {0xDE, 0xE1}, {0xDE, 0xF9}, {0xDE, 0xF1}};
  for (unsigned k = 0; k < std::size(cases); ++k) {
    Asm a;
    a.fninit().fld80(kB).fld80(kA).raw({cases[k].op0, cases[k].op1}).fnstsw(kSw).fstp80(kR).fstp80(kR2);
    for (long double x : {1.0L, 3.0L, -7.5L})
      for (long double y : {2.0L, 0.3L, -11.0L}) {
        put80(kA, f80(x));
        put80(kB, f80(y));
        ASSERT_EQ(run(a), StopReason::kInstructionLimit);
        // The machine code is the same; only the operand order in AT&T
        // syntax is confusing, so emit the bytes.
#define BODY(b0, b1) \
  "fninit\n\tfldt 0x10(%0)\n\tfldt 0x00(%0)\n\t.byte " #b0 ", " #b1 "\n\tfnstsw 0x40(%0)\n\tfstpt 0x30(%0)\n\tfstpt 0x50(%0)"
        switch (k) {
          case 0: X87_NATIVE(host, BODY(0xDC, 0xE9)); break;
          case 1: X87_NATIVE(host, BODY(0xDC, 0xE1)); break;
          case 2: X87_NATIVE(host, BODY(0xDC, 0xF9)); break;
          case 3: X87_NATIVE(host, BODY(0xDC, 0xF1)); break;
          case 4: X87_NATIVE(host, BODY(0xDE, 0xC1)); break;
          case 5: X87_NATIVE(host, BODY(0xDE, 0xC9)); break;
          case 6: X87_NATIVE(host, BODY(0xDE, 0xE9)); break;
          case 7: X87_NATIVE(host, BODY(0xDE, 0xE1)); break;
          case 8: X87_NATIVE(host, BODY(0xDE, 0xF9)); break;
          case 9: X87_NATIVE(host, BODY(0xDE, 0xF1)); break;
        }
#undef BODY
        ASSERT_TRUE(same(kR, 10) && same(kR2, 10) && same(kSw, 2)) << "case " << k << " " << x << " " << y;
      }
  }
}

// Memory-operand arithmetic and compares: m32fp (D8), m64fp (DC), m32int
// (DA), m16int (DE) with every /reg (add mul com comp sub subr div divr).
TEST_P(X87Test, MemoryArithmeticMatchesHost) {
  const uint32_t m32[] = {0x3F800000u, 0xC0490FDBu, 0x00000001u, 0x7F800001u /*SNaN*/, 0xFFC00000u, 0x80000000u,
                          0x7F7FFFFFu};
  const uint64_t m64[] = {0x3FF0000000000000ull, 0x0000000000000001ull, 0x7FF0000000000001ull,
                          0xC00921FB54442D18ull, 0x7FEFFFFFFFFFFFFFull};
  const int32_t i32[] = {0, 1, -7, 2147483647, -2147483647 - 1};
  const int16_t i16[] = {0, 3, -32768, 32767};
  const F80 xs[] = {f80(1.5L), f80(-1e300L), f80(LDBL_TRUE_MIN), f80(0.0L), raw80(0x7FFF, 0xC000000000000001ull)};
  for (uint8_t esc : {0xD8, 0xDC, 0xDA, 0xDE}) {
    for (uint8_t reg = 0; reg < 8; ++reg) {
      Asm a;
      a.fninit().fldcw(kCw).fld80(kA).m({esc}, reg, kB).fnstsw(kSw).fstp80(kR);
      for (uint16_t cw : {0x037F, 0x0F7F, 0x007F}) {
        for (const F80& x : xs) {
          const unsigned n = esc == 0xD8 ? std::size(m32) : esc == 0xDC ? std::size(m64) : esc == 0xDA ? std::size(i32) : std::size(i16);
          for (unsigned j = 0; j < n; ++j) {
            put80(kA, x);
            put<uint16_t>(kCw, cw);
            if (esc == 0xD8) put(kB, m32[j]);
            else if (esc == 0xDC) put(kB, m64[j]);
            else if (esc == 0xDA) put(kB, i32[j]);
            else put(kB, i16[j]);
            ASSERT_EQ(run(a), StopReason::kInstructionLimit);
            // .byte esc, modrm with [rax+disp8]-free addressing: 0x46 = [rsi+disp8]? Keep it
            // simple: mod=01 rm=000 (%rax) disp8 0x10.
#define BODY(b0, mr) "mov %0, %%rax\n\tfninit\n\tfldcw 0x20(%0)\n\tfldt 0x00(%0)\n\t.byte " #b0 ", " #mr ", 0x10\n\tfnstsw 0x40(%0)\n\tfstpt 0x30(%0)"
#define REGS(b0)                                          \
  switch (reg) {                                          \
    case 0: X87_NATIVE(host, BODY(b0, 0x40)); break;      \
    case 1: X87_NATIVE(host, BODY(b0, 0x48)); break;      \
    case 2: X87_NATIVE(host, BODY(b0, 0x50)); break;      \
    case 3: X87_NATIVE(host, BODY(b0, 0x58)); break;      \
    case 4: X87_NATIVE(host, BODY(b0, 0x60)); break;      \
    case 5: X87_NATIVE(host, BODY(b0, 0x68)); break;      \
    case 6: X87_NATIVE(host, BODY(b0, 0x70)); break;      \
    case 7: X87_NATIVE(host, BODY(b0, 0x78)); break;      \
  }
            if (esc == 0xD8) REGS(0xD8) else if (esc == 0xDC) REGS(0xDC) else if (esc == 0xDA) REGS(0xDA) else REGS(0xDE)
#undef REGS
#undef BODY
            ASSERT_TRUE(same(kSw, 2) && same(kR, 10))
                << "esc " << std::hex << int(esc) << " /" << int(reg) << " cw " << cw << " x " << hex80(x) << " j " << j;
          }
        }
      }
    }
  }
}

// FLD m32fp/m64fp (SNaN -> IE, denormal -> DE), FST/FSTP m32fp/m64fp
// rounding under every RC/PC.
TEST_P(X87Test, LoadsAndStoresMatchHost) {
  const auto vals = sample_values();
  Asm a;
  a.fninit().fldcw(kCw).fld80(kA).fst32(kR).fnstsw(kSw).fst64(kR2).fnstsw(kSw2).fld32(kB).fld64(kB + 8).fnstsw(kEnv)
      .fstp80(kEnv + 0x10).fstp80(kEnv + 0x20);
  const uint32_t m32s[] = {0x7F800001u, 0x00000001u, 0x3F800000u};
  const uint64_t m64s[] = {0x7FF0000000000001ull, 0x0000000000000001ull, 0x3FF0000000000000ull};
  for (uint16_t cw : masked_cws()) {
    for (unsigned v = 0; v < vals.size(); ++v) {
      put80(kA, vals[v]);
      put<uint16_t>(kCw, cw);
      put(kB, m32s[v % 3]);
      put(kB + 8, m64s[(v / 3) % 3]);
      ASSERT_EQ(run(a), StopReason::kInstructionLimit);
      X87_NATIVE(host,
                 "fninit\n\tfldcw 0x20(%0)\n\tfldt 0x00(%0)\n\tfsts 0x30(%0)\n\tfnstsw 0x40(%0)\n\tfstl 0x50(%0)\n\t"
                 "fnstsw 0x60(%0)\n\tflds 0x10(%0)\n\tfldl 0x18(%0)\n\tfnstsw 0x100(%0)\n\tfstpt 0x110(%0)\n\t"
                 "fstpt 0x120(%0)");
      ASSERT_TRUE(same(kR, 4) && same(kSw, 2) && same(kR2, 8) && same(kSw2, 2) && same(kEnv, 2) &&
                  same(kEnv + 0x10, 10) && same(kEnv + 0x20, 10))
          << std::hex << "cw " << cw << " " << hex80(vals[v]);
    }
  }
}

// FILD/FIST/FISTP/FISTTP with every rounding mode, including out-of-range
// values (integer indefinite, IE) and NaN.
TEST_P(X87Test, IntegerConversionsMatchHost) {
  const long double vals[] = {2.5L, -2.5L, 3.5L, -3.5L, 0.5L, -0.49L, 1e10L, 40000.0L, -32768.4L, -32768.6L,
                              2147483647.5L, -9.3e18L, 9.3e18L, NAN, INFINITY, -0.0L};
  Asm a;
  a.fninit().fldcw(kCw).fld80(kA).m({0xDF}, 2, kR).fnstsw(kSw)  // fist word
      .m({0xDB}, 2, kR + 2)                                       // fist dword
      .fld_st(0).m({0xDF}, 7, kR + 8)                              // fistp qword
      .fld_st(0).m({0xDF}, 1, kR2)                                 // fisttp word
      .fld_st(0).m({0xDB}, 1, kR2 + 2)                             // fisttp dword
      .m({0xDD}, 1, kR2 + 8)                                       // fisttp qword
      .fnstsw(kSw2)
      .m({0xDF}, 5, kR + 8).m({0xDF}, 7, kEnv)  // fild qword; fistp qword (round trip)
      .m({0xDF}, 0, kR).m({0xDB}, 3, kEnv + 8)  // fild word; fistp dword
      .m({0xDB}, 0, kR + 2).m({0xDF}, 3, kEnv + 12);  // fild dword; fistp word
  for (uint16_t cw : masked_cws()) {
    for (long double v : vals) {
      put80(kA, f80(v));
      put<uint16_t>(kCw, cw);
      ASSERT_EQ(run(a), StopReason::kInstructionLimit);
      X87_NATIVE(host,
                 "fninit\n\tfldcw 0x20(%0)\n\tfldt 0x00(%0)\n\tfists 0x30(%0)\n\tfnstsw 0x40(%0)\n\tfistl 0x32(%0)\n\t"
                 "fld %%st(0)\n\tfistpll 0x38(%0)\n\tfld %%st(0)\n\tfisttps 0x50(%0)\n\tfld %%st(0)\n\t"
                 "fisttpl 0x52(%0)\n\tfisttpll 0x58(%0)\n\tfnstsw 0x60(%0)\n\tfildll 0x38(%0)\n\tfistpll 0x100(%0)\n\t"
                 "filds 0x30(%0)\n\tfistpl 0x108(%0)\n\tfildl 0x32(%0)\n\tfistps 0x10c(%0)");
      ASSERT_TRUE(same(kR, 16) && same(kR2, 16) && same(kSw, 2) && same(kSw2, 2) && same(kEnv, 14))
          << std::hex << "cw " << cw << " v " << static_cast<double>(v);
    }
  }
}

TEST_P(X87Test, BcdMatchesHost) {
  const long double vals[] = {0.0L, -0.0L, 1.0L, -123456789012345678.0L, 999999999999999999.0L, 1e18L, 2.5L, -7.5L, NAN};
  Asm a;
  a.fninit().fldcw(kCw).fld80(kA).m({0xDF}, 6, kR).fnstsw(kSw).m({0xDF}, 4, kR).fstp80(kR2).fnstsw(kSw2);
  for (uint16_t cw : {0x037F, 0x077F, 0x0B7F, 0x0F7F})
    for (long double v : vals) {
      put80(kA, f80(v));
      put<uint16_t>(kCw, cw);
      ASSERT_EQ(run(a), StopReason::kInstructionLimit);
      X87_NATIVE(host,
                 "fninit\n\tfldcw 0x20(%0)\n\tfldt 0x00(%0)\n\tfbstp 0x30(%0)\n\tfnstsw 0x40(%0)\n\tfbld 0x30(%0)\n\t"
                 "fstpt 0x50(%0)\n\tfnstsw 0x60(%0)");
      ASSERT_TRUE(same(kR, 10) && same(kR2, 10) && same(kSw, 2) && same(kSw2, 2)) << static_cast<double>(v);
    }
}

// One-operand and two-operand instructions on ST(0)/ST(1), including the
// transcendental ones (out-of-range FSIN/FCOS/FPTAN/FSINCOS set C2).
TEST_P(X87Test, TranscendentalAndMiscMatchHost) {
  const long double xs[] = {0.5L, -0.75L, 1.0L, 2.0L, 3.0L, 1e-10L, 100.5L, -7.25L, 1e19L, 0.0L, -0.0L, INFINITY, NAN,
                            LDBL_TRUE_MIN};
  const long double ys[] = {1.5L, -3.0L, 0.0L, 1e-3L, 70000.0L};
  struct Op {
    uint8_t b1;
    const char* name;
  };
  const Op ops[] = {{0xFE, "fsin"},    {0xFF, "fcos"},   {0xFB, "fsincos"}, {0xF2, "fptan"},   {0xF3, "fpatan"},
                    {0xF0, "f2xm1"},   {0xF1, "fyl2x"},  {0xF9, "fyl2xp1"}, {0xFD, "fscale"},  {0xF8, "fprem"},
                    {0xF5, "fprem1"},  {0xFC, "frndint"}, {0xFA, "fsqrt"},  {0xF4, "fxtract"}, {0xE1, "fabs"},
                    {0xE0, "fchs"},    {0xE4, "ftst"},   {0xE5, "fxam"},    {0xEB, "fldpi"},   {0xE9, "fldl2t"},
                    {0xEA, "fldl2e"},  {0xEC, "fldlg2"}, {0xED, "fldln2"},  {0xE8, "fld1"},    {0xEE, "fldz"},
                    {0xF7, "fincstp"}, {0xF6, "fdecstp"}, {0xD0, "fnop"}};
  for (unsigned k = 0; k < std::size(ops); ++k) {
    Asm a;
    a.fninit().fldcw(kCw).fld80(kB).fld80(kA).raw({0xD9, ops[k].b1}).fnstsw(kSw).fstp80(kR).fstp80(kR2).fstp80(kEnv);
    for (uint16_t cw : {0x037F, 0x0F7F, 0x007F, 0x077F})
      for (long double x : xs)
        for (long double y : ys) {
          put80(kA, f80(x));
          put80(kB, f80(y));
          put<uint16_t>(kCw, cw);
          ASSERT_EQ(run(a), StopReason::kInstructionLimit);
#define BODY(b1)                                                                                        \
  "fninit\n\tfldcw 0x20(%0)\n\tfldt 0x10(%0)\n\tfldt 0x00(%0)\n\t.byte 0xD9, " #b1 "\n\tfnstsw 0x40(%0)\n\t" \
  "fstpt 0x30(%0)\n\tfstpt 0x50(%0)\n\tfstpt 0x100(%0)"
          switch (ops[k].b1) {
#define CASE(b1) \
  case b1: X87_NATIVE(host, BODY(b1)); break;
            CASE(0xFE) CASE(0xFF) CASE(0xFB) CASE(0xF2) CASE(0xF3) CASE(0xF0) CASE(0xF1) CASE(0xF9) CASE(0xFD)
            CASE(0xF8) CASE(0xF5) CASE(0xFC) CASE(0xFA) CASE(0xF4) CASE(0xE1) CASE(0xE0) CASE(0xE4) CASE(0xE5)
            CASE(0xEB) CASE(0xE9) CASE(0xEA) CASE(0xEC) CASE(0xED) CASE(0xE8) CASE(0xEE) CASE(0xF7) CASE(0xF6)
            CASE(0xD0)
#undef CASE
          }
#undef BODY
          ASSERT_TRUE(same(kSw, 2) && same(kR, 10) && same(kR2, 10) && same(kEnv, 10))
              << ops[k].name << std::hex << " cw " << cw << " x " << static_cast<double>(x) << " y "
              << static_cast<double>(y) << " guest sw " << get<uint16_t>(g(0), kSw) << " host sw "
              << get<uint16_t>(host, kSw);
        }
  }
}

// FCOM/FUCOM family condition codes and FCOMI/FUCOMI EFLAGS.
TEST_P(X87Test, ComparesMatchHost) {
  const auto vals = sample_values();
  struct Op {
    uint8_t b0, b1;
  };
  // fcom st1, fcomp st1, fcompp, fucom st1, fucomp st1, fucompp, fcomi, fucomi, fcomip, fucomip.
  const Op ops[] = {{0xD8, 0xD1}, {0xD8, 0xD9}, {0xDE, 0xD9}, {0xDD, 0xE1}, {0xDD, 0xE9},
                    {0xDA, 0xE9}, {0xDB, 0xF1}, {0xDB, 0xE9}, {0xDF, 0xF1}, {0xDF, 0xE9}};
  for (unsigned k = 0; k < std::size(ops); ++k) {
    Asm a;
    a.fninit().fld80(kB).fld80(kA).raw({ops[k].b0, ops[k].b1}).fnstsw(kSw);
    for (const F80& x : vals)
      for (const F80& y : vals) {
        put80(kA, x);
        put80(kB, y);
        cpu.s.eflags = flag::kFixed1 | flag::OF | flag::SF | flag::AF;
        ASSERT_EQ(run(a), StopReason::kInstructionLimit);
        uint8_t zf = 0, pf = 0, cf = 0;
#define BODY(b0, b1) "fninit\n\tfldt 0x10(%3)\n\tfldt 0x00(%3)\n\t.byte " #b0 ", " #b1 "\n\tfnstsw 0x40(%3)\n\t"
#define NATIVE_FLAGS(b0, b1)                                                                                   \
  asm volatile("fnstcw 0x7f0(%3)\n\t" BODY(b0, b1) "setz %0\n\tsetp %1\n\tsetc %2\n\tfninit\n\tfldcw 0x7f0(%3)" \
               : "=&q"(zf), "=&q"(pf), "=&q"(cf)                                                               \
               : "r"(host)                                                                                     \
               : "memory", "cc", "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)")
        switch (k) {
          case 0: NATIVE_FLAGS(0xD8, 0xD1); break;
          case 1: NATIVE_FLAGS(0xD8, 0xD9); break;
          case 2: NATIVE_FLAGS(0xDE, 0xD9); break;
          case 3: NATIVE_FLAGS(0xDD, 0xE1); break;
          case 4: NATIVE_FLAGS(0xDD, 0xE9); break;
          case 5: NATIVE_FLAGS(0xDA, 0xE9); break;
          case 6: NATIVE_FLAGS(0xDB, 0xF1); break;
          case 7: NATIVE_FLAGS(0xDB, 0xE9); break;
          case 8: NATIVE_FLAGS(0xDF, 0xF1); break;
          case 9: NATIVE_FLAGS(0xDF, 0xE9); break;
        }
#undef NATIVE_FLAGS
#undef BODY
        ASSERT_TRUE(same(kSw, 2)) << "op " << k << " " << hex80(x) << " " << hex80(y);
        if (k >= 6) {
          EXPECT_EQ(!!(cpu.s.eflags & flag::ZF), !!zf) << k << " " << hex80(x) << " " << hex80(y);
          EXPECT_EQ(!!(cpu.s.eflags & flag::PF), !!pf) << k;
          EXPECT_EQ(!!(cpu.s.eflags & flag::CF), !!cf) << k;
          EXPECT_EQ(cpu.s.eflags & (flag::OF | flag::SF | flag::AF), 0u) << k;
        }
      }
  }
}

TEST_P(X87Test, FicomMatchesHost) {
  for (uint8_t reg : {2, 3}) {
    for (uint8_t esc : {0xDA, 0xDE}) {
      Asm a;
      a.fninit().fld80(kA).m({esc}, reg, kB).fnstsw(kSw);
      for (long double x : {-1.0L, 5.0L, 7.0L, static_cast<long double>(NAN)})
        for (int32_t v : {5, -1}) {
          put80(kA, f80(x));
          put<int32_t>(kB, v);
          ASSERT_EQ(run(a), StopReason::kInstructionLimit);
          const uint16_t sw = get<uint16_t>(g(0), kSw);
          const bool lt = x < v, eq = x == v, un = std::isnan(x);
          EXPECT_EQ(!!(sw & fpu::kC0), lt || un);
          EXPECT_EQ(!!(sw & fpu::kC3), eq || un);
          EXPECT_EQ(!!(sw & fpu::kC2), un);
          EXPECT_EQ(sw & fpu::kTop, reg == 3 ? 0 : 7 << 11);
          EXPECT_EQ(sw & fpu::kIE, un ? fpu::kIE : 0);
        }
    }
  }
}

TEST_P(X87Test, FxamClassesIncludingEmpty) {
  const auto vals = sample_values();
  Asm a;
  a.fninit().fld80(kA).raw({0xD9, 0xE5}).fnstsw(kSw);
  for (const F80& x : vals) {
    put80(kA, x);
    ASSERT_EQ(run(a), StopReason::kInstructionLimit);
    X87_NATIVE(host, "fninit\n\tfldt 0x00(%0)\n\tfxam\n\tfnstsw 0x40(%0)");
    EXPECT_TRUE(same(kSw, 2)) << hex80(x);
  }
  // Empty ST(0): C3 C2 C0 = 1 0 1.
  Asm e;
  e.fninit().raw({0xD9, 0xE5}).fnstsw(kSw);
  ASSERT_EQ(run(e), StopReason::kInstructionLimit);
  EXPECT_EQ(get<uint16_t>(g(0), kSw) & (fpu::kC3 | fpu::kC2 | fpu::kC0), fpu::kC3 | fpu::kC0);
}

TEST_P(X87Test, FxchAndFcmov) {
  put80(kA, f80(1.0L));
  put80(kB, f80(2.0L));
  Asm a;
  a.fninit().fld80(kB).fld80(kA).raw({0xD9, 0xC9}).fstp80(kR).fstp80(kR2);
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  EXPECT_EQ(get80(g(0), kR), f80(2.0L));
  EXPECT_EQ(get80(g(0), kR2), f80(1.0L));

  // FCMOVcc ST(0), ST(1) for the eight conditions under CF/ZF/PF combinations.
  const uint8_t enc[][2] = {{0xDA, 0xC1}, {0xDA, 0xC9}, {0xDA, 0xD1}, {0xDA, 0xD9},
                            {0xDB, 0xC1}, {0xDB, 0xC9}, {0xDB, 0xD1}, {0xDB, 0xD9}};
  for (unsigned k = 0; k < 8; ++k) {
    Asm c;
    c.fninit().fld80(kB).fld80(kA).raw({enc[k][0], enc[k][1]}).fstp80(kR);
    for (uint32_t fl : {0u, flag::CF, flag::ZF, flag::PF, flag::CF | flag::ZF}) {
      cpu.s.eflags = flag::kFixed1 | fl;
      ASSERT_EQ(run(c), StopReason::kInstructionLimit);
      bool cond;
      switch (k & 3) {
        case 0: cond = fl & flag::CF; break;
        case 1: cond = fl & flag::ZF; break;
        case 2: cond = fl & (flag::CF | flag::ZF); break;
        default: cond = fl & flag::PF; break;
      }
      if (k >= 4) cond = !cond;
      EXPECT_EQ(get80(g(0), kR), f80(cond ? 2.0L : 1.0L)) << k << " " << fl;
    }
  }
}

TEST_P(X87Test, StackOverflowAndUnderflowMaskedResponses) {
  // Nine pushes: the ninth overflows (IE, SF, C1=1) and pushes QNaN indefinite.
  Asm a;
  a.fninit();
  for (int i = 0; i < 9; ++i) a.fld1();
  a.fnstsw(kSw).fstp80(kR).fstp80(kR2);
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  X87_NATIVE(host,
             "fninit\n\tfld1\n\tfld1\n\tfld1\n\tfld1\n\tfld1\n\tfld1\n\tfld1\n\tfld1\n\tfld1\n\tfnstsw 0x40(%0)\n\t"
             "fstpt 0x30(%0)\n\tfstpt 0x50(%0)");
  EXPECT_TRUE(same(kSw, 2) && same(kR, 10) && same(kR2, 10));
  EXPECT_EQ(get<uint16_t>(g(0), kSw), fpu::kIE | fpu::kSF | fpu::kC1 | (7 << 11));
  EXPECT_EQ(get80(g(0), kR), fpu::kIndefinite);

  // Underflow: FADD on an empty stack (IE, SF, C1=0), result indefinite;
  // FSTP of an empty register stores indefinite; FXCH with an empty one.
  Asm u;
  u.fninit().raw({0xD8, 0xC1}).fnstsw(kSw).fst64(kR).fstp_st(0).fstp32(kR2).fnstsw(kSw2).raw({0xD9, 0xC9})
      .fstp80(kEnv).fstp80(kEnv + 0x10);
  ASSERT_EQ(run(u), StopReason::kInstructionLimit);
  X87_NATIVE(host,
             "fninit\n\tfadd %%st(1), %%st\n\tfnstsw 0x40(%0)\n\tfstl 0x30(%0)\n\tfstp %%st(0)\n\tfstps 0x50(%0)\n\t"
             "fnstsw 0x60(%0)\n\tfxch %%st(1)\n\tfstpt 0x100(%0)\n\tfstpt 0x110(%0)");
  EXPECT_TRUE(same(kSw, 2) && same(kR, 8) && same(kR2, 4) && same(kSw2, 2) && same(kEnv, 10) &&
              same(kEnv + 0x10, 10));
  EXPECT_EQ(get<uint16_t>(g(0), kSw), fpu::kIE | fpu::kSF);
}

// The FSAVE image (env + 8 registers), the FNINIT that follows it, and the
// round trip through FRSTOR.
TEST_P(X87Test, FsaveFrstorRoundTrip) {
  put<uint16_t>(kCw, 0x0B72);  // RC up, PC 64, some exceptions unmasked.
  put80(kA, f80(LDBL_TRUE_MIN));
  Asm a;
  a.fninit().fldcw(kCw).fld1().fldpi().fldz().fld80(kA).raw({0xDD, 0xC3});  // ffree st3
  a.fnsave(kSave).fnstcw(kR).fnstsw(kR + 2).frstor(kSave).fnsave(kSave2).frstor(kSave2).fnstenv(kEnv);
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  X87_NATIVE(host, "fninit\n\tfldcw 0x20(%0)\n\tfld1\n\tfldpi\n\tfldz\n\tfldt 0x00(%0)\n\tffree %%st(3)\n\tfnsave 0x200(%0)");
  // FCW, FSW, FTW (with their reserved upper halves) and the registers
  // that were loaded match the host (the others hold whatever the host's
  // physical registers last held); FIP/FCS/FOP/FDP/FDS are checked below.
  EXPECT_TRUE(same(kSave, 12));
  EXPECT_TRUE(same(kSave + 28, 40));
  // Tags: R4 denormal (special), R5 zero, R6 pi valid, R7 (one) freed,
  // R0-R3 empty.
  EXPECT_EQ(get<uint16_t>(g(0), kSave + 8), 0xC6FF);
  EXPECT_EQ(get<uint16_t>(g(0), kR), 0x037F);  // FNSAVE re-initialises.
  EXPECT_EQ(get<uint16_t>(g(0), kR + 2), 0);
  EXPECT_EQ(std::memcmp(g(kSave), g(kSave2), 108), 0);
  EXPECT_EQ(std::memcmp(g(kSave), g(kEnv), 28), 0);
  // The last non-control instruction was FFREE (DD C5) at its address;
  // FLD m80 set the data pointer.
  EXPECT_EQ(get<uint32_t>(g(0), kSave + 12), kCode + 2 + 6 + 2 + 2 + 2 + 6);
  EXPECT_EQ(get<uint32_t>(g(0), kSave + 16), 0x08u | (0x5C3u << 16));
  EXPECT_EQ(get<uint32_t>(g(0), kSave + 20), kData + kA);
  EXPECT_EQ(get<uint32_t>(g(0), kSave + 24), 0xFFFF0010u);
}

// 16-bit operand size: a 94-byte image with the 14-byte environment.
TEST_P(X87Test, Fsave16RoundTrip) {
  put80(kA, f80(-42.25L));
  Asm a;
  a.fninit().fld80(kA).fldpi().raw({0x66}).fnsave(kSave).fnstsw(kR).raw({0x66}).frstor(kSave).fstp80(kR2)
      .fstp80(kEnv);
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  EXPECT_EQ(get<uint16_t>(g(0), kSave + 0), 0x037F);
  EXPECT_EQ(get<uint16_t>(g(0), kSave + 2), 6 << 11);
  EXPECT_EQ(get<uint16_t>(g(0), kSave + 4), 0x0FFF);  // R6 pi valid, R7 valid, rest empty.
  EXPECT_EQ(get<uint16_t>(g(0), kSave + 6), static_cast<uint16_t>(kCode + 2 + 6));  // FLDPI
  EXPECT_EQ(get80(g(0), kSave + 14), f80(3.14159265358979323851L));
  EXPECT_EQ(get80(g(0), kSave + 24), f80(-42.25L));
  EXPECT_EQ(get<uint16_t>(g(0), kR), 0);
  EXPECT_EQ(get80(g(0), kR2), get80(g(0), kSave + 14));
  EXPECT_EQ(get80(g(0), kEnv), f80(-42.25L));
}

TEST_P(X87Test, FstenvPointersAndMasking) {
  put<uint16_t>(kCw, 0x0360);  // All but PM unmasked.
  put<uint32_t>(kA, 0x3F800000u);
  Asm a;
  a.fninit().fldcw(kCw).fld1();
  const uint32_t fadd_at = kCode + static_cast<uint32_t>(a.bytes.size());
  a.raw({0x2E}).m({0xD8}, 0, kA);  // cs: fadd dword [kA]: FOP = 0x005, FDS = CS.
  a.fnstenv(kEnv).fnstcw(kR);
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  EXPECT_EQ(get<uint32_t>(g(0), kEnv + 0), 0xFFFF0360u);
  EXPECT_EQ(get<uint32_t>(g(0), kEnv + 4), 0xFFFF0000u | (7 << 11));
  EXPECT_EQ(get<uint32_t>(g(0), kEnv + 8), 0xFFFF3FFFu);
  EXPECT_EQ(get<uint32_t>(g(0), kEnv + 12), fadd_at);  // Points at the prefix.
  EXPECT_EQ(get<uint32_t>(g(0), kEnv + 16), 0x08u | (0x005u << 16));
  EXPECT_EQ(get<uint32_t>(g(0), kEnv + 20), kData + kA);
  EXPECT_EQ(get<uint32_t>(g(0), kEnv + 24), 0xFFFF0008u);
  EXPECT_EQ(get<uint16_t>(g(0), kR), 0x037F);  // FNSTENV masked all exceptions.

  // FLDENV restores it (FCW unmasked again); a 16-bit image round-trips too.
  Asm b;
  b.fldenv(kEnv).fnstcw(kR).raw({0x66}).fnstenv(kEnv2).fninit().raw({0x66}).fldenv(kEnv2).raw({0x66}).fnstenv(kSave);
  ASSERT_EQ(run(b), StopReason::kInstructionLimit);
  EXPECT_EQ(get<uint16_t>(g(0), kR), 0x0360);
  EXPECT_EQ(get<uint16_t>(g(0), kEnv2 + 0), 0x0360);
  EXPECT_EQ(get<uint16_t>(g(0), kEnv2 + 2), 7 << 11);
  EXPECT_EQ(get<uint16_t>(g(0), kEnv2 + 4), 0x3FFF);
  EXPECT_EQ(get<uint16_t>(g(0), kEnv2 + 6), static_cast<uint16_t>(fadd_at));
  EXPECT_EQ(get<uint16_t>(g(0), kEnv2 + 8), 0x08);
  EXPECT_EQ(get<uint16_t>(g(0), kEnv2 + 10), static_cast<uint16_t>(kData + kA));
  EXPECT_EQ(get<uint16_t>(g(0), kEnv2 + 12), 0x08);
  EXPECT_EQ(std::memcmp(g(kEnv2), g(kSave), 14), 0);
}

TEST_P(X87Test, RealModeEnvironmentLayout) {
  put<uint32_t>(kA, 0x3F800000u);
  Asm a;
  a.fninit().m({0xD8}, 0, kA).fnstenv(kEnv).fninit().fldenv(kEnv).fnstenv(kEnv2);
  cpu.s.cr0 &= ~cr0::PE;  // The 32-bit code segment stays: only the layout changes.
  cpu.s.seg[CS].selector = 0x0100;
  cpu.s.seg[DS].selector = 0x0200;
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  const uint32_t ip = 0x1000 + kCode + 2, dp = 0x2000 + kData + kA;
  EXPECT_EQ(get<uint32_t>(g(0), kEnv + 12), 0xFFFF0000u | (ip & 0xFFFF));
  EXPECT_EQ(get<uint32_t>(g(0), kEnv + 16), (ip >> 16) << 12 | 0x005u);
  EXPECT_EQ(get<uint32_t>(g(0), kEnv + 20), 0xFFFF0000u | (dp & 0xFFFF));
  EXPECT_EQ(get<uint32_t>(g(0), kEnv + 24), (dp >> 16) << 12);
  EXPECT_EQ(std::memcmp(g(kEnv), g(kEnv2), 28), 0);
}

TEST_P(X87Test, FxsaveFxrstorRoundTrip) {
  put<uint16_t>(kCw, 0x0F7F);
  Asm a;
  a.fninit().fldcw(kCw).fld1().fldpi().raw({0xD9, 0xF3})  // fpatan: pi/4 ... pops
      .fldz().fxsave(kFx);
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  X87_NATIVE(host, "fninit\n\tfldcw 0x20(%0)\n\tfld1\n\tfldpi\n\tfpatan\n\tfldz\n\tfxsave 0x400(%0)");
  EXPECT_TRUE(same(kFx, 4));         // FCW, FSW
  EXPECT_TRUE(same(kFx + 4, 1));     // Abridged FTW
  EXPECT_TRUE(same(kFx + 32, 32));   // ST0, ST1 (the others are stale)
  EXPECT_EQ(get<uint32_t>(g(0), kFx + 24), 0x1F80u);
  EXPECT_EQ(g(kFx)[4], 0xC0);

  // XMM bytes and MXCSR come back as stored; the x87 state is restored.
  for (int i = 0; i < 128; ++i) g(kFx + 160)[i] = static_cast<uint8_t>(i * 7 + 1);
  put<uint32_t>(kFx + 24, 0x1F00u);
  Asm b;
  b.fninit().fxrstor(kFx).fxsave(kFx2).fstp80(kR);
  ASSERT_EQ(run(b), StopReason::kInstructionLimit);
  EXPECT_EQ(std::memcmp(g(kFx), g(kFx2), 288), 0);
  EXPECT_EQ(get80(g(0), kR), f80(0.0L));
}

TEST_P(X87Test, FxsaveMisalignedIsGp) {
  Asm a;
  a.fninit().fxsave(kFx + 8);
  EXPECT_EQ(run(a), StopReason::kFatal);
  EXPECT_NE(cpu.stop_message().find("#GP"), std::string::npos) << cpu.stop_message();
}

TEST_P(X87Test, FxrstorReservedMxcsrBitIsGp) {
  put<uint32_t>(kFx + 24, 0x10000u);
  Asm a;
  a.fxrstor(kFx);
  EXPECT_EQ(run(a), StopReason::kFatal);
  EXPECT_NE(cpu.stop_message().find("#GP"), std::string::npos) << cpu.stop_message();
}

TEST_P(X87Test, TaskSwitchedRaisesNm) {
  cpu.s.cr0 |= cr0::TS;
  Asm a;
  a.fld1();
  EXPECT_EQ(run(a), StopReason::kFatal);
  EXPECT_NE(cpu.stop_message().find("#NM"), std::string::npos) << cpu.stop_message();
  EXPECT_EQ(cpu.s.eip, kCode);
}

TEST_P(X87Test, EmulationBitRaisesNmAndFxsaveUd) {
  cpu.s.cr0 |= cr0::EM;
  Asm a;
  a.fwait().fninit();  // WAIT ignores EM; FNINIT faults.
  EXPECT_EQ(run(a), StopReason::kFatal);
  EXPECT_NE(cpu.stop_message().find("#NM"), std::string::npos) << cpu.stop_message();
  EXPECT_EQ(cpu.s.eip, kCode + 1);
}

TEST_P(X87Test, FxsaveWithEmIsUd) {
  cpu.s.cr0 |= cr0::EM;
  Asm a;
  a.fxsave(kFx);
  EXPECT_EQ(run(a), StopReason::kFatal);
  EXPECT_NE(cpu.stop_message().find("#UD"), std::string::npos) << cpu.stop_message();
}

TEST_P(X87Test, WaitFaultsOnlyWithMpAndTs) {
  cpu.s.cr0 |= cr0::TS;
  Asm a;
  a.fwait();
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  cpu.s.cr0 |= cr0::MP;
  EXPECT_EQ(run(a), StopReason::kFatal);
  EXPECT_NE(cpu.stop_message().find("#NM"), std::string::npos) << cpu.stop_message();
}

// An unmasked zero divide leaves the stack alone and sets ES/B; the next
// waiting instruction raises #MF (CR0.NE=1), while no-wait ones proceed.
TEST_P(X87Test, UnmaskedZeroDivideRaisesMfOnNextInstruction) {
  put<uint16_t>(kCw, 0x037B);  // ZM clear.
  Asm a;
  a.fninit().fldcw(kCw).fld1().fldz().raw({0xDE, 0xF9});  // fdivp st(1), st(0): 1/0
  a.fnstsw(kSw).fnstenv(kEnv);
  const uint32_t fld_at = kCode + static_cast<uint32_t>(a.bytes.size());
  a.fld1();
  EXPECT_EQ(run(a), StopReason::kFatal);
  EXPECT_NE(cpu.stop_message().find("#MF"), std::string::npos) << cpu.stop_message();
  EXPECT_EQ(cpu.s.eip, fld_at);
  EXPECT_EQ(get<uint16_t>(g(0), kSw), fpu::kB | fpu::kES | fpu::kZE | (6 << 11));
  // FIP/FOP identify the FDIVP (DE F9 -> FOP 0x6F9).
  EXPECT_EQ(get<uint32_t>(g(0), kEnv + 12), kCode + 2 + 6 + 2 + 2);
  EXPECT_EQ(get<uint32_t>(g(0), kEnv + 16) >> 16, 0x6F9u);
  // No store, no pop: ST(0) = 0, ST(1) = 1.
  EXPECT_EQ(st().top(), 6u);
  EXPECT_EQ(st().st(0), f80(0.0L));
  EXPECT_EQ(st().st(1), f80(1.0L));
}

TEST_P(X87Test, PendingExceptionWithoutNeSignalsFerr) {
  cpu.s.cr0 &= ~cr0::NE;
  int signals = 0;
  fpu::ferr_signal = [&](Cpu&) { ++signals; };
  put<uint16_t>(kCw, 0x037B);
  Asm a;
  a.fninit().fldcw(kCw).fld1().fldz().raw({0xDE, 0xF9}).fld1().fnclex().fld1();
  EXPECT_EQ(run(a), StopReason::kInstructionLimit);
  fpu::ferr_signal = nullptr;
  EXPECT_EQ(signals, 1);
  EXPECT_EQ(st().top(), 4u);
}

TEST_P(X87Test, UnmaskingAPendingFlagWithFldcwRaisesMf) {
  put<uint16_t>(kCw, 0x037B);
  Asm a;
  a.fninit().fld1().fldz().raw({0xDE, 0xF9}).fldcw(kCw).fnop();  // masked 1/0, then unmask ZE
  EXPECT_EQ(run(a), StopReason::kFatal);
  EXPECT_NE(cpu.stop_message().find("#MF"), std::string::npos);
}

// Unmasked overflow/underflow with a register destination: the result is
// delivered with its exponent biased by -/+24576 (SDM Vol. 1, 8.5.4-8.5.5).
TEST_P(X87Test, UnmaskedOverflowAndUnderflowRebias) {
  put<uint16_t>(kCw, 0x0367);  // OM and UM clear.
  put80(kA, raw80(16383 + 16000, 0x8000000000000000ull));  // 2^16000
  put80(kB, raw80(16383 - 16000, 0x8000000000000000ull));  // 2^-16000
  Asm a;
  a.fninit().fldcw(kCw).fld80(kA).fld_st(0).raw({0xD8, 0xC9})  // fmul st0, st0: 2^32000
      .fnstsw(kSw).fnclex().fstp80(kR).fstp_st(0)
      .fld80(kA).fld80(kB).raw({0xD8, 0xF1})                      // fdiv: 2^-16000 / 2^16000
      .fnstsw(kSw2).fnclex().fstp80(kR2);
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  EXPECT_EQ(get<uint16_t>(g(0), kSw) & 0xBF, fpu::kES | fpu::kOE);
  EXPECT_EQ(get80(g(0), kR), raw80(16383 + 32000 - 24576, 0x8000000000000000ull));
  EXPECT_EQ(get<uint16_t>(g(0), kSw2) & 0xBF, fpu::kES | fpu::kUE);
  EXPECT_EQ(get80(g(0), kR2), raw80(16383 - 32000 + 24576, 0x8000000000000000ull));

  // FSCALE: 1.5 * 2^20000 overflows; the result is 1.5 * 2^(20000-24576).
  put80(kA, f80(20000.5L));  // FSCALE truncates ST(1).
  put80(kB, f80(1.5L));
  Asm b;
  b.fninit().fldcw(kCw).fld80(kA).fld80(kB).raw({0xD9, 0xFD}).fnstsw(kSw).fnclex().fstp80(kR);
  ASSERT_EQ(run(b), StopReason::kInstructionLimit);
  EXPECT_EQ(get<uint16_t>(g(0), kSw) & 0xBF, fpu::kES | fpu::kOE);
  EXPECT_EQ(get80(g(0), kR), raw80(16383 + 20000 - 24576, 0xC000000000000000ull));
}

// A store with an unmasked invalid operation writes nothing and keeps ST(0).
TEST_P(X87Test, UnmaskedInvalidStoreWritesNothing) {
  put<uint16_t>(kCw, 0x037E);  // IM clear.
  put80(kA, f80(1e10L));
  put<uint16_t>(kR, 0x5555);
  Asm a;
  a.fninit().fldcw(kCw).fld80(kA).m({0xDF}, 3, kR).fnstsw(kSw);  // fistp word: out of range
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  EXPECT_EQ(get<uint16_t>(g(0), kR), 0x5555);
  EXPECT_EQ(get<uint16_t>(g(0), kSw), fpu::kB | fpu::kES | fpu::kIE | (7 << 11));
}

// Guest operations leave the host x87 as they found it: control word, an
// empty stack, and exception flags the host had raised itself.
TEST_P(X87Test, HostStateIsPreserved) {
  uint16_t cw_before, cw_after;
  uint8_t env[28];
  // Raise PE on the host (pi * pi is inexact), then run guest arithmetic.
  asm volatile("fnstcw %0\n\tfldpi\n\tfldpi\n\tfmulp\n\tfstp %%st(0)"
               : "=m"(cw_before)
               :
               : "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");
  put<uint16_t>(kCw, 0x0C7F);
  put80(kA, f80(7.0L));
  Asm a;
  a.fninit().fldcw(kCw).fld80(kA).fldpi().raw({0xD8, 0xF1}).raw({0xD9, 0xFE}).fnstsw(kSw);
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  asm volatile("fnstcw %0\n\tfnstenv %1\n\tfldenv %1" : "=m"(cw_after), "=m"(env) : : "memory");
  asm volatile("fnclex");
  EXPECT_EQ(cw_after, cw_before);
  uint16_t sw, tw;
  std::memcpy(&sw, env + 4, 2);
  std::memcpy(&tw, env + 8, 2);
  EXPECT_EQ(tw, 0xFFFF);           // Host stack empty.
  // The interpreter leaves at most the guest's masked flags (here PE) on the
  // host; the JIT ends its runs with FNINIT (jit/host_fpu.h).
  EXPECT_EQ(sw & 0x3F, jit() ? 0 : fpu::kPE);
  EXPECT_EQ(sw & fpu::kTop, 0);
}

// The host's exception flags are left set between operations when the guest
// has them set and masked (fpu.cpp); any other flag is cleared before an
// operation, so none reaches a guest that did not raise it: flags the host
// had from elsewhere (here ZE and PE of native code, as another guest's
// would be under --lockstep) ...
TEST_P(X87Test, HostFlagsTheGuestHasNotRaisedDoNotReachIt) {
  asm volatile("fld1\n\tfldz\n\tfdivrp\n\tfldpi\n\tfldpi\n\tfmulp\n\tfstp %%st(0)\n\tfstp %%st(0)" ::
                   : "st", "st(1)", "st(2)", "st(3)", "st(4)", "st(5)", "st(6)", "st(7)");
  Asm a;
  a.fninit().fld1().fld1().raw({0xDE, 0xC1}).fnstsw(kSw);  // faddp: 1 + 1, exact.
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  EXPECT_EQ(get<uint16_t>(g(0), kSw) & 0x7F, 0);
  asm volatile("fnclex");
}

// ... and flags the guest raised and then cleared (FNCLEX, FLDENV).
TEST_P(X87Test, FlagsTheGuestClearedStayCleared) {
  Asm a;
  a.fninit().fldpi().fldpi().raw({0xDE, 0xC9}).fnstsw(kSw);  // fmulp: pi * pi raises PE.
  a.fnclex().fld1().fldpi().raw({0xDE, 0xF9}).fnstsw(kSw2); // fdivp: 1 / pi raises it again.
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  EXPECT_EQ(get<uint16_t>(g(0), kSw) & 0x3F, fpu::kPE);
  EXPECT_EQ(get<uint16_t>(g(0), kSw2) & 0x3F, fpu::kPE);
  // Cleared, then an exact operation (1 + 1): no flag.
  a = Asm();
  a.fninit().fldpi().fldpi().raw({0xDE, 0xC9}).fnclex().fstp_st(0).fld1().fld1().raw({0xDE, 0xC1}).fnstsw(kSw);
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  EXPECT_EQ(get<uint16_t>(g(0), kSw) & 0x3F, 0);
  // The same with the flag cleared by FLDENV (of FNINIT's environment).
  a = Asm();
  a.fninit().fnstenv(kEnv).fldpi().fldpi().raw({0xDE, 0xC9}).fldenv(kEnv).fld1().fld1().raw({0xDE, 0xC1});
  a.fnstsw(kSw);
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  EXPECT_EQ(get<uint16_t>(g(0), kSw) & 0x3F, 0);
  asm volatile("fnclex");
}

// A flag the guest has set but since unmasked is never left on the host:
// under CR0.NE = 0 the next waiting instruction runs with the exception
// pending (FERR#), and would otherwise take the old ZE for its own and
// leave its destination unchanged.
TEST_P(X87Test, UnmaskedFlagsAreNotKeptOnTheHost) {
  cpu.s.cr0 &= ~cr0::NE;
  put<uint16_t>(kCw, 0x037B);  // ZM clear.
  Asm a;
  a.fninit().fld1().fldz().raw({0xDE, 0xF9}).fstp_st(0);  // fdivp: 1 / 0, ZE masked.
  a.fldcw(kCw).fld1().fld1().raw({0xDE, 0xC1}).fstp80(kR);  // ZE pending; faddp: 1 + 1.
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  EXPECT_EQ(hex80(get80(g(0), kR)), hex80(f80(2.0L)));
  asm volatile("fnclex");
}

// Condition codes the SDM leaves open, as the host x87 sets them (found by
// vmm_diff --jit, which compares the interpreter with native x87 code):
// FPREM/FPREM1 that compute no remainder (a NaN, an infinite dividend, a
// zero divisor) keep C0 and C3 from before, here set by FUCOM.
TEST_P(X87Test, FpremConditionCodesMatchHost) {
  const auto vals = sample_values();
  for (int prem1 = 0; prem1 < 2; ++prem1) {
    Asm a;
    a.fninit().fld80(kA).fld80(kB).raw({0xDD, 0xE1});  // fucom st(1): C0, C2, C3 from the pair
    a.raw({0xD9, static_cast<uint8_t>(prem1 ? 0xF5 : 0xF8)}).fnstsw(kSw).fstp80(kR).fstp_st(0);
    for (const F80& x : vals) {
      for (const F80& y : vals) {
        put80(kA, x);
        put80(kB, y);
        ASSERT_EQ(run(a), StopReason::kInstructionLimit);
        if (prem1)
          X87_NATIVE(host, "fninit\n\tfldt 0x00(%0)\n\tfldt 0x10(%0)\n\tfucom %%st(1)\n\tfprem1\n\t"
                           "fnstsw 0x40(%0)\n\tfstpt 0x30(%0)\n\tfstp %%st(0)");
        else
          X87_NATIVE(host, "fninit\n\tfldt 0x00(%0)\n\tfldt 0x10(%0)\n\tfucom %%st(1)\n\tfprem\n\t"
                           "fnstsw 0x40(%0)\n\tfstpt 0x30(%0)\n\tfstp %%st(0)");
        ASSERT_TRUE(same(kSw, 2) && same(kR, 10)) << (prem1 ? "fprem1 " : "fprem ") << hex80(x) << " " << hex80(y);
      }
    }
  }
}

// A stack fault in FSIN, FCOS, FPTAN, FSINCOS, FPREM, FPREM1 clears C2
// (C1 too), C0 and C3 stay: from an environment with all four set and an
// empty stack.
TEST_P(X87Test, StackFaultConditionCodesMatchHost) {
  static const uint8_t kOps[] = {0xFE, 0xFF, 0xF2, 0xFB, 0xF8, 0xF5};  // D9 xx
  for (uint8_t op : kOps) {
    put<uint32_t>(kEnv, 0xFFFF037Fu);      // FCW
    put<uint32_t>(kEnv + 4, 0xFFFF4700u);  // FSW: C3 C2 C1 C0, TOP 0
    put<uint32_t>(kEnv + 8, 0xFFFFFFFFu);  // every register empty
    for (uint32_t o = 12; o < 28; o += 4) put<uint32_t>(kEnv + o, 0);
    Asm a;
    a.fldenv(kEnv).raw({0xD9, op}).fnstsw(kSw).fninit();
    ASSERT_EQ(run(a), StopReason::kInstructionLimit);
    switch (op) {
      case 0xFE: X87_NATIVE(host, "fldenv 0x100(%0)\n\tfsin\n\tfnstsw 0x40(%0)"); break;
      case 0xFF: X87_NATIVE(host, "fldenv 0x100(%0)\n\tfcos\n\tfnstsw 0x40(%0)"); break;
      case 0xF2: X87_NATIVE(host, "fldenv 0x100(%0)\n\tfptan\n\tfnstsw 0x40(%0)"); break;
      case 0xFB: X87_NATIVE(host, "fldenv 0x100(%0)\n\tfsincos\n\tfnstsw 0x40(%0)"); break;
      case 0xF8: X87_NATIVE(host, "fldenv 0x100(%0)\n\tfprem\n\tfnstsw 0x40(%0)"); break;
      case 0xF5: X87_NATIVE(host, "fldenv 0x100(%0)\n\tfprem1\n\tfnstsw 0x40(%0)"); break;
    }
    EXPECT_TRUE(same(kSw, 2)) << "D9 " << std::hex << int{op};
  }
}

// FLD ST(i) with an empty source and a full stack is an underflow (C1 = 0).
TEST_P(X87Test, FldEmptySourceOntoFullStackMatchesHost) {
  Asm a;
  a.fninit().fld1().raw({0xD9, 0xF7, 0xD9, 0xC6}).fnstsw(kSw).fstp80(kR);  // fincstp; fld st(6)
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  X87_NATIVE(host, "fninit\n\tfld1\n\tfincstp\n\tfld %%st(6)\n\tfnstsw 0x40(%0)\n\tfstpt 0x30(%0)");
  EXPECT_TRUE(same(kSw, 2));
  EXPECT_TRUE(same(kR, 10));
}

// C1 after FCOMI, FCMOVcc and FFREE on valid registers with C1 set before
// (the SDM says FCOMI clears it; AMD hosts keep it): as the host does.
TEST_P(X87Test, C1AfterFcomiFcmovFfreeMatchesHost) {
  static const uint8_t kOps[][2] = {{0xDB, 0xF1}, {0xDB, 0xC9}, {0xDD, 0xC1}};  // fcomi, fcmovne, ffree st(1)
  for (const auto& op : kOps) {
    // 1.0 in physical register 7, pi in 6, TOP 6; the environment sets C1.
    put<uint32_t>(kEnv, 0xFFFF037Fu);
    put<uint32_t>(kEnv + 4, 0xFFFF0000u | (6u << 11) | fpu::kC1);
    put<uint32_t>(kEnv + 8, 0xFFFF0FFFu);
    for (uint32_t o = 12; o < 28; o += 4) put<uint32_t>(kEnv + o, 0);
    Asm a;
    a.fninit().fld1().fldpi().fldenv(kEnv).raw({op[0], op[1]}).fnstsw(kSw).fninit();
    ASSERT_EQ(run(a), StopReason::kInstructionLimit);
    switch (op[1]) {
      case 0xF1: X87_NATIVE(host, "fninit\n\tfld1\n\tfldpi\n\tfldenv 0x100(%0)\n\tfcomi %%st(1), %%st\n\tfnstsw 0x40(%0)"); break;
      case 0xC9: X87_NATIVE(host, "fninit\n\tfld1\n\tfldpi\n\tfldenv 0x100(%0)\n\tfcmovne %%st(1), %%st\n\tfnstsw 0x40(%0)"); break;
      case 0xC1: X87_NATIVE(host, "fninit\n\tfld1\n\tfldpi\n\tfldenv 0x100(%0)\n\tffree %%st(1)\n\tfnstsw 0x40(%0)"); break;
    }
    EXPECT_TRUE(same(kSw, 2)) << std::hex << int{op[0]} << " " << int{op[1]};
  }
}

TEST_P(X87Test, FincstpFdecstpFfree) {
  Asm a;
  a.fninit().fld1().fldz().raw({0xD9, 0xF7});  // fincstp: ST(0) = 1, ST(7) = 0 (still tagged)
  a.fstp80(kR).raw({0xD9, 0xF6, 0xD9, 0xF6});  // fdecstp x2: ST(0) = 0
  a.fstp80(kR2).raw({0xDD, 0xC0}).fnstsw(kSw); // ffree st0 (empty already)
  ASSERT_EQ(run(a), StopReason::kInstructionLimit);
  X87_NATIVE(host,
             "fninit\n\tfld1\n\tfldz\n\tfincstp\n\tfstpt 0x30(%0)\n\tfdecstp\n\tfdecstp\n\tfstpt 0x50(%0)\n\t"
             "ffree %%st(0)\n\tfnstsw 0x40(%0)");
  EXPECT_TRUE(same(kR, 10) && same(kR2, 10) && same(kSw, 2));
}

// A CR0 write that sets TS leaves blockmode::kFpuNative: the x87
// instruction after it raises #NM, under the JIT too (a privileged
// instruction ends its block, and the next block is looked up in the new
// mode).
TEST_P(X87Test, SettingTsEndsNativeX87InTheSameBlock) {
  Asm a;
  a.fninit().fld1();
  a.raw({0x0F, 0x20, 0xC0});  // mov eax, cr0
  a.raw({0x83, 0xC8, 0x08});  // or eax, 8 (TS)
  a.raw({0x0F, 0x22, 0xC0});  // mov cr0, eax
  const uint32_t fld_at = kCode + static_cast<uint32_t>(a.bytes.size());
  a.fld1();
  EXPECT_EQ(run(a), StopReason::kFatal);
  EXPECT_NE(cpu.stop_message().find("#NM"), std::string::npos) << cpu.stop_message();
  EXPECT_EQ(cpu.s.eip, fld_at);
  EXPECT_EQ(st().top(), 7u);
}

// An FLDCW that unmasks an exception in the middle of a translated block:
// the division after it must raise the exception (#MF at the next waiting
// instruction), as the interpreter does, not take the masked response.
TEST_P(X87Test, FldcwUnmaskingInTheSameBlockLeavesNativeX87) {
  put<uint16_t>(kCw, 0x037B);  // ZM clear.
  put<uint16_t>(kCw + 2, 0x0F7F);  // RC chop, all masked.
  Asm a;
  a.fninit().fldcw(kCw + 2).fld1().fldz().fldcw(kCw).raw({0xDE, 0xF9});  // fdivp: 1/0
  const uint32_t fld_at = kCode + static_cast<uint32_t>(a.bytes.size());
  a.fld1();
  EXPECT_EQ(run(a), StopReason::kFatal);
  EXPECT_NE(cpu.stop_message().find("#MF"), std::string::npos) << cpu.stop_message();
  EXPECT_EQ(cpu.s.eip, fld_at);
  EXPECT_EQ(st().fcw(), 0x037B);
  EXPECT_EQ(st().fsw() & (fpu::kES | fpu::kZE), fpu::kES | fpu::kZE);
}

INSTANTIATE_TEST_SUITE_P(Engines, X87Test, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "Jit" : "Interp"; });

}  // namespace
}  // namespace vmm

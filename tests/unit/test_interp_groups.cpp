// Unit tests for the interpreter groups in runtime/interp/{shift,muldiv,bcd,
// bitops,misc}.cpp: each test loads hand-assembled 32-bit code at 0x1000 in
// the flat protected-mode state a multiboot loader hands over, runs a few
// instructions and checks registers, flags and memory. Expected values follow
// the SDM pseudo-code; undefined flags are never checked.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <string>
#include <vector>

#include "devices/bus.h"
#include "runtime/cpu.h"
#include "runtime/guest_ram.h"

namespace vmm {
namespace {

constexpr uint32_t kCode = 0x1000;
constexpr uint32_t kData = 0x2000;

constexpr uint32_t CF = flag::CF, PF = flag::PF, AF = flag::AF, ZF = flag::ZF, SF = flag::SF, OF = flag::OF,
                   DF = flag::DF;
constexpr uint32_t kSZPC = SF | ZF | PF | CF;

class InterpGroups : public ::testing::Test {
 protected:
  InterpGroups() : ram_(1u << 20), cpu_(ram_, bus_) {
    cpu_.reset_flat_protected(kCode);
    // No exception delivery: a guest fault stops the run with a message.
    cpu_.on_exception = nullptr;
  }

  // Places code at kCode and points EIP at it (dropping decoded blocks, since
  // the bytes are written behind the softmmu's back).
  void load(std::initializer_list<uint8_t> bytes) { load(std::vector<uint8_t>(bytes)); }
  void load(const std::vector<uint8_t>& bytes) {
    std::memcpy(ram_.ptr(kCode), bytes.data(), bytes.size());
    cpu_.flush_code_cache();
    cpu_.clear_stop();
    cpu_.s.eip = kCode;
  }

  // Runs exactly n instructions; a fault ends the run early.
  StopReason run(uint64_t n) { return cpu_.run(n); }
  // Runs n instructions that must all complete.
  void run_ok(uint64_t n) {
    ASSERT_EQ(cpu_.run(n), StopReason::kInstructionLimit) << cpu_.stop_message();
  }
  // Runs one instruction that must fault with the given vector name ("#DE").
  void expect_fault(const char* name) {
    EXPECT_EQ(run(1), StopReason::kFatal);
    EXPECT_NE(cpu_.stop_message().find(name), std::string::npos) << cpu_.stop_message();
    EXPECT_EQ(cpu_.s.eip, kCode) << "a faulting instruction must not advance EIP";
  }

  // Identity-maps the first 4 MiB with paging, `read_only` pages not
  // writable; CR0.WP makes that bind CPL 0 too.
  void enable_paging(std::initializer_list<uint32_t> read_only) {
    constexpr uint32_t kPd = 0x80000, kPt = 0x81000;
    for (uint32_t i = 0; i < 1024; ++i) put32(kPt + 4 * i, (i << 12) | 7);
    for (uint32_t p : read_only) put32(kPt + 4 * (p >> 12), p | 5);
    std::memset(ram_.ptr(kPd), 0, 4096);
    put32(kPd, kPt | 7);
    cpu_.s.cr3 = kPd;
    cpu_.s.cr0 |= cr0::PG | cr0::WP;
    cpu_.paging_changed();
  }

  uint32_t& r(Gpr g) { return cpu_.s.gpr[g]; }
  uint32_t& flags() { return cpu_.s.eflags; }
  void set_flags(uint32_t f) { cpu_.s.eflags = flag::kFixed1 | f; }
  void expect_flags(uint32_t mask, uint32_t want) {
    EXPECT_EQ(cpu_.s.eflags & mask, want & mask)
        << std::hex << "eflags=0x" << cpu_.s.eflags << " mask=0x" << mask << " want=0x" << (want & mask);
  }

  void put8(uint32_t a, uint8_t v) { *ram_.ptr(a) = v; }
  void put16(uint32_t a, uint16_t v) { std::memcpy(ram_.ptr(a), &v, 2); }
  void put32(uint32_t a, uint32_t v) { std::memcpy(ram_.ptr(a), &v, 4); }
  uint8_t get8(uint32_t a) { return *ram_.ptr(a); }
  uint16_t get16(uint32_t a) {
    uint16_t v;
    std::memcpy(&v, ram_.ptr(a), 2);
    return v;
  }
  uint32_t get32(uint32_t a) {
    uint32_t v;
    std::memcpy(&v, ram_.ptr(a), 4);
    return v;
  }

  GuestRam ram_;
  Bus bus_;
  Cpu cpu_;
};

// ===========================================================================
// Shifts and rotates (shift.cpp).

TEST_F(InterpGroups, ShlByOneSetsCfAndOf) {
  load({0xd1, 0xe0});  // shl eax, 1
  r(EAX) = 0x80000001;
  set_flags(ZF | SF);
  run_ok(1);
  EXPECT_EQ(r(EAX), 2u);
  // CF = the bit shifted out; OF = MSB(result) XOR CF.
  expect_flags(kSZPC | OF, CF | OF);
}

TEST_F(InterpGroups, ShiftCountZeroKeepsFlags) {
  load({0xd3, 0xe0,                                 // shl eax, cl
        0xd3, 0x25, 0x00, 0x20, 0x00, 0x00,         // shl dword [0x2000], cl
        0xd2, 0xe8});                               // shr al, cl
  r(EAX) = 0x12345678;
  r(ECX) = 0;
  put32(kData, 0xCAFEF00D);
  const uint32_t f = CF | PF | AF | ZF | SF | OF;
  set_flags(f);
  run_ok(3);
  EXPECT_EQ(r(EAX), 0x12345678u);
  EXPECT_EQ(get32(kData), 0xCAFEF00Du);
  expect_flags(flag::kArith, f);
}

TEST_F(InterpGroups, ShiftCountIsMaskedToFiveBits) {
  load({0xd3, 0xe0});  // shl eax, cl
  r(EAX) = 0x12345678;
  r(ECX) = 32;  // Masked to 0: nothing changes, not even the flags.
  set_flags(CF | OF);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x12345678u);
  expect_flags(flag::kArith, CF | OF);

  load({0xd3, 0xe0});
  r(ECX) = 33;  // Masked to 1.
  set_flags(0);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x2468ACF0u);
  expect_flags(CF | ZF | SF, 0);

  load({0xd2, 0xe8});  // shr al, cl
  r(EAX) = 0xFFFFFF90;
  r(ECX) = 0x24;  // Masked to 4, also for an 8-bit operand.
  run_ok(1);
  EXPECT_EQ(r(EAX), 0xFFFFFF09u);
  expect_flags(kSZPC, PF);  // 0x09 has two bits set; last bit out was 0.
}

TEST_F(InterpGroups, ShiftMemoryOperand) {
  load({0xc1, 0x25, 0x00, 0x20, 0x00, 0x00, 0x04});  // shl dword [0x2000], 4
  put32(kData, 0xF0000001);
  set_flags(0);
  run_ok(1);
  EXPECT_EQ(get32(kData), 0x00000010u);
  expect_flags(CF | ZF | SF, CF);  // Bit 28 was the last one out.
}

TEST_F(InterpGroups, Sar) {
  load({0xc1, 0xf8, 0x1f, 0xc1, 0xf8, 0x04});  // sar eax, 31; sar eax, 4
  r(EAX) = 0x80000000;
  run_ok(1);
  EXPECT_EQ(r(EAX), 0xFFFFFFFFu);
  expect_flags(CF | SF | ZF, SF);  // OF is undefined for counts above 1.
  r(EAX) = 0x80000008;
  run_ok(1);
  EXPECT_EQ(r(EAX), 0xF8000000u);
  expect_flags(CF | SF | ZF, CF | SF);
}

TEST_F(InterpGroups, RotatesWriteOnlyCfAndOf) {
  load({0xd0, 0xc0,          // rol al, 1
        0xc1, 0xc8, 0x08});  // ror eax, 8
  r(EAX) = 0x00000081;
  set_flags(ZF | SF | PF | AF);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x00000003u);
  // CF = new LSB; OF = MSB(result) XOR CF = 0 ^ 1.
  expect_flags(flag::kArith, ZF | SF | PF | AF | CF | OF);
  r(EAX) = 0x12345678;
  set_flags(ZF);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x78123456u);
  expect_flags(ZF | SF | PF | AF | CF, ZF);  // CF = new MSB = 0.
}

TEST_F(InterpGroups, RclRcrByteRotateThroughCarryModuloNine) {
  load({0xd0, 0xd0});  // rcl al, 1
  r(EAX) = 0x80;
  set_flags(0);
  run_ok(1);
  EXPECT_EQ(r(EAX) & 0xFF, 0x00u);
  expect_flags(CF, CF);

  load({0xd2, 0xd0});  // rcl al, cl
  r(EAX) = 0x55;
  r(ECX) = 9;  // 9 mod 9 = 0: CF:AL comes back unchanged.
  set_flags(CF);
  run_ok(1);
  EXPECT_EQ(r(EAX) & 0xFF, 0x55u);
  expect_flags(CF, CF);

  load({0xd2, 0xd0});  // rcl al, cl
  r(EAX) = 0x55;
  r(ECX) = 10;  // Same as 1: CF enters bit 0, bit 7 leaves into CF.
  set_flags(CF);
  run_ok(1);
  EXPECT_EQ(r(EAX) & 0xFF, 0xABu);
  expect_flags(CF, 0);
}

TEST_F(InterpGroups, RclRcrWordModuloSeventeen) {
  load({0x66, 0xd1, 0xd0});  // rcl ax, 1
  r(EAX) = 0xABCD8000;
  set_flags(CF);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0xABCD0001u);
  expect_flags(CF | OF, CF | OF);  // CF = old bit 15; OF = MSB(result) XOR CF = 0 ^ 1.

  load({0x66, 0xd3, 0xd8});  // rcr ax, cl
  r(EAX) = 0x00001234;
  r(ECX) = 17;  // A full turn through the 17-bit CF:AX.
  set_flags(CF);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x00001234u);
  expect_flags(CF, CF);

  load({0x66, 0xd3, 0xd8});  // rcr ax, cl
  r(EAX) = 0x00001235;
  r(ECX) = 18;  // Same as 1.
  set_flags(CF);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x0000891Au);
  expect_flags(CF, CF);
}

TEST_F(InterpGroups, RcrDwordByOne) {
  load({0xd1, 0xd8});  // rcr eax, 1
  r(EAX) = 1;
  set_flags(0);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0u);
  expect_flags(CF | OF, CF);  // OF = MSB XOR next bit of the result = 0.
  load({0xd1, 0xd8});
  r(EAX) = 0;
  set_flags(CF);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x80000000u);
  expect_flags(CF | OF, OF);
}

TEST_F(InterpGroups, Shld) {
  load({0x0f, 0xa4, 0xd8, 0x08});  // shld eax, ebx, 8
  r(EAX) = 0x12345678;
  r(EBX) = 0x9ABCDEF0;
  set_flags(CF);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x3456789Au);
  EXPECT_EQ(r(EBX), 0x9ABCDEF0u);
  expect_flags(kSZPC, PF);  // CF = bit 24 of the old EAX (0); 0x9A has four bits set.

  load({0x0f, 0xa5, 0x1d, 0x00, 0x20, 0x00, 0x00});  // shld dword [0x2000], ebx, cl
  put32(kData, 0x80000001);
  r(EBX) = 0xC0000000;
  r(ECX) = 1;
  set_flags(0);
  run_ok(1);
  EXPECT_EQ(get32(kData), 0x00000003u);
  expect_flags(CF | OF | ZF | SF, CF | OF);  // Sign changed on a 1-bit shift.
}

TEST_F(InterpGroups, Shrd) {
  load({0x0f, 0xac, 0xd8, 0x04});  // shrd eax, ebx, 4
  r(EAX) = 0x12345678;
  r(EBX) = 0x0000000F;
  set_flags(0);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0xF1234567u);
  expect_flags(CF | ZF | SF, CF | SF);  // Bit 3 of 0x78 was the last one out.

  load({0x66, 0x0f, 0xad, 0xd8});  // shrd ax, bx, cl
  r(EAX) = 0xFFFF1234;
  r(EBX) = 0x0000ABCD;
  r(ECX) = 4;
  set_flags(CF);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0xFFFFD123u);
  expect_flags(CF | ZF | SF, SF);

  load({0x66, 0x0f, 0xad, 0xd8});  // shrd ax, bx, cl with CL = 32 (masked to 0)
  r(EAX) = 0x1234;
  r(ECX) = 32;
  set_flags(CF | ZF | OF);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x1234u);
  expect_flags(flag::kArith, CF | ZF | OF);
}

// ===========================================================================
// Multiply and divide (muldiv.cpp).

TEST_F(InterpGroups, MulSetsCfOfWhenHighHalfNonZero) {
  load({0xf7, 0xe1});  // mul ecx
  r(EAX) = 0x80000000;
  r(ECX) = 4;
  set_flags(0);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0u);
  EXPECT_EQ(r(EDX), 2u);
  expect_flags(CF | OF, CF | OF);

  load({0xf7, 0xe1});
  r(EAX) = 0x10000;
  r(ECX) = 0xFFFF;
  r(EDX) = 0x12345678;
  set_flags(CF | OF);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0xFFFF0000u);
  EXPECT_EQ(r(EDX), 0u);
  expect_flags(CF | OF, 0);
}

TEST_F(InterpGroups, MulByte) {
  load({0xf6, 0xe1});  // mul cl
  r(EAX) = 0xAAAA0010;
  r(ECX) = 0x10;
  r(EDX) = 0x5555;
  run_ok(1);
  EXPECT_EQ(r(EAX), 0xAAAA0100u);
  EXPECT_EQ(r(EDX), 0x5555u);  // The byte form writes AX only.
  expect_flags(CF | OF, CF | OF);
}

TEST_F(InterpGroups, ImulOneOperand) {
  load({0xf6, 0xe9});  // imul cl
  r(EAX) = 0xFE;       // -2
  r(ECX) = 3;
  set_flags(CF | OF);
  run_ok(1);
  EXPECT_EQ(r(EAX) & 0xFFFF, 0xFFFAu);  // -6 fits in AL: CF = OF = 0.
  expect_flags(CF | OF, 0);

  load({0xf6, 0xe9});
  r(EAX) = 0x40;
  r(ECX) = 4;
  run_ok(1);
  EXPECT_EQ(r(EAX) & 0xFFFF, 0x0100u);
  expect_flags(CF | OF, CF | OF);

  load({0x66, 0xf7, 0x2d, 0x00, 0x20, 0x00, 0x00});  // imul word [0x2000]
  put16(kData, 0xFFFF);                               // -1
  r(EAX) = 0x8000;                                    // -32768
  r(EDX) = 0xDEAD0000;
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x8000u);  // +32768 = DX:AX 0000:8000.
  EXPECT_EQ(r(EDX), 0xDEAD0000u);
  expect_flags(CF | OF, CF | OF);
}

TEST_F(InterpGroups, ImulTwoAndThreeOperands) {
  load({0x0f, 0xaf, 0xc1});  // imul eax, ecx
  r(EAX) = 0x10000;
  r(ECX) = 0x10000;
  set_flags(0);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0u);
  expect_flags(CF | OF, CF | OF);

  load({0x66, 0x6b, 0xc1, 0xfd});  // imul ax, cx, -3
  r(EAX) = 0x77770000;
  r(ECX) = 100;
  set_flags(CF | OF);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x7777FED4u);  // -300
  expect_flags(CF | OF, 0);

  load({0x6b, 0xc1, 0xff});  // imul eax, ecx, -1
  r(ECX) = 5;
  run_ok(1);
  EXPECT_EQ(r(EAX), 0xFFFFFFFBu);

  load({0x69, 0x05, 0x00, 0x20, 0x00, 0x00, 0xe8, 0x03, 0x00, 0x00});  // imul eax, [0x2000], 1000
  put32(kData, 3000000);
  run_ok(1);
  EXPECT_EQ(r(EAX), 3000000000u);  // Does not fit a signed 32-bit result.
  expect_flags(CF | OF, CF | OF);
}

TEST_F(InterpGroups, DivUnsigned) {
  load({0xf7, 0xf1});  // div ecx
  r(EDX) = 1;
  r(EAX) = 5;
  r(ECX) = 0x10;
  const uint32_t f = CF | ZF | AF;
  set_flags(f);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x10000000u);
  EXPECT_EQ(r(EDX), 5u);
  // The SDM leaves all six flags undefined and CPUs differ (Intel's keep
  // them, AMD's change them): vmm gives what this host's DIV gives, as the
  // JIT's native DIV does.
  uint64_t host = flag::kFixed1 | f;
  uint32_t lo = 5, hi = 1;
  asm("sub $128, %%rsp\n\tpush %[fl]\n\tpopf\n\tdivl %[d]\n\tpushf\n\tpop %[fl]\n\tadd $128, %%rsp"
      : [fl] "+r"(host), "+a"(lo), "+d"(hi)
      : [d] "r"(0x10u)
      : "cc");
  expect_flags(flag::kArith, static_cast<uint32_t>(host));

  load({0xf6, 0xf1});  // div cl
  r(EAX) = 1000;
  r(ECX) = 7;
  run_ok(1);
  EXPECT_EQ(r(EAX) & 0xFFFF, (6u << 8) | 142u);
}

TEST_F(InterpGroups, DivByZeroRaisesDe) {
  load({0xf7, 0xf1});  // div ecx
  r(EDX) = 0;
  r(EAX) = 1234;
  r(ECX) = 0;
  expect_fault("#DE");
  EXPECT_EQ(r(EAX), 1234u);
  EXPECT_EQ(r(EDX), 0u);
}

TEST_F(InterpGroups, DivQuotientOverflowRaisesDe) {
  load({0xf6, 0xf1});  // div cl
  r(EAX) = 0x1000;
  r(ECX) = 2;  // Quotient 0x800 does not fit AL.
  expect_fault("#DE");
  EXPECT_EQ(r(EAX), 0x1000u);

  load({0xf7, 0xf1});  // div ecx
  r(EDX) = 7;
  r(EAX) = 0;
  r(ECX) = 7;  // EDX >= divisor: quotient needs 33 bits.
  expect_fault("#DE");
  EXPECT_EQ(r(EDX), 7u);
}

TEST_F(InterpGroups, IdivSigned) {
  load({0xf7, 0xf9});  // idiv ecx
  r(EDX) = 0xFFFFFFFF;
  r(EAX) = static_cast<uint32_t>(-7);
  r(ECX) = 2;
  run_ok(1);
  EXPECT_EQ(r(EAX), static_cast<uint32_t>(-3));  // Truncated toward zero...
  EXPECT_EQ(r(EDX), static_cast<uint32_t>(-1));  // ...remainder has the dividend's sign.

  load({0xf7, 0xf9});  // idiv ecx: -2^31 / 1 is the most negative quotient, allowed.
  r(EDX) = 0xFFFFFFFF;
  r(EAX) = 0x80000000;
  r(ECX) = 1;
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x80000000u);
  EXPECT_EQ(r(EDX), 0u);

  load({0xf6, 0xf9});  // idiv cl
  r(EAX) = 0xFF80;     // -128
  r(ECX) = 1;
  run_ok(1);
  EXPECT_EQ(r(EAX) & 0xFFFF, 0x0080u);
}

TEST_F(InterpGroups, IdivOverflowRaisesDe) {
  load({0xf7, 0xf9});  // idiv ecx: INT_MIN / -1
  r(EDX) = 0xFFFFFFFF;
  r(EAX) = 0x80000000;
  r(ECX) = 0xFFFFFFFF;
  expect_fault("#DE");
  EXPECT_EQ(r(EAX), 0x80000000u);
  EXPECT_EQ(r(EDX), 0xFFFFFFFFu);

  load({0xf7, 0xf9});  // idiv ecx: the 64-bit INT64_MIN / -1 must not trap the host.
  r(EDX) = 0x80000000;
  r(EAX) = 0;
  r(ECX) = 0xFFFFFFFF;
  expect_fault("#DE");

  load({0x66, 0xf7, 0xf9});  // idiv cx: -32768 / -1
  r(EDX) = 0xFFFF;
  r(EAX) = 0x8000;
  r(ECX) = 0xFFFF;
  expect_fault("#DE");

  load({0xf6, 0xf9});  // idiv cl: -128 / -1
  r(EAX) = 0xFF80;
  r(ECX) = 0xFF;
  expect_fault("#DE");

  load({0xf6, 0xf9});  // idiv cl by zero
  r(ECX) = 0;
  expect_fault("#DE");
}

// ===========================================================================
// Decimal adjust (bcd.cpp). Examples from the SDM's DAA/DAS/AAA/AAM pages.

TEST_F(InterpGroups, DaaSdmExample) {
  // ADD AL, BL with AL = 79H, BL = 35H gives AE; DAA then gives 14 with CF set.
  load({0x00, 0xd8, 0x27});  // add al, bl; daa
  r(EAX) = 0x79;
  r(EBX) = 0x35;
  run_ok(2);
  EXPECT_EQ(r(EAX), 0x14u);
  expect_flags(CF | AF | ZF | SF | PF, CF | AF | PF);
}

TEST_F(InterpGroups, DasSdmExample) {
  // SUB AL, BL with AL = 35H, BL = 47H gives EE; DAS then gives 88 with CF set.
  load({0x28, 0xd8, 0x2f});  // sub al, bl; das
  r(EAX) = 0x35;
  r(EBX) = 0x47;
  run_ok(2);
  EXPECT_EQ(r(EAX), 0x88u);
  expect_flags(CF | AF | ZF | SF | PF, CF | AF | SF | PF);
}

TEST_F(InterpGroups, DaaNoAdjustment) {
  load({0x27});
  r(EAX) = 0x42;
  set_flags(CF | AF);  // Both set: adjusts by 66H.
  run_ok(1);
  EXPECT_EQ(r(EAX), 0xA8u);
  expect_flags(CF | AF | SF, CF | AF | SF);
  load({0x27});
  r(EAX) = 0x42;
  set_flags(0);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x42u);
  expect_flags(CF | AF | ZF, 0);
}

TEST_F(InterpGroups, AaaAas) {
  load({0x37});  // aaa
  r(EAX) = 0x0000000F;
  set_flags(0);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x00000105u);
  expect_flags(CF | AF, CF | AF);

  load({0x37});  // aaa: AX + 106H carries out of AL into AH as well.
  r(EAX) = 0x000000FA;
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x00000200u);

  load({0x37});  // aaa, no adjustment: only the high nibble of AL is cleared.
  r(EAX) = 0x00000335;
  set_flags(0);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x00000305u);
  expect_flags(CF | AF, 0);

  load({0x3f});  // aas
  r(EAX) = 0x00000200;
  set_flags(AF);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x0000000Au);  // AX - 6 = 01FA, AH - 1 = 00, AL AND 0FH.
  expect_flags(CF | AF, CF | AF);
}

TEST_F(InterpGroups, AamAad) {
  load({0xd4, 0x0a});  // aam
  r(EAX) = 0x1234003F;  // 63
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x12340603u);
  expect_flags(ZF | SF | PF, PF);  // AL = 03: two bits.

  load({0xd4, 0x10});  // aam 16
  r(EAX) = 0xAB;
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x0A0Bu);

  load({0xd5, 0x0a});  // aad
  r(EAX) = 0x0603;
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x3Fu);
  expect_flags(ZF | SF | PF, PF);

  load({0xd5, 0x10});  // aad 16
  r(EAX) = 0x0A0B;
  run_ok(1);
  EXPECT_EQ(r(EAX), 0xABu);
  expect_flags(ZF | SF, SF);
}

TEST_F(InterpGroups, AamZeroBaseRaisesDe) {
  load({0xd4, 0x00});  // aam 0
  r(EAX) = 0x1234;
  expect_fault("#DE");
  EXPECT_EQ(r(EAX), 0x1234u);
}

// ===========================================================================
// Bit operations (bitops.cpp).

TEST_F(InterpGroups, BtRegisterOffsetIsModuloWidth) {
  load({0x0f, 0xa3, 0xc8});  // bt eax, ecx
  r(EAX) = 0x2;
  r(ECX) = 33;  // Bit 1.
  set_flags(ZF);
  run_ok(1);
  expect_flags(CF | ZF, CF | ZF);  // ZF is not affected.
  EXPECT_EQ(r(EAX), 2u);
}

TEST_F(InterpGroups, BtsBtrBtcRegister) {
  load({0x0f, 0xab, 0xc8,          // bts eax, ecx
        0x0f, 0xba, 0xf0, 0x05,    // btr eax, 5
        0x0f, 0xbb, 0xc8});        // btc eax, ecx
  r(EAX) = 0x20;
  r(ECX) = 4;
  set_flags(0);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x30u);
  expect_flags(CF, 0);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x10u);
  expect_flags(CF, CF);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x00u);
  expect_flags(CF, CF);
}

TEST_F(InterpGroups, BtMemoryNegativeOffset) {
  load({0x0f, 0xa3, 0x0d, 0x00, 0x20, 0x00, 0x00});  // bt dword [0x2000], ecx
  put32(kData - 4, 0x80000000);
  put32(kData, 0);
  r(ECX) = static_cast<uint32_t>(-1);  // Bit 31 of the dword at 0x2000 - 4.
  set_flags(0);
  run_ok(1);
  expect_flags(CF, CF);

  load({0x66, 0x0f, 0xab, 0x0d, 0x00, 0x20, 0x00, 0x00});  // bts word [0x2000], cx
  put32(kData - 4, 0);
  r(ECX) = 0xFFFF0000u | static_cast<uint16_t>(-17);  // Word at 0x2000 - 4, bit 15.
  run_ok(1);
  EXPECT_EQ(get16(kData - 4), 0x8000u);
  EXPECT_EQ(get16(kData - 2), 0u);
  expect_flags(CF, 0);
}

TEST_F(InterpGroups, BtMemoryLargeOffset) {
  load({0x0f, 0xb3, 0x0b});  // btr dword [ebx], ecx
  r(EBX) = kData;
  r(ECX) = 0x1000 + 7;  // Dword at 0x2000 + 0x1000/8, bit 7.
  put32(kData + 0x200, 0xFF);
  put32(kData, 0xFF);
  set_flags(0);
  run_ok(1);
  EXPECT_EQ(get32(kData + 0x200), 0x7Fu);
  EXPECT_EQ(get32(kData), 0xFFu);
  expect_flags(CF, CF);
}

TEST_F(InterpGroups, BtMemoryImmediateIsMasked) {
  load({0x0f, 0xba, 0x25, 0x00, 0x20, 0x00, 0x00, 0x23});  // bt dword [0x2000], 35
  put32(kData, 0x8);
  put32(kData + 4, 0);
  set_flags(0);
  run_ok(1);
  expect_flags(CF, CF);  // Bit 3 of the same dword, not bit 3 of the next one.

  load({0x66, 0x0f, 0xba, 0x3d, 0x00, 0x20, 0x00, 0x00, 0x14});  // btc word [0x2000], 20
  put32(kData, 0);
  run_ok(1);
  EXPECT_EQ(get32(kData), 0x10u);  // 20 mod 16 = bit 4.
  expect_flags(CF, 0);
}

TEST_F(InterpGroups, BsfBsr) {
  load({0x0f, 0xbc, 0xc1, 0x0f, 0xbd, 0xd1});  // bsf eax, ecx; bsr edx, ecx
  r(ECX) = 0x00F0;
  set_flags(ZF);
  run_ok(2);
  EXPECT_EQ(r(EAX), 4u);
  EXPECT_EQ(r(EDX), 7u);
  expect_flags(ZF, 0);
}

TEST_F(InterpGroups, BsfBsrZeroSourceKeepsDestination) {
  load({0x0f, 0xbc, 0xc1, 0x0f, 0xbd, 0xd1});  // bsf eax, ecx; bsr edx, ecx
  r(EAX) = 0xDEADBEEF;
  r(EDX) = 0x12345678;
  r(ECX) = 0;
  set_flags(0);
  run_ok(2);
  EXPECT_EQ(r(EAX), 0xDEADBEEFu);
  EXPECT_EQ(r(EDX), 0x12345678u);
  expect_flags(ZF, ZF);

  load({0x66, 0x0f, 0xbd, 0x05, 0x00, 0x20, 0x00, 0x00});  // bsr ax, word [0x2000]
  put16(kData, 0x8001);
  r(EAX) = 0xFFFFFFFF;
  run_ok(1);
  EXPECT_EQ(r(EAX), 0xFFFF000Fu);
  expect_flags(ZF, 0);
}

TEST_F(InterpGroups, Bswap) {
  load({0x0f, 0xc8, 0x66, 0x0f, 0xca});  // bswap eax; bswap dx
  r(EAX) = 0x12345678;
  r(EDX) = 0xAABBCCDD;
  run_ok(2);
  EXPECT_EQ(r(EAX), 0x78563412u);
  EXPECT_EQ(r(EDX), 0xAABB0000u);  // 16-bit form: hardware clears the low word.
}

// Reference condition evaluation (SDM Vol. 1, Appendix B), written out
// independently of runtime/interp/flags.h.
bool reference_condition(unsigned cc, uint32_t f) {
  const bool cf = f & CF, zf = f & ZF, sf = f & SF, of = f & OF, pf = f & PF;
  bool r = false;
  switch (cc & ~1u) {
    case 0x0: r = of; break;
    case 0x2: r = cf; break;
    case 0x4: r = zf; break;
    case 0x6: r = cf || zf; break;
    case 0x8: r = sf; break;
    case 0xA: r = pf; break;
    case 0xC: r = sf != of; break;
    case 0xE: r = zf || sf != of; break;
  }
  return (cc & 1) ? !r : r;
}

TEST_F(InterpGroups, SetccAllConditions) {
  for (unsigned cc = 0; cc < 16; ++cc) {
    for (unsigned bits = 0; bits < 32; ++bits) {
      const uint32_t f = ((bits & 1) ? CF : 0) | ((bits & 2) ? ZF : 0) | ((bits & 4) ? SF : 0) |
                         ((bits & 8) ? OF : 0) | ((bits & 16) ? PF : 0);
      load({0x0f, static_cast<uint8_t>(0x90 + cc), 0xc0,                             // setcc al
            0x0f, static_cast<uint8_t>(0x90 + cc), 0x05, 0x00, 0x20, 0x00, 0x00});  // setcc [0x2000]
      r(EAX) = 0xAAAAAA55;
      put32(kData, 0x11111111);
      set_flags(f);
      run_ok(2);
      const uint32_t want = reference_condition(cc, f) ? 1 : 0;
      EXPECT_EQ(r(EAX), 0xAAAAAA00u | want) << "cc=" << cc << " flags=" << f;
      EXPECT_EQ(get32(kData), 0x11111100u | want) << "cc=" << cc << " flags=" << f;
      expect_flags(flag::kArith, f);
    }
  }
}

TEST_F(InterpGroups, CmovccAllConditions) {
  for (unsigned cc = 0; cc < 16; ++cc) {
    for (unsigned bits = 0; bits < 32; ++bits) {
      const uint32_t f = ((bits & 1) ? CF : 0) | ((bits & 2) ? ZF : 0) | ((bits & 4) ? SF : 0) |
                         ((bits & 8) ? OF : 0) | ((bits & 16) ? PF : 0);
      load({0x0f, static_cast<uint8_t>(0x40 + cc), 0xc1,                              // cmovcc eax, ecx
            0x66, 0x0f, static_cast<uint8_t>(0x40 + cc), 0x15, 0x00, 0x20, 0x00, 0x00});  // cmovcc dx, [0x2000]
      r(EAX) = 0x11111111;
      r(ECX) = 0x22222222;
      r(EDX) = 0x33333333;
      put32(kData, 0x44444444);
      set_flags(f);
      run_ok(2);
      const bool take = reference_condition(cc, f);
      EXPECT_EQ(r(EAX), take ? 0x22222222u : 0x11111111u) << "cc=" << cc << " flags=" << f;
      EXPECT_EQ(r(EDX), take ? 0x33334444u : 0x33333333u) << "cc=" << cc << " flags=" << f;
    }
  }
}

// ===========================================================================
// Miscellaneous (misc.cpp).

TEST_F(InterpGroups, SignExtensions) {
  load({0x66, 0x98, 0x98, 0x66, 0x99, 0x99});  // cbw; cwde; cwd; cdq
  r(EAX) = 0x12345680;
  r(EDX) = 0xABCD1234;
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x1234FF80u);  // CBW writes AX only.
  run_ok(1);
  EXPECT_EQ(r(EAX), 0xFFFFFF80u);
  run_ok(1);
  EXPECT_EQ(r(EDX), 0xABCDFFFFu);  // CWD writes DX only.
  r(EAX) = 0x7FFFFFFF;
  run_ok(1);
  EXPECT_EQ(r(EDX), 0u);
}

TEST_F(InterpGroups, Xadd) {
  load({0x0f, 0xc1, 0x0d, 0x00, 0x20, 0x00, 0x00});  // xadd [0x2000], ecx
  put32(kData, 0xFFFFFFFF);
  r(ECX) = 1;
  set_flags(0);
  run_ok(1);
  EXPECT_EQ(get32(kData), 0u);
  EXPECT_EQ(r(ECX), 0xFFFFFFFFu);
  expect_flags(CF | ZF | SF | OF | AF, CF | ZF | AF);

  load({0x0f, 0xc1, 0xc0});  // xadd eax, eax: the sum is written last.
  r(EAX) = 21;
  run_ok(1);
  EXPECT_EQ(r(EAX), 42u);

  load({0x0f, 0xc0, 0xd1});  // xadd cl, dl
  r(ECX) = 0xAAAA0070;
  r(EDX) = 0xBBBB0010;
  run_ok(1);
  EXPECT_EQ(r(ECX), 0xAAAA0080u);
  EXPECT_EQ(r(EDX), 0xBBBB0070u);
  expect_flags(OF | SF | CF, OF | SF);
}

TEST_F(InterpGroups, CmpxchgSuccessAndFailure) {
  load({0x0f, 0xb1, 0x0d, 0x00, 0x20, 0x00, 0x00});  // cmpxchg [0x2000], ecx
  put32(kData, 100);
  r(EAX) = 100;
  r(ECX) = 200;
  set_flags(0);
  run_ok(1);
  EXPECT_EQ(get32(kData), 200u);
  EXPECT_EQ(r(EAX), 100u);
  expect_flags(kSZPC | OF, ZF | PF);

  load({0x0f, 0xb1, 0x0d, 0x00, 0x20, 0x00, 0x00});
  put32(kData, 300);
  r(EAX) = 100;
  r(ECX) = 200;
  run_ok(1);
  EXPECT_EQ(get32(kData), 300u);  // Written back unchanged.
  EXPECT_EQ(r(EAX), 300u);
  expect_flags(ZF | CF | SF, CF | SF);  // 100 - 300 borrows.

  load({0x0f, 0xb0, 0xd1});  // cmpxchg cl, dl
  r(EAX) = 0xFFFFFF05;
  r(ECX) = 0x00000005;
  r(EDX) = 0x00000009;
  run_ok(1);
  EXPECT_EQ(r(ECX), 9u);
  expect_flags(ZF, ZF);

  load({0x66, 0x0f, 0xb1, 0x0d, 0x00, 0x20, 0x00, 0x00});  // cmpxchg word [0x2000], cx
  put32(kData, 0x12345678);
  r(EAX) = 0xFFFF0000;
  run_ok(1);
  EXPECT_EQ(r(EAX), 0xFFFF5678u);
  EXPECT_EQ(get32(kData), 0x12345678u);
  expect_flags(ZF, 0);
}

TEST_F(InterpGroups, Cmpxchg8b) {
  load({0x0f, 0xc7, 0x0d, 0x00, 0x20, 0x00, 0x00});  // cmpxchg8b [0x2000]
  put32(kData, 0x11111111);
  put32(kData + 4, 0x22222222);
  r(EAX) = 0x11111111;
  r(EDX) = 0x22222222;
  r(EBX) = 0x33333333;
  r(ECX) = 0x44444444;
  set_flags(CF | SF);
  run_ok(1);
  EXPECT_EQ(get32(kData), 0x33333333u);
  EXPECT_EQ(get32(kData + 4), 0x44444444u);
  expect_flags(flag::kArith, ZF | CF | SF);  // Only ZF is written.

  load({0x0f, 0xc7, 0x0d, 0x00, 0x20, 0x00, 0x00});
  r(EAX) = 0x33333333;
  r(EDX) = 0x55555555;
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x33333333u);
  EXPECT_EQ(r(EDX), 0x44444444u);
  EXPECT_EQ(get32(kData), 0x33333333u);
  EXPECT_EQ(get32(kData + 4), 0x44444444u);
  expect_flags(flag::kArith, CF | SF);
}

TEST_F(InterpGroups, Cmpxchg8bRegisterFormIsInvalid) {
  load({0x0f, 0xc7, 0xc8});  // cmpxchg8b with ModRM.mod = 3
  expect_fault("#UD");
}

TEST_F(InterpGroups, FlagInstructions) {
  load({0xf9, 0xf5, 0xf5, 0xf8, 0xfd, 0xfc});  // stc; cmc; cmc; clc; std; cld
  set_flags(0);
  run_ok(1);
  expect_flags(CF, CF);
  run_ok(1);
  expect_flags(CF, 0);
  run_ok(1);
  expect_flags(CF, CF);
  run_ok(1);
  expect_flags(CF, 0);
  run_ok(1);
  expect_flags(DF, DF);
  run_ok(1);
  expect_flags(DF, 0);
}

TEST_F(InterpGroups, LahfSahf) {
  load({0x9f});  // lahf
  r(EAX) = 0x12345678;
  set_flags(SF | ZF | AF | PF | CF | OF);
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x1234D778u);  // SF ZF 0 AF 0 PF 1 CF.

  load({0x9e});  // sahf: bits 1, 3, 5 of AH are ignored; OF is not touched.
  r(EAX) = 0x0000FF00;
  set_flags(OF);
  run_ok(1);
  EXPECT_EQ(flags(), OF | SF | ZF | AF | PF | CF | flag::kFixed1);

  load({0x9e});
  r(EAX) = 0x00000000;
  set_flags(OF | CF | ZF);
  run_ok(1);
  EXPECT_EQ(flags(), OF | flag::kFixed1);
}

TEST_F(InterpGroups, NopForms) {
  load({0x90,                                 // nop
        0x0f, 0x1f, 0x04, 0x00,               // nop dword [eax+eax]
        0x66, 0x0f, 0x1f, 0x44, 0x00, 0x00,   // nop word [eax+eax+0]
        0x0f, 0x1f, 0x80, 0, 0, 0, 0,         // nop dword [eax+0]
        0xf3, 0x90});                         // pause
  r(EAX) = 0xFFFFFFF0;  // The memory operands are never accessed.
  const uint32_t f = CF | ZF;
  set_flags(f);
  run_ok(5);
  EXPECT_EQ(cpu_.s.eip, kCode + 1 + 4 + 6 + 7 + 2);
  EXPECT_EQ(r(EAX), 0xFFFFFFF0u);
  EXPECT_EQ(flags(), f | flag::kFixed1);
}

TEST_F(InterpGroups, Xlat) {
  for (unsigned i = 0; i < 256; ++i) put8(0x3000 + i, static_cast<uint8_t>(i ^ 0x5A));
  load({0xd7});  // xlatb
  r(EBX) = 0x3000;
  r(EAX) = 0x12345605;
  run_ok(1);
  EXPECT_EQ(r(EAX), 0x12345600u | (0x05 ^ 0x5A));

  load({0x67, 0xd7});  // xlatb with a 16-bit address size: BX, not EBX.
  r(EBX) = 0xFFFF3000;
  r(EAX) = 0x000000FF;
  run_ok(1);
  EXPECT_EQ(r(EAX), static_cast<uint32_t>(0xFF ^ 0x5A));

  load({0x26, 0xd7});  // es xlatb: the segment override applies.
  cpu_.s.seg[ES].base = 0x1000;
  r(EBX) = 0x2000;
  r(EAX) = 0x10;
  run_ok(1);
  EXPECT_EQ(r(EAX), static_cast<uint32_t>(0x10 ^ 0x5A));
}

TEST_F(InterpGroups, Ud2RaisesUd) {
  load({0x0f, 0x0b});  // ud2
  expect_fault("#UD");
}

TEST_F(InterpGroups, SalcIsNotAnI686Instruction) {
  load({0xd6});  // salc
  expect_fault("#UD");
}

// ===========================================================================
// Read-modify-write destinations on a read-only page: a fault leaves every
// register and flag as it was; no write means no fault.

constexpr uint32_t kRoPage = 0x5000;

TEST_F(InterpGroups, ShiftCountZeroDoesNotWrite) {
  enable_paging({kRoPage});
  put32(kRoPage, 0x11);
  load({0xd3, 0x25, 0x00, 0x50, 0x00, 0x00});  // shl dword [0x5000], cl
  r(ECX) = 0x20;  // Masked to 0: no write and no flag change, but the
  set_flags(CF | ZF);  // access is still checked as a write (as the host CPU does:
  expect_fault("#PF");  // Isolation.PageFaultErrorCodesMatchTheHostCpu).
  expect_flags(flag::kArith, CF | ZF);
  EXPECT_EQ(get32(kRoPage), 0x11u);

  put32(0x6000, 0x11);  // A writable page: count 0 leaves memory and flags alone.
  load({0xd3, 0x25, 0x00, 0x60, 0x00, 0x00});  // shl dword [0x6000], cl
  r(ECX) = 0x20;
  set_flags(CF | ZF);
  run_ok(1);
  expect_flags(flag::kArith, CF | ZF);
  EXPECT_EQ(get32(0x6000), 0x11u);

  load({0xd3, 0x25, 0x00, 0x50, 0x00, 0x00});
  r(ECX) = 1;
  expect_fault("#PF");
  expect_flags(flag::kArith, CF | ZF);
  EXPECT_EQ(get32(kRoPage), 0x11u);
}

TEST_F(InterpGroups, CmpxchgFailureStillWrites) {
  enable_paging({kRoPage});
  put32(kRoPage, 300);
  load({0x0f, 0xb1, 0x0d, 0x00, 0x50, 0x00, 0x00});  // cmpxchg [0x5000], ecx
  r(EAX) = 100;  // Mismatch: the processor writes 300 back, which faults.
  r(ECX) = 200;
  set_flags(ZF);
  expect_fault("#PF");
  EXPECT_EQ(r(EAX), 100u);
  expect_flags(flag::kArith, ZF);

  load({0x0f, 0xc7, 0x0d, 0x00, 0x50, 0x00, 0x00});  // cmpxchg8b [0x5000]
  r(EAX) = 1;
  r(EDX) = 2;
  set_flags(ZF);
  expect_fault("#PF");
  EXPECT_EQ(r(EAX), 1u);
  EXPECT_EQ(r(EDX), 2u);
  expect_flags(ZF, ZF);
}

TEST_F(InterpGroups, FaultingRmwChangesNothing) {
  enable_paging({kRoPage});
  put32(kRoPage, 5);
  load({0x0f, 0xc1, 0x0d, 0x00, 0x50, 0x00, 0x00});  // xadd [0x5000], ecx
  r(ECX) = 3;
  set_flags(CF | SF);
  expect_fault("#PF");
  EXPECT_EQ(r(ECX), 3u);
  expect_flags(flag::kArith, CF | SF);

  load({0x0f, 0xab, 0x0d, 0x00, 0x50, 0x00, 0x00});  // bts [0x5000], ecx
  expect_fault("#PF");
  expect_flags(flag::kArith, CF | SF);
  EXPECT_EQ(get32(kRoPage), 5u);

  load({0x0f, 0xa3, 0x0d, 0x00, 0x50, 0x00, 0x00});  // bt [0x5000], ecx only reads.
  r(ECX) = 2;
  run_ok(1);
  expect_flags(CF, CF);
}

TEST_F(InterpGroups, CmovReadsMemoryEvenWhenFalse) {
  enable_paging({});
  put32(0x81000 + 4 * (0x6000 >> 12), 0);  // Page 0x6000 not present.
  cpu_.paging_changed();
  load({0x0f, 0x44, 0x05, 0x00, 0x60, 0x00, 0x00});  // cmovz eax, [0x6000]
  set_flags(0);
  expect_fault("#PF");
}

}  // namespace
}  // namespace vmm

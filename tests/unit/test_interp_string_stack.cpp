// Interpreter: string instructions (MOVS/STOS/LODS/CMPS/SCAS with REP
// prefixes, runs across pages, overlap, 16-bit addressing, faults in the
// middle) and the stack group (PUSHA/POPA, ENTER/LEAVE, PUSHF/POPF).
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <vector>

#include "devices/bus.h"
#include "runtime/cpu.h"
#include "runtime/guest_ram.h"

namespace vmm {
namespace {

constexpr uint32_t kCode = 0x1000;
constexpr uint32_t kPd = 0x3F0000;  // Page directory and table for the paging tests.
constexpr uint32_t kPt = 0x3F1000;

class Vm {
 public:
  explicit Vm(uint64_t ram_bytes) : ram(ram_bytes), cpu(ram, bus) { cpu.reset_flat_protected(kCode); }

  void code(std::initializer_list<uint8_t> bytes, uint32_t at = kCode) {
    std::copy(bytes.begin(), bytes.end(), ram.ptr(at));
  }
  void put32(uint32_t a, uint32_t v) { std::memcpy(ram.ptr(a), &v, 4); }
  uint32_t get32(uint32_t a) {
    uint32_t v;
    std::memcpy(&v, ram.ptr(a), 4);
    return v;
  }
  uint16_t get16(uint32_t a) {
    uint16_t v;
    std::memcpy(&v, ram.ptr(a), 2);
    return v;
  }
  void pattern(uint32_t a, uint32_t len, uint32_t seed) {
    for (uint32_t i = 0; i < len; ++i) ram.ptr(a)[i] = static_cast<uint8_t>((i * 131u + seed) ^ (i >> 8));
  }
  uint32_t& r(Gpr g) { return cpu.s.gpr[g]; }

  // Identity-maps the first 4 MiB (user, writable) except `absent` pages.
  void enable_paging(std::initializer_list<uint32_t> absent) {
    for (uint32_t i = 0; i < 1024; ++i) put32(kPt + 4 * i, (i << 12) | 7);
    for (uint32_t p : absent) put32(kPt + 4 * (p >> 12), 0);
    std::memset(ram.ptr(kPd), 0, 4096);
    put32(kPd, kPt | 7);
    cpu.s.cr3 = kPd;
    cpu.s.cr0 |= cr0::PG;
    cpu.paging_changed();
  }

  GuestRam ram;
  Bus bus;
  Cpu cpu;
};

class StringStackTest : public ::testing::Test {
 protected:
  StringStackTest() : vm(4 << 20) {}
  Vm vm;
  Cpu& cpu = vm.cpu;
};

constexpr uint32_t kArith = flag::kArith;

// Element-wise reference of REP MOVS (SDM Vol. 2B, MOVS/REP Operation) on a
// byte image of flat memory.
void reference_movs(std::vector<uint8_t>& m, uint32_t src, uint32_t dst, uint32_t count, unsigned k, bool down) {
  for (uint32_t i = 0; i < count; ++i) {
    uint8_t tmp[4];
    std::memcpy(tmp, &m[src], k);
    std::memcpy(&m[dst], tmp, k);
    src += down ? -k : k;
    dst += down ? -k : k;
  }
}

// ---------------------------------------------------------------- MOVS ----

TEST_F(StringStackTest, RepMovsbForwardAcrossPages) {
  const uint32_t src = 0x100FF0, dst = 0x200123, n = 0x2345;
  vm.pattern(src, n, 7);
  std::memset(vm.ram.ptr(dst - 16), 0xCC, n + 32);
  vm.code({0xFC, 0xF3, 0xA4, 0xF4});  // cld; rep movsb; hlt
  vm.r(ESI) = src;
  vm.r(EDI) = dst;
  vm.r(ECX) = n;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(0, std::memcmp(vm.ram.ptr(src), vm.ram.ptr(dst), n));
  EXPECT_EQ(vm.ram.ptr(dst - 1)[0], 0xCC);
  EXPECT_EQ(vm.ram.ptr(dst + n)[0], 0xCC);
  EXPECT_EQ(vm.r(ESI), src + n);
  EXPECT_EQ(vm.r(EDI), dst + n);
  EXPECT_EQ(vm.r(ECX), 0u);
  EXPECT_EQ(cpu.s.eip, kCode + 4);
}

TEST_F(StringStackTest, RepMovsdBackwardAcrossPages) {
  // DF = 1: ESI/EDI address the highest element; it moves downwards.
  const uint32_t n = 3000, src_lo = 0x100802, dst_lo = 0x240001;  // Unaligned: elements straddle pages.
  vm.pattern(src_lo, 4 * n, 3);
  std::memset(vm.ram.ptr(dst_lo - 8), 0xCC, 4 * n + 16);
  vm.code({0xFD, 0xF3, 0xA5, 0xF4});  // std; rep movsd; hlt
  vm.r(ESI) = src_lo + 4 * (n - 1);
  vm.r(EDI) = dst_lo + 4 * (n - 1);
  vm.r(ECX) = n;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(0, std::memcmp(vm.ram.ptr(src_lo), vm.ram.ptr(dst_lo), 4 * n));
  EXPECT_EQ(vm.ram.ptr(dst_lo - 1)[0], 0xCC);
  EXPECT_EQ(vm.ram.ptr(dst_lo + 4 * n)[0], 0xCC);
  EXPECT_EQ(vm.r(ESI), src_lo - 4);
  EXPECT_EQ(vm.r(EDI), dst_lo - 4);
  EXPECT_EQ(vm.r(ECX), 0u);
  EXPECT_TRUE(cpu.s.eflags & flag::DF);
}

TEST_F(StringStackTest, OverlappingForwardCopyReplicates) {
  // dst = src + 1 going forwards: every element reads the byte the previous
  // one wrote, so the first byte fills the range (memmove would not).
  const uint32_t src = 0x100F00, n = 0x300;
  vm.pattern(src, n + 1, 9);
  const uint8_t first = vm.ram.ptr(src)[0];
  vm.code({0xFC, 0xF3, 0xA4, 0xF4});
  vm.r(ESI) = src;
  vm.r(EDI) = src + 1;
  vm.r(ECX) = n;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  for (uint32_t i = 0; i <= n; ++i) ASSERT_EQ(vm.ram.ptr(src)[i], first) << i;
}

// Overlaps of every small distance, both directions, all element sizes,
// across page boundaries, against the element-wise definition.
TEST_F(StringStackTest, OverlapMatchesElementwiseDefinition) {
  const uint32_t base = 0x180000, span = 0x4000;
  for (unsigned k : {1u, 2u, 4u}) {
    for (bool down : {false, true}) {
      for (int d = -9; d <= 9; ++d) {
        for (uint32_t count : {1u, 7u, 1500u}) {
          Vm v(4 << 20);
          v.pattern(base, span, static_cast<uint32_t>(d + 50 * k));
          const uint32_t src = base + 0x1FF3 + (down ? 4 * count : 0);
          const uint32_t dst = src + static_cast<uint32_t>(d);
          std::vector<uint8_t> ref(v.ram.ptr(0), v.ram.ptr(0) + (4 << 20));
          reference_movs(ref, src, dst, count, k, down);
          const uint8_t op = k == 1 ? 0xA4 : 0xA5;
          if (k == 2) v.code({static_cast<uint8_t>(down ? 0xFD : 0xFC), 0x66, 0xF3, op, 0xF4});
          else v.code({static_cast<uint8_t>(down ? 0xFD : 0xFC), 0xF3, op, 0xF4});
          v.r(ESI) = src;
          v.r(EDI) = dst;
          v.r(ECX) = count;
          ASSERT_EQ(v.cpu.run(), StopReason::kHalted);
          ASSERT_EQ(0, std::memcmp(ref.data() + base, v.ram.ptr(base), span))
              << "k=" << k << " down=" << down << " d=" << d << " count=" << count;
          const uint32_t moved = count * k;
          EXPECT_EQ(v.r(ESI), down ? src - moved : src + moved);
          EXPECT_EQ(v.r(EDI), down ? dst - moved : dst + moved);
        }
      }
    }
  }
}

TEST_F(StringStackTest, SingleMovsWithSegmentOverride) {
  // MOVSB with an FS override reads FS:ESI; the destination stays ES:EDI.
  cpu.s.seg[FS].base = 0x50000;
  cpu.s.seg[ES].base = 0x60000;
  vm.ram.ptr(0x50100)[0] = 0x5A;
  vm.code({0x64, 0xA4, 0x66, 0xA5, 0xF4});  // movsb fs:[esi], es:[edi]; movsw (ds); hlt
  vm.put32(0x101, 0xBEEF);
  vm.r(ESI) = 0x100;
  vm.r(EDI) = 0x200;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(vm.ram.ptr(0x60200)[0], 0x5A);
  EXPECT_EQ(vm.get16(0x60201), 0xBEEF);  // Second MOVSW: DS:0x101 -> ES:0x201.
  EXPECT_EQ(vm.r(ESI), 0x103u);
  EXPECT_EQ(vm.r(EDI), 0x203u);
}

TEST_F(StringStackTest, AddressSize16WrapsAt64K) {
  // 67 F3 A4: SI/DI/CX; upper halves untouched, offsets wrap at 64 KiB.
  for (uint32_t i = 0; i < 4; ++i) vm.ram.ptr(0xFFFE)[i] = static_cast<uint8_t>(0x10 + i);  // FFFE, FFFF, 10000, 10001
  vm.ram.ptr(0x0000)[0] = 0xA0;
  vm.ram.ptr(0x0001)[0] = 0xA1;
  vm.code({0xFC, 0x67, 0xF3, 0xA4, 0xF4});
  vm.r(ESI) = 0xABCDFFFE;
  vm.r(EDI) = 0x12342000;
  vm.r(ECX) = 0x55550004;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(vm.ram.ptr(0x2000)[0], 0x10);
  EXPECT_EQ(vm.ram.ptr(0x2001)[0], 0x11);
  EXPECT_EQ(vm.ram.ptr(0x2002)[0], 0xA0);  // SI wrapped to 0000.
  EXPECT_EQ(vm.ram.ptr(0x2003)[0], 0xA1);
  EXPECT_EQ(vm.r(ESI), 0xABCD0002u);
  EXPECT_EQ(vm.r(EDI), 0x12342004u);
  EXPECT_EQ(vm.r(ECX), 0x55550000u);
}

TEST_F(StringStackTest, AddressSize16BackwardWordsWrap) {
  // DF = 1, 16-bit addressing, MOVSW from SI = 0002 down across the wrap.
  vm.put32(0x0000, 0x22221111);
  std::memcpy(vm.ram.ptr(0xFFFE), "\x33\x33", 2);
  vm.code({0xFD, 0x67, 0x66, 0xF3, 0xA5, 0xF4});
  vm.r(ESI) = 0x00000002;
  vm.r(EDI) = 0x00003004;
  vm.r(ECX) = 3;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(vm.get16(0x3004), 0x2222);
  EXPECT_EQ(vm.get16(0x3002), 0x1111);
  EXPECT_EQ(vm.get16(0x3000), 0x3333);
  EXPECT_EQ(vm.r(ESI), 0x0000FFFCu);
  EXPECT_EQ(vm.r(EDI), 0x00002FFEu);
  EXPECT_EQ(vm.r(ECX), 0u);
}

TEST_F(StringStackTest, RepMovsFromUnassignedMemoryGoesElementwise) {
  // The source run leaves RAM: those bytes read as an ISA bus does (all ones).
  const uint32_t top = 4u << 20;
  vm.ram.ptr(top - 2)[0] = 0x12;
  vm.ram.ptr(top - 1)[0] = 0x34;
  vm.code({0xFC, 0xF3, 0xA4, 0xF4});
  vm.r(ESI) = top - 2;
  vm.r(EDI) = 0x5000;
  vm.r(ECX) = 4;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(vm.get32(0x5000), 0xFFFF3412u);
}

TEST_F(StringStackTest, RepMovsb2MiB) {
  Vm v(8 << 20);
  const uint32_t src = 0x100000, dst = 0x400000, n = 2u << 20;
  v.pattern(src, n, 1);
  v.code({0xFC, 0xF3, 0xA4, 0xF4});
  v.r(ESI) = src;
  v.r(EDI) = dst;
  v.r(ECX) = n;
  ASSERT_EQ(v.cpu.run(), StopReason::kHalted);
  EXPECT_EQ(0, std::memcmp(v.ram.ptr(src), v.ram.ptr(dst), n));
  EXPECT_EQ(v.r(ECX), 0u);
  EXPECT_EQ(v.cpu.stats().instructions, 3u);
}

TEST_F(StringStackTest, RepMovsbStopsAtNotPresentPageWithProgress) {
  vm.enable_paging({0x203000});
  const uint32_t src = 0x100000, dst = 0x202800;
  vm.pattern(src, 0x1000, 5);
  vm.code({0xFC, 0xF3, 0xA4, 0xF4});
  vm.r(ESI) = src;
  vm.r(EDI) = dst;
  vm.r(ECX) = 0x1000;
  EXPECT_EQ(cpu.run(), StopReason::kFatal);
  EXPECT_NE(cpu.stop_message().find("#PF"), std::string::npos) << cpu.stop_message();
  // Restartable state: the 0x800 bytes up to the page boundary are done.
  EXPECT_EQ(cpu.s.eip, kCode + 1);
  EXPECT_EQ(vm.r(ECX), 0x800u);
  EXPECT_EQ(vm.r(ESI), src + 0x800);
  EXPECT_EQ(vm.r(EDI), 0x203000u);
  EXPECT_EQ(cpu.s.cr2, 0x203000u);
  EXPECT_EQ(0, std::memcmp(vm.ram.ptr(src), vm.ram.ptr(dst), 0x800));
}

TEST_F(StringStackTest, RepWithZeroCountAccessesNothing) {
  vm.enable_paging({0x203000, 0x204000});
  cpu.s.eflags |= flag::CF | flag::ZF;
  // rep movsb; repe cmpsb; rep stosd; hlt with ECX = 0 on not-present pages.
  vm.code({0xF3, 0xA4, 0xF3, 0xA6, 0xF3, 0xAB, 0xF4});
  vm.r(ESI) = 0x203000;
  vm.r(EDI) = 0x204000;
  vm.r(ECX) = 0;
  ASSERT_EQ(cpu.run(), StopReason::kHalted) << cpu.stop_message();
  EXPECT_EQ(vm.r(ESI), 0x203000u);
  EXPECT_EQ(vm.r(EDI), 0x204000u);
  EXPECT_EQ(cpu.s.eflags & kArith, flag::CF | flag::ZF);  // Flags untouched.
}

TEST_F(StringStackTest, RepStosbOverCodeInvalidatesIt) {
  // The REP STOSB overwrites the two INC EAX after it (same block) with HLT:
  // the write takes the self-modifying-code path and the new code runs.
  vm.code({0xFC, 0xF3, 0xAA, 0x40, 0x40, 0xF4});
  vm.r(EDI) = kCode + 3;
  vm.r(ECX) = 2;
  vm.r(EAX) = 0xF4;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(vm.r(EAX), 0xF4u);
  EXPECT_EQ(cpu.s.eip, kCode + 4);
  EXPECT_GE(cpu.stats().blocks_invalidated, 1u);
}

// ---------------------------------------------------------------- STOS/LODS

TEST_F(StringStackTest, RepStosdAcrossPages) {
  const uint32_t dst = 0x300FFE, n = 2000;  // Elements straddle page boundaries.
  std::memset(vm.ram.ptr(dst - 4), 0xCC, 4 * n + 8);
  vm.code({0xFC, 0xF3, 0xAB, 0xF4});
  vm.r(EDI) = dst;
  vm.r(ECX) = n;
  vm.r(EAX) = 0xDEADBEEF;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  for (uint32_t i = 0; i < n; ++i) ASSERT_EQ(vm.get32(dst + 4 * i), 0xDEADBEEFu) << i;
  EXPECT_EQ(vm.ram.ptr(dst - 1)[0], 0xCC);
  EXPECT_EQ(vm.ram.ptr(dst + 4 * n)[0], 0xCC);
  EXPECT_EQ(vm.r(EDI), dst + 4 * n);
  EXPECT_EQ(vm.r(ECX), 0u);
}

TEST_F(StringStackTest, RepStoswBackward) {
  vm.code({0xFD, 0x66, 0xF3, 0xAB, 0xF4});
  vm.r(EDI) = 0x301000;
  vm.r(ECX) = 0x900;
  vm.r(EAX) = 0x1234ABCD;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  for (uint32_t i = 0; i < 0x900; ++i) ASSERT_EQ(vm.get16(0x301000 - 2 * i), 0xABCD) << i;
  EXPECT_EQ(vm.get16(0x301002), 0);
  EXPECT_EQ(vm.r(EDI), 0x301000u - 2 * 0x900);
}

TEST_F(StringStackTest, LodsSingleAndRep) {
  vm.pattern(0x100000, 0x3000, 11);
  vm.code({0xFC, 0xAC, 0xF3, 0xAD, 0xF4});  // lodsb; rep lodsd
  vm.r(ESI) = 0x100000;
  vm.r(EAX) = 0xFFFFFFFF;
  vm.r(ECX) = 0x800;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(vm.r(ESI), 0x100001u + 4 * 0x800);
  EXPECT_EQ(vm.r(EAX), vm.get32(0x100001 + 4 * 0x7FF));  // The last element loaded.
  EXPECT_EQ(vm.r(ECX), 0u);
}

// ---------------------------------------------------------------- CMPS/SCAS

TEST_F(StringStackTest, RepeCmpsbStopsAtMismatch) {
  const uint32_t a = 0x100F80, b = 0x2000C0;  // The mismatch is after a page boundary of a.
  vm.pattern(a, 0x200, 2);
  std::memcpy(vm.ram.ptr(b), vm.ram.ptr(a), 0x200);
  vm.ram.ptr(a)[0x150] = 0x61;
  vm.ram.ptr(b)[0x150] = 0x62;
  vm.code({0xFC, 0xF3, 0xA6, 0xF4});
  vm.r(ESI) = a;
  vm.r(EDI) = b;
  vm.r(ECX) = 0x200;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(vm.r(ECX), 0x200u - 0x151);
  EXPECT_EQ(vm.r(ESI), a + 0x151);
  EXPECT_EQ(vm.r(EDI), b + 0x151);
  // 0x61 - 0x62 = 0xFF: CF (borrow), AF, SF, PF (eight ones); not ZF or OF.
  EXPECT_EQ(cpu.s.eflags & kArith, flag::CF | flag::AF | flag::SF | flag::PF);
}

TEST_F(StringStackTest, RepeCmpsdAllEqualEndsWithZf) {
  vm.pattern(0x100000, 0x2000, 4);
  std::memcpy(vm.ram.ptr(0x200FF0), vm.ram.ptr(0x100000), 0x2000);
  vm.code({0xFC, 0xF3, 0xA7, 0xF4});
  vm.r(ESI) = 0x100000;
  vm.r(EDI) = 0x200FF0;
  vm.r(ECX) = 0x800;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(vm.r(ECX), 0u);
  EXPECT_EQ(cpu.s.eflags & kArith, flag::ZF | flag::PF);
  EXPECT_EQ(vm.r(ESI), 0x102000u);
}

TEST_F(StringStackTest, RepneCmpsbStopsAtMatch) {
  std::memset(vm.ram.ptr(0x100000), 1, 0x100);
  std::memset(vm.ram.ptr(0x200000), 2, 0x100);
  vm.ram.ptr(0x100000)[0x40] = 9;
  vm.ram.ptr(0x200000)[0x40] = 9;
  vm.code({0xFC, 0xF2, 0xA6, 0xF4});
  vm.r(ESI) = 0x100000;
  vm.r(EDI) = 0x200000;
  vm.r(ECX) = 0x100;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(vm.r(ECX), 0x100u - 0x41);
  EXPECT_TRUE(cpu.s.eflags & flag::ZF);
}

TEST_F(StringStackTest, CmpsReadsDestinationFirst) {
  // Both operands on not-present pages: the ES:EDI fault is reported.
  vm.enable_paging({0x203000, 0x204000});
  vm.code({0xFC, 0xF3, 0xA6, 0xF4});
  vm.r(ESI) = 0x203010;
  vm.r(EDI) = 0x204020;
  vm.r(ECX) = 5;
  EXPECT_EQ(cpu.run(), StopReason::kFatal);
  EXPECT_EQ(cpu.s.cr2, 0x204020u);
  EXPECT_EQ(vm.r(ECX), 5u);
}

TEST_F(StringStackTest, FaultingRepeCmpsRestoresFlags) {
  // Equal bytes up to the page boundary of ES:EDI, whose next page is absent:
  // the progress stays in ESI/EDI/ECX, EFLAGS is the value before the
  // instruction (SDM Vol. 2B, REP).
  vm.enable_paging({0x204000});
  std::memset(vm.ram.ptr(0x100000), 7, 0x100);
  std::memset(vm.ram.ptr(0x203F80), 7, 0x80);
  vm.code({0xFC, 0xF3, 0xA6, 0xF4});
  cpu.s.eflags |= flag::CF | flag::SF;
  const uint32_t before = cpu.s.eflags;
  vm.r(ESI) = 0x100000;
  vm.r(EDI) = 0x203F80;
  vm.r(ECX) = 0x100;
  EXPECT_EQ(cpu.run(), StopReason::kFatal);
  EXPECT_EQ(cpu.s.cr2, 0x204000u);
  EXPECT_EQ(vm.r(ECX), 0x80u);
  EXPECT_EQ(vm.r(ESI), 0x100080u);
  EXPECT_EQ(cpu.s.eflags, before);
}

TEST_F(StringStackTest, RepWithTrapFlagDoesOneIterationPerStep) {
  // TF: the single-step trap comes after each iteration, with EIP still at
  // the REP instruction while iterations remain (no #DB handler here: the
  // CPU stops naming #DB).
  vm.code({0xF3, 0xA4, 0xF4});
  cpu.s.eflags |= flag::TF;
  vm.r(ESI) = 0x100000;
  vm.r(EDI) = 0x200000;
  vm.r(ECX) = 3;
  EXPECT_EQ(cpu.run(), StopReason::kFatal);
  EXPECT_NE(cpu.stop_message().find("#DB"), std::string::npos) << cpu.stop_message();
  EXPECT_EQ(vm.r(ECX), 2u);
  EXPECT_EQ(vm.r(ESI), 0x100001u);
  EXPECT_EQ(cpu.s.eip, kCode);
}

TEST_F(StringStackTest, RepneScasbStrlen) {
  const uint32_t s = 0x100A00, len = 5000;  // Crosses two page boundaries.
  std::memset(vm.ram.ptr(s), 'x', len);
  vm.ram.ptr(s)[len] = 0;
  vm.code({0xFC, 0xF2, 0xAE, 0xF7, 0xD1, 0x49, 0xF4});  // repne scasb; not ecx; dec ecx; hlt
  vm.r(EDI) = s;
  vm.r(ECX) = 0xFFFFFFFF;
  vm.r(EAX) = 0;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(vm.r(ECX), len);
  EXPECT_EQ(vm.r(EDI), s + len + 1);
}

TEST_F(StringStackTest, ScasFlagsAndDirections) {
  // REPNE SCASB backwards finds the last 'q' below EDI.
  std::memset(vm.ram.ptr(0x100000), 'a', 0x2000);
  vm.ram.ptr(0x100000)[0x0800] = 'q';
  vm.code({0xFD, 0xF2, 0xAE, 0xF4});
  vm.r(EDI) = 0x101F00;
  vm.r(ECX) = 0x3000;
  vm.r(EAX) = 'q';
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(vm.r(EDI), 0x1007FFu);
  EXPECT_EQ(vm.r(ECX), 0x3000u - (0x1F00 - 0x800 + 1));
  EXPECT_TRUE(cpu.s.eflags & flag::ZF);

  // REPE SCASW forwards stops at the first word unequal to AX; not found -> ECX = 0.
  Vm v(4 << 20);
  for (uint32_t i = 0; i < 0x1000; ++i) std::memcpy(v.ram.ptr(0x100FF0 + 2 * i), "\x34\x12", 2);
  v.code({0xFC, 0x66, 0xF3, 0xAF, 0x66, 0xAF, 0xF4});  // repe scasw; scasw; hlt
  v.r(EDI) = 0x100FF0;
  v.r(ECX) = 0x1000;
  v.r(EAX) = 0x1234;
  ASSERT_EQ(v.cpu.run(), StopReason::kHalted);
  EXPECT_EQ(v.r(ECX), 0u);
  // The single SCASW compares 0x1234 with the zero word after the run.
  EXPECT_EQ(v.r(EDI), 0x100FF0u + 2 * 0x1001);
  EXPECT_EQ(v.cpu.s.eflags & kArith, 0u);  // 0x1234 - 0: no borrow, not zero, 0x34 has odd parity.
}

// ---------------------------------------------------------------- stack ----

TEST_F(StringStackTest, PushadPopadRoundTrip) {
  // pushad; xor eax,eax; xor ecx,ecx; xor edx,edx; xor ebx,ebx; xor ebp,ebp; xor esi,esi; xor edi,edi; popad; hlt
  vm.code({0x60, 0x31, 0xC0, 0x31, 0xC9, 0x31, 0xD2, 0x31, 0xDB, 0x31, 0xED, 0x31, 0xF6, 0x31, 0xFF, 0x61, 0xF4});
  const uint32_t vals[8] = {0x11, 0x22, 0x33, 0x44, 0x90000, 0x66, 0x77, 0x88};
  for (int i = 0; i < 8; ++i) vm.r(static_cast<Gpr>(i)) = vals[i];
  ASSERT_EQ(cpu.run(1), StopReason::kInstructionLimit);
  EXPECT_EQ(vm.r(ESP), 0x90000u - 32);
  // Memory order from ESP upwards: EDI ESI EBP (old ESP) EBX EDX ECX EAX.
  for (int i = 0; i < 8; ++i) EXPECT_EQ(vm.get32(0x90000 - 32 + 4 * i), vals[7 - i]) << i;
  vm.put32(0x90000 - 32 + 12, 0xBAD);  // POPAD skips the ESP slot.
  cpu.clear_stop();
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(vm.r(static_cast<Gpr>(i)), vals[i]) << i;
}

TEST_F(StringStackTest, PushaPopa16KeepUpperHalves) {
  vm.code({0x66, 0x60, 0x66, 0x31, 0xC0, 0x66, 0x61, 0xF4});  // pushaw; xor ax,ax; popaw; hlt
  vm.r(EAX) = 0xAAAA1234;
  vm.r(ESP) = 0x90000;
  vm.r(EDI) = 0x5555BEEF;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(vm.get16(0x90000 - 2), 0x1234);  // AX pushed first.
  EXPECT_EQ(vm.get16(0x90000 - 16), 0xBEEF);  // DI last.
  EXPECT_EQ(vm.r(EAX), 0xAAAA1234u);
  EXPECT_EQ(vm.r(ESP), 0x90000u);
}

TEST_F(StringStackTest, PushadFaultLeavesNoTrace) {
  vm.enable_paging({0x202000});
  vm.code({0x60, 0xF4});
  vm.r(ESP) = 0x203010;  // 32 bytes reach into the not-present page below.
  std::memset(vm.ram.ptr(0x203000), 0xCC, 16);
  EXPECT_EQ(cpu.run(), StopReason::kFatal);
  EXPECT_NE(cpu.stop_message().find("#PF"), std::string::npos);
  EXPECT_EQ(vm.r(ESP), 0x203010u);
  EXPECT_EQ(cpu.s.eip, kCode);
  for (int i = 0; i < 16; ++i) EXPECT_EQ(vm.ram.ptr(0x203000)[i], 0xCC) << i;
}

TEST_F(StringStackTest, EnterLevel0AndLeave) {
  vm.code({0xC8, 0x10, 0x00, 0x00, 0xC9, 0xF4});  // enter 16, 0; leave; hlt
  vm.r(ESP) = 0x90000;
  vm.r(EBP) = 0x12345678;
  ASSERT_EQ(cpu.run(1), StopReason::kInstructionLimit);
  EXPECT_EQ(vm.get32(0x90000 - 4), 0x12345678u);
  EXPECT_EQ(vm.r(EBP), 0x90000u - 4);
  EXPECT_EQ(vm.r(ESP), 0x90000u - 4 - 16);
  cpu.clear_stop();
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(vm.r(EBP), 0x12345678u);
  EXPECT_EQ(vm.r(ESP), 0x90000u);
}

TEST_F(StringStackTest, EnterLevel1) {
  vm.code({0xC8, 0x08, 0x00, 0x01, 0xF4});  // enter 8, 1
  vm.r(ESP) = 0x90000;
  vm.r(EBP) = 0x95000;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  const uint32_t frame = 0x90000 - 4;
  EXPECT_EQ(vm.get32(0x90000 - 4), 0x95000u);  // Old EBP.
  EXPECT_EQ(vm.get32(0x90000 - 8), frame);     // FrameTemp.
  EXPECT_EQ(vm.r(EBP), frame);
  EXPECT_EQ(vm.r(ESP), 0x90000u - 8 - 8);
}

TEST_F(StringStackTest, EnterLevel3CopiesOuterFramePointers) {
  vm.code({0xC8, 0x04, 0x00, 0x03, 0xC9, 0xF4});  // enter 4, 3; leave; hlt
  vm.r(ESP) = 0x90000;
  vm.r(EBP) = 0x95000;
  vm.put32(0x95000 - 4, 0xAAAA0001);
  vm.put32(0x95000 - 8, 0xAAAA0002);
  vm.put32(0x95000 - 12, 0xAAAA0003);  // Not copied at level 3.
  ASSERT_EQ(cpu.run(1), StopReason::kInstructionLimit);
  const uint32_t frame = 0x90000 - 4;
  EXPECT_EQ(vm.get32(0x90000 - 4), 0x95000u);
  EXPECT_EQ(vm.get32(0x90000 - 8), 0xAAAA0001u);
  EXPECT_EQ(vm.get32(0x90000 - 12), 0xAAAA0002u);
  EXPECT_EQ(vm.get32(0x90000 - 16), frame);
  EXPECT_EQ(vm.r(EBP), frame);
  EXPECT_EQ(vm.r(ESP), 0x90000u - 16 - 4);
  cpu.clear_stop();
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(vm.r(EBP), 0x95000u);
  EXPECT_EQ(vm.r(ESP), 0x90000u);
}

TEST_F(StringStackTest, Enter16BitOperandOn16BitStack) {
  // SS.B = 0: SP/BP arithmetic wraps at 64 KiB and the upper halves stay.
  cpu.s.seg[SS].attr &= ~SegmentCache::kDb;
  cpu.s.seg[SS].base = 0x80000;
  vm.code({0x66, 0xC8, 0x02, 0x00, 0x02, 0xF4});  // enter 2, 2 (16-bit operands)
  vm.r(ESP) = 0xABCD0004;
  vm.r(EBP) = 0x11110100;
  std::memcpy(vm.ram.ptr(0x80000 + 0x100 - 2), "\x77\x66", 2);
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  // push bp at SS:0002; FrameTemp = 0002; push [bp-2] at SS:0000; push 0002 at SS:FFFE.
  EXPECT_EQ(vm.get16(0x80002), 0x0100);
  EXPECT_EQ(vm.get16(0x80000), 0x6677);
  EXPECT_EQ(vm.get16(0x8FFFE), 0x0002);
  EXPECT_EQ(vm.r(EBP), 0x11110002u);
  EXPECT_EQ(vm.r(ESP), 0xABCDFFFCu);
}

TEST_F(StringStackTest, Enter32BitOperandOn16BitStackTakesAllOfEsp) {
  // FrameTemp <- ESP for a 32-bit operand size, whatever SS.B (SDM ENTER;
  // test386.asm checks the same on hardware-validated emulators).
  cpu.s.seg[SS].attr &= ~SegmentCache::kDb;
  vm.code({0xC8, 0x08, 0x00, 0x01, 0xF4});  // enter 8, 1
  vm.r(ESP) = 0x00020000;
  vm.r(EBP) = 0x0001FFF0;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(vm.get32(0xFFFC), 0x0001FFF0u);  // SP wrapped 0000 -> FFFC; SS base 0.
  EXPECT_EQ(vm.r(EBP), 0x0002FFFCu);
  EXPECT_EQ(vm.get32(0xFFF8), 0x0002FFFCu);
  EXPECT_EQ(vm.r(ESP), 0x0002FFF0u);
}

TEST_F(StringStackTest, EnterFaultsOnFinalStackPointer) {
  // The frame pushes fit in the present page; ESP - AllocSize does not.
  vm.enable_paging({0x202000});
  vm.code({0xC8, 0x20, 0x00, 0x00, 0xF4});  // enter 32, 0
  vm.r(ESP) = 0x203010;
  vm.r(EBP) = 0x1234;
  EXPECT_EQ(cpu.run(), StopReason::kFatal);
  EXPECT_NE(cpu.stop_message().find("#PF"), std::string::npos);
  EXPECT_EQ(cpu.s.cr2, 0x203010u - 4 - 32);
  EXPECT_EQ(vm.r(ESP), 0x203010u);
  EXPECT_EQ(vm.r(EBP), 0x1234u);
  EXPECT_EQ(cpu.s.eip, kCode);
}

TEST_F(StringStackTest, PushfdClearsVmAndRfInImage) {
  cpu.s.eflags = flag::kFixed1 | flag::CF | flag::RF | flag::ID;
  vm.code({0x9C, 0xF4});
  vm.r(ESP) = 0x90000;
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(vm.get32(0x90000 - 4), flag::kFixed1 | flag::CF | flag::ID);
}

TEST_F(StringStackTest, PopfdAtCpl0) {
  vm.code({0x9D, 0x40, 0xF4});  // popfd; inc eax; hlt
  vm.r(ESP) = 0x90000;
  vm.put32(0x90000, 0xFFFFFEFF);  // Everything but TF.
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  // All non-reserved flags but TF (not in the image), RF, VM, VIF, VIP; the
  // INC then recomputes the arithmetic flags except CF.
  const uint32_t sys = flag::IF | flag::DF | flag::IOPL | flag::NT | flag::AC | flag::ID | flag::kFixed1;
  EXPECT_EQ(cpu.s.eflags & ~kArith, sys);
  EXPECT_TRUE(cpu.s.eflags & flag::CF);
  EXPECT_EQ(vm.r(EAX), 1u);
  EXPECT_EQ(vm.r(ESP), 0x90004u);
  EXPECT_EQ(cpu.s.eip, kCode + 3);
}

TEST_F(StringStackTest, PopfdAtCpl3KeepsIfAndIopl) {
  cpu.s.cpl = 3;
  cpu.s.eflags = flag::kFixed1 | flag::IF;
  vm.code({0x9D, 0x9C});  // popfd; pushfd
  vm.r(ESP) = 0x90000;
  vm.put32(0x90000, flag::CF | flag::IOPL | flag::AC | flag::DF);  // IF = 0, IOPL = 3 requested.
  ASSERT_EQ(cpu.run(2), StopReason::kInstructionLimit) << cpu.stop_message();
  EXPECT_EQ(cpu.s.eflags, flag::kFixed1 | flag::IF | flag::CF | flag::AC | flag::DF);
  EXPECT_EQ(vm.get32(0x90000), flag::kFixed1 | flag::IF | flag::CF | flag::AC | flag::DF);
  EXPECT_EQ(cpu.s.eip, kCode + 2);
}

TEST_F(StringStackTest, PopfAtCplWithinIoplChangesIfOnly) {
  cpu.s.cpl = 1;
  cpu.s.eflags = flag::kFixed1 | (1u << 12);  // IOPL = 1.
  vm.code({0x9D});
  vm.r(ESP) = 0x90000;
  vm.put32(0x90000, flag::IF | flag::IOPL);
  ASSERT_EQ(cpu.run(1), StopReason::kInstructionLimit);
  EXPECT_EQ(cpu.s.eflags, flag::kFixed1 | flag::IF | (1u << 12));
}

TEST_F(StringStackTest, Popf16ChangesLowHalfOnly) {
  cpu.s.eflags = flag::kFixed1 | flag::AC | flag::RF;
  vm.code({0x66, 0x9D, 0xF4});
  vm.r(ESP) = 0x90000;
  vm.put32(0x90000, 0xFFFF0000u | flag::ZF | 0x8028);  // Reserved bits 3, 5, 15 set in the image.
  ASSERT_EQ(cpu.run(), StopReason::kHalted);
  EXPECT_EQ(cpu.s.eflags, flag::kFixed1 | flag::AC | flag::ZF);  // RF cleared, AC kept.
  EXPECT_EQ(vm.r(ESP), 0x90002u);
}

}  // namespace
}  // namespace vmm

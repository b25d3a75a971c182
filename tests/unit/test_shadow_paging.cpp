// The host-MMU path as shadow paging (jit/guest_views.h): the views of an
// address space are kept across CR3 loads and TLB flushes, so each rule that
// keeps them true is checked here on its own, against the interpreter (and
// on the TLB-probe path, where the same code must give the same results).
// Guest code was assembled with nasm and checked with ndisasm.
#include <gtest/gtest.h>

#include "jit/guest_views.h"
#include "tests/unit/jit_pair.h"

namespace vmm {
namespace {

using namespace jit_test;

class ShadowPaging : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { g_host_mmu = GetParam(); }
  void TearDown() override { g_host_mmu = true; }
  static const jit::GuestViewStats* views(Pair& p) {
    return GetParam() ? &p.jit.cpu.jit()->views()->stats() : nullptr;
  }
};
INSTANTIATE_TEST_SUITE_P(MemoryPath, ShadowPaging, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "HostMmu" : "SoftTlb"; });

// Two address spaces: A (directory 0x10000) and B (0x12000). Both map 0-4
// MiB identically with a 4 MiB page; 0x400000 goes through A's table at
// 0x11000 to 0x200000 and through B's at 0x13000 to 0x201000. 0x800000 in A
// is an alias of A's table (through the table at 0x14000).
void two_spaces(Vm& v, uint32_t a_pte = 0x00200023) {
  v.put32(0x10000, 0x000000A3);  // 4 MiB page, A set.
  v.put32(0x10004, 0x00011027);
  v.put32(0x10008, 0x00014027);
  v.put32(0x11000, a_pte);
  v.put32(0x14000, 0x00011023);
  v.put32(0x12000, 0x000000A3);
  v.put32(0x12004, 0x00013027);
  v.put32(0x13000, 0x00201023);
  v.put32(0x200000, 0xAAAA0000);
  v.put32(0x201000, 0xBBBB0000);
  v.put32(0x202000, 0xCCCC0000);
  v.cpu.s.cr4 |= cr4::PSE;
  v.cpu.s.cr3 = 0x10000;
  v.cpu.s.cr0 |= cr0::PG;
  v.cpu.paging_changed();
}

// A's table entry for 0x400000 changes while B is current; back in A (a
// CR3 load), the new page is read. The views of A were kept while B ran, so
// only the write protection of A's table can have dropped the old mapping.
TEST_P(ShadowPaging, TableOfAnotherSpaceWrittenThenCr3Load) {
  Pair p;
  run_both(p,
           {0xA1, 0x00, 0x00, 0x40, 0x00,                                // mov eax, [0x400000]
            0xB9, 0x00, 0x20, 0x01, 0x00, 0x0F, 0x22, 0xD9,              // mov ecx, 0x12000; mov cr3, ecx
            0x8B, 0x1D, 0x00, 0x00, 0x40, 0x00,                          // mov ebx, [0x400000]
            0xC7, 0x05, 0x00, 0x10, 0x01, 0x00, 0x23, 0x20, 0x20, 0x00,  // mov dword [0x11000], 0x202023
            0xB9, 0x00, 0x00, 0x01, 0x00, 0x0F, 0x22, 0xD9,              // mov ecx, 0x10000; mov cr3, ecx
            0x8B, 0x15, 0x00, 0x00, 0x40, 0x00,                          // mov edx, [0x400000]
            0xF4},
           [](Vm& v) { two_spaces(v); });
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 0xAAAA0000u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], 0xBBBB0000u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EDX], 0xCCCC0000u);
  if (const auto* v = views(p)) {
    EXPECT_EQ(v->space_hits, 1u);  // Back to A: its views were kept...
    EXPECT_EQ(v->pages_dropped, 1u);  // ... but for the page whose entry was written.
    EXPECT_EQ(v->flushes, 0u);
  }
}

// The same write through another linear address of A's table (0x800000):
// tables are tracked by physical page.
TEST_P(ShadowPaging, TableWrittenThroughAnAlias) {
  Pair p;
  run_both(p,
           {0xA1, 0x00, 0x00, 0x40, 0x00,                                // mov eax, [0x400000]
            0xB9, 0x00, 0x20, 0x01, 0x00, 0x0F, 0x22, 0xD9,              // mov ecx, 0x12000; mov cr3, ecx
            0x8B, 0x1D, 0x00, 0x00, 0x40, 0x00,                          // mov ebx, [0x400000]
            0xB9, 0x00, 0x00, 0x01, 0x00, 0x0F, 0x22, 0xD9,              // mov ecx, 0x10000; mov cr3, ecx
            0xC7, 0x05, 0x00, 0x00, 0x80, 0x00, 0x23, 0x20, 0x20, 0x00,  // mov dword [0x800000], 0x202023
            0x0F, 0x20, 0xD9, 0x0F, 0x22, 0xD9,                          // mov ecx, cr3; mov cr3, ecx
            0x8B, 0x15, 0x00, 0x00, 0x40, 0x00,                          // mov edx, [0x400000]
            0xF4},
           [](Vm& v) { two_spaces(v); });
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 0xAAAA0000u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EDX], 0xCCCC0000u);
}

// A's table is also data: 100 writes to its unused upper half with nothing
// mapped through it in between untrack it (a flood), which must drop what
// was mapped through it; the entry written next, untracked, is then seen at
// the CR3 load.
TEST_P(ShadowPaging, TablePageAlsoWrittenAsData) {
  Pair p;
  run_both(p,
           {0xA1, 0x00, 0x00, 0x40, 0x00,                                // mov eax, [0x400000]
            0xB9, 0x64, 0x00, 0x00, 0x00,                                // mov ecx, 100
            0x89, 0x0C, 0x8D, 0x00, 0x18, 0x01, 0x00,                    // L: mov [0x11800 + ecx*4], ecx
            0x49, 0x75, 0xF6,                                            // dec ecx; jnz L
            0xC7, 0x05, 0x00, 0x10, 0x01, 0x00, 0x23, 0x20, 0x20, 0x00,  // mov dword [0x11000], 0x202023
            0x0F, 0x20, 0xD9, 0x0F, 0x22, 0xD9,                          // mov ecx, cr3; mov cr3, ecx
            0x8B, 0x15, 0x00, 0x00, 0x40, 0x00,                          // mov edx, [0x400000]
            0xF4},
           [](Vm& v) { two_spaces(v); });
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 0xAAAA0000u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EDX], 0xCCCC0000u);
  EXPECT_EQ(p.jit.get32(0x11800 + 4 * 100), 100u);
  if (const auto* v = views(p)) {
    EXPECT_GE(v->table_floods, 1u);
  }
}

// D is clear in A's entries for 0x400000 and 0x401000, which map
// contiguous pages. The first write, to 0x400000, sets D there and maps it
// writable, and the page after it ahead of any access: read-only, as its D
// is clear. Kept across two CR3 loads, the first write to 0x401000 must
// still set its D (the walk does, on the slow path).
TEST_P(ShadowPaging, FirstWriteThroughAKeptMappingSetsDirty) {
  Pair p;
  run_both(p,
           {0xC7, 0x05, 0x00, 0x00, 0x40, 0x00, 0x11, 0x11, 0x00, 0x00,  // mov dword [0x400000], 0x1111
            0xB9, 0x00, 0x20, 0x01, 0x00, 0x0F, 0x22, 0xD9,              // mov ecx, 0x12000; mov cr3, ecx
            0xB9, 0x00, 0x00, 0x01, 0x00, 0x0F, 0x22, 0xD9,              // mov ecx, 0x10000; mov cr3, ecx
            0xC7, 0x05, 0x04, 0x10, 0x40, 0x00, 0x55, 0x55, 0x00, 0x00,  // mov dword [0x401004], 0x5555
            0x8B, 0x1D, 0x04, 0x10, 0x01, 0x00,                          // mov ebx, [0x11004]
            0xF4},
           [](Vm& v) {
             two_spaces(v);
             v.put32(0x11004, 0x00201023);  // A set, D clear.
           });
  EXPECT_EQ(p.jit.get32(0x11000), 0x00200063u);  // A and D.
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], 0x00201063u);
  EXPECT_EQ(p.jit.get32(0x201004), 0x5555u);
}

// 40 address spaces, more than are kept, round-robin three times; each maps
// 0x400000 to a page of its own, which every pass reads and increments.
TEST_P(ShadowPaging, AddressSpacesEvictedAndRebuilt) {
  Pair p;
  run_both(p,
           {0x31, 0xC0,                                // xor eax, eax
            0xBF, 0x03, 0x00, 0x00, 0x00,              // mov edi, 3
            0xBE, 0x00, 0x00, 0x02, 0x00,              // R: mov esi, 0x20000
            0xB9, 0x28, 0x00, 0x00, 0x00,              // mov ecx, 40
            0x0F, 0x22, 0xDE,                          // L: mov cr3, esi
            0x03, 0x05, 0x00, 0x00, 0x40, 0x00,        // add eax, [0x400000]
            0xFF, 0x05, 0x00, 0x00, 0x40, 0x00,        // inc dword [0x400000]
            0x81, 0xC6, 0x00, 0x20, 0x00, 0x00,        // add esi, 0x2000
            0x49, 0x75, 0xE8,                          // dec ecx; jnz L
            0x4F, 0x75, 0xDB,                          // dec edi; jnz R
            0xF4},
           [](Vm& v) {
             for (uint32_t k = 0; k < 40; ++k) {
               const uint32_t pd = 0x20000 + k * 0x2000, pt = pd + 0x1000, frame = 0x100000 + k * 0x1000;
               v.put32(pd, 0x000000A3);
               v.put32(pd + 4, pt | 0x27);
               v.put32(pt, frame | 0x23);
               v.put32(frame, k * 1000);
             }
             v.cpu.s.cr4 |= cr4::PSE;
             v.cpu.s.cr3 = 0x20000;
             v.cpu.s.cr0 |= cr0::PG;
             v.cpu.paging_changed();
           });
  // Each space's page is read as k*1000, k*1000 + 1, k*1000 + 2.
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 3u * (1000u * 39 * 40 / 2) + 40u * 3);
  for (uint32_t k = 0; k < 40; ++k) EXPECT_EQ(p.jit.get32(0x100000 + k * 0x1000), k * 1000 + 3);
  if (const auto* v = views(p)) {
    EXPECT_GT(v->space_evictions, 0u);
    EXPECT_LE(v->spaces, jit::GuestViews::kSpaces);
  }
}

// Near the host's mapping limit, the regions least recently mapped into are
// evicted, not everything: with a limit of 8 host mappings, 64 scattered
// pages read twice over still give the right sums.
TEST_P(ShadowPaging, RegionsEvictedAtTheHostMappingLimit) {
  Pair p;
  // mov eax, 0; mov edi, 2; R: mov esi, 0x400000; mov ecx, 64;
  // L: add eax, [esi]; add esi, 0x1000; dec ecx; jnz L; dec edi; jnz R; hlt
  const std::vector<uint8_t> code = {0x31, 0xC0, 0xBF, 0x02, 0x00, 0x00, 0x00, 0xBE, 0x00, 0x00, 0x40,
                                     0x00, 0xB9, 0x40, 0x00, 0x00, 0x00, 0x03, 0x06, 0x81, 0xC6, 0x00,
                                     0x10, 0x00, 0x00, 0x49, 0x75, 0xF5, 0x4F, 0x75, 0xE8, 0xF4};
  auto setup = [](Vm& v) {
    two_spaces(v);
    // 64 pages at 0x400000.., each on a frame of its own out of order
    // (0x300000 + (k * 7 % 64) pages): no two neighbours are contiguous.
    for (uint32_t k = 0; k < 64; ++k) {
      const uint32_t frame = 0x300000 + ((k * 7) % 64) * 0x1000;
      v.put32(0x11000 + 4 * k, frame | 0x23);
      v.put32(frame, k + 1);
    }
    if (v.cpu.jit() && v.cpu.jit()->views()) v.cpu.jit()->views()->set_mapping_limit(8);
  };
  run_both(p, code, setup);
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 2u * (64 * 65 / 2));
  if (const auto* v = views(p)) {
    EXPECT_GT(v->region_evictions, 0u);
    EXPECT_LE(v->host_mappings, 8u);
  }
}

}  // namespace
}  // namespace vmm

// The host-MMU path as shadow paging (jit/guest_views.h): the user views of
// an address space are kept across CR3 loads, and checked against the
// tables where a TLB would be flushed, so each rule that keeps them true is
// checked here on its own, against the interpreter (and on the TLB-probe
// path, where the same code must give the same results).
//
// The guest code runs at CPL 3 in short phases, each ending in JMP $ and
// run for exactly its instruction count; between phases the test loads CR3
// (or invalidates a page) as the guest's kernel would. Phase bytes were
// assembled with nasm and checked with ndisasm.
#include <gtest/gtest.h>

#include <functional>
#include <vector>

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
// MiB identically with a user-writable 4 MiB page (so user code can write
// the tables); 0x400000 goes through A's table at 0x11000 to 0x200000 and
// through B's at 0x13000 to 0x201000. 0x800000 in both is an alias of A's
// table (through the table at 0x14000); the table at 0x15000 maps 0x400000
// to 0x203000. D is clear in the table entries.
void two_spaces(Vm& v) {
  v.put32(0x10000, 0x000000E7);  // 4 MiB page: P, RW, U, A, D.
  v.put32(0x10004, 0x00011027);
  v.put32(0x10008, 0x00014027);
  v.put32(0x11000, 0x00200027);
  v.put32(0x14000, 0x00011027);
  v.put32(0x15000, 0x00203027);
  v.put32(0x12000, 0x000000E7);
  v.put32(0x12004, 0x00013027);
  v.put32(0x12008, 0x00014027);
  v.put32(0x13000, 0x00201027);
  v.put32(0x200000, 0xAAAA0000);
  v.put32(0x201000, 0xBBBB0000);
  v.put32(0x202000, 0xCCCC0000);
  v.put32(0x203000, 0xDDDD0000);
  v.cpu.s.cr4 |= cr4::PSE;
  v.cpu.s.cr3 = 0x10000;
  v.cpu.s.cr0 |= cr0::PG;
  v.cpu.paging_changed();
}

// One phase: optionally a CR3 load or an INVLPG by the host (the guest's
// kernel), then `code` at CPL 3, straight-line and ending in JMP $, run for
// `instructions` (the JMP included).
struct Phase {
  uint32_t cr3;  // 0: none.
  std::vector<uint8_t> code;
  unsigned instructions;
  uint32_t invlpg = 0;  // 0: none.
  unsigned cpl = 3;     // 0: the code runs in the supervisor view.
};

// Phase code.
const std::vector<uint8_t> kReadEax = {0xA1, 0x00, 0x00, 0x40, 0x00, 0xEB, 0xFE};  // mov eax, [0x400000]
const std::vector<uint8_t> kReadEbx = {0x8B, 0x1D, 0x00, 0x00, 0x40, 0x00, 0xEB, 0xFE};  // mov ebx, [0x400000]
const std::vector<uint8_t> kReadEdx = {0x8B, 0x15, 0x00, 0x00, 0x40, 0x00, 0xEB, 0xFE};  // mov edx, [0x400000]
// mov ebx, [0x400000]; mov dword [0x11000], 0x202027 (A's entry for 0x400000 -> 0x202000)
const std::vector<uint8_t> kReadEbxWriteAPte = {0x8B, 0x1D, 0x00, 0x00, 0x40, 0x00, 0xC7, 0x05, 0x00,
                                                0x10, 0x01, 0x00, 0x27, 0x20, 0x20, 0x00, 0xEB, 0xFE};
// mov ebx, [0x400000]; mov dword [0x800000], 0x202027 (the same entry through the alias)
const std::vector<uint8_t> kReadEbxWriteAlias = {0x8B, 0x1D, 0x00, 0x00, 0x40, 0x00, 0xC7, 0x05, 0x00,
                                                 0x00, 0x80, 0x00, 0x27, 0x20, 0x20, 0x00, 0xEB, 0xFE};
// mov eax, [0x400000]; mov dword [0x11000], 0x202027
const std::vector<uint8_t> kReadEaxWriteAPte = {0xA1, 0x00, 0x00, 0x40, 0x00, 0xC7, 0x05, 0x00, 0x10,
                                                0x01, 0x00, 0x27, 0x20, 0x20, 0x00, 0xEB, 0xFE};
// mov dword [0x10004], 0x15027 (A's directory entry for 0x400000 -> the table at 0x15000)
const std::vector<uint8_t> kWriteAPde = {0xC7, 0x05, 0x04, 0x00, 0x01, 0x00, 0x27, 0x50, 0x01, 0x00, 0xEB, 0xFE};
// mov dword [0x400000], 0x1111
const std::vector<uint8_t> kWriteX = {0xC7, 0x05, 0x00, 0x00, 0x40, 0x00, 0x11, 0x11, 0x00, 0x00, 0xEB, 0xFE};
// mov dword [0x11000], 0x200027 (A's entry back to 0x200000, D clear)
const std::vector<uint8_t> kClearDirty = {0xC7, 0x05, 0x00, 0x10, 0x01, 0x00, 0x27, 0x00, 0x20, 0x00, 0xEB, 0xFE};
// mov dword [0x400004], 0x2222; mov ebx, [0x11000]
const std::vector<uint8_t> kWriteXReadPte = {0xC7, 0x05, 0x04, 0x00, 0x40, 0x00, 0x22, 0x22, 0x00,
                                             0x00, 0x8B, 0x1D, 0x00, 0x10, 0x01, 0x00, 0xEB, 0xFE};
// mov dword [0x401004], 0x5555; mov ebx, [0x11004]
const std::vector<uint8_t> kWriteNextReadPte = {0xC7, 0x05, 0x04, 0x10, 0x40, 0x00, 0x55, 0x55, 0x00,
                                                0x00, 0x8B, 0x1D, 0x04, 0x10, 0x01, 0x00, 0xEB, 0xFE};
// add eax, [0x400000]; inc dword [0x400000]
const std::vector<uint8_t> kAddInc = {0x03, 0x05, 0x00, 0x00, 0x40, 0x00, 0xFF,
                                      0x05, 0x00, 0x00, 0x40, 0x00, 0xEB, 0xFE};

// Runs the phases on both engines after `setup`, each phase's code at an
// address of its own (the same code, the same address), and compares them.
void run_phases(Pair& p, const std::function<void(Vm&)>& setup, const std::vector<Phase>& phases) {
  for (Vm* v : {&p.interp, &p.jit}) {
    setup(*v);
    std::vector<const std::vector<uint8_t>*> placed;
    for (const Phase& ph : phases) {
      v->cpu.s.cpl = ph.cpl;
      if (ph.cr3) {
        v->cpu.s.cr3 = ph.cr3;
        v->cpu.paging_changed(/*keep_global=*/true);
      }
      if (ph.invlpg) v->cpu.tlb_flush_page(ph.invlpg);
      size_t slot = 0;
      while (slot < placed.size() && *placed[slot] != ph.code) ++slot;
      if (slot == placed.size()) {
        placed.push_back(&ph.code);
        v->put(kCode + 0x40 * slot, ph.code);
      }
      v->cpu.s.eip = kCode + 0x40 * slot;
      v->cpu.run(ph.instructions);
    }
  }
  expect_same(p.interp, p.jit);
}

// A's table entry for 0x400000 changes while B is current; back in A (a
// CR3 load), the new page is read. A's user view was kept while B ran, so
// only the check against A's table at the CR3 load can drop the old page.
TEST_P(ShadowPaging, TableOfAnotherSpaceWrittenThenCr3Load) {
  Pair p;
  run_phases(p, two_spaces,
             {{0, kReadEax, 2}, {0x12000, kReadEbxWriteAPte, 3}, {0x10000, kReadEdx, 2}});
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 0xAAAA0000u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], 0xBBBB0000u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EDX], 0xCCCC0000u);
  if (const auto* v = views(p)) {
    EXPECT_EQ(v->space_hits, 1u);     // Back to A: its view was kept...
    EXPECT_EQ(v->pages_dropped, 1u);  // ... but for the page whose entry changed.
    EXPECT_EQ(v->flushes, 0u);
  }
}

// The same change written through another linear address of A's table:
// the tables are compared in physical memory.
TEST_P(ShadowPaging, TableWrittenThroughAnAlias) {
  Pair p;
  run_phases(p, two_spaces,
             {{0, kReadEax, 2}, {0x12000, kReadEbxWriteAlias, 3}, {0x10000, kReadEdx, 2}});
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 0xAAAA0000u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EDX], 0xCCCC0000u);
}

// The current space's entry changes; reloading the same CR3 (a TLB flush)
// must show the new page.
TEST_P(ShadowPaging, TableEntryChangedThenTheSameCr3Reloaded) {
  Pair p;
  run_phases(p, two_spaces, {{0, kReadEaxWriteAPte, 3}, {0x10000, kReadEdx, 2}});
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 0xAAAA0000u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EDX], 0xCCCC0000u);
}

// ... and so must an INVLPG of the page, with no CR3 load.
TEST_P(ShadowPaging, TableEntryChangedThenInvlpg) {
  Pair p;
  run_phases(p, two_spaces, {{0, kReadEaxWriteAPte, 3}, {0, kReadEdx, 2, 0x400000}});
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 0xAAAA0000u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EDX], 0xCCCC0000u);
}

// A's directory entry for 0x400000 is pointed at another table while B is
// current: back in A, the page comes through the new table.
TEST_P(ShadowPaging, DirectoryEntryOfAnotherSpaceChanged) {
  Pair p;
  run_phases(p, two_spaces, {{0, kReadEax, 2}, {0x12000, kWriteAPde, 2}, {0x10000, kReadEdx, 2}});
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 0xAAAA0000u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EDX], 0xDDDD0000u);
  if (const auto* v = views(p)) {
    EXPECT_EQ(v->regions_dropped, 1u);
  }
}

// D is clear in A's entries for 0x400000 and 0x401000, which map
// contiguous pages. The first write, to 0x400000, sets D there and maps it
// writable, and the page after it ahead of any access: read-only, as its D
// is clear. Kept across two CR3 loads, the first write to 0x401000 must
// still set its D (the walk does, on the slow path).
TEST_P(ShadowPaging, FirstWriteThroughAKeptMappingSetsDirty) {
  Pair p;
  run_phases(
      p,
      [](Vm& v) {
        two_spaces(v);
        v.put32(0x11004, 0x00201027);  // A set, D clear.
      },
      {{0, kWriteX, 2}, {0x12000, kReadEbx, 2}, {0x10000, kWriteNextReadPte, 3}});
  EXPECT_EQ(p.jit.get32(0x11000), 0x00200067u);  // A and D.
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], 0x00201067u);
  EXPECT_EQ(p.jit.get32(0x201004), 0x5555u);
}

// The guest clears D in A's entry (page-out writing a page back) while B
// runs: back in A, the next write must set D again, so the writable
// mapping made after the first write may not survive.
TEST_P(ShadowPaging, DirtyClearedByTheGuestIsSetAgain) {
  Pair p;
  run_phases(p, two_spaces,
             {{0, kWriteX, 2}, {0x12000, kClearDirty, 2}, {0x10000, kWriteXReadPte, 3}});
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], 0x00200067u);
  EXPECT_EQ(p.jit.get32(0x200004), 0x2222u);
}

// The supervisor view at CR3 loads. Its non-global pages stay mapped only
// where the new tables translate them the same way with A (and D, for a
// writable mapping) already set. Space C (directory 0x16000) maps 0-4 MiB
// like A and B and 0x400000 through its table at 0x17000, whose entry each
// test sets; the code runs at CPL 0.
void three_spaces(Vm& v, uint32_t c_pte) {
  two_spaces(v);
  v.put32(0x16000, 0x000000E7);
  v.put32(0x16004, 0x00017027);
  v.put32(0x17000, c_pte);
}

// B maps 0x400000 to another frame: the page goes at the load.
TEST_P(ShadowPaging, SupervisorPageOfAnotherFrameGoesAtCr3Load) {
  Pair p;
  run_phases(p, two_spaces, {{0, kReadEax, 2, 0, 0}, {0x12000, kReadEbx, 2, 0, 0}, {0x10000, kReadEdx, 2, 0, 0}});
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 0xAAAA0000u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], 0xBBBB0000u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EDX], 0xAAAA0000u);
}

// C maps it to the same frame with A and D set: the page stays mapped
// (nothing to refill), and its writes land in the frame.
TEST_P(ShadowPaging, SupervisorPageTranslatedTheSameIsKeptAtCr3Load) {
  Pair p;
  run_phases(p, [](Vm& v) { three_spaces(v, 0x00200067); },
             {{0, kWriteX, 2, 0, 0}, {0x16000, kAddInc, 3, 0, 0}, {0x10000, kReadEdx, 2, 0, 0}});
  EXPECT_EQ(p.jit.cpu.s.gpr[EDX], 0x1112u);
  if (const auto* v = views(p)) {
    EXPECT_GE(v->kernel_pages_kept, 1u);
  }
}

// C maps the same frame with A clear: the access after the load must walk
// C's table and set A there, so the page may not stay mapped.
TEST_P(ShadowPaging, SupervisorPageWithAClearInTheNewTablesIsRefilled) {
  Pair p;
  run_phases(p, [](Vm& v) { three_spaces(v, 0x00200007); },
             {{0, kReadEax, 2, 0, 0}, {0x16000, kReadEbx, 2, 0, 0}});
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], 0xAAAA0000u);
  EXPECT_EQ(p.jit.get32(0x17000), 0x00200027u);  // A set by the refill.
}

// The page was written under A (mapped writable); C maps the same frame
// with D clear: the first write after the load must set D in C's entry.
TEST_P(ShadowPaging, SupervisorWritablePageWithDClearInTheNewTablesIsRefilled) {
  Pair p;
  run_phases(p, [](Vm& v) { three_spaces(v, 0x00200027); },
             {{0, kWriteX, 2, 0, 0}, {0, kWriteX, 2, 0, 0}, {0x16000, kWriteXReadPte, 3, 0, 0}});
  EXPECT_EQ(p.jit.get32(0x17000), 0x00200067u);  // A and D.
  EXPECT_EQ(p.jit.get32(0x200004), 0x2222u);
}

// More address spaces than are kept, round-robin three times; each maps
// 0x400000 to a page of its own, which every pass reads and increments.
TEST_P(ShadowPaging, AddressSpacesEvictedAndRebuilt) {
  constexpr uint32_t kN = jit::GuestViews::kSpaces + 8;
  Pair p;
  std::vector<Phase> phases;
  for (int round = 0; round < 3; ++round)
    for (uint32_t k = 0; k < kN; ++k) phases.push_back({0x20000 + k * 0x2000, kAddInc, 3});
  run_phases(
      p,
      [](Vm& v) {
        for (uint32_t k = 0; k < kN; ++k) {
          const uint32_t pd = 0x20000 + k * 0x2000, pt = pd + 0x1000, frame = 0x100000 + k * 0x1000;
          v.put32(pd, 0x000000E7);
          v.put32(pd + 4, pt | 0x27);
          v.put32(pt, frame | 0x27);
          v.put32(frame, k * 1000);
        }
        v.cpu.s.cr4 |= cr4::PSE;
        v.cpu.s.cr3 = 0x20000;
        v.cpu.s.cr0 |= cr0::PG;
        v.cpu.paging_changed();
      },
      phases);
  // Each space's page is read as k*1000, k*1000 + 1, k*1000 + 2.
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 3u * (1000u * (kN - 1) * kN / 2) + kN * 3);
  for (uint32_t k = 0; k < kN; ++k) EXPECT_EQ(p.jit.get32(0x100000 + k * 0x1000), k * 1000 + 3);
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
  // add eax, [0x400000 + k * 0x1000] for k = 0..63, twice; jmp $
  std::vector<uint8_t> code;
  for (int pass = 0; pass < 2; ++pass) {
    for (uint32_t k = 0; k < 64; ++k) {
      const uint32_t a = 0x400000 + k * 0x1000;
      code.insert(code.end(), {0x03, 0x05, uint8_t(a), uint8_t(a >> 8), uint8_t(a >> 16), uint8_t(a >> 24)});
    }
  }
  code.insert(code.end(), {0xEB, 0xFE});
  auto setup = [](Vm& v) {
    two_spaces(v);
    // 64 pages at 0x400000.., each on a frame of its own out of order
    // (0x300000 + (k * 7 % 64) pages): no two neighbours are contiguous.
    for (uint32_t k = 0; k < 64; ++k) {
      const uint32_t frame = 0x300000 + ((k * 7) % 64) * 0x1000;
      v.put32(0x11000 + 4 * k, frame | 0x27);
      v.put32(frame, k + 1);
    }
    if (v.cpu.jit() && v.cpu.jit()->views()) v.cpu.jit()->views()->set_mapping_limit(8);
  };
  run_phases(p, setup, {{0, code, 129}});
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 2u * (64 * 65 / 2));
  if (const auto* v = views(p)) {
    EXPECT_GT(v->region_evictions, 0u);
    EXPECT_LE(v->host_mappings, 8u);
  }
}

// At the limit on 4 MiB regions in use (the bound on the views' memory),
// the least recently mapped regions are evicted: with a limit of 2, pages
// in 6 regions read twice over still give the right sum.
TEST_P(ShadowPaging, RegionsEvictedAtTheRegionLimit) {
  Pair p;
  // add eax, [k * 0x400000] for k = 3..8, twice; jmp $
  std::vector<uint8_t> code;
  for (int pass = 0; pass < 2; ++pass) {
    for (uint32_t k = 3; k <= 8; ++k) {
      const uint32_t a = k * 0x400000;
      code.insert(code.end(), {0x03, 0x05, uint8_t(a), uint8_t(a >> 8), uint8_t(a >> 16), uint8_t(a >> 24)});
    }
  }
  code.insert(code.end(), {0xEB, 0xFE});
  auto setup = [](Vm& v) {
    two_spaces(v);
    // Directory entry k: a table of its own (0x16000 + ...) mapping its
    // first page on frame 0x300000 + ..., which holds k.
    for (uint32_t k = 3; k <= 8; ++k) {
      const uint32_t table = 0x16000 + (k - 3) * 0x1000, frame = 0x300000 + (k - 3) * 0x1000;
      v.put32(0x10000 + 4 * k, table | 0x27);
      v.put32(table, frame | 0x27);
      v.put32(frame, k);
    }
    if (v.cpu.jit() && v.cpu.jit()->views()) v.cpu.jit()->views()->set_region_limit(2);
  };
  run_phases(p, setup, {{0, code, 13}});
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 2u * (3 + 4 + 5 + 6 + 7 + 8));
  if (const auto* v = views(p)) {
    EXPECT_GT(v->region_evictions, 0u);
    EXPECT_LE(v->regions_in_use_peak, 2u);
    EXPECT_GE(v->regions_in_use_peak, 1u);
  }
}

}  // namespace
}  // namespace vmm

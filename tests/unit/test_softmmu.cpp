// SoftMmu: TLB behaviour and the 32-bit page walker (SDM Vol. 3A, 4.3-4.8).
#include <gtest/gtest.h>

#include "devices/bus.h"
#include "runtime/exceptions.h"
#include "runtime/softmmu.h"

namespace vmm {
namespace {

class SoftMmuTest : public ::testing::Test {
 protected:
  static constexpr uint32_t kPd = 0x10000;
  static constexpr uint32_t kPt = 0x11000;

  SoftMmuTest() : ram(4 << 20), mmu(cpu, ram, bus) {}

  void put32(uint32_t phys, uint32_t v) { std::memcpy(ram.ptr(phys), &v, 4); }
  uint32_t get32(uint32_t phys) {
    uint32_t v;
    std::memcpy(&v, ram.ptr(phys), 4);
    return v;
  }

  // Maps virtual 0x00400000 + i*4K to physical `phys` with PTE flags `flags`.
  void enable_paging() {
    std::memset(ram.ptr(kPd), 0, 4096);
    std::memset(ram.ptr(kPt), 0, 4096);
    put32(kPd + 4 * 1, kPt | 0x7);  // PDE for 0x00400000: present, writable, user.
    cpu.cr3 = kPd;
    cpu.cr0 |= cr0::PG | cr0::PE;
    mmu.flush_all();
  }
  void map(uint32_t virt, uint32_t phys, uint32_t flags) {
    put32(kPt + 4 * ((virt >> 12) & 0x3ff), (phys & ~0xfffu) | flags);
    mmu.flush_page(virt);
  }

  GuestException expect_fault(std::function<void()> f) {
    try {
      f();
    } catch (const GuestException& e) {
      return e;
    }
    ADD_FAILURE() << "no fault";
    return GuestException{0xff, false, 0};
  }

  CpuState cpu;
  GuestRam ram;
  Bus bus;
  SoftMmu mmu;
};

TEST_F(SoftMmuTest, PagingOffIsIdentity) {
  mmu.write<uint32_t>(0x1234, 0xdeadbeef, kMmuKernel);
  EXPECT_EQ(get32(0x1234), 0xdeadbeefu);
  EXPECT_EQ(mmu.read<uint16_t>(0x1236, kMmuKernel), 0xdeadu);
}

TEST_F(SoftMmuTest, CrossPageAccessIsSplit) {
  mmu.write<uint32_t>(0x1ffe, 0x11223344, kMmuKernel);
  EXPECT_EQ(ram.ptr(0x1ffe)[0], 0x44);
  EXPECT_EQ(ram.ptr(0x2001)[0], 0x11);
  EXPECT_EQ(mmu.read<uint32_t>(0x1ffe, kMmuKernel), 0x11223344u);
}

TEST_F(SoftMmuTest, EightByteAccessesKeepTheHighHalf) {
  // Slow path (TLB miss) and a page-crossing access both carry 64 bits.
  mmu.write<uint64_t>(0x3000, 0x1122334455667788ull, kMmuKernel);
  mmu.flush_all();
  EXPECT_EQ(mmu.read<uint64_t>(0x3000, kMmuKernel), 0x1122334455667788ull);
  mmu.write<uint64_t>(0x3ffc, 0xa1b2c3d4e5f60718ull, kMmuKernel);
  EXPECT_EQ(mmu.read<uint64_t>(0x3ffc, kMmuKernel), 0xa1b2c3d4e5f60718ull);
}

TEST_F(SoftMmuTest, WalkSetsAccessedAndDirty) {
  enable_paging();
  map(0x00400000, 0x200000, 0x7);
  EXPECT_EQ(mmu.read<uint32_t>(0x00400010, kMmuKernel), 0u);
  EXPECT_TRUE(get32(kPt) & 0x20);          // A set on read.
  EXPECT_FALSE(get32(kPt) & 0x40);         // D not set on read.
  EXPECT_TRUE(get32(kPd + 4) & 0x20);      // PDE A set.
  mmu.write<uint32_t>(0x00400010, 7, kMmuKernel);
  EXPECT_TRUE(get32(kPt) & 0x40);          // D set on the first write.
  EXPECT_EQ(get32(0x200010), 7u);
}

TEST_F(SoftMmuTest, NotPresentFaultHasErrorCodeAndCr2) {
  enable_paging();
  GuestException e = expect_fault([&] { mmu.read<uint32_t>(0x00401004, kMmuUser); });
  EXPECT_EQ(e.vector, kPF);
  EXPECT_EQ(e.error, pferr::kUser);
  EXPECT_EQ(cpu.cr2, 0x00401004u);
  e = expect_fault([&] { mmu.write<uint8_t>(0x00402000, 1, kMmuKernel); });
  EXPECT_EQ(e.error, pferr::kWrite);
  // Unmapped page directory entry.
  e = expect_fault([&] { mmu.read<uint8_t>(0x00800000, kMmuKernel); });
  EXPECT_EQ(e.error, 0u);
  EXPECT_EQ(cpu.cr2, 0x00800000u);
}

TEST_F(SoftMmuTest, UserCannotTouchSupervisorPages) {
  enable_paging();
  map(0x00400000, 0x200000, 0x3);  // Supervisor, writable.
  GuestException e = expect_fault([&] { mmu.read<uint32_t>(0x00400000, kMmuUser); });
  EXPECT_EQ(e.error, pferr::kPresent | pferr::kUser);
  EXPECT_NO_THROW(mmu.read<uint32_t>(0x00400000, kMmuKernel));
}

TEST_F(SoftMmuTest, ReadOnlyPagesAndCr0Wp) {
  enable_paging();
  map(0x00400000, 0x200000, 0x5);  // User, read-only.
  GuestException e = expect_fault([&] { mmu.write<uint32_t>(0x00400000, 1, kMmuUser); });
  EXPECT_EQ(e.error, pferr::kPresent | pferr::kWrite | pferr::kUser);
  // Supervisor writes ignore R/W while CR0.WP = 0 ...
  EXPECT_NO_THROW(mmu.write<uint32_t>(0x00400000, 1, kMmuKernel));
  // ... and fault once WP = 1.
  cpu.cr0 |= cr0::WP;
  mmu.flush_all();
  e = expect_fault([&] { mmu.write<uint32_t>(0x00400000, 2, kMmuKernel); });
  EXPECT_EQ(e.error, pferr::kPresent | pferr::kWrite);
  EXPECT_EQ(get32(0x200000), 1u);
}

TEST_F(SoftMmuTest, LargePagesNeedCr4Pse) {
  enable_paging();
  put32(kPd + 4 * 2, 0x00400000 | 0x80 | 0x7);  // 4 MiB page at 0x00800000 -> phys 0x00400000... outside 4 MiB RAM
  put32(kPd + 4 * 3, 0x00000000 | 0x80 | 0x7);  // 0x00C00000 -> phys 0
  cpu.cr4 |= cr4::PSE;
  mmu.flush_all();
  mmu.write<uint32_t>(0x00C00100, 0xabcd, kMmuKernel);
  EXPECT_EQ(get32(0x100), 0xabcdu);
  EXPECT_TRUE(get32(kPd + 12) & 0x40);  // Dirty set in the PDE.
  // Outside RAM: unassigned, reads all ones.
  EXPECT_EQ(mmu.read<uint32_t>(0x00800000, kMmuKernel), 0xffffffffu);
}

TEST_F(SoftMmuTest, TlbKeepsStaleMappingUntilInvlpg) {
  enable_paging();
  map(0x00400000, 0x200000, 0x7);
  put32(0x200000, 1);
  put32(0x300000, 2);
  EXPECT_EQ(mmu.read<uint32_t>(0x00400000, kMmuKernel), 1u);
  // Change the PTE behind the TLB's back: the cached translation stays, as on hardware.
  put32(kPt, 0x300000 | 0x7);
  EXPECT_EQ(mmu.read<uint32_t>(0x00400000, kMmuKernel), 1u);
  mmu.flush_page(0x00400000);
  EXPECT_EQ(mmu.read<uint32_t>(0x00400000, kMmuKernel), 2u);
}

TEST_F(SoftMmuTest, SplitWriteChecksBothPagesFirst) {
  enable_paging();
  map(0x00400000, 0x200000, 0x7);  // Second page unmapped.
  GuestException e = expect_fault([&] { mmu.write<uint32_t>(0x00400ffe, 0xffffffff, kMmuKernel); });
  EXPECT_EQ(e.vector, kPF);
  EXPECT_EQ(cpu.cr2, 0x00401000u);
  EXPECT_EQ(get32(0x200ffc), 0u);  // Nothing written on the first page.
}

TEST_F(SoftMmuTest, CodePageWritesTakeTheSlowPath) {
  uint32_t hits = 0;
  mmu.on_code_write = [&](uint32_t phys, unsigned) {
    ++hits;
    mmu.clear_code_page(phys & kPageMask);
  };
  mmu.write<uint32_t>(0x5000, 1, kMmuKernel);  // Fill the TLB first.
  mmu.mark_code_page(0x5000);
  mmu.write<uint32_t>(0x5004, 2, kMmuKernel);
  EXPECT_EQ(hits, 1u);
  mmu.write<uint32_t>(0x5008, 3, kMmuKernel);  // Page no longer holds code.
  EXPECT_EQ(hits, 1u);
  EXPECT_EQ(get32(0x5004), 2u);
}

TEST_F(SoftMmuTest, TlbEntryLayoutIsTheSharedOne) {
  EXPECT_EQ(sizeof(TlbEntry), 32u);
  EXPECT_EQ(offsetof(TlbEntry, tag_read), 0u);
  EXPECT_EQ(offsetof(TlbEntry, addend), 16u);
}

}  // namespace
}  // namespace vmm

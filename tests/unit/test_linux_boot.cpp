// The Linux x86 boot protocol loader (Documentation/arch/x86/boot.rst, "32-bit
// boot protocol"): bzImages are built in memory with the header fields each
// test sets, loaded into a fresh GuestRam, and the zero page, the e820 map,
// the command line, the initrd and the entry state are checked byte by
// byte; every malformed header is refused with a message naming the field
// and leaves RAM untouched.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "devices/linux_boot.h"
#include "devices/bus.h"
#include "runtime/cpu.h"
#include "runtime/guest_ram.h"
#include "runtime/log.h"
#include "runtime/machine.h"

namespace vmm {
namespace {

constexpr uint64_t kMiB = 1 << 20;
constexpr uint64_t kRam = 64 * kMiB;

void put(std::vector<uint8_t>& v, size_t off, uint64_t x, unsigned n) {
  if (v.size() < off + n) v.resize(off + n);
  for (unsigned i = 0; i < n; ++i) v[off + i] = static_cast<uint8_t>(x >> (8 * i));
}
uint64_t get(const uint8_t* p, unsigned n) {
  uint64_t v = 0;
  for (unsigned i = 0; i < n; ++i) v |= uint64_t{p[i]} << (8 * i);
  return v;
}

// The guest code of the entry tests (GNU as, linked at 0x100000): checks
// EBX = EBP = EDI = 0, reloads DS, ES, FS, GS, SS with __BOOT_DS and CS
// with __BOOT_CS (a far JMP) from the GDT it was given, checks "HdrS" at
// ESI+0x202 and that cmd_line_ptr points at a 'c'. On the first boot
// (CMOS byte 0x40 zero) it sets that byte, clobbers cmd_line_ptr and resets
// the machine through port 0x92; on the second it checks that the initrd
// starts with 'Z' and writes 0x21 to the exit port; any failed check
// writes 5.
const std::vector<uint8_t> kEntryCode = {
    0x89, 0xd8, 0x09, 0xe8, 0x09, 0xf8, 0x75, 0x5b, 0xb8, 0x18, 0x00, 0x00, 0x00, 0x8e, 0xd8, 0x8e, 0xc0,
    0x8e, 0xe0, 0x8e, 0xe8, 0x8e, 0xd0, 0xea, 0x1e, 0x00, 0x10, 0x00, 0x10, 0x00, 0x81, 0xbe, 0x02, 0x02,
    0x00, 0x00, 0x48, 0x64, 0x72, 0x53, 0x75, 0x39, 0x8b, 0x86, 0x28, 0x02, 0x00, 0x00, 0x80, 0x38, 0x63,
    0x75, 0x2e, 0xb0, 0x40, 0xe6, 0x70, 0xe4, 0x71, 0x84, 0xc0, 0x75, 0x15, 0xb0, 0x01, 0xe6, 0x71, 0xc7,
    0x86, 0x28, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xb0, 0x01, 0xe6, 0x92, 0xf4, 0xeb, 0xfd, 0x8b,
    0x86, 0x18, 0x02, 0x00, 0x00, 0x80, 0x38, 0x5a, 0x75, 0x04, 0xb0, 0x21, 0xe6, 0xf4, 0xb0, 0x05, 0xe6,
    0xf4};

// A bzImage: setup sectors (the boot sector with the setup header) and the
// protected-mode kernel after them. The defaults are those of a modern
// relocatable 32-bit kernel (protocol 2.15).
struct BzImage {
  uint8_t setup_sects = 4;
  uint16_t boot_flag = 0xAA55;
  uint8_t jump = 0xEB;
  uint8_t header_len = 0x6A;  // Ends the header at 0x26C.
  const char* magic = "HdrS";
  uint16_t version = 0x020F;
  uint8_t loadflags = 0x01;  // LOADED_HIGH.
  uint32_t code32_start = 0x100000;
  uint32_t initrd_addr_max = 0x7FFFFFFF;
  uint32_t kernel_alignment = 0x200000;
  uint8_t relocatable = 1;
  uint32_t cmdline_size = 2047;
  uint64_t setup_data = 0;
  uint64_t pref_address = 0x1000000;
  uint32_t init_size = 0x200000;
  std::vector<uint8_t> kernel = pattern(0x3000);
  int64_t syssize = -1;  // -1: the kernel's size in paragraphs.

  static std::vector<uint8_t> pattern(size_t n) {
    std::vector<uint8_t> v(n);
    for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + 3);
    return v;
  }
  size_t kernel_offset() const { return (size_t{setup_sects ? setup_sects : 4u} + 1) * 512; }

  std::vector<uint8_t> build() const {
    std::vector<uint8_t> f(kernel_offset(), 0);
    for (size_t i = 0; i < 0x1F1; ++i) f[i] = static_cast<uint8_t>(0x40 + i);  // Boot sector bytes: not copied.
    put(f, 0x1F1, setup_sects, 1);
    put(f, 0x1F2, 1, 2);  // root_flags
    put(f, 0x1F4, syssize >= 0 ? static_cast<uint64_t>(syssize) : (kernel.size() + 15) / 16, 4);
    put(f, 0x1FA, 0xFFFF, 2);  // vid_mode: normal
    put(f, 0x1FE, boot_flag, 2);
    put(f, 0x200, jump, 1);
    put(f, 0x201, header_len, 1);
    std::memcpy(&f[0x202], magic, 4);
    put(f, 0x206, version, 2);
    put(f, 0x20E, 0x1234, 2);  // kernel_version
    put(f, 0x211, loadflags, 1);
    put(f, 0x214, code32_start, 4);
    put(f, 0x21C, 0xDEAD, 4);  // ramdisk_size: the loader's to write.
    put(f, 0x228, 0xBEEF, 4);  // cmd_line_ptr: likewise.
    put(f, 0x22C, initrd_addr_max, 4);
    put(f, 0x230, kernel_alignment, 4);
    put(f, 0x234, relocatable, 1);
    put(f, 0x235, 21, 1);  // min_alignment
    put(f, 0x236, 0x4, 2);  // xloadflags
    put(f, 0x238, cmdline_size, 4);
    put(f, 0x250, setup_data, 8);
    put(f, 0x258, pref_address, 8);
    put(f, 0x260, init_size, 4);
    put(f, 0x268, 0x5A5A, 4);  // kernel_info_offset
    for (size_t i = 0x26C; i < f.size(); ++i) f[i] = 0xCC;  // Setup code: not copied.
    f.insert(f.end(), kernel.begin(), kernel.end());
    return f;
  }
};

bool all_zero(GuestRam& ram) {
  const uint8_t* p = ram.data();
  for (uint64_t i = 0; i < ram.size(); ++i) {
    if (p[i]) return false;
  }
  return true;
}

class LinuxBootTest : public ::testing::Test {
 protected:
  // Loads `bz`; on a LoadError returns its message (and checks that RAM
  // was left untouched), else "".
  std::string load(const BzImage& bz, const std::string& cmdline = "console=ttyS0",
                   const std::vector<uint8_t>* initrd = nullptr) {
    return load_image(bz.build(), cmdline, initrd);
  }
  std::string load_image(const std::vector<uint8_t>& image, const std::string& cmdline = "console=ttyS0",
                         const std::vector<uint8_t>* initrd = nullptr) {
    try {
      info = load_linux(ram, image, initrd, cmdline);
    } catch (const LoadError& e) {
      EXPECT_TRUE(all_zero(ram)) << "a refused image wrote to guest RAM: " << e.what();
      return e.what();
    }
    return "";
  }
  uint64_t zp(uint64_t off, unsigned n) { return get(ram.ptr(info.boot_params + static_cast<uint32_t>(off)), n); }

  GuestRam ram{kRam};
  LinuxBootInfo info{};
};

#define EXPECT_REFUSED(msg, needle) \
  EXPECT_NE((msg).find(needle), std::string::npos) << "message: '" << (msg) << "'"

TEST_F(LinuxBootTest, RecognisesTheSetupHeaderSignature) {
  BzImage bz;
  EXPECT_TRUE(is_linux_bzimage(bz.build()));
  bz.magic = "HdrT";
  EXPECT_FALSE(is_linux_bzimage(bz.build()));
  EXPECT_FALSE(is_linux_bzimage(std::vector<uint8_t>(0x205, 0)));
  EXPECT_FALSE(is_linux_bzimage({}));
}

// boot.rst, "32-bit boot protocol": a zeroed boot_params, the setup header
// from 0x1F1 to 0x202 + the byte at 0x201 copied in, the loader's fields.
TEST_F(LinuxBootTest, ZeroPageHoldsTheSetupHeaderAndTheLoaderFields) {
  const BzImage bz;
  const std::vector<uint8_t> image = bz.build();
  // What a previous boot left in low memory does not show through.
  std::memset(ram.ptr(0), 0xEE, 0x9F000);
  ASSERT_EQ(load(bz, "console=ttyS0 quiet"), "");
  EXPECT_EQ(info.boot_params % 4096, 0u);
  EXPECT_LT(info.boot_params + 4096, 0x9A000u);
  const uint8_t* z = ram.ptr(info.boot_params);
  // Nothing of the boot sector below the header, screen_info zero (no
  // video), nothing past the header but the e820 fields.
  for (uint32_t i = 0; i < 0x1F1; ++i) {
    if (i >= 0x1E0 && i < 0x1E4) continue;  // alt_mem_k
    if (i == 0x1E8) continue;               // e820_entries
    ASSERT_EQ(z[i], 0) << "zero page byte " << i;
  }
  // The header as in the file, but for the fields the loader writes.
  for (uint32_t i = 0x1F1; i < 0x26C; ++i) {
    if (i == 0x210 || i == 0x211 || (i >= 0x218 && i < 0x220) || (i >= 0x224 && i < 0x22C)) continue;
    ASSERT_EQ(z[i], image[i]) << "header byte " << std::hex << i;
  }
  for (uint32_t i = 0x26C; i < 4096; ++i) {
    if (i >= 0x2D0 && i < 0x2D0 + 3 * 20) continue;  // e820_table
    ASSERT_EQ(z[i], 0) << "zero page byte " << std::hex << i;
  }
  EXPECT_EQ(zp(0x210, 1), 0xFFu);                  // type_of_loader: undefined loader.
  EXPECT_EQ(zp(0x211, 1), 0x81u);                  // LOADED_HIGH | CAN_USE_HEAP.
  EXPECT_EQ(zp(0x224, 2), 0x20000u - info.boot_params - 0x200);  // heap_end_ptr: up to the command line.
  EXPECT_EQ(zp(0x228, 4), info.cmdline_addr);     // cmd_line_ptr
  EXPECT_EQ(zp(0x218, 4), 0u);                     // No initrd.
  EXPECT_EQ(zp(0x21C, 4), 0u);
  EXPECT_EQ(zp(0x1E0, 4), (kRam - kMiB) / 1024);   // alt_mem_k
  EXPECT_EQ(zp(0x214, 4), 0x100000u);              // code32_start kept.
  EXPECT_EQ(info.entry, 0x100000u);
  // The protected-mode kernel at 1 MiB, byte for byte.
  EXPECT_EQ(std::memcmp(ram.ptr(0x100000), bz.kernel.data(), bz.kernel.size()), 0);
  // The command line, NUL-terminated, in low memory below the EBDA.
  EXPECT_STREQ(reinterpret_cast<const char*>(ram.ptr(info.cmdline_addr)), "console=ttyS0 quiet");
  EXPECT_LT(info.cmdline_addr, 0x9FC00u);
}

// e820_entries at 0x1E8, struct boot_e820_entry {u64 addr, size; u32 type}
// at 0x2D0: usable 0-0x9FC00, reserved to 1 MiB, usable to the end of RAM.
TEST_F(LinuxBootTest, E820MapDescribesTheRam) {
  ASSERT_EQ(load(BzImage{}), "");
  ASSERT_EQ(zp(0x1E8, 1), 3u);
  const uint64_t expected[3][3] = {{0, 0x9FC00, 1}, {0x9FC00, 0x100000 - 0x9FC00, 2}, {0x100000, kRam - 0x100000, 1}};
  for (int i = 0; i < 3; ++i) {
    const uint64_t e = 0x2D0 + 20 * i;
    EXPECT_EQ(zp(e, 8), expected[i][0]) << "entry " << i;
    EXPECT_EQ(zp(e + 8, 8), expected[i][1]) << "entry " << i;
    EXPECT_EQ(zp(e + 16, 4), expected[i][2]) << "entry " << i;
  }
}

// Flags a loader must not leave set (QUIET_FLAG, KEEP_SEGMENTS) are
// cleared; setup_data is no list; ext_loader fields zero.
TEST_F(LinuxBootTest, LoaderOwnedFieldsAreReset) {
  BzImage bz;
  bz.loadflags = 0x01 | 0x20 | 0x40;
  bz.setup_data = 0x12345678;
  ASSERT_EQ(load(bz), "");
  EXPECT_EQ(zp(0x211, 1), 0x81u);
  EXPECT_EQ(zp(0x250, 8), 0u);
}

TEST_F(LinuxBootTest, CommandLineUpToCmdlineSize) {
  BzImage bz;
  bz.cmdline_size = 16;
  ASSERT_EQ(load(bz, std::string(16, 'x')), "");
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(ram.ptr(info.cmdline_addr))), std::string(16, 'x'));
  ram.clear();
  const std::string msg = load(bz, std::string(17, 'x'));
  EXPECT_REFUSED(msg, "the command line (17 bytes) is longer than the kernel's cmdline_size (16)");
  // Before 2.06 there is no cmdline_size field: at most 255 bytes.
  BzImage old;
  old.version = 0x0205;
  old.header_len = 0x34;  // Through relocatable_kernel (0x235).
  ram.clear();
  ASSERT_EQ(load(old, std::string(255, 'y')), "");
  ram.clear();
  EXPECT_REFUSED(load(old, std::string(256, 'y')), "longer than the kernel's cmdline_size (255)");
  ram.clear();
  EXPECT_EQ(load(bz, ""), "");
  EXPECT_EQ(*ram.ptr(info.cmdline_addr), 0);
  ram.clear();
  EXPECT_REFUSED(load(bz, std::string("a\0b", 3)), "the command line contains a NUL byte");
  // A kernel that takes a longer command line than low memory holds.
  bz.cmdline_size = 0x100000;
  EXPECT_REFUSED(load(bz, std::string(0x80000, 'z')),
                 "the command line (524288 bytes) does not fit between 0x20000 and 0x9fc00");
}

// The initrd goes page aligned as high as possible: below the end of RAM
// and with its last byte at most initrd_addr_max.
TEST_F(LinuxBootTest, InitrdPlacedHighestBelowTheLimits) {
  std::vector<uint8_t> initrd = BzImage::pattern(10000);
  ASSERT_EQ(load(BzImage{}, "console=ttyS0", &initrd), "");
  const uint64_t top = (kRam - initrd.size()) & ~uint64_t{0xFFF};
  EXPECT_EQ(info.initrd_addr, top);
  EXPECT_EQ(zp(0x218, 4), top);
  EXPECT_EQ(zp(0x21C, 4), initrd.size());
  EXPECT_EQ(std::memcmp(ram.ptr(info.initrd_addr), initrd.data(), initrd.size()), 0);

  BzImage low;
  low.initrd_addr_max = 0x2FFF7FF;  // Not the end of a page: the highest byte allowed.
  ram.clear();
  ASSERT_EQ(load(low, "console=ttyS0", &initrd), "");
  EXPECT_EQ(info.initrd_addr % 4096, 0u);
  EXPECT_LE(info.initrd_addr + initrd.size() - 1, 0x2FFF7FFu);
  EXPECT_GT(info.initrd_addr + initrd.size() - 1 + 4096, 0x2FFF7FFu);  // As high as possible.
  EXPECT_EQ(zp(0x218, 4), info.initrd_addr);
}

// The initrd must stay clear of all the kernel needs before it reads the
// memory map: init_size bytes from pref_address (or from the load address
// rounded up to kernel_alignment, if higher, for a relocatable kernel).
TEST_F(LinuxBootTest, InitrdStaysClearOfTheKernelsInitSize) {
  BzImage bz;  // Needs [0x100000, 0x1000000 + 0x200000).
  bz.initrd_addr_max = 0x1200000 + 0x2000 - 1;
  std::vector<uint8_t> fits(0x2000, 0x5A), too_big(0x2001, 0x5A);
  ASSERT_EQ(load(bz, "", &fits), "");
  EXPECT_EQ(info.initrd_addr, 0x1200000u);
  ram.clear();
  const std::string msg = load(bz, "", &too_big);
  EXPECT_REFUSED(msg, "the initrd (8193 bytes) does not fit in guest RAM between the kernel (up to 0x1200000)");
  // A relocatable kernel aligned above pref_address runs there.
  BzImage aligned;
  aligned.pref_address = 0x100000;
  aligned.kernel_alignment = 0x1000000;
  aligned.initrd_addr_max = 0x1200000 + 0x2000 - 1;
  ram.clear();
  ASSERT_EQ(load(aligned, "", &fits), "");
  EXPECT_EQ(info.initrd_addr, 0x1200000u);
  ram.clear();
  EXPECT_REFUSED(load(aligned, "", &too_big), "between the kernel (up to 0x1200000)");
  // A kernel that is not relocatable runs at pref_address.
  BzImage fixed;
  fixed.relocatable = 0;
  fixed.kernel_alignment = 3;  // Ignored when not relocatable.
  fixed.pref_address = 0x2000000;
  fixed.initrd_addr_max = 0x2200000 + 0x2000 - 1;
  ram.clear();
  ASSERT_EQ(load(fixed, "", &fits), "");
  EXPECT_EQ(info.initrd_addr, 0x2200000u);
}

TEST_F(LinuxBootTest, InitrdLargerThanRamRefused) {
  std::vector<uint8_t> huge(kRam + 1, 1);
  try {
    load_linux(ram, BzImage{}.build(), &huge, "");
    FAIL() << "accepted";
  } catch (const InitrdError& e) {
    EXPECT_REFUSED(std::string(e.what()), "the initrd (67108865 bytes) does not fit in guest RAM");
  }
  EXPECT_TRUE(all_zero(ram));
  std::vector<uint8_t> empty;
  EXPECT_THROW(load_linux(ram, BzImage{}.build(), &empty, ""), InitrdError);
}

// ---- Malformed headers: one message naming the field; RAM untouched ----

TEST_F(LinuxBootTest, RefusesBadMagic) {
  BzImage bz;
  bz.magic = "HdrZ";
  EXPECT_REFUSED(load(bz), "no Linux setup header (signature \"HdrS\" at offset 0x202)");
  bz = BzImage{};
  bz.boot_flag = 0x55AA;
  EXPECT_REFUSED(load(bz), "boot_flag 0x55aa at offset 0x1fe is not 0xaa55");
  bz = BzImage{};
  bz.jump = 0xE9;
  EXPECT_REFUSED(load(bz), "jump at offset 0x200 is 0xe9, not a short JMP (0xeb)");
}

TEST_F(LinuxBootTest, RefusesOldProtocols) {
  for (uint16_t v : {0x0000, 0x0100, 0x0200, 0x0201, 0x0202, 0x0203}) {
    BzImage bz;
    bz.version = v;
    char want[80];
    std::snprintf(want, sizeof want, "boot protocol version %u.%02u is too old (2.04 or later is required)", v >> 8,
                  v & 0xFF);
    EXPECT_REFUSED(load(bz), want);
  }
  BzImage ok;
  ok.version = 0x0204;
  ok.header_len = 0x2E;  // Through initrd_addr_max (0x230).
  EXPECT_EQ(load(ok), "");
}

TEST_F(LinuxBootTest, RefusesTruncatedHeaders) {
  const std::vector<uint8_t> full = BzImage{}.build();
  EXPECT_REFUSED(load_image({full.begin(), full.begin() + 0x207}),
                 "setup header truncated: the file ends before the version field at 0x206");
  EXPECT_REFUSED(load_image({full.begin(), full.begin() + 0x240}),
                 "setup header truncated: it ends at 0x26c but the file has 0x240 bytes");
  // A header length too short for the fields its version has.
  BzImage bz;
  bz.header_len = 0x30;
  EXPECT_REFUSED(load(bz), "setup header length (the jump at 0x200 ends it at 0x232) is too short for protocol 2.15, "
                           "whose fields end at 0x264");
  bz.header_len = 0xFF;
  EXPECT_REFUSED(load(bz), "setup header length (the jump at 0x200 ends it at 0x301) runs past the header's place "
                           "in boot_params (0x290)");
  // Every truncation of a good image is refused, none crashes (RAM is
  // checked untouched above; here the refusals are what counts).
  GuestRam small(24 * kMiB);
  for (size_t n = 0x206; n < full.size(); n += n < 0x300 ? 1 : 61) {
    const std::vector<uint8_t> cut(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(n));
    ASSERT_TRUE(is_linux_bzimage(cut));
    EXPECT_THROW(load_linux(small, cut, nullptr, ""), LoadError) << "accepted a truncation to " << n << " bytes";
  }
}

TEST_F(LinuxBootTest, RefusesSetupSectsOverflowingTheFile) {
  BzImage bz;
  std::vector<uint8_t> image = bz.build();
  image[0x1F1] = 200;  // (200 + 1) * 512 = 0x19200: past the end.
  EXPECT_REFUSED(load_image(image), "setup_sects 200 puts the protected-mode kernel at offset 0x19200, at or past "
                                    "the end of the file (0x3a00 bytes)");
  // setup_sects 0 means 4.
  bz.setup_sects = 0;
  ASSERT_EQ(load(bz), "");
  EXPECT_EQ(std::memcmp(ram.ptr(0x100000), bz.kernel.data(), bz.kernel.size()), 0);
  // syssize larger than what the file holds: truncated.
  bz = BzImage{};
  bz.syssize = 0x301;
  ram.clear();
  EXPECT_REFUSED(load(bz), "syssize 0x301 (16-byte paragraphs) is more than the 0x3000 bytes the file holds after "
                           "setup_sects 4 (truncated?)");
  // A last paragraph that is partial is not a truncation.
  bz.kernel.resize(0x2FF1);
  bz.syssize = 0x300;
  ram.clear();
  EXPECT_EQ(load(bz), "");
}

TEST_F(LinuxBootTest, RefusesKernelsThatCannotRunHere) {
  BzImage bz;
  bz.loadflags = 0;
  EXPECT_REFUSED(load(bz), "loadflags 0x0 lacks LOADED_HIGH (bit 0)");
  bz = BzImage{};
  bz.code32_start = 0x103000;
  EXPECT_REFUSED(load(bz), "code32_start 0x103000 is outside the protected-mode kernel loaded at [0x100000, 0x103000)");
  bz.code32_start = 0x10000;
  EXPECT_REFUSED(load(bz), "code32_start 0x10000 is outside");
  bz = BzImage{};
  bz.relocatable = 1;
  bz.kernel_alignment = 0x300000;
  EXPECT_REFUSED(load(bz), "kernel_alignment 0x300000 of a relocatable kernel is not a power of two");
  bz.kernel_alignment = 0;
  EXPECT_REFUSED(load(bz), "kernel_alignment 0x0 of a relocatable kernel is not a power of two");
  bz = BzImage{};
  bz.relocatable = 0;
  bz.pref_address = uint64_t{1} << 32;
  EXPECT_REFUSED(load(bz), "pref_address 0x100000000 lies beyond the 32-bit physical address space");
}

TEST_F(LinuxBootTest, RefusesKernelsLargerThanRam) {
  GuestRam small(2 * kMiB);
  BzImage bz;
  bz.kernel = BzImage::pattern(kMiB + 1);
  bz.version = 0x0209;  // No init_size: the file's size counts.
  bz.header_len = 0x3A;
  try {
    load_linux(small, bz.build(), nullptr, "");
    FAIL() << "accepted";
  } catch (const LoadError& e) {
    EXPECT_EQ(std::string(e.what()),
              "the protected-mode kernel (0x100001 bytes at 0x100000) does not fit in guest RAM (2 MiB)");
  }
  EXPECT_TRUE(all_zero(small));
  // init_size beyond RAM.
  BzImage needy;
  needy.init_size = 0x3000000 + 1;  // From 0x1000000: one byte past 64 MiB.
  EXPECT_REFUSED(load(needy), "the kernel needs guest RAM up to 0x4000001 (init_size 0x3000001 from 0x1000000), "
                              "more than the 64 MiB there are");
  needy.init_size = 0x3000000;
  EXPECT_EQ(load(needy), "");
}

TEST_F(LinuxBootTest, OldLinuxWithoutSetupHeaderIsNamed) {
  std::vector<uint8_t> sector(512, 0);
  sector[0x1FE] = 0x55;
  sector[0x1FF] = 0xAA;
  try {
    check_not_pre_2_00_linux(sector);
    FAIL() << "accepted";
  } catch (const LoadError& e) {
    EXPECT_REFUSED(std::string(e.what()), "Linux boot protocols before 2.00 are not supported");
  }
  sector[0x1FE] = 0;
  EXPECT_NO_THROW(check_not_pre_2_00_linux(sector));
  EXPECT_NO_THROW(check_not_pre_2_00_linux(BzImage{}.build()));
}

// ---- The entry state, through the machine ----

std::string write_temp(const std::string& name, const std::vector<uint8_t>& bytes) {
  const std::string path = ::testing::TempDir() + "vmm_linux_boot_" + std::to_string(::getpid()) + "_" + name;
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  return path;
}

struct MachineFiles {
  std::string kernel, initrd;
  ~MachineFiles() {
    std::remove(kernel.c_str());
    std::remove(initrd.c_str());
  }
};

// boot.rst, "32-bit boot protocol": protected mode, paging and interrupts
// off, a GDT with flat __BOOT_CS (0x10, execute/read) and __BOOT_DS (0x18,
// read/write) loaded, CS = __BOOT_CS, the data segments __BOOT_DS, ESI =
// boot_params, EBP = EDI = EBX = 0, EIP = code32_start. The hidden parts
// equal what loading the selectors from that GDT gives.
TEST(LinuxBootMachine, EntryStateFollowsThe32BitBootProtocol) {
  BzImage bz;
  bz.kernel = kEntryCode;
  MachineFiles files{write_temp("kernel", bz.build()), write_temp("initrd", std::vector<uint8_t>(5000, 'Z'))};
  for (Engine engine : {Engine::kInterp, Engine::kJit}) {
    SCOPED_TRACE(engine == Engine::kJit ? "jit" : "interp");
    MachineConfig config;
    config.ram_bytes = kRam;
    config.kernel = files.kernel;
    config.initrd = files.initrd;
    config.append = "console=ttyS0";
    config.serial_stdio = false;
    config.engine = engine;
    Log log;
    Machine m(config, log);
    Cpu& cpu = m.cpu();
    const CpuState& s = cpu.s;
    EXPECT_EQ(s.eip, 0x100000u);
    EXPECT_EQ(s.cr0 & (cr0::PE | cr0::PG), cr0::PE);
    EXPECT_EQ(s.eflags & flag::IF, 0u);
    EXPECT_EQ(s.gpr[EBX], 0u);
    EXPECT_EQ(s.gpr[EBP], 0u);
    EXPECT_EQ(s.gpr[EDI], 0u);
    ASSERT_EQ(std::memcmp(m.ram().ptr(s.gpr[ESI] + 0x202), "HdrS", 4), 0);
    EXPECT_EQ(s.seg[CS].selector, 0x10);
    for (SegReg r : {DS, ES, FS, GS, SS}) EXPECT_EQ(s.seg[r].selector, 0x18) << int(r);
    // The GDT in guest memory: flat 4 GiB, present, DPL 0, 32-bit, code
    // execute/read and data read/write.
    const Descriptor code = read_descriptor(cpu, 0x10);
    const Descriptor data = read_descriptor(cpu, 0x18);
    EXPECT_TRUE(code.present() && code.readable_code() && !code.conforming() && code.dpl() == 0);
    EXPECT_TRUE(data.present() && data.writable_data() && data.dpl() == 0);
    for (const Descriptor& d : {code, data}) {
      EXPECT_EQ(d.base(), 0u);
      EXPECT_EQ(d.limit(), 0xFFFFFFFFu);
      EXPECT_TRUE(d.hi & (1u << 22)) << "D/B";
    }
    for (SegReg r : {CS, DS, ES, FS, GS, SS}) {
      SegmentCache want;
      set_segment_cache(want, s.seg[r].selector, r == CS ? code : data);
      EXPECT_EQ(s.seg[r].base, want.base) << int(r);
      EXPECT_EQ(s.seg[r].limit, want.limit) << int(r);
      EXPECT_EQ(s.seg[r].attr, want.attr) << int(r);
      if (r != CS) {
        EXPECT_TRUE(s.seg[r].flat) << int(r);  // Data accesses take the fast path.
      }
    }
    // The guest reloads its segments from the GDT, checks the zero page and
    // the command line, resets the machine (the loader runs again: RAM is
    // cleared on reset) and finds the initrd: exit value 0x21.
    EXPECT_EQ(m.run(), (0x21 << 1) | 1);
  }
}

TEST(LinuxBootMachine, InitrdWithAMultibootKernelIsRefused) {
  std::vector<uint8_t> mb(64, 0);  // A minimal a.out-kludge multiboot image.
  put(mb, 0, 0x1BADB002, 4);
  put(mb, 4, 1u << 16, 4);
  put(mb, 8, static_cast<uint32_t>(0u - 0x1BADB002 - (1u << 16)), 4);
  put(mb, 12, 0x100000, 4);  // header_addr
  put(mb, 16, 0x100000, 4);  // load_addr
  put(mb, 28, 0x100020, 4);  // entry
  MachineFiles files{write_temp("mb", mb), write_temp("mb_initrd", {1, 2, 3})};
  MachineConfig config;
  config.ram_bytes = kRam;
  config.kernel = files.kernel;
  config.serial_stdio = false;
  Log log;
  { Machine ok(config, log); }  // Boots without -initrd.
  config.initrd = files.initrd;
  try {
    Machine m(config, log);
    FAIL() << "accepted";
  } catch (const LoadError& e) {
    EXPECT_EQ(std::string(e.what()), files.kernel + ": -initrd needs a Linux bzImage kernel (no setup header "
                                                    "signature \"HdrS\" at offset 0x202); multiboot modules are not "
                                                    "supported");
  }
}

TEST(LinuxBootMachine, InitrdErrorsNameTheInitrd) {
  BzImage bz;
  bz.initrd_addr_max = 0x1200000 + 0xFFF;
  MachineFiles files{write_temp("k2", bz.build()), write_temp("i2", std::vector<uint8_t>(0x1001, 1))};
  MachineConfig config;
  config.ram_bytes = kRam;
  config.kernel = files.kernel;
  config.initrd = files.initrd;
  config.serial_stdio = false;
  Log log;
  try {
    Machine m(config, log);
    FAIL() << "accepted";
  } catch (const LoadError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(files.initrd + ": the initrd (4097 bytes) does not fit", 0), 0u)
        << e.what();
  }
}

}  // namespace
}  // namespace vmm

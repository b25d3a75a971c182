// Multiboot v1 loader (spec 0.6.96) and the flat-binary loader: images are
// built in memory here, loaded into a fresh GuestRam and checked byte by byte.
#include <gtest/gtest.h>

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "devices/multiboot.h"
#include "runtime/guest_ram.h"

namespace vmm {
namespace {

constexpr uint64_t kMiB = 1 << 20;

// Multiboot header (3.1).
constexpr uint32_t kMbMagic = 0x1BADB002;
constexpr uint32_t kMbPageAlign = 1u << 0;
constexpr uint32_t kMbMemInfo = 1u << 1;
constexpr uint32_t kMbVideo = 1u << 2;
constexpr uint32_t kMbAoutKludge = 1u << 16;
// Boot information (3.3).
constexpr uint32_t kBootloaderMagic = 0x2BADB002;
constexpr uint32_t kInfoMem = 1u << 0, kInfoCmdline = 1u << 2, kInfoMmap = 1u << 6, kInfoLoaderName = 1u << 9,
                   kInfoVbe = 1u << 11, kInfoFramebuffer = 1u << 12;
// ELF.
constexpr uint32_t kPtLoad = 1, kPtNote = 4;
constexpr uint64_t kEhdrSize = 52, kPhdrSize = 32;

void put16(std::vector<uint8_t>& v, size_t off, uint16_t x) {
  if (v.size() < off + 2) v.resize(off + 2);
  v[off] = static_cast<uint8_t>(x);
  v[off + 1] = static_cast<uint8_t>(x >> 8);
}
void put32(std::vector<uint8_t>& v, size_t off, uint32_t x) {
  put16(v, off, static_cast<uint16_t>(x));
  put16(v, off + 2, static_cast<uint16_t>(x >> 16));
}

std::vector<uint8_t> mb_header(uint32_t flags, uint32_t checksum_adjust = 0) {
  std::vector<uint8_t> h;
  put32(h, 0, kMbMagic);
  put32(h, 4, flags);
  put32(h, 8, static_cast<uint32_t>(0u - kMbMagic - flags) + checksum_adjust);
  return h;
}

// Builds small ELF32 i386 executables: the ELF header, the program header
// table right after it, a multiboot header at kMbHeaderOffset and each
// segment's file bytes on its own 4 KiB-aligned file page.
struct ElfSegment {
  uint32_t paddr;
  std::vector<uint8_t> bytes;  // File contents (p_filesz = size).
  uint32_t memsz;
  uint32_t vaddr = 0;  // 0: same as paddr.
  uint32_t type = kPtLoad;
};

struct ElfBuilder {
  static constexpr size_t kMbHeaderOffset = 0x800;
  static size_t phdr_offset(size_t i) { return kEhdrSize + i * kPhdrSize; }

  uint32_t entry = 0x100000;
  uint32_t mb_flags = kMbPageAlign | kMbMemInfo;
  bool with_mb_header = true;
  std::vector<ElfSegment> segments;

  std::vector<uint8_t> build() const {
    std::vector<uint8_t> f(0x1000, 0);  // Headers; segment data starts at 0x1000.
    const uint8_t ident[16] = {0x7f, 'E', 'L', 'F', 1 /*ELFCLASS32*/, 1 /*ELFDATA2LSB*/, 1 /*EV_CURRENT*/};
    std::memcpy(f.data(), ident, sizeof ident);
    put16(f, 16, 2);  // ET_EXEC
    put16(f, 18, 3);  // EM_386
    put32(f, 20, 1);  // EV_CURRENT
    put32(f, 24, entry);
    put32(f, 28, static_cast<uint32_t>(kEhdrSize));  // e_phoff
    put16(f, 40, static_cast<uint16_t>(kEhdrSize));
    put16(f, 42, static_cast<uint16_t>(kPhdrSize));
    put16(f, 44, static_cast<uint16_t>(segments.size()));
    if (with_mb_header) {
      std::vector<uint8_t> h = mb_header(mb_flags);
      h.resize(48, 0);  // Room for the address and graphics fields.
      std::memcpy(f.data() + kMbHeaderOffset, h.data(), h.size());
    }
    size_t data = 0x1000;
    for (size_t i = 0; i < segments.size(); ++i) {
      const ElfSegment& s = segments[i];
      const size_t ph = phdr_offset(i);
      put32(f, ph + 0, s.type);
      put32(f, ph + 4, static_cast<uint32_t>(data));
      put32(f, ph + 8, s.vaddr ? s.vaddr : s.paddr);
      put32(f, ph + 12, s.paddr);
      put32(f, ph + 16, static_cast<uint32_t>(s.bytes.size()));
      put32(f, ph + 20, s.memsz);
      put32(f, ph + 24, 7);  // RWX
      put32(f, ph + 28, 0x1000);
      if (f.size() < data + s.bytes.size()) f.resize(data + s.bytes.size());
      std::memcpy(f.data() + data, s.bytes.data(), s.bytes.size());
      data += (s.bytes.size() + 0xfff) & ~size_t{0xfff};
      if (s.bytes.empty()) data += 0x1000;
    }
    return f;
  }
};

std::vector<uint8_t> pattern(size_t n, uint8_t seed) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(seed + i * 7);
  return v;
}

class MultibootTest : public ::testing::Test {
 protected:
  explicit MultibootTest(uint64_t ram_size = 16 * kMiB) : ram(ram_size) {}

  uint32_t get32(uint32_t addr) {
    uint32_t v = 0;
    for (int i = 3; i >= 0; --i) v = v << 8 | ram.ptr(addr)[i];
    return v;
  }
  uint64_t get64(uint32_t addr) { return get32(addr) | uint64_t{get32(addr + 4)} << 32; }
  std::string get_string(uint32_t addr) { return reinterpret_cast<const char*>(ram.ptr(addr)); }
  bool ram_equals(uint32_t addr, const std::vector<uint8_t>& bytes) {
    return std::memcmp(ram.ptr(addr), bytes.data(), bytes.size()) == 0;
  }
  bool ram_filled(uint32_t addr, size_t len, uint8_t value) {
    for (size_t i = 0; i < len; ++i) {
      if (ram.ptr(addr)[i] != value) return false;
    }
    return true;
  }

  // Loads and expects LoadError whose message contains `needle`; returns the message.
  std::string expect_error(const std::vector<uint8_t>& image, const std::string& needle) {
    try {
      load_multiboot(ram, image, "");
    } catch (const LoadError& e) {
      std::string msg = e.what();
      EXPECT_NE(msg.find(needle), std::string::npos) << "message: " << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << "one line: " << msg;
      return msg;
    }
    ADD_FAILURE() << "no LoadError (expected one mentioning '" << needle << "')";
    return "";
  }

  static ElfBuilder simple_kernel() {
    ElfBuilder b;
    b.entry = 0x100000;
    b.segments.push_back({0x100000, pattern(0x1800, 1), 0x1800});
    return b;
  }

  GuestRam ram;
};

TEST_F(MultibootTest, LoadsElfSegmentsAndZeroesBss) {
  std::memset(ram.ptr(0x100000), 0xcc, 0x10000);
  ElfBuilder b;
  b.entry = 0x100010;
  const std::vector<uint8_t> text = pattern(0x1234, 3);
  const std::vector<uint8_t> data = pattern(0x100, 9);
  b.segments.push_back({0x100000, text, 0x1234});
  b.segments.push_back({0x102000, data, 0x3000});  // bss after the data.
  BootInfo bi = load_multiboot(ram, b.build(), "");

  EXPECT_EQ(bi.entry, 0x100010u);
  EXPECT_EQ(bi.eax, kBootloaderMagic);
  EXPECT_EQ(bi.eax, kMultibootBootloaderMagic);
  EXPECT_TRUE(ram_equals(0x100000, text));
  EXPECT_TRUE(ram_equals(0x102000, data));
  EXPECT_TRUE(ram_filled(0x102100, 0x3000 - 0x100, 0));
  // Bytes outside the segments are not touched.
  EXPECT_TRUE(ram_filled(0x101234, 0x2000 - 0x1234, 0xcc));
  EXPECT_TRUE(ram_filled(0x105000, 0x1000, 0xcc));
}

TEST_F(MultibootTest, NonLoadSegmentsAreIgnored) {
  ElfBuilder b = simple_kernel();
  // A PT_NOTE describing bytes "at" an address outside RAM must not matter.
  b.segments.push_back({0xfff00000, pattern(16, 0), 0x100000, 0, kPtNote});
  EXPECT_NO_THROW(load_multiboot(ram, b.build(), ""));
}

TEST_F(MultibootTest, HigherHalfKernelLoadsAtPhysicalAddressAndTranslatesEntry) {
  ElfBuilder b;
  b.entry = 0xC0100020;
  const std::vector<uint8_t> text = pattern(0x800, 5);
  b.segments.push_back({0x100000, text, 0x800, 0xC0100000});
  BootInfo bi = load_multiboot(ram, b.build(), "");
  EXPECT_TRUE(ram_equals(0x100000, text));
  EXPECT_EQ(bi.entry, 0x100020u);
}

TEST_F(MultibootTest, HigherHalfKernelWithPhysicalEntryPoint) {
  // Kernels that set ENTRY to the physical address of their start code.
  ElfBuilder b;
  b.entry = 0x10000c;
  b.segments.push_back({0x100000, pattern(0x800, 5), 0x800, 0xC0100000});
  EXPECT_EQ(load_multiboot(ram, b.build(), "").entry, 0x10000cu);
}

TEST_F(MultibootTest, BootInformationFields) {
  BootInfo bi = load_multiboot(ram, simple_kernel().build(), "console=ttyS0 quiet");
  EXPECT_EQ(bi.ebx, 0x9000u) << "the default place in low memory";
  EXPECT_EQ(bi.ebx % 4, 0u);
  const uint32_t mbi = bi.ebx;

  const uint32_t flags = get32(mbi + 0);
  EXPECT_EQ(flags & (kInfoMem | kInfoCmdline | kInfoMmap | kInfoLoaderName),
            kInfoMem | kInfoCmdline | kInfoMmap | kInfoLoaderName);
  EXPECT_EQ(flags & (kInfoVbe | kInfoFramebuffer), 0u);
  EXPECT_EQ(get32(mbi + 4), 640u);                   // mem_lower, KiB
  EXPECT_EQ(get32(mbi + 8), (16 * 1024) - 1024u);    // mem_upper, KiB from 1 MiB
  EXPECT_EQ(get_string(get32(mbi + 16)), "console=ttyS0 quiet");
  EXPECT_EQ(get_string(get32(mbi + 64)), "vmm");
}

TEST_F(MultibootTest, MemoryMapEntries) {
  BootInfo bi = load_multiboot(ram, simple_kernel().build(), "");
  const uint32_t mbi = bi.ebx;
  const uint32_t mmap_length = get32(mbi + 44);
  const uint32_t mmap_addr = get32(mbi + 48);

  struct Expected {
    uint64_t base, length;
    uint32_t type;
  };
  const std::vector<Expected> expected = {
      {0, 0x9FC00, 1},
      {0x9FC00, 0x400, 2},
      {0xF0000, 0x10000, 2},
      {0x100000, 15 * kMiB, 1},
  };
  // Walk the map the way the spec tells kernels to: by each entry's size
  // field plus the 4 bytes of the field itself.
  std::vector<Expected> seen;
  for (uint32_t p = mmap_addr; p < mmap_addr + mmap_length; p += get32(p) + 4) {
    EXPECT_EQ(get32(p), 20u) << "size of base_addr + length + type";
    seen.push_back({get64(p + 4), get64(p + 12), get32(p + 20)});
    ASSERT_LE(seen.size(), 16u);
  }
  ASSERT_EQ(seen.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(seen[i].base, expected[i].base) << "entry " << i;
    EXPECT_EQ(seen[i].length, expected[i].length) << "entry " << i;
    EXPECT_EQ(seen[i].type, expected[i].type) << "entry " << i;
  }
}

TEST_F(MultibootTest, EmptyCommandLineIsAnEmptyString) {
  BootInfo bi = load_multiboot(ram, simple_kernel().build(), "");
  EXPECT_NE(get32(bi.ebx) & kInfoCmdline, 0u);
  EXPECT_EQ(get_string(get32(bi.ebx + 16)), "");
}

TEST_F(MultibootTest, BootInformationMovesWhenKernelOccupiesLowMemory) {
  ElfBuilder b;
  b.entry = 0x8000;
  b.segments.push_back({0x8000, pattern(0x100, 1), 0x17f00});  // [0x8000, 0x1ff00)
  BootInfo bi = load_multiboot(ram, b.build(), "root=/dev/sda");
  EXPECT_EQ(bi.ebx, 0x20000u) << "first page after the kernel";
  EXPECT_EQ(get_string(get32(bi.ebx + 16)), "root=/dev/sda");
  // The kernel's bss was not overwritten by the information.
  EXPECT_TRUE(ram_filled(0x8100, 0x17e00, 0));
}

TEST_F(MultibootTest, BootInformationGoesAboveOneMegabyteAfterKernelEndingNearTheHole) {
  ElfBuilder b;
  b.entry = 0x1000;
  b.segments.push_back({0x1000, pattern(0x10, 1), 0x9EC00});  // [0x1000, 0x9FC00): all of low RAM
  BootInfo bi = load_multiboot(ram, b.build(), "");
  EXPECT_EQ(bi.ebx, 0x100000u);
}

TEST_F(MultibootTest, LongCommandLineDoesNotFitLowAndGoesAfterTheKernel) {
  const std::string cmdline(700 * 1024, 'x');
  BootInfo bi = load_multiboot(ram, simple_kernel().build(), cmdline);
  EXPECT_EQ(bi.ebx, 0x102000u);
  EXPECT_EQ(get_string(get32(bi.ebx + 16)), cmdline);
}

TEST_F(MultibootTest, CommandLineWithNulIsRejected) {
  std::string cmdline("a\0b", 3);
  try {
    load_multiboot(ram, simple_kernel().build(), cmdline);
    FAIL() << "accepted";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("NUL"), std::string::npos) << e.what();
  }
}

TEST_F(MultibootTest, VideoModeRequestIsAcceptedWithoutFramebufferInfo) {
  ElfBuilder b = simple_kernel();
  b.mb_flags = kMbPageAlign | kMbMemInfo | kMbVideo;
  BootInfo bi = load_multiboot(ram, b.build(), "");
  EXPECT_EQ(get32(bi.ebx) & (kInfoVbe | kInfoFramebuffer), 0u);
}

TEST_F(MultibootTest, VideoModeRequestWithoutGraphicsFieldsIsAccepted) {
  // The graphics fields are not used, so a header that ends before them
  // (here at the very end of the file) still loads.
  std::vector<uint8_t> image = pattern(0x100, 1);
  const uint32_t off = 0x100 - 32;
  std::vector<uint8_t> h = mb_header(kMbMemInfo | kMbVideo | kMbAoutKludge);
  std::memcpy(image.data() + off, h.data(), h.size());
  put32(image, off + 12, 0x100000 + off);
  put32(image, off + 16, 0x100000);
  put32(image, off + 20, 0);
  put32(image, off + 24, 0);
  put32(image, off + 28, 0x100000);
  EXPECT_NO_THROW(load_multiboot(ram, image, ""));
}

TEST_F(MultibootTest, OptionalFlagBitsAreIgnored) {
  ElfBuilder b = simple_kernel();
  b.mb_flags = kMbMemInfo | (1u << 20);
  EXPECT_NO_THROW(load_multiboot(ram, b.build(), ""));
}

TEST_F(MultibootTest, HeaderAnywhereInFirst8KiBIsFound) {
  // An a.out-kludge image whose header sits at 8192 - 32.
  std::vector<uint8_t> image = pattern(0x3000, 1);
  const uint32_t off = 8192 - 32;
  std::vector<uint8_t> h = mb_header(kMbAoutKludge);
  std::memcpy(image.data() + off, h.data(), h.size());
  put32(image, off + 12, 0x100000 + off);  // header_addr
  put32(image, off + 16, 0x100000);        // load_addr
  put32(image, off + 20, 0);               // load_end_addr: whole file
  put32(image, off + 24, 0);               // bss_end_addr: none
  put32(image, off + 28, 0x100000);        // entry_addr
  BootInfo bi = load_multiboot(ram, image, "");
  EXPECT_EQ(bi.entry, 0x100000u);
  EXPECT_TRUE(ram_equals(0x100000, image));
}

// ---- a.out kludge ----

struct AoutImage {
  std::vector<uint8_t> bytes;
  static constexpr size_t kHeaderOffset = 0x40;
};

// text+data of `size` bytes whose first byte loads at load_addr; the header
// is kHeaderOffset bytes into the file.
AoutImage aout_image(uint32_t load_addr, size_t size, uint32_t load_end, uint32_t bss_end, uint32_t entry,
                     uint32_t header_addr_delta = AoutImage::kHeaderOffset) {
  AoutImage img;
  img.bytes = pattern(size, 11);
  const size_t off = AoutImage::kHeaderOffset;
  std::vector<uint8_t> h = mb_header(kMbPageAlign | kMbMemInfo | kMbAoutKludge);
  std::memcpy(img.bytes.data() + off, h.data(), h.size());
  put32(img.bytes, off + 12, load_addr + header_addr_delta);
  put32(img.bytes, off + 16, load_addr);
  put32(img.bytes, off + 20, load_end);
  put32(img.bytes, off + 24, bss_end);
  put32(img.bytes, off + 28, entry);
  return img;
}

TEST_F(MultibootTest, AoutKludgeLoadsTextDataAndZeroesBss) {
  std::memset(ram.ptr(0x200000), 0xcc, 0x4000);
  AoutImage img = aout_image(0x200000, 0x1800, 0x201800, 0x203000, 0x200080);
  BootInfo bi = load_multiboot(ram, img.bytes, "k");
  EXPECT_EQ(bi.entry, 0x200080u);
  EXPECT_EQ(bi.eax, kBootloaderMagic);
  EXPECT_TRUE(ram_equals(0x200000, img.bytes));
  EXPECT_TRUE(ram_filled(0x201800, 0x1800, 0));
  EXPECT_TRUE(ram_filled(0x203000, 0x1000, 0xcc));
  EXPECT_EQ(get_string(get32(bi.ebx + 16)), "k");
}

TEST_F(MultibootTest, AoutKludgeLoadEndZeroMeansWholeFile) {
  AoutImage img = aout_image(0x100000, 0x2345, 0, 0, 0x100000);
  load_multiboot(ram, img.bytes, "");
  EXPECT_TRUE(ram_equals(0x100000, img.bytes));
}

TEST_F(MultibootTest, AoutKludgeLoadsFromTheOffsetThatPlacesTheHeaderAtHeaderAddr) {
  // header_addr - load_addr = 0x20 while the header is 0x40 into the file:
  // loading starts 0x20 bytes into the file.
  AoutImage img = aout_image(0x100000, 0x1000, 0x100100, 0, 0x100000, 0x20);
  load_multiboot(ram, img.bytes, "");
  EXPECT_TRUE(ram_equals(0x100000, std::vector<uint8_t>(img.bytes.begin() + 0x20, img.bytes.begin() + 0x120)));
}

TEST_F(MultibootTest, AoutKludgeTakesPrecedenceOverElfHeaders) {
  // An ELF file whose multiboot header has the address fields: they win.
  ElfBuilder b;
  b.segments.push_back({0x100000, pattern(0x100, 1), 0x100});
  b.mb_flags = kMbMemInfo | kMbAoutKludge;
  std::vector<uint8_t> image = b.build();
  const size_t off = ElfBuilder::kMbHeaderOffset;
  put32(image, off + 12, 0x300000 + off);
  put32(image, off + 16, 0x300000);
  put32(image, off + 20, 0);
  put32(image, off + 24, 0);
  put32(image, off + 28, 0x300000);
  BootInfo bi = load_multiboot(ram, image, "");
  EXPECT_EQ(bi.entry, 0x300000u);
  EXPECT_TRUE(ram_equals(0x300000, image));
}

TEST_F(MultibootTest, AoutKludgeRejectsLoadAddrAboveHeaderAddr) {
  AoutImage img = aout_image(0x100000, 0x1000, 0, 0, 0x100000);
  put32(img.bytes, AoutImage::kHeaderOffset + 12, 0xfffff);
  expect_error(img.bytes, "load_addr");
}

TEST_F(MultibootTest, AoutKludgeRejectsImageStartingBeforeTheFile) {
  AoutImage img = aout_image(0x100000, 0x1000, 0, 0, 0x100000, 0x1000);
  expect_error(img.bytes, "before the start of the file");
}

TEST_F(MultibootTest, AoutKludgeRejectsLoadEndPastEndOfFile) {
  AoutImage img = aout_image(0x100000, 0x1000, 0x102000, 0, 0x100000);
  expect_error(img.bytes, "past the end of the file");
}

TEST_F(MultibootTest, AoutKludgeRejectsLoadEndBelowLoadAddr) {
  AoutImage img = aout_image(0x100000, 0x1000, 0xff000, 0, 0x100000);
  expect_error(img.bytes, "load_end_addr");
}

TEST_F(MultibootTest, AoutKludgeRejectsBssEndBelowLoadEnd) {
  AoutImage img = aout_image(0x100000, 0x1000, 0x101000, 0x100800, 0x100000);
  expect_error(img.bytes, "bss_end_addr");
}

TEST_F(MultibootTest, AoutKludgeRejectsBssOutsideRam) {
  AoutImage img = aout_image(0x100000, 0x1000, 0x101000, 0xfffffff0, 0x100000);
  expect_error(img.bytes, "outside guest RAM (16 MiB)");
}

TEST_F(MultibootTest, AoutKludgeRejectsEntryOutsideImage) {
  AoutImage img = aout_image(0x100000, 0x1000, 0x101000, 0x102000, 0x102000);
  expect_error(img.bytes, "entry point 0x102000");
}

TEST_F(MultibootTest, AoutKludgeHeaderTruncatedByEndOfFile) {
  std::vector<uint8_t> image(0x40, 0);
  std::vector<uint8_t> h = mb_header(kMbAoutKludge);
  std::memcpy(image.data() + 0x30, h.data(), h.size());  // Address fields would run past the end.
  expect_error(image, "truncated");
}

// ---- Malformed images ----

TEST_F(MultibootTest, NoHeader) {
  std::vector<uint8_t> image = pattern(0x4000, 1);
  expect_error(image, "no multiboot header");
  expect_error({}, "no multiboot header");
  expect_error({0x02, 0xb0, 0xad, 0x1b}, "no multiboot header");
}

TEST_F(MultibootTest, HeaderBeyondFirst8KiBIsNotFound) {
  std::vector<uint8_t> image(0x4000, 0);
  std::vector<uint8_t> h = mb_header(kMbMemInfo);
  std::memcpy(image.data() + 8192, h.data(), h.size());
  expect_error(image, "no multiboot header");
}

TEST_F(MultibootTest, MisalignedHeaderIsNotFound) {
  std::vector<uint8_t> image(0x100, 0);
  std::vector<uint8_t> h = mb_header(kMbMemInfo);
  std::memcpy(image.data() + 2, h.data(), h.size());
  expect_error(image, "no multiboot header");
}

TEST_F(MultibootTest, BadChecksum) {
  std::vector<uint8_t> image = simple_kernel().build();
  put32(image, ElfBuilder::kMbHeaderOffset + 8, 0x12345678);
  expect_error(image, "bad checksum");
}

TEST_F(MultibootTest, UnsupportedRequiredFlag) {
  ElfBuilder b = simple_kernel();
  b.mb_flags = kMbMemInfo | (1u << 3);
  std::string msg = expect_error(b.build(), "does not support");
  EXPECT_NE(msg.find("0x8"), std::string::npos) << msg;
}

TEST_F(MultibootTest, NotElfWithoutAoutKludge) {
  std::vector<uint8_t> image(0x100, 0);
  std::vector<uint8_t> h = mb_header(kMbMemInfo);
  std::memcpy(image.data() + 0x10, h.data(), h.size());
  expect_error(image, "not an ELF file");
}

TEST_F(MultibootTest, TruncatedElfHeader) {
  // ELF magic, then the multiboot header, and the file ends at 28 bytes.
  std::vector<uint8_t> image = {0x7f, 'E', 'L', 'F', 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  std::vector<uint8_t> h = mb_header(kMbMemInfo);
  image.insert(image.end(), h.begin(), h.end());
  expect_error(image, "truncated ELF header");
}

TEST_F(MultibootTest, TruncatedProgramHeaders) {
  ElfBuilder b = simple_kernel();
  std::vector<uint8_t> image = b.build();
  put16(image, 44, 200);  // e_phnum: the table now runs far past the file's end.
  put32(image, 28, static_cast<uint32_t>(image.size() - 64));
  expect_error(image, "truncated ELF program header table");
}

TEST_F(MultibootTest, ProgramHeaderOffsetPastEndOfFile) {
  std::vector<uint8_t> image = simple_kernel().build();
  put32(image, 28, 0xfffffff0);
  expect_error(image, "truncated ELF program header table");
}

TEST_F(MultibootTest, AbsurdProgramHeaderCount) {
  std::vector<uint8_t> image = simple_kernel().build();
  put16(image, 44, 0xffff);
  expect_error(image, "program headers (at most");
}

TEST_F(MultibootTest, NoProgramHeaders) {
  std::vector<uint8_t> image = simple_kernel().build();
  put16(image, 44, 0);
  expect_error(image, "no program headers");
}

TEST_F(MultibootTest, SmallProgramHeaderEntrySize) {
  std::vector<uint8_t> image = simple_kernel().build();
  put16(image, 42, 16);
  expect_error(image, "program header size 16");
}

TEST_F(MultibootTest, NoLoadSegments) {
  ElfBuilder b = simple_kernel();
  b.segments[0].type = kPtNote;
  expect_error(b.build(), "no PT_LOAD segments");
}

TEST_F(MultibootTest, SixtyFourBitElf) {
  std::vector<uint8_t> image = simple_kernel().build();
  image[4] = 2;  // ELFCLASS64
  expect_error(image, "64-bit ELF is not supported");
}

TEST_F(MultibootTest, InvalidElfClass) {
  std::vector<uint8_t> image = simple_kernel().build();
  image[4] = 0;
  expect_error(image, "invalid ELF class 0");
}

TEST_F(MultibootTest, BigEndianElf) {
  std::vector<uint8_t> image = simple_kernel().build();
  image[5] = 2;  // ELFDATA2MSB
  expect_error(image, "little-endian");
}

TEST_F(MultibootTest, WrongMachine) {
  std::vector<uint8_t> image = simple_kernel().build();
  put16(image, 18, 62);  // EM_X86_64
  expect_error(image, "ELF machine 62 is not i386");
}

TEST_F(MultibootTest, NotAnExecutable) {
  std::vector<uint8_t> image = simple_kernel().build();
  put16(image, 16, 3);  // ET_DYN
  expect_error(image, "not an executable");
}

TEST_F(MultibootTest, SegmentOutsideRam) {
  ElfBuilder b;
  b.segments.push_back({0x100000, pattern(0x100, 1), 0x9000000});
  b.segments.push_back({0x200000, pattern(0x100, 1), 0x100});
  b.segments.push_back({0xfff00000, pattern(0x100, 1), 0x100});
  GuestRam ram64(64 * kMiB);
  try {
    load_multiboot(ram64, b.build(), "");
    FAIL() << "accepted";
  } catch (const LoadError& e) {
    EXPECT_STREQ(e.what(), "ELF segment 0 [0x100000, 0x9100000) lies outside guest RAM (64 MiB)");
  }
}

TEST_F(MultibootTest, HugeMemsz) {
  ElfBuilder b;
  b.segments.push_back({0x100000, pattern(0x100, 1), 0xFFFFFFFF});
  std::string msg = expect_error(b.build(), "lies outside guest RAM");
  EXPECT_NE(msg.find("0x1000fffff"), std::string::npos) << "end computed without wrapping: " << msg;
}

TEST_F(MultibootTest, SegmentAtTopOfAddressSpace) {
  ElfBuilder b;
  b.entry = 0xfffff000;
  b.segments.push_back({0xfffff000, pattern(0x100, 1), 0x2000});
  expect_error(b.build(), "[0xfffff000, 0x100001000) lies outside guest RAM");
}

TEST_F(MultibootTest, SegmentInLegacyHole) {
  ElfBuilder b;
  b.entry = 0xb8000;
  b.segments.push_back({0xb8000, pattern(0x100, 1), 0x1000});
  expect_error(b.build(), "reserved");
}

TEST_F(MultibootTest, OverlappingSegments) {
  ElfBuilder b;
  b.segments.push_back({0x100000, pattern(0x100, 1), 0x2000});
  b.segments.push_back({0x101000, pattern(0x100, 2), 0x1000});
  expect_error(b.build(), "ELF segment 0 [0x100000, 0x102000) and ELF segment 1 [0x101000, 0x102000) overlap");
}

TEST_F(MultibootTest, OverlapIsFoundWhateverTheOrder) {
  ElfBuilder b;
  b.segments.push_back({0x300000, pattern(0x100, 1), 0x1000});
  b.segments.push_back({0x100000, pattern(0x100, 1), 0x1000});
  b.segments.push_back({0x2ff800, pattern(0x100, 1), 0x1000});
  expect_error(b.build(), "overlap");
}

TEST_F(MultibootTest, AdjacentSegmentsAreFine) {
  ElfBuilder b;
  b.segments.push_back({0x100000, pattern(0x100, 1), 0x1000});
  b.segments.push_back({0x101000, pattern(0x100, 2), 0x1000});
  EXPECT_NO_THROW(load_multiboot(ram, b.build(), ""));
}

TEST_F(MultibootTest, FileSizeLargerThanMemSize) {
  ElfBuilder b;
  b.segments.push_back({0x100000, pattern(0x200, 1), 0x100});
  expect_error(b.build(), "more file data");
}

TEST_F(MultibootTest, SegmentFileDataPastEndOfFile) {
  std::vector<uint8_t> image = simple_kernel().build();
  put32(image, ElfBuilder::phdr_offset(0) + 4, 0xfffff000);  // p_offset
  expect_error(image, "ELF segment 0 file data [0xfffff000, 0x100000800) lies past the end of the file");
}

TEST_F(MultibootTest, EntryOutsideLoadedSegments) {
  ElfBuilder b = simple_kernel();
  b.entry = 0x200000;
  expect_error(b.build(), "entry point 0x200000 is not inside any loaded segment");
}

TEST_F(MultibootTest, FailedLoadLeavesRamUntouched) {
  std::memset(ram.ptr(0x100000), 0xcc, 0x2000);
  std::memset(ram.ptr(0x9000), 0xcc, 0x1000);
  ElfBuilder b = simple_kernel();
  b.segments.push_back({0x200000, pattern(0x10, 1), 0x20000000});  // Second segment is bad.
  expect_error(b.build(), "outside guest RAM");
  EXPECT_TRUE(ram_filled(0x100000, 0x2000, 0xcc));
  EXPECT_TRUE(ram_filled(0x9000, 0x1000, 0xcc));
}

TEST_F(MultibootTest, NoRoomForBootInformation) {
  // RAM just large enough for a kernel filling all of low memory and all of
  // high memory, so the information fits nowhere.
  GuestRam small(2 * kMiB);
  ElfBuilder b;
  b.entry = 0x1000;
  b.segments.push_back({0x0, pattern(0x10, 1), 0x9FC00});
  b.segments.push_back({0x100000, pattern(0x10, 1), 0x100000});
  try {
    load_multiboot(small, b.build(), "");
    FAIL() << "accepted";
  } catch (const LoadError& e) {
    EXPECT_NE(std::string(e.what()).find("no room for the multiboot information"), std::string::npos) << e.what();
  }
}

// Every prefix of a valid image, and images with random bytes changed in
// their headers, must load or fail with LoadError: never crash, never read
// outside the vector (run under -DVMM_SANITIZE=ON to check the latter).
TEST_F(MultibootTest, TruncatedAndCorruptedImagesNeverCrash) {
  ElfBuilder b;
  b.entry = 0x100000;
  b.segments.push_back({0x100000, pattern(0x300, 1), 0x1000});
  b.segments.push_back({0x102000, pattern(0x80, 2), 0x800});
  const std::vector<uint8_t> good = b.build();
  ASSERT_NO_THROW(load_multiboot(ram, good, ""));

  for (size_t len = 0; len < good.size(); len += (len < 0x900 ? 1 : 61)) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(len));
    try {
      load_multiboot(ram, cut, "");
    } catch (const LoadError&) {
    }
  }

  std::mt19937 rng(1234);
  for (int iter = 0; iter < 3000; ++iter) {
    std::vector<uint8_t> bad = good;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) {
      // Mostly the ELF header and program headers, sometimes the multiboot header.
      size_t off = (rng() % 4 == 0) ? ElfBuilder::kMbHeaderOffset + rng() % 48 : rng() % 0x74;
      bad[off] = static_cast<uint8_t>(rng());
    }
    try {
      load_multiboot(ram, bad, "x");
    } catch (const LoadError&) {
    }
  }
}

// ---- Flat binaries ----

TEST_F(MultibootTest, FlatImageLoadsAtAddress) {
  const std::vector<uint8_t> image = pattern(0x300, 4);
  BootInfo bi = load_flat(ram, image, 0x7c00, 0x7c10);
  EXPECT_EQ(bi.entry, 0x7c10u);
  EXPECT_EQ(bi.eax, 0u);
  EXPECT_EQ(bi.ebx, 0u);
  EXPECT_TRUE(ram_equals(0x7c00, image));
}

TEST_F(MultibootTest, FlatImageMayFillRamExactly) {
  const std::vector<uint8_t> image = pattern(0x1000, 4);
  EXPECT_NO_THROW(load_flat(ram, image, ram.size() - 0x1000, ram.size() - 0x1000));
}

TEST_F(MultibootTest, FlatImageOutsideRam) {
  try {
    load_flat(ram, pattern(0x2000, 4), static_cast<uint32_t>(ram.size() - 0x1000), ram.size() - 0x1000);
    FAIL() << "accepted";
  } catch (const LoadError& e) {
    EXPECT_STREQ(e.what(), "flat image [0xfff000, 0x1001000) lies outside guest RAM (16 MiB)");
  }
  EXPECT_THROW(load_flat(ram, pattern(0x10, 4), 0xfffffff8, 0xfffffff8), LoadError);
}

TEST_F(MultibootTest, FlatEntryOutsideImage) {
  EXPECT_THROW(load_flat(ram, pattern(0x100, 4), 0x1000, 0x1100), LoadError);
  EXPECT_THROW(load_flat(ram, pattern(0x100, 4), 0x1000, 0xfff), LoadError);
}

TEST_F(MultibootTest, FlatEmptyImage) { EXPECT_THROW(load_flat(ram, {}, 0x1000, 0x1000), LoadError); }

}  // namespace
}  // namespace vmm

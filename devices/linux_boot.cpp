#include "devices/linux_boot.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "runtime/message_text.h"

namespace vmm {

namespace {

// ---- The setup header (boot.rst, "The real-mode kernel header"): file
// offsets, which are also its offsets in the zero page. ----

constexpr uint64_t kSetupSectsOff = 0x1F1;  // u8; 0 means 4.
constexpr uint64_t kSyssizeOff = 0x1F4;     // u32 (2.04+): protected-mode code in 16-byte paragraphs.
constexpr uint64_t kBootFlagOff = 0x1FE;    // u16: 0xAA55.
constexpr uint64_t kJumpOff = 0x200;        // u16: a short JMP; its displacement gives the header's end.
constexpr uint64_t kHeaderMagicOff = 0x202;  // "HdrS".
constexpr uint64_t kVersionOff = 0x206;      // u16: protocol version (major << 8 | minor).
constexpr uint64_t kTypeOfLoaderOff = 0x210;
constexpr uint64_t kLoadflagsOff = 0x211;
constexpr uint64_t kCode32StartOff = 0x214;
constexpr uint64_t kRamdiskImageOff = 0x218;
constexpr uint64_t kRamdiskSizeOff = 0x21C;
constexpr uint64_t kHeapEndPtrOff = 0x224;  // u16 (2.01+).
constexpr uint64_t kExtLoaderVerOff = 0x226;
constexpr uint64_t kExtLoaderTypeOff = 0x227;
constexpr uint64_t kCmdLinePtrOff = 0x228;     // u32 (2.02+).
constexpr uint64_t kInitrdAddrMaxOff = 0x22C;  // u32 (2.03+).
constexpr uint64_t kKernelAlignmentOff = 0x230;  // u32 (2.05+).
constexpr uint64_t kRelocatableOff = 0x234;      // u8 (2.05+).
constexpr uint64_t kCmdlineSizeOff = 0x238;      // u32 (2.06+).
constexpr uint64_t kSetupDataOff = 0x250;        // u64 (2.09+).
constexpr uint64_t kPrefAddressOff = 0x258;      // u64 (2.10+).
constexpr uint64_t kInitSizeOff = 0x260;         // u32 (2.10+).

constexpr uint16_t kBootFlag = 0xAA55;
constexpr uint8_t kHeaderMagic[4] = {'H', 'd', 'r', 'S'};
constexpr uint8_t kShortJmp = 0xEB;
// The header's last field is followed in struct boot_params by
// edd_mbr_sig_buffer at 0x290 (zero-page.rst): a longer header cannot be
// one this loader knows how to copy.
constexpr uint64_t kZeroPageAfterHeader = 0x290;

// Protocol versions that added the fields read here.
constexpr uint16_t kMinVersion = 0x0204;  // syssize is 32 bits wide from 2.04 on.
constexpr uint16_t kVersionAlignment = 0x0205;
constexpr uint16_t kVersionCmdlineSize = 0x0206;
constexpr uint16_t kVersionInitSize = 0x020A;  // 2.10

// loadflags bits.
constexpr uint8_t kLoadedHigh = 1u << 0;    // The protected-mode code loads at 0x100000.
constexpr uint8_t kQuietFlag = 1u << 5;     // Set by a loader that wants no early messages.
constexpr uint8_t kKeepSegments = 1u << 6;  // Obsolete; the kernel must reload its segments.
constexpr uint8_t kCanUseHeap = 1u << 7;    // heap_end_ptr is valid.

// type_of_loader: a loader with no assigned ID.
constexpr uint8_t kLoaderUndefined = 0xFF;
// Before 2.06 the command line may hold at most 255 bytes (cmdline_size).
constexpr uint32_t kOldCmdlineSize = 255;

// ---- The zero page (zero-page.rst; struct boot_params) ----

constexpr uint64_t kZeroPageSize = 4096;
constexpr uint64_t kAltMemKOff = 0x1E0;
constexpr uint64_t kE820EntriesOff = 0x1E8;
constexpr uint64_t kE820TableOff = 0x2D0;
constexpr uint64_t kE820MaxEntries = 128;
constexpr uint64_t kE820EntrySize = 20;  // struct boot_e820_entry: u64 addr, u64 size, u32 type.
constexpr uint32_t kE820Ram = 1;
constexpr uint32_t kE820Reserved = 2;

// ---- The guest physical layout ----

constexpr uint64_t kKiB = 1024;
constexpr uint64_t kPageSize = 4096;
// The protected-mode kernel of a LOADED_HIGH image (boot.rst, "Loading the
// rest of the kernel").
constexpr uint64_t kKernelLoadAddr = 0x100000;
// Conventional memory ends where a BIOS keeps its extended data area; from
// there to 1 MiB is the BIOS area (the ACPI tables live there too).
constexpr uint64_t kEbdaStart = 0x9FC00;
constexpr uint64_t kHighMemoryStart = 0x100000;
// Where a 16-bit loader would put the real-mode code of a 2.02+ kernel
// (boot.rst, "Sample boot configuration": X = 0x10000) and so the zero
// page; the command line follows the setup heap at 0x20000, as QEMU lays
// them out. heap_end_ptr counts from the real-mode code's start, less 0x200.
constexpr uint64_t kZeroPageAddr = 0x10000;
constexpr uint64_t kCmdlineAddr = 0x20000;
constexpr uint16_t kHeapEndPtr = static_cast<uint16_t>(kCmdlineAddr - kZeroPageAddr - 0x200);
// The boot GDT: null, null, __BOOT_CS, __BOOT_DS. Flat 4 GiB (base 0, limit
// 0xFFFFF with G=1), 32-bit (D/B=1), present, DPL 0; type 0xB
// (execute/read, accessed) and 0x3 (read/write, accessed).
constexpr uint64_t kGdtAddr = 0x1000;
constexpr uint64_t kGdt[4] = {0, 0, 0x00CF9B000000FFFFull, 0x00CF93000000FFFFull};
static_assert(kLinuxBootCs == 2 * 8 && kLinuxBootDs == 3 * 8);

// ---- Helpers ----

std::string version_text(uint16_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%u.%02u", v >> 8, v & 0xFF);
  return buf;
}

[[noreturn]] void fail(const std::string& what) { throw LoadError(what); }

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// Little-endian reads; each caller checks the extent first for a precise
// message, and these checks are the backstop.
class Reader {
 public:
  explicit Reader(const std::vector<uint8_t>& bytes) : bytes_(bytes) {}
  uint64_t size() const { return bytes_.size(); }
  bool contains(uint64_t offset, uint64_t length) const {
    return offset <= bytes_.size() && length <= bytes_.size() - offset;
  }
  void check(uint64_t offset, uint64_t length) const {
    if (!contains(offset, length)) {
      fail("image truncated: " + std::to_string(length) + " bytes at offset " + hex_text(offset) + " lie past its end (" +
           std::to_string(bytes_.size()) + " bytes)");
    }
  }
  uint64_t get(uint64_t offset, unsigned length) const {
    check(offset, length);
    uint64_t v = 0;
    for (unsigned i = 0; i < length; ++i) v |= uint64_t{bytes_[offset + i]} << (8 * i);
    return v;
  }
  uint8_t u8(uint64_t offset) const { return static_cast<uint8_t>(get(offset, 1)); }
  uint16_t u16(uint64_t offset) const { return static_cast<uint16_t>(get(offset, 2)); }
  uint32_t u32(uint64_t offset) const { return static_cast<uint32_t>(get(offset, 4)); }
  uint64_t u64(uint64_t offset) const { return get(offset, 8); }
  const uint8_t* data(uint64_t offset, uint64_t length) const {
    check(offset, length);
    return bytes_.data() + offset;
  }

 private:
  const std::vector<uint8_t>& bytes_;
};

bool has_magic(const Reader& r) {
  return r.contains(kHeaderMagicOff, sizeof kHeaderMagic) &&
         std::memcmp(r.data(kHeaderMagicOff, sizeof kHeaderMagic), kHeaderMagic, sizeof kHeaderMagic) == 0;
}

void put(GuestRam& ram, uint64_t addr, uint64_t v, unsigned length) {
  uint8_t* p = ram.ptr(static_cast<uint32_t>(addr));
  for (unsigned i = 0; i < length; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// What the header says, checked.
struct Header {
  uint16_t version;
  uint64_t header_end;    // 0x202 + the jump's displacement byte.
  uint64_t kernel_offset;  // (setup_sects + 1) * 512.
  uint64_t kernel_size;    // The rest of the file.
  uint8_t loadflags;
  uint32_t code32_start;
  uint64_t initrd_addr_max;
  uint64_t cmdline_size;
  uint64_t needs_end;  // The end of the memory the kernel needs from 0x100000 on.
};

Header check_header(const Reader& r, uint64_t ram_size) {
  Header h{};
  if (!has_magic(r)) fail("no Linux setup header (signature \"HdrS\" at offset 0x202)");
  const uint16_t boot_flag = r.u16(kBootFlagOff);
  if (boot_flag != kBootFlag) fail("boot_flag " + hex_text(boot_flag) + " at offset 0x1fe is not 0xaa55");
  if (!r.contains(kVersionOff, 2)) fail("setup header truncated: the file ends before the version field at 0x206");
  h.version = r.u16(kVersionOff);
  if (h.version < kMinVersion) {
    fail("boot protocol version " + version_text(h.version) + " is too old (2.04 or later is required)");
  }

  // boot.rst, "32-bit boot protocol": the setup header ends at 0x202 plus
  // the byte at 0x201, the displacement of the short JMP at 0x200.
  const uint8_t jump = r.u8(kJumpOff);
  if (jump != kShortJmp) fail("jump at offset 0x200 is " + hex_text(jump) + ", not a short JMP (0xeb)");
  h.header_end = kHeaderMagicOff + r.u8(kJumpOff + 1);
  if (h.header_end > kZeroPageAfterHeader) {
    fail("setup header length (the jump at 0x200 ends it at " + hex_text(h.header_end) +
         ") runs past the header's place in boot_params (" + hex_text(kZeroPageAfterHeader) + ")");
  }
  uint64_t fields_end = kInitrdAddrMaxOff + 4;
  if (h.version >= kVersionAlignment) fields_end = kRelocatableOff + 1;
  if (h.version >= kVersionCmdlineSize) fields_end = kCmdlineSizeOff + 4;
  if (h.version >= kVersionInitSize) fields_end = kInitSizeOff + 4;
  if (h.header_end < fields_end) {
    fail("setup header length (the jump at 0x200 ends it at " + hex_text(h.header_end) + ") is too short for protocol " +
         version_text(h.version) + ", whose fields end at " + hex_text(fields_end));
  }
  if (!r.contains(0, h.header_end)) {
    fail("setup header truncated: it ends at " + hex_text(h.header_end) + " but the file has " + hex_text(r.size()) +
         " bytes");
  }

  // boot.rst, "Loading the rest of the kernel": the protected-mode kernel
  // starts at (setup_sects + 1) * 512 in the file; setup_sects 0 means 4.
  const uint8_t setup_sects_field = r.u8(kSetupSectsOff);
  const uint64_t setup_sects = setup_sects_field == 0 ? 4 : setup_sects_field;
  h.kernel_offset = (setup_sects + 1) * 512;
  if (h.kernel_offset >= r.size()) {
    fail("setup_sects " + std::to_string(setup_sects_field) + " puts the protected-mode kernel at offset " +
         hex_text(h.kernel_offset) + ", at or past the end of the file (" + hex_text(r.size()) + " bytes)");
  }
  h.kernel_size = r.size() - h.kernel_offset;
  // syssize counts 16-byte paragraphs, the last one possibly partial.
  const uint64_t syssize = r.u32(kSyssizeOff);
  if (syssize > (h.kernel_size + 15) / 16) {
    fail("syssize " + hex_text(syssize) + " (16-byte paragraphs) is more than the " + hex_text(h.kernel_size) +
         " bytes the file holds after setup_sects " + std::to_string(setup_sects_field) + " (truncated?)");
  }

  h.loadflags = r.u8(kLoadflagsOff);
  if (!(h.loadflags & kLoadedHigh)) {
    fail("loadflags " + hex_text(h.loadflags) + " lacks LOADED_HIGH (bit 0): a zImage loaded at 0x10000 is not supported");
  }
  const uint64_t kernel_end = kKernelLoadAddr + h.kernel_size;
  h.code32_start = r.u32(kCode32StartOff);
  if (h.code32_start < kKernelLoadAddr || h.code32_start >= kernel_end) {
    fail("code32_start " + hex_text(h.code32_start) + " is outside the protected-mode kernel loaded at " +
         range_text(kKernelLoadAddr, kernel_end));
  }
  if (kernel_end > ram_size) {
    fail("the protected-mode kernel (" + hex_text(h.kernel_size) + " bytes at 0x100000) does not fit in guest RAM (" +
         size_text(ram_size) + ")");
  }

  // The memory the kernel needs before it reads the memory map: from 2.10
  // on, init_size bytes from its runtime start, which is pref_address
  // (LOAD_PHYSICAL_ADDR) unless a relocatable kernel loaded higher, at a
  // multiple of kernel_alignment, runs where it is (boot.rst: init_size,
  // pref_address, kernel_alignment, relocatable_kernel).
  h.needs_end = kernel_end;
  if (h.version >= kVersionInitSize) {
    const uint64_t pref_address = r.u64(kPrefAddressOff);
    const uint64_t init_size = r.u32(kInitSizeOff);
    uint64_t runtime_start = pref_address;
    if (r.u8(kRelocatableOff)) {
      const uint64_t alignment = r.u32(kKernelAlignmentOff);
      if (alignment == 0 || (alignment & (alignment - 1)) != 0) {
        fail("kernel_alignment " + hex_text(alignment) + " of a relocatable kernel is not a power of two");
      }
      runtime_start = std::max(align_up(kKernelLoadAddr, alignment), pref_address);
    }
    if (runtime_start >= (uint64_t{1} << 32)) {
      fail("pref_address " + hex_text(pref_address) + " lies beyond the 32-bit physical address space");
    }
    h.needs_end = std::max(h.needs_end, runtime_start + init_size);
    if (h.needs_end > ram_size) {
      fail("the kernel needs guest RAM up to " + hex_text(h.needs_end) + " (init_size " + hex_text(init_size) + " from " +
           hex_text(runtime_start) + "), more than the " + size_text(ram_size) + " there are");
    }
  }

  // boot.rst, initrd_addr_max: the highest address the initrd may occupy
  // (0x37FFFFFF before 2.03; every version accepted here has the field).
  h.initrd_addr_max = r.u32(kInitrdAddrMaxOff);
  h.cmdline_size = h.version >= kVersionCmdlineSize ? r.u32(kCmdlineSizeOff) : kOldCmdlineSize;
  return h;
}

struct E820Entry {
  uint64_t addr;
  uint64_t size;
  uint32_t type;
};

// RAM below the EBDA and from 1 MiB up is usable; the EBDA and the BIOS
// area up to 1 MiB (video memory, ROMs, the ACPI tables) are reserved.
std::vector<E820Entry> e820_map(uint64_t ram_size) {
  return {{0, kEbdaStart, kE820Ram},
          {kEbdaStart, kHighMemoryStart - kEbdaStart, kE820Reserved},
          {kHighMemoryStart, ram_size - kHighMemoryStart, kE820Ram}};
}

}  // namespace

bool is_linux_bzimage(const std::vector<uint8_t>& image) { return has_magic(Reader(image)); }

void check_not_pre_2_00_linux(const std::vector<uint8_t>& image) {
  const Reader r(image);
  if (has_magic(r) || !r.contains(kBootFlagOff, 2) || r.u16(kBootFlagOff) != kBootFlag) return;
  fail("a boot sector (boot_flag 0xaa55 at 0x1fe) without a Linux setup header (\"HdrS\" at 0x202) nor a multiboot "
       "header: Linux boot protocols before 2.00 are not supported");
}

LinuxBootInfo load_linux(GuestRam& ram, const std::vector<uint8_t>& image, const std::vector<uint8_t>* initrd,
                         const std::string& cmdline) {
  const Reader r(image);
  const uint64_t ram_size = ram.size();
  const Header h = check_header(r, ram_size);

  // boot.rst, cmdline_size: at most that many bytes before the NUL.
  if (cmdline.find('\0') != std::string::npos) fail("the command line contains a NUL byte");
  if (cmdline.size() > h.cmdline_size) {
    fail("the command line (" + std::to_string(cmdline.size()) + " bytes) is longer than the kernel's cmdline_size (" +
         std::to_string(h.cmdline_size) + ")");
  }
  // boot.rst, cmd_line_ptr: between the setup heap and 0xA0000; here below
  // the EBDA too.
  if (kCmdlineAddr + cmdline.size() + 1 > kEbdaStart) {
    fail("the command line (" + std::to_string(cmdline.size()) + " bytes) does not fit between " + hex_text(kCmdlineAddr) +
         " and " + hex_text(kEbdaStart));
  }

  // The initrd: page aligned, as high as possible, its last byte at most
  // initrd_addr_max, inside RAM, above all the kernel needs.
  uint64_t initrd_addr = 0;
  uint64_t initrd_size = 0;
  if (initrd) {
    initrd_size = initrd->size();
    const uint64_t limit = std::min(h.initrd_addr_max + 1, ram_size);
    const uint64_t floor = align_up(h.needs_end, kPageSize);
    if (initrd_size == 0) throw InitrdError("the initrd is empty");
    if (initrd_size > limit || (limit - initrd_size) / kPageSize * kPageSize < floor) {
      throw InitrdError("the initrd (" + size_text(initrd_size) + ") does not fit in guest RAM between the kernel (up to " +
                        hex_text(floor) + ") and " + hex_text(limit) + " (the lower of initrd_addr_max " +
                        hex_text(h.initrd_addr_max) + " + 1 and the end of RAM)");
    }
    initrd_addr = (limit - initrd_size) / kPageSize * kPageSize;
  }

  // Everything is validated and placed: only now is guest RAM written.
  std::memcpy(ram.ptr(static_cast<uint32_t>(kKernelLoadAddr)), r.data(h.kernel_offset, h.kernel_size), h.kernel_size);
  if (initrd) std::memcpy(ram.ptr(static_cast<uint32_t>(initrd_addr)), initrd->data(), initrd_size);

  uint8_t* cmd = ram.ptr(static_cast<uint32_t>(kCmdlineAddr));
  std::memcpy(cmd, cmdline.data(), cmdline.size());
  cmd[cmdline.size()] = 0;

  for (size_t i = 0; i < std::size(kGdt); ++i) put(ram, kGdtAddr + 8 * i, kGdt[i], 8);

  // boot.rst, "32-bit boot protocol": a zeroed boot_params with the setup
  // header copied in, then the loader's fields. screen_info stays zero (no
  // video: orig_video_lines/cols 0), as do the other BIOS-derived fields.
  const uint64_t zp = kZeroPageAddr;
  std::memset(ram.ptr(static_cast<uint32_t>(zp)), 0, kZeroPageSize);
  std::memcpy(ram.ptr(static_cast<uint32_t>(zp + kSetupSectsOff)), r.data(kSetupSectsOff, h.header_end - kSetupSectsOff),
              h.header_end - kSetupSectsOff);
  put(ram, zp + kTypeOfLoaderOff, kLoaderUndefined, 1);
  put(ram, zp + kLoadflagsOff, (h.loadflags & ~(kQuietFlag | kKeepSegments)) | kCanUseHeap, 1);
  put(ram, zp + kHeapEndPtrOff, kHeapEndPtr, 2);
  put(ram, zp + kExtLoaderVerOff, 0, 1);
  put(ram, zp + kExtLoaderTypeOff, 0, 1);
  put(ram, zp + kCmdLinePtrOff, kCmdlineAddr, 4);
  put(ram, zp + kRamdiskImageOff, initrd_addr, 4);
  put(ram, zp + kRamdiskSizeOff, initrd_size, 4);
  if (h.header_end >= kSetupDataOff + 8) put(ram, zp + kSetupDataOff, 0, 8);  // No setup_data list.
  put(ram, zp + kAltMemKOff, (ram_size - kHighMemoryStart) / kKiB, 4);
  const std::vector<E820Entry> map = e820_map(ram_size);
  static_assert(3 <= kE820MaxEntries);
  put(ram, zp + kE820EntriesOff, map.size(), 1);
  for (size_t i = 0; i < map.size(); ++i) {
    const uint64_t e = zp + kE820TableOff + i * kE820EntrySize;
    put(ram, e, map[i].addr, 8);
    put(ram, e + 8, map[i].size, 8);
    put(ram, e + 16, map[i].type, 4);
  }

  return LinuxBootInfo{h.code32_start,
                       static_cast<uint32_t>(zp),
                       static_cast<uint32_t>(kGdtAddr),
                       static_cast<uint16_t>(sizeof kGdt - 1),
                       kLinuxBootCs,
                       kLinuxBootDs,
                       static_cast<uint32_t>(kCmdlineAddr),
                       static_cast<uint32_t>(initrd_addr),
                       static_cast<uint32_t>(initrd_size)};
}

}  // namespace vmm

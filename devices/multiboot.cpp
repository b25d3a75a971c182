#include "devices/multiboot.h"

#include <algorithm>
#include <cstring>
#include <optional>

#include "runtime/message_text.h"

namespace vmm {

namespace {

// ---- Multiboot header (Multiboot Specification 0.6.96, 3.1 "OS image format") ----

constexpr uint32_t kHeaderMagic = 0x1BADB002;
// 3.1.1: the header lies completely within the first 8192 bytes of the image,
// 32-bit aligned.
constexpr uint64_t kHeaderSearchLimit = 8192;
constexpr uint64_t kHeaderAlign = 4;

// 3.1.1 "The layout of Multiboot header": byte offsets of its fields.
constexpr uint64_t kHeaderMagicOff = 0;
constexpr uint64_t kHeaderFlagsOff = 4;
constexpr uint64_t kHeaderChecksumOff = 8;
constexpr uint64_t kHeaderAddrOff = 12;  // header_addr; this and the next four need flag 16.
constexpr uint64_t kLoadAddrOff = 16;
constexpr uint64_t kLoadEndAddrOff = 20;
constexpr uint64_t kBssEndAddrOff = 24;
constexpr uint64_t kEntryAddrOff = 28;
// Header length: the magic fields; up to the end of the address fields. (The
// graphics fields, 32-47, are not used.)
constexpr uint64_t kHeaderMagicFieldsSize = 12;
constexpr uint64_t kHeaderAddressFieldsEnd = 32;

// 3.1.2 "The magic fields of Multiboot header": flag bits. Bits 0-15 are
// requirements a loader must refuse if it does not understand them; bits
// 16-31 are optional features.
constexpr uint32_t kHeaderFlagPageAlign = 1u << 0;   // Modules page aligned (we load none).
constexpr uint32_t kHeaderFlagMemoryInfo = 1u << 1;  // mem_* fields (and mmap) wanted.
constexpr uint32_t kHeaderFlagVideoMode = 1u << 2;   // Video mode table wanted.
constexpr uint32_t kHeaderFlagAoutKludge = 1u << 16; // Address fields valid: load by them.
constexpr uint32_t kHeaderRequiredMask = 0x0000ffff;
// Video mode (bit 2) is accepted and ignored: there is no framebuffer to
// describe, so the information's framebuffer flags stay clear and a kernel
// that checks them (as it must, 3.3) falls back to text output. GRUB also
// treats the graphics request as a preference.
constexpr uint32_t kHeaderSupportedRequired = kHeaderFlagPageAlign | kHeaderFlagMemoryInfo | kHeaderFlagVideoMode;

// ---- Boot information (3.3 "Boot information format") ----

// The boot loader name handed to the kernel (flag 9).
constexpr char kBootLoaderName[] = "vmm";

// Field offsets in the information structure.
constexpr uint32_t kInfoFlagsOff = 0;
constexpr uint32_t kInfoMemLowerOff = 4;
constexpr uint32_t kInfoMemUpperOff = 8;
constexpr uint32_t kInfoCmdlineOff = 16;
constexpr uint32_t kInfoMmapLengthOff = 44;
constexpr uint32_t kInfoMmapAddrOff = 48;
constexpr uint32_t kInfoBootLoaderNameOff = 64;
// Through the framebuffer fields (88..115); the rest stays zero.
constexpr uint64_t kInfoSize = 116;

// Information flag bits: which fields are valid.
constexpr uint32_t kInfoFlagMemory = 1u << 0;
constexpr uint32_t kInfoFlagCmdline = 1u << 2;
constexpr uint32_t kInfoFlagMmap = 1u << 6;
constexpr uint32_t kInfoFlagBootLoaderName = 1u << 9;

// A memory map entry: `size` (of the rest of the entry, not counting
// itself), then base_addr, length and type.
constexpr uint32_t kMmapEntrySizeOff = 0;
constexpr uint32_t kMmapEntryBaseOff = 4;
constexpr uint32_t kMmapEntryLengthOff = 12;
constexpr uint32_t kMmapEntryTypeOff = 20;
constexpr uint32_t kMmapEntrySize = 24;
constexpr uint32_t kMmapTypeAvailable = 1;
constexpr uint32_t kMmapTypeReserved = 2;

// ---- The PC physical memory layout the kernel is told about ----

constexpr uint64_t kKiB = 1024;
// Conventional memory ends where a BIOS keeps its extended data area, then
// the legacy video memory and ROMs occupy everything up to 1 MiB.
constexpr uint64_t kEbdaStart = 0x9FC00;
constexpr uint64_t kVideoRamStart = 0xA0000;
constexpr uint64_t kBiosRomStart = 0xF0000;
constexpr uint64_t kHighMemoryStart = 0x100000;
// mem_lower: 640 KiB, the most the spec allows (3.3), as QEMU reports it.
constexpr uint64_t kMaxLowerMemory = 640 * kKiB;

// Where the information goes by default: low memory that kernels almost
// never load into, below the EBDA, page aligned.
constexpr uint64_t kInfoPreferredAddr = 0x9000;
constexpr uint64_t kInfoLowLimit = 0x9F000;
constexpr uint64_t kPageSize = 4096;

// ---- ELF (TIS ELF 1.2, Book I, "ELF Header" and "Program Header") ----

constexpr uint8_t kElfMagic[4] = {0x7f, 'E', 'L', 'F'};
constexpr uint64_t kEiClass = 4;
constexpr uint64_t kEiData = 5;
constexpr uint64_t kEiVersion = 6;
constexpr uint8_t kElfClass32 = 1;
constexpr uint8_t kElfClass64 = 2;
constexpr uint8_t kElfData2Lsb = 1;
constexpr uint8_t kEvCurrent = 1;
constexpr uint16_t kEtExec = 2;
constexpr uint16_t kEm386 = 3;

// Elf32_Ehdr field offsets.
constexpr uint64_t kEhdrTypeOff = 16;
constexpr uint64_t kEhdrMachineOff = 18;
constexpr uint64_t kEhdrVersionOff = 20;
constexpr uint64_t kEhdrEntryOff = 24;
constexpr uint64_t kEhdrPhoffOff = 28;
constexpr uint64_t kEhdrPhentsizeOff = 42;
constexpr uint64_t kEhdrPhnumOff = 44;
constexpr uint64_t kElf32EhdrSize = 52;

// Elf32_Phdr field offsets.
constexpr uint64_t kPhdrTypeOff = 0;
constexpr uint64_t kPhdrOffsetOff = 4;
constexpr uint64_t kPhdrVaddrOff = 8;
constexpr uint64_t kPhdrPaddrOff = 12;
constexpr uint64_t kPhdrFileszOff = 16;
constexpr uint64_t kPhdrMemszOff = 20;
constexpr uint64_t kElf32PhdrSize = 32;
constexpr uint32_t kPtLoad = 1;

// A kernel has a handful of program headers; the cap bounds the work a
// hostile file can cause (the overlap check sorts them) and rejects the
// PN_XNUM escape (0xffff), which a 32-bit kernel has no use for.
constexpr uint64_t kMaxProgramHeaders = 1024;

// Nothing larger than the 32-bit physical address space can be a kernel.
constexpr uint64_t kMaxImageSize = uint64_t{1} << 32;

// ---- Helpers ----

[[noreturn]] void fail(const std::string& what) { throw LoadError(what); }

uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

// Bounds-checked little-endian reads from the image. Every caller checks the
// extent first to give a precise message; these checks are the backstop
// that keeps a missed case from reading past the vector.
class ImageReader {
 public:
  explicit ImageReader(const std::vector<uint8_t>& bytes) : bytes_(bytes) {}
  uint64_t size() const { return bytes_.size(); }
  bool contains(uint64_t offset, uint64_t length) const {
    return offset <= bytes_.size() && length <= bytes_.size() - offset;
  }
  uint8_t u8(uint64_t offset) const {
    check(offset, 1);
    return bytes_[offset];
  }
  uint16_t u16(uint64_t offset) const {
    check(offset, 2);
    return static_cast<uint16_t>(bytes_[offset] | bytes_[offset + 1] << 8);
  }
  uint32_t u32(uint64_t offset) const {
    check(offset, 4);
    return uint32_t{bytes_[offset]} | uint32_t{bytes_[offset + 1]} << 8 | uint32_t{bytes_[offset + 2]} << 16 |
           uint32_t{bytes_[offset + 3]} << 24;
  }
  const uint8_t* data(uint64_t offset, uint64_t length) const {
    check(offset, length);
    return bytes_.data() + offset;
  }

 private:
  void check(uint64_t offset, uint64_t length) const {
    if (!contains(offset, length)) {
      fail("image truncated: " + std::to_string(length) + " bytes at offset " + hex_text(offset) + " lie past its end (" +
           std::to_string(bytes_.size()) + " bytes)");
    }
  }
  const std::vector<uint8_t>& bytes_;
};

void put32(GuestRam& ram, uint64_t addr, uint32_t v) {
  uint8_t* p = ram.ptr(static_cast<uint32_t>(addr));
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void put64(GuestRam& ram, uint64_t addr, uint64_t v) {
  put32(ram, addr, static_cast<uint32_t>(v));
  put32(ram, addr + 4, static_cast<uint32_t>(v >> 32));
}

// One piece of the image bound for RAM: `file_size` bytes from `file_offset`
// copied to `addr`, then zeros up to `mem_size` (the bss).
struct Chunk {
  std::string what;  // For messages: "ELF segment 2", "a.out kludge image".
  uint64_t addr;
  uint64_t mem_size;
  uint64_t file_offset;
  uint64_t file_size;
  uint64_t end() const { return addr + mem_size; }
};

struct MemoryRegion {
  uint64_t base;
  uint64_t length;
  uint32_t type;
  uint64_t end() const { return base + length; }
};

// The memory map given to the kernel, derived from the RAM size: RAM below
// the EBDA and above 1 MiB is available; the EBDA and the BIOS ROM area are
// reserved; the video memory and option ROM window (0xA0000-0xF0000) is no
// memory at all and is left out, as a PC BIOS's E820 table does.
std::vector<MemoryRegion> memory_map(uint64_t ram_size) {
  std::vector<MemoryRegion> map;
  map.push_back({0, std::min(ram_size, kEbdaStart), kMmapTypeAvailable});
  map.push_back({kEbdaStart, kVideoRamStart - kEbdaStart, kMmapTypeReserved});
  map.push_back({kBiosRomStart, kHighMemoryStart - kBiosRomStart, kMmapTypeReserved});
  if (ram_size > kHighMemoryStart) map.push_back({kHighMemoryStart, ram_size - kHighMemoryStart, kMmapTypeAvailable});
  return map;
}

// Whether [addr, end) lies inside one available region of the map.
bool in_available_memory(const std::vector<MemoryRegion>& map, uint64_t addr, uint64_t end) {
  for (const MemoryRegion& r : map) {
    if (r.type == kMmapTypeAvailable && addr >= r.base && end <= r.end()) return true;
  }
  return false;
}

// Checks that every chunk reads only bytes of the image, lands in available
// RAM and does not overlap another. Chunks without memory are then dropped.
void validate_chunks(std::vector<Chunk>& chunks, const GuestRam& ram, const ImageReader& image) {
  for (const Chunk& c : chunks) {
    if (c.file_size > c.mem_size) {
      fail(c.what + " has more file data (" + hex_text(c.file_size) + " bytes) than memory (" + hex_text(c.mem_size) +
           " bytes)");
    }
    if (!image.contains(c.file_offset, c.file_size)) {
      fail(c.what + " file data " + range_text(c.file_offset, c.file_offset + c.file_size) +
           " lies past the end of the file (" + std::to_string(image.size()) + " bytes)");
    }
  }
  std::erase_if(chunks, [](const Chunk& c) { return c.mem_size == 0; });
  if (chunks.empty()) fail("the image has nothing to load");

  const std::vector<MemoryRegion> map = memory_map(ram.size());
  for (const Chunk& c : chunks) {
    if (!ram.contains(c.addr, c.mem_size)) {
      fail(c.what + " " + range_text(c.addr, c.end()) + " lies outside guest RAM (" + size_text(ram.size()) + ")");
    }
    if (!in_available_memory(map, c.addr, c.end())) {
      fail(c.what + " " + range_text(c.addr, c.end()) + " overlaps the reserved legacy area " +
           range_text(kEbdaStart, kHighMemoryStart));
    }
  }
  std::vector<const Chunk*> sorted;
  for (const Chunk& c : chunks) sorted.push_back(&c);
  std::sort(sorted.begin(), sorted.end(), [](const Chunk* a, const Chunk* b) { return a->addr < b->addr; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    const Chunk& a = *sorted[i - 1];
    const Chunk& b = *sorted[i];
    if (b.addr < a.end()) {
      fail(a.what + " " + range_text(a.addr, a.end()) + " and " + b.what + " " + range_text(b.addr, b.end()) + " overlap");
    }
  }
}

void copy_chunks(GuestRam& ram, const std::vector<Chunk>& chunks, const ImageReader& image) {
  for (const Chunk& c : chunks) {
    uint8_t* dst = ram.ptr(static_cast<uint32_t>(c.addr));
    if (c.file_size) std::memcpy(dst, image.data(c.file_offset, c.file_size), c.file_size);
    std::memset(dst + c.file_size, 0, c.mem_size - c.file_size);
  }
}

bool entry_in_chunks(const std::vector<Chunk>& chunks, uint64_t entry) {
  return std::any_of(chunks.begin(), chunks.end(),
                     [&](const Chunk& c) { return entry >= c.addr && entry < c.end(); });
}

struct MultibootHeader {
  uint64_t offset;  // In the file.
  uint32_t flags;
};

// 3.1.1: scan the first 8192 bytes for a 4-byte aligned magic whose
// checksum makes magic + flags + checksum zero (mod 2^32). A magic with a bad
// checksum may be stray data, so the scan goes on past it.
MultibootHeader find_header(const ImageReader& image) {
  std::optional<uint64_t> bad_checksum_at;
  const uint64_t limit = std::min<uint64_t>(image.size(), kHeaderSearchLimit);
  for (uint64_t off = 0; off + kHeaderMagicFieldsSize <= limit; off += kHeaderAlign) {
    if (image.u32(off + kHeaderMagicOff) != kHeaderMagic) continue;
    uint32_t flags = image.u32(off + kHeaderFlagsOff);
    uint32_t checksum = image.u32(off + kHeaderChecksumOff);
    if (static_cast<uint32_t>(kHeaderMagic + flags + checksum) != 0) {
      if (!bad_checksum_at) bad_checksum_at = off;
      continue;
    }
    return {off, flags};
  }
  if (bad_checksum_at) fail("multiboot header at offset " + hex_text(*bad_checksum_at) + " has a bad checksum");
  fail("no multiboot header in the first 8192 bytes (magic 0x1badb002, 4-byte aligned)");
}

void check_header(const ImageReader& image, const MultibootHeader& h) {
  uint32_t unsupported = h.flags & kHeaderRequiredMask & ~kHeaderSupportedRequired;
  if (unsupported) {
    fail("multiboot header requires features this loader does not support (flags " + hex_text(h.flags) +
         ", unsupported required bits " + hex_text(unsupported) + ")");
  }
  // The header must hold the fields this loader reads, inside the first
  // 8192 bytes and inside the file. The graphics fields (flag 2) are never
  // read, so a header cut short before them is not refused.
  const uint64_t length = (h.flags & kHeaderFlagAoutKludge) ? kHeaderAddressFieldsEnd : kHeaderMagicFieldsSize;
  if (h.offset + length > kHeaderSearchLimit || !image.contains(h.offset, length)) {
    fail("multiboot header at offset " + hex_text(h.offset) + " is truncated (its flags " + hex_text(h.flags) + " need " +
         std::to_string(length) + " bytes within the first 8192 bytes of the file)");
  }
}

// 3.1.3 "The address fields of Multiboot header": the image is loaded as one
// block of text+data from the file offset that puts the header at
// header_addr, followed by bss up to bss_end_addr.
std::vector<Chunk> aout_kludge_chunks(const ImageReader& image, const MultibootHeader& h, uint64_t* entry) {
  const uint32_t header_addr = image.u32(h.offset + kHeaderAddrOff);
  const uint32_t load_addr = image.u32(h.offset + kLoadAddrOff);
  const uint32_t load_end_addr = image.u32(h.offset + kLoadEndAddrOff);
  const uint32_t bss_end_addr = image.u32(h.offset + kBssEndAddrOff);
  *entry = image.u32(h.offset + kEntryAddrOff);

  if (load_addr > header_addr) {
    fail("a.out kludge load_addr " + hex_text(load_addr) + " is above header_addr " + hex_text(header_addr));
  }
  // The header sits (header_addr - load_addr) bytes into the loaded block.
  const uint64_t header_into_block = header_addr - load_addr;
  if (header_into_block > h.offset) {
    fail("a.out kludge header_addr " + hex_text(header_addr) + " - load_addr " + hex_text(load_addr) +
         " puts the start of the image before the start of the file (header at file offset " + hex_text(h.offset) + ")");
  }
  const uint64_t file_offset = h.offset - header_into_block;

  // load_end_addr 0 means "the rest of the file".
  uint64_t load_size;
  if (load_end_addr == 0) {
    load_size = image.size() - file_offset;
  } else {
    if (load_end_addr < load_addr) {
      fail("a.out kludge load_end_addr " + hex_text(load_end_addr) + " is below load_addr " + hex_text(load_addr));
    }
    load_size = uint64_t{load_end_addr} - load_addr;
    if (!image.contains(file_offset, load_size)) {
      fail("a.out kludge text+data " + range_text(load_addr, uint64_t{load_addr} + load_size) + " needs file bytes " +
           range_text(file_offset, file_offset + load_size) + " past the end of the file (" +
           std::to_string(image.size()) + " bytes)");
    }
  }
  const uint64_t load_end = uint64_t{load_addr} + load_size;
  // bss_end_addr 0 means no bss.
  uint64_t mem_end = load_end;
  if (bss_end_addr != 0) {
    if (bss_end_addr < load_end) {
      fail("a.out kludge bss_end_addr " + hex_text(bss_end_addr) + " is below the end of text+data " + hex_text(load_end));
    }
    mem_end = bss_end_addr;
  }
  return {Chunk{"a.out kludge image", load_addr, mem_end - load_addr, file_offset, load_size}};
}

// Loads by the ELF program headers: each PT_LOAD segment goes to its
// physical address (p_paddr), as GRUB does, so kernels linked to run at a
// high virtual address but loaded low work. The entry point is virtual; it
// is translated through the segment that contains it.
std::vector<Chunk> elf_chunks(const ImageReader& image, uint64_t* entry) {
  if (!image.contains(0, sizeof kElfMagic) || std::memcmp(image.data(0, sizeof kElfMagic), kElfMagic,
                                                          sizeof kElfMagic) != 0) {
    fail("not an ELF file, and its multiboot header has no a.out kludge address fields (flag bit 16)");
  }
  if (!image.contains(0, kElf32EhdrSize)) {
    fail("truncated ELF header (" + std::to_string(image.size()) + " bytes, an ELF32 header needs " +
         std::to_string(kElf32EhdrSize) + ")");
  }
  const uint8_t elf_class = image.u8(kEiClass);
  if (elf_class == kElfClass64) fail("64-bit ELF is not supported: multiboot v1 loads 32-bit i386 kernels");
  if (elf_class != kElfClass32) fail("invalid ELF class " + std::to_string(elf_class));
  if (image.u8(kEiData) != kElfData2Lsb) fail("ELF file is not little-endian");
  if (image.u8(kEiVersion) != kEvCurrent || image.u32(kEhdrVersionOff) != kEvCurrent) {
    fail("unsupported ELF version");
  }
  const uint16_t type = image.u16(kEhdrTypeOff);
  if (type != kEtExec) fail("ELF type " + std::to_string(type) + " is not an executable (ET_EXEC)");
  const uint16_t machine = image.u16(kEhdrMachineOff);
  if (machine != kEm386) fail("ELF machine " + std::to_string(machine) + " is not i386 (EM_386)");

  const uint32_t e_entry = image.u32(kEhdrEntryOff);
  const uint64_t phoff = image.u32(kEhdrPhoffOff);
  const uint64_t phentsize = image.u16(kEhdrPhentsizeOff);
  const uint64_t phnum = image.u16(kEhdrPhnumOff);
  if (phnum == 0) fail("ELF file has no program headers");
  if (phnum > kMaxProgramHeaders) {
    fail("ELF file has " + std::to_string(phnum) + " program headers (at most " +
         std::to_string(kMaxProgramHeaders) + " supported)");
  }
  if (phentsize < kElf32PhdrSize) {
    fail("ELF program header size " + std::to_string(phentsize) + " is smaller than Elf32_Phdr (" +
         std::to_string(kElf32PhdrSize) + ")");
  }
  if (!image.contains(phoff, phnum * phentsize)) {
    fail("truncated ELF program header table " + range_text(phoff, phoff + phnum * phentsize) + " (file is " +
         std::to_string(image.size()) + " bytes)");
  }

  std::vector<Chunk> chunks;
  std::optional<uint64_t> entry_phys;
  for (uint64_t i = 0; i < phnum; ++i) {
    const uint64_t ph = phoff + i * phentsize;
    if (image.u32(ph + kPhdrTypeOff) != kPtLoad) continue;
    const uint64_t vaddr = image.u32(ph + kPhdrVaddrOff);
    const uint64_t memsz = image.u32(ph + kPhdrMemszOff);
    Chunk c{"ELF segment " + std::to_string(i), image.u32(ph + kPhdrPaddrOff), memsz, image.u32(ph + kPhdrOffsetOff),
            image.u32(ph + kPhdrFileszOff)};
    if (!entry_phys && e_entry >= vaddr && e_entry - vaddr < memsz) entry_phys = c.addr + (e_entry - vaddr);
    chunks.push_back(std::move(c));
  }
  if (chunks.empty()) fail("ELF file has no PT_LOAD segments");
  // An entry outside every segment's virtual range may still be a physical
  // address in one of them (kernels linked with vaddr == paddr, or that set
  // e_entry to the physical start); the caller checks it is loaded.
  *entry = entry_phys.value_or(e_entry);
  return chunks;
}

// Finds room for the boot information: at the preferred low address if it
// fits below the EBDA without touching the kernel, else from the first page
// after the kernel's highest byte, in available RAM.
uint64_t place_info(const std::vector<Chunk>& chunks, const std::vector<MemoryRegion>& map, uint64_t size) {
  auto fits = [&](uint64_t addr) {
    const bool clear_of_kernel = std::none_of(chunks.begin(), chunks.end(), [&](const Chunk& c) {
      return addr < c.end() && c.addr < addr + size;
    });
    return clear_of_kernel && in_available_memory(map, addr, addr + size);
  };
  if (kInfoPreferredAddr + size <= kInfoLowLimit && fits(kInfoPreferredAddr)) return kInfoPreferredAddr;

  uint64_t kernel_end = 0;
  for (const Chunk& c : chunks) kernel_end = std::max(kernel_end, c.end());
  uint64_t addr = align_up(kernel_end, kPageSize);
  // After a kernel that ends in low memory, the next free RAM may be past
  // the reserved legacy area (nothing of the kernel lies above it).
  if (addr < kHighMemoryStart && !fits(addr)) addr = kHighMemoryStart;
  if (fits(addr)) return addr;
  fail("no room for the multiboot information (" + std::to_string(size) + " bytes) at " + hex_text(kInfoPreferredAddr) +
       " or after the kernel in guest RAM");
}

// Where each part of the boot information goes. Layout: the structure, the
// memory map (8-byte aligned for its 64-bit fields), the command line, the
// boot loader name.
struct InfoLayout {
  uint64_t base;
  uint64_t mmap_off;
  uint64_t mmap_length;
  uint64_t cmdline_off;
  uint64_t name_off;
  uint64_t total;
};

InfoLayout plan_info(const std::vector<Chunk>& chunks, const std::vector<MemoryRegion>& map,
                     const std::string& cmdline) {
  if (cmdline.find('\0') != std::string::npos) fail("the command line contains a NUL byte");
  InfoLayout l{};
  l.mmap_off = align_up(kInfoSize, 8);
  l.mmap_length = uint64_t{kMmapEntrySize} * map.size();
  l.cmdline_off = l.mmap_off + l.mmap_length;
  l.name_off = l.cmdline_off + cmdline.size() + 1;
  l.total = l.name_off + sizeof kBootLoaderName;
  l.base = place_info(chunks, map, l.total);
  return l;
}

// Writes the boot information (3.3) as planned.
void write_info(GuestRam& ram, const InfoLayout& l, const std::vector<MemoryRegion>& map, const std::string& cmdline) {
  const uint64_t base = l.base;
  std::memset(ram.ptr(static_cast<uint32_t>(base)), 0, l.total);

  const uint64_t ram_size = ram.size();
  const uint64_t mem_lower = std::min(ram_size, kMaxLowerMemory) / kKiB;
  const uint64_t mem_upper = ram_size > kHighMemoryStart ? (ram_size - kHighMemoryStart) / kKiB : 0;
  put32(ram, base + kInfoFlagsOff, kInfoFlagMemory | kInfoFlagCmdline | kInfoFlagMmap | kInfoFlagBootLoaderName);
  put32(ram, base + kInfoMemLowerOff, static_cast<uint32_t>(mem_lower));
  put32(ram, base + kInfoMemUpperOff, static_cast<uint32_t>(mem_upper));
  put32(ram, base + kInfoCmdlineOff, static_cast<uint32_t>(base + l.cmdline_off));
  put32(ram, base + kInfoMmapLengthOff, static_cast<uint32_t>(l.mmap_length));
  put32(ram, base + kInfoMmapAddrOff, static_cast<uint32_t>(base + l.mmap_off));
  put32(ram, base + kInfoBootLoaderNameOff, static_cast<uint32_t>(base + l.name_off));

  uint64_t entry = base + l.mmap_off;
  for (const MemoryRegion& r : map) {
    put32(ram, entry + kMmapEntrySizeOff, kMmapEntrySize - 4);  // `size` does not count itself.
    put64(ram, entry + kMmapEntryBaseOff, r.base);
    put64(ram, entry + kMmapEntryLengthOff, r.length);
    put32(ram, entry + kMmapEntryTypeOff, r.type);
    entry += kMmapEntrySize;
  }
  // The memset above supplied both strings' terminating NULs.
  std::memcpy(ram.ptr(static_cast<uint32_t>(base + l.cmdline_off)), cmdline.data(), cmdline.size());
  std::memcpy(ram.ptr(static_cast<uint32_t>(base + l.name_off)), kBootLoaderName, sizeof kBootLoaderName);
}

}  // namespace

BootInfo load_multiboot(GuestRam& ram, const std::vector<uint8_t>& image, const std::string& cmdline) {
  const ImageReader reader(image);
  if (image.size() > kMaxImageSize) fail("image is larger than 4 GiB");
  const MultibootHeader header = find_header(reader);
  check_header(reader, header);

  // 3.1.3: when the address fields are valid the loader uses them instead
  // of the executable's own headers, whatever the file format.
  uint64_t entry = 0;
  std::vector<Chunk> chunks = (header.flags & kHeaderFlagAoutKludge) ? aout_kludge_chunks(reader, header, &entry)
                                                                     : elf_chunks(reader, &entry);
  validate_chunks(chunks, ram, reader);
  if (!entry_in_chunks(chunks, entry)) fail("entry point " + hex_text(entry) + " is not inside any loaded segment");

  const std::vector<MemoryRegion> map = memory_map(ram.size());
  const InfoLayout info = plan_info(chunks, map, cmdline);

  // Everything is validated and placed: only now is guest RAM written.
  copy_chunks(ram, chunks, reader);
  write_info(ram, info, map, cmdline);
  return BootInfo{static_cast<uint32_t>(entry), kMultibootBootloaderMagic, static_cast<uint32_t>(info.base)};
}

BootInfo load_flat(GuestRam& ram, const std::vector<uint8_t>& image, uint32_t load_addr, uint32_t entry) {
  if (image.empty()) fail("image is empty");
  const uint64_t end = uint64_t{load_addr} + image.size();
  // A flat image goes exactly where asked (it may be a firmware-like image
  // placed in the legacy area on purpose), so only RAM bounds apply.
  if (!ram.contains(load_addr, image.size())) {
    fail("flat image " + range_text(load_addr, end) + " lies outside guest RAM (" + size_text(ram.size()) + ")");
  }
  if (entry < load_addr || entry >= end) {
    fail("entry point " + hex_text(entry) + " is outside the flat image " + range_text(load_addr, end));
  }
  std::memcpy(ram.ptr(load_addr), image.data(), image.size());
  return BootInfo{entry, 0, 0};
}

}  // namespace vmm

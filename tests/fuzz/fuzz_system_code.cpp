// Fuzz harness: random system-level guest code, the JIT against the
// interpreter in lockstep (runtime/lockstep.h).
//
// The input chooses a whole protected-mode machine: CR0 and CR4 bits,
// EFLAGS (IOPL, IF, TF, DF, AC included), the starting ring, the general
// registers, a GDT (code and data segments of both rings and odd shapes,
// a second TSS, an LDT, call gates, broken descriptors), an IDT (interrupt,
// trap and task gates of both DPLs, not-present and bad gates), a TSS with or
// without an I/O bitmap, a page directory and page tables (present, writable,
// user and global bits per page, aliases, a 4 MiB page, garbage entries),
// and the bytes of the code pages that the gates point into. A fixed
// prologue (below) loads all of it architecturally — LGDT, LIDT, MOV CR4,
// CR3, CR0, a far jump, segment loads, LTR — and IRETs into the fuzzed code
// at the chosen ring, so both engines build their state the way a guest
// kernel does. Everything the guest can do is reachable from there:
// privileged and sensitive instructions, far transfers, task switches,
// port I/O (no devices: reads float), INT/INTO/BOUND, IRET, SYSENTER,
// x87, self-modifying stores, page-table rewrites, CR3 loads, INVLPG.
//
// The machine runs twice: under the interpreter (the reference) and under
// the JIT with the memory path the input picks (host-MMU guest views or
// softmmu TLB probes), compared after every `interval` instructions:
// registers, segments, control and descriptor-table registers, x87/SSE
// state, instruction counts, and RAM.
// Any difference aborts with both states: a finding.
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "devices/bus.h"
#include "runtime/cpu.h"
#include "runtime/guest_ram.h"
#include "runtime/interrupts.h"
#include "runtime/lockstep.h"
#include "runtime/log.h"
#include "tests/fuzz/fuzz_input.h"

namespace vmm {
namespace {

using fuzz::FuzzInput;

// Guest physical layout (1 MiB of RAM, paging maps the first 8 MiB linear).
constexpr uint32_t kRamBytes = 1u << 20;
constexpr uint32_t kIdt = 0x0000;        // 256 gates.
constexpr uint32_t kGdt = 0x0800;        // 32 descriptors (limit 0xFF).
constexpr uint32_t kTss = 0x0A00;        // The boot TSS (selector 0x28).
constexpr uint32_t kTss2 = 0x0B00;       // A second TSS for task gates and far jumps.
constexpr uint32_t kIoBitmap = kTss + 0x68;
constexpr uint32_t kLdt = 0x0C00;        // 8 descriptors.
constexpr uint32_t kPageDir = 0x1000;
constexpr uint32_t kPageTable0 = 0x2000;  // Linear 0-4 MiB.
constexpr uint32_t kPageTable1 = 0x3000;  // Linear 4-8 MiB: scattered frames.
constexpr uint32_t kPrologue = 0x4000;
constexpr uint32_t kDescriptorPtrs = 0x4F00;  // GDTR and IDTR images for LGDT/LIDT.
constexpr uint32_t kStack0Top = 0x7000;  // Ring 0 stack: 0x5000-0x6FFF.
constexpr uint32_t kStack3Top = 0x8000;  // Ring 3 stack: 0x7000-0x7FFF.
constexpr uint32_t kCode = 0x8000;       // Fuzzed code: 0x8000-0xBFFF.
constexpr uint32_t kCodeBytes = 0x4000;
constexpr uint32_t kData = 0xC000;       // Fuzzed data: 0xC000-0xFFFF.

constexpr uint16_t kCode0 = 0x08, kData0 = 0x10, kCode3 = 0x1B, kData3 = 0x23, kTssSel = 0x28;
constexpr unsigned kFixedDescriptors = 6;  // Null, the four flat segments, the boot TSS.

void put16(uint8_t* p, uint16_t v) { std::memcpy(p, &v, 2); }
void put32(uint8_t* p, uint32_t v) { std::memcpy(p, &v, 4); }

uint64_t segment_descriptor(uint32_t base, uint32_t limit, uint8_t access, uint8_t flags) {
  return (limit & 0xFFFFull) | (uint64_t{base & 0xFFFFFF} << 16) | (uint64_t{access} << 40) |
         (uint64_t{(limit >> 16) & 0xF} << 48) | (uint64_t{flags & 0xFu} << 52) | (uint64_t{base >> 24} << 56);
}

uint64_t gate_descriptor(uint16_t selector, uint32_t offset, uint8_t type_attr) {
  return (offset & 0xFFFFull) | (uint64_t{selector} << 16) | (uint64_t{type_attr} << 40) |
         (uint64_t{offset >> 16} << 48);
}

// SDM Vol. 3A, 3.4.5: access byte = P | DPL | S | type.
constexpr uint8_t kCodeAccess = 0x9A, kDataAccess = 0x92;

// A descriptor of one of the shapes a kernel (or a hostile guest) uses; the
// next input bytes perturb it.
uint64_t fuzzed_descriptor(FuzzInput& in) {
  const uint8_t kind = in.u8();
  const uint8_t dpl = (kind >> 5) & 3;
  switch (kind & 15) {
    case 0: return 0;
    case 1: return segment_descriptor(0, 0xFFFFF, kCodeAccess | dpl << 5, 0xC);      // Flat 32-bit code.
    case 2: return segment_descriptor(0, 0xFFFFF, kDataAccess | dpl << 5, 0xC);      // Flat data.
    case 3: return segment_descriptor(0, 0xFFFF, kCodeAccess | dpl << 5, 0x0);       // 16-bit code.
    case 4: return segment_descriptor(in.u16(), 0xFFFF, 0x96 | dpl << 5, 0x4);       // Expand-down data.
    case 5: return segment_descriptor(in.u32(), in.u16(), kDataAccess | dpl << 5, in.u8() & 0xC);  // Small data.
    case 6: return segment_descriptor(0, 0xFFFFF, 0x9E | dpl << 5, 0xC);             // Conforming code.
    case 7: return segment_descriptor(kTss2, 0x67, 0x89 | dpl << 5, 0);              // Available 32-bit TSS.
    case 8: return segment_descriptor(kLdt, 0x3F, 0x82 | dpl << 5, 0);               // LDT.
    case 9: return gate_descriptor(kCode0, kCode + in.u16() % kCodeBytes, 0xEC);     // Call gate, DPL 3.
    case 10: return gate_descriptor(kCode0, kCode + in.u16() % kCodeBytes, 0x8C | dpl << 5);  // Call gate.
    case 11: return segment_descriptor(0, 0xFFFFF, 0x12 | dpl << 5, 0xC);            // Not present.
    case 12: return segment_descriptor(0, 0xFFFFF, 0x90 | dpl << 5, 0xC);            // Read-only data.
    case 13: return segment_descriptor(in.u16(), 0xFFFFF, kCodeAccess | dpl << 5, 0xC);  // Code with a base.
    case 14: return segment_descriptor(0, 0xFFFFF, 0x9A | dpl << 5, 0x4);            // Byte-granular code.
    default: return in.u64();                                                        // Anything.
  }
}

// An IDT gate (SDM Vol. 3A, 6.11) pointing into the fuzzed code.
uint64_t fuzzed_gate(FuzzInput& in, unsigned vector) {
  const uint8_t kind = in.u8();
  const uint8_t dpl = (kind >> 5) & 3;
  const uint32_t handler = kCode + (vector * 97u + (kind >> 3) * 61u) % kCodeBytes;
  switch (kind & 7) {
    case 0: case 1: return gate_descriptor(kCode0, handler, 0x8E | dpl << 5);  // 32-bit interrupt gate.
    case 2: return gate_descriptor(kCode0, handler, 0x8F | dpl << 5);          // 32-bit trap gate.
    case 3: return gate_descriptor(kCode3 & ~3, handler, 0x8E | dpl << 5);     // Handler at ring 3.
    case 4: return gate_descriptor(0x38, 0, 0x85 | dpl << 5);                  // Task gate (GDT entry 7).
    case 5: return gate_descriptor(kCode0, handler, 0x0E | dpl << 5);          // Not present.
    case 6: return gate_descriptor(kCode0, handler, 0x86 | dpl << 5);          // 16-bit interrupt gate.
    default: return in.u64();
  }
}

// Builds the machine's memory and returns the prologue's length.
struct Setup {
  uint32_t cr0, cr4, eflags;
  bool ring3;
  uint32_t gpr[8];
  uint32_t entry;
};

// The prologue at kPrologue (CPL 0, flat, paging off; checked with
// objdump -D -b binary -mi386):
//   lgdt [kDescriptorPtrs]; lidt [kDescriptorPtrs + 8]
//   mov eax, cr4; mov cr4, eax; mov eax, kPageDir; mov cr3, eax
//   mov eax, cr0; mov cr0, eax; jmp 0x08:next
//   next: mov ax, 0x10; mov ds/es/fs/gs/ss, ax; mov esp, kStack0Top
//   mov ax, 0x28; ltr ax
//   [ring 3: mov ax, 0x23; mov ds/es/fs/gs, ax; push 0x23; push kStack3Top]
//   push eflags; push cs; push entry; mov eax..edi (not esp), imm32; iret
std::vector<uint8_t> prologue(const Setup& s) {
  std::vector<uint8_t> c;
  auto u8 = [&](std::initializer_list<uint8_t> b) {
    for (uint8_t x : b) c.push_back(x);
  };
  auto u32 = [&](uint32_t v) { for (int i = 0; i < 4; ++i) c.push_back(static_cast<uint8_t>(v >> (8 * i))); };
  u8({0x0F, 0x01, 0x15}), u32(kDescriptorPtrs);
  u8({0x0F, 0x01, 0x1D}), u32(kDescriptorPtrs + 8);
  u8({0xB8}), u32(s.cr4), u8({0x0F, 0x22, 0xE0});
  u8({0xB8}), u32(kPageDir), u8({0x0F, 0x22, 0xD8});
  u8({0xB8}), u32(s.cr0), u8({0x0F, 0x22, 0xC0});
  const uint32_t next = kPrologue + static_cast<uint32_t>(c.size()) + 7;
  u8({0xEA}), u32(next), u8({kCode0, 0x00});
  u8({0x66, 0xB8, kData0, 0x00, 0x8E, 0xD8, 0x8E, 0xC0, 0x8E, 0xE0, 0x8E, 0xE8, 0x8E, 0xD0});
  u8({0xBC}), u32(kStack0Top);
  u8({0x66, 0xB8, kTssSel, 0x00, 0x0F, 0x00, 0xD8});
  if (s.ring3) {
    u8({0x66, 0xB8, kData3, 0x00, 0x8E, 0xD8, 0x8E, 0xC0, 0x8E, 0xE0, 0x8E, 0xE8});
    u8({0x68}), u32(kData3);
    u8({0x68}), u32(kStack3Top);
  }
  u8({0x68}), u32(s.eflags);
  u8({0x68}), u32(s.ring3 ? kCode3 : kCode0);
  u8({0x68}), u32(s.entry);
  for (unsigned r = 0; r < 8; ++r)
    if (r != 4) u8({static_cast<uint8_t>(0xB8 + r)}), u32(s.gpr[r]);
  u8({0xCF});
  return c;
}

struct Scenario {
  std::vector<uint8_t> ram;  // The first 64 KiB of RAM.
  uint64_t interval;
  unsigned threshold;
  bool host_mmu;  // The JIT's memory path: guest views, or TLB probes.
  uint64_t budget;
};

Scenario build(FuzzInput& in) {
  Scenario sc;
  sc.ram.assign(0x10000, 0);
  uint8_t* m = sc.ram.data();
  Setup s{};
  // CR0: PE, and from the input PG, WP, NE, TS, EM, MP, AM, CD/NW.
  const uint8_t cr0_bits = in.u8();
  s.cr0 = 1u | 0x10u;  // PE, ET.
  if (!(cr0_bits & 0x01)) s.cr0 |= 1u << 31;  // Paging on unless asked otherwise.
  if (cr0_bits & 0x02) s.cr0 |= 1u << 16;     // WP
  if (cr0_bits & 0x04) s.cr0 |= 1u << 5;      // NE
  if (cr0_bits & 0x08) s.cr0 |= 1u << 3;      // TS
  if (cr0_bits & 0x10) s.cr0 |= 1u << 2;      // EM
  if (cr0_bits & 0x20) s.cr0 |= 1u << 1;      // MP
  if (cr0_bits & 0x40) s.cr0 |= 1u << 18;     // AM
  if (cr0_bits & 0x80) s.cr0 |= 3u << 29;     // CD, NW (NW without CD would be #GP; both is legal)
  // CR4: VME, PVI, TSD, DE, PSE, PGE, OSFXSR, OSXMMEXCPT (what is not
  // implemented raises #GP in the prologue, identically in both engines).
  const uint8_t cr4_bits = in.u8();
  static constexpr uint32_t kCr4[8] = {1u << 0, 1u << 1, 1u << 2, 1u << 3, 1u << 4, 1u << 7, 1u << 9, 1u << 10};
  const uint8_t cr4_allowed = in.u8() & 1 ? 0xFF : 0xFC;  // VME/PVI rarely.
  for (int i = 0; i < 8; ++i)
    if (cr4_bits & cr4_allowed & (1u << i)) s.cr4 |= kCr4[i];
  // EFLAGS: arithmetic flags, TF, IF, DF, OF, IOPL, NT, AC; never VM.
  s.eflags = (in.u32() & 0x00047FD5u) | 0x2u;
  const uint8_t mode = in.u8();
  s.ring3 = mode & 1;
  static constexpr uint64_t kIntervals[4] = {1, 17, 256, 4096};
  sc.interval = kIntervals[(mode >> 1) & 3];
  sc.threshold = mode & 8 ? 3 : 1;
  sc.host_mmu = mode & 16;
  sc.budget = 1000 + uint64_t{in.u16()} % 10000;
  for (uint32_t& r : s.gpr) r = in.u8() & 1 ? kData + (in.u16() & 0x3FFF) : in.u32();
  s.entry = kCode + in.u16() % kCodeBytes;

  // GDT: the fixed boot descriptors, then fuzzed ones.
  uint64_t gdt[32] = {0,
                      segment_descriptor(0, 0xFFFFF, kCodeAccess, 0xC),
                      segment_descriptor(0, 0xFFFFF, kDataAccess, 0xC),
                      segment_descriptor(0, 0xFFFFF, kCodeAccess | 0x60, 0xC),
                      segment_descriptor(0, 0xFFFFF, kDataAccess | 0x60, 0xC),
                      segment_descriptor(kTss, 0x67 + 0x20 + 1, 0x89, 0)};
  for (unsigned i = kFixedDescriptors; i < 32; ++i) gdt[i] = fuzzed_descriptor(in);
  std::memcpy(m + kGdt, gdt, sizeof gdt);
  // LDT: copies of fuzzed shapes.
  for (unsigned i = 0; i < 8; ++i) {
    const uint64_t d = fuzzed_descriptor(in);
    std::memcpy(m + kLdt + 8 * i, &d, 8);
  }
  // IDT.
  for (unsigned v = 0; v < 256; ++v) {
    const uint64_t g = v < 48 || v == 0x80 ? fuzzed_gate(in, v) : gate_descriptor(kCode0, kCode + v * 13, 0xEE);
    std::memcpy(m + kIdt + 8 * v, &g, 8);
  }
  // TSSs (SDM Vol. 3A, 7.2.1): ring-0 stack, an I/O bitmap of 32 bytes
  // (ports 0-255) when the input puts its base inside the limit.
  for (uint32_t t : {kTss, kTss2}) {
    put32(m + t + 4, kStack0Top);  // ESP0
    put16(m + t + 8, kData0);      // SS0
    put32(m + t + 0x1C, kPageDir); // CR3
    put32(m + t + 0x20, kCode + in.u16() % kCodeBytes);  // EIP
    put32(m + t + 0x24, 0x2);                            // EFLAGS
    put32(m + t + 0x38, kStack0Top - 0x800);             // ESP
    put16(m + t + 0x4C, kCode0);
    for (unsigned seg : {0x48u, 0x50u, 0x54u, 0x58u, 0x5Cu}) put16(m + t + seg, kData0);
    put16(m + t + 0x60, in.u8() & 1 ? 0x40 : 0);  // LDT selector (GDT entry 8) or none.
  }
  put16(m + kTss + 0x66, in.u8() & 1 ? 0x68 : 0xFFFF);
  for (unsigned i = 0; i < 32; ++i) m[kIoBitmap + i] = in.u8();
  m[kIoBitmap + 32] = 0xFF;
  // GDTR and IDTR images.
  put16(m + kDescriptorPtrs, 0xFF), put32(m + kDescriptorPtrs + 2, kGdt);
  put16(m + kDescriptorPtrs + 8, 0x7FF), put32(m + kDescriptorPtrs + 10, kIdt);

  // Paging (SDM Vol. 3A, 4.3). The pages the prologue needs are present and
  // writable; the rest take the input's flags.
  const uint32_t pde0 = kPageTable0 | 0x7 | (in.u8() & 0x18);
  const uint32_t pde1 = kPageTable1 | (in.u8() & 0x1F) | 0x1;
  put32(m + kPageDir, pde0);
  put32(m + kPageDir + 4, pde1);
  put32(m + kPageDir + 8, 0x00000087 | (in.u16() & 0x118));  // A 4 MiB page (PSE) or a page table at 0.
  put32(m + kPageDir + 0xC00, pde0 | 0x100);                // 3 GiB: the first 4 MiB again.
  for (unsigned i = 0; i < 4; ++i) put32(m + kPageDir + 4 * (3 + (in.u8() & 0x3FF) % 0x3FC), in.u32());
  for (uint32_t page = 0; page < 1024; ++page) {
    uint32_t flags;
    if (page < 8) flags = page == 7 ? 0x7 : 0x3;  // Tables, prologue and stacks: P, RW (ring-3 stack: US).
    else if (page < 16) flags = (in.u16() & 0x11E) | 0x1;  // Code and data pages: P, the rest from the input.
    else if (page * 4096u < kRamBytes) flags = 0x7;
    else flags = 0;
    put32(m + kPageTable0 + 4 * page, page * 4096u | flags);
  }
  for (uint32_t page = 0; page < 64; ++page)  // Linear 4 MiB + 256 KiB: frames anywhere in RAM.
    put32(m + kPageTable1 + 4 * page, (in.u16() % (kRamBytes / 4096)) * 4096u | (in.u16() & 0x11F));
  if (!(s.cr0 & (1u << 31))) s.cr0 &= ~(1u << 16);  // WP without PG is legal, but keep the two apart.

  const std::vector<uint8_t> pro = prologue(s);
  std::memcpy(m + kPrologue, pro.data(), pro.size());
  // The rest of the input is code (repeated to fill the code pages) and data.
  std::vector<uint8_t> code = in.rest();
  if (code.empty()) code.push_back(0xF4);
  for (uint32_t i = 0; i < kCodeBytes; ++i) m[kCode + i] = code[i % code.size()];
  for (uint32_t i = 0; i < 0x4000; ++i) m[kData + i] = static_cast<uint8_t>(code[(i * 7) % code.size()] ^ i);
  return sc;
}

// A bare CPU over its own RAM and an empty bus (port reads float, writes
// go nowhere; nothing interrupts it).
class CpuSide : public LockstepSide {
 public:
  CpuSide(const Scenario& sc, bool jit, bool host_mmu) : ram_(kRamBytes), cpu_(ram_, bus_) {
    std::memcpy(ram_.data(), sc.ram.data(), sc.ram.size());
    cpu_.reset_flat_protected(kPrologue);
    // Exceptions go through the guest's IDT, as on the PC board.
    cpu_.on_exception = [](Cpu& cpu, const GuestException& e) { deliver_exception(cpu, e); };
    // Time from the instruction count (as -icount): RDTSC and RDMSR of the
    // TSC give both engines the same value.
    cpu_.tsc_source = [this] { return cpu_.retired_instructions(); };
    // A guest may run one instruction for a very long time (REP INS/OUTS
    // with ECX = 2^32 into a port: a legitimate, slow guest). Past its
    // wall-clock allowance the run ends its slice as at a timer deadline and
    // the input is dropped uncompared (the engines break such an instruction
    // at different iterations).
    cpu_.timers_due = [this] { return timed_out_ = timed_out_ || std::chrono::steady_clock::now() > deadline_; };
    if (jit) cpu_.enable_jit(1u << 20, host_mmu, sc.threshold);
    // Reproducing a finding: VMM_FUZZ_LOG=in_asm,exec,int (the -d items) logs
    // the JIT side's run on stderr.
    if (const char* items = std::getenv(jit ? "VMM_FUZZ_LOG" : "VMM_FUZZ_LOG_REF")) {
      std::string error;
      if (log_.parse(items, error)) cpu_.log = &log_;
    }
  }
  // Like Machine::run_slice without devices: HLT ends the run (nothing can
  // wake the CPU), as do a triple fault, a reset request and a fatal stop.
  std::optional<int> run_slice(uint64_t n, bool) override {
    switch (cpu_.run(n)) {
      case StopReason::kInstructionLimit: return std::nullopt;
      case StopReason::kHalted: return 0;
      case StopReason::kExitDevice: return cpu_.exit_status();
      case StopReason::kReset: return 1;
      case StopReason::kTripleFault: return 2;
      default: return 3;
    }
  }
  Cpu& cpu() override { return cpu_; }
  GuestRam& ram() override { return ram_; }
  bool timed_out() const { return timed_out_; }

 private:
  const std::chrono::steady_clock::time_point deadline_ = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  bool timed_out_ = false;
  Log log_;
  GuestRam ram_;
  Bus bus_;
  Cpu cpu_;
};

uint64_t g_instructions = 0;
uint64_t g_runs = 0;

void report_totals() {
  std::fprintf(stderr, "system_code: %" PRIu64 " runs, %" PRIu64 " guest instructions compared in lockstep\n", g_runs,
               g_instructions);
}

}  // namespace
}  // namespace vmm

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace vmm;
  static const bool registered = (std::atexit(report_totals), true);
  (void)registered;
  FuzzInput in(data, size);
  Scenario sc = build(in);
  // Reproducing a finding: VMM_FUZZ_INTERVAL=1 compares after every block.
  if (const char* interval = std::getenv("VMM_FUZZ_INTERVAL")) sc.interval = std::strtoull(interval, nullptr, 0);
  CpuSide jit(sc, true, sc.host_mmu);
  CpuSide ref(sc, false, false);
  const LockstepResult r = run_lockstep(jit, ref, sc.interval, sc.budget);
  if (jit.timed_out() || ref.timed_out()) return 0;
  if (!r.agree) {
    std::fprintf(stderr, "system_code: engines disagree (JIT with host-mmu=%s, interval %" PRIu64 ")\n",
                 sc.host_mmu ? "on" : "off", sc.interval);
    std::abort();
  }
  // A progress line every 2^24 instructions: the total survives a run that
  // ends in a finding or a kill (the exit line does not).
  if ((g_instructions >> 24) != ((g_instructions + r.instructions) >> 24)) report_totals();
  g_instructions += r.instructions;
  if (std::getenv("VMM_FUZZ_VERBOSE"))
    std::fprintf(stderr, "host-mmu=%d: %" PRIu64 " instructions, status %d, %" PRIu64 " exceptions, eip %#x: %s\n",
                 sc.host_mmu, r.instructions, r.status.value_or(-1), ref.cpu().stats().exceptions, ref.cpu().s.eip,
                 ref.cpu().stop_message().c_str());
  ++g_runs;
  return 0;
}

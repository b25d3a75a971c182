// Architectural state of one IA-32 CPU: everything an instruction can read or
// write. Both engines (interpreter and JIT) operate on this one structure.
#pragma once

#include <cstddef>
#include <cstdint>

namespace vmm {

// General-purpose register numbers in the hardware's ModRM order.
enum Gpr : uint8_t { EAX = 0, ECX, EDX, EBX, ESP, EBP, ESI, EDI, kGprCount = 8 };

// A register slot that always reads zero: memory operands with no base or no
// index name it, so effective-address arithmetic needs no branch.
inline constexpr uint8_t kZeroGpr = 8;

// Segment register numbers in the hardware's Sreg encoding order.
enum SegReg : uint8_t { ES = 0, CS, SS, DS, FS, GS, kSegCount = 6, kNoSeg = 0xff };

// EFLAGS bits (SDM Vol. 1, 3.4.3).
namespace flag {
inline constexpr uint32_t CF = 1u << 0;
inline constexpr uint32_t PF = 1u << 2;
inline constexpr uint32_t AF = 1u << 4;
inline constexpr uint32_t ZF = 1u << 6;
inline constexpr uint32_t SF = 1u << 7;
inline constexpr uint32_t TF = 1u << 8;
inline constexpr uint32_t IF = 1u << 9;
inline constexpr uint32_t DF = 1u << 10;
inline constexpr uint32_t OF = 1u << 11;
inline constexpr uint32_t IOPL = 3u << 12;
inline constexpr uint32_t NT = 1u << 14;
inline constexpr uint32_t RF = 1u << 16;
inline constexpr uint32_t VM = 1u << 17;
inline constexpr uint32_t AC = 1u << 18;
inline constexpr uint32_t VIF = 1u << 19;
inline constexpr uint32_t VIP = 1u << 20;
inline constexpr uint32_t ID = 1u << 21;
// The six arithmetic status flags.
inline constexpr uint32_t kArith = CF | PF | AF | ZF | SF | OF;
// Bit 1 always reads as one.
inline constexpr uint32_t kFixed1 = 1u << 1;
}  // namespace flag

// Control register bits (SDM Vol. 3A, 2.5).
namespace cr0 {
inline constexpr uint32_t PE = 1u << 0;
inline constexpr uint32_t MP = 1u << 1;
inline constexpr uint32_t EM = 1u << 2;
inline constexpr uint32_t TS = 1u << 3;
inline constexpr uint32_t ET = 1u << 4;
inline constexpr uint32_t NE = 1u << 5;
inline constexpr uint32_t WP = 1u << 16;
inline constexpr uint32_t AM = 1u << 18;
inline constexpr uint32_t NW = 1u << 29;
inline constexpr uint32_t CD = 1u << 30;
inline constexpr uint32_t PG = 1u << 31;
}  // namespace cr0
namespace cr4 {
inline constexpr uint32_t VME = 1u << 0;
inline constexpr uint32_t PVI = 1u << 1;
inline constexpr uint32_t TSD = 1u << 2;
inline constexpr uint32_t DE = 1u << 3;
inline constexpr uint32_t PSE = 1u << 4;
inline constexpr uint32_t PAE = 1u << 5;
inline constexpr uint32_t PGE = 1u << 7;
inline constexpr uint32_t OSFXSR = 1u << 9;
inline constexpr uint32_t OSXMMEXCPT = 1u << 10;
}  // namespace cr4

// The visible selector plus the hidden descriptor cache the CPU loads with it
// (SDM Vol. 3A, 3.4.3). `attr` holds descriptor bits 40..55 shifted down:
// type(4) S(1) DPL(2) P(1) | limit19:16 (ignored) | AVL L D/B G.
struct SegmentCache {
  uint16_t selector = 0;
  uint16_t attr = 0;
  uint32_t base = 0;
  uint32_t limit = 0;  // Byte-granular effective limit.
  // Limit 4 GiB, present, writable expand-up data: accesses through it need
  // no segment checks, only the base added (unbounded), which is 0 (flat).
  // Recomputed by refresh() whenever the fields above change.
  bool flat = false;
  bool unbounded = false;

  static constexpr uint16_t kAccessed = 1u << 0;
  static constexpr uint16_t kWritable = 1u << 1;  // Data segments.
  static constexpr uint16_t kReadable = 1u << 1;  // Code segments.
  static constexpr uint16_t kExpandDown = 1u << 2;
  static constexpr uint16_t kCode = 1u << 3;
  static constexpr uint16_t kS = 1u << 4;
  static constexpr uint16_t kPresent = 1u << 7;
  static constexpr uint16_t kDb = 1u << 14;
  static constexpr uint16_t kGranularity = 1u << 15;

  uint8_t dpl() const { return (attr >> 5) & 3; }
  bool big() const { return attr & kDb; }
  bool present() const { return attr & kPresent; }
  bool code() const { return attr & kCode; }

  void refresh() {
    unbounded = limit == 0xFFFFFFFFu &&
                (attr & (kPresent | kS | kCode | kWritable | kExpandDown)) == (kPresent | kS | kWritable);
    flat = unbounded && base == 0;
  }
};

struct TableRegister {
  uint32_t base = 0;
  uint16_t limit = 0;
};

// Guest x87/SSE state in FXSAVE layout (SDM Vol. 1, 10.5.1), followed by an
// XSAVE header (Vol. 1, 13.4.2) so that the JIT's XRSTOR can load the x87
// part straight from it (jit/host_fpu.h): 64-byte aligned, the header's
// XSTATE_BV bit 0 set by that code, every other header byte zero.
struct alignas(64) FpuState {
  uint8_t fxsave[512];
  uint8_t xsave_header[64] = {};
};

struct CpuState {
  // gpr[kZeroGpr] is always zero (see kZeroGpr); never written.
  uint32_t gpr[kGprCount + 1] = {};
  uint32_t eip = 0;
  uint32_t eflags = flag::kFixed1;

  SegmentCache seg[kSegCount];
  SegmentCache ldtr;
  SegmentCache tr;
  TableRegister gdtr;
  TableRegister idtr;

  uint32_t cr0 = cr0::ET;
  uint32_t cr2 = 0;
  uint32_t cr3 = 0;
  uint32_t cr4 = 0;
  uint32_t dr[8] = {};

  // Current privilege level (CS.RPL in protected mode).
  uint8_t cpl = 0;

  uint64_t tsc_offset = 0;
  uint32_t sysenter_cs = 0;
  uint32_t sysenter_esp = 0;
  uint32_t sysenter_eip = 0;

  FpuState fpu;

  // Words the JIT's generated code reads and writes besides the architectural
  // state (r15 points at this CpuState while translated code runs, so every
  // field is one displacement away). Unused by the interpreter.
  struct JitLink {
    uintptr_t mem_base = 0;     // R14 in translated code: the current MMU index's guest view (host-MMU path).
    uintptr_t cpu = 0;          // The owning Cpu, for helpers.
    int64_t budget = 0;         // Instructions translated code may still run; each block
                                // subtracts its length on entry and exits when it would go negative.
    uint32_t flags_image = 0;   // Arithmetic flags in LAHF/SETO layout (AH:AL) across entry/exit.
    uint32_t status = 0;        // Why translated code returned (jit::ExitStatus).
    uintptr_t chain_from = 0;   // Exit taken, when it can be chained (jit::ChainSite*), else 0.
    uint64_t indirect_lookups = 0;  // Inline lookups run by indirect branches (counted by translated code).
    uint64_t indirect_misses = 0;   // ... that left for the dispatcher.
    uint64_t scratch = 0;           // Spill slot of translated code (REP MOVS's host source, CALL m32's target).
    uintptr_t slow_site = 0;        // jit::SlowSite of the memory slow path running.
    // The guest's x87 registers are in the host FPU, not in `fpu` (jit/host_fpu.h).
    uint8_t fpu_in_host = 0;
    // What a translation with native x87 code calls on entry (jit/host_fpu.h):
    // the engine's load stub while fpu_in_host is clear, its `ret` stub while set.
    uintptr_t fpu_enter = 0;
    uint64_t fpu_loads = 0;  // Loads by the stub (counted by translated code).
  } jit;

  // Convenience accessors.
  uint32_t& reg(Gpr r) { return gpr[r]; }
  bool code32() const { return seg[CS].big(); }
  bool stack32() const { return seg[SS].big(); }
  // The condition of blockmode::kFpuNative: CR0.EM and TS clear, every x87
  // exception masked (FCW, bytes 0-1 of the FXSAVE image: the low six bits)
  // and none pending (FSW, bytes 2-3: ES is bit 7).
  bool fpu_native() const {
    return !(cr0 & (cr0::EM | cr0::TS)) && (fpu.fxsave[0] & 0x3F) == 0x3F && !(fpu.fxsave[2] & 0x80);
  }
};

}  // namespace vmm

// Differential tester: shared layout and state types.
//
// Guest layout (paging off, flat segments with base 0, so linear ==
// physical), identical in the interpreter, in Unicorn and in the native
// helper process:
//
//   0x01000-0x02000  code: the main sequence, the final HLT, then the
//                    subroutines that CALL instructions reach
//   0x08000-0x28000  data region, random bytes. It starts below 64 KiB so
//                    that 16-bit addressing (67 prefix) can reach
//                    0x8000-0xFFFF.
//   0x70000-0x80000  stack region, random bytes; ESP starts at 0x7C000.
//                    Explicit memory operands may only use 0x70000-0x7A000
//                    (the "scratch" part), so they never clobber what
//                    PUSH/CALL/ENTER put on the stack.
//
// EBX, ESI, EDI point into the data region and EBP into the stack scratch
// part; generated instructions never write them except in controlled ways
// (string instructions, ENTER/LEAVE, PUSHA/POPA pairs). EAX, ECX, EDX are
// data registers.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace vmm::diff {

inline constexpr uint32_t kCodeBase = 0x1000;
inline constexpr uint32_t kCodeSize = 0x1000;
inline constexpr uint32_t kDataBase = 0x8000;
inline constexpr uint32_t kDataSize = 0x20000;
inline constexpr uint32_t kStackBase = 0x70000;
inline constexpr uint32_t kStackSize = 0x10000;
inline constexpr uint32_t kScratchEnd = 0x7A000;  // End of the stack scratch part.
inline constexpr uint32_t kInitEsp = 0x7C000;
inline constexpr uint32_t kRamSize = 0x100000;

enum : unsigned { rEAX, rECX, rEDX, rEBX, rESP, rEBP, rESI, rEDI };

namespace fl {
inline constexpr uint32_t CF = 1u << 0, PF = 1u << 2, AF = 1u << 4, ZF = 1u << 6, SF = 1u << 7,
                          IF = 1u << 9, DF = 1u << 10, OF = 1u << 11;
inline constexpr uint32_t kArith = CF | PF | AF | ZF | SF | OF;
inline constexpr uint32_t kCompared = kArith | DF;
}  // namespace fl

// One instruction of a generated sequence, in address order.
struct InstrMeta {
  uint32_t addr = 0;
  uint8_t len = 0;
  int form = -1;          // Index into the form table; -1 for set-ups and glue.
  uint16_t mnemonic = 0;  // ZydisMnemonic.
  uint32_t flags_read = 0;
  uint32_t flags_undef = 0;  // Undefined after it (decoder's set plus count-dependent ones).
  uint32_t undef_before = 0;  // Flags possibly undefined when it starts (on any path).
  bool setup = false;
};

// Bytes of the FXSAVE image that hold the x87 state (SDM Vol. 1, Table 10-2).
inline constexpr unsigned kFpuBytes = 160;

struct Sequence {
  uint64_t seed = 0;
  std::vector<uint8_t> code;  // Placed at kCodeBase.
  uint32_t end_eip = 0;       // Address of the final HLT of the main sequence.
  // Where execution starts: kCodeBase, or a point in the middle when a
  // state taken there is resumed (--jit locates divergences that way).
  uint32_t start_eip = kCodeBase;
  std::vector<InstrMeta> instrs;
  uint32_t gpr[8] = {};
  uint32_t eflags = 0x202;
  uint32_t undef_final = 0;  // Flags possibly undefined at the end (not compared).
  std::vector<uint8_t> data;   // kDataSize bytes.
  std::vector<uint8_t> stack;  // kStackSize bytes.
  // The x87 state to start with (the first kFpuBytes of the FXSAVE image);
  // empty: FNINIT's.
  std::vector<uint8_t> fpu;
  std::vector<uint32_t> fs_gs_prefixes;  // Code offsets of 64/65 prefixes (native run: made 3E).
  // Uses a case Unicorn gets wrong (UNICORN_KNOWN_ISSUES.md): checked
  // against the real CPU only (generated with --native-all).
  bool native_only = false;

  const InstrMeta* at(uint32_t addr) const {
    for (auto& m : instrs)
      if (m.addr == addr) return &m;
    return nullptr;
  }
};

// Final (or intermediate) machine state of one engine.
struct State {
  bool ok = true;       // False: the engine failed in a way that is not a guest exception.
  std::string error;    // When !ok.
  int vector = -1;      // Guest exception that stopped the run, -1 if none.
  uint32_t gpr[8] = {};
  uint32_t eip = 0;
  uint32_t eflags = 0;
  std::vector<uint8_t> data, stack;
  // vmm's engines: the x87 part of the FXSAVE image (FCW, FSW, tags, FOP,
  // FIP/FCS, FDP/FDS, ST(0)-ST(7)); compared when both states have it.
  std::vector<uint8_t> fpu;
  uint64_t executed = 0;  // Instructions executed (vmm's engines only).
};

}  // namespace vmm::diff

// The project's own decoded-instruction record. The decoder (Zydis) fills it
// once per guest instruction; the interpreter dispatches on it and the JIT
// translates from it, so both engines see the same operands, sizes and flags.
#pragma once

#include <cstdint>

namespace vmm {

class Cpu;
struct InstrRecord;

// Interpreter entry for one instruction form, chosen once at decode time.
// Returns true when the handler set EIP itself (control transfer, or an
// instruction after which the block must end); otherwise the run loop
// advances EIP by the instruction length.
using InterpHandler = bool (*)(Cpu& cpu, const InstrRecord& in);

enum class OpKind : uint8_t {
  None,
  Reg,       // General-purpose register; `reg` is a byte offset into CpuState::gpr.
  Mem,       // Memory operand (also LEA's address-generation operand).
  Imm,       // Immediate (relative branch displacements included).
  Seg,       // Segment register; `reg` is a SegReg.
  Ctrl,      // CRn; `reg` is n.
  Debug,     // DRn; `reg` is n.
  X87,       // ST(i); `reg` is i.
  Mmx,       // MMn.
  Xmm,       // XMMn.
  Far,       // ptr16:32 immediate far pointer: `imm` offset, InstrRecord::far_selector.
};

// How the instruction uses an operand (Zydis' operand actions). A memory
// operand that is both read and written is a read-modify-write: its read is
// checked as a write (a not-present or read-only page faults with W=1).
namespace opaccess {
inline constexpr uint8_t kRead = 1u << 0;
inline constexpr uint8_t kWrite = 1u << 1;  // Including conditional writes (CMPXCHG, CMOVcc).
}  // namespace opaccess

struct Operand {
  OpKind kind = OpKind::None;
  uint8_t size = 0;   // Bytes.
  uint8_t reg = 0;    // See OpKind.
  uint8_t seg = 0;    // Mem: effective segment (SegReg), after overrides.
  uint8_t base = 0;   // Mem: GPR index, kZeroGpr when absent.
  uint8_t index = 0;  // Mem: GPR index, kZeroGpr when absent.
  uint8_t scale = 0;  // Mem: shift count 0..3.
  uint8_t access = 0;  // opaccess bits.
  union {
    int32_t disp;  // Mem displacement.
    uint32_t imm;  // Imm value, sign-extended to 32 bits when the encoding does so.
  };
};

// Instruction classification (a bit set).
namespace iclass {
inline constexpr uint16_t kPlain = 0;
inline constexpr uint16_t kMemory = 1u << 0;       // Has an explicit memory operand.
inline constexpr uint16_t kControl = 1u << 1;      // Changes EIP other than by falling through.
inline constexpr uint16_t kPrivileged = 1u << 2;   // #GP unless CPL 0.
inline constexpr uint16_t kSensitive = 1u << 3;    // Reads/writes state a VMM must virtualize.
inline constexpr uint16_t kIo = 1u << 4;           // Port I/O.
inline constexpr uint16_t kString = 1u << 5;       // MOVS/STOS/LODS/CMPS/SCAS/INS/OUTS.
inline constexpr uint16_t kFpSimd = 1u << 6;       // x87/MMX/SSE, FXSAVE/FXRSTOR: uses the FPU state.
inline constexpr uint16_t kEndsBlock = 1u << 7;    // The block builder stops after it.
inline constexpr uint16_t kInvalid = 1u << 8;      // Did not decode: executes as #UD.
inline constexpr uint16_t kFar = 1u << 9;          // Far JMP/CALL/RET (loads CS).
inline constexpr uint16_t kJcc = 1u << 10;         // Jcc rel8/rel16/rel32 (not JCXZ/LOOP): the target is ops[0].imm after it.
// Set at run time, not by the decoder: the JIT translates the instruction as
// a call to its interpreter handler from then on, because its memory access
// found a device, unassigned memory or a page holding code, or it keeps
// raising #DE through a host trap (JitEngine::demote, note_host_trap).
inline constexpr uint16_t kUseHelper = 1u << 11;
// Set at run time: the page the instruction accesses keeps being unmapped and
// mapped again in the JIT's guest views (INVLPG, CR3 loads), each time at
// the cost of a host fault, so the JIT reaches it through an inline TLB probe.
inline constexpr uint16_t kProbeMemory = 1u << 12;
// Made by the block builder, not the decoder: an instruction that starts at
// or runs past the CS limit; it executes as #GP(0) (SDM Vol. 3A, 5.3 "Limit
// Checking"). Its length covers its bytes within the limit only.
inline constexpr uint16_t kBeyondCsLimit = 1u << 13;
}  // namespace iclass

// Prefix bits.
namespace prefix {
inline constexpr uint8_t kRep = 1u << 0;     // F3 (REP / REPE).
inline constexpr uint8_t kRepne = 1u << 1;   // F2.
inline constexpr uint8_t kLock = 1u << 2;
inline constexpr uint8_t kOpSize = 1u << 3;  // 66.
inline constexpr uint8_t kAddrSize = 1u << 4;  // 67.
inline constexpr uint8_t kSegOverride = 1u << 5;
}  // namespace prefix

struct InstrRecord {
  InterpHandler handler = nullptr;
  uint16_t mnemonic = 0;     // ZydisMnemonic.
  uint16_t cls = 0;          // iclass bits.
  uint16_t flags_read = 0;   // EFLAGS bits the instruction reads.
  uint16_t flags_written = 0;  // EFLAGS bits it writes (defined or not).
  uint16_t flags_undefined = 0;  // EFLAGS bits it leaves undefined.
  uint8_t length = 0;
  uint8_t opsize = 4;        // Operand size in bytes (2 or 4; 1 for byte forms).
  uint8_t addrsize = 4;      // Address size in bytes (2 or 4).
  uint8_t prefixes = 0;
  uint8_t seg = 3;           // Default/overridden data segment for implicit operands (DS).
  uint8_t cond : 4 = 0;      // Condition code 0..15 for Jcc/SETcc/CMOVcc/FCMOVcc.
  uint8_t nops : 4 = 0;      // Visible operands.
  uint8_t opcode = 0;        // Last opcode byte (for diagnostics and the x87 FOP).
  uint8_t modrm = 0;         // ModRM byte, when there is one (x87 FOP).
  uint16_t far_selector = 0;  // Selector of a ptr16:16/32 operand (far JMP/CALL).
  Operand ops[3];
};

}  // namespace vmm

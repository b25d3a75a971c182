// PUSHA/PUSHAD, POPA/POPAD, ENTER, LEAVE, PUSHF/PUSHFD, POPF/POPFD
// (SDM Vol. 2A/2B). All stack accesses go through Cpu::push/Cpu::pop, which
// use SP or ESP by SS.B (the stack-address size) while the operand size picks
// the width of each element.
//
// Instructions that push several values check that the whole range is
// writable first, and restore ESP (and EBP) if something still faults, so a
// fault leaves the registers as they were before the instruction: faults are
// restartable (SDM Vol. 3A, 6.5 "Exception classifications": a fault is
// reported with the state before the faulting instruction).
#include <Zydis/Zydis.h>

#include "runtime/interp/interp.h"
#include "runtime/interp/operands.h"
#include "runtime/segmentation.h"

namespace vmm::interp {

namespace {

inline bool stack32(const Cpu& c) { return c.s.stack32(); }

// SP/ESP + delta with the stack-address size's wrap-around.
inline void sp_add(Cpu& c, uint32_t delta) {
  uint32_t& esp = c.s.gpr[ESP];
  esp = stack32(c) ? esp + delta : ((esp & 0xFFFF0000u) | ((esp + delta) & 0xFFFF));
}

// Faults now, as the first failing push would, unless all `bytes` below the
// stack pointer are writable. A 16-bit stack pointer wraps at 64 KiB, so the
// range can be two pieces: [0, SP) and [10000h - rest, 10000h).
void probe_stack(Cpu& c, uint32_t bytes) {
  const uint32_t base = c.s.seg[SS].base;
  const unsigned idx = c.mmu_idx();
  if (stack32(c)) {
    c.mmu.probe_write(base + c.s.gpr[ESP] - bytes, bytes, idx);
    return;
  }
  const uint32_t sp = c.s.gpr[ESP] & 0xFFFF;
  if (sp >= bytes) {
    c.mmu.probe_write(base + sp - bytes, bytes, idx);
    return;
  }
  if (sp != 0) c.mmu.probe_write(base, sp, idx);  // Pushed first.
  c.mmu.probe_write(base + 0x10000 - (bytes - sp), bytes - sp, idx);
}

// PUSHA/PUSHAD (SDM Vol. 2B): Temp <- (E)SP; push (E)AX, (E)CX, (E)DX,
// (E)BX, Temp, (E)BP, (E)SI, (E)DI.
template <typename T>
bool pusha_op(Cpu& c, const InstrRecord&) {
  const uint32_t old_esp = c.s.gpr[ESP];
  probe_stack(c, 8 * sizeof(T));
  try {
    for (unsigned r = EAX; r <= EDI; ++r) c.push<T>(static_cast<T>(r == ESP ? old_esp : c.s.gpr[r]));
  } catch (...) {
    c.s.gpr[ESP] = old_esp;
    throw;
  }
  return false;
}

// POPA/POPAD (SDM Vol. 2B): pop (E)DI, (E)SI, (E)BP, skip the (E)SP slot
// without loading it, pop (E)BX, (E)DX, (E)CX, (E)AX. All eight values are
// read before any register changes, so a fault leaves them all unchanged.
// The 16-bit form writes only the low halves.
template <typename T>
bool popa_op(Cpu& c, const InstrRecord&) {
  const uint32_t old_esp = c.s.gpr[ESP];
  T v[8] = {};
  try {
    for (int r = EDI; r >= EAX; --r) {
      if (r == ESP) sp_add(c, sizeof(T));
      else v[r] = c.pop<T>();
    }
  } catch (...) {
    c.s.gpr[ESP] = old_esp;
    throw;
  }
  for (uint8_t r = EAX; r <= EDI; ++r)
    if (r != ESP) reg_set<T>(c, static_cast<uint8_t>(r * 4), v[r]);
  return false;
}

// ENTER imm16, imm8 (SDM Vol. 2A, ENTER, Operation; non-64-bit paths):
//   Push(EBP) and FrameTemp <- ESP (32-bit operand size), or Push(BP) and
//     FrameTemp <- SP (16-bit): FrameTemp follows the operand size, so a
//     32-bit ENTER on a 16-bit stack takes all of ESP;
//   IF NestingLevel > 0:
//     FOR i <- 1 TO NestingLevel - 1: (E)BP <- (E)BP - OperandSize/8; Push([SS:(E)BP])
//       (EBP with a 32-bit stack, BP with a 16-bit one, each element of the operand size)
//     Push(FrameTemp)
//   EBP <- FrameTemp (BP <- FrameTemp[15:0] with a 16-bit operand size);
//   ESP <- ESP - AllocSize, or SP <- SP - AllocSize with a 16-bit stack.
// NestingLevel is imm8 MOD 32. The (E)BP the loop decrements is a temporary:
// the register ends as FrameTemp, so a local stands in for it.
// The last step follows the stack-address size (SS.B), as the i386 manual's
// pseudo-code, Bochs and QEMU do; the current SDM text words it by operand
// size, which only differs when the subtraction borrows out of SP.
// "#PF if a write using the final value of the stack pointer would cause a
// page fault" (ENTER, Protected Mode Exceptions): the final SS:(E)SP is
// probed for an operand-size write before the registers change.
template <typename T>
bool enter_op(Cpu& c, const InstrRecord& in) {
  constexpr uint32_t k = sizeof(T);
  const uint32_t alloc = in.ops[0].imm & 0xFFFF;
  const unsigned level = in.ops[1].imm & 0x1F;
  const bool s32 = stack32(c);
  const uint32_t old_esp = c.s.gpr[ESP];
  // Every push of the instruction must be possible before any happens. The
  // reads of the outer frame pointers can still fault between pushes; then
  // ESP is restored (the bytes written below it are free stack).
  probe_stack(c, k * (level ? level + 1 : 1));
  try {
    const uint32_t ebp = c.s.gpr[EBP];
    c.push<T>(static_cast<T>(ebp));
    const uint32_t frame_temp = k == 4 ? c.s.gpr[ESP] : (c.s.gpr[ESP] & 0xFFFF);
    if (level > 0) {
      uint32_t bp = ebp;
      for (unsigned i = 1; i < level; ++i) {
        if (s32) {
          bp -= k;
          c.push<T>(c.read<T>(SS, bp));
        } else {
          bp = (bp & 0xFFFF0000u) | ((bp - k) & 0xFFFF);
          c.push<T>(c.read<T>(SS, bp & 0xFFFF));
        }
      }
      c.push<T>(static_cast<T>(frame_temp));
    }
    sp_add(c, 0u - alloc);
    const uint32_t sp = s32 ? c.s.gpr[ESP] : (c.s.gpr[ESP] & 0xFFFF);
    c.mmu.probe_write(c.linear(SS, sp), k, c.mmu_idx());
    if constexpr (k == 4) c.s.gpr[EBP] = frame_temp;
    else reg_set<uint16_t>(c, EBP * 4, static_cast<uint16_t>(frame_temp));
  } catch (...) {
    c.s.gpr[ESP] = old_esp;
    throw;
  }
  return false;
}

// LEAVE (SDM Vol. 2A): ESP <- EBP (SP <- BP with a 16-bit stack), then
// EBP <- Pop() (BP with a 16-bit operand size). A faulting pop leaves ESP as
// before the instruction.
template <typename T>
bool leave_op(Cpu& c, const InstrRecord&) {
  const uint32_t old_esp = c.s.gpr[ESP];
  uint32_t& esp = c.s.gpr[ESP];
  esp = stack32(c) ? c.s.gpr[EBP] : ((esp & 0xFFFF0000u) | (c.s.gpr[EBP] & 0xFFFF));
  try {
    const T v = c.pop<T>();
    reg_set<T>(c, EBP * 4, v);
  } catch (...) {
    esp = old_esp;
    throw;
  }
  return false;
}

inline unsigned iopl(const Cpu& c) { return (c.s.eflags & flag::IOPL) >> 12; }

// PUSHF/PUSHFD (SDM Vol. 2B): in virtual-8086 mode with IOPL < 3 it is #GP(0)
// (without CR4.VME, which belongs to the virtual-8086 work); otherwise it
// pushes EFLAGS AND 00FCFFFFh (VM and RF read as 0 in the image), or FLAGS.
template <typename T>
bool pushf_op(Cpu& c, const InstrRecord&) {
  if ((c.s.eflags & flag::VM) && iopl(c) < 3) raise_exception(kGP, 0);
  c.push<T>(static_cast<T>(c.s.eflags & ~(flag::VM | flag::RF)));
  return false;
}

// POPF/POPFD (SDM Vol. 2B, Operation and Table 4-21): #GP(0) in
// virtual-8086 mode with IOPL < 3 before anything is popped; otherwise the
// privilege rules of write_eflags_checked (runtime/segmentation.h), with CPL
// 0 in real-address mode and 3 in virtual-8086 mode. When TF or IF changed
// the block ends here: an interrupt may now be deliverable, or single-step
// must start with the next instruction.
template <typename T>
bool popf_op(Cpu& c, const InstrRecord& in) {
  if ((c.s.eflags & flag::VM) && iopl(c) < 3) raise_exception(kGP, 0);
  const uint32_t before = c.s.eflags;
  const T v = c.pop<T>();
  const uint8_t cpl = (c.s.eflags & flag::VM) ? 3 : !(c.s.cr0 & cr0::PE) ? 0 : c.s.cpl;
  write_eflags_checked(c, v, sizeof(T), cpl, /*load_rf=*/false);
  if ((before ^ c.s.eflags) & (flag::TF | flag::IF)) {
    c.s.eip += in.length;
    return true;
  }
  return false;
}

// Handlers by the instruction's operand size (2 or 4 bytes).
template <InterpHandler H16, InterpHandler H32>
InterpHandler by_opsize(const InstrRecord& in) {
  return in.opsize == 2 ? H16 : H32;
}

InterpHandler select_enter_op(const InstrRecord& in) {
  if (in.nops < 2 || in.ops[0].kind != OpKind::Imm || in.ops[1].kind != OpKind::Imm) return nullptr;
  return in.opsize == 2 ? &enter_op<uint16_t> : &enter_op<uint32_t>;
}

}  // namespace

void register_stack(SelectorTable& t) {
  constexpr Selector pusha = &by_opsize<&pusha_op<uint16_t>, &pusha_op<uint32_t>>;
  constexpr Selector popa = &by_opsize<&popa_op<uint16_t>, &popa_op<uint32_t>>;
  constexpr Selector pushf = &by_opsize<&pushf_op<uint16_t>, &pushf_op<uint32_t>>;
  constexpr Selector popf = &by_opsize<&popf_op<uint16_t>, &popf_op<uint32_t>>;
  t.add(ZYDIS_MNEMONIC_PUSHA, pusha);
  t.add(ZYDIS_MNEMONIC_PUSHAD, pusha);
  t.add(ZYDIS_MNEMONIC_POPA, popa);
  t.add(ZYDIS_MNEMONIC_POPAD, popa);
  t.add(ZYDIS_MNEMONIC_ENTER, &select_enter_op);
  t.add(ZYDIS_MNEMONIC_LEAVE, &by_opsize<&leave_op<uint16_t>, &leave_op<uint32_t>>);
  t.add(ZYDIS_MNEMONIC_PUSHF, pushf);
  t.add(ZYDIS_MNEMONIC_PUSHFD, pushf);
  t.add(ZYDIS_MNEMONIC_POPF, popf);
  t.add(ZYDIS_MNEMONIC_POPFD, popf);
}

}  // namespace vmm::interp

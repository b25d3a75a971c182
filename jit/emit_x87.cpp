// x87 instructions on the guest's registers in the host FPU (jit/host_fpu.h):
// re-encoded for the host like the integer instructions, with their memory
// operands through the guest views or a TLB probe, in a block mode where no
// x87 instruction can raise an exception of its own (blockmode::kFpuNative:
// CR0.EM and TS clear, every x87 exception masked). Each then does exactly
// what its interpreter handler does, which runs the same instruction on the
// host FPU; only the last-instruction state (FOP, FIP/FCS, FDP/FDS) needs
// storing, since the host's would describe the host instruction.
#include <Zydis/Zydis.h>

#include "jit/emitter.h"
#include "jit/native_encoder.h"
#include "runtime/fpu.h"

namespace vmm::jit {

namespace {
x86::Mem fpu_field(unsigned off, unsigned size) { return x86::ptr(x86::r15, kOffFpu + static_cast<int32_t>(off), size); }
x86::Mem selector_of(uint8_t seg) {
  return x86::word_ptr(x86::r15, kOffSegSelector + seg * static_cast<int32_t>(sizeof(SegmentCache)));
}
}  // namespace

bool Emitter::emit_x87(size_t i) {
  const InstrRecord& in = b_.instrs[i];
  if (!x87_native_) return false;
  const X87Native kind = x87_native(in.mnemonic);
  const Operand* mem = memory_operand(in);
  if (mem && (in.addrsize != 4 || !seg_unbounded(mem->seg))) return false;
  if (kind == X87Native::kFldcw) return mem && emit_fldcw(i);
  if (in.mnemonic == ZYDIS_MNEMONIC_FWAIT) {
    // With every exception masked none is pending, and CR0.TS is clear: no #NM, no #MF.
    ++st_.native_instrs;
    ++st_.x87_native;
    return true;
  }
  uint8_t bytes[16];
  size_t len = 0;
  if (encode_native(in, bytes, len, via_view(in) && mem) != EncodeResult::kOk) return false;
  auto body = [&] {
    before_native(in);
    if (mem) mark_access();
    a_.embed(bytes, len);
    after_native(in);
    if (kind == X87Native::kRecorded) emit_x87_record(i, mem);
  };
  if (mem) emit_memory(i, mem->size, memory_written(in, mem), [&] { emit_segment_address(*mem); }, body);
  else body();
  ++st_.native_instrs;
  ++st_.x87_native;
  return true;
}

// FLDCW m16: the new control word is loaded and checked first; one that
// unmasks an exception leaves blockmode::kFpuNative, so the interpreter's
// FLDCW runs instead, and the helper ends the block (jit_helpers.cpp).
// Changes of rounding or precision control, which compilers make around
// every float-to-integer conversion, stay native.
bool Emitter::emit_fldcw(size_t i) {
  const Operand& m = *memory_operand(b_.instrs[i]);
  Label helper = a_.newLabel(), done = a_.newLabel();
  save_r11();  // The test below clobbers the host flags.
  host_flags_ = false;
  // A slow path that has the interpreter run the whole instruction goes on at `done`.
  emit_memory(i, 2, false, [&] { emit_segment_address(m); }, [&] { a_.movzx(x86::r9d, guest_mem(2)); }, &done);
  a_.mov(x86::word_ptr(x86::r15, kOffScratch), x86::r9w);
  a_.not_(x86::r9d);
  a_.test(x86::r9d, Imm(fpu::kMasks));
  a_.jnz(helper);
  a_.fldcw(x86::word_ptr(x86::r15, kOffScratch));
  a_.jmp(done);
  emit_fallback_and_join(i, helper, done);
  ++st_.native_instrs;
  ++st_.x87_native;
  return true;
}

// The interpreter's x87::record after a non-control instruction: FOP,
// FIP/FCS, and FDP/FDS when it has a memory operand (SDM Vol. 1, 8.1.8).
// All flag-free stores. FOP and FIP/FCS are left out when the next
// instruction overwrites them before anything can observe them.
void Emitter::emit_x87_record(size_t i, const Operand* mem) {
  const InstrRecord& in = b_.instrs[i];
  if (!x87_record_overwritten(i)) {
    a_.mov(fpu_field(fpu::kOffFop, 2), Imm(fpu::fop_of(in)));
    a_.mov(fpu_field(fpu::kOffFip, 4), Imm(eip_of(i)));
    // CS does not change inside a block (far transfers end it): FCS is
    // already the CS selector when an earlier record of the block stored it
    // on every path here, with no helper since (fcs_stored_).
    if (!fcs_stored_) {
      a_.movzx(x86::r9d, selector_of(CS));
      a_.mov(fpu_field(fpu::kOffFcs, 2), x86::r9w);
      fcs_stored_ = true;
    }
  }
  if (mem && mem->base == kZeroGpr && mem->index == kZeroGpr) {
    a_.mov(fpu_field(fpu::kOffFdp, 4), Imm(static_cast<uint32_t>(mem->disp)));
  } else if (mem) {
    emit_lea_address(*mem, x86::r9d);  // The offset, without the segment base.
    a_.mov(fpu_field(fpu::kOffFdp, 4), x86::r9d);
  }
  if (mem) {
    a_.movzx(x86::r9d, selector_of(mem->seg));
    a_.mov(fpu_field(fpu::kOffFds, 2), x86::r9w);
  }
}

// Whether a later instruction stores FOP and FIP/FCS before anything can
// see instruction i's: the next x87 instruction is a register-only recorded
// one, which cannot fault (no memory access; with every exception masked,
// no x87 exception) and records its own, natively or in its helper, and
// everything between is quiet: register-only integer instructions that
// cannot fault, trap, branch or leave the block, or no-wait x87 control
// instructions on registers (FNSTSW AX, FWAIT). (An instruction reached by
// a branch instead still records its own.)
bool Emitter::x87_record_overwritten(size_t i) const {
  constexpr uint16_t kNotQuiet = iclass::kMemory | iclass::kControl | iclass::kPrivileged | iclass::kSensitive |
                                 iclass::kIo | iclass::kString | iclass::kEndsBlock | iclass::kInvalid |
                                 iclass::kFar | iclass::kJcc | iclass::kBeyondCsLimit;
  for (size_t j = i + 1; j < b_.instrs.size(); ++j) {
    const InstrRecord& in = b_.instrs[j];
    if (memory_operand(in) || (in.cls & kNotQuiet)) return false;
    const X87Native kind = x87_native(in.mnemonic);
    if (kind == X87Native::kRecorded) return true;
    if (kind == X87Native::kControl) continue;  // FNSTSW AX, FWAIT, FNCLEX: nothing recorded, no fault.
    if (kind == X87Native::kFldcw || (in.cls & iclass::kFpSimd)) return false;
    if (!native_mnemonic(in.mnemonic) || may_trap(in.mnemonic)) return false;
  }
  return false;
}

}  // namespace vmm::jit

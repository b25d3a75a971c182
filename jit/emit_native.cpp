// Instructions that run natively, and the guest memory access paths (guest
// views or inline TLB probes): see jit/emitter.h.
#include <Zydis/Zydis.h>

#include "jit/emitter.h"
#include "jit/native_encoder.h"

namespace vmm::jit {

void Emitter::emit_lea_address(const Operand& m, const x86::Gpd& dst) {
  const bool has_base = m.base != kZeroGpr, has_index = m.index != kZeroGpr;
  // 64-bit address arithmetic into a 32-bit destination: the low 32 bits of
  // the sum are the guest's address with its 2^32 wrap-around, whatever the
  // upper halves of the host registers hold.
  if (has_base && has_index) {
    a_.lea(dst, x86::ptr(guest64(m.base), guest64(m.index), m.scale, m.disp));
  } else if (has_base) {
    a_.lea(dst, x86::ptr(guest64(m.base), m.disp));
  } else if (has_index) {
    // [index*scale + disp32] with no base register.
    a_.lea(dst, x86::ptr(static_cast<uint64_t>(static_cast<int64_t>(m.disp)), guest64(m.index), m.scale));
  } else {
    a_.mov(dst, Imm(static_cast<uint32_t>(m.disp)));
  }
}

// TLB probe (runtime/softmmu.h, TlbEntry): R8D holds the linear address on
// entry and the host address on the fast path's exit. A slow path may deliver
// an exception, which must see the exact guest flags, so their image is in
// R11D before the probe clobbers the host's; they go back into RFLAGS only
// when needed (see the comment above Emitter).
void Emitter::emit_probe(unsigned size, bool write, Label& slow, Label& resume) {
  save_r11();
  emit_tlb_lookup(size, write, slow);
  host_flags_ = false;
  a_.bind(resume);
}

// The probe's TLB lookup proper: R8D linear -> R8 host address, or `miss`.
// Clobbers R9, R10 and the host flags.
void Emitter::emit_tlb_lookup(unsigned size, bool write, Label& miss) {
  ++st_.memory_probes;
  a_.mov(x86::r9d, x86::r8d);
  a_.shr(x86::r9d, 12 - 5);
  a_.and_(x86::r9d, (SoftMmu::kTlbSize - 1) << 5);
  a_.lea(x86::r10d, x86::ptr(x86::r8, static_cast<int32_t>(size - 1)));
  a_.and_(x86::r10d, Imm(kPageMask));
  const int32_t tag = write ? offsetof(TlbEntry, tag_write) : offsetof(TlbEntry, tag_read);
  a_.cmp(x86::r10d, x86::dword_ptr(x86::r15, x86::r9, 0, tlb_off_ + tag));
  a_.jne(miss);
  a_.add(x86::r8, x86::qword_ptr(x86::r15, x86::r9, 0, tlb_off_ + static_cast<int32_t>(offsetof(TlbEntry, addend))));
}


void Emitter::emit_segment_address(const Operand& m) {
  emit_lea_address(m);
  if (m.seg != FS && m.seg != GS) return;
  // Flag-free: the 32-bit LEA wraps the sum at 4 GiB as the guest's address does.
  a_.mov(x86::r9d, state(kOffSegBase + m.seg * static_cast<int32_t>(sizeof(SegmentCache))));
  a_.lea(x86::r8d, x86::ptr(x86::r8, x86::r9));
}

x86::Mem Emitter::guest_address(const Operand& m) const {
  const bool has_base = m.base != kZeroGpr, has_index = m.index != kZeroGpr;
  if (has_base && has_index) return x86::ptr(guest64(m.base), guest64(m.index), m.scale, m.disp);
  if (has_base) return x86::ptr(guest64(m.base), m.disp);
  return x86::ptr(static_cast<uint64_t>(static_cast<int64_t>(m.disp)), guest64(m.index), m.scale);
}

// LEA: the address arithmetic itself, on the host registers.
bool Emitter::emit_lea(size_t i) {
  const InstrRecord& in = b_.instrs[i];
  if (in.addrsize != 4 || in.nops != 2 || in.ops[0].kind != OpKind::Reg || in.ops[1].kind != OpKind::Mem) return false;
  const Operand& m = in.ops[1];
  const uint8_t dst = in.ops[0].reg / 4;
  if (m.base == kZeroGpr && m.index == kZeroGpr) {
    if (in.ops[0].size == 2) a_.mov(x86::gpw(host_of(dst)), Imm(static_cast<uint16_t>(m.disp)));
    else a_.mov(guest32(dst), Imm(static_cast<uint32_t>(m.disp)));
  } else if (in.ops[0].size == 2) {
    a_.lea(x86::gpw(host_of(dst)), guest_address(m));
  } else {
    a_.lea(guest32(dst), guest_address(m));
  }
  ++st_.native_instrs;
  return true;
}

// PUSH r/imm and POP r on a flat 32-bit stack: the store or load plus an
// ESP update with LEA, which leaves the flags alone.
bool Emitter::emit_stack(size_t i) {
  const InstrRecord& in = b_.instrs[i];
  if (!seg_flat(SS) || !(b_.mode & blockmode::kStack32) || in.nops != 1) return false;
  const Operand& o = in.ops[0];
  const unsigned size = in.opsize;
  if (size != 2 && size != 4) return false;
  if (in.mnemonic == ZYDIS_MNEMONIC_PUSH && (o.kind == OpKind::Reg || o.kind == OpKind::Imm)) {
    emit_memory(
        i, size, true, [&] { a_.lea(x86::r8d, x86::ptr(x86::r12, -static_cast<int32_t>(size))); },
        [&] {
          if (o.kind == OpKind::Reg) {
            const HostReg h = host_of(o.reg / 4);
            if (size == 4) a_.mov(guest_mem(4), x86::gpd(h));
            else a_.mov(guest_mem(2), x86::gpw(h));
          } else if (size == 4) {
            a_.mov(guest_mem(4), Imm(o.imm));
          } else {
            a_.mov(guest_mem(2), Imm(static_cast<uint16_t>(o.imm)));
          }
          a_.lea(x86::r12d, x86::ptr(x86::r12, -static_cast<int32_t>(size)));
        });
    ++st_.native_instrs;
    return true;
  }
  if (in.mnemonic == ZYDIS_MNEMONIC_PUSH && o.kind == OpKind::Mem && size == 4 && in.addrsize == 4 &&
      seg_unbounded(o.seg)) {
    // PUSH m32 (i386 code passes arguments this way): the load first, its
    // address computed with ESP before the push, parked in the scratch slot;
    // then the store. Nothing the guest sees changes before the store, so
    // either access's slow path may run the whole instruction again.
    const Label done = a_.newLabel();
    emit_memory(
        i, 4, false, [&] { emit_segment_address(o); },
        [&] {
          a_.mov(x86::r9d, guest_mem(4));
          a_.mov(state(kOffScratch), x86::r9d);
        },
        &done);
    emit_memory(
        i, 4, true, [&] { a_.lea(x86::r8d, x86::ptr(x86::r12, -4)); },
        [&] {
          a_.mov(x86::r9d, state(kOffScratch));
          a_.mov(guest_mem(4), x86::r9d);
          a_.lea(x86::r12d, x86::ptr(x86::r12, -4));
        });
    a_.bind(done);
    ++st_.native_instrs;
    return true;
  }
  if (in.mnemonic == ZYDIS_MNEMONIC_POP && o.kind == OpKind::Reg) {
    const HostReg h = host_of(o.reg / 4);
    emit_memory(
        i, size, false, [&] { a_.mov(x86::r8d, x86::r12d); },
        [&] {
          // The load comes first (nothing may change before the access);
          // POP ESP ends with the popped value, not the incremented ESP (SDM POP).
          const bool esp = o.reg / 4 == ESP;
          const HostReg dst = esp ? kTmp1 : h;
          if (size == 4) a_.mov(x86::gpd(dst), guest_mem(4));
          else a_.mov(x86::gpw(dst), guest_mem(2));
          a_.lea(x86::r12d, x86::ptr(x86::r12, static_cast<int32_t>(size)));
          if (esp && size == 4) a_.mov(x86::r12d, x86::r9d);
          else if (esp) a_.mov(x86::r12w, x86::r9w);
        });
    ++st_.native_instrs;
    return true;
  }
  return false;
}

// LEAVE with a 32-bit operand on a flat 32-bit stack (SDM LEAVE): ESP <- EBP,
// then EBP <- Pop(). The load from [EBP] comes first, so a fault leaves both
// registers as they were.
bool Emitter::emit_leave(size_t i) {
  const InstrRecord& in = b_.instrs[i];
  if (!seg_flat(SS) || !(b_.mode & blockmode::kStack32) || in.opsize != 4) return false;
  emit_memory(
      i, 4, false, [&] { a_.mov(x86::r8d, x86::ebp); },
      [&] {
        a_.mov(x86::r9d, guest_mem(4));
        a_.lea(x86::r12d, x86::ptr(x86::rbp, 4));
        a_.mov(x86::ebp, x86::r9d);
      });
  ++st_.native_instrs;
  return true;
}

// CLD/STD: EFLAGS.DF lives in CpuState (translated code keeps only the
// arithmetic flags in RFLAGS). The AND/OR on it would clobber the host
// flags, so their image goes to R11 first when they are live there.
bool Emitter::emit_direction_flag(size_t i) {
  const bool set = b_.instrs[i].mnemonic == ZYDIS_MNEMONIC_STD;
  save_r11();
  host_flags_ = false;
  if (set) a_.or_(state(kOffEflags), Imm(flag::DF));
  else a_.and_(state(kOffEflags), Imm(~flag::DF));
  ++st_.native_instrs;
  return true;
}

// A near CALL's push of the return address `next` on the flat 32-bit stack.
void Emitter::emit_push_return(size_t i, uint32_t next) {
  emit_memory(
      i, 4, true, [&] { a_.lea(x86::r8d, x86::ptr(x86::r12, -4)); },
      [&] {
        a_.mov(guest_mem(4), Imm(next));
        a_.lea(x86::r12d, x86::ptr(x86::r12, -4));
      });
}


// REP MOVS / REP STOS whose run stays within one page on each side, with
// DF clear and flat segments: one host REP MOVS/STOS on the host addresses
// from two TLB probes, guest ESI/EDI/ECX updated as the instruction leaves
// them. Anything else (DF set, a run crossing a page, a miss, MMIO, a page
// holding code, a watched page) calls the interpreter's handler, which runs
// the whole instruction page by page.
bool Emitter::emit_rep_string(size_t i) {
  const InstrRecord& in = b_.instrs[i];
  const bool movs = in.mnemonic == ZYDIS_MNEMONIC_MOVSB || in.mnemonic == ZYDIS_MNEMONIC_MOVSW ||
                    in.mnemonic == ZYDIS_MNEMONIC_MOVSD;
  const bool stos = in.mnemonic == ZYDIS_MNEMONIC_STOSB || in.mnemonic == ZYDIS_MNEMONIC_STOSW ||
                    in.mnemonic == ZYDIS_MNEMONIC_STOSD;
  if (!(movs || stos) || !(in.prefixes & (prefix::kRep | prefix::kRepne)) || in.addrsize != 4) return false;
  if (!seg_flat(ES) || (movs && !seg_flat(in.seg))) return false;
  const unsigned elem = (in.mnemonic == ZYDIS_MNEMONIC_MOVSB || in.mnemonic == ZYDIS_MNEMONIC_STOSB) ? 1 : in.opsize;
  if (elem != 1 && elem != 2 && elem != 4) return false;
  const uint32_t scale = elem == 1 ? 0 : elem == 2 ? 1 : 2;

  Label helper = a_.newLabel(), done = a_.newLabel();
  // The checks clobber the host flags: the image in R11 restores them at the end.
  save_r11();
  host_flags_ = false;
  a_.test(state(kOffEflags), Imm(flag::DF));
  a_.jnz(helper);
  a_.test(x86::ecx, x86::ecx);
  a_.jz(done);  // Count 0: nothing is accessed (SDM REP).
  a_.cmp(x86::ecx, Imm(kPageSize >> scale));
  a_.ja(helper);
  // Each run within its page: offset + count * elem <= 4096.
  auto same_page_run = [&](const x86::Gpd& index) {
    a_.mov(x86::r9d, index);
    a_.and_(x86::r9d, Imm(kPageSize - 1));
    a_.lea(x86::r9d, x86::ptr(x86::r9, x86::rcx, scale));
    a_.cmp(x86::r9d, Imm(kPageSize));
    a_.ja(helper);
  };
  same_page_run(x86::edi);
  if (movs) {
    same_page_run(x86::esi);
    a_.mov(x86::r8d, x86::esi);
    emit_tlb_lookup(1, false, helper);
    a_.mov(x86::qword_ptr(x86::r15, kOffScratch), x86::r8);
  }
  a_.mov(x86::r8d, x86::edi);
  emit_tlb_lookup(1, true, helper);
  // Final guest ESI/EDI, then the host run on host pointers (RCX: the count).
  a_.lea(x86::r10d, x86::ptr(x86::rdi, x86::rcx, scale));
  if (movs) a_.lea(x86::r9d, x86::ptr(x86::rsi, x86::rcx, scale));
  a_.mov(x86::rdi, x86::r8);
  if (movs) a_.mov(x86::rsi, x86::qword_ptr(x86::r15, kOffScratch));
  switch (elem) {
    case 1: movs ? a_.rep().movsb() : a_.rep().stosb(); break;
    case 2: movs ? a_.rep().movsw() : a_.rep().stosw(); break;
    default: movs ? a_.rep().movsd() : a_.rep().stosd(); break;
  }
  a_.mov(x86::edi, x86::r10d);
  if (movs) a_.mov(x86::esi, x86::r9d);
  a_.jmp(done);
  emit_fallback_and_join(i, helper, done);
  ++st_.string_fast_paths;
  return true;
}

// XCHG with a memory operand. The host's XCHG m, r is implicitly locked, and
// a locked access that crosses a cache line is a host split lock, which
// stalls the whole host's memory bus: a guest must never cause one. vmm has
// one vCPU and nothing else touches guest RAM while translated code runs, so
// a load and a store are as atomic as the guest can observe. The store may
// fault (a read-only view page) after the load: both are recorded accesses
// of this instruction, whose slow path checks it as a write and runs the
// whole body again, and nothing the guest sees changed before the store.
// (Explicit LOCK prefixes are never re-encoded: native_encoder.cpp.)
bool Emitter::emit_xchg_memory(size_t i) {
  const InstrRecord& in = b_.instrs[i];
  if (in.nops != 2 || in.addrsize != 4) return false;
  const bool mem_first = in.ops[0].kind == OpKind::Mem;
  const Operand& m = in.ops[mem_first ? 0 : 1];
  const Operand& r = in.ops[mem_first ? 1 : 0];
  if (m.kind != OpKind::Mem || r.kind != OpKind::Reg || !seg_unbounded(m.seg)) return false;
  const unsigned size = m.size;
  if (size == 1 && (r.reg & 1)) return false;  // AH..BH cannot share an instruction with R9B.
  const HostReg h = host_of(r.reg / 4);
  auto reg_of = [&](HostReg x) -> x86::Gp {
    return size == 1 ? x86::Gp(x86::gpb_lo(x)) : size == 2 ? x86::Gp(x86::gpw(x)) : x86::Gp(x86::gpd(x));
  };
  emit_memory(i, size, true, [&] { emit_segment_address(m); },
              [&] {
                a_.mov(reg_of(kTmp1), guest_mem(size));
                a_.mov(guest_mem(size), reg_of(h));
                a_.mov(reg_of(h), reg_of(kTmp1));
              });
  ++st_.native_instrs;
  return true;
}

bool Emitter::emit_native(size_t i) {
  const InstrRecord& in = b_.instrs[i];
  if (in.mnemonic == ZYDIS_MNEMONIC_LEA) return emit_lea(i);
  if (in.mnemonic == ZYDIS_MNEMONIC_PUSH || in.mnemonic == ZYDIS_MNEMONIC_POP) return emit_stack(i);
  if (in.mnemonic == ZYDIS_MNEMONIC_LEAVE) return emit_leave(i);
  if (in.mnemonic == ZYDIS_MNEMONIC_CLD || in.mnemonic == ZYDIS_MNEMONIC_STD) return emit_direction_flag(i);
  if (in.mnemonic == ZYDIS_MNEMONIC_NOP) {
    ++st_.native_instrs;  // Including the 0F 1F forms with a memory operand: no access happens.
    return true;
  }
  if (in.mnemonic == ZYDIS_MNEMONIC_PAUSE) {
    // A spin-wait hint with no architectural effect (SDM PAUSE): the host's
    // own, so a spinning guest spins politely on the host too.
    a_.pause();
    ++st_.native_instrs;
    return true;
  }
  if (in.cls & iclass::kString) return emit_rep_string(i);
  if (x87_native(in.mnemonic) != X87Native::kHelper) return emit_x87(i);
  if (!native_mnemonic(in.mnemonic)) return false;
  const Operand* mem = memory_operand(in);
  if (mem && in.mnemonic == ZYDIS_MNEMONIC_XCHG) return emit_xchg_memory(i);
  if (mem) {
    if (in.addrsize != 4 || !seg_unbounded(mem->seg)) return false;
    // BT* with a register bit offset address beyond the operand (SDM BT): interpreter.
    if ((in.mnemonic == ZYDIS_MNEMONIC_BT || in.mnemonic == ZYDIS_MNEMONIC_BTS ||
         in.mnemonic == ZYDIS_MNEMONIC_BTR || in.mnemonic == ZYDIS_MNEMONIC_BTC) &&
        in.ops[1].kind == OpKind::Reg)
      return false;
  }
  uint8_t bytes[16];
  size_t len = 0;
  const EncodeResult r = encode_native(in, bytes, len, via_view(in) && mem);
  if (r == EncodeResult::kHighByteWithRex) ++st_.high_byte_fallbacks;
  if (r != EncodeResult::kOk) return false;

  auto body = [&] {
    before_native(in);
    if (may_trap(in.mnemonic)) {
      traps_.emplace_back(a_.newLabel(), i);
      a_.bind(traps_.back().first);
      ++st_.trap_sites;
    }
    if (mem) mark_access();
    a_.embed(bytes, len);
    after_native(in);
  };
  if (!mem) {
    body();
    ++st_.native_instrs;
    return true;
  }
  emit_memory(i, mem->size, memory_written(in, mem), [&] { emit_segment_address(*mem); }, body);
  ++st_.native_instrs;
  return true;
}

}  // namespace vmm::jit

// BT, BTS, BTR, BTC, BSF, BSR, BSWAP, SETcc, CMOVcc (SDM Vol. 2A "BT—Bit
// Test", "BTC", "BTR", "BTS", "BSF—Bit Scan Forward", "BSR—Bit Scan Reverse",
// "BSWAP—Byte Swap", "CMOVcc—Conditional Move"; Vol. 2B "SETcc—Set Byte on
// Condition").
//
// BT* and BSF/BSR run the host instruction on the already-located operand, with
// the guest flags loaded into the host first, so the flags the SDM leaves
// undefined (OF/SF/AF/PF for BT*, all but ZF for BSF/BSR) are what a real CPU
// makes of the same inputs. Conditions are template parameters so each bound
// SETcc/CMOVcc handler tests one fixed flag expression.
#include <Zydis/Zydis.h>

#include <array>
#include <utility>

#include "runtime/interp/flags.h"
#include "runtime/interp/interp.h"
#include "runtime/interp/operands.h"

namespace vmm::interp {
namespace {


// ---------------------------------------------------------------------------
// BT, BTS, BTR, BTC.

enum class Bt { kBt, kBts, kBtr, kBtc };

// BT* leave ZF alone and write CF (the bit) plus the undefined OF/SF/AF/PF.
constexpr uint32_t kBtWritten = flag::CF | flag::OF | flag::SF | flag::AF | flag::PF;

// Runs the host instruction on `v` with an in-range bit number.
template <Bt OP, typename T>
inline T host_bt(uint32_t& eflags, T v, T bit) {
  uint16_t ax = flags_to_ax(eflags);
  if constexpr (OP == Bt::kBt) {
    asm(VMM_FLAGS_IN "bt %2, %1" VMM_FLAGS_OUT : "+a"(ax), "+r"(v) : "r"(bit) : "cc");
  } else if constexpr (OP == Bt::kBts) {
    asm(VMM_FLAGS_IN "bts %2, %1" VMM_FLAGS_OUT : "+a"(ax), "+r"(v) : "r"(bit) : "cc");
  } else if constexpr (OP == Bt::kBtr) {
    asm(VMM_FLAGS_IN "btr %2, %1" VMM_FLAGS_OUT : "+a"(ax), "+r"(v) : "r"(bit) : "cc");
  } else {
    asm(VMM_FLAGS_IN "btc %2, %1" VMM_FLAGS_OUT : "+a"(ax), "+r"(v) : "r"(bit) : "cc");
  }
  merge_flags(eflags, lahf_seto_to_eflags(ax), kBtWritten);
  return v;
}

template <Bt OP>
struct BtForm {
  template <typename T, K D, K S>
  static bool run(Cpu& c, const InstrRecord& in) {
    constexpr unsigned kBits = sizeof(T) * 8;
    if constexpr (D == K::R) {
      // A register bit base takes the offset modulo the operand width, for
      // register and immediate offsets alike (SDM "BT", Description).
      const T bit = static_cast<T>(get<S, T>(c, in, in.ops[1]) & (kBits - 1));
      const T r = host_bt<OP, T>(c.s.eflags, reg_get<T>(c, in.ops[0].reg), bit);
      if constexpr (OP != Bt::kBt) reg_set<T>(c, in.ops[0].reg, r);
    } else {
      uint32_t addr = c.ea(in, in.ops[0]);
      T bit;
      if constexpr (S == K::I) {
        bit = static_cast<T>(in.ops[1].imm & (kBits - 1));  // imm8 offsets are masked.
      } else {
        // A register offset is signed and may address any operand-sized unit
        // around the base: Bit(BitBase, BitOffset) at EA + (operand size) *
        // floor(BitOffset / width) (SDM "BT", Description and Operation).
        using S_T = std::make_signed_t<T>;
        const int32_t off = static_cast<S_T>(reg_get<T>(c, in.ops[1].reg));
        addr += static_cast<uint32_t>((off >> (kBits == 16 ? 4 : 5)) * static_cast<int32_t>(sizeof(T)));
        if (in.addrsize == 2) addr &= 0xFFFF;
        bit = static_cast<T>(off & (kBits - 1));
      }
      const uint32_t lin = c.checked_linear(in.ops[0].seg, addr, sizeof(T), OP != Bt::kBt);
      const T v = OP == Bt::kBt ? c.mmu.read<T>(lin, c.mmu_idx()) : c.mmu.read_for_write<T>(lin, c.mmu_idx());
      if constexpr (OP == Bt::kBt) {
        host_bt<OP, T>(c.s.eflags, v, bit);
      } else {
        uint32_t f = c.s.eflags;
        const T r = host_bt<OP, T>(f, v, bit);
        c.mmu.write<T>(lin, r, c.mmu_idx());
        c.s.eflags = f;  // Only once the write cannot fault any more.
      }
    }
    return false;
  }
};

template <Bt OP>
InterpHandler select_bt(const InstrRecord& in) {
  if (in.nops != 2) return nullptr;
  const K d = kind_of(in.ops[0]), s = kind_of(in.ops[1]);
  if (d == K::I || s == K::M) return nullptr;
  auto pick = [&]<typename T>() -> InterpHandler {
    if (d == K::R) return s == K::I ? &BtForm<OP>::template run<T, K::R, K::I> : &BtForm<OP>::template run<T, K::R, K::R>;
    return s == K::I ? &BtForm<OP>::template run<T, K::M, K::I> : &BtForm<OP>::template run<T, K::M, K::R>;
  };
  switch (in.ops[0].size) {
    case 2: return pick.template operator()<uint16_t>();
    case 4: return pick.template operator()<uint32_t>();
    default: return nullptr;
  }
}

// ---------------------------------------------------------------------------
// BSF, BSR: a zero source sets ZF and leaves the destination unchanged (the
// SDM calls it undefined; Intel and AMD CPUs keep it, and software relies on
// it). The host provides ZF and the undefined CF/OF/SF/AF/PF.

template <bool kReverse, typename T>
inline T host_bsx(uint32_t& eflags, T dst, T src) {
  uint16_t ax = flags_to_ax(eflags);
  if constexpr (kReverse) {
    asm(VMM_FLAGS_IN "bsr %2, %1" VMM_FLAGS_OUT : "+a"(ax), "+r"(dst) : "r"(src) : "cc");
  } else {
    asm(VMM_FLAGS_IN "bsf %2, %1" VMM_FLAGS_OUT : "+a"(ax), "+r"(dst) : "r"(src) : "cc");
  }
  merge_flags(eflags, lahf_seto_to_eflags(ax), flag::kArith);
  return dst;
}

template <bool kReverse, typename T, K S>
bool bsx(Cpu& c, const InstrRecord& in) {
  const T src = get<S, T>(c, in, in.ops[1]);
  const T r = host_bsx<kReverse, T>(c.s.eflags, reg_get<T>(c, in.ops[0].reg), src);
  if (src != 0) reg_set<T>(c, in.ops[0].reg, r);
  return false;
}

template <bool kReverse>
InterpHandler select_bsx(const InstrRecord& in) {
  if (in.nops != 2 || in.ops[0].kind != OpKind::Reg) return nullptr;
  const bool mem = in.ops[1].kind == OpKind::Mem;
  if (!mem && in.ops[1].kind != OpKind::Reg) return nullptr;
  if (in.ops[0].size == 2) return mem ? &bsx<kReverse, uint16_t, K::M> : &bsx<kReverse, uint16_t, K::R>;
  if (in.ops[0].size == 4) return mem ? &bsx<kReverse, uint32_t, K::M> : &bsx<kReverse, uint32_t, K::R>;
  return nullptr;
}


// ---------------------------------------------------------------------------
// BSWAP. With a 16-bit operand the SDM calls the result undefined; Intel and
// AMD CPUs clear the low word (the 32-bit swap of a zero-extended word's
// upper half), leaving bits 31:16 alone.

bool bswap32(Cpu& c, const InstrRecord& in) {
  const uint8_t r = in.ops[0].reg;
  reg_set<uint32_t>(c, r, __builtin_bswap32(reg_get<uint32_t>(c, r)));
  return false;
}

bool bswap16(Cpu& c, const InstrRecord& in) {
  reg_set<uint16_t>(c, in.ops[0].reg, 0);
  return false;
}

InterpHandler select_bswap(const InstrRecord& in) {
  if (in.nops != 1 || in.ops[0].kind != OpKind::Reg) return nullptr;
  return in.ops[0].size == 2 ? &bswap16 : &bswap32;
}

// ---------------------------------------------------------------------------
// SETcc r/m8 and CMOVcc r, r/m.

template <unsigned CC, K D>
bool setcc(Cpu& c, const InstrRecord& in) {
  set<D, uint8_t>(c, in, in.ops[0], condition(c.s.eflags, CC) ? 1 : 0);
  return false;
}

// The source is read whatever the condition, so a memory source faults even
// when nothing moves (SDM "CMOVcc", Operation: temp := SRC first). A false
// condition leaves the destination untouched (in 32-bit mode there is no
// upper half to clear).
template <unsigned CC, typename T, K S>
bool cmovcc(Cpu& c, const InstrRecord& in) {
  const T v = get<S, T>(c, in, in.ops[1]);
  if (condition(c.s.eflags, CC)) reg_set<T>(c, in.ops[0].reg, v);
  return false;
}

template <K D, size_t... I>
constexpr std::array<InterpHandler, 16> setcc_table(std::index_sequence<I...>) {
  return {&setcc<I, D>...};
}
template <typename T, K S, size_t... I>
constexpr std::array<InterpHandler, 16> cmov_table(std::index_sequence<I...>) {
  return {&cmovcc<I, T, S>...};
}

InterpHandler select_setcc(const InstrRecord& in) {
  static constexpr auto kReg = setcc_table<K::R>(std::make_index_sequence<16>());
  static constexpr auto kMem = setcc_table<K::M>(std::make_index_sequence<16>());
  if (in.nops < 1 || in.ops[0].size != 1) return nullptr;
  if (in.ops[0].kind == OpKind::Reg) return kReg[in.cond & 15];
  if (in.ops[0].kind == OpKind::Mem) return kMem[in.cond & 15];
  return nullptr;
}

InterpHandler select_cmov(const InstrRecord& in) {
  static constexpr auto kR16 = cmov_table<uint16_t, K::R>(std::make_index_sequence<16>());
  static constexpr auto kM16 = cmov_table<uint16_t, K::M>(std::make_index_sequence<16>());
  static constexpr auto kR32 = cmov_table<uint32_t, K::R>(std::make_index_sequence<16>());
  static constexpr auto kM32 = cmov_table<uint32_t, K::M>(std::make_index_sequence<16>());
  if (in.nops != 2 || in.ops[0].kind != OpKind::Reg) return nullptr;
  const bool mem = in.ops[1].kind == OpKind::Mem;
  if (!mem && in.ops[1].kind != OpKind::Reg) return nullptr;
  const unsigned cc = in.cond & 15;
  if (in.ops[0].size == 2) return mem ? kM16[cc] : kR16[cc];
  if (in.ops[0].size == 4) return mem ? kM32[cc] : kR32[cc];
  return nullptr;
}

}  // namespace

void register_bitops(SelectorTable& t) {
  t.add(ZYDIS_MNEMONIC_BT, &select_bt<Bt::kBt>);
  t.add(ZYDIS_MNEMONIC_BTS, &select_bt<Bt::kBts>);
  t.add(ZYDIS_MNEMONIC_BTR, &select_bt<Bt::kBtr>);
  t.add(ZYDIS_MNEMONIC_BTC, &select_bt<Bt::kBtc>);
  t.add(ZYDIS_MNEMONIC_BSF, &select_bsx<false>);
  t.add(ZYDIS_MNEMONIC_BSR, &select_bsx<true>);
  t.add(ZYDIS_MNEMONIC_BSWAP, &select_bswap);
  for (uint16_t m : {ZYDIS_MNEMONIC_SETO, ZYDIS_MNEMONIC_SETNO, ZYDIS_MNEMONIC_SETB, ZYDIS_MNEMONIC_SETNB,
                     ZYDIS_MNEMONIC_SETZ, ZYDIS_MNEMONIC_SETNZ, ZYDIS_MNEMONIC_SETBE, ZYDIS_MNEMONIC_SETNBE,
                     ZYDIS_MNEMONIC_SETS, ZYDIS_MNEMONIC_SETNS, ZYDIS_MNEMONIC_SETP, ZYDIS_MNEMONIC_SETNP,
                     ZYDIS_MNEMONIC_SETL, ZYDIS_MNEMONIC_SETNL, ZYDIS_MNEMONIC_SETLE, ZYDIS_MNEMONIC_SETNLE})
    t.add(m, &select_setcc);
  for (uint16_t m : {ZYDIS_MNEMONIC_CMOVO, ZYDIS_MNEMONIC_CMOVNO, ZYDIS_MNEMONIC_CMOVB, ZYDIS_MNEMONIC_CMOVNB,
                     ZYDIS_MNEMONIC_CMOVZ, ZYDIS_MNEMONIC_CMOVNZ, ZYDIS_MNEMONIC_CMOVBE, ZYDIS_MNEMONIC_CMOVNBE,
                     ZYDIS_MNEMONIC_CMOVS, ZYDIS_MNEMONIC_CMOVNS, ZYDIS_MNEMONIC_CMOVP, ZYDIS_MNEMONIC_CMOVNP,
                     ZYDIS_MNEMONIC_CMOVL, ZYDIS_MNEMONIC_CMOVNL, ZYDIS_MNEMONIC_CMOVLE, ZYDIS_MNEMONIC_CMOVNLE})
    t.add(m, &select_cmov);
}

}  // namespace vmm::interp

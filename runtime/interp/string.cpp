// MOVS, STOS, LODS, CMPS, SCAS with and without REP/REPE/REPNE
// (SDM Vol. 2B, "MOVS/MOVSB/MOVSW/MOVSD", "STOS", "LODS", "CMPS", "SCAS" and
// "REP/REPE/REPZ/REPNE/REPNZ"). INS/OUTS are in system.cpp, with the port
// I/O permission check.
//
// Operands (SDM Vol. 1, 7.3.9): the source is seg:ESI with seg = DS or the
// segment override (InstrRecord::seg); the destination is always ES:EDI and
// cannot be overridden. The address size picks SI/DI/CX (16 bits, wrapping at
// 64 KiB, upper halves untouched) or ESI/EDI/ECX. EFLAGS.DF picks the
// direction; it is read at run time because it changes without a re-decode.
//
// REP forms do not loop element by element through the TLB. Each step takes
// the longest run of elements that stays inside one page for the source and
// for the destination (and, with 16-bit addressing, inside the 64 KiB offset
// space), gets host pointers for both runs from SoftMmu::host_run, and does
// the run with host memory operations. When a run is not plain RAM (MMIO, or
// a write to a page holding decoded code) or an element straddles a page, one
// element goes through Cpu::read/Cpu::write instead, which handle MMIO and
// self-modifying-code invalidation; the next step then tries a run again
// (after an SMC invalidation the page is plain RAM again).
//
// Segmentation: a run is done at once only when all of it passes the segment
// type and limit checks (segment_allows); otherwise its elements go one by
// one through Cpu::read/Cpu::write, which check each access.
//
// Restartability (SDM Vol. 2B, REP: after an exception "the source and
// destination registers point to the next string elements to be operated
// on, the EIP register points to the string instruction, and the ECX
// register has the value it held following the last successful iteration"):
// ESI, EDI, ECX (and AL/AX/EAX for LODS) are written back after every step,
// before the next page is translated, so a #PF on the next page leaves them
// exactly as the hardware's element-wise loop would. REPE/REPNE CMPS/SCAS
// restore EFLAGS to its value before the instruction on a fault.
#include <Zydis/Zydis.h>

#include <algorithm>
#include <cstring>

#include "runtime/interp/flags.h"
#include "runtime/interp/interp.h"
#include "runtime/interp/operands.h"

namespace vmm::interp {
namespace {

enum class Op : uint8_t { kMovs, kStos, kLods, kCmps, kScas };
// kRep is F3 or F2 on MOVS/STOS/LODS (both repeat while the count is not
// zero: F2 on them acts as REP on real CPUs); CMPS/SCAS take kRepe (F3) or
// kRepne (F2).
enum class Rep : uint8_t { kNone, kRep, kRepe, kRepne };

// A REP instruction normally completes in one handler call. It stops early,
// returning true with EIP still at the instruction and the registers showing
// the progress ("the EIP register points to the string instruction, and the
// ECX register has the value it held following the last successful
// iteration", SDM Vol. 2B, REP), so that the run loop executes it again:
//  - with EFLAGS.TF set: one iteration per execution, the single-step trap
//    coming after each iteration with EIP at the instruction while
//    iterations remain (as Intel CPUs, Bochs and QEMU do);
//  - when an external interrupt is pending and enabled: the REP pseudo-code
//    services pending interrupts between iterations, and the run loop takes
//    interrupts between blocks;
//  - when a host-time timer deadline has passed (Cpu::iteration_break): the
//    machine runs its timers (a PIT tick raises IRQ 0), then the instruction
//    goes on, or the interrupt is taken first.
// At least one element is done per execution, so an interrupt held off by
// the STI/MOV SS shadow cannot make the instruction spin without progress.
// The clock is asked every kStepsPerCheck page runs (at most 64 KiB).
constexpr uint32_t kStepsPerCheck = 16;
inline bool rep_yield(Cpu& c, bool single_step, uint32_t steps) {
  return single_step || (c.intr() && (c.s.eflags & flag::IF)) || (steps % kStepsPerCheck == 0 && c.iteration_break());
}

// SI/DI/CX or ESI/EDI/ECX by the address size (A = 2 or 4 bytes).
template <unsigned A>
inline uint32_t areg(const Cpu& c, Gpr r) {
  if constexpr (A == 2) return c.s.gpr[r] & 0xFFFF;
  else return c.s.gpr[r];
}
template <unsigned A>
inline void set_areg(Cpu& c, Gpr r, uint32_t v) {
  if constexpr (A == 2) c.s.gpr[r] = (c.s.gpr[r] & 0xFFFF0000u) | (v & 0xFFFF);
  else c.s.gpr[r] = v;
}
// Moves an index register by n elements of k bytes in the DF direction.
template <unsigned A>
inline void advance(Cpu& c, Gpr r, uint32_t n, uint32_t k, bool down) {
  const uint32_t bytes = n * k;
  set_areg<A>(c, r, down ? areg<A>(c, r) - bytes : areg<A>(c, r) + bytes);
}

// Number of k-byte elements, starting with the one at linear `lin` (offset
// `off`) and going in the DF direction, that lie entirely in lin's page and,
// with 16-bit addressing, do not wrap the 64 KiB offset space. 0 when the
// first element itself straddles a boundary (it then goes the slow way).
template <unsigned A>
inline uint32_t fit(uint32_t lin, uint32_t off, uint32_t k, bool down) {
  const uint32_t po = lin & (kPageSize - 1);
  if (po + k > kPageSize) return 0;
  uint32_t n = down ? po / k + 1 : (kPageSize - po) / k;
  if constexpr (A == 2) {
    if (off + k > 0x10000) return 0;
    n = std::min(n, down ? off / k + 1 : (0x10000 - off) / k);
  }
  return n;
}

// Lowest address (linear or offset) of a run of n elements whose first
// element is at `a`.
inline uint32_t run_low(uint32_t a, uint32_t n, uint32_t k, bool down) { return down ? a - (n - 1) * k : a; }

// A page run is used only when segment_access_ok (segmentation.h) accepts
// the whole run; one that fails goes element by element, so the #GP/#SS
// comes at the exact element with the progress before it done.
template <typename T>
inline T load(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;
}
template <typename T>
inline void store(uint8_t* p, T v) {
  std::memcpy(p, &v, sizeof(T));
}

// CMPS/SCAS set the flags as CMP does: SRC1 - SRC2 on the host ALU, flags
// read back with LAHF/SETO (SDM Vol. 2A, CMPS/SCAS "Flags Affected").
template <typename T>
inline void cmp_flags(uint32_t& eflags, T a, T b) {
  uint16_t ax;
  asm("sub %2, %0\n\tlahf\n\tseto %%al" : "+r"(a), "=&a"(ax) : "r"(b) : "cc");
  merge_flags(eflags, lahf_seto_to_eflags(ax), flag::kArith);
}

// Whether REPE/REPNE stop after an element that compared a with b
// (SDM Vol. 2B, REP, Table 4-13: REPE ends on ZF = 0, REPNE on ZF = 1).
template <Rep R, typename T>
inline bool rep_ends(T a, T b) {
  if constexpr (R == Rep::kRepe) return a != b;
  else if constexpr (R == Rep::kRepne) return a == b;
  else return false;
}

// REP MOVS run of L = n*k bytes between host runs whose lowest bytes are ps
// and pd. The result must be that of the element-wise definition, in the DF
// order, also when the runs overlap.
template <typename T>
inline void copy_run(uint8_t* pd, const uint8_t* ps, uint32_t n, bool down) {
  constexpr uint32_t k = sizeof(T);
  const uint32_t len = n * k;
  // A forward copy whose destination starts inside the source (or a backward
  // one whose destination ends inside it) reads bytes the copy has already
  // written: the hardware replicates the pattern (dst = src+1 fills with the
  // first byte). memmove would copy the original bytes instead.
  const bool hazard = down ? (pd < ps && pd + len > ps) : (pd > ps && pd < ps + len);
  if (!hazard) {
    // No element reads what an earlier element wrote: one memmove is exact.
    std::memmove(pd, ps, len);
    return;
  }
  const uint32_t d = static_cast<uint32_t>(down ? ps - pd : pd - ps);
  if (d >= k) {
    // Elements never overlap themselves, so the element-wise copy equals a
    // byte-wise one in the same direction, which equals copying d-byte chunks
    // in order: each chunk's source is the previous chunk's finished
    // destination, and a chunk's source and destination are disjoint.
    if (!down) {
      for (uint32_t off = 0; off < len; off += d) std::memcpy(pd + off, ps + off, std::min(d, len - off));
    } else {
      for (uint32_t end = len; end > 0;) {
        const uint32_t c = std::min(d, end);
        end -= c;
        std::memcpy(pd + end, ps + end, c);
      }
    }
    return;
  }
  // d < k: each element reads all its bytes before writing any of them.
  if (!down) {
    for (uint32_t j = 0; j < n; ++j) store<T>(pd + j * k, load<T>(ps + j * k));
  } else {
    for (uint32_t j = n; j-- > 0;) store<T>(pd + j * k, load<T>(ps + j * k));
  }
}

template <typename T>
inline void fill_run(uint8_t* pd, T v, uint32_t n) {
  if constexpr (sizeof(T) == 1) {
    std::memset(pd, v, n);
  } else {
    for (uint32_t j = 0; j < n; ++j) store<T>(pd + j * sizeof(T), v);
  }
}

// Index (from the run's low end) of the j-th element processed, j = 0 first.
inline uint32_t nth(uint32_t j, uint32_t n, bool down) { return down ? n - 1 - j : j; }

// CMPS run: compares elements in DF order until the REPE/REPNE condition ends
// the instruction or the run is done; returns the number compared (>= 1) and
// sets the flags from the last comparison and `stop`.
template <typename T, Rep R>
inline uint32_t cmps_run(Cpu& c, const uint8_t* ps, const uint8_t* pd, uint32_t n, bool down, bool& stop) {
  constexpr uint32_t k = sizeof(T);
  T a{}, b{};
  uint32_t j = 0;
  while (j < n) {
    const uint32_t i = nth(j, n, down);
    a = load<T>(ps + i * k);
    b = load<T>(pd + i * k);
    ++j;
    if (rep_ends<R>(a, b)) {
      stop = true;
      break;
    }
  }
  cmp_flags<T>(c.s.eflags, a, b);
  return j;
}

// SCAS run: the accumulator against ES:EDI elements; as cmps_run.
template <typename T, Rep R>
inline uint32_t scas_run(Cpu& c, T acc, const uint8_t* pd, uint32_t n, bool down, bool& stop) {
  constexpr uint32_t k = sizeof(T);
  uint32_t j;
  if constexpr (sizeof(T) == 1 && R == Rep::kRepne) {
    // REPNE SCASB (strlen, memchr): the host's byte search finds the first
    // equal byte in DF order; everything before it compared unequal.
    const void* hit = down ? memrchr(pd, acc, n) : std::memchr(pd, acc, n);
    if (hit) {
      const uint32_t i = static_cast<uint32_t>(static_cast<const uint8_t*>(hit) - pd);
      j = (down ? n - 1 - i : i) + 1;
      stop = true;
    } else {
      j = n;
    }
    cmp_flags<T>(c.s.eflags, acc, pd[nth(j - 1, n, down)]);
    return j;
  } else {
    T b{};
    j = 0;
    while (j < n) {
      b = load<T>(pd + nth(j, n, down) * k);
      ++j;
      if (rep_ends<R>(acc, b)) {
        stop = true;
        break;
      }
    }
    cmp_flags<T>(c.s.eflags, acc, b);
    return j;
  }
}

// One element through Cpu::read/Cpu::write (the non-REP form, and REP
// stretches that are not plain RAM). Registers other than the accumulator and
// the flags are not touched here; returns whether REPE/REPNE end.
template <Op OP, Rep R, typename T, unsigned A>
inline bool one_element(Cpu& c, const InstrRecord& in) {
  const uint32_t si = areg<A>(c, ESI), di = areg<A>(c, EDI);
  if constexpr (OP == Op::kMovs) {
    c.write<T>(ES, di, c.read<T>(in.seg, si));  // Read before write, as the hardware.
    return false;
  } else if constexpr (OP == Op::kStos) {
    c.write<T>(ES, di, reg_get<T>(c, 0));
    return false;
  } else if constexpr (OP == Op::kLods) {
    reg_set<T>(c, 0, c.read<T>(in.seg, si));
    return false;
  } else if constexpr (OP == Op::kCmps) {
    // CMPS computes SRC1 - SRC2 with SRC1 = seg:ESI and SRC2 = ES:EDI. The
    // SDM does not give the order of the two reads; Intel CPUs (and QEMU)
    // read ES:EDI first, so when both fault the destination's fault is the
    // one reported.
    const T b = c.read<T>(ES, di);
    const T a = c.read<T>(in.seg, si);
    cmp_flags<T>(c.s.eflags, a, b);
    return rep_ends<R>(a, b);
  } else {
    const T a = reg_get<T>(c, 0);
    const T b = c.read<T>(ES, di);
    cmp_flags<T>(c.s.eflags, a, b);
    return rep_ends<R>(a, b);
  }
}

// The REP loop (SDM Vol. 2B, REP, Operation): WHILE CountReg != 0 DO
// service pending interrupts; execute the string instruction; CountReg - 1;
// exit when CountReg = 0 or the REPE/REPNE condition fails. ECX = 0
// accesses nothing. Returns the handler result (true: stopped early, EIP
// still at the instruction; see rep_yield).
template <Op OP, Rep R, typename T, unsigned A>
bool rep_loop(Cpu& c, const InstrRecord& in) {
  constexpr uint32_t k = sizeof(T);
  constexpr bool kUsesSrc = OP == Op::kMovs || OP == Op::kLods || OP == Op::kCmps;
  constexpr bool kUsesDst = OP != Op::kLods;
  constexpr bool kWritesDst = OP == Op::kMovs || OP == Op::kStos;
  const bool down = c.s.eflags & flag::DF;
  const bool single_step = c.s.eflags & flag::TF;
  const unsigned idx = c.mmu_idx();
  uint32_t count = areg<A>(c, ECX);
  uint32_t steps = 0;
  while (count != 0) {
    if (steps != 0 && rep_yield(c, single_step, steps)) return true;
    ++steps;
    const uint32_t si = areg<A>(c, ESI), di = areg<A>(c, EDI);
    const uint32_t slin = c.linear(in.seg, si), dlin = c.linear(ES, di);
    uint32_t n = single_step ? 1 : count;
    if constexpr (kUsesSrc) n = std::min(n, fit<A>(slin, si, k, down));
    if constexpr (kUsesDst) n = std::min(n, fit<A>(dlin, di, k, down));

    // The run's pages are translated in the order the first element
    // accesses them (MOVS reads the source, then writes; CMPS reads ES:EDI
    // first, see one_element), so a fault is the one that element reports.
    uint8_t* ps = nullptr;
    uint8_t* pd = nullptr;
    bool fast = n != 0;
    if (fast && kUsesSrc) fast = segment_access_ok(c.s, in.seg, run_low(si, n, k, down), n * k, false);
    if (fast && kUsesDst) fast = segment_access_ok(c.s, ES, run_low(di, n, k, down), n * k, kWritesDst);
    // With DF = 1 the run's low end is its last element: the first one is
    // translated first, so a #PF reports that element's address in CR2.
    auto map_src = [&] {
      if (down) c.mmu.translate(slin, Access::kRead, idx);
      ps = c.mmu.host_run(run_low(slin, n, k, down), n * k, Access::kRead, idx);
      fast = ps != nullptr;
    };
    auto map_dst = [&] {
      const Access acc = kWritesDst ? Access::kWrite : Access::kRead;
      if (down) c.mmu.translate(dlin, acc, idx);
      pd = c.mmu.host_run(run_low(dlin, n, k, down), n * k, acc, idx);
      fast = pd != nullptr;
    };
    if constexpr (OP == Op::kCmps) {
      if (fast) map_dst();
      if (fast) map_src();
    } else {
      if (fast && kUsesSrc) map_src();
      if (fast && kUsesDst) map_dst();
    }

    bool stop = false;
    if (!fast) {
      stop = one_element<OP, R, T, A>(c, in);
      n = 1;
    } else if constexpr (OP == Op::kMovs) {
      copy_run<T>(pd, ps, n, down);
    } else if constexpr (OP == Op::kStos) {
      fill_run<T>(pd, reg_get<T>(c, 0), n);
    } else if constexpr (OP == Op::kLods) {
      // Reading plain RAM has no side effect: only the last element loaded
      // stays in the accumulator.
      reg_set<T>(c, 0, load<T>(ps + nth(n - 1, n, down) * k));
    } else if constexpr (OP == Op::kCmps) {
      n = cmps_run<T, R>(c, ps, pd, n, down, stop);
    } else {
      n = scas_run<T, R>(c, reg_get<T>(c, 0), pd, n, down, stop);
    }

    // Progress is architectural before the next step can fault.
    if constexpr (kUsesSrc) advance<A>(c, ESI, n, k, down);
    if constexpr (kUsesDst) advance<A>(c, EDI, n, k, down);
    count -= n;
    set_areg<A>(c, ECX, count);
    if (stop) break;
  }
  return false;
}

template <Op OP, Rep R, typename T, unsigned A>
bool string_op(Cpu& c, const InstrRecord& in) {
  if constexpr (R == Rep::kNone) {
    constexpr uint32_t k = sizeof(T);
    const bool down = c.s.eflags & flag::DF;
    one_element<OP, R, T, A>(c, in);
    if constexpr (OP != Op::kStos && OP != Op::kScas) advance<A>(c, ESI, 1, k, down);
    if constexpr (OP != Op::kLods) advance<A>(c, EDI, 1, k, down);
    return false;
  } else if constexpr (OP == Op::kCmps || OP == Op::kScas) {
    // "When a fault occurs during the execution of a CMPS or SCAS instruction
    // that is prefixed with REPE or REPNE, the EFLAGS value is restored to
    // the state prior to the execution of the instruction" (SDM Vol. 2B,
    // REP); ESI, EDI and ECX keep the progress.
    const uint32_t eflags_before = c.s.eflags;
    try {
      return rep_loop<OP, R, T, A>(c, in);
    } catch (...) {
      c.s.eflags = eflags_before;
      throw;
    }
  } else {
    return rep_loop<OP, R, T, A>(c, in);
  }
}

template <Op OP, Rep R, typename T>
InterpHandler pick_addr(const InstrRecord& in) {
  return in.addrsize == 2 ? &string_op<OP, R, T, 2> : &string_op<OP, R, T, 4>;
}

template <Op OP, typename T>
InterpHandler pick_rep(const InstrRecord& in) {
  const bool f3 = in.prefixes & prefix::kRep, f2 = in.prefixes & prefix::kRepne;
  if constexpr (OP == Op::kCmps || OP == Op::kScas) {
    if (f3) return pick_addr<OP, Rep::kRepe, T>(in);
    if (f2) return pick_addr<OP, Rep::kRepne, T>(in);
  } else {
    if (f3 || f2) return pick_addr<OP, Rep::kRep, T>(in);
  }
  return pick_addr<OP, Rep::kNone, T>(in);
}

// The one-byte opcodes of the string forms (SDM Vol. 2, Appendix A, Table
// A-2, row A). MOVSD and CMPSD also name SSE2 instructions (F2 0F 10/11 and
// F2 0F C2); those forms are passed on to whatever selector owned the
// mnemonic before (none yet).
constexpr uint8_t opcode_of(Op op, bool byte) {
  switch (op) {
    case Op::kMovs: return byte ? 0xA4 : 0xA5;
    case Op::kCmps: return byte ? 0xA6 : 0xA7;
    case Op::kStos: return byte ? 0xAA : 0xAB;
    case Op::kLods: return byte ? 0xAC : 0xAD;
    default: return byte ? 0xAE : 0xAF;
  }
}

Selector g_prev_movsd = nullptr;
Selector g_prev_cmpsd = nullptr;

template <Op OP, typename T>
InterpHandler select_string(const InstrRecord& in) {
  if (in.opcode != opcode_of(OP, sizeof(T) == 1) || !(in.cls & iclass::kString)) {
    Selector prev = OP == Op::kMovs ? g_prev_movsd : OP == Op::kCmps ? g_prev_cmpsd : nullptr;
    return prev ? prev(in) : nullptr;
  }
  return pick_rep<OP, T>(in);
}

}  // namespace

void register_string(SelectorTable& t) {
  g_prev_movsd = t.get(ZYDIS_MNEMONIC_MOVSD);
  g_prev_cmpsd = t.get(ZYDIS_MNEMONIC_CMPSD);
  t.add(ZYDIS_MNEMONIC_MOVSB, &select_string<Op::kMovs, uint8_t>);
  t.add(ZYDIS_MNEMONIC_MOVSW, &select_string<Op::kMovs, uint16_t>);
  t.add(ZYDIS_MNEMONIC_MOVSD, &select_string<Op::kMovs, uint32_t>);
  t.add(ZYDIS_MNEMONIC_STOSB, &select_string<Op::kStos, uint8_t>);
  t.add(ZYDIS_MNEMONIC_STOSW, &select_string<Op::kStos, uint16_t>);
  t.add(ZYDIS_MNEMONIC_STOSD, &select_string<Op::kStos, uint32_t>);
  t.add(ZYDIS_MNEMONIC_LODSB, &select_string<Op::kLods, uint8_t>);
  t.add(ZYDIS_MNEMONIC_LODSW, &select_string<Op::kLods, uint16_t>);
  t.add(ZYDIS_MNEMONIC_LODSD, &select_string<Op::kLods, uint32_t>);
  t.add(ZYDIS_MNEMONIC_CMPSB, &select_string<Op::kCmps, uint8_t>);
  t.add(ZYDIS_MNEMONIC_CMPSW, &select_string<Op::kCmps, uint16_t>);
  t.add(ZYDIS_MNEMONIC_CMPSD, &select_string<Op::kCmps, uint32_t>);
  t.add(ZYDIS_MNEMONIC_SCASB, &select_string<Op::kScas, uint8_t>);
  t.add(ZYDIS_MNEMONIC_SCASW, &select_string<Op::kScas, uint16_t>);
  t.add(ZYDIS_MNEMONIC_SCASD, &select_string<Op::kScas, uint32_t>);
}

}  // namespace vmm::interp

// Random instruction-sequence generator.
//
// A sequence is a list of "units"; each unit is one form of the form table
// (forms.cpp) emitted with random operands, possibly preceded by set-up
// instructions (MOV reg/mem, imm) that establish its preconditions (bounded
// REP counts, divisors that avoid #DE, bounded bit offsets, ...).
//
// What the generator knows about each GPR is an interval (exact after a
// MOV imm set-up); EBX/ESI/EDI/EBP/ESP are kept inside their regions, and
// every explicit memory operand is checked against the intervals so that
// it lands in the data region or the stack scratch part (see common.h).
// Forward branches are resolved a few units later; the register knowledge
// at their target is the union of both paths.
//
// Undefined flags: U is the set of flags possibly undefined so far. A
// candidate instruction that reads a flag in U is rejected. Each
// instruction adds its undefined flags to U (the decoder's set plus the
// count-dependent ones the generator knows about: OF after multi-bit shifts
// etc.). An instruction removes flags from U only when it certainly writes
// them with a defined value and no pending forward branch can skip it (and
// it is not an instruction that may leave the flags alone, like a shift by
// a count that may be zero or a REP CMPS with a count that may be zero).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "frontend/decoder.h"
#include "tests/diff/common.h"

namespace vmm::diff {

struct Rng {
  uint64_t s;
  explicit Rng(uint64_t seed) : s(seed) { s = next() ^ 0x5DEECE66Dull; }
  uint64_t next() {
    uint64_t z = (s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  uint32_t u32() { return static_cast<uint32_t>(next()); }
  uint32_t below(uint32_t n) { return n ? static_cast<uint32_t>(next() % n) : 0; }
  int range(int lo, int hi) { return lo + static_cast<int>(below(static_cast<uint32_t>(hi - lo + 1))); }
  bool chance(unsigned percent) { return below(100) < percent; }
  template <typename T>
  const T& pick(const std::vector<T>& v) { return v[below(static_cast<uint32_t>(v.size()))]; }
  // A value of `bytes` bytes biased towards boundary cases.
  uint32_t interesting(unsigned bytes);
};

struct Interval {
  bool known = false;
  int64_t lo = 0, hi = 0;
  static Interval exact(int64_t v) { return {true, v, v}; }
  bool is_exact() const { return known && lo == hi; }
};

// An explicit memory operand (ModRM/SIB/displacement), already checked.
struct Mem {
  uint8_t mod = 0, rm = 0;
  bool sib = false;
  uint8_t sib_byte = 0;
  int disp_size = 0;  // 0, 1, 2 (16-bit addressing) or 4.
  int32_t disp = 0;
  bool a16 = false;   // Needs the 67 prefix.
  uint8_t seg = 0;    // Segment-override prefix byte, 0 for none.
  int64_t lo = 0, hi = 0;  // Possible effective addresses (before extra offsets).
  bool exact() const { return lo == hi; }
};

// A register-or-memory operand.
struct RM {
  bool is_reg = true;
  uint8_t reg = 0;  // Register number in the operand's width encoding.
  Mem mem;
};

// Options of one emitted instruction.
struct EmitOpts {
  bool setup = false;        // A set-up or glue instruction (not counted as the form).
  uint32_t allow_write = 0;  // Extra GPRs (bit per register) it may write.
  uint32_t extra_undef = 0;  // Flags undefined beyond the decoder's set.
  bool may_noop = false;     // May leave its flags unchanged (count 0).
  uint32_t keep = 0;         // Written GPRs whose knowledge the caller updates itself.
  bool invalid = false;      // Expected not to decode (#UD).
};

struct FormCtx;
using FormFn = std::function<bool(FormCtx&)>;

struct Form {
  std::string name;
  std::string group;
  FormFn fn;
  bool simple = true;  // Usable inside ENTER/LEAVE, PUSHA/POPA and subroutine bodies.
  unsigned weight = 1;
  bool native_only = false;  // Unicorn gets it wrong: generated only with the real-CPU oracle.
  bool x87 = false;          // An x87 form: generated only where the x87 state is compared (forms_x87.cpp).
};

// All forms (built once).
const std::vector<Form>& form_table();

struct PendingBranch {
  uint32_t patch_off;   // Offset in the code buffer of the field to patch.
  int patch_size;       // 1, 2 or 4 (relative) or -4 (absolute address).
  uint32_t next_ip;     // Address after the branch (for relative fields).
  int remaining;        // Units until the target.
  Interval snap[8];
};

// The generator state that a candidate unit may change (copied to roll back).
struct GenState {
  std::vector<uint8_t> code;  // kCodeSize bytes; main part from 0, subroutines from kSubOff.
  uint32_t main_len = 0;
  uint32_t sub_len = 0;
  bool in_sub = false;        // Emitting into the subroutine area.
  Interval reg[8];
  uint32_t undef = 0;
  std::vector<PendingBranch> pending;
  std::vector<InstrMeta> instrs;
  std::vector<uint32_t> fs_gs;
  int string_ops = 0;
  unsigned depth = 0;         // Nesting of compound forms.
  bool native_only = false;   // A Unicorn-bad case was used (see Sequence::native_only).
};

inline constexpr uint32_t kSubOff = 0xC00;   // Subroutines live at kCodeBase + kSubOff.
inline constexpr uint32_t kMainMax = 0xB80;  // Main code must end before this.

class Generator {
 public:
  // native: also generate the cases Unicorn gets wrong (those sequences are
  // checked against the real CPU instead).
  // x87: also generate the x87 forms (the caller compares the x87 state).
  explicit Generator(std::string only = {}, bool native = false, bool x87 = false);
  bool native() const { return native_; }
  Sequence generate(uint64_t seed, unsigned length);

  // Per-form count of units emitted into sequences so far.
  const std::vector<uint64_t>& form_counts() const { return counts_; }
  // Instructions (set-ups included) with: a memory operand, the 67 prefix, a
  // segment override, LOCK, REP/REPNE, the 66 prefix.
  struct Features {
    uint64_t instrs = 0, memory = 0, addr16 = 0, seg = 0, lock = 0, rep = 0, opsize16 = 0;
  };
  const Features& features() const { return features_; }

 private:
  bool native_ = false;
  std::vector<int> selected_;  // Forms matching --only.
  std::vector<int> simple_;
  std::vector<uint64_t> counts_;
  Features features_;
  friend struct FormCtx;
};

// The context a form function works with.
struct FormCtx {
  Rng& rng;
  GenState& st;
  const Decoder& dec;
  const std::vector<int>& simple;
  std::vector<int>* used_forms;  // Forms emitted (for coverage), incl. nested ones.
  bool native = false;           // Unicorn-bad cases allowed.

  // With the real-CPU oracle, true with probability `percent` and marks the
  // sequence as checked against the real CPU only.
  bool unicorn_bad(unsigned percent) {
    if (!native || !rng.chance(percent)) return false;
    st.native_only = true;
    return true;
  }

  // Current emission address.
  uint32_t ip() const;
  // Emits one instruction; false if it reads a flag in U (or does not fit).
  bool emit(const std::vector<uint8_t>& bytes, const EmitOpts& o = {});
  // Emits a nested simple unit (for compound forms).
  bool nested_simple();

  // Register pickers. Width 1 uses the byte-register encoding (AL..BH).
  uint8_t reg_any(int /*w*/) { return static_cast<uint8_t>(rng.below(8)); }
  uint8_t reg_writable(int w);  // AL CL DL AH CH DH / AX CX DX / EAX ECX EDX
  static int gpr_of(uint8_t r, int w) { return w == 1 ? (r & 3) : r; }

  // A memory operand of `size` bytes. [extra_lo, extra_hi] widens the
  // accessed range (BT with a register bit offset); `esp_adj` is added to
  // ESP's value when ESP is the base (POP m). Registers in `reserved` are
  // neither used nor set up. May emit MOV set-ups for a base/index.
  bool pick_mem(Mem& m, int size, uint32_t reserved = 0, bool allow16 = true, int64_t extra_lo = 0,
                int64_t extra_hi = 0, int64_t esp_adj = 0);
  // Any addressing form (LEA, NOP 0F 1F): no region check.
  void pick_addr(Mem& m, bool allow16 = true);
  // Register (percent_reg %) or memory operand.
  bool pick_rm(RM& o, int w, bool write, unsigned percent_reg = 50, uint32_t reserved = 0);

  // Encodes prefixes + opcode + ModRM(reg field, rm) + imm.
  std::vector<uint8_t> encode(std::vector<uint8_t> prefixes, std::vector<uint8_t> opcode, uint8_t regfield,
                              const RM& rm, std::vector<uint8_t> imm = {});

  // Set-ups.
  bool set_reg(int gpr, uint32_t value);  // mov r32, imm32
  bool set_reg8(uint8_t r8, uint8_t value);
  bool set_mem(const Mem& m, int size, uint32_t value);  // mov size ptr [m], imm

  // A forward branch field at code offset `off` to be resolved after `units` units.
  void add_pending(uint32_t off, int size, uint32_t next_ip, int units);

  bool lock_ok() { return rng.chance(15); }
};

std::vector<uint8_t> imm_bytes(uint32_t v, int size);

}  // namespace vmm::diff

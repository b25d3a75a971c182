// Generator core: emission with flag/register checks, memory operands,
// branch bookkeeping and the sequence loop. The form table is in forms.cpp.
#include "tests/diff/gen.h"

#include <algorithm>
#include <cstring>
#include <stdexcept>

namespace vmm::diff {

uint32_t Rng::interesting(unsigned bytes) {
  const uint32_t mask = bytes >= 4 ? 0xFFFFFFFFu : ((1u << (8 * bytes)) - 1);
  const uint32_t top = 1u << (8 * bytes - 1);
  switch (below(12)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return mask;
    case 3: return top;
    case 4: return top - 1;
    case 5: return below(16);
    case 6: return (mask - below(16)) & mask;
    case 7: return (top + below(8) - 4) & mask;
    default: return u32() & mask;
  }
}

std::vector<uint8_t> imm_bytes(uint32_t v, int size) {
  std::vector<uint8_t> b;
  for (int i = 0; i < size; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return b;
}

namespace {

struct Region {
  int64_t lo, hi;  // [lo, hi)
};
constexpr Region kRegions[2] = {{kDataBase, kDataBase + kDataSize}, {kStackBase, kScratchEnd}};
constexpr Region kRegion16 = {kDataBase, 0x10000};

bool in_region(int64_t lo, int64_t hi) {  // Inclusive byte range.
  for (auto& r : kRegions)
    if (lo >= r.lo && hi < r.hi) return true;
  return false;
}

// Normalizes a 32-bit address range that may have wrapped.
bool wrap32(int64_t& lo, int64_t& hi) {
  const int64_t w = int64_t{1} << 32;
  int64_t k = lo >= 0 ? lo / w : -((-lo + w - 1) / w);
  lo -= k * w;
  hi -= k * w;
  return hi < w;
}

Interval low16(const Interval& v) {
  if (!v.known || (v.lo >> 16) != (v.hi >> 16) || v.lo < 0) return {};
  return {true, v.lo & 0xFFFF, v.hi & 0xFFFF};
}

}  // namespace

uint32_t FormCtx::ip() const {
  return kCodeBase + (st.in_sub ? kSubOff + st.sub_len : st.main_len);
}

uint8_t FormCtx::reg_writable(int w) {
  static const uint8_t k8[] = {0, 1, 2, 4, 5, 6};
  if (w == 1) return k8[rng.below(6)];
  return static_cast<uint8_t>(rng.below(3));
}

bool FormCtx::emit(const std::vector<uint8_t>& bytes, const EmitOpts& o) {
  const uint32_t len = static_cast<uint32_t>(bytes.size());
  if (st.in_sub ? (kSubOff + st.sub_len + len + 16 > kCodeSize) : (st.main_len + len > kMainMax)) return false;
  InstrRecord rec;
  if (o.invalid) {
    if (dec.decode(bytes.data(), bytes.size(), rec) == DecodeStatus::kOk)
      throw std::logic_error("expected an invalid instruction: " + dec.disassemble(bytes.data(), bytes.size(), 0));
    const uint32_t at = ip();
    std::memcpy(st.code.data() + (at - kCodeBase), bytes.data(), len);
    if (st.in_sub) st.sub_len += len;
    else st.main_len += len;
    InstrMeta m;
    m.addr = at;
    m.len = static_cast<uint8_t>(len);
    m.undef_before = st.undef;
    m.form = -2;
    st.instrs.push_back(m);
    return true;
  }
  if (dec.decode(bytes.data(), bytes.size(), rec) != DecodeStatus::kOk || rec.length != len)
    throw std::logic_error("generator emitted an undecodable instruction: " +
                           dec.disassemble(bytes.data(), bytes.size(), 0));
  if (rec.flags_read & st.undef & fl::kCompared) return false;
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  dec.decode_full(bytes.data(), bytes.size(), insn, ops);
  uint32_t writes = 0;
  for (unsigned i = 0; i < insn.operand_count; ++i) {
    if (ops[i].type != ZYDIS_OPERAND_TYPE_REGISTER || !(ops[i].actions & ZYDIS_OPERAND_ACTION_MASK_WRITE)) continue;
    const ZydisRegister r = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LEGACY_32, ops[i].reg.value);
    if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_EDI) writes |= 1u << (r - ZYDIS_REGISTER_EAX);
  }
  const uint32_t allowed = (1u << rEAX) | (1u << rECX) | (1u << rEDX) | o.allow_write;
  if (writes & ~allowed)
    throw std::logic_error("generator emitted a write to a pointer register: " +
                           dec.disassemble(bytes.data(), bytes.size(), 0));
  const uint32_t at = ip();
  uint32_t off = at - kCodeBase;
  std::memcpy(st.code.data() + off, bytes.data(), len);
  // FS/GS override prefixes (the native run makes them DS): scan the
  // prefix bytes only, up to the first opcode byte.
  for (uint32_t i = 0; i < len; ++i) {
    const uint8_t b = bytes[i];
    if (b == 0x64 || b == 0x65) {
      st.fs_gs.push_back(off + i);
      continue;
    }
    if (b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E || b == 0x66 || b == 0x67 || b == 0xF0 || b == 0xF2 ||
        b == 0xF3)
      continue;
    break;
  }
  if (st.in_sub) st.sub_len += len;
  else st.main_len += len;
  for (int r = 0; r < 8; ++r)
    if ((writes & ~o.keep) & (1u << r)) st.reg[r] = Interval{};
  const uint32_t undef_before = st.undef;
  const uint32_t und = (rec.flags_undefined | o.extra_undef) & fl::kArith;
  const uint32_t defined = rec.flags_written & ~und & fl::kArith;
  if (!o.may_noop && st.pending.empty()) st.undef &= ~defined;
  st.undef |= und;
  InstrMeta m;
  m.addr = at;
  m.len = static_cast<uint8_t>(len);
  m.mnemonic = rec.mnemonic;
  m.flags_read = rec.flags_read;
  m.flags_undef = und;
  m.undef_before = undef_before;
  m.setup = o.setup;
  m.form = o.setup ? -1 : -2;  // -2: attributed to the form once the unit succeeds.
  st.instrs.push_back(m);
  return true;
}

bool FormCtx::nested_simple() {
  const auto& forms = form_table();
  for (int attempt = 0; attempt < 8; ++attempt) {
    GenState save = st;
    const size_t used = used_forms->size();
    const int f = simple[rng.below(static_cast<uint32_t>(simple.size()))];
    ++st.depth;
    bool ok = forms[f].fn(*this);
    --st.depth;
    if (ok) {
      used_forms->push_back(f);
      for (auto& m : st.instrs)
        if (m.form == -2) m.form = f;
      return true;
    }
    st = std::move(save);
    used_forms->resize(used);
  }
  return false;
}

bool FormCtx::pick_mem(Mem& m, int size, uint32_t reserved, bool allow16, int64_t extra_lo, int64_t extra_hi,
                       int64_t esp_adj) {
  // No CS override here: the operand may be written (a write through CS
  // raises #GP, which Unicorn does not check: UNICORN_KNOWN_ISSUES.md #3).
  // pick_rm adds CS overrides to operands that are only read.
  static const uint8_t kSegs[] = {0x26, 0x36, 0x3E, 0x64, 0x65};
  for (int attempt = 0; attempt < 40; ++attempt) {
    m = Mem{};
    m.seg = rng.chance(20) ? kSegs[rng.below(5)] : 0;
    if (m.seg && unicorn_bad(3)) m.seg = 0x2E;
    const Region& target_region = rng.chance(85) ? kRegions[0] : kRegions[1];
    if (allow16 && extra_lo == 0 && extra_hi == 0 && rng.chance(12)) {
      // 16-bit addressing.
      static const int kB[8] = {rEBX, rEBX, rEBP, rEBP, -1, -1, rEBP, rEBX};
      static const int kI[8] = {rESI, rEDI, rESI, rEDI, rESI, rEDI, -1, -1};
      m.a16 = true;
      m.rm = static_cast<uint8_t>(rng.below(8));
      m.mod = static_cast<uint8_t>(rng.below(3));
      Interval sum = Interval::exact(0);
      const bool abs = m.mod == 0 && m.rm == 6;
      if (!abs) {
        for (int r : {kB[m.rm], kI[m.rm]}) {
          if (r < 0) continue;
          if (reserved & (1u << r)) goto next;
          Interval v = low16(st.reg[r]);
          if (!v.known) goto next;
          sum.lo += v.lo;
          sum.hi += v.hi;
        }
      }
      {
        const int64_t t = rng.range(static_cast<int>(kRegion16.lo), static_cast<int>(kRegion16.hi) - 64);
        if (abs || m.mod == 2) {
          m.disp_size = 2;
          m.disp = static_cast<int16_t>(static_cast<uint16_t>(t - sum.lo));
        } else if (m.mod == 1) {
          m.disp_size = 1;
          m.disp = static_cast<int8_t>(rng.below(256));
        }
        int64_t lo = sum.lo + m.disp, hi = sum.hi + m.disp;
        int64_t k = lo >= 0 ? lo >> 16 : -((-lo + 0xFFFF) >> 16);
        lo -= k << 16;
        hi -= k << 16;
        if (hi > 0xFFFF || lo < kRegion16.lo || hi + size > kRegion16.hi) continue;
        m.lo = lo;
        m.hi = hi;
        return true;
      }
    next:
      continue;
    }
    // 32-bit addressing.
    const unsigned kind = rng.below(10);
    int base = -1, index = -1, scale = 0;
    bool want_sib = false;
    if (kind != 0) {
      base = static_cast<int>(rng.below(8));
      if (kind >= 5) {
        want_sib = true;
        index = static_cast<int>(rng.below(8));
        if (index == rESP) index = -1;
        scale = static_cast<int>(rng.below(4));
        if (kind == 9) base = -1;  // [index*s + disp32]
      }
    }
    // Set-ups for unknown data registers.
    int64_t plan[8];
    bool planned[8] = {};
    bool bad = false;
    for (int r : {base, index}) {
      if (r < 0) continue;
      if (reserved & (1u << r)) bad = true;
      else if (!st.reg[r].known || (r <= static_cast<int>(rEDX) && rng.chance(30))) {
        if (r > static_cast<int>(rEDX)) bad = true;
        else if (!planned[r]) {
          planned[r] = true;
          plan[r] = r == base ? rng.range(static_cast<int>(target_region.lo), static_cast<int>(target_region.hi) - 256)
                              : rng.range(-64, 512);
        }
      }
    }
    if (bad) continue;
    if (base == index && base >= 0 && planned[base]) plan[base] = rng.range(0x2000, 0x6000);
    auto val = [&](int r) -> Interval {
      if (r < 0) return Interval::exact(0);
      if (planned[r]) return Interval::exact(static_cast<uint32_t>(plan[r]));
      return st.reg[r];
    };
    Interval b = val(base), x = val(index);
    if (base == rESP) {
      b.lo += esp_adj;
      b.hi += esp_adj;
    }
    int64_t lo = b.lo + (x.lo << scale), hi = b.hi + (x.hi << scale);
    // Displacement: none, disp8 or disp32.
    int dsize;
    if (base < 0) dsize = 4;
    else if (kind == 1 || kind == 5) dsize = (base == rEBP) ? 1 : 0;
    else if (kind == 2 || kind == 6) dsize = 1;
    else dsize = 4;
    int32_t disp = 0;
    if (dsize == 1) disp = (kind == 1 || kind == 5) ? 0 : static_cast<int8_t>(rng.below(256));
    if (dsize == 4) {
      const int64_t spread = hi - lo + extra_hi - extra_lo + size;
      const int64_t room = target_region.hi - target_region.lo - spread;
      if (room <= 0) continue;
      int64_t t = target_region.lo + static_cast<int64_t>(rng.below(static_cast<uint32_t>(room)));
      // Often just below a page boundary, so that accesses cross pages.
      if (rng.chance(20)) t = ((t + 0xFFF) & ~int64_t{0xFFF}) - rng.range(1, 8);
      if (t < target_region.lo || t > target_region.lo + room) continue;
      disp = static_cast<int32_t>(static_cast<uint32_t>(t - lo - extra_lo));
    }
    int64_t alo = lo + disp + extra_lo, ahi = hi + disp + extra_hi + size - 1;
    if (!wrap32(alo, ahi) || !in_region(alo, ahi)) continue;
    // Encode.
    m.disp = disp;
    m.disp_size = dsize;
    m.mod = dsize == 0 ? 0 : dsize == 1 ? 1 : 2;
    if (base < 0 && !want_sib) {
      m.mod = 0;
      m.rm = 5;
    } else if (want_sib || base == rESP) {
      m.sib = true;
      m.rm = 4;
      const int sb = base < 0 ? 5 : base;
      const int si = index < 0 ? 4 : index;
      if (base < 0) m.mod = 0;
      m.sib_byte = static_cast<uint8_t>((scale << 6) | (si << 3) | sb);
    } else {
      m.rm = static_cast<uint8_t>(base);
    }
    m.lo = alo - extra_lo;
    m.hi = ahi - extra_hi - size + 1;
    for (int r = 0; r < 8; ++r)
      if (planned[r] && !set_reg(r, static_cast<uint32_t>(plan[r]))) return false;
    return true;
  }
  return false;
}

void FormCtx::pick_addr(Mem& m, bool allow16) {
  m = Mem{};
  if (rng.chance(25)) m.seg = static_cast<uint8_t>(std::vector<uint8_t>{0x26, 0x2E, 0x36, 0x3E}[rng.below(4)]);
  if (allow16 && rng.chance(15)) {
    m.a16 = true;
    m.rm = static_cast<uint8_t>(rng.below(8));
    m.mod = static_cast<uint8_t>(rng.below(3));
    m.disp_size = (m.mod == 0 && m.rm == 6) || m.mod == 2 ? 2 : m.mod;
  } else {
    m.mod = static_cast<uint8_t>(rng.below(3));
    m.rm = static_cast<uint8_t>(rng.below(8));
    if (m.rm == 4) {
      m.sib = true;
      m.sib_byte = static_cast<uint8_t>(rng.below(256));
      if (m.mod == 0 && (m.sib_byte & 7) == 5) m.disp_size = 4;
    }
    if (m.mod == 0 && m.rm == 5) m.disp_size = 4;
    if (m.mod == 1) m.disp_size = 1;
    if (m.mod == 2) m.disp_size = 4;
  }
  const uint32_t v = rng.interesting(4);
  m.disp = m.disp_size == 1 ? static_cast<int8_t>(v) : m.disp_size == 2 ? static_cast<int16_t>(v)
                                                                         : static_cast<int32_t>(v);
}

bool FormCtx::pick_rm(RM& o, int w, bool write, unsigned percent_reg, uint32_t reserved) {
  if (rng.chance(percent_reg)) {
    o.is_reg = true;
    for (int i = 0; i < 20; ++i) {
      o.reg = write ? reg_writable(w) : reg_any(w);
      if (!(reserved & (1u << gpr_of(o.reg, w)))) return true;
    }
    return false;
  }
  o.is_reg = false;
  if (!pick_mem(o.mem, w, reserved)) return false;
  if (!write && rng.chance(5)) o.mem.seg = 0x2E;
  return true;
}

std::vector<uint8_t> FormCtx::encode(std::vector<uint8_t> prefixes, std::vector<uint8_t> opcode, uint8_t regfield,
                                     const RM& rm, std::vector<uint8_t> imm) {
  std::vector<uint8_t> b;
  std::vector<uint8_t> pre = std::move(prefixes);
  if (!rm.is_reg) {
    if (rm.mem.seg) pre.push_back(rm.mem.seg);
    if (rm.mem.a16) pre.push_back(0x67);
  } else if (rng.chance(3)) {
    pre.push_back(std::vector<uint8_t>{0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65}[rng.below(6)]);  // Ignored.
  }
  if (!pre.empty() && rng.chance(2)) pre.push_back(pre[rng.below(static_cast<uint32_t>(pre.size()))]);  // Repeated.
  if (pre.size() > 1 && rng.chance(25)) std::swap(pre[0], pre[rng.below(static_cast<uint32_t>(pre.size()))]);
  b = pre;
  b.insert(b.end(), opcode.begin(), opcode.end());
  if (rm.is_reg) {
    b.push_back(static_cast<uint8_t>(0xC0 | ((regfield & 7) << 3) | (rm.reg & 7)));
  } else {
    const Mem& m = rm.mem;
    b.push_back(static_cast<uint8_t>((m.mod << 6) | ((regfield & 7) << 3) | m.rm));
    if (m.sib) b.push_back(m.sib_byte);
    for (int i = 0; i < m.disp_size; ++i) b.push_back(static_cast<uint8_t>(static_cast<uint32_t>(m.disp) >> (8 * i)));
  }
  b.insert(b.end(), imm.begin(), imm.end());
  return b;
}

bool FormCtx::set_reg(int gpr, uint32_t value) {
  std::vector<uint8_t> b = {static_cast<uint8_t>(0xB8 + gpr)};
  auto i = imm_bytes(value, 4);
  b.insert(b.end(), i.begin(), i.end());
  if (!emit(b, EmitOpts{.setup = true})) return false;
  st.reg[gpr] = Interval::exact(value);
  return true;
}

bool FormCtx::set_reg8(uint8_t r8, uint8_t value) {
  if (!emit({static_cast<uint8_t>(0xB0 + r8), value}, EmitOpts{.setup = true})) return false;
  return true;
}

bool FormCtx::set_mem(const Mem& m, int size, uint32_t value) {
  RM rm;
  rm.is_reg = false;
  rm.mem = m;
  if (rm.mem.seg == 0x2E) rm.mem.seg = 0x3E;  // Not writable.
  std::vector<uint8_t> pre;
  if (size == 2) pre.push_back(0x66);
  auto b = encode(pre, {static_cast<uint8_t>(size == 1 ? 0xC6 : 0xC7)}, 0, rm, imm_bytes(value, size));
  return emit(b, EmitOpts{.setup = true});
}

void FormCtx::add_pending(uint32_t off, int size, uint32_t next_ip, int units) {
  PendingBranch p;
  p.patch_off = off;
  p.patch_size = size;
  p.next_ip = next_ip;
  p.remaining = units + 1;
  std::copy(std::begin(st.reg), std::end(st.reg), std::begin(p.snap));
  st.pending.push_back(p);
}

namespace {

// Patches a resolved branch to the current main-code end and merges the
// register knowledge of the jump edge. False if a rel8/rel16 field overflows.
bool resolve(GenState& st, const PendingBranch& p, bool check_only) {
  const uint32_t target = kCodeBase + st.main_len;
  const int64_t rel = static_cast<int64_t>(target) - p.next_ip;
  if (p.patch_size == 1 && rel > 127) return false;
  if (check_only) return true;
  const uint32_t v = p.patch_size < 0 ? target : static_cast<uint32_t>(rel);
  const int n = p.patch_size < 0 ? 4 : p.patch_size;
  for (int i = 0; i < n; ++i) st.code[p.patch_off + i] = static_cast<uint8_t>(v >> (8 * i));
  for (int r = 0; r < 8; ++r) {
    Interval& c = st.reg[r];
    const Interval& s = p.snap[r];
    if (!c.known || !s.known) c = Interval{};
    else {
      c.lo = std::min(c.lo, s.lo);
      c.hi = std::max(c.hi, s.hi);
    }
  }
  return true;
}

}  // namespace

Generator::Generator(std::string only, bool native, bool x87) : native_(native) {
  const auto& forms = form_table();
  counts_.assign(forms.size(), 0);
  auto lower = [](std::string s) {
    for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
  };
  const std::string o = lower(only);
  for (size_t i = 0; i < forms.size(); ++i) {
    if (forms[i].native_only && !native) continue;
    if (forms[i].x87 && !x87) continue;
    if (o.empty() || lower(forms[i].name).find(o) != std::string::npos ||
        lower(forms[i].group) == o)
      for (unsigned w = 0; w < forms[i].weight; ++w) selected_.push_back(static_cast<int>(i));
    if (forms[i].simple && (native || !forms[i].native_only) && (x87 || !forms[i].x87))
      simple_.push_back(static_cast<int>(i));
  }
  if (selected_.empty()) throw std::runtime_error("--only matches no form");
}

Sequence Generator::generate(uint64_t seed, unsigned length) {
  static const Decoder dec(true);
  const auto& forms = form_table();
  Rng rng(seed);
  Sequence seq;
  seq.seed = seed;
  seq.data.resize(kDataSize);
  seq.stack.resize(kStackSize);
  for (auto& b : seq.data) b = static_cast<uint8_t>(rng.next() >> 56);
  for (auto& b : seq.stack) b = static_cast<uint8_t>(rng.next() >> 56);
  for (int r : {rEAX, rECX, rEDX}) seq.gpr[r] = rng.interesting(4);
  for (int r : {rEBX, rESI, rEDI}) {
    seq.gpr[r] = 0xC000 + rng.below(0x18000);
    if (rng.chance(70)) seq.gpr[r] &= ~3u;
    if (rng.chance(15)) seq.gpr[r] = (seq.gpr[r] | 0xFFF) - rng.below(8);  // Near a page end.
  }
  // Overlapping string operands sometimes.
  if (rng.chance(20)) seq.gpr[rEDI] = seq.gpr[rESI] + static_cast<uint32_t>(rng.range(-8, 8));
  seq.gpr[rESP] = kInitEsp;
  seq.gpr[rEBP] = 0x74000 + (rng.below(0x4000) & ~3u);
  seq.eflags = 0x202 | (rng.u32() & fl::kArith) | (rng.chance(25) ? fl::DF : 0);

  GenState st;
  st.code.assign(kCodeSize, 0xF4);
  for (int r = 0; r < 8; ++r) st.reg[r] = Interval::exact(seq.gpr[r]);
  std::vector<int> used;
  FormCtx ctx{rng, st, dec, simple_, &used, native_};

  for (unsigned unit = 0; unit < length; ++unit) {
    bool done = false;
    for (int attempt = 0; attempt < 60 && !done; ++attempt) {
      GenState save = st;
      used.clear();
      const int f = selected_[rng.below(static_cast<uint32_t>(selected_.size()))];
      if (forms[f].fn(ctx)) {
        // Every pending rel8 branch must still reach the next unit.
        done = true;
        for (auto& p : st.pending)
          if (!resolve(st, p, true)) done = false;
        if (done) {
          ++counts_[f];
          for (int u : used) ++counts_[u];
          for (auto& m : st.instrs)
            if (m.form == -2) m.form = f;  // The unit's own instruction(s).
        }
      }
      if (!done) st = std::move(save);
    }
    if (!done) {
      // Nothing fits: resolve the pending branches here and go on.
      for (auto& p : st.pending) resolve(st, p, false);
      st.pending.clear();
      continue;
    }
    for (auto it = st.pending.begin(); it != st.pending.end();) {
      if (--it->remaining <= 0) {
        resolve(st, *it, false);
        it = st.pending.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& p : st.pending) {
    if (!resolve(st, p, false)) throw std::logic_error("unresolvable branch");
  }
  st.pending.clear();
  seq.end_eip = kCodeBase + st.main_len;
  st.code[st.main_len] = 0xF4;
  seq.code = st.code;
  seq.instrs = st.instrs;
  InstrMeta hlt;
  hlt.addr = seq.end_eip;
  hlt.len = 1;
  hlt.undef_before = st.undef;
  seq.instrs.push_back(hlt);
  std::sort(seq.instrs.begin(), seq.instrs.end(), [](auto& a, auto& b) { return a.addr < b.addr; });
  for (auto& m : st.instrs) {
    InstrRecord rec;
    const uint8_t* p = st.code.data() + (m.addr - kCodeBase);
    if (dec.decode(p, m.len, rec) != DecodeStatus::kOk) continue;
    ++features_.instrs;
    if (rec.cls & iclass::kMemory) ++features_.memory;
    for (int i = 0; i < m.len; ++i) {
      const uint8_t b = p[i];
      if (b == 0x67) ++features_.addr16;
      else if (b == 0x66) ++features_.opsize16;
      else if (b == 0xF0) ++features_.lock;
      else if (b == 0xF2 || b == 0xF3) ++features_.rep;
      else if (b == 0x26 || b == 0x2E || b == 0x36 || b == 0x3E || b == 0x64 || b == 0x65) ++features_.seg;
      else break;
    }
  }
  seq.undef_final = st.undef;
  seq.fs_gs_prefixes = st.fs_gs;
  seq.native_only = st.native_only;
  return seq;
}

}  // namespace vmm::diff

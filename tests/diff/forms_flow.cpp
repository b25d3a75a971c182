// Form table, part 2: stack, control flow, string instructions and the
// instructions that raise exceptions by design (BOUND, INTO, UD2).
#include "tests/diff/forms_util.h"

namespace vmm::diff {
namespace {

const char* const kCc[16] = {"O", "NO", "B", "AE", "E", "NE", "BE", "A", "S", "NS", "P", "NP", "L", "GE", "LE", "G"};
constexpr uint32_t kEsp = 1u << rESP, kEbp = 1u << rEBP;

bool esp_ok(FormCtx& c, int64_t delta) {
  const Interval& e = c.st.reg[rESP];
  return e.known && e.lo + delta >= kScratchEnd + 0x200 && e.hi + delta <= kStackBase + kStackSize - 0x200;
}
void esp_add(FormCtx& c, int64_t d) {
  c.st.reg[rESP].lo += d;
  c.st.reg[rESP].hi += d;
}
bool emit_sp(FormCtx& c, const B& b, int64_t delta, uint32_t allow = 0, bool setup = false) {
  EmitOpts o;
  o.allow_write = kEsp | allow;
  o.keep = kEsp;
  o.setup = setup;
  if (!c.emit(b, o)) return false;
  esp_add(c, delta);
  return true;
}

bool in_region(int64_t lo, int64_t hi_excl) {
  return (lo >= kDataBase && hi_excl <= kDataBase + kDataSize) || (lo >= kStackBase && hi_excl <= kScratchEnd);
}

void stack_forms(std::vector<Form>& t) {
  for (int w : {2, 4}) {
    add(t, fmt("PUSH r%d (%s50+r)", bits(w), p66(w)), "stack",
        [w](FormCtx& c) { return esp_ok(c, -w) && emit_sp(c, cat(pfx(w), {u8(0x50 + c.rng.below(8))}), -w); }, false);
    add(t, fmt("POP r%d (%s58+r)", bits(w), p66(w)), "stack",
        [w](FormCtx& c) { return esp_ok(c, w) && emit_sp(c, cat(pfx(w), {u8(0x58 + c.reg_writable(w))}), w); }, false);
    add(t, fmt("PUSH r/m%d (%sFF /6)", bits(w), p66(w)), "stack",
        [w](FormCtx& c) {
          RM rm;
          if (!esp_ok(c, -w) || !c.pick_rm(rm, w, false, 30)) return false;
          return emit_sp(c, c.encode(pfx(w), {0xFF}, 6, rm), -w);
        },
        false);
    add(t, fmt("POP r/m%d (%s8F /0)", bits(w), p66(w)), "stack",
        [w](FormCtx& c) {
          RM rm;
          if (!esp_ok(c, w)) return false;
          if (c.rng.chance(30)) rm = reg_rm(c.reg_writable(w));
          else if (!c.pick_mem(rm.mem, w, 0, true, 0, 0, w)) return false;
          else rm.is_reg = false;
          return emit_sp(c, c.encode(pfx(w), {0x8F}, 0, rm), w);
        },
        false);
    add(t, fmt("PUSH imm%d (%s68)", bits(w), p66(w)), "stack",
        [w](FormCtx& c) { return esp_ok(c, -w) && emit_sp(c, cat(cat(pfx(w), {0x68}), imm_bytes(c.rng.interesting(w), w)), -w); },
        false);
    add(t, fmt("PUSH imm8 (%s6A)", p66(w)), "stack",
        [w](FormCtx& c) { return esp_ok(c, -w) && emit_sp(c, cat(cat(pfx(w), {0x6A}), imm_bytes(c.rng.interesting(1), 1)), -w); },
        false);
    // PUSHF stores every flag: only when none is undefined.
    add(t, fmt("PUSHF%s (%s9C)", w == 4 ? "D" : "", p66(w)), "stack",
        [w](FormCtx& c) { return c.st.undef == 0 && esp_ok(c, -w) && emit_sp(c, cat(pfx(w), {0x9C}), -w); }, false);
    add(t, fmt("POPF%s (%s9D)", w == 4 ? "D" : "", p66(w)), "stack",
        [w](FormCtx& c) {
          if (!esp_ok(c, -w)) return false;
          const uint32_t v = 0x202 | (c.rng.u32() & fl::kArith) | (c.rng.chance(25) ? fl::DF : 0);
          if (!emit_sp(c, cat(cat(pfx(w), {0x68}), imm_bytes(v, w)), -w, 0, true)) return false;
          return emit_sp(c, cat(pfx(w), {0x9D}), w);
        },
        false);
    // PUSHA; one simple instruction; POPA.
    add(t, fmt("PUSHA%s/POPA%s (%s60 .. %s61)", w == 4 ? "D" : "", w == 4 ? "D" : "", p66(w), p66(w)), "stack",
        [w](FormCtx& c) {
          if (!esp_ok(c, -8 * w)) return false;
          Interval before[8];
          std::copy(std::begin(c.st.reg), std::end(c.st.reg), before);
          if (!emit_sp(c, cat(pfx(w), {0x60}), -8 * w)) return false;
          const bool inner = c.rng.chance(60);
          if (inner && !c.nested_simple()) return false;
          EmitOpts o;
          o.allow_write = 0xFF;
          o.keep = 0xFF;
          if (!c.emit(cat(pfx(w), {0x61}), o)) return false;
          for (int r = 0; r < 8; ++r) {
            const bool data = r == rEAX || r == rECX || r == rEDX;
            c.st.reg[r] = (data && w == 2 && inner) ? Interval{} : before[r];
          }
          return true;
        },
        false);
    // ENTER size,level; up to two simple instructions; LEAVE.
    add(t, fmt("ENTER/LEAVE (%sC8 .. %sC9)", p66(w), p66(w)), "stack",
        [w](FormCtx& c) {
          // The level is taken modulo 32.
          const int level_imm = c.rng.chance(50) ? 0 : c.rng.chance(85) ? c.rng.range(1, 4) : c.rng.range(5, 40);
          const int level = level_imm % 32;
          const int size = c.rng.chance(20) ? 0 : c.rng.range(0, 24) * (c.rng.chance(70) ? 4 : 1);
          const int64_t delta = -(w * (1 + level) + size);
          if (!esp_ok(c, delta - 8)) return false;
          Interval esp = c.st.reg[rESP], ebp = c.st.reg[rEBP];
          if (!ebp.known) return false;
          if (w == 2 && !((ebp.lo >> 16) == (ebp.hi >> 16) && (esp.lo >> 16) == (ebp.lo >> 16) &&
                          ((esp.hi - 2) >> 16) == (ebp.lo >> 16) && ((esp.lo - 2) >> 16) == (ebp.lo >> 16)))
            return false;
          EmitOpts o;
          o.allow_write = kEsp | kEbp;
          o.keep = kEsp | kEbp;
          if (!c.emit(cat(pfx(w), {0xC8, u8(size), u8(size >> 8), u8(level_imm)}), o)) return false;
          c.st.reg[rEBP] = Interval{true, esp.lo - w, esp.hi - w};
          esp_add(c, delta);
          for (int n = c.rng.range(0, 2); n > 0; --n)
            if (!c.nested_simple()) return false;
          if (!c.emit(cat(pfx(w), {0xC9}), o)) return false;
          c.st.reg[rESP] = esp;
          c.st.reg[rEBP] = ebp;
          return true;
        },
        false);
  }
}

// Emits a branch instruction whose displacement field (`fsize` bytes at
// byte `foff` of `b`) is patched once `skip` more units have been emitted.
bool branch(FormCtx& c, const B& b, int foff, int fsize, int skip, uint32_t allow = 0) {
  if (c.st.in_sub) return false;
  const uint32_t at = c.ip();
  EmitOpts o;
  o.allow_write = allow;
  if (!c.emit(b, o)) return false;
  c.add_pending(at - kCodeBase + static_cast<uint32_t>(foff), fsize, at + static_cast<uint32_t>(b.size()), skip);
  return true;
}

int pick_skip(Rng& rng) { return rng.chance(15) ? 0 : rng.range(1, 3); }

void branch_forms(std::vector<Form>& t) {
  for (int cc = 0; cc < 16; ++cc) {
    add(t, fmt("J%s rel8 (%02X)", kCc[cc], 0x70 + cc), "branch",
        [cc](FormCtx& c) { return branch(c, {u8(0x70 + cc), 0}, 1, 1, pick_skip(c.rng)); }, false);
    add(t, fmt("J%s rel32 (0F %02X)", kCc[cc], 0x80 + cc), "branch",
        [cc](FormCtx& c) { return branch(c, {0x0F, u8(0x80 + cc), 0, 0, 0, 0}, 2, 4, pick_skip(c.rng)); }, false);
  }
  // Branch hints (2E/3E) and the operand-size prefix (EIP truncated to 16
  // bits, harmless below 64 KiB) on the short forms.
  add(t, "Jcc rel8 with hint (2E/3E 7x)", "branch",
      [](FormCtx& c) {
        return branch(c, {c.rng.chance(50) ? u8(0x2E) : u8(0x3E), u8(0x70 + c.rng.below(16)), 0}, 2, 1, pick_skip(c.rng));
      },
      false);
  add(t, "Jcc rel8 (66 7x)", "branch",
      [](FormCtx& c) { return branch(c, {0x66, u8(0x70 + c.rng.below(16)), 0}, 2, 1, pick_skip(c.rng)); }, false);
  add(t, "JMP rel8 (66 EB)", "branch", [](FormCtx& c) { return branch(c, {0x66, 0xEB, 0}, 2, 1, pick_skip(c.rng)); },
      false);
  add(t, "LOOP rel8 (66 E2)", "branch",
      [](FormCtx& c) { return branch(c, {0x66, 0xE2, 0}, 2, 1, pick_skip(c.rng), 1u << rECX); }, false);
  add(t, "Jcc rel16 (66 0F 8x)", "branch",
      [](FormCtx& c) { return branch(c, {0x66, 0x0F, u8(0x80 + c.rng.below(16)), 0, 0}, 3, 2, pick_skip(c.rng)); },
      false);
  add(t, "JMP rel8 (EB)", "branch", [](FormCtx& c) { return branch(c, {0xEB, 0}, 1, 1, pick_skip(c.rng)); }, false);
  add(t, "JMP rel32 (E9)", "branch", [](FormCtx& c) { return branch(c, {0xE9, 0, 0, 0, 0}, 1, 4, pick_skip(c.rng)); },
      false);
  add(t, "JMP rel16 (66 E9)", "branch",
      [](FormCtx& c) { return branch(c, {0x66, 0xE9, 0, 0}, 2, 2, pick_skip(c.rng)); }, false);
  static const struct {
    const char* name;
    uint8_t op;
  } loops[] = {{"LOOPNE", 0xE0}, {"LOOPE", 0xE1}, {"LOOP", 0xE2}, {"JECXZ", 0xE3}};
  for (auto& l : loops) {
    for (int a16 : {0, 1}) {
      const uint8_t op = l.op;
      add(t, fmt("%s rel8 (%s%02X)", a16 && op == 0xE3 ? "JCXZ" : l.name, a16 ? "67 " : "", op), "branch",
          [op, a16](FormCtx& c) {
            if (c.st.in_sub) return false;
            if (op == 0xE0 || op == 0xE1) {
              // LOOPE/LOOPNE that fall through because the count reaches 0
              // lose the flags in Unicorn (UNICORN_KNOWN_ISSUES.md #4): the
              // count is set up, never 1.
              uint32_t v = c.rng.chance(30) ? c.rng.below(8) : c.rng.interesting(a16 ? 2 : 4);
              if (v == 1 && !c.unicorn_bad(50)) v = 2;
              if (a16) v = (c.rng.u32() & 0xFFFF0000u) | (v & 0xFFFF);
              if (!c.set_reg(rECX, v)) return false;
            } else if (c.rng.chance(40)) {
              // ECX (CX) 0 or 1: JECXZ taken, LOOP falls through.
              const uint32_t v = (a16 ? (c.rng.u32() & 0xFFFF0000u) : 0) | c.rng.below(2);
              if (!c.set_reg(rECX, v)) return false;
            }
            B b = a16 ? B{0x67, op, 0} : B{op, 0};
            return branch(c, b, static_cast<int>(b.size()) - 1, 1, pick_skip(c.rng), 1u << rECX);
          },
          false);
    }
  }
  // Indirect JMP: the target address is a set-up immediate, patched later.
  for (int w : {2, 4}) {
    add(t, fmt("JMP r/m%d (%sFF /4)", bits(w), p66(w)), "branch",
        [w](FormCtx& c) {
          if (c.st.in_sub) return false;
          RM rm;
          if (c.rng.chance(50)) {
            rm = reg_rm(c.reg_writable(4));
            if (!c.set_reg(rm.reg, 0)) return false;
            c.st.reg[rm.reg] = Interval{};
          } else {
            if (!c.pick_mem(rm.mem, 4)) return false;
            rm.is_reg = false;
            if (!c.set_mem(rm.mem, 4, 0)) return false;
          }
          const uint32_t field = c.ip() - kCodeBase - 4;
          if (!c.emit(c.encode(pfx(w), {0xFF}, 4, rm))) return false;
          c.add_pending(field, -4, 0, pick_skip(c.rng));
          return true;
        },
        false);
  }
}

// CALL to a subroutine in the subroutine area: up to one simple
// instruction, then RET / RET imm16.
bool call_sub(FormCtx& c, int w, int kind, bool ret_imm) {
  if (c.st.in_sub || c.st.sub_len > kCodeSize - kSubOff - 64) return false;
  const int imm = ret_imm ? c.rng.pick(std::vector<int>{0, 2, 4, 8, 12, 16}) : 0;
  if (!esp_ok(c, -w - 16)) return false;
  const uint32_t target = kCodeBase + kSubOff + c.st.sub_len;
  B b;
  if (kind == 0) {  // CALL rel
    b = pfx(w);
    b.push_back(0xE8);
    const uint32_t next = c.ip() + static_cast<uint32_t>(b.size()) + w;
    b = cat(b, imm_bytes(target - next, w));
  } else {  // CALL r/m
    RM rm;
    if (c.rng.chance(50)) {
      rm = reg_rm(c.reg_writable(4));
      if (!c.set_reg(rm.reg, target)) return false;
    } else {
      if (!c.pick_mem(rm.mem, 4)) return false;
      rm.is_reg = false;
      if (!c.set_mem(rm.mem, 4, target)) return false;
    }
    b = c.encode(pfx(w), {0xFF}, 2, rm);
  }
  if (!emit_sp(c, b, -w)) return false;
  c.st.in_sub = true;
  if (c.rng.chance(60) && !c.nested_simple()) return false;
  B r = pfx(w);
  if (ret_imm) r = cat(cat(r, {0xC2}), imm_bytes(static_cast<uint32_t>(imm), 2));
  else r.push_back(0xC3);
  if (!emit_sp(c, r, w + imm)) return false;
  c.st.in_sub = false;
  return true;
}

void call_forms(std::vector<Form>& t) {
  add(t, "CALL rel32 / RET (E8 .. C3)", "call", [](FormCtx& c) { return call_sub(c, 4, 0, false); }, false);
  add(t, "CALL rel32 / RET imm16 (E8 .. C2)", "call", [](FormCtx& c) { return call_sub(c, 4, 0, true); }, false);
  add(t, "CALL rel16 / RET (66 E8 .. 66 C3)", "call", [](FormCtx& c) { return call_sub(c, 2, 0, false); }, false);
  add(t, "CALL rel16 / RET imm16 (66 E8 .. 66 C2)", "call", [](FormCtx& c) { return call_sub(c, 2, 0, true); },
      false);
  add(t, "CALL r/m32 (FF /2)", "call", [](FormCtx& c) { return call_sub(c, 4, 1, c.rng.chance(30)); }, false);
  add(t, "CALL r/m16 (66 FF /2)", "call", [](FormCtx& c) { return call_sub(c, 2, 1, c.rng.chance(30)); }, false);
}

void string_forms(std::vector<Form>& t) {
  static const struct {
    const char* name;
    uint8_t op;
    bool src, dst, cmp;
  } ops[] = {{"MOVS", 0xA4, true, true, false},
             {"CMPS", 0xA6, true, true, true},
             {"STOS", 0xAA, false, true, false},
             {"LODS", 0xAC, true, false, false},
             {"SCAS", 0xAE, false, true, true}};
  for (auto& s : ops) {
    for (int w : {1, 2, 4}) {
      for (int rep = 0; rep < 3; ++rep) {
        if (rep == 2 && !s.cmp) continue;
        const char* rn = rep == 0 ? "" : rep == 2 ? "REPNE " : s.cmp ? "REPE " : "REP ";
        const char sfx = w == 1 ? 'B' : w == 2 ? 'W' : 'D';
        const uint8_t op = u8(s.op + (w == 1 ? 0 : 1));
        const bool src = s.src, dst = s.dst, cmp = s.cmp;
        add(t, fmt("%s%s%c (%s%s%02X)", rn, s.name, sfx, rep == 0 ? "" : rep == 1 ? "F3 " : "F2 ", p66(w), op),
            "string",
            [=](FormCtx& c) {
              if (c.st.string_ops >= 10) return false;
              const bool a16 = c.rng.chance(15);
              const int n = !rep ? 1 : c.rng.chance(10) ? 0 : c.rng.chance(10) ? c.rng.range(64, 1100) : c.rng.range(1, 63);
              const int64_t span = int64_t{n} * w;
              auto ok = [&](int r) {
                Interval v = c.st.reg[r];
                if (!v.known) return false;
                if (a16) {
                  if ((v.lo >> 16) != (v.hi >> 16)) return false;
                  const int64_t lo = (v.lo & 0xFFFF) - span, hi = (v.hi & 0xFFFF) + span + w;
                  return lo >= kDataBase && hi <= 0x10000;
                }
                return in_region(v.lo - span, v.hi + span + w);
              };
              if ((src && !ok(rESI)) || (dst && !ok(rEDI))) return false;
              if (rep) {
                const uint32_t v = (a16 ? (c.rng.u32() & 0xFFFF0000u) : 0) | static_cast<uint32_t>(n);
                if (!c.set_reg(rECX, v)) return false;
              }
              B b;
              if (rep) b.push_back(rep == 1 ? 0xF3 : 0xF2);
              if (w == 2) b.push_back(0x66);
              if (src && c.rng.chance(20)) b.push_back(c.rng.pick(std::vector<uint8_t>{0x26, 0x2E, 0x36, 0x3E, 0x64, 0x65}));
              if (a16) b.push_back(0x67);
              if (b.size() > 1 && c.rng.chance(30)) std::swap(b[0], b[b.size() - 1]);
              b.push_back(op);
              EmitOpts o;
              o.allow_write = (1u << rESI) | (1u << rEDI) | (1u << rECX);
              o.keep = (1u << rESI) | (1u << rEDI);
              o.may_noop = cmp && rep && n == 0;
              if (!c.emit(b, o)) return false;
              for (int r : {rESI, rEDI}) {
                if ((r == rESI && !src) || (r == rEDI && !dst)) continue;
                c.st.reg[r].lo -= span;
                c.st.reg[r].hi += span;
              }
              ++c.st.string_ops;
              return true;
            },
            false);
      }
    }
  }
}

void exception_forms(std::vector<Form>& t) {
  for (int w : {2, 4}) {
    add(t, fmt("BOUND r%d,m%d&%d (%s62)", bits(w), bits(w), bits(w), p66(w)), "except",
        [w](FormCtx& c) {
          const uint8_t reg = c.reg_writable(w);
          Mem m;
          if (!c.pick_mem(m, 2 * w, 1u << reg) || !m.exact()) return false;
          const int lim = w == 2 ? 0x7FFF : 0x7FFFFFFF;
          int64_t lo = static_cast<int32_t>(c.rng.interesting(4)) % (lim / 2);
          int64_t hi = lo + c.rng.below(1000);
          int64_t v = c.rng.chance(80) ? lo + (hi - lo + 1 > 0 ? c.rng.below(static_cast<uint32_t>(hi - lo + 1)) : 0)
                                       : (c.rng.chance(50) ? lo - 1 - c.rng.below(10) : hi + 1 + c.rng.below(10));
          if (!c.set_mem(abs_mem(static_cast<uint32_t>(m.lo)), w, static_cast<uint32_t>(lo))) return false;
          if (!c.set_mem(abs_mem(static_cast<uint32_t>(m.lo + w)), w, static_cast<uint32_t>(hi))) return false;
          if (!set_regw(c, reg, w, static_cast<uint32_t>(v))) return false;
          return c.emit(c.encode(pfx(w), {0x62}, reg, mem_rm(m)));
        },
        false);
  }
  add(t, "INTO (CE)", "except", [](FormCtx& c) { return c.emit({0xCE}); }, false);
  add(t, "UD2 (0F 0B)", "except", [](FormCtx& c) { return c.rng.chance(20) && c.emit({0x0F, 0x0B}); }, false);
}

}  // namespace

void add_flow_forms(std::vector<Form>& t) {
  stack_forms(t);
  branch_forms(t);
  call_forms(t);
  string_forms(t);
  exception_forms(t);
}

const std::vector<Form>& form_table() {
  static const std::vector<Form> table = [] {
    std::vector<Form> t;
    add_data_forms(t);
    add_flow_forms(t);
    add_x87_forms(t);
    return t;
  }();
  return table;
}

}  // namespace vmm::diff

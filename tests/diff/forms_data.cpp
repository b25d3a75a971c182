// Form table, part 1: data-manipulating instructions (no control flow, no
// stack). All of them are "simple" (usable inside compound forms) except
// those that may raise an exception.
#include "tests/diff/forms_util.h"

namespace vmm::diff {
namespace {

const char* const kAlu[8] = {"ADD", "OR", "ADC", "SBB", "AND", "SUB", "XOR", "CMP"};
const char* const kShift[8] = {"ROL", "ROR", "RCL", "RCR", "SHL", "SHR", "SAL", "SAR"};
const char* const kCc[16] = {"O", "NO", "B", "AE", "E", "NE", "BE", "A", "S", "NS", "P", "NP", "L", "GE", "LE", "G"};
const int kWidths[3] = {1, 2, 4};

B lockp(FormCtx& c, const RM& rm, B pre) {
  if (!rm.is_reg && c.lock_ok()) pre.insert(pre.begin(), 0xF0);
  return pre;
}

void alu_forms(std::vector<Form>& t) {
  for (int op = 0; op < 8; ++op) {
    const bool wr = op != 7;
    for (int w : kWidths) {
      const int ob = w == 1 ? 0 : 1;
      add(t, fmt("%s r/m%d,r%d (%s%02X)", kAlu[op], bits(w), bits(w), p66(w), op * 8 + ob), "alu",
          [op, w, wr, ob](FormCtx& c) {
            RM rm;
            if (!c.pick_rm(rm, w, wr)) return false;
            B pre = wr ? lockp(c, rm, pfx(w)) : pfx(w);
            return c.emit(c.encode(pre, {u8(op * 8 + ob)}, c.reg_any(w), rm));
          });
      add(t, fmt("%s r%d,r/m%d (%s%02X)", kAlu[op], bits(w), bits(w), p66(w), op * 8 + 2 + ob), "alu",
          [op, w, wr, ob](FormCtx& c) {
            RM rm;
            if (!c.pick_rm(rm, w, false)) return false;
            const uint8_t r = wr ? c.reg_writable(w) : c.reg_any(w);
            return c.emit(c.encode(pfx(w), {u8(op * 8 + 2 + ob)}, r, rm));
          });
      add(t, fmt("%s %s,imm%d (%s%02X)", kAlu[op], w == 1 ? "AL" : w == 2 ? "AX" : "EAX", bits(w), p66(w),
                 op * 8 + 4 + ob),
          "alu", [op, w, ob](FormCtx& c) {
            return c.emit(cat(cat(pfx(w), {u8(op * 8 + 4 + ob)}), imm_bytes(c.rng.interesting(w), w)));
          });
      const int opc = w == 1 ? 0x80 : 0x81;
      add(t, fmt("%s r/m%d,imm%d (%s%02X /%d)", kAlu[op], bits(w), bits(w), p66(w), opc, op), "alu",
          [op, w, wr, opc](FormCtx& c) {
            RM rm;
            if (!c.pick_rm(rm, w, wr)) return false;
            B pre = wr ? lockp(c, rm, pfx(w)) : pfx(w);
            return c.emit(c.encode(pre, {u8(opc)}, u8(op), rm, imm_bytes(c.rng.interesting(w), w)));
          });
      if (w == 1) {
        add(t, fmt("%s r/m8,imm8 (82 /%d)", kAlu[op], op), "alu", [op, wr](FormCtx& c) {
          RM rm;
          if (!c.pick_rm(rm, 1, wr)) return false;
          return c.emit(c.encode({}, {0x82}, u8(op), rm, imm_bytes(c.rng.interesting(1), 1)));
        });
      } else {
        add(t, fmt("%s r/m%d,imm8 (%s83 /%d)", kAlu[op], bits(w), p66(w), op), "alu", [op, w, wr](FormCtx& c) {
          RM rm;
          if (!c.pick_rm(rm, w, wr)) return false;
          B pre = wr ? lockp(c, rm, pfx(w)) : pfx(w);
          return c.emit(c.encode(pre, {0x83}, u8(op), rm, imm_bytes(c.rng.interesting(1), 1)));
        });
      }
    }
  }
  for (int w : kWidths) {
    const int ob = w == 1 ? 0 : 1;
    add(t, fmt("TEST r/m%d,r%d (%s%02X)", bits(w), bits(w), p66(w), 0x84 + ob), "alu", [w, ob](FormCtx& c) {
      RM rm;
      if (!c.pick_rm(rm, w, false)) return false;
      return c.emit(c.encode(pfx(w), {u8(0x84 + ob)}, c.reg_any(w), rm));
    });
    add(t, fmt("TEST %s,imm%d (%s%02X)", w == 1 ? "AL" : w == 2 ? "AX" : "EAX", bits(w), p66(w), 0xA8 + ob), "alu",
        [w, ob](FormCtx& c) { return c.emit(cat(cat(pfx(w), {u8(0xA8 + ob)}), imm_bytes(c.rng.interesting(w), w))); });
    // F6/F7 /1 (an undocumented alias of TEST that real CPUs execute) is
    // #UD in Unicorn (UNICORN_KNOWN_ISSUES.md #2): real-CPU oracle only.
    for (int ext : {0, 1}) {
      add(t, fmt("TEST r/m%d,imm%d (%s%02X /%d)", bits(w), bits(w), p66(w), 0xF6 + ob, ext), "alu",
          [w, ob, ext](FormCtx& c) {
            RM rm;
            if (!c.pick_rm(rm, w, false)) return false;
            if (ext == 1) c.st.native_only = true;
            return c.emit(c.encode(pfx(w), {u8(0xF6 + ob)}, u8(ext), rm, imm_bytes(c.rng.interesting(w), w)));
          },
          true, 1, ext == 1);
    }
  }
}

void unary_forms(std::vector<Form>& t) {
  static const char* const kUn[4] = {"INC", "DEC", "NOT", "NEG"};
  for (int w : kWidths) {
    const int ob = w == 1 ? 0 : 1;
    for (int k = 0; k < 4; ++k) {
      const int opc = k < 2 ? 0xFE + ob : 0xF6 + ob;
      const int ext = k < 2 ? k : k;  // INC /0, DEC /1, NOT /2, NEG /3
      add(t, fmt("%s r/m%d (%s%02X /%d)", kUn[k], bits(w), p66(w), opc, ext), "unary", [w, opc, ext](FormCtx& c) {
        RM rm;
        if (!c.pick_rm(rm, w, true)) return false;
        // LOCK NEG: Unicorn computes the flags from the operand instead of
        // the result (UNICORN_KNOWN_ISSUES.md #6): real-CPU oracle only.
        B pre = pfx(w);
        if (ext != 3) pre = lockp(c, rm, pre);
        else if (!rm.is_reg && c.unicorn_bad(15)) pre.insert(pre.begin(), 0xF0);
        return c.emit(c.encode(pre, {u8(opc)}, u8(ext), rm));
      });
    }
    if (w != 1) {
      for (int k = 0; k < 2; ++k) {
        add(t, fmt("%s r%d (%s%02X+r)", kUn[k], bits(w), p66(w), 0x40 + 8 * k), "unary", [w, k](FormCtx& c) {
          return c.emit(cat(pfx(w), {u8(0x40 + 8 * k + c.reg_writable(w))}));
        });
      }
    }
  }
}

// Flags a shift/rotate leaves undefined beyond the decoder's set, given the
// masked count (-1: unknown), and whether it may leave the flags alone.
void shift_flags(int ext, int w, int mc, EmitOpts& o) {
  const bool shift = ext >= 4;
  if (mc < 0) {
    o.may_noop = true;
    o.extra_undef |= fl::OF;
    if (shift) o.extra_undef |= fl::AF;
    if (shift && ext != 7 && w < 4) o.extra_undef |= fl::CF;
    return;
  }
  if (mc == 0) {
    o.may_noop = true;
    return;
  }
  if (mc != 1) o.extra_undef |= fl::OF;
  if (shift) o.extra_undef |= fl::AF;
  // SHL/SHR: CF undefined when the count is at least the operand size.
  if (shift && ext != 7 && mc >= bits(w)) o.extra_undef |= fl::CF;
  // RCL/RCR whose count is a multiple of size+1 rotate by nothing: CF kept.
  if ((ext == 2 || ext == 3) && w < 4 && mc % (bits(w) + 1) == 0) o.may_noop = true;
}

int pick_count(Rng& rng) {
  static const int k[] = {0, 1, 1, 2, 3, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 63};
  return rng.chance(70) ? k[rng.below(16)] : static_cast<int>(rng.below(256));
}

void shift_forms(std::vector<Form>& t) {
  for (int ext = 0; ext < 8; ++ext) {
    for (int w : kWidths) {
      const int ob = w == 1 ? 0 : 1;
      add(t, fmt("%s r/m%d,1 (%s%02X /%d)", kShift[ext], bits(w), p66(w), 0xD0 + ob, ext), "shift",
          [ext, w, ob](FormCtx& c) {
            RM rm;
            if (!c.pick_rm(rm, w, true)) return false;
            EmitOpts o;
            shift_flags(ext, w, 1, o);
            return c.emit(c.encode(pfx(w), {u8(0xD0 + ob)}, u8(ext), rm), o);
          });
      add(t, fmt("%s r/m%d,CL (%s%02X /%d)", kShift[ext], bits(w), p66(w), 0xD2 + ob, ext), "shift",
          [ext, w, ob](FormCtx& c) {
            RM rm;
            const bool setup = c.rng.chance(75);
            if (!c.pick_rm(rm, w, true, 50, setup ? 1u << rECX : 0)) return false;
            int mc = -1;
            if (setup) {
              const int n = pick_count(c.rng);
              if (!c.set_reg8(1, u8(n))) return false;
              mc = n & 31;
            }
            EmitOpts o;
            shift_flags(ext, w, mc, o);
            return c.emit(c.encode(pfx(w), {u8(0xD2 + ob)}, u8(ext), rm), o);
          });
      add(t, fmt("%s r/m%d,imm8 (%s%02X /%d)", kShift[ext], bits(w), p66(w), 0xC0 + ob, ext), "shift",
          [ext, w, ob](FormCtx& c) {
            RM rm;
            if (!c.pick_rm(rm, w, true)) return false;
            const int n = pick_count(c.rng);
            EmitOpts o;
            shift_flags(ext, w, n & 31, o);
            return c.emit(c.encode(pfx(w), {u8(0xC0 + ob)}, u8(ext), rm, {u8(n)}), o);
          });
    }
  }
  // SHLD/SHRD. With a 16-bit operand a count above 16 gives an undefined
  // result: counts are kept at most 16 there.
  for (int right : {0, 1}) {
    for (int w : {2, 4}) {
      const int base = right ? 0xAC : 0xA4;
      const char* nm = right ? "SHRD" : "SHLD";
      auto flags = [](int mc, EmitOpts& o) {
        if (mc <= 0) o.may_noop = true;
        if (mc != 1) o.extra_undef |= fl::OF;
        if (mc != 0) o.extra_undef |= fl::AF;
      };
      add(t, fmt("%s r/m%d,r%d,imm8 (%s0F %02X)", nm, bits(w), bits(w), p66(w), base), "shift",
          [w, base, flags](FormCtx& c) {
            RM rm;
            if (!c.pick_rm(rm, w, true)) return false;
            int n = pick_count(c.rng);
            if (w == 2 && (n & 31) > 16) n = c.rng.range(0, 16) | (c.rng.chance(20) ? 0x20 : 0);
            EmitOpts o;
            flags(n & 31, o);
            return c.emit(c.encode(pfx(w), {0x0F, u8(base)}, c.reg_any(w), rm, {u8(n)}), o);
          });
      add(t, fmt("%s r/m%d,r%d,CL (%s0F %02X)", nm, bits(w), bits(w), p66(w), base + 1), "shift",
          [w, base, flags](FormCtx& c) {
            RM rm;
            const bool setup = w == 2 || c.rng.chance(75);
            if (!c.pick_rm(rm, w, true, 50, setup ? 1u << rECX : 0)) return false;
            int mc = -1;
            uint8_t src = c.reg_any(w);
            if (setup) {
              int n = pick_count(c.rng);
              if (w == 2 && (n & 31) > 16) n = c.rng.range(0, 16) | (c.rng.chance(20) ? 0x40 : 0);
              if (!c.set_reg8(1, u8(n))) return false;
              mc = n & 31;
            }
            EmitOpts o;
            flags(mc, o);
            return c.emit(c.encode(pfx(w), {0x0F, u8(base + 1)}, src, rm), o);
          });
    }
  }
}

void muldiv_forms(std::vector<Form>& t) {
  for (int w : kWidths) {
    const int ob = w == 1 ? 0 : 1;
    for (int ext : {4, 5}) {
      add(t, fmt("%s r/m%d (%s%02X /%d)", ext == 4 ? "MUL" : "IMUL", bits(w), p66(w), 0xF6 + ob, ext), "muldiv",
          [w, ob, ext](FormCtx& c) {
            RM rm;
            if (!c.pick_rm(rm, w, false)) return false;
            return c.emit(c.encode(pfx(w), {u8(0xF6 + ob)}, u8(ext), rm));
          });
    }
    // DIV/IDIV: mostly with a dividend and divisor set up to avoid #DE.
    for (int ext : {6, 7}) {
      const bool sgn = ext == 7;
      add(t, fmt("%s r/m%d (%s%02X /%d)", sgn ? "IDIV" : "DIV", bits(w), p66(w), 0xF6 + ob, ext), "muldiv",
          [w, ob, ext, sgn](FormCtx& c) {
            RM rm;
            const uint32_t res = (1u << rEAX) | (1u << rEDX);
            if (c.rng.chance(12)) {  // Anything goes: may raise #DE.
              if (!c.pick_rm(rm, w, false)) return false;
              return c.emit(c.encode(pfx(w), {u8(0xF6 + ob)}, u8(ext), rm));
            }
            const int n = bits(w);
            const uint64_t m = wmask(w);
            int64_t d, q, r;
            for (;;) {
              d = static_cast<int64_t>(c.rng.interesting(w) & m);
              if (sgn && w < 4) d = static_cast<int64_t>(static_cast<uint64_t>(d) << (64 - n)) >> (64 - n);
              if (sgn && w == 4) d = static_cast<int32_t>(d);
              if (d != 0) break;
            }
            const uint64_t qm = c.rng.interesting(w) & m;
            q = sgn ? (static_cast<int64_t>(qm << (64 - n)) >> (64 - n)) : static_cast<int64_t>(qm);
            const uint64_t ad = static_cast<uint64_t>(d < 0 ? -d : d);
            r = static_cast<int64_t>(c.rng.next() % ad);
            __int128 p = static_cast<__int128>(q) * d;
            if (sgn && p < 0) r = -r;
            if (sgn && p == 0 && c.rng.chance(50)) r = -r;
            const __int128 dividend = p + r;
            // Check the quotient (trunc toward zero) is q and fits.
            if (d == 0 || dividend / d != q) return false;
            if (sgn && (q < -(int64_t{1} << (n - 1)) || q >= (int64_t{1} << (n - 1)))) return false;
            const uint64_t dv = static_cast<uint64_t>(dividend);
            // Divisor operand: ECX/CL/CH/DL-free register or memory.
            if (c.rng.chance(50)) {
              const uint8_t reg = w == 1 ? u8(c.rng.pick(std::vector<int>{1, 5, 3, 7})) : u8(rECX);
              rm = reg_rm(reg);
              if (w == 1 && (reg == 3 || reg == 7)) {  // BL/BH: read-only; set CL/CH instead.
                rm = reg_rm(u8(reg - 2));
              }
              if (!set_regw(c, rm.reg, w, static_cast<uint32_t>(d))) return false;
            } else {
              Mem mm;
              if (!c.pick_mem(mm, w, res)) return false;
              rm = mem_rm(mm);
              if (!c.set_mem(mm, w, static_cast<uint32_t>(d))) return false;
            }
            if (w == 1) {
              if (!set_regw(c, 0, 2, static_cast<uint32_t>(dv & 0xFFFF))) return false;
            } else {
              if (!set_regw(c, rEAX, w, static_cast<uint32_t>(dv & m))) return false;
              if (!set_regw(c, rEDX, w, static_cast<uint32_t>((dv >> n) & m))) return false;
            }
            return c.emit(c.encode(pfx(w), {u8(0xF6 + ob)}, u8(ext), rm));
          },
          false);
    }
  }
  for (int w : {2, 4}) {
    add(t, fmt("IMUL r%d,r/m%d (%s0F AF)", bits(w), bits(w), p66(w)), "muldiv", [w](FormCtx& c) {
      RM rm;
      if (!c.pick_rm(rm, w, false)) return false;
      return c.emit(c.encode(pfx(w), {0x0F, 0xAF}, c.reg_writable(w), rm));
    });
    add(t, fmt("IMUL r%d,r/m%d,imm%d (%s69)", bits(w), bits(w), bits(w), p66(w)), "muldiv", [w](FormCtx& c) {
      RM rm;
      if (!c.pick_rm(rm, w, false)) return false;
      return c.emit(c.encode(pfx(w), {0x69}, c.reg_writable(w), rm, imm_bytes(c.rng.interesting(w), w)));
    });
    add(t, fmt("IMUL r%d,r/m%d,imm8 (%s6B)", bits(w), bits(w), p66(w)), "muldiv", [w](FormCtx& c) {
      RM rm;
      if (!c.pick_rm(rm, w, false)) return false;
      return c.emit(c.encode(pfx(w), {0x6B}, c.reg_writable(w), rm, imm_bytes(c.rng.interesting(1), 1)));
    });
  }
}

void bcd_forms(std::vector<Form>& t) {
  static const struct {
    const char* name;
    uint8_t op;
  } k[] = {{"DAA (27)", 0x27}, {"DAS (2F)", 0x2F}, {"AAA (37)", 0x37}, {"AAS (3F)", 0x3F}};
  for (auto& e : k) {
    const uint8_t op = e.op;
    add(t, e.name, "bcd", [op](FormCtx& c) {
      if (c.rng.chance(30) && !set_regw(c, 0, 2, c.rng.interesting(2))) return false;
      return c.emit({op});
    });
  }
  add(t, "AAM (D4 0A)", "bcd", [](FormCtx& c) { return c.emit({0xD4, 0x0A}); });
  add(t, "AAD (D5 0A)", "bcd", [](FormCtx& c) { return c.emit({0xD5, 0x0A}); });
  add(t, "AAM imm8 (D4 ib)", "bcd",
      [](FormCtx& c) {
        uint8_t b = u8(c.rng.below(256));
        if (b == 0 && c.rng.chance(70)) b = 7;  // #DE sometimes.
        return c.emit({0xD4, b});
      },
      false);
  add(t, "AAD imm8 (D5 ib)", "bcd", [](FormCtx& c) { return c.emit({0xD5, u8(c.rng.below(256))}); });
}

void bit_forms(std::vector<Form>& t) {
  static const char* const kBt[4] = {"BT", "BTS", "BTR", "BTC"};
  for (int k = 0; k < 4; ++k) {
    for (int w : {2, 4}) {
      const int opc = 0xA3 + 8 * k;
      const bool wr = k != 0;
      add(t, fmt("%s r/m%d,r%d (%s0F %02X)", kBt[k], bits(w), bits(w), p66(w), opc), "bit", [w, opc, wr](FormCtx& c) {
        if (c.rng.chance(40)) {
          RM rm = reg_rm(wr ? c.reg_writable(w) : c.reg_any(w));
          return c.emit(c.encode(pfx(w), {0x0F, u8(opc)}, c.reg_any(w), rm));
        }
        // Memory destination: the bit offset register reaches outside the operand.
        uint8_t reg;
        int64_t lo, hi;
        bool setup = c.rng.chance(65);
        if (setup) {
          reg = c.reg_writable(w);
          const int lim = c.rng.chance(50) ? 64 : 4096;
          lo = hi = c.rng.range(-lim, lim - 1);
        } else {
          reg = c.reg_any(w);
          Interval v = c.st.reg[reg];
          if (!v.known) return false;
          if (w == 2) {
            if ((v.lo >> 15) != (v.hi >> 15)) return false;
            v.lo = static_cast<int16_t>(v.lo & 0xFFFF);
            v.hi = static_cast<int16_t>(v.hi & 0xFFFF);
          } else {
            if ((v.lo >> 31) != (v.hi >> 31)) return false;
            v.lo = static_cast<int32_t>(v.lo);
            v.hi = static_cast<int32_t>(v.hi);
          }
          lo = v.lo;
          hi = v.hi;
        }
        auto fdiv = [](int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); };
        const int64_t elo = w * fdiv(lo, bits(w)), ehi = w * fdiv(hi, bits(w));
        Mem m;
        if (!c.pick_mem(m, w, 1u << reg, false, elo, ehi)) return false;
        if (setup && !set_regw(c, reg, 4, static_cast<uint32_t>(lo))) return false;
        RM rm = mem_rm(m);
        B pre = wr ? lockp(c, rm, pfx(w)) : pfx(w);
        return c.emit(c.encode(pre, {0x0F, u8(opc)}, reg, rm));
      });
      add(t, fmt("%s r/m%d,imm8 (%s0F BA /%d)", kBt[k], bits(w), p66(w), 4 + k), "bit", [w, k, wr](FormCtx& c) {
        RM rm;
        if (!c.pick_rm(rm, w, wr)) return false;
        B pre = wr ? lockp(c, rm, pfx(w)) : pfx(w);
        return c.emit(c.encode(pre, {0x0F, 0xBA}, u8(4 + k), rm, {u8(c.rng.below(256))}));
      });
    }
  }
  for (int w : {2, 4}) {
    for (int rev : {0, 1}) {
      add(t, fmt("%s r%d,r/m%d (%s0F %02X)", rev ? "BSR" : "BSF", bits(w), bits(w), p66(w), 0xBC + rev), "bit",
          [w, rev](FormCtx& c) {
            RM rm;
            if (!c.pick_rm(rm, w, false)) return false;
            if (c.rng.chance(8)) {  // A zero source.
              if (rm.is_reg) {
                rm = reg_rm(c.reg_writable(w));
                if (!set_regw(c, rm.reg, w, 0)) return false;
              } else if (!c.set_mem(rm.mem, w, 0)) {
                return false;
              }
            }
            return c.emit(c.encode(pfx(w), {0x0F, u8(0xBC + rev)}, c.reg_writable(w), rm));
          });
    }
  }
  add(t, "BSWAP r32 (0F C8+r)", "bit", [](FormCtx& c) { return c.emit({0x0F, u8(0xC8 + c.reg_writable(4))}); });
}

void cc_forms(std::vector<Form>& t) {
  for (int cc = 0; cc < 16; ++cc) {
    add(t, fmt("SET%s r/m8 (0F %02X)", kCc[cc], 0x90 + cc), "setcc", [cc](FormCtx& c) {
      RM rm;
      if (!c.pick_rm(rm, 1, true)) return false;
      return c.emit(c.encode({}, {0x0F, u8(0x90 + cc)}, u8(c.rng.below(8)), rm));
    });
    for (int w : {2, 4}) {
      add(t, fmt("CMOV%s r%d,r/m%d (%s0F %02X)", kCc[cc], bits(w), bits(w), p66(w), 0x40 + cc), "cmov",
          [cc, w](FormCtx& c) {
            RM rm;
            if (!c.pick_rm(rm, w, false)) return false;
            return c.emit(c.encode(pfx(w), {0x0F, u8(0x40 + cc)}, c.reg_writable(w), rm));
          });
    }
  }
}

void xchg_forms(std::vector<Form>& t) {
  for (int w : kWidths) {
    const int ob = w == 1 ? 0 : 1;
    add(t, fmt("XCHG r/m%d,r%d (%s%02X)", bits(w), bits(w), p66(w), 0x86 + ob), "xchg", [w, ob](FormCtx& c) {
      RM rm;
      if (!c.pick_rm(rm, w, true)) return false;
      return c.emit(c.encode(lockp(c, rm, pfx(w)), {u8(0x86 + ob)}, c.reg_writable(w), rm));
    });
    add(t, fmt("XADD r/m%d,r%d (%s0F %02X)", bits(w), bits(w), p66(w), 0xC0 + ob), "xchg", [w, ob](FormCtx& c) {
      RM rm;
      if (!c.pick_rm(rm, w, true)) return false;
      return c.emit(c.encode(lockp(c, rm, pfx(w)), {0x0F, u8(0xC0 + ob)}, c.reg_writable(w), rm));
    });
    add(t, fmt("CMPXCHG r/m%d,r%d (%s0F %02X)", bits(w), bits(w), p66(w), 0xB0 + ob), "xchg", [w, ob](FormCtx& c) {
      RM rm;
      const bool equal = c.rng.chance(40);  // Make the comparison succeed sometimes.
      if (!c.pick_rm(rm, w, true, 50, equal ? 1u << rEAX : 0)) return false;
      if (equal) {
        const uint32_t v = c.rng.interesting(w);
        if (rm.is_reg) {
          if (!set_regw(c, rm.reg, w, v)) return false;
        } else if (!c.set_mem(rm.mem, w, v)) {
          return false;
        }
        if (!set_regw(c, 0, w, v)) return false;
      }
      return c.emit(c.encode(lockp(c, rm, pfx(w)), {0x0F, u8(0xB0 + ob)}, c.reg_any(w), rm));
    });
    if (w != 1) {
      add(t, fmt("XCHG %s,r%d (%s90+r)", w == 2 ? "AX" : "EAX", bits(w), p66(w)), "xchg",
          [w](FormCtx& c) { return c.emit(cat(pfx(w), {u8(0x91 + c.rng.below(2))})); });
    }
  }
  add(t, "CMPXCHG8B m64 (0F C7 /1)", "xchg", [](FormCtx& c) {
    Mem m;
    const uint32_t res = (1u << rEAX) | (1u << rEDX);
    if (!c.pick_mem(m, 8, res, true)) return false;
    if (m.exact() && c.rng.chance(50)) {
      const uint32_t lo = c.rng.interesting(4), hi = c.rng.interesting(4);
      if (!c.set_mem(abs_mem(static_cast<uint32_t>(m.lo)), 4, lo)) return false;
      if (!c.set_mem(abs_mem(static_cast<uint32_t>(m.lo + 4)), 4, hi)) return false;
      if (!c.set_reg(rEAX, lo) || !c.set_reg(rEDX, hi)) return false;
    }
    RM rm = mem_rm(m);
    // Unicorn computes CMPXCHG8B's flags from a stale lazy-flags state when
    // a flag-setting instruction precedes it in the same translation block
    // (UNICORN_KNOWN_ISSUES.md #5): a JMP $+2 starts a new block.
    if (!c.unicorn_bad(30) && !c.emit({0xEB, 0x00}, EmitOpts{.setup = true})) return false;
    return c.emit(c.encode(lockp(c, rm, {}), {0x0F, 0xC7}, 1, rm));
  });
}

void mov_forms(std::vector<Form>& t) {
  for (int w : kWidths) {
    const int ob = w == 1 ? 0 : 1;
    add(t, fmt("MOV r/m%d,r%d (%s%02X)", bits(w), bits(w), p66(w), 0x88 + ob), "mov", [w, ob](FormCtx& c) {
      RM rm;
      if (!c.pick_rm(rm, w, true)) return false;
      return c.emit(c.encode(pfx(w), {u8(0x88 + ob)}, c.reg_any(w), rm));
    });
    add(t, fmt("MOV r%d,r/m%d (%s%02X)", bits(w), bits(w), p66(w), 0x8A + ob), "mov", [w, ob](FormCtx& c) {
      RM rm;
      if (!c.pick_rm(rm, w, false)) return false;
      return c.emit(c.encode(pfx(w), {u8(0x8A + ob)}, c.reg_writable(w), rm));
    });
    add(t, fmt("MOV r/m%d,imm%d (%s%02X /0)", bits(w), bits(w), p66(w), 0xC6 + ob), "mov", [w, ob](FormCtx& c) {
      RM rm;
      if (!c.pick_rm(rm, w, true)) return false;
      return c.emit(c.encode(pfx(w), {u8(0xC6 + ob)}, 0, rm, imm_bytes(c.rng.interesting(w), w)));
    });
    add(t, fmt("MOV r%d,imm%d (%s%02X+r)", bits(w), bits(w), p66(w), w == 1 ? 0xB0 : 0xB8), "mov", [w](FormCtx& c) {
      return c.emit(cat(cat(pfx(w), {u8((w == 1 ? 0xB0 : 0xB8) + c.reg_writable(w))}), imm_bytes(c.rng.interesting(w), w)));
    });
    for (int a16 : {0, 1}) {
      for (int store : {0, 1}) {
        const int opc = 0xA0 + 2 * store + ob;
        add(t,
            fmt("MOV %s (%s%s%02X)", store ? "moffs,acc" : "acc,moffs", a16 ? "67 " : "", p66(w), opc), "mov",
            [w, opc, a16, store](FormCtx& c) {
              static const uint8_t kSegs[] = {0x26, 0x36, 0x3E, 0x64, 0x65, 0x2E};  // No CS for stores.
              B b = pfx(w);
              if (c.rng.chance(20)) b.push_back(kSegs[c.rng.below(store ? 5 : 6)]);
              if (a16) b.push_back(0x67);
              b.push_back(u8(opc));
              if (a16) return c.emit(cat(b, imm_bytes(0x8000 + c.rng.below(0x7FF0), 2)));
              const bool stack = c.rng.chance(15);
              const uint32_t a = stack ? kStackBase + c.rng.below(kScratchEnd - kStackBase - 8)
                                       : kDataBase + c.rng.below(kDataSize - 8);
              return c.emit(cat(b, imm_bytes(a, 4)));
            });
      }
    }
  }
  for (int w : {2, 4}) {
    for (int sx : {0, 1}) {
      const int base = sx ? 0xBE : 0xB6;
      const char* nm = sx ? "MOVSX" : "MOVZX";
      add(t, fmt("%s r%d,r/m8 (%s0F %02X)", nm, bits(w), p66(w), base), "mov", [w, base](FormCtx& c) {
        RM rm;
        if (!c.pick_rm(rm, 1, false)) return false;
        return c.emit(c.encode(pfx(w), {0x0F, u8(base)}, c.reg_writable(w), rm));
      });
      add(t, fmt("%s r%d,r/m16 (%s0F %02X)", nm, bits(w), p66(w), base + 1), "mov", [w, base](FormCtx& c) {
        RM rm;
        if (!c.pick_rm(rm, 2, false)) return false;
        return c.emit(c.encode(pfx(w), {0x0F, u8(base + 1)}, c.reg_writable(w), rm));
      });
    }
    add(t, fmt("LEA r%d,m (%s8D)", bits(w), p66(w)), "mov", [w](FormCtx& c) {
      RM rm;
      rm.is_reg = false;
      c.pick_addr(rm.mem);
      return c.emit(c.encode(pfx(w), {0x8D}, c.reg_writable(w), rm));
    });
  }
  add(t, "CBW (66 98)", "mov", [](FormCtx& c) { return c.emit({0x66, 0x98}); });
  add(t, "CWDE (98)", "mov", [](FormCtx& c) { return c.emit({0x98}); });
  add(t, "CWD (66 99)", "mov", [](FormCtx& c) { return c.emit({0x66, 0x99}); });
  add(t, "CDQ (99)", "mov", [](FormCtx& c) { return c.emit({0x99}); });
  for (int a16 : {0, 1}) {
    add(t, a16 ? "XLAT (67 D7)" : "XLAT (D7)", "mov", [a16](FormCtx& c) {
      Interval b = c.st.reg[rEBX];
      if (!b.known) return false;
      B pre;
      if (c.rng.chance(20)) pre.push_back(std::vector<uint8_t>{0x26, 0x2E, 0x36, 0x3E}[c.rng.below(4)]);
      if (a16) {
        if ((b.lo >> 16) != (b.hi >> 16) || (b.lo & 0xFFFF) < kDataBase || (b.hi & 0xFFFF) + 256 > 0x10000) return false;
        pre.push_back(0x67);
      } else if (b.lo < kDataBase || b.hi + 256 > kDataBase + kDataSize) {
        return false;
      }
      pre.push_back(0xD7);
      return c.emit(pre);
    });
  }
}

// LOCK on an instruction that is not lockable, or whose destination is a
// register: #UD. Unicorn executes most of them, and aborts on LOCK CMP
// (UNICORN_KNOWN_ISSUES.md #7): real-CPU oracle only.
void lock_forms(std::vector<Form>& t) {
  add(t, "LOCK non-lockable (#UD)", "except",
      [](FormCtx& c) {
        static const B kOps[] = {{0x89}, {0x8B}, {0x39}, {0x85}, {0x0F, 0xA3}, {0x01}, {0x0F, 0xC1}, {0x87}, {0x0F, 0xAF}};
        B b = {0xF0};
        if (c.rng.chance(15)) {
          b.push_back(c.rng.pick(std::vector<uint8_t>{0x90, 0xA5, 0xAB, 0x9E, 0x40}));
        } else {
          const B& op = kOps[c.rng.below(9)];
          RM rm;
          // Memory only for instructions that are never lockable (MOV, CMP, TEST, BT, IMUL);
          // the lockable ones with a register destination.
          const bool never = op[0] == 0x89 || op[0] == 0x8B || op[0] == 0x39 || op[0] == 0x85 ||
                             (op.size() > 1 && (op[1] == 0xA3 || op[1] == 0xAF));
          if (never && c.rng.chance(70)) {
            if (!c.pick_mem(rm.mem, 4)) return false;
            rm.is_reg = false;
          } else {
            rm = reg_rm(c.reg_writable(4));
          }
          b = c.encode(b, op, c.reg_writable(4), rm);
        }
        c.st.native_only = true;
        return c.emit(b, EmitOpts{.invalid = true});
      },
      false, 1, true);
}

void flag_forms(std::vector<Form>& t) {
  static const struct {
    const char* name;
    uint8_t op;
  } k[] = {{"CLC (F8)", 0xF8}, {"STC (F9)", 0xF9}, {"CMC (F5)", 0xF5}, {"CLD (FC)", 0xFC},
           {"STD (FD)", 0xFD}, {"LAHF (9F)", 0x9F}, {"SAHF (9E)", 0x9E}};
  for (auto& e : k) {
    const uint8_t op = e.op;
    add(t, e.name, "flags", [op](FormCtx& c) { return c.emit({op}); });
  }
  add(t, "NOP (90)", "nop", [](FormCtx& c) { return c.emit({0x90}); });
  add(t, "NOP (66 90)", "nop", [](FormCtx& c) { return c.emit({0x66, 0x90}); });
  add(t, "PAUSE (F3 90)", "nop", [](FormCtx& c) { return c.emit({0xF3, 0x90}); });
  for (int w : {2, 4}) {
    add(t, fmt("NOP r/m%d (%s0F 1F /0)", bits(w), p66(w)), "nop", [w](FormCtx& c) {
      RM rm;
      if (c.rng.chance(25)) rm = reg_rm(u8(c.rng.below(8)));
      else {
        rm.is_reg = false;
        c.pick_addr(rm.mem);
      }
      return c.emit(c.encode(pfx(w), {0x0F, 0x1F}, 0, rm));
    });
  }
}

}  // namespace

void add_data_forms(std::vector<Form>& t) {
  alu_forms(t);
  unary_forms(t);
  shift_forms(t);
  muldiv_forms(t);
  bcd_forms(t);
  bit_forms(t);
  cc_forms(t);
  xchg_forms(t);
  mov_forms(t);
  flag_forms(t);
  lock_forms(t);
}

}  // namespace vmm::diff

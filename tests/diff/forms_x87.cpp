// Form table, part 3: x87 instructions (SDM Vol. 1, chapter 8; opcodes from
// the Vol. 2 instruction pages). Every exception stays masked (the control
// words FLDCW loads keep the masks; over- and underflow of the register
// stack give the masked responses), so no form faults on its own. Values
// come from the data region, whose random bytes make NaNs, denormals,
// infinities and unsupported formats among them.
//
// These forms are generated only where the x87 state is compared: the JIT
// against the interpreter (--jit, the whole FXSAVE image's x87 part,
// last-instruction pointers included) and the real CPU (--native-all).
// Unicorn's x87 is not an oracle vmm trusts (its soft-float C1 and
// precision flags differ from the hardware's).
#include "tests/diff/forms_util.h"

namespace vmm::diff {
namespace {


void addx(std::vector<Form>& t, std::string name, FormFn fn) {
  add(t, std::move(name), "x87", std::move(fn), /*simple=*/true, /*weight=*/1);
  t.back().x87 = true;
}

// A form with a memory operand: ESC opcode, /reg, `size` bytes.
void mem_form(std::vector<Form>& t, const char* name, uint8_t op, uint8_t reg, int size) {
  addx(t, fmt("%s m%d (%02X /%d)", name, size * 8, op, reg), [=](FormCtx& c) {
    Mem m;
    if (!c.pick_mem(m, size)) return false;
    return c.emit(c.encode({}, {op}, reg, mem_rm(m)));
  });
}

// A register form: two opcode bytes, the second + i for ST(i).
void reg_form(std::vector<Form>& t, const char* name, uint8_t op, uint8_t modrm, EmitOpts o = {}) {
  addx(t, fmt("%s ST(i) (%02X %02X+i)", name, op, modrm), [=](FormCtx& c) {
    return c.emit({op, u8(modrm + c.rng.below(8))}, o);
  });
}

void fixed_form(std::vector<Form>& t, const char* name, B bytes, EmitOpts o = {}) {
  addx(t, fmt("%s (%02X %02X)", name, bytes[0], bytes.size() > 1 ? bytes[1] : 0), [=](FormCtx& c) {
    return c.emit(bytes, o);
  });
}

}  // namespace

void add_x87_forms(std::vector<Form>& t) {
  // Loads and stores (FLD/FST/FSTP/FILD/FIST/FISTP/FBLD/FBSTP).
  mem_form(t, "FLD", 0xD9, 0, 4);
  mem_form(t, "FLD", 0xDD, 0, 8);
  mem_form(t, "FLD", 0xDB, 5, 10);
  mem_form(t, "FST", 0xD9, 2, 4);
  mem_form(t, "FSTP", 0xD9, 3, 4);
  mem_form(t, "FST", 0xDD, 2, 8);
  mem_form(t, "FSTP", 0xDD, 3, 8);
  mem_form(t, "FSTP", 0xDB, 7, 10);
  mem_form(t, "FILD", 0xDF, 0, 2);
  mem_form(t, "FILD", 0xDB, 0, 4);
  mem_form(t, "FILD", 0xDF, 5, 8);
  mem_form(t, "FIST", 0xDF, 2, 2);
  mem_form(t, "FISTP", 0xDF, 3, 2);
  mem_form(t, "FIST", 0xDB, 2, 4);
  mem_form(t, "FISTP", 0xDB, 3, 4);
  mem_form(t, "FISTP", 0xDF, 7, 8);
  mem_form(t, "FBLD", 0xDF, 4, 10);
  mem_form(t, "FBSTP", 0xDF, 6, 10);
  reg_form(t, "FLD", 0xD9, 0xC0);
  reg_form(t, "FST", 0xDD, 0xD0);
  reg_form(t, "FSTP", 0xDD, 0xD8);
  reg_form(t, "FXCH", 0xD9, 0xC8);
  reg_form(t, "FFREE", 0xDD, 0xC0);

  // Arithmetic: ST(0) op ST(i), ST(i) op ST(0), the popping forms, and
  // the m32fp / m64fp / m32int / m16int sources.
  static const char* const kArith[8] = {"FADD", "FMUL", "FCOM", "FCOMP", "FSUB", "FSUBR", "FDIV", "FDIVR"};
  for (uint8_t k = 0; k < 8; ++k) {
    reg_form(t, kArith[k], 0xD8, u8(0xC0 + 8 * k));
    mem_form(t, kArith[k], 0xD8, k, 4);
    mem_form(t, kArith[k], 0xDC, k, 8);
    mem_form(t, fmt("FI%s", kArith[k] + 1).c_str(), 0xDA, k, 4);
    mem_form(t, fmt("FI%s", kArith[k] + 1).c_str(), 0xDE, k, 2);
    if (k == 2 || k == 3) continue;
    reg_form(t, fmt("%s to ST(i)", kArith[k]).c_str(), 0xDC, u8(0xC0 + 8 * k));
    reg_form(t, fmt("%sP", kArith[k]).c_str(), 0xDE, u8(0xC0 + 8 * k));
  }
  fixed_form(t, "FCOMPP", {0xDE, 0xD9});
  reg_form(t, "FUCOM", 0xDD, 0xE0);
  reg_form(t, "FUCOMP", 0xDD, 0xE8);
  fixed_form(t, "FUCOMPP", {0xDA, 0xE9});
  // FCOMI and friends set ZF, PF and CF and clear OF, SF and AF.
  reg_form(t, "FCOMI", 0xDB, 0xF0);
  reg_form(t, "FUCOMI", 0xDB, 0xE8);
  reg_form(t, "FCOMIP", 0xDF, 0xF0);
  reg_form(t, "FUCOMIP", 0xDF, 0xE8);
  // FCMOVcc reads CF, ZF or PF (the generator rejects one that reads an undefined flag).
  static const char* const kFcmov[8] = {"FCMOVB", "FCMOVE", "FCMOVBE", "FCMOVU",
                                        "FCMOVNB", "FCMOVNE", "FCMOVNBE", "FCMOVNU"};
  for (uint8_t k = 0; k < 8; ++k) reg_form(t, kFcmov[k], k < 4 ? 0xDA : 0xDB, u8(0xC0 + 8 * (k & 3)));

  // D9 E0-FF: FCHS FABS FTST FXAM, the constants, the transcendental and
  // miscellaneous instructions.
  static const struct {
    const char* name;
    uint8_t modrm;
  } kD9[] = {{"FCHS", 0xE0},   {"FABS", 0xE1},    {"FTST", 0xE4},    {"FXAM", 0xE5},   {"FLD1", 0xE8},
             {"FLDL2T", 0xE9}, {"FLDL2E", 0xEA},  {"FLDPI", 0xEB},   {"FLDLG2", 0xEC}, {"FLDLN2", 0xED},
             {"FLDZ", 0xEE},   {"F2XM1", 0xF0},   {"FYL2X", 0xF1},   {"FPTAN", 0xF2},  {"FPATAN", 0xF3},
             {"FXTRACT", 0xF4}, {"FPREM1", 0xF5}, {"FDECSTP", 0xF6}, {"FINCSTP", 0xF7}, {"FPREM", 0xF8},
             {"FYL2XP1", 0xF9}, {"FSQRT", 0xFA},  {"FSINCOS", 0xFB}, {"FRNDINT", 0xFC}, {"FSCALE", 0xFD},
             {"FSIN", 0xFE},   {"FCOS", 0xFF},    {"FNOP", 0xD0}};
  for (const auto& f : kD9) fixed_form(t, f.name, {0xD9, f.modrm});

  // Control: FNSTSW AX / m16, FNSTCW m16, FLDCW of a word that keeps every
  // exception masked (any precision and rounding control), FNCLEX, FWAIT,
  // FNINIT.
  fixed_form(t, "FNSTSW AX", {0xDF, 0xE0}, EmitOpts{.allow_write = 1u << 0});
  mem_form(t, "FNSTSW", 0xDD, 7, 2);
  mem_form(t, "FNSTCW", 0xD9, 7, 2);
  addx(t, "FLDCW m16 (D9 /5)", [](FormCtx& c) {
    Mem m;
    if (!c.pick_mem(m, 2)) return false;
    static const uint16_t kPc[] = {0x000, 0x200, 0x300};
    const uint16_t cw = static_cast<uint16_t>(0x007F | kPc[c.rng.below(3)] | (c.rng.below(4) << 10) |
                                              (c.rng.chance(20) ? 0x1000 : 0));
    if (!c.set_mem(m, 2, cw)) return false;
    return c.emit(c.encode({}, {0xD9}, 5, mem_rm(m)));
  });
  fixed_form(t, "FNCLEX", {0xDB, 0xE2});
  fixed_form(t, "FWAIT", {0x9B});
  fixed_form(t, "FNINIT", {0xDB, 0xE3});
}

}  // namespace vmm::diff

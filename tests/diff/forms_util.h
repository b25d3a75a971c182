// Helpers shared by the form-table files.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <string>
#include <vector>

#include "tests/diff/gen.h"

namespace vmm::diff {

using B = std::vector<uint8_t>;

inline std::string fmt(const char* f, ...) {
  char buf[256];
  va_list ap;
  va_start(ap, f);
  std::vsnprintf(buf, sizeof buf, f, ap);
  va_end(ap);
  return buf;
}

inline B pfx(int w) { return w == 2 ? B{0x66} : B{}; }
inline const char* p66(int w) { return w == 2 ? "66 " : ""; }
inline int bits(int w) { return 8 * w; }
inline uint32_t wmask(int w) { return w == 4 ? 0xFFFFFFFFu : (1u << (8 * w)) - 1; }
inline uint8_t u8(int v) { return static_cast<uint8_t>(v); }

inline B cat(B a, const B& b) {
  a.insert(a.end(), b.begin(), b.end());
  return a;
}

// mov reg(w), imm — a set-up. `r` in the width's encoding (AL..BH for w=1).
inline bool set_regw(FormCtx& c, uint8_t r, int w, uint32_t v) {
  if (w == 1) return c.set_reg8(r, static_cast<uint8_t>(v));
  if (w == 4) return c.set_reg(r, v);
  if (!c.emit(cat({0x66, u8(0xB8 + r)}, imm_bytes(v, 2)), EmitOpts{.setup = true})) return false;
  return true;
}

// An absolute [disp32] memory operand.
inline Mem abs_mem(uint32_t addr) {
  Mem m;
  m.mod = 0;
  m.rm = 5;
  m.disp_size = 4;
  m.disp = static_cast<int32_t>(addr);
  m.lo = m.hi = addr;
  return m;
}

inline RM reg_rm(uint8_t r) {
  RM o;
  o.is_reg = true;
  o.reg = r;
  return o;
}
inline RM mem_rm(const Mem& m) {
  RM o;
  o.is_reg = false;
  o.mem = m;
  return o;
}

inline void add(std::vector<Form>& t, std::string name, std::string group, FormFn fn, bool simple = true,
                unsigned weight = 1, bool native_only = false) {
  t.push_back(Form{std::move(name), std::move(group), std::move(fn), simple, weight, native_only});
}

void add_data_forms(std::vector<Form>& t);
void add_flow_forms(std::vector<Form>& t);
void add_x87_forms(std::vector<Form>& t);

}  // namespace vmm::diff

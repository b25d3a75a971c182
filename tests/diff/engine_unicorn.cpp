// Unicorn 2 (QEMU-derived) as the reference Engine. One uc instance is
// reused for all sequences: memory is rewritten and the translation cache
// flushed on every load.
#include <unicorn/unicorn.h>

#include <cstdio>
#include <cstring>
#include <stdexcept>

#include "tests/diff/engines.h"

namespace vmm::diff {
namespace {

const int kRegs[8] = {UC_X86_REG_EAX, UC_X86_REG_ECX, UC_X86_REG_EDX, UC_X86_REG_EBX,
                      UC_X86_REG_ESP, UC_X86_REG_EBP, UC_X86_REG_ESI, UC_X86_REG_EDI};

class UnicornEngine final : public Engine {
 public:
  UnicornEngine() {
    zero_.assign(kRamSize, 0);
    open();
  }
  ~UnicornEngine() override { uc_close(uc_); }
  const char* name() const override { return "unicorn"; }

  void load(const Sequence& seq) override {
    // A guest exception leaves QEMU's env->old_exception set (Unicorn calls
    // the hook instead of delivering it, which would reset it), so the next
    // contributory exception would be reported as a double fault: start
    // afresh after every exception. See UNICORN_KNOWN_ISSUES.md.
    if (vector_ >= 0) {
      uc_close(uc_);
      open();
    }
    load_state(seq);
  }

 private:
  void open() {
    check(uc_open(UC_ARCH_X86, UC_MODE_32, &uc_), "uc_open");
    check(uc_mem_map(uc_, 0, kRamSize, UC_PROT_ALL), "uc_mem_map");
    check(uc_hook_add(uc_, &hook_, UC_HOOK_INTR, reinterpret_cast<void*>(&on_intr), this, 1, 0),
          "uc_hook_add");
  }

  void load_state(const Sequence& seq) {
    check(uc_mem_write(uc_, 0, zero_.data(), kRamSize), "uc_mem_write");
    check(uc_mem_write(uc_, kCodeBase, seq.code.data(), seq.code.size()), "uc_mem_write");
    check(uc_mem_write(uc_, kDataBase, seq.data.data(), kDataSize), "uc_mem_write");
    check(uc_mem_write(uc_, kStackBase, seq.stack.data(), kStackSize), "uc_mem_write");
    check(uc_ctl_remove_cache(uc_, kCodeBase, kCodeBase + kCodeSize), "remove cache");
    for (int i = 0; i < 8; ++i) {
      uint32_t v = seq.gpr[i];
      check(uc_reg_write(uc_, kRegs[i], &v), "uc_reg_write");
    }
    uint32_t v = seq.eflags;
    check(uc_reg_write(uc_, UC_X86_REG_EFLAGS, &v), "uc_reg_write");
    v = seq.start_eip;
    check(uc_reg_write(uc_, UC_X86_REG_EIP, &v), "uc_reg_write");
    end_ = seq.end_eip;
    done_ = false;
    vector_ = -1;
    error_.clear();
  }

 public:
  void run_to_end() override {
    if (!done_) run(end_, 0);
    done_ = true;
  }

  void step(uint32_t until) override {
    if (done_) return;
    const uint32_t eip = reg(UC_X86_REG_EIP);
    if (eip == end_) {
      done_ = true;
      return;
    }
    // Stop where the interpreter got to; an instruction count of 1 would stop
    // after one iteration of a REP string instruction.
    if (until == eip) run(0, 1);
    else run(until, 100000);
    if (reg(UC_X86_REG_EIP) == end_) done_ = true;
  }

  void run_until(uint32_t addr) override {
    if (!done_) run(addr, 0);
    if (reg(UC_X86_REG_EIP) == end_) done_ = true;
  }

  bool done() const override { return done_; }

  State state(bool with_memory) override {
    State st;
    st.ok = error_.empty();
    st.error = error_;
    st.vector = vector_;
    for (int i = 0; i < 8; ++i) st.gpr[i] = reg(kRegs[i]);
    st.eip = reg(UC_X86_REG_EIP);
    st.eflags = reg(UC_X86_REG_EFLAGS);
    if (with_memory) {
      st.data.resize(kDataSize);
      st.stack.resize(kStackSize);
      check(uc_mem_read(uc_, kDataBase, st.data.data(), kDataSize), "uc_mem_read");
      check(uc_mem_read(uc_, kStackBase, st.stack.data(), kStackSize), "uc_mem_read");
    }
    return st;
  }

 private:
  static void on_intr(uc_engine* uc, uint32_t intno, void* user) {
    auto* self = static_cast<UnicornEngine*>(user);
    self->vector_ = static_cast<int>(intno);
    self->done_ = true;
    uc_emu_stop(uc);
  }

  void run(uint32_t until, size_t count) {
    const uint32_t eip = reg(UC_X86_REG_EIP);
    const uc_err e = uc_emu_start(uc_, eip, until, 0, count);
    if (e == UC_ERR_INSN_INVALID && vector_ < 0) {
      // #UD does not reach the interrupt hook: Unicorn stops with this error,
      // EIP at the instruction.
      vector_ = 6;
      done_ = true;
      return;
    }
    if (e != UC_ERR_OK && vector_ < 0) {
      error_ = std::string("uc_emu_start: ") + uc_strerror(e);
      done_ = true;
    }
  }

  uint32_t reg(int r) const {
    uint32_t v = 0;
    uc_reg_read(uc_, r, &v);
    return v;
  }
  static void check(uc_err e, const char* what) {
    if (e != UC_ERR_OK) throw std::runtime_error(std::string(what) + ": " + uc_strerror(e));
  }

  uc_engine* uc_ = nullptr;
  uc_hook hook_ = 0;
  std::vector<uint8_t> zero_;
  uint32_t end_ = 0;
  bool done_ = false;
  int vector_ = -1;
  std::string error_;
};

}  // namespace

std::unique_ptr<Engine> make_unicorn_engine() { return std::make_unique<UnicornEngine>(); }

}  // namespace vmm::diff

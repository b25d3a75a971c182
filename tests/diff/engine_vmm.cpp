// vmm as an Engine: the interpreter, or the JIT run as VmmConfig says.
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "devices/bus.h"
#include "jit/jit_engine.h"
#include "runtime/cpu.h"
#include "runtime/fpu.h"
#include "runtime/guest_ram.h"
#include "tests/diff/engines.h"

namespace vmm::diff {
namespace {

// Far more instructions than any sequence executes.
constexpr uint64_t kMaxInstructions = 1u << 20;
constexpr size_t kCodeBuffer = size_t{1} << 20;  // JIT code buffer: far more than one sequence needs.

class VmmEngineImpl final : public VmmEngine {
 public:
  explicit VmmEngineImpl(const VmmConfig& config) : config_(config), ram_(kRamSize) {}
  ~VmmEngineImpl() override { drop_cpu(); }
  const char* name() const override { return config_.jit ? "jit" : "vmm"; }
  void configure(const VmmConfig& config) override { config_ = config; }
  JitTotals jit_totals() const override {
    JitTotals t = totals_;
    if (cpu_) add_jit_stats(t, *cpu_);
    return t;
  }

  void load(const Sequence& seq) override {
    drop_cpu();
    cpu_ = std::make_unique<Cpu>(ram_, bus_);
    if (config_.jit) {
      cpu_->enable_jit(kCodeBuffer, config_.host_mmu);
      cpu_->set_single_block(config_.single_block);
    }
    for (unsigned run = 1; run < config_.runs; ++run) {
      start(seq);
      run_to_end();
    }
    start(seq);
  }

  // Executes the final HLT too, so that all of vmm's ways of running a
  // sequence end with the same instruction count.
  void run_to_end() override {
    while (!done_) advance(config_.slice ? config_.slice : kMaxInstructions);
  }
  void run_instructions(uint64_t n) override {
    const uint64_t target = executed() + n;
    while (!done_ && executed() < target) advance(std::min(config_.slice ? config_.slice : n, target - executed()));
  }
  // Stepping stops at the final HLT: Unicorn's stop address.
  void step(uint32_t) override {
    if (!done_ && cpu_->s.eip != end_) advance(1);
    if (cpu_->s.eip == end_) done_ = true;
  }
  void run_until(uint32_t addr) override {
    while (!done_ && cpu_->s.eip != addr) step(0);
  }
  bool done() const override { return done_; }

  State state(bool with_memory) override {
    State st;
    st.ok = error_.empty();
    st.error = error_;
    st.vector = vector_;
    for (int i = 0; i < 8; ++i) st.gpr[i] = cpu_->s.gpr[i];
    st.eip = cpu_->s.eip;
    st.eflags = cpu_->s.eflags;
    st.executed = executed();
    st.fpu.assign(cpu_->s.fpu.fxsave, cpu_->s.fpu.fxsave + kFpuBytes);
    if (with_memory) {
      st.data.assign(ram_.ptr(kDataBase), ram_.ptr(kDataBase) + kDataSize);
      st.stack.assign(ram_.ptr(kStackBase), ram_.ptr(kStackBase) + kStackSize);
    }
    return st;
  }

 private:
  // Instructions of the current run (the Cpu counts the warm-up runs too).
  uint64_t executed() const { return cpu_->stats().instructions - base_; }

  // Puts the sequence's memory and registers in place, with EIP at its start.
  // A Cpu that ran it before keeps its decoded blocks and translations (the
  // code bytes are rewritten unchanged, behind the softmmu's back).
  void start(const Sequence& seq) {
    std::memset(ram_.data(), 0, kRamSize);
    std::memcpy(ram_.ptr(kCodeBase), seq.code.data(), seq.code.size());
    std::memcpy(ram_.ptr(kDataBase), seq.data.data(), kDataSize);
    std::memcpy(ram_.ptr(kStackBase), seq.stack.data(), kStackSize);
    cpu_->clear_stop();
    cpu_->reset_flat_protected(seq.start_eip);
    for (int i = 0; i < 8; ++i) cpu_->s.gpr[i] = seq.gpr[i];
    cpu_->s.eflags = seq.eflags;
    fpu::reset(cpu_->s.fpu);
    if (!seq.fpu.empty()) std::memcpy(cpu_->s.fpu.fxsave, seq.fpu.data(), kFpuBytes);
    base_ = cpu_->stats().instructions;
    end_ = seq.end_eip;
    done_ = false;
    vector_ = -1;
    error_.clear();
  }

  static void add_jit_stats(JitTotals& t, Cpu& cpu) {
    if (const jit::JitEngine* j = cpu.jit()) {
      const jit::EngineStats s = j->stats();
      t.translations += s.translations;
      t.flushes += s.flushes;
      t.chains += s.chains;
      t.budget_exits += s.budget_exits;
      t.exceptions += s.exceptions;
    }
  }

  void drop_cpu() {
    if (!cpu_) return;
    add_jit_stats(totals_, *cpu_);
    cpu_.reset();
  }

  void advance(uint64_t n) {
    const StopReason r = cpu_->run(n);
    if (config_.flush_slices && cpu_->jit()) cpu_->jit()->flush();
    if (r == StopReason::kInstructionLimit) {
      if (executed() > kMaxInstructions) {
        error_ = "instruction limit reached";
        done_ = true;
      }
      return;
    }
    done_ = true;
    if (r == StopReason::kHalted) {
      // The final HLT leaves EIP after it; report the stop address as Unicorn does.
      if (cpu_->s.eip == end_ + 1) cpu_->s.eip = end_;
      else error_ = "halted at an unexpected HLT";
      return;
    }
    if (r == StopReason::kFatal) {
      unsigned v = 0, err = 0;
      const char* m = std::strstr(cpu_->stop_message().c_str(), "(vector ");
      if (m && std::sscanf(m, "(vector %u, error code %x", &v, &err) >= 1) {
        vector_ = static_cast<int>(v);
        // INT n/INT3/INTO are delivered through the IDT, which the test
        // machine does not have: the delivery fails with #GP(vector*8+2).
        // Report it as Unicorn's interrupt hook does: the vector, with EIP
        // after the instruction.
        if (v == 13 && (err & 7) == 2) {
          InstrRecord rec;
          const uint8_t* p = ram_.ptr(cpu_->s.eip);
          if (cpu_->decoder().decode(p, 15, rec) == DecodeStatus::kOk &&
              (rec.mnemonic == ZYDIS_MNEMONIC_INTO || rec.mnemonic == ZYDIS_MNEMONIC_INT ||
               rec.mnemonic == ZYDIS_MNEMONIC_INT3)) {
            vector_ = static_cast<int>(err >> 3);
            cpu_->s.eip += rec.length;
          }
        }
        return;
      }
    }
    error_ = "stopped: " + cpu_->stop_message();
  }

  VmmConfig config_;
  GuestRam ram_;
  Bus bus_;
  std::unique_ptr<Cpu> cpu_;
  JitTotals totals_;
  uint64_t base_ = 0;
  uint32_t end_ = 0;
  bool done_ = false;
  int vector_ = -1;
  std::string error_;
};

}  // namespace

std::unique_ptr<VmmEngine> make_vmm_engine(const VmmConfig& config) { return std::make_unique<VmmEngineImpl>(config); }

}  // namespace vmm::diff

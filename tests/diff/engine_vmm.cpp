// The interpreter under test as an Engine.
#include <cstdio>
#include <cstring>

#include "devices/bus.h"
#include "runtime/cpu.h"
#include "runtime/guest_ram.h"
#include "tests/diff/engines.h"

namespace vmm::diff {
namespace {

class VmmEngine final : public Engine {
 public:
  VmmEngine() : ram_(kRamSize) {}
  const char* name() const override { return "vmm"; }

  void load(const Sequence& seq) override {
    std::memset(ram_.data(), 0, kRamSize);
    std::memcpy(ram_.ptr(kCodeBase), seq.code.data(), seq.code.size());
    std::memcpy(ram_.ptr(kDataBase), seq.data.data(), kDataSize);
    std::memcpy(ram_.ptr(kStackBase), seq.stack.data(), kStackSize);
    cpu_.reset();
    cpu_ = std::make_unique<Cpu>(ram_, bus_);
    cpu_->reset_flat_protected(kCodeBase);
    for (int i = 0; i < 8; ++i) cpu_->s.gpr[i] = seq.gpr[i];
    cpu_->s.eflags = seq.eflags;
    end_ = seq.end_eip;
    done_ = false;
    vector_ = -1;
    error_.clear();
  }

  void run_to_end() override {
    while (!done_) advance(1u << 20);
  }
  void step(uint32_t) override {
    if (!done_) advance(1);
  }
  void run_until(uint32_t addr) override {
    for (int i = 0; i < 1000000 && !done_ && cpu_->s.eip != addr; ++i) advance(1);
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
    st.executed = cpu_->stats().instructions;
    if (with_memory) {
      st.data.assign(ram_.ptr(kDataBase), ram_.ptr(kDataBase) + kDataSize);
      st.stack.assign(ram_.ptr(kStackBase), ram_.ptr(kStackBase) + kStackSize);
    }
    return st;
  }

 private:
  void advance(uint64_t n) {
    if (cpu_->s.eip == end_) {
      done_ = true;
      return;
    }
    const StopReason r = cpu_->run(n);
    if (r == StopReason::kInstructionLimit) {
      if (cpu_->s.eip == end_) done_ = true;
      if (n > 1) {  // Far more instructions than any sequence executes.
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

  GuestRam ram_;
  Bus bus_;
  std::unique_ptr<Cpu> cpu_;
  uint32_t end_ = 0;
  bool done_ = false;
  int vector_ = -1;
  std::string error_;
};

}  // namespace

std::unique_ptr<Engine> make_vmm_engine() { return std::make_unique<VmmEngine>(); }

}  // namespace vmm::diff

// The JIT engine: owns the code buffer, the translator and the entry/exit
// trampolines, and runs one translated block at a time for Cpu::run (which
// keeps the shared parts of the run loop: interrupts, block lookup, debug
// stepping, exception delivery).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "frontend/block.h"
#include "jit/code_buffer.h"
#include "jit/translator.h"
#include "runtime/exceptions.h"

namespace vmm {
class Cpu;
}

namespace vmm::jit {

struct EngineStats {
  uint64_t executions = 0;     // Translated blocks entered.
  uint64_t translations = 0;   // Blocks translated (including retranslations after a flush).
  uint64_t flushes = 0;        // Code-buffer flushes.
  double translate_seconds = 0;
  uint64_t exceptions = 0;     // Guest exceptions raised inside translated code or its helpers.
};

class JitEngine {
 public:
  JitEngine(Cpu& cpu, size_t buffer_bytes);
  ~JitEngine();

  // Runs block `b` (translating it first if needed). Returns the number of
  // guest instructions completed; sets `faulted` when a guest exception is
  // pending in the Cpu (Cpu::take_pending_exception).
  uint64_t execute(Block& b, bool& faulted);

  // Drops all translations (code buffer full, or on request).
  void flush();

  const EngineStats& stats() const { return stats_; }
  const TranslatorStats& translator_stats() const { return translator_->stats(); }
  const CodeBuffer& buffer() const { return buffer_; }

 private:
  void emit_trampolines();
  void* translate(Block& b);

  Cpu& cpu_;
  CodeBuffer buffer_;
  std::unique_ptr<Translator> translator_;
  size_t trampoline_bytes_ = 0;
  uint32_t generation_ = 1;
  using EnterFn = void (*)(void* state, void* code);
  EnterFn enter_ = nullptr;
  uintptr_t exit_common_ = 0;
  uintptr_t exit_synced_ = 0;
  EngineStats stats_;
};

}  // namespace vmm::jit

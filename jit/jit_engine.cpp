#include "jit/jit_engine.h"

#include <asmjit/x86.h>

#include <chrono>
#include <cstddef>
#include <stdexcept>

#include "jit/host_regs.h"
#include "jit/jit_abi.h"
#include "runtime/cpu.h"
#include "runtime/interp/flags.h"
#include "runtime/log.h"

namespace vmm::jit {

using namespace asmjit;

namespace {
const int32_t kOffGpr = static_cast<int32_t>(offsetof(CpuState, gpr));
const int32_t kOffJit = static_cast<int32_t>(offsetof(CpuState, jit));
const int32_t kOffTlb = kOffJit + static_cast<int32_t>(offsetof(CpuState::JitLink, tlb));
const int32_t kOffImage = kOffJit + static_cast<int32_t>(offsetof(CpuState::JitLink, flags_image));
const int32_t kOffStatus = kOffJit + static_cast<int32_t>(offsetof(CpuState::JitLink, status));
const int32_t kOffExecuted = kOffJit + static_cast<int32_t>(offsetof(CpuState::JitLink, executed));

x86::Gpd guest32(uint8_t g) { return x86::gpd(host_of(g)); }
}  // namespace

JitEngine::JitEngine(Cpu& cpu, size_t buffer_bytes) : cpu_(cpu), buffer_(buffer_bytes) {
  emit_trampolines();
  translator_ = std::make_unique<Translator>(buffer_, exit_common_, exit_synced_);
}

JitEngine::~JitEngine() = default;

// vmm_jit_enter(CpuState* state /*RDI*/, void* code /*RSI*/): saves the
// callee-saved registers, loads the guest registers and flags, and jumps to
// the block. Exits come back through exit_common/exit_synced, which store the
// guest state and return to the caller of enter. RSP stays 16-byte aligned
// inside translated code, so helpers are called with the ABI's alignment.
void JitEngine::emit_trampolines() {
  const uint64_t base = reinterpret_cast<uintptr_t>(buffer_.cursor());
  CodeHolder code;
  code.init(Environment::host(), base);
  x86::Assembler a(&code);
  Label exit_common = a.newLabel(), exit_synced = a.newLabel();

  // enter
  a.push(x86::rbx);
  a.push(x86::rbp);
  a.push(x86::r12);
  a.push(x86::r13);
  a.push(x86::r14);
  a.push(x86::r15);
  a.sub(x86::rsp, 8);
  a.mov(x86::r15, x86::rdi);
  a.mov(x86::r14, x86::qword_ptr(x86::r15, kOffTlb));
  a.mov(x86::r8, x86::rsi);
  for (uint8_t g = 0; g < 8; ++g) a.mov(guest32(g), x86::dword_ptr(x86::r15, kOffGpr + 4 * g));
  a.mov(x86::r13, x86::rax);
  a.mov(x86::eax, x86::dword_ptr(x86::r15, kOffImage));
  a.add(x86::al, 0x7F);
  a.sahf();
  a.mov(x86::rax, x86::r13);
  a.jmp(x86::r8);

  // exit_common: guest registers and flags live; [eip] set; R9 = instructions done.
  a.bind(exit_common);
  a.mov(x86::r13, x86::rax);
  a.lahf();
  a.seto(x86::al);
  a.mov(x86::dword_ptr(x86::r15, kOffImage), x86::eax);
  a.mov(x86::rax, x86::r13);
  for (uint8_t g = 0; g < 8; ++g) a.mov(x86::dword_ptr(x86::r15, kOffGpr + 4 * g), guest32(g));
  a.mov(x86::dword_ptr(x86::r15, kOffStatus), Imm(kExitNext));
  // exit_synced: state already stored, status set by the helper; R9 = instructions done.
  a.bind(exit_synced);
  a.mov(x86::r9d, x86::r9d);
  a.add(x86::qword_ptr(x86::r15, kOffExecuted), x86::r9);
  a.add(x86::rsp, 8);
  a.pop(x86::r15);
  a.pop(x86::r14);
  a.pop(x86::r13);
  a.pop(x86::r12);
  a.pop(x86::rbp);
  a.pop(x86::rbx);
  a.ret();

  code.flatten();
  code.resolveUnresolvedLinks();
  const size_t size = code.codeSize();
  uint8_t* dst = buffer_.allocate(size);
  if (!dst || reinterpret_cast<uintptr_t>(dst) != base) throw std::runtime_error("JIT: code buffer too small");
  code.relocateToBase(base);
  code.copyFlattenedData(dst, size);
  enter_ = reinterpret_cast<EnterFn>(dst);
  exit_common_ = base + code.labelOffsetFromBase(exit_common);
  exit_synced_ = base + code.labelOffsetFromBase(exit_synced);
  trampoline_bytes_ = buffer_.used();
}

void JitEngine::flush() {
  // Translations of the old generation are recognised by Block::jit_generation.
  buffer_.reset_to(trampoline_bytes_);
  ++generation_;
  ++stats_.flushes;
}

void* JitEngine::translate(Block& b) {
  const auto t0 = std::chrono::steady_clock::now();
  void* code = translator_->translate(b);
  if (!code) {
    flush();
    code = translator_->translate(b);
    if (!code) throw std::runtime_error("JIT: a single block does not fit in the code buffer (--tb-size)");
  }
  b.jit_generation = generation_;
  ++stats_.translations;
  stats_.translate_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (cpu_.log && cpu_.log->enabled(LogMask::kOutAsm)) {
    cpu_.log->printf(LogMask::kOutAsm, "OUT: [guest 0x%08x, %zu instructions, %u host bytes]\n%s\n", b.virt_pc,
                     b.instrs.size(), b.host_size, disassemble_host(b.host_code, b.host_size).c_str());
  }
  return code;
}

uint64_t JitEngine::execute(Block& b, bool& faulted) {
  void* code = (b.host_code && b.jit_generation == generation_) ? b.host_code : translate(b);
  CpuState& s = cpu_.s;
  s.jit.cpu = reinterpret_cast<uintptr_t>(&cpu_);
  s.jit.tlb = reinterpret_cast<uintptr_t>(cpu_.mmu.tlb(cpu_.mmu_idx()));
  s.jit.flags_image = interp::flags_to_ax(s.eflags);
  s.jit.executed = 0;
  s.jit.status = kExitNext;
  ++stats_.executions;
  enter_(&s, code);
  s.eflags = (s.eflags & ~flag::kArith) |
             (interp::lahf_seto_to_eflags(static_cast<uint16_t>(s.jit.flags_image)) & flag::kArith);
  faulted = s.jit.status == kExitException;
  if (faulted) ++stats_.exceptions;
  return s.jit.executed;
}

}  // namespace vmm::jit

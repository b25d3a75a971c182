// The JIT against the interpreter: the same code runs on a CPU with each
// engine and must leave the same registers, flags and memory. Covers the
// cases the translator handles specially: self-modifying code, page-crossing
// code and data, chaining and unchaining, faults in the middle of a block,
// #DE, interrupts arriving while blocks are chained in a loop, code-buffer
// flushes, and the instructions rewritten into emulation-routine calls.
#include <gtest/gtest.h>
#include <sys/mman.h>

#include <cstring>
#include <functional>
#include <vector>

#include "devices/bus.h"
#include "jit/jit_engine.h"
#include "runtime/cpu.h"
#include "runtime/interrupts.h"
#include "runtime/sanitizers.h"
#include "tests/unit/jit_pair.h"

namespace vmm {
namespace {

using namespace jit_test;

// Every Jit test runs once per memory path.
class Jit : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override { g_host_mmu = GetParam(); }
  void TearDown() override { g_host_mmu = true; }
};
INSTANTIATE_TEST_SUITE_P(MemoryPath, Jit, ::testing::Values(true, false),
                         [](const ::testing::TestParamInfo<bool>& i) { return i.param ? "HostMmu" : "SoftTlb"; });

TEST_P(Jit, ArithmeticLoopMatchesInterpreter) {
  Pair p;
  // 0x1000: mov ecx, 1000
  // 0x1005: L: add eax, ecx; adc ebx, eax; imul edx, eax, 7; rol ebx, 3; dec ecx
  // 0x1010: jnz L (75 F3: 0x1012 - 13); hlt
  run_both(p, {0xB9, 0xE8, 0x03, 0x00, 0x00, 0x01, 0xC8, 0x11, 0xC3, 0x6B, 0xD0, 0x07, 0xC1, 0xC3, 0x03, 0x49,
               0x75, 0xF3, 0xF4});
  // The same loop in C++.
  uint32_t eax = 0, ebx = 0, edx = 0;
  bool cf = false;
  for (uint32_t ecx = 1000; ecx != 0; --ecx) {
    const uint64_t sum = uint64_t{eax} + ecx;
    eax = static_cast<uint32_t>(sum);
    const uint64_t with_carry = uint64_t{ebx} + eax + (sum >> 32);
    ebx = static_cast<uint32_t>(with_carry);
    edx = eax * 7;
    ebx = (ebx << 3) | (ebx >> 29);
    cf = ebx & 1;  // ROL: CF is the bit rotated into bit 0; DEC leaves CF alone.
  }
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], eax);
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], ebx);
  EXPECT_EQ(p.jit.cpu.s.gpr[EDX], edx);
  EXPECT_EQ(p.jit.cpu.s.gpr[ECX], 0u);
  EXPECT_EQ(bool(p.jit.cpu.s.eflags & flag::CF), cf);
  EXPECT_TRUE(p.jit.cpu.s.eflags & flag::ZF);
  EXPECT_EQ(p.jit.cpu.s.eip, kCode + 0x13);  // After the HLT.
  EXPECT_EQ(p.jit.cpu.stats().instructions, 1 + 1000 * 6 + 1);
  EXPECT_GT(p.jit.cpu.jit()->stats().chains, 0u);
}

TEST_P(Jit, MemoryOperandsAndStackOps) {
  Pair p;
  // 0x1000: mov esi, 0x8000; mov ecx, 100
  // 0x100a: L: add [esi+ecx*4], ecx; push dword [esi]; pop eax
  // 0x1010: call f (0x1019); dec ecx; jnz L (75 F2: 0x1018 - 14); hlt
  // 0x1019: f: lea ebx, [eax+ecx*2+5]; ret
  run_both(p, {0xBE, 0x00, 0x80, 0x00, 0x00, 0xB9, 0x64, 0x00, 0x00, 0x00, 0x01, 0x0C, 0x8E, 0xFF, 0x36, 0x58,
               0xE8, 0x04, 0x00, 0x00, 0x00, 0x49, 0x75, 0xF2, 0xF4, 0x8D, 0x5C, 0x48, 0x05, 0xC3},
           [](Vm& v) {
             v.cpu.s.gpr[ESP] = 0x20000;
             v.put32(0x8000, 0x1234);  // [esi]: what each PUSH/POP carries into EAX.
           });
  // ECX runs 100..1: each dword [0x8000 + 4*c] gets c added once; the last
  // pass (c = 1) leaves EBX = 0x1234 + 2 + 5.
  for (uint32_t c = 1; c <= 100; ++c) EXPECT_EQ(p.jit.get32(0x8000 + 4 * c), c) << "c = " << c;
  EXPECT_EQ(p.jit.get32(0x8000), 0x1234u);
  EXPECT_EQ(p.jit.get32(0x8000 + 4 * 101), 0u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 0x1234u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], 0x1234u + 7);
  EXPECT_EQ(p.jit.cpu.s.gpr[ECX], 0u);
  EXPECT_EQ(p.jit.cpu.s.gpr[ESP], 0x20000u);
  EXPECT_EQ(p.jit.get32(0x1FFFC), 0x1015u);  // The last return address, over the pushed dword.
  EXPECT_EQ(p.jit.cpu.s.eip, kCode + 0x19);   // After the HLT.
  EXPECT_EQ(p.jit.cpu.stats().instructions, 2 + 100 * 8 + 1);
}

TEST_P(Jit, SelfModifyingCodeInTheSameBlock) {
  Pair p;
  // mov byte [0x100c], 0x42; mov al, 0x00 (at 0x1007: B0 00, immediate at 0x1008) ... patch the immediate:
  // c6 05 08 10 00 00 42   mov byte [0x1008], 0x42
  // b0 00                  mov al, 0x00   <- becomes mov al, 0x42
  // f4                     hlt
  run_both(p, {0xC6, 0x05, 0x08, 0x10, 0x00, 0x00, 0x42, 0xB0, 0x00, 0xF4});
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX] & 0xFF, 0x42u);
}

TEST_P(Jit, SelfModifyingCodeOnAnotherPageAfterItRan) {
  Pair p;
  // The loop calls f at 0x3000 (mov eax, imm32; ret) twice, patching its immediate in between.
  // 0x1000: call 0x3000; mov ebx, eax; mov dword [0x3001], 0x77; call 0x3000; hlt
  const std::vector<uint8_t> code = {0xE8, 0xFB, 0x1F, 0x00, 0x00, 0x89, 0xC3, 0xC7, 0x05, 0x01, 0x30, 0x00, 0x00,
                                     0x77, 0x00, 0x00, 0x00, 0xE8, 0xEA, 0x1F, 0x00, 0x00, 0xF4};
  run_both(p, code, [](Vm& v) {
    v.cpu.s.gpr[ESP] = 0x20000;
    v.put(0x3000, {0xB8, 0x11, 0x00, 0x00, 0x00, 0xC3});
  });
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], 0x11u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 0x77u);
}

TEST_P(Jit, ChainedBlockIsUnchainedWhenInvalidated) {
  Pair p;
  // A loop that jumps to a block on the same page, which the loop rewrites on its third pass.
  // 0x1000: mov ecx, 5
  // 0x1005: L: call g            (g at 0x1040: inc eax; ret)
  // 0x100a: cmp ecx, 3 ; jne skip
  // 0x100f: mov byte [0x1040], 0x43   (inc eax -> inc ebx)
  // skip: dec ecx; jnz L; hlt
  std::vector<uint8_t> code = {0xB9, 0x05, 0x00, 0x00, 0x00,              // mov ecx, 5
                               0xE8, 0x36, 0x00, 0x00, 0x00,              // call 0x1040
                               0x83, 0xF9, 0x03,                          // cmp ecx, 3
                               0x75, 0x07,                                // jne +7
                               0xC6, 0x05, 0x40, 0x10, 0x00, 0x00, 0x43,  // mov byte [0x1040], 0x43
                               0x49,                                      // dec ecx
                               0x75, 0xEC,                                // jnz 0x1005
                               0xF4};
  code.resize(0x40, 0x90);
  code.push_back(0x40);  // 0x1040: inc eax
  code.push_back(0xC3);  // ret
  run_both(p, code, [](Vm& v) { v.cpu.s.gpr[ESP] = 0x20000; });
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 3u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], 2u);
  EXPECT_GT(p.jit.cpu.jit()->stats().unchains, 0u);
}

TEST_P(Jit, CodeAndDataCrossingAPageBoundary) {
  Pair p;
  // jmp to 0x1ffc where a 6-byte instruction straddles 0x2000; then a dword load across 0x5000.
  std::vector<uint8_t> code = {0xE9, 0xF7, 0x0F, 0x00, 0x00};  // jmp 0x1ffc
  code.resize(0x1000, 0x90);
  // 0x1ffc: mov eax, [0x4ffe] (A1 fe 4f 00 00) crosses into 0x2000; then hlt at 0x2001
  const std::vector<uint8_t> tail = {0x90, 0x90, 0xA1, 0xFE, 0x4F, 0x00, 0x00, 0xF4};
  run_both(p, code, [&](Vm& v) {
    v.put(0x1ffa, tail);
    v.put32(0x4ffc, 0x11223344);
    v.put32(0x5000, 0x55667788);
  });
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 0x77881122u);
}

TEST_P(Jit, PageFaultInTheMiddleOfABlockIsPrecise) {
  Pair p;
  // Paging on with 0x00400000 unmapped: mov eax,1; mov ebx,2; add ecx,[0x400000]; mov edx,3
  run_both(p, {0xB8, 0x01, 0x00, 0x00, 0x00, 0xBB, 0x02, 0x00, 0x00, 0x00, 0x03, 0x0D, 0x00, 0x00, 0x40, 0x00,
               0xBA, 0x03, 0x00, 0x00, 0x00, 0xF4},
           [](Vm& v) {
             // Page directory at 0x10000 with a 4 MiB identity page for 0-4 MiB only.
             v.put32(0x10000, 0x00000083);
             v.cpu.s.cr4 |= cr4::PSE;
             v.cpu.s.cr3 = 0x10000;
             v.cpu.s.cr0 |= cr0::PG;
             v.cpu.paging_changed();
             v.cpu.s.eflags |= flag::CF | flag::ZF;  // Must survive exactly.
           });
  EXPECT_EQ(p.jit.cpu.stop_reason(), StopReason::kFatal);
  EXPECT_EQ(p.jit.cpu.s.eip, kCode + 10);
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], 2u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EDX], 0u);
  EXPECT_EQ(p.jit.cpu.s.cr2, 0x00400000u);
  EXPECT_TRUE(p.jit.cpu.s.eflags & flag::CF);
}

TEST_P(Jit, WriteThroughTheCodeSegmentFaults) {
  Pair p;
  // mov edi, 0x8000; add cs:[edi], eax: CS is a code segment, so the
  // read-modify-write faults #GP(0) before changing memory (SDM Vol. 3A, 5.5).
  run_both(p, {0xBF, 0x00, 0x80, 0x00, 0x00, 0x2E, 0x01, 0x07, 0xF4}, [](Vm& v) { v.cpu.s.gpr[EAX] = 5; });
  EXPECT_NE(p.jit.cpu.stop_message().find("#GP"), std::string::npos);
  EXPECT_EQ(p.jit.cpu.s.eip, kCode + 5);
  EXPECT_EQ(p.jit.get32(0x8000), 0u);
}

TEST_P(Jit, DivideErrorIsPrecise) {
  Pair p;
  // mov eax, 7; xor edx, edx; xor ecx, ecx; stc; div ecx
  run_both(p, {0xB8, 0x07, 0x00, 0x00, 0x00, 0x31, 0xD2, 0x31, 0xC9, 0xF9, 0xF7, 0xF1, 0xF4});
  EXPECT_NE(p.jit.cpu.stop_message().find("#DE"), std::string::npos);
  EXPECT_EQ(p.jit.cpu.s.eip, kCode + 10);
  EXPECT_TRUE(p.jit.cpu.s.eflags & flag::CF);
  // The DIV ran natively: the host's SIGFPE became the guest's #DE.
  EXPECT_EQ(p.jit.cpu.jit()->stats().host_traps, 1u);
}

TEST_P(Jit, IdivOverflowTrapsThroughTheHost) {
  Pair p;
  // mov eax, 0x80000000; cdq; mov ecx, -1; add ebx, 1; idiv ecx: the
  // quotient 2^31 does not fit (SDM IDIV); flags from the ADD stay exact.
  run_both(p, {0xB8, 0x00, 0x00, 0x00, 0x80, 0x99, 0xB9, 0xFF, 0xFF, 0xFF, 0xFF, 0x83, 0xC3, 0x01, 0xF7, 0xF9, 0xF4},
           [](Vm& v) { v.cpu.s.gpr[EBX] = 0xFFFFFFFF; });
  EXPECT_NE(p.jit.cpu.stop_message().find("#DE"), std::string::npos);
  EXPECT_EQ(p.jit.cpu.s.eip, kCode + 14);
  EXPECT_EQ(p.jit.cpu.s.gpr[EDX], 0xFFFFFFFFu);
  EXPECT_TRUE(p.jit.cpu.s.eflags & flag::ZF);
  EXPECT_EQ(p.jit.cpu.jit()->stats().host_traps, 1u);
}

TEST_P(Jit, DivideErrorThroughMemoryOperandKeepsFlags) {
  Pair p;
  // mov ebx, 0x8000; stc; div dword [ebx]; cmp eax, eax. The CMP kills the
  // flags after the DIV, but the #DE must still push the flags from before it.
  run_both(p, {0xBB, 0x00, 0x80, 0x00, 0x00, 0xF9, 0xF7, 0x33, 0x39, 0xC0, 0xF4});
  EXPECT_NE(p.jit.cpu.stop_message().find("#DE"), std::string::npos);
  EXPECT_EQ(p.jit.cpu.s.eip, kCode + 6);
  EXPECT_TRUE(p.jit.cpu.s.eflags & flag::CF);
}

TEST_P(Jit, DividesThatDoNotTrapRunNatively) {
  Pair p;
  // A loop of DIV, IDIV and 8-bit DIV whose results feed the next round.
  // mov esi, 200; L: mov eax, esi; imul eax, eax; xor edx, edx; mov ecx, 7;
  // div ecx; add edi, edx; mov eax, esi; cdq; neg eax; idiv ecx (cdq after
  // neg); mov ax, si; mov cl, 3; div cl; add edi, eax; dec esi; jnz L; hlt
  run_both(p, {0xBE, 0xC8, 0x00, 0x00, 0x00,              // mov esi, 200
               0x89, 0xF0, 0x0F, 0xAF, 0xC0, 0x31, 0xD2,  // mov eax, esi; imul eax, eax; xor edx, edx
               0xB9, 0x07, 0x00, 0x00, 0x00, 0xF7, 0xF1,  // mov ecx, 7; div ecx
               0x01, 0xD7, 0x89, 0xF0, 0xF7, 0xD8, 0x99,  // add edi, edx; mov eax, esi; neg eax; cdq
               0xF7, 0xF9, 0x01, 0xC7,                    // idiv ecx; add edi, eax
               0x66, 0x89, 0xF0, 0xB1, 0x03, 0xF6, 0xF1,  // mov ax, si; mov cl, 3; div cl
               0x01, 0xC7, 0x4E, 0x75, 0xDB, 0xF4});      // add edi, eax; dec esi; jnz L; hlt
  EXPECT_EQ(p.jit.cpu.s.gpr[ESI], 0u);
  EXPECT_EQ(p.jit.cpu.s.eip, kCode + 43) << p.jit.cpu.stop_message();  // After the HLT: no fault on the way.
  EXPECT_EQ(p.jit.cpu.jit()->stats().host_traps, 0u);
  EXPECT_GT(p.jit.cpu.jit()->translator_stats().trap_sites, 0u);
}

// REP MOVS/STOS: single-page runs take the inline host REP path; a run
// crossing a page, DF set, and ECX = 0 take the handler or do nothing.
TEST_P(Jit, RepStringsMatchInterpreter) {
  Pair p;
  auto imm = [](uint8_t op, uint32_t v) {
    return std::vector<uint8_t>{op, uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)};
  };
  std::vector<uint8_t> code;
  auto add = [&](const std::vector<uint8_t>& v) { code.insert(code.end(), v.begin(), v.end()); };
  add(imm(0xBE, 0x8000)), add(imm(0xBF, 0x9000)), add(imm(0xB9, 100)), add({0xF3, 0xA4});  // within a page
  add(imm(0xBF, 0x9FF0)), add(imm(0xB9, 40)), add({0xF3, 0xA4});                          // crosses into 0xA000
  add({0xFD}), add(imm(0xBE, 0x8100)), add(imm(0xBF, 0xA100)), add(imm(0xB9, 10)), add({0xF3, 0xA4, 0xFC});  // DF=1
  add(imm(0xB9, 0)), add({0xF3, 0xA4});                                                   // ECX = 0
  add(imm(0xB8, 0x11223344)), add(imm(0xBF, 0xB000)), add(imm(0xB9, 64)), add({0xF3, 0xAB});  // rep stosd
  add(imm(0xBE, 0x8000)), add(imm(0xBF, 0xC002)), add(imm(0xB9, 300)), add({0x66, 0xF3, 0xA5});  // rep movsw
  add({0xF4});
  run_both(p, code, [](Vm& v) {
    for (uint32_t i = 0; i < 0x1000; ++i) v.ram.ptr(0x8000)[i] = static_cast<uint8_t>(i * 7 + 3);
  });
  EXPECT_EQ(p.jit.cpu.s.eip, kCode + code.size());
  EXPECT_EQ(p.jit.cpu.s.gpr[ECX], 0u);
  EXPECT_EQ(p.jit.get32(0xB000 + 63 * 4), 0x11223344u);
  EXPECT_EQ(p.jit.cpu.jit()->translator_stats().string_fast_paths, 6u);
}

// A host fault that is not a guest DIV/IDIV is a VMM bug: the handler
// installed with the JIT names it and ends the process with status 3
// (sanitizer builds pass it on to the sanitizer's report instead).
bool ended_as_a_vmm_bug(int status) {
  if (kAddressSanitizer) return !(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  return WIFEXITED(status) && WEXITSTATUS(status) == 3;
}

TEST(JitDeathTest, HostFaultOutsideTranslatedCodeIsReportedLoudly) {
  Vm v(true);
  // An inaccessible page rather than a null pointer, which UBSan would
  // report before the access.
  void* page = mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(page, MAP_FAILED);
  EXPECT_EXIT(*static_cast<volatile int*>(page) = 1, ended_as_a_vmm_bug,
              "vmm: fatal: host SIGSEGV at 0x[0-9a-f]+ outside translated code");
  munmap(page, 4096);
}

// The same inside translated code names the guest block and instruction:
// a UD2 written over the host code of `dec ecx` (standing in for a
// translator bug) raises SIGILL there.
TEST(JitDeathTest, HostFaultInTranslatedCodeNamesTheGuestInstruction) {
  Vm v(true);
  // 0x1000 mov ecx, 1000; 0x1005 L: add eax, ecx; 0x1007 dec ecx; 0x1008 jnz L; 0x100a hlt
  v.put(kCode, {0xB9, 0xE8, 0x03, 0x00, 0x00, 0x01, 0xC8, 0x49, 0x75, 0xFB, 0xF4});
  v.cpu.run(1500);  // Halfway through the loop, translated and chained.
  ASSERT_GT(v.cpu.s.gpr[ECX], 0u);
  const uint8_t* dec_ecx = nullptr;
  v.cpu.jit()->for_each_translated_block([&](const Block& b) {
    if (b.virt_pc == kCode + 5 && b.host_offsets.size() >= 2)
      dec_ecx = static_cast<const uint8_t*>(b.host_code) + b.host_offsets[1];
  });
  ASSERT_NE(dec_ecx, nullptr);
  const uint8_t ud2[] = {0x0F, 0x0B};
  const_cast<jit::CodeBuffer&>(v.cpu.jit()->buffer()).write(dec_ecx, ud2, sizeof ud2);
  EXPECT_EXIT(v.cpu.run(1'000'000), ended_as_a_vmm_bug,
              "vmm: fatal: host SIGILL at 0x[0-9a-f]+ in translated code of the guest block at EIP 0x1005, "
              "guest instruction at EIP 0x1007; fault address 0x[0-9a-f]+ \\(a vmm bug\\)");
}

// A GDT (null, flat code 0x08, flat data 0x10) and an IDT whose vector 0x20
// handler counts into EBX and IRETs.
void install_interrupt_handler(Vm& v) {
  v.put32(0x500, 0), v.put32(0x504, 0);
  v.put32(0x508, 0x0000FFFF), v.put32(0x50C, 0x00CF9A00);
  v.put32(0x510, 0x0000FFFF), v.put32(0x514, 0x00CF9200);
  v.cpu.s.gdtr = {0x500, 0x17};
  const uint32_t handler = 0x3000;
  v.put32(0x800 + 0x20 * 8, (0x08u << 16) | (handler & 0xFFFF));
  v.put32(0x800 + 0x20 * 8 + 4, (handler & 0xFFFF0000u) | 0x8E00);
  v.cpu.s.idtr = {0x800, 0x7FF};
  v.put(handler, {0x43, 0xCF});  // inc ebx; iret
  v.cpu.s.gpr[ESP] = 0x20000;
  v.cpu.on_exception = [](Cpu& c, const GuestException& e) { deliver_exception(c, e); };
  v.cpu.acknowledge_interrupt = [&v] {
    v.cpu.set_intr(false);
    return static_cast<uint8_t>(0x20);
  };
}

// A load of DS that leaves the block mode as it was (flat to flat, as a
// kernel entry does) does not end the block; one that changes it (to a
// segment with base 0x100) does, and the accesses after each use the new
// base under both engines.
TEST_P(Jit, DataSegmentLoadsEndTheBlockOnlyWhenTheModeChanges) {
  Pair p;
  auto setup = [](Vm& v) {
    v.put32(0x500, 0), v.put32(0x504, 0);
    v.put32(0x508, 0x0000FFFF), v.put32(0x50C, 0x00CF9A00);  // 0x08: flat code
    v.put32(0x510, 0x0000FFFF), v.put32(0x514, 0x00CF9200);  // 0x10: flat data
    v.put32(0x518, 0x0100FFFF), v.put32(0x51C, 0x00CF9200);  // 0x18: data, base 0x100, 4 GiB
    v.cpu.s.gdtr = {0x500, 0x1F};
    v.put32(0x2000, 0x11111111), v.put32(0x2100, 0x22222222);
  };
  run_both(p,
           {
               0x66, 0xB8, 0x10, 0x00,              // mov ax, 0x10
               0x8E, 0xD8,                          // mov ds, ax: flat to flat, the block goes on
               0xA1, 0x00, 0x20, 0x00, 0x00,        // mov eax, [0x2000]
               0x66, 0xB9, 0x18, 0x00,              // mov cx, 0x18
               0x8E, 0xD9,                          // mov ds, cx: base 0x100, the block ends
               0x8B, 0x1D, 0x00, 0x20, 0x00, 0x00,  // mov ebx, [0x2000]: linear 0x2100
               0x66, 0xBA, 0x10, 0x00,              // mov dx, 0x10
               0x8E, 0xDA,                          // mov ds, dx: flat again, the block ends
               0x8B, 0x35, 0x00, 0x20, 0x00, 0x00,  // mov esi, [0x2000]
               0xF4,                                // hlt
           },
           setup);
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 0x11111111u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], 0x22222222u);
  EXPECT_EQ(p.jit.cpu.s.gpr[ESI], 0x11111111u);
  EXPECT_EQ(p.jit.cpu.stats().blocks_built, 3u);
  EXPECT_EQ(p.interp.cpu.stats().blocks_built, 3u);
}

TEST_P(Jit, InterruptReachesATightChainedLoop) {
  for (bool jit : {false, true}) {
    Vm v(jit);
    // sti; L: inc eax; jmp L
    v.put(kCode, {0xFB, 0x40, 0xEB, 0xFD});
    install_interrupt_handler(v);
    v.cpu.run(100000);  // Loop chained to itself.
    v.cpu.set_intr(true);
    v.cpu.run(100000);
    EXPECT_EQ(v.cpu.s.gpr[EBX], 1u) << (jit ? "jit" : "interp");
    EXPECT_GE(v.cpu.stats().instructions, 200000u);
  }
}

TEST_P(Jit, CodeBufferFlushUnderPressure) {
  // 3000 blocks (inc eax; jmp next) run twice through a 64 KiB buffer.
  std::vector<uint8_t> code = {0xB9, 0x02, 0x00, 0x00, 0x00};  // mov ecx, 2
  const uint32_t loop = kCode + static_cast<uint32_t>(code.size());
  for (int i = 0; i < 3000; ++i) code.insert(code.end(), {0x40, 0xEB, 0x00});  // inc eax; jmp +0
  code.insert(code.end(), {0x49, 0x0F, 0x85});                                  // dec ecx; jnz loop
  const int32_t rel = static_cast<int32_t>(loop - (kCode + code.size() + 4));
  for (int k = 0; k < 4; ++k) code.push_back(static_cast<uint8_t>(rel >> (8 * k)));
  code.push_back(0xF4);
  Vm interp(false), jit(true, 64 * 1024);
  for (Vm* v : {&interp, &jit}) {
    v->put(kCode, code);
    v->cpu.run(1'000'000);
  }
  expect_same(interp, jit);
  EXPECT_EQ(jit.cpu.s.gpr[EAX], 6000u);
  EXPECT_GT(jit.cpu.jit()->stats().flushes, 0u);
}

TEST_P(Jit, RewrittenInstructionsMatchTheInterpreter) {
  Pair p;
  // cli; sti; pushfd; pop eax; mov ecx, cr0; mov cr0, ecx; sgdt [0x9000]; sidt [0x9010]; smsw edx;
  // cpuid (eax=0); mov eax, 1; cpuid; clc; pushfd; popfd; str bx; hlt
  run_both(p, {0xFA, 0xFB, 0x9C, 0x58, 0x0F, 0x20, 0xC1, 0x0F, 0x22, 0xC1, 0x0F, 0x01, 0x05, 0x00, 0x90, 0x00,
               0x00, 0x0F, 0x01, 0x0D, 0x10, 0x90, 0x00, 0x00, 0x0F, 0x01, 0xE2, 0x31, 0xC0, 0x0F, 0xA2,
               0xB8, 0x01, 0x00, 0x00, 0x00, 0x0F, 0xA2, 0xF8, 0x9C, 0x9D, 0x66, 0x0F, 0x00, 0xCB, 0xF4},
           [](Vm& v) { v.cpu.s.gpr[ESP] = 0x20000; });
  EXPECT_GT(p.jit.cpu.jit()->translator_stats().helper_instrs, 0u);
}

// A page written through the view (mapped read-write there), then run as
// code, then written again: becoming code must drop the writable mapping, so
// the second write is seen and the stale translation dropped.
TEST_P(Jit, CodePageWrittenAfterItWasMappedWritable) {
  Pair p;
  run_both(p,
           {0xC7, 0x05, 0x00, 0x38, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,  // mov dword [0x3800], 1
            0xE8, 0xF1, 0x1F, 0x00, 0x00,                                // call 0x3000
            0x89, 0xC3,                                                  // mov ebx, eax
            0xC7, 0x05, 0x01, 0x30, 0x00, 0x00, 0x77, 0x00, 0x00, 0x00,  // mov dword [0x3001], 0x77
            0xE8, 0xE0, 0x1F, 0x00, 0x00,                                // call 0x3000
            0xF4},
           [](Vm& v) {
             v.cpu.s.gpr[ESP] = 0x20000;
             v.put(0x3000, {0xB8, 0x11, 0x00, 0x00, 0x00, 0xC3});  // mov eax, 0x11; ret
           });
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], 0x11u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 0x77u);
  if (GetParam()) {
    EXPECT_GT(p.jit.cpu.jit()->views()->stats().write_protects, 0u);
  }
}

// Accesses outside RAM (unassigned here) are never mapped: each is done by
// the interpreter, as the softmmu would. An access found outside RAM makes
// its instruction a helper call in a new translation (JitEngine::demote), so
// it faults on the host once per block that holds it, not on every pass.
TEST_P(Jit, AccessesOutsideRamStayOnTheSlowPath) {
  Pair p;
  // mov ecx, 3; L: mov eax, [0x800000]; mov [0x800004], ebx; add edx, [0x7ffffe]; dec ecx; jnz L; hlt
  run_both(p, {0xB9, 0x03, 0x00, 0x00, 0x00, 0xA1, 0x00, 0x00, 0x80, 0x00, 0x89, 0x1D, 0x04, 0x00, 0x80, 0x00,
               0x03, 0x15, 0xFE, 0xFF, 0x7F, 0x00, 0x49, 0x75, 0xEC, 0xF4},
           [](Vm& v) { v.cpu.s.gpr[EBX] = 0x12345678; });
  EXPECT_EQ(p.jit.cpu.s.gpr[ECX], 0u);
  if (GetParam()) {
    // The loop's first pass runs in the block at 0x1000, the others in the
    // block at the loop head: the two accesses wholly outside RAM fault once
    // in each (4); the one crossing from RAM into unassigned memory is not
    // demoted and faults on every pass (3).
    EXPECT_EQ(p.jit.cpu.jit()->views()->stats().faults, 7u);
    EXPECT_EQ(p.jit.cpu.jit()->stats().demoted_accesses, 4u);
    EXPECT_EQ(p.jit.cpu.jit()->views()->stats().pages_mapped, 0u);
  }
}

// A page table change becomes visible at INVLPG and at a CR3 load, and not
// through a view mapping made before it.
// A CR3 load with CR4.PGE keeps global TLB entries (SDM Vol. 3A 4.10.4.1),
// and the guest views keep their pages mapped (GuestViews::tlb_flushed):
// a global page changed in the page tables without INVLPG still reads the
// old page after the CR3 load, in both engines; a non-global one reads the
// new page. On the host-MMU path the global page is mapped once, not after
// every CR3 load.
TEST_P(Jit, GlobalPagesStayMappedAcrossCr3Loads) {
  Pair p;
  // mov esi, 20; L: mov eax, [0x400000]; mov ebx, [0x401000]; mov ecx, cr3; mov cr3, ecx; dec esi; jnz L;
  // mov dword [0x11000], 0x202103; mov dword [0x11004], 0x203003; mov ecx, cr3; mov cr3, ecx;
  // mov eax, [0x400000]; mov ebx, [0x401000]; hlt
  run_both(p,
           {0xBE, 0x14, 0x00, 0x00, 0x00,                                // mov esi, 20
            0xA1, 0x00, 0x00, 0x40, 0x00,                                // L: mov eax, [0x400000]
            0x8B, 0x1D, 0x00, 0x10, 0x40, 0x00,                          // mov ebx, [0x401000]
            0x0F, 0x20, 0xD9, 0x0F, 0x22, 0xD9,                          // mov ecx, cr3; mov cr3, ecx
            0x4E, 0x75, 0xEC,                                            // dec esi; jnz L
            0xC7, 0x05, 0x00, 0x10, 0x01, 0x00, 0x03, 0x21, 0x20, 0x00,  // mov dword [0x11000], 0x202103
            0xC7, 0x05, 0x04, 0x10, 0x01, 0x00, 0x03, 0x30, 0x20, 0x00,  // mov dword [0x11004], 0x203003
            0x0F, 0x20, 0xD9, 0x0F, 0x22, 0xD9,                          // mov ecx, cr3; mov cr3, ecx
            0xA1, 0x00, 0x00, 0x40, 0x00,                                // mov eax, [0x400000]
            0x8B, 0x1D, 0x00, 0x10, 0x40, 0x00,                          // mov ebx, [0x401000]
            0xF4},
           [](Vm& v) {
             // 0-4 MiB identity (4 MiB page); 0x400000 (global) and 0x401000 through 0x11000.
             v.put32(0x10000, 0x00000083);
             v.put32(0x10004, 0x00011007);
             v.put32(0x11000, 0x00200103);  // G = 1.
             v.put32(0x11004, 0x00201003);
             v.put32(0x200000, 0xAAAA0000);
             v.put32(0x201000, 0xBBBB0000);
             v.put32(0x202000, 0xCCCC0000);
             v.put32(0x203000, 0xDDDD0000);
             v.cpu.s.cr4 |= cr4::PSE | cr4::PGE;
             v.cpu.s.cr3 = 0x10000;
             v.cpu.s.cr0 |= cr0::PG;
             v.cpu.paging_changed();
           });
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 0xAAAA0000u);  // Global: the old translation survives the CR3 load.
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], 0xDDDD0000u);  // Not global: the new one.
  if (GetParam()) {
    const jit::GuestViewStats& v = p.jit.cpu.jit()->views()->stats();
    // Supervisor accesses: the shared view follows the TLB. The global page
    // stays mapped; the other one too while the reloaded tables translate
    // it the same way (A set by the first walk), and goes at the load
    // after its entry changed.
    EXPECT_EQ(v.flushes, 0u);
    EXPECT_GE(v.kernel_pages_kept, 5u);
    // (The last phase's table writes map the whole 4 MiB page at 0 into the
    // view, more pages than a CR3 load checks one by one: that load drops
    // the view whole.)
    EXPECT_GE(v.kernel_unmaps + v.kernel_flushes, 1u);
  }
}

TEST_P(Jit, RemappedPageIsSeenAfterInvlpgAndCr3Load) {
  Pair p;
  run_both(p,
           {0xA1, 0x00, 0x00, 0x40, 0x00,                                // mov eax, [0x400000]
            0xC7, 0x05, 0x00, 0x10, 0x01, 0x00, 0x03, 0x10, 0x20, 0x00,  // mov dword [0x11000], 0x201003
            0x0F, 0x01, 0x3D, 0x00, 0x00, 0x40, 0x00,                    // invlpg [0x400000]
            0x8B, 0x1D, 0x00, 0x00, 0x40, 0x00,                          // mov ebx, [0x400000]
            0xC7, 0x05, 0x00, 0x10, 0x01, 0x00, 0x03, 0x20, 0x20, 0x00,  // mov dword [0x11000], 0x202003
            0x0F, 0x20, 0xD9, 0x0F, 0x22, 0xD9,                          // mov ecx, cr3; mov cr3, ecx
            0x8B, 0x15, 0x00, 0x00, 0x40, 0x00,                          // mov edx, [0x400000]
            0xF4},
           [](Vm& v) {
             // 0-4 MiB identity (4 MiB page); 0x400000 through the page table at 0x11000.
             v.put32(0x10000, 0x00000083);
             v.put32(0x10004, 0x00011007);
             v.put32(0x11000, 0x00200003);
             v.put32(0x200000, 0xAAAA0000);
             v.put32(0x201000, 0xBBBB0000);
             v.put32(0x202000, 0xCCCC0000);
             v.cpu.s.cr4 |= cr4::PSE;
             v.cpu.s.cr3 = 0x10000;
             v.cpu.s.cr0 |= cr0::PG;
             v.cpu.paging_changed();
           });
  EXPECT_EQ(p.jit.cpu.s.gpr[EAX], 0xAAAA0000u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], 0xBBBB0000u);
  EXPECT_EQ(p.jit.cpu.s.gpr[EDX], 0xCCCC0000u);
}

// Real mode: code is fetched at CS base + IP. With CS base 0, an indirect
// jump to IP 0 must not match an empty inline-lookup slot (whose key is 0
// too: empty slots lead to the miss stub); with another base the JIT keeps
// such blocks out of the lookup tables, which are keyed by EIP alone.
TEST_P(Jit, IndirectJumpToOffsetZeroInRealMode) {
  for (uint32_t base : {0x0u, 0x1000u}) {
    Pair p;
    for (Vm* v : {&p.interp, &p.jit}) {
      v->cpu.reset_power_on();
      v->cpu.s.seg[CS].selector = static_cast<uint16_t>(base >> 4);
      v->cpu.s.seg[CS].base = base;
      v->cpu.s.seg[CS].refresh();
      v->cpu.s.eip = 0x100;
      v->cpu.s.gpr[ECX] = 3;
      v->put(base + 0x100, {0x31, 0xC0, 0xFF, 0xE0});  // xor ax, ax; jmp ax
      // 0: inc bx; dec cx; jz 7; jmp 0x100; 7: hlt  (three jumps to IP 0)
      v->put(base, {0x43, 0x49, 0x74, 0x03, 0xE9, 0xF9, 0x00, 0xF4});
      v->cpu.run(1000);
    }
    expect_same(p.interp, p.jit);
    EXPECT_EQ(p.jit.cpu.s.gpr[EBX] & 0xFFFF, 3u) << "CS base " << base;
    EXPECT_EQ(p.jit.cpu.s.eip, 0x8u) << "CS base " << base;
  }
}

// FS and GS with a base, as Linux uses them for per-CPU data and TLS: the
// JIT runs the accesses natively with the base added at run time (the
// translation does not depend on the base), so a base changed between two
// runs of the same translated loop is seen.
TEST_P(Jit, FsAndGsBasesAreAddedAtRunTime) {
  Pair p;
  // L: mov eax, fs:[ebx+4]; add gs:[ecx], eax; xchg fs:[ebx+8], edx; dec esi; jnz L;
  // M: jmp M (each run ends there on its instruction budget)
  const std::vector<uint8_t> code = {0x64, 0x8B, 0x43, 0x04, 0x65, 0x01, 0x01, 0x64, 0x87, 0x53,
                                     0x08, 0x4E, 0x75, 0xF2, 0xEB, 0xFE};
  auto segments = [](Vm& v, uint32_t fs_base, uint32_t gs_base) {
    const uint16_t attr = SegmentCache::kPresent | SegmentCache::kS | SegmentCache::kWritable |
                          SegmentCache::kAccessed | SegmentCache::kDb | SegmentCache::kGranularity;
    v.cpu.s.seg[FS] = SegmentCache{0x10, attr, fs_base, 0xFFFFFFFFu};
    v.cpu.s.seg[GS] = SegmentCache{0x10, attr, gs_base, 0xFFFFFFFFu};
    v.cpu.s.seg[FS].refresh();
    v.cpu.s.seg[GS].refresh();
  };
  run_both(p, code, [&](Vm& v) {
    segments(v, 0x20000, 0x30000);
    v.put32(0x20004, 7);
    v.put32(0x20008, 100);
    v.cpu.s.gpr[ESI] = 3;
    v.cpu.s.gpr[EDX] = 55;
  }, 1000);
  // Three passes: gs:[0] += 7 each time; the XCHG swaps EDX and fs:[8].
  EXPECT_EQ(p.jit.get32(0x30000), 21u);
  EXPECT_EQ(p.jit.get32(0x20008), 55u);  // Swapped three times.
  EXPECT_EQ(p.jit.cpu.s.gpr[EDX], 100u);
  EXPECT_EQ(p.jit.cpu.s.eip, kCode + 14);
  // The same translated code with other bases.
  for (Vm* v : {&p.interp, &p.jit}) {
    segments(*v, 0x40000, 0x50000);
    v->put32(0x40004, 9);
    v->cpu.s.gpr[ESI] = 2;
    v->cpu.s.eip = kCode;
    v->cpu.run(1000);
  }
  expect_same(p.interp, p.jit, false);
  EXPECT_EQ(p.jit.get32(0x50000), 18u);
  EXPECT_EQ(p.jit.get32(0x30000), 21u);  // The old GS area is left alone.
}

// x87 code run natively on the guest's registers in the host FPU
// (jit/host_fpu.h) leaves the FPU state the interpreter leaves: registers,
// tags, status and control words, and the last-instruction state recorded
// by translated code (FIP/FOP of a register-only instruction whose own
// record the next one makes, FDP/FDS kept across register-only ones, FDP
// as the offset within FS). A loop, so chained blocks run on the registers
// loaded once.
TEST_P(Jit, NativeX87LeavesTheInterpretersFpuState) {
  Pair p;
  // 1000 fninit                          1026 fld dword fs:[0x7f00]
  // 1002 mov ecx, 5                      102d faddp st1
  // 1007 L: fld dword [0x8000]           102f fstp qword [ebx+ecx*8+0x40]
  // 100d fld qword [0x8010]              1033 fld1
  // 1013 fmul st1                        1035 fsqrt
  // 1015 fadd dword [ebx+4]              1037 fnop
  // 1018 fxch st1                        1039 dec ecx
  // 101a fcomi st1                       103a jnz L
  // 101c fcmovb st1                      103c fst dword fs:[0x7f30]
  // 101e fstp qword [0x8020]             1043 fld1
  // 1024 fnstsw ax                       1045 fnop
  //                                      1047 hlt
  const std::vector<uint8_t> code = {
      0xdb, 0xe3, 0xb9, 0x05, 0x00, 0x00, 0x00, 0xd9, 0x05, 0x00, 0x80, 0x00, 0x00, 0xdd, 0x05, 0x10, 0x80, 0x00,
      0x00, 0xd8, 0xc9, 0xd8, 0x43, 0x04, 0xd9, 0xc9, 0xdb, 0xf1, 0xda, 0xc1, 0xdd, 0x1d, 0x20, 0x80, 0x00, 0x00,
      0xdf, 0xe0, 0x64, 0xd9, 0x05, 0x00, 0x7f, 0x00, 0x00, 0xde, 0xc1, 0xdd, 0x5c, 0xcb, 0x40, 0xd9, 0xe8, 0xd9,
      0xfa, 0xd9, 0xd0, 0x49, 0x75, 0xcb, 0x64, 0xd9, 0x15, 0x30, 0x7f, 0x00, 0x00, 0xd9, 0xe8, 0xd9, 0xd0, 0xf4};
  run_both(p, code, [](Vm& v) {
    const uint16_t attr = SegmentCache::kPresent | SegmentCache::kS | SegmentCache::kWritable |
                          SegmentCache::kAccessed | SegmentCache::kDb | SegmentCache::kGranularity;
    v.cpu.s.seg[FS] = SegmentCache{0x33, attr, 0x100, 0xFFFFFFFFu};
    v.cpu.s.seg[FS].refresh();
    const float a = 1.5f, b = 2.25f;
    const double c = 3.1;
    std::memcpy(v.ram.ptr(0x8000), &a, 4);
    std::memcpy(v.ram.ptr(0x8004), &b, 4);
    std::memcpy(v.ram.ptr(0x8010), &c, 8);
    v.cpu.s.gpr[EBX] = 0x8000;
  });
  const uint8_t* jit = p.jit.cpu.s.fpu.fxsave;
  EXPECT_EQ(std::memcmp(p.interp.cpu.s.fpu.fxsave, jit, 160), 0);
  uint32_t fip, fdp;
  uint16_t fop, fds;
  std::memcpy(&fop, jit + 6, 2);
  std::memcpy(&fip, jit + 8, 4);
  std::memcpy(&fdp, jit + 16, 4);
  std::memcpy(&fds, jit + 20, 2);
  EXPECT_EQ(fip, 0x1045u);  // The last FNOP (D9 D0).
  EXPECT_EQ(fop, 0x1D0u);
  EXPECT_EQ(fdp, 0x7F30u);
  EXPECT_EQ(fds, 0x33u);
  EXPECT_GE(p.jit.cpu.jit()->translator_stats().x87_native, 20u);
  EXPECT_EQ(p.jit.cpu.jit()->stats().fpu_spills, 1u);  // FNINIT, left to its interpreter handler.
}

// FCS is stored once per path through a block (CS cannot change inside
// one): a record reached by an internal branch that skipped the first one
// stores it again.
TEST_P(Jit, FcsIsStoredOnEveryPathThroughTheBlock) {
  Pair p;
  // 1000 test eax, eax; 1002 jz 100b; 1004 fld1; 1006 mov [0x8000], eax;
  // 100b fldz; 100d hlt
  run_both(p, {0x85, 0xC0, 0x74, 0x07, 0xD9, 0xE8, 0xA3, 0x00, 0x80, 0x00, 0x00, 0xD9, 0xEE, 0xF4},
           [](Vm& v) { v.cpu.s.gpr[EAX] = 0; });
  EXPECT_EQ(std::memcmp(p.interp.cpu.s.fpu.fxsave, p.jit.cpu.s.fpu.fxsave, 160), 0);
  uint16_t fcs;
  std::memcpy(&fcs, p.jit.cpu.s.fpu.fxsave + 12, 2);
  EXPECT_EQ(fcs, p.jit.cpu.s.seg[CS].selector);
  EXPECT_NE(fcs, 0);
}

// A block ending in a Jcc both of whose targets are on another page: the
// taken path left through the inline lookup with a flags image that only the
// fall-through path had saved, so a taken JZ lost ZF and PF (found by
// linux.lockstep in Linux's code). Both paths must leave the flags exact.
TEST_P(Jit, JccAtAPageEndLeavesTheFlagsExactOnBothPaths) {
  for (uint8_t al : {1, 2}) {  // Taken, then not taken.
    Pair p;
    // 0x1000: jmp 0x1ff7; 0x1ff7: mov eax, AL; cmp al, 1; jz 0x2010 (the
    // next instruction is 0x2000, on the next page too); 0x2000: hlt; 0x2010: hlt
    run_both(p, {0xE9, 0xF2, 0x0F, 0x00, 0x00}, [al](Vm& v) {
      v.put(0x1FF7, {0xB8, al, 0x00, 0x00, 0x00, 0x3C, 0x01, 0x74, 0x10});
      v.put(0x2000, {0xF4});
      v.put(0x2010, {0xF4});
    });
    EXPECT_EQ(p.jit.cpu.s.eip, al == 1 ? 0x2011u : 0x2001u);
    const uint32_t want = al == 1 ? (flag::ZF | flag::PF) : 0u;  // 2 - 1 = 1: odd parity, not zero.
    EXPECT_EQ(p.jit.cpu.s.eflags & (flag::ZF | flag::PF | flag::CF | flag::SF), want);
  }
}

// A helper instruction that ends its block after completing (here a REP
// MOVSB writing into a page holding translated code) gives back to the
// budget only what was charged for the rest of its segment: the segment
// after it (the Jcc's target) has not been charged yet. Giving that back too
// undercounted the instructions retired, which per-block lockstep of a
// Linux boot found (text patching through memcpy) and -icount would skew.
TEST_P(Jit, HelperEndingTheBlockBeforeABranchTargetCountsExactly) {
  Pair p;
  // 0x1000: call 0x3000          (translates 0x3000: a code page)
  //         mov esi, 0x2000; mov edi, 0x3000; mov ecx, 2
  //         test ecx, ecx; jz 0x101a
  //         rep movsb            (rewrites the RET at 0x3000: ends the block)
  // 0x101a: mov eax, 1; inc ebx; hlt
  const std::vector<uint8_t> code = {0xE8, 0xFB, 0x1F, 0x00, 0x00, 0xBE, 0x00, 0x20, 0x00, 0x00, 0xBF,
                                     0x00, 0x30, 0x00, 0x00, 0xB9, 0x02, 0x00, 0x00, 0x00, 0x85, 0xC9,
                                     0x74, 0x02, 0xF3, 0xA4, 0xB8, 0x01, 0x00, 0x00, 0x00, 0x43, 0xF4};
  run_both(p, code, [](Vm& v) {
    v.cpu.s.gpr[ESP] = 0x20000;
    v.put(0x3000, {0xC3, 0xCC, 0xCC});
    v.put(0x2000, {0x90, 0xC3});
  });
  EXPECT_EQ(p.jit.cpu.stats().instructions, 11u);
  EXPECT_EQ(p.jit.get32(0x3000) & 0xFFFFFF, 0xCCC390u);
}

// Two address spaces map 0x400000 to different code (non-global); the loop
// calling it sits on a global 4 MiB page. After each CR3 load the call must
// run the current space's code, while the loop's own blocks stay in the jump
// caches (Block::global_code), as their global translations stay in the TLB.
TEST_P(Jit, CodeOnGlobalPagesStaysCachedAcrossCr3Loads) {
  Pair p;
  // 0x1000: mov esi, 20; L: mov ecx, 0x10000; mov cr3, ecx; call 0x400000; add ebx, eax;
  //         mov ecx, 0x12000; mov cr3, ecx; call 0x400000; add ebx, eax; dec esi; jnz L; hlt
  run_both(p,
           {0xBE, 0x14, 0x00, 0x00, 0x00, 0xB9, 0x00, 0x00, 0x01, 0x00, 0x0F, 0x22, 0xD9,
            0xE8, 0xEE, 0xEF, 0x3F, 0x00, 0x01, 0xC3, 0xB9, 0x00, 0x20, 0x01, 0x00, 0x0F,
            0x22, 0xD9, 0xE8, 0xDF, 0xEF, 0x3F, 0x00, 0x01, 0xC3, 0x4E, 0x75, 0xDF, 0xF4},
           [](Vm& v) {
             for (uint32_t pd : {0x10000u, 0x12000u}) {
               v.put32(pd, 0x00000183);                 // 0-4 MiB: 4 MiB page, global.
               v.put32(pd + 4, (pd + 0x1000) | 0x003);  // 0x400000 through its own table.
             }
             v.put32(0x11000, 0x00200003);  // A: 0x400000 -> 0x200000 (not global)
             v.put32(0x13000, 0x00201003);  // B: 0x400000 -> 0x201000
             v.put(0x200000, {0xB8, 0x0A, 0x00, 0x00, 0x00, 0xC3});  // mov eax, 0xA; ret
             v.put(0x201000, {0xB8, 0x0B, 0x00, 0x00, 0x00, 0xC3});  // mov eax, 0xB; ret
             v.cpu.s.gpr[ESP] = 0x20000;
             v.cpu.s.cr4 |= cr4::PSE | cr4::PGE;
             v.cpu.s.cr3 = 0x10000;
             v.cpu.s.cr0 |= cr0::PG;
             v.cpu.paging_changed();
           });
  EXPECT_EQ(p.jit.cpu.s.gpr[EBX], 20u * (0xA + 0xB));
  // 40 CR3 loads: each call looks its target up in the block table again;
  // the loop's blocks (on the global page) do not.
  EXPECT_LE(p.jit.cpu.stats().block_map_lookups, 40u + 10u);
}

// W^X (jit/code_buffer.h): while translated code runs and blocks are
// chained, no mapping of the process is writable and executable at once; the
// code buffer is executable through one mapping and written through another.
TEST(JitWriteXorExecute, NoMappingIsWritableAndExecutable) {
  Vm v(true);
  // mov ecx, 1000; L: add eax, ecx; dec ecx; jnz L; hlt (a chained loop)
  v.put(kCode, {0xB9, 0xE8, 0x03, 0x00, 0x00, 0x01, 0xC8, 0x49, 0x75, 0xFB, 0xF4});
  v.cpu.run(1'000'000);
  EXPECT_EQ(v.cpu.s.gpr[EAX], 500500u);
  ASSERT_GT(v.cpu.jit()->stats().translations, 0u);
  FILE* maps = std::fopen("/proc/self/maps", "r");
  ASSERT_NE(maps, nullptr);
  char line[512];
  int code_views = 0;
  while (std::fgets(line, sizeof line, maps)) {
    char perms[8] = {};
    if (std::sscanf(line, "%*s %7s", perms) != 1) continue;
    EXPECT_FALSE(perms[1] == 'w' && perms[2] == 'x') << line;
    if (std::strstr(line, "vmm-jit-code")) ++code_views;
  }
  std::fclose(maps);
  EXPECT_EQ(code_views, 2);  // Executable and writable, separately.
}

}  // namespace
}  // namespace vmm

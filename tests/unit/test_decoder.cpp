// Decoder: Zydis output turned into the project's InstrRecord.
#include <gtest/gtest.h>

#include <Zydis/Zydis.h>

#include "frontend/decoder.h"
#include "runtime/cpu_state.h"

namespace vmm {
namespace {

InstrRecord decode(std::initializer_list<uint8_t> bytes, DecodeStatus expect = DecodeStatus::kOk) {
  Decoder d(true);
  std::vector<uint8_t> v(bytes);
  InstrRecord r;
  EXPECT_EQ(d.decode(v.data(), v.size(), r), expect);
  return r;
}

TEST(Decoder, RegisterOperandsAreByteOffsets) {
  InstrRecord r = decode({0x00, 0xE3});  // add bl, ah
  EXPECT_EQ(r.mnemonic, ZYDIS_MNEMONIC_ADD);
  ASSERT_EQ(r.nops, 2);
  EXPECT_EQ(r.ops[0].kind, OpKind::Reg);
  EXPECT_EQ(r.ops[0].reg, EBX * 4);
  EXPECT_EQ(r.ops[1].reg, EAX * 4 + 1);
  EXPECT_EQ(r.ops[0].size, 1);
  EXPECT_EQ(r.length, 2);
  EXPECT_EQ(r.flags_written & flag::kArith, flag::kArith);
}

// vmm's CPU has neither BMI1 nor ABM: F3 0F BC / F3 0F BD are BSF / BSR
// with an ignored prefix, as on such CPUs (Linux's _find_first_bit uses the
// TZCNT encoding and relies on that).
TEST(Decoder, TzcntAndLzcntEncodingsAreBsfAndBsr) {
  InstrRecord r = decode({0xF3, 0x0F, 0xBC, 0xC1});  // "tzcnt eax, ecx"
  EXPECT_EQ(r.mnemonic, ZYDIS_MNEMONIC_BSF);
  EXPECT_EQ(r.length, 4);
  r = decode({0xF3, 0x0F, 0xBD, 0xC1});  // "lzcnt eax, ecx"
  EXPECT_EQ(r.mnemonic, ZYDIS_MNEMONIC_BSR);
  // Nor CET: ENDBR32, at every gcc-compiled function entry, is a hint NOP.
  r = decode({0xF3, 0x0F, 0x1E, 0xFB});
  EXPECT_EQ(r.mnemonic, ZYDIS_MNEMONIC_NOP);
  EXPECT_EQ(r.length, 4);
}

TEST(Decoder, MemoryOperandWithSib) {
  InstrRecord r = decode({0x8B, 0x44, 0x8E, 0x10});  // mov eax, [esi+ecx*4+0x10]
  ASSERT_EQ(r.ops[1].kind, OpKind::Mem);
  EXPECT_EQ(r.ops[1].base, ESI);
  EXPECT_EQ(r.ops[1].index, ECX);
  EXPECT_EQ(r.ops[1].scale, 2);
  EXPECT_EQ(r.ops[1].disp, 0x10);
  EXPECT_EQ(r.ops[1].seg, DS);
  EXPECT_TRUE(r.cls & iclass::kMemory);
}

TEST(Decoder, EbpBaseDefaultsToSs) {
  InstrRecord r = decode({0x8B, 0x45, 0xFC});  // mov eax, [ebp-4]
  EXPECT_EQ(r.ops[1].seg, SS);
  EXPECT_EQ(r.ops[1].disp, -4);
  EXPECT_EQ(r.ops[1].index, kZeroGpr);
}

TEST(Decoder, SegmentOverrideAndPrefixes) {
  InstrRecord r = decode({0x64, 0x66, 0x89, 0x03});  // mov fs:[ebx], ax
  EXPECT_EQ(r.ops[0].seg, FS);
  EXPECT_EQ(r.ops[0].size, 2);
  EXPECT_EQ(r.opsize, 2);
  EXPECT_TRUE(r.prefixes & prefix::kSegOverride);
  EXPECT_TRUE(r.prefixes & prefix::kOpSize);
  EXPECT_EQ(r.seg, FS);
}

TEST(Decoder, SixteenBitAddressing) {
  InstrRecord r = decode({0x67, 0x8B, 0x00});  // mov eax, [bx+si]
  EXPECT_EQ(r.addrsize, 2);
  EXPECT_EQ(r.ops[1].base, EBX);
  EXPECT_EQ(r.ops[1].index, ESI);
}

TEST(Decoder, RepPrefixesOnStrings) {
  InstrRecord r = decode({0xF3, 0xA4});  // rep movsb
  EXPECT_TRUE(r.prefixes & prefix::kRep);
  EXPECT_TRUE(r.cls & iclass::kString);
  r = decode({0xF2, 0xAE});  // repne scasb
  EXPECT_TRUE(r.prefixes & prefix::kRepne);
}

TEST(Decoder, ClassifiesControlAndPrivileged) {
  InstrRecord r = decode({0x75, 0x05});  // jnz
  EXPECT_TRUE(r.cls & iclass::kControl);
  EXPECT_EQ(r.cond, 5);
  EXPECT_EQ(r.ops[0].imm, 5u);
  r = decode({0x0F, 0x22, 0xD8});  // mov cr3, eax
  EXPECT_TRUE(r.cls & iclass::kPrivileged);
  EXPECT_EQ(r.ops[0].kind, OpKind::Ctrl);
  EXPECT_EQ(r.ops[0].reg, 3);
  r = decode({0x9D});  // popfd
  EXPECT_TRUE(r.cls & iclass::kSensitive);
  r = decode({0xEA, 0x00, 0x10, 0x00, 0x00, 0x08, 0x00});  // jmp 0x08:0x1000
  EXPECT_TRUE(r.cls & iclass::kFar);
  EXPECT_EQ(r.ops[0].kind, OpKind::Far);
  EXPECT_EQ(r.ops[0].imm, 0x1000u);
  EXPECT_EQ(r.far_selector, 8);
}

TEST(Decoder, SignExtendedImmediate) {
  InstrRecord r = decode({0x83, 0xC0, 0xFF});  // add eax, -1
  EXPECT_EQ(r.ops[1].kind, OpKind::Imm);
  EXPECT_EQ(r.ops[1].imm, 0xFFFFFFFFu);
}

TEST(Decoder, TruncatedAndInvalid) {
  decode({0x8B}, DecodeStatus::kNeedMoreBytes);
  InstrRecord r = decode({0x0F, 0x0B});  // ud2 decodes (it is a real instruction)
  EXPECT_EQ(r.mnemonic, ZYDIS_MNEMONIC_UD2);
  r = decode({0xF0, 0x90}, DecodeStatus::kInvalid);  // lock nop
  EXPECT_TRUE(r.cls & iclass::kInvalid);
}

TEST(Decoder, RecordFitsOneCacheLine) { EXPECT_LE(sizeof(InstrRecord), 64u); }

}  // namespace
}  // namespace vmm

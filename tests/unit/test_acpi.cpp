// The ACPI tables (devices/acpi_tables.h) and the PM registers
// (devices/acpi_pm.h), through their bytes and ports only. The DSDT's AML is
// also checked by disassembling it with iasl (acpica-tools), an assembler we
// did not write, when it is installed.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include "devices/acpi_pm.h"
#include "devices/acpi_tables.h"
#include "runtime/virtual_clock.h"

namespace vmm {
namespace {

uint32_t get32(const std::vector<uint8_t>& b, uint32_t at) {
  uint32_t v;
  std::memcpy(&v, &b[at], 4);
  return v;
}
uint16_t get16(const std::vector<uint8_t>& b, uint32_t at) {
  uint16_t v;
  std::memcpy(&v, &b[at], 2);
  return v;
}
uint8_t sum(const std::vector<uint8_t>& b, uint32_t at, uint32_t len) {
  uint8_t s = 0;
  for (uint32_t i = 0; i < len; ++i) s = static_cast<uint8_t>(s + b[at + i]);
  return s;
}

TEST(AcpiTables, PointersSignaturesAndChecksums) {
  constexpr uint32_t base = kAcpiTablesBase;
  const std::vector<uint8_t> t = build_acpi_tables(base);
  ASSERT_EQ(std::string(reinterpret_cast<const char*>(&t[0]), 8), "RSD PTR ");
  EXPECT_EQ(base % 16, 0u);  // The OS scans 16-byte boundaries.
  EXPECT_EQ(sum(t, 0, 20), 0);
  EXPECT_EQ(t[15], 0);  // ACPI 1.0 RSDP.
  const uint32_t rsdt = get32(t, 16) - base;
  ASSERT_LT(rsdt, t.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&t[rsdt]), 4), "RSDT");
  EXPECT_EQ(get32(t, rsdt + 4), 40u);
  EXPECT_EQ(sum(t, rsdt, 40), 0);
  const uint32_t fadt = get32(t, rsdt + 36) - base;
  ASSERT_LT(fadt, t.size());
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&t[fadt]), 4), "FACP");
  const uint32_t fadt_len = get32(t, fadt + 4);
  EXPECT_EQ(fadt_len, 116u);
  EXPECT_EQ(sum(t, fadt, fadt_len), 0);
  EXPECT_EQ(get16(t, fadt + 46), 9u);                            // SCI_INT.
  EXPECT_EQ(get32(t, fadt + 48), 0u);                            // SMI_CMD.
  EXPECT_EQ(get32(t, fadt + 56), uint32_t{AcpiPm::kEventBlock});  // PM1a_EVT_BLK.
  EXPECT_EQ(get32(t, fadt + 64), uint32_t{AcpiPm::kControlBlock});
  EXPECT_EQ(get32(t, fadt + 76), uint32_t{AcpiPm::kTimerBlock});
  EXPECT_EQ(t[fadt + 88], 4);
  EXPECT_EQ(t[fadt + 89], 2);
  EXPECT_EQ(t[fadt + 91], 4);
  const uint32_t facs = get32(t, fadt + 36) - base;
  EXPECT_EQ((base + facs) % 64, 0u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&t[facs]), 4), "FACS");
  EXPECT_EQ(get32(t, facs + 4), 64u);
  const uint32_t dsdt = get32(t, fadt + 40) - base;
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(&t[dsdt]), 4), "DSDT");
  const uint32_t dsdt_len = get32(t, dsdt + 4);
  ASSERT_EQ(dsdt + dsdt_len, t.size());
  EXPECT_EQ(sum(t, dsdt, dsdt_len), 0);
}

// The DSDT, disassembled by iasl: one root-level \_S5 package whose first
// element is the SLP_TYP the PM control block powers off on.
TEST(AcpiTables, DsdtDisassemblesToTheS5Package) {
  if (std::system("command -v iasl >/dev/null 2>&1") != 0) GTEST_SKIP() << "iasl (acpica-tools) not installed";
  const std::vector<uint8_t> t = build_acpi_tables();
  const uint32_t dsdt = acpi_layout::kDsdt;
  const uint32_t len = get32(t, dsdt + 4);
  const std::string dir = ::testing::TempDir();
  const std::string aml = dir + "vmm_dsdt.aml", dsl = dir + "vmm_dsdt.dsl";
  {
    std::ofstream out(aml, std::ios::binary);
    out.write(reinterpret_cast<const char*>(&t[dsdt]), len);
  }
  std::remove(dsl.c_str());
  const std::string cmd = "iasl -d " + aml + " >/dev/null 2>&1";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  std::ifstream in(dsl);
  std::stringstream text;
  text << in.rdbuf();
  const std::string s = text.str();
  EXPECT_NE(s.find("Name (\\_S5, Package (0x04)"), std::string::npos) << s;
  EXPECT_NE(s.find("0x05"), std::string::npos) << s;
}

struct Pm {
  uint64_t ns = 0;
  VirtualClock clock{[this] { return ns; }, 0};  // 1 ns per "instruction".
  int power_offs = 0;
  bool sci = false;
  AcpiPm pm{clock, [this] { ++power_offs; }, [this](bool level) { sci = level; }};
  uint32_t in(uint16_t port, unsigned size) { return pm.read(port - AcpiPm::kBase, size); }
  void out(uint16_t port, unsigned size, uint32_t v) { pm.write(port - AcpiPm::kBase, size, v); }
};

TEST(AcpiPm, TimerCountsAt3579545HzIn24Bits) {
  Pm p;
  EXPECT_EQ(p.in(AcpiPm::kTimerBlock, 4), 0u);
  p.ns = 1'000'000'000;  // One second.
  EXPECT_EQ(p.in(AcpiPm::kTimerBlock, 4), 3579545u & 0xFFFFFF);
  p.ns = 10'000'000'000ull;
  EXPECT_EQ(p.in(AcpiPm::kTimerBlock, 4), 35795450u & 0xFFFFFF);
  EXPECT_EQ(p.in(AcpiPm::kTimerBlock, 4) >> 24, 0u);
  // Writes are ignored.
  p.out(AcpiPm::kTimerBlock, 4, 0);
  EXPECT_EQ(p.in(AcpiPm::kTimerBlock, 4), 35795450u & 0xFFFFFF);
}

TEST(AcpiPm, SoftOffPowersOffOthersDoNot) {
  Pm p;
  EXPECT_EQ(p.in(AcpiPm::kControlBlock, 2) & AcpiPm::kSciEn, AcpiPm::kSciEn);
  // SLP_TYP = 1 with SLP_EN: a sleep state the DSDT does not declare.
  p.out(AcpiPm::kControlBlock, 2, (1u << AcpiPm::kSlpTypShift) | AcpiPm::kSlpEn | AcpiPm::kSciEn);
  EXPECT_EQ(p.power_offs, 0);
  EXPECT_EQ(p.pm.ignored_sleep_requests(), 1u);
  // SLP_TYP = 5 without SLP_EN: nothing yet; SLP_EN reads back as 0.
  p.out(AcpiPm::kControlBlock, 2, (5u << AcpiPm::kSlpTypShift) | AcpiPm::kSciEn);
  EXPECT_EQ(p.power_offs, 0);
  EXPECT_EQ(p.in(AcpiPm::kControlBlock, 2) & AcpiPm::kSlpEn, 0u);
  // The \_S5 type with SLP_EN, as Linux's acpi_enter_sleep_state(5) writes it.
  p.out(AcpiPm::kControlBlock, 2, (5u << AcpiPm::kSlpTypShift) | AcpiPm::kSlpEn | AcpiPm::kSciEn);
  EXPECT_EQ(p.power_offs, 1);
}

TEST(AcpiPm, TimerStatusIsWriteOneToClearAndRaisesTheSciWhenEnabled) {
  Pm p;
  EXPECT_EQ(p.in(AcpiPm::kEventBlock, 2) & AcpiPm::kTmrSts, 0u);
  // Bit 23 of the counter changes after 2^23 ticks (about 2.34 s).
  p.ns = 2'400'000'000ull;
  EXPECT_EQ(p.in(AcpiPm::kEventBlock, 2) & AcpiPm::kTmrSts, AcpiPm::kTmrSts);
  EXPECT_FALSE(p.sci);  // Not enabled.
  p.out(AcpiPm::kEventBlock + 2, 2, AcpiPm::kTmrSts);  // PM1_EN.TMR_EN.
  EXPECT_TRUE(p.sci);
  p.out(AcpiPm::kEventBlock, 2, 0);  // Writing 0 clears nothing.
  EXPECT_TRUE(p.sci);
  p.out(AcpiPm::kEventBlock, 2, AcpiPm::kTmrSts);  // Write 1 to clear.
  EXPECT_FALSE(p.sci);
  EXPECT_EQ(p.in(AcpiPm::kEventBlock, 2) & AcpiPm::kTmrSts, 0u);
  // The next change of bit 23 sets it again through the clock's timer.
  p.ns = 4'800'000'000ull;
  p.clock.run_due(p.ns);
  EXPECT_TRUE(p.sci);
}

}  // namespace
}  // namespace vmm

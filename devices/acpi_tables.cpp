#include "devices/acpi_tables.h"

#include <cstring>
#include <stdexcept>
#include <string>

#include "devices/acpi_pm.h"
#include "runtime/guest_ram.h"

namespace vmm {

namespace {

// Little-endian writers into the image.
void put8(std::vector<uint8_t>& b, uint32_t at, uint8_t v) { b[at] = v; }
void put16(std::vector<uint8_t>& b, uint32_t at, uint16_t v) {
  b[at] = static_cast<uint8_t>(v);
  b[at + 1] = static_cast<uint8_t>(v >> 8);
}
void put32(std::vector<uint8_t>& b, uint32_t at, uint32_t v) {
  for (unsigned i = 0; i < 4; ++i) b[at + i] = static_cast<uint8_t>(v >> (8 * i));
}
void put_chars(std::vector<uint8_t>& b, uint32_t at, const char* s, unsigned n) { std::memcpy(&b[at], s, n); }

// The byte that makes `len` bytes from `at` sum to 0 (mod 256), stored at `sum_at`.
void checksum(std::vector<uint8_t>& b, uint32_t at, uint32_t len, uint32_t sum_at) {
  b[sum_at] = 0;
  uint8_t s = 0;
  for (uint32_t i = 0; i < len; ++i) s = static_cast<uint8_t>(s + b[at + i]);
  b[sum_at] = static_cast<uint8_t>(-s);
}

// The 36-byte System Description Table Header (5.2.6, Table 5.4).
constexpr uint32_t kHeaderBytes = 36;
void header(std::vector<uint8_t>& b, uint32_t at, const char* signature, uint32_t length, uint8_t revision) {
  put_chars(b, at + 0, signature, 4);
  put32(b, at + 4, length);
  put8(b, at + 8, revision);
  put_chars(b, at + 10, "VMM   ", 6);          // OEMID.
  put_chars(b, at + 16, "VMMPC   ", 8);        // OEM Table ID.
  put32(b, at + 24, 1);                        // OEM Revision.
  put_chars(b, at + 28, "VMM ", 4);            // Creator ID.
  put32(b, at + 32, 1);                        // Creator Revision.
}
void finish_table(std::vector<uint8_t>& b, uint32_t at, uint32_t length) { checksum(b, at, length, at + 9); }

// --- AML (ACPI 6.4, chapter 20 "ACPI Machine Language Specification") ---
namespace aml {
constexpr uint8_t kZeroOp = 0x00;
constexpr uint8_t kNameOp = 0x08;
constexpr uint8_t kBytePrefix = 0x0A;
constexpr uint8_t kPackageOp = 0x12;
constexpr uint8_t kRootChar = '\\';

// ByteConst or ZeroOp for a small integer.
std::vector<uint8_t> integer(uint8_t v) {
  if (v == 0) return {kZeroOp};
  return {kBytePrefix, v};
}
// PkgLength (20.2.4) of a body of n bytes, one-byte form (the length counts itself).
std::vector<uint8_t> pkg_length(size_t n) {
  if (n + 1 > 0x3F) throw std::logic_error("AML package too long for a one-byte PkgLength");
  return {static_cast<uint8_t>(n + 1)};
}
// DefPackage := PackageOp PkgLength NumElements PackageElementList.
std::vector<uint8_t> package(const std::vector<uint8_t>& values) {
  std::vector<uint8_t> body = {static_cast<uint8_t>(values.size())};
  for (uint8_t v : values) {
    const std::vector<uint8_t> e = integer(v);
    body.insert(body.end(), e.begin(), e.end());
  }
  std::vector<uint8_t> out = {kPackageOp};
  const std::vector<uint8_t> len = pkg_length(body.size());
  out.insert(out.end(), len.begin(), len.end());
  out.insert(out.end(), body.begin(), body.end());
  return out;
}
// DefName := NameOp NameString DataRefObject, for a root-level 4-character name.
std::vector<uint8_t> name(const char (&seg)[5], const std::vector<uint8_t>& object) {
  std::vector<uint8_t> out = {kNameOp, kRootChar};
  out.insert(out.end(), seg, seg + 4);
  out.insert(out.end(), object.begin(), object.end());
  return out;
}
}  // namespace aml

// The DSDT's definition block: \_S5 (7.4.2, "\_Sx System States"): SLP_TYP
// for PM1a and PM1b, and two reserved values.
std::vector<uint8_t> dsdt_aml() {
  return aml::name("_S5_", aml::package({AcpiPm::kSleepTypeSoftOff, AcpiPm::kSleepTypeSoftOff, 0, 0}));
}

}  // namespace

std::vector<uint8_t> build_acpi_tables(uint32_t base) {
  using namespace acpi_layout;
  const std::vector<uint8_t> aml = dsdt_aml();
  const uint32_t dsdt_len = kHeaderBytes + static_cast<uint32_t>(aml.size());
  std::vector<uint8_t> b(kDsdt + dsdt_len, 0);

  // RSDP, ACPI 1.0 form (5.2.5.3): 20 bytes, revision 0, checksum over them.
  put_chars(b, kRsdp, "RSD PTR ", 8);
  put_chars(b, kRsdp + 9, "VMM   ", 6);
  put8(b, kRsdp + 15, 0);
  put32(b, kRsdp + 16, base + kRsdt);
  checksum(b, kRsdp, 20, kRsdp + 8);

  // RSDT: the header and one 32-bit entry, the FADT.
  constexpr uint32_t kRsdtLen = kHeaderBytes + 4;
  header(b, kRsdt, "RSDT", kRsdtLen, 1);
  put32(b, kRsdt + kHeaderBytes, base + kFadt);
  finish_table(b, kRsdt, kRsdtLen);

  // FADT, revision 1 (116 bytes; field offsets of Table 5.9).
  constexpr uint32_t kFadtLen = 116;
  header(b, kFadt, "FACP", kFadtLen, 1);
  put32(b, kFadt + 36, base + kFacs);                  // FIRMWARE_CTRL.
  put32(b, kFadt + 40, base + kDsdt);                  // DSDT.
  put16(b, kFadt + 46, AcpiPm::kSciIrq);              // SCI_INT.
  put32(b, kFadt + 48, 0);                             // SMI_CMD: none, always in ACPI mode.
  put32(b, kFadt + 56, AcpiPm::kEventBlock);           // PM1a_EVT_BLK.
  put32(b, kFadt + 64, AcpiPm::kControlBlock);         // PM1a_CNT_BLK.
  put32(b, kFadt + 76, AcpiPm::kTimerBlock);           // PM_TMR_BLK.
  put8(b, kFadt + 88, 4);                              // PM1_EVT_LEN.
  put8(b, kFadt + 89, 2);                              // PM1_CNT_LEN.
  put8(b, kFadt + 91, 4);                              // PM_TMR_LEN.
  put16(b, kFadt + 96, 101);                           // P_LVL2_LAT > 100: no C2.
  put16(b, kFadt + 98, 1001);                          // P_LVL3_LAT > 1000: no C3.
  // Flags (Table 5.10): WBINVD works; C1 supported; power and sleep buttons
  // are not fixed hardware (there are none); 24-bit PM timer (TMR_VAL_EXT 0).
  constexpr uint32_t kWbinvd = 1u << 0, kProcC1 = 1u << 2, kPwrButton = 1u << 4, kSlpButton = 1u << 5;
  put32(b, kFadt + 112, kWbinvd | kProcC1 | kPwrButton | kSlpButton);
  finish_table(b, kFadt, kFadtLen);

  // FACS (Table 5.13): signature, length 64, no hardware signature, no waking vector.
  put_chars(b, kFacs, "FACS", 4);
  put32(b, kFacs + 4, 64);

  // DSDT: the header and the AML.
  header(b, kDsdt, "DSDT", dsdt_len, 1);
  std::memcpy(&b[kDsdt + kHeaderBytes], aml.data(), aml.size());
  finish_table(b, kDsdt, dsdt_len);
  return b;
}

void install_acpi_tables(GuestRam& ram, uint32_t base) {
  const std::vector<uint8_t> tables = build_acpi_tables(base);
  if (!ram.contains(base, tables.size())) throw std::runtime_error("guest RAM too small for the ACPI tables");
  std::memcpy(ram.ptr(base), tables.data(), tables.size());
}

}  // namespace vmm

// The ACPI tables vmm's PC gives its guests in place of firmware (ACPI 6.4,
// chapter 5 "ACPI Software Programming Model"; revision 1.0 table layouts,
// which every ACPI-aware kernel reads): what an unmodified Linux needs to
// find the power-management hardware of devices/acpi_pm.h and to power the
// machine off.
//  - RSDP (5.2.5) in the BIOS area, where the OS scans for it (0xE0000-0xFFFFF);
//  - RSDT (5.2.7) listing the FADT;
//  - FADT (5.2.9): SCI on IRQ 9, no SMI command port (always in ACPI mode),
//    the PM1a event and control blocks and the PM timer of AcpiPm, no C2/C3;
//  - FACS (5.2.10), which a non-hardware-reduced FADT points to;
//  - DSDT (5.2.11.1) with the \_S5 package (7.4.2) giving SLP_TYP for soft-off.
// The e820 map reserves the area (devices/linux_boot.cpp), so the guest
// leaves the tables alone.
#pragma once

#include <cstdint>
#include <vector>

namespace vmm {

class GuestRam;

inline constexpr uint32_t kAcpiTablesBase = 0xF0000;  // The RSDP, then the other tables.

// The tables as they are placed at `base` (the RSDP first, 16-byte aligned).
std::vector<uint8_t> build_acpi_tables(uint32_t base = kAcpiTablesBase);
// Builds and copies them into guest RAM (which must reach past them).
void install_acpi_tables(GuestRam& ram, uint32_t base = kAcpiTablesBase);

// Offsets of the tables from `base` in the built image.
namespace acpi_layout {
inline constexpr uint32_t kRsdp = 0x000;
inline constexpr uint32_t kRsdt = 0x020;
inline constexpr uint32_t kFadt = 0x080;
inline constexpr uint32_t kFacs = 0x100;  // 64-byte aligned (5.2.10).
inline constexpr uint32_t kDsdt = 0x140;
}  // namespace acpi_layout

}  // namespace vmm

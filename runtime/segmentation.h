// Segment-register loads and descriptor-table access (SDM Vol. 3A, 3.4-3.5 and
// 5.5-5.8). These are emulation routines: the interpreter calls them and the
// JIT emits calls to the same functions.
#pragma once

#include <cstdint>

#include "runtime/cpu_state.h"

namespace vmm {

class Cpu;

// An 8-byte segment descriptor as stored in the GDT/LDT.
struct Descriptor {
  uint32_t lo = 0;
  uint32_t hi = 0;

  uint32_t base() const { return (lo >> 16) | ((hi & 0xFF) << 16) | (hi & 0xFF000000u); }
  uint32_t raw_limit() const { return (lo & 0xFFFF) | (hi & 0x000F0000u); }
  // Byte-granular limit (G=1 scales by 4 KiB and fills the low 12 bits).
  uint32_t limit() const { return (hi & (1u << 23)) ? (raw_limit() << 12) | 0xFFF : raw_limit(); }
  // Descriptor bits 40..55 in SegmentCache::attr layout.
  uint16_t attr() const { return static_cast<uint16_t>((hi >> 8) & 0xF0FF); }
  uint8_t type() const { return (hi >> 8) & 0xF; }
  bool s() const { return hi & (1u << 12); }
  uint8_t dpl() const { return (hi >> 13) & 3; }
  bool present() const { return hi & (1u << 15); }
  bool code() const { return s() && (type() & 8); }
  bool conforming() const { return code() && (type() & 4); }
  bool readable_code() const { return code() && (type() & 2); }
  bool writable_data() const { return s() && !(type() & 8) && (type() & 2); }
};

// Reads the descriptor named by `selector` from the GDT or LDT with
// supervisor rights. Raises #GP((selector & ~3) + ext) when it lies beyond
// the table limit (`ext` is the EXT bit of SDM Vol. 3A, 6.13).
Descriptor read_descriptor(Cpu& cpu, uint16_t selector, uint32_t ext = 0);
// Writes a descriptor's high dword back (accessed/busy bits).
void write_descriptor_high(Cpu& cpu, uint16_t selector, uint32_t hi);
// Sets the accessed bit of a descriptor in memory (and in `d`).
void mark_accessed(Cpu& cpu, uint16_t selector, Descriptor& d);

// MOV/POP to ES, SS, DS, FS, GS, and LDS..LSS: loads the selector and hidden
// cache with the protection checks of SDM Vol. 3A 5.5-5.7 (real mode: base = sel << 4).
// Ends the block (Cpu::end_block) after an SS load or a load that changes
// Cpu::block_mode.
void load_segment(Cpu& cpu, SegReg seg, uint16_t selector);

// Loads CS for a far JMP/CALL/RET at the same privilege level (the new EIP is
// checked against the new limit by the caller). Raises #GP/#NP as the SDM says.
void load_code_segment(Cpu& cpu, uint16_t selector, uint32_t new_eip);

// Loads a segment register's cache directly from a descriptor (no checks).
void set_segment_cache(SegmentCache& s, uint16_t selector, const Descriptor& d);

// Checks an access of `size` bytes at offset `off` through segment `seg`
// (SDM Vol. 3A, 5.3 limit checking and 5.5 type checking): #GP(0), or
// #SS(0) for SS, on a null/unusable segment, a write to a code or read-only
// segment, a read of execute-only code, or an offset outside the limit
// (expand-down segments: above the limit, up to 64 KiB or 4 GiB by B).
void check_segment_access(const CpuState& s, uint8_t seg, uint32_t off, unsigned size, bool write);
// The same rules as a predicate (no exception), for callers that choose a
// slower path instead of faulting (REP string page runs).
bool segment_access_ok(const CpuState& s, uint8_t seg, uint32_t off, uint32_t size, bool write);
// Whether [off, off+size) lies inside the segment's limit (expand-up or -down).
bool within_limit(const SegmentCache& sc, uint32_t off, uint32_t size);
// Pushes `size` bytes onto an explicit stack (a new SS cache and privilege,
// as a privilege-changing transfer writes it), with the #SS limit check.
void push_to_stack(Cpu& cpu, const SegmentCache& ss, uint32_t& esp, uint8_t cpl, uint32_t value, unsigned size);
// The same limit check for an explicit stack segment cache (#SS(0)).
void check_stack_limit(Cpu& cpu, const SegmentCache& ss, uint32_t off, unsigned size);

// Validates a stack-segment selector for a privilege change to `cpl`
// (SDM Vol. 3A, 6.12.1 and IRET/RET): null, RPL or DPL not `cpl`, or not a
// writable data segment → `vector`((sel & ~3) + ext) (#TS for interrupts,
// #GP for returns); not present → #SS. Returns the loaded cache.
SegmentCache check_stack_segment(Cpu& cpu, uint16_t selector, uint8_t cpl, uint8_t vector, uint32_t ext);

// Reads SSn:ESPn for privilege level `cpl` from the current TSS (32- or
// 16-bit, SDM Vol. 3A, 7.2.1 and 7.7); #TS(TR selector + ext) when outside its limit.
void read_tss_stack(Cpu& cpu, uint8_t cpl, uint16_t& ss, uint32_t& esp, uint32_t ext);

// After a return to an outer privilege level: data segment registers whose
// DPL is below the new CPL are loaded with null (SDM Vol. 2A, RET/IRET).
void null_inaccessible_data_segments(Cpu& cpu);

// Writes EFLAGS from IRET or POPF with the privilege rules: IOPL changes
// only at CPL 0, IF only at CPL <= IOPL (POPF at CPL > IOPL silently keeps
// IF: the classic sensitive instruction); VM, VIP, VIF never here; bit 1
// set; with a 16-bit operand size only the low 16 bits change. IRET loads RF
// (`load_rf`); POPF clears it.
void write_eflags_checked(Cpu& cpu, uint32_t value, unsigned opsize, uint8_t cpl, bool load_rf);

}  // namespace vmm

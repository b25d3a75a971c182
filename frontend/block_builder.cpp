#include "frontend/block_builder.h"

#include <cstdlib>
#include <cstring>

#include "runtime/exceptions.h"

namespace vmm {

namespace {
constexpr uint32_t kPage = 4096;

// The record of an instruction whose bytes are not all in RAM.
InstrRecord outside_ram() {
  InstrRecord r;
  r.cls = iclass::kInvalid | iclass::kEndsBlock;
  r.length = 1;
  return r;
}

// The record of an instruction that runs past the CS limit: #GP(0) when it
// executes, at its own EIP (SDM Vol. 3A, 5.3: the limit is checked on every
// code fetch; Vol. 2 "Protected Mode Exceptions": #GP(0) if a memory operand
// or the code lies beyond the CS limit). It covers its `within` bytes below
// the limit, so rewriting them drops the block.
InstrRecord beyond_cs_limit(unsigned within) {
  InstrRecord r;
  r.cls = iclass::kBeyondCsLimit | iclass::kEndsBlock;
  r.length = static_cast<uint8_t>(within);
  return r;
}
}

void BlockBuilder::build(CodeSource& src, uint32_t eip, uint32_t cs_limit, Block& out, unsigned max_instrs,
                         bool superblocks) const {
  out.instrs.clear();
  out.virt_pc = eip;
  out.cs_limit = cs_limit;
  out.phys_page2 = ~0u;
  out.valid = true;
  const uint32_t first_phys = src.translate(eip);
  out.phys_pc = first_phys;
  uint32_t pc = eip;
  uint32_t phys = first_phys;
  const uint32_t first_page = eip & ~(kPage - 1);

  while (out.instrs.size() < max_instrs) {
    const bool first = out.instrs.empty();
    if (!first && (pc & ~(kPage - 1)) != first_page) break;  // Block stops at the page end.
    if (!first) phys = first_phys + (pc - eip);
    // Bytes of the instruction that may be fetched: up to 15, none beyond
    // the CS limit. An EIP beyond the limit (after an instruction ending on
    // it) starts a block of its own, which Cpu::lookup_block refuses with
    // #GP(0) before fetching anything.
    if (pc > cs_limit) {
      if (!first) break;
      out.instrs.push_back(beyond_cs_limit(1));  // Only for callers that did not check.
      pc += 1;
      break;
    }
    const unsigned window = cs_limit - pc >= 14 ? 15 : cs_limit - pc + 1;

    uint8_t buf[16];
    const uint32_t in_page = kPage - (pc & (kPage - 1));
    const uint8_t* p = src.bytes(phys);
    if (p == nullptr) {
      // Code outside RAM cannot be decoded: execute it as #UD.
      if (!first) break;
      out.instrs.push_back(outside_ram());
      pc += 1;  // The block covers the byte it could not fetch.
      break;
    }
    unsigned avail = in_page < window ? in_page : window;
    std::memcpy(buf, p, avail);
    InstrRecord r;
    DecodeStatus st = decoder_.decode(buf, avail, r);
    if (st == DecodeStatus::kNeedMoreBytes && avail == window) {
      // The instruction goes on past the CS limit: #GP(0) without fetching
      // further (the limit check comes before paging).
      if (!first) break;
      out.instrs.push_back(beyond_cs_limit(avail));
      pc += avail;
      break;
    }
    if (st == DecodeStatus::kNeedMoreBytes) {
      // The instruction continues on the next page.
      uint32_t phys2;
      const uint8_t* p2 = nullptr;
      if (first) {
        phys2 = src.translate(pc + avail);  // Faults here are the guest's.
        p2 = src.bytes(phys2);
      } else {
        try {
          phys2 = src.translate(pc + avail);
          p2 = src.bytes(phys2);
        } catch (const GuestException&) {
          break;  // Raised when execution reaches this instruction.
        }
      }
      if (p2 == nullptr) {
        // The instruction runs on past the end of RAM. As the first one it
        // executes as #UD, as code outside RAM does (never an empty block:
        // both engines run whatever the block holds); otherwise the block
        // ends before it and the next block starts with it.
        if (!first) break;
        out.instrs.push_back(outside_ram());
        // It covers its bytes on this page (a write there drops it) and the
        // next page (looking it up again checks that page's mapping, which
        // may have become RAM or not present since).
        out.phys_page2 = phys2 & ~(kPage - 1);
        pc += avail + 1;
        break;
      }
      std::memcpy(buf + avail, p2, window - avail);
      st = decoder_.decode(buf, window, r);
      if (st == DecodeStatus::kNeedMoreBytes) {
        // Past the CS limit on the next page.
        if (!first) break;
        r = beyond_cs_limit(window);
      }
      out.phys_page2 = phys2 & ~(kPage - 1);
    }
    out.instrs.push_back(r);
    pc += r.length;
    if (out.phys_page2 != ~0u) break;  // Crossed a page: stop after this instruction.
    // A Jcc does not end the block (frontend/block.h, kJcc).
    if ((r.cls & iclass::kEndsBlock) && (!(r.cls & iclass::kJcc) || !superblocks)) break;
  }
  out.byte_length = pc - eip;
  // Every block holds at least one instruction: the JIT would otherwise
  // translate nothing and run whatever follows in its code buffer.
  if (out.instrs.empty()) std::abort();
}

}  // namespace vmm

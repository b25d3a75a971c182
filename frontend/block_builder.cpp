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
}

void BlockBuilder::build(CodeSource& src, uint32_t eip, Block& out, unsigned max_instrs) const {
  out.instrs.clear();
  out.virt_pc = eip;
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
    unsigned avail = in_page < 15 ? in_page : 15;
    std::memcpy(buf, p, avail);
    InstrRecord r;
    DecodeStatus st = decoder_.decode(buf, avail, r);
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
      std::memcpy(buf + avail, p2, 15 - avail);
      st = decoder_.decode(buf, 15, r);
      out.phys_page2 = phys2 & ~(kPage - 1);
    }
    out.instrs.push_back(r);
    pc += r.length;
    if (out.phys_page2 != ~0u) break;  // Crossed a page: stop after this instruction.
    // A Jcc does not end the block (frontend/block.h, kJcc).
    if ((r.cls & iclass::kEndsBlock) && !(r.cls & iclass::kJcc)) break;
  }
  out.byte_length = pc - eip;
  // Every block holds at least one instruction: the JIT would otherwise
  // translate nothing and run whatever follows in its code buffer.
  if (out.instrs.empty()) std::abort();
}

}  // namespace vmm

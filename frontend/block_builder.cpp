#include "frontend/block_builder.h"

#include <algorithm>
#include <cstring>

#include "runtime/exceptions.h"

namespace vmm {

namespace {
constexpr uint32_t kPage = 4096;
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
      InstrRecord r;
      r.cls = iclass::kInvalid | iclass::kEndsBlock;
      r.length = 1;
      out.instrs.push_back(r);
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
      if (p2 == nullptr) break;
      std::memcpy(buf + avail, p2, 15 - avail);
      st = decoder_.decode(buf, 15, r);
      out.phys_page2 = phys2 & ~(kPage - 1);
    }
    out.instrs.push_back(r);
    const uint32_t at = pc;
    pc += r.length;
    if (out.phys_page2 != ~0u) break;  // Crossed a page: stop after this instruction.
    if (r.cls & iclass::kEndsBlock) {
      const uint32_t t = (r.cls & iclass::kJcc) ? jcc_target(r, at) : 0;
      const bool internal = (r.cls & iclass::kJcc) && t > pc && t - pc <= kMaxInternalBranch &&
                            (t & ~(kPage - 1)) == first_page;
      if (!internal) break;
    }
  }
  trim_internal_branches(out);
  pc = eip;
  for (const InstrRecord& r : out.instrs) pc += r.length;
  out.byte_length = pc - eip;
}

// Ends the block after the first Jcc whose target is not the start of a
// later instruction of the block (past its end, or inside an instruction),
// until every remaining one is.
void BlockBuilder::trim_internal_branches(Block& b) {
  for (;;) {
    std::vector<uint32_t> starts;
    uint32_t pc = b.virt_pc;
    for (const InstrRecord& r : b.instrs) {
      starts.push_back(pc);
      pc += r.length;
    }
    size_t cut = b.instrs.size();
    for (size_t i = 0; i + 1 < b.instrs.size() && cut == b.instrs.size(); ++i) {
      const InstrRecord& r = b.instrs[i];
      if (!(r.cls & iclass::kEndsBlock)) continue;
      const uint32_t t = jcc_target(r, starts[i]);
      if (!std::binary_search(starts.begin() + static_cast<std::ptrdiff_t>(i) + 1, starts.end(), t)) cut = i + 1;
    }
    if (cut == b.instrs.size()) return;
    b.instrs.resize(cut);
    b.phys_page2 = ~0u;  // Only a block's last instruction crosses a page, and it was cut.
  }
}

}  // namespace vmm

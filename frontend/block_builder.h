// Builds a Block by decoding guest code from a start address.
#pragma once

#include <cstdint>

#include "frontend/block.h"
#include "frontend/decoder.h"

namespace vmm {

// Where the builder gets guest code bytes from. translate() maps a code
// address (an EIP: the source adds the CS base) to a guest physical address,
// raising the guest's #PF when the page is not executable; bytes() returns a
// host pointer to the physical page.
class CodeSource {
 public:
  virtual ~CodeSource() = default;
  virtual uint32_t translate(uint32_t eip) = 0;
  // Host pointer to `phys` through the end of its page, or nullptr when the
  // page is not RAM.
  virtual const uint8_t* bytes(uint32_t phys) = 0;
};

class BlockBuilder {
 public:
  explicit BlockBuilder(const Decoder& decoder) : decoder_(decoder) {}

  // Decodes the block at virtual `eip` under the CS limit `cs_limit` (the
  // caller raises #GP(0) for an `eip` beyond it). Faults of the first
  // instruction's fetch propagate (the guest is executing it); a later
  // instruction that cannot be fetched ends the block before it. No byte
  // beyond the limit is fetched: an instruction that runs past it ends the
  // block before it, or, as the first one, becomes a record that executes as
  // #GP(0) (iclass::kBeyondCsLimit). `max_instrs` limits the length;
  // without `superblocks` a Jcc ends the block.
  void build(CodeSource& src, uint32_t eip, uint32_t cs_limit, Block& out,
             unsigned max_instrs = kMaxBlockInstrs, bool superblocks = true) const;

 private:
  const Decoder& decoder_;
};

}  // namespace vmm

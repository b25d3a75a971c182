// The per-CPU jump cache: decoded blocks by virtual EIP, direct-mapped, in
// front of the block hash table (design decision 8). Linux runs far more
// code than fits a small one, and reloads CR3 on every context switch, which
// must empty it: the slots in use are listed, so emptying costs what the
// cache holds rather than its size.
#pragma once

#include <cstdint>
#include <vector>

#include "frontend/block.h"

namespace vmm {

class JumpCache {
 public:
  static constexpr unsigned kBits = 16;
  static constexpr uint32_t kSize = 1u << kBits;

  JumpCache() : slots_(kSize, nullptr) {}

  static uint32_t index(uint32_t eip) { return (eip ^ (eip >> kBits)) & (kSize - 1); }
  Block* at(uint32_t eip) const { return slots_[index(eip)]; }
  void set(uint32_t eip, Block* b) {
    Block*& s = slots_[index(eip)];
    if (!s) note_filled(index(eip));
    s = b;
  }
  // Empties the slot if it holds `b` (a block being freed).
  void forget(const Block* b) {
    Block*& s = slots_[index(b->virt_pc)];
    if (s == b) s = nullptr;
  }
  void clear() {
    for (uint32_t i : filled_) slots_[i] = nullptr;
    filled_.clear();
  }
  // Empties every slot whose block `drop` selects; the list of slots in use
  // keeps only the others, so that the next call (every CR3 load) costs
  // what is left, not what the cache once held.
  template <typename Pred>
  void drop_if(Pred drop) {
    size_t kept = 0;
    for (uint32_t i : filled_) {
      if (slots_[i] && drop(*slots_[i])) slots_[i] = nullptr;
      if (slots_[i]) filled_[kept++] = i;
    }
    filled_.resize(kept);
  }

 private:
  void note_filled(uint32_t i) {
    if (filled_.size() >= 2 * kSize) {  // Slots emptied and filled again: list each once.
      filled_.clear();
      for (uint32_t j = 0; j < kSize; ++j)
        if (slots_[j]) filled_.push_back(j);
    }
    filled_.push_back(i);
  }

  std::vector<Block*> slots_;
  std::vector<uint32_t> filled_;
};

}  // namespace vmm

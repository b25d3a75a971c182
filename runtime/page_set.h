// A set of linear page numbers (of the 4 GiB space): a bit per page, and the
// pages set since the last clear, so that clearing costs what was set and a
// test costs one load.
#pragma once

#include <cstdint>
#include <vector>

namespace vmm {

class PageSet {
 public:
  bool contains(uint32_t page) const { return bits_[page / 64] >> (page % 64) & 1; }
  void insert(uint32_t page) {
    uint64_t& word = bits_[page / 64];
    const uint64_t bit = uint64_t{1} << (page % 64);
    if (word & bit) return;
    word |= bit;
    set_.push_back(page);
  }
  // Leaves the page listed: clear() still visits it.
  void erase(uint32_t page) { bits_[page / 64] &= ~(uint64_t{1} << (page % 64)); }
  void clear() {
    for (const uint32_t page : set_) bits_[page / 64] = 0;
    set_.clear();
  }

 private:
  std::vector<uint64_t> bits_ = std::vector<uint64_t>((1u << 20) / 64, 0);
  std::vector<uint32_t> set_;
};

}  // namespace vmm

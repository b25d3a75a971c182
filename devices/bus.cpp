#include "devices/bus.h"

#include <algorithm>
#include <stdexcept>

namespace vmm {

namespace {
uint32_t all_ones(unsigned size) { return size >= 4 ? 0xffffffffu : (1u << (size * 8)) - 1; }
}  // namespace

const Bus::Range* Bus::find(const std::vector<Range>& v, uint32_t addr) {
  // Few ranges: a linear scan beats a map; sorted so the first match is the only one.
  for (const Range& r : v) {
    if (addr - r.base < r.length) return &r;
  }
  return nullptr;
}

void Bus::insert(std::vector<Range>& v, Range r) {
  if (r.length == 0 || r.device == nullptr) throw std::logic_error("bus: empty range or null device");
  for (const Range& o : v) {
    uint64_t a0 = r.base, a1 = uint64_t{r.base} + r.length;
    uint64_t b0 = o.base, b1 = uint64_t{o.base} + o.length;
    if (a0 < b1 && b0 < a1) {
      throw std::logic_error(std::string("bus: range of ") + r.device->name() + " overlaps " +
                             o.device->name());
    }
  }
  v.push_back(r);
  std::sort(v.begin(), v.end(), [](const Range& x, const Range& y) { return x.base < y.base; });
}

void Bus::register_pio(uint16_t base, uint16_t length, IoDevice* device) {
  insert(pio_, Range{base, length, device});
}

void Bus::register_mmio(uint32_t base, uint32_t length, IoDevice* device) {
  insert(mmio_, Range{base, length, device});
}

uint32_t Bus::pio_read(uint16_t port, unsigned size) {
  if (const Range* r = find(pio_, port)) return r->device->read(port - r->base, size) & all_ones(size);
  ++unhandled_reads_;
  if (on_unhandled) on_unhandled("pio", port, size, false, 0);
  return all_ones(size);
}

void Bus::pio_write(uint16_t port, unsigned size, uint32_t value) {
  if (const Range* r = find(pio_, port)) {
    r->device->write(port - r->base, size, value & all_ones(size));
    return;
  }
  ++unhandled_writes_;
  if (on_unhandled) on_unhandled("pio", port, size, true, value);
}

uint32_t Bus::mmio_read(uint32_t addr, unsigned size) {
  if (const Range* r = find(mmio_, addr)) return r->device->read(addr - r->base, size) & all_ones(size);
  ++unhandled_reads_;
  if (on_unhandled) on_unhandled("mmio", addr, size, false, 0);
  return all_ones(size);
}

void Bus::mmio_write(uint32_t addr, unsigned size, uint32_t value) {
  if (const Range* r = find(mmio_, addr)) {
    r->device->write(addr - r->base, size, value & all_ones(size));
    return;
  }
  ++unhandled_writes_;
  if (on_unhandled) on_unhandled("mmio", addr, size, true, value);
}

}  // namespace vmm

// SHL..RCR, SHLD, SHRD (being implemented).
#include "runtime/interp/interp.h"

namespace vmm::interp {

void register_shift(SelectorTable&) {}

}  // namespace vmm::interp

// BT*, BSF, BSR, BSWAP, SETcc, CMOVcc (being implemented).
#include "runtime/interp/interp.h"

namespace vmm::interp {

void register_bitops(SelectorTable&) {}

}  // namespace vmm::interp

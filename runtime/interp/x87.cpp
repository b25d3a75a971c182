// The x87 FPU (being implemented).
#include "runtime/interp/interp.h"

namespace vmm::interp {

void register_x87(SelectorTable&) {}

}  // namespace vmm::interp

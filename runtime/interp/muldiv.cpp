// MUL, IMUL, DIV, IDIV (being implemented).
#include "runtime/interp/interp.h"

namespace vmm::interp {

void register_muldiv(SelectorTable&) {}

}  // namespace vmm::interp

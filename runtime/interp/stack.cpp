// PUSHA/POPA, ENTER/LEAVE, PUSHF/POPF (being implemented).
#include "runtime/interp/interp.h"

namespace vmm::interp {

void register_stack(SelectorTable&) {}

}  // namespace vmm::interp

// CBW.., XADD, CMPXCHG*, flag ops, NOP (being implemented).
#include "runtime/interp/interp.h"

namespace vmm::interp {

void register_misc(SelectorTable&) {}

}  // namespace vmm::interp

// MOVS..SCAS with REP prefixes (being implemented).
#include "runtime/interp/interp.h"

namespace vmm::interp {

void register_string(SelectorTable&) {}

}  // namespace vmm::interp

// DAA, DAS, AAA, AAS, AAM, AAD (being implemented).
#include "runtime/interp/interp.h"

namespace vmm::interp {

void register_bcd(SelectorTable&) {}

}  // namespace vmm::interp

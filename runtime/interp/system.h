// Selectors for system forms that other groups' mnemonics share (MOV to
// segment/control/debug registers, PUSH/POP of segment registers, far
// transfers); implemented in system.cpp.
#pragma once

#include "runtime/interp/interp.h"

namespace vmm::interp {

InterpHandler select_mov_system(const InstrRecord& in);
InterpHandler select_push_seg(const InstrRecord& in);
InterpHandler select_pop_seg(const InstrRecord& in);
InterpHandler select_far_transfer(const InstrRecord& in);

}  // namespace vmm::interp

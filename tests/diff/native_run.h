// Runs a sequence on the real CPU through the 32-bit helper (native.c).
#pragma once

#include <string>

#include "tests/diff/common.h"

namespace vmm::diff {

// False if the helper could not be run (state.error says why).
bool run_native(const std::string& helper, const Sequence& seq, State& out);

}  // namespace vmm::diff

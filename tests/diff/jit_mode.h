// vmm_diff --jit: every sequence under vmm's JIT, run in several ways, and
// under its interpreter; the complete final states must be equal.
#pragma once

#include "tests/diff/harness.h"

namespace vmm::diff {

// Returns the process exit status (1 on a mismatch).
int run_jit_mode(const Options& opt);

}  // namespace vmm::diff

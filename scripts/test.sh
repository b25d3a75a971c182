#!/usr/bin/env bash
# Sets up, builds and runs vmm's test suite (the README's test command).
# Long runs (label "long") are excluded; run them with: ctest --test-dir build -L long
# The Linux guest's tests (label "linux", tests/linux) run: they fetch Debian's kernel and busybox (cached).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2
ctest --test-dir build --output-on-failure -j2 -LE long
# The fuzz harnesses, built with clang and libFuzzer, each fuzzed for a short
# time from its seeds (label "fuzz"; scripts/fuzz.sh runs them for hours).
cmake -S . -B build-fuzz -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVMM_FUZZ=ON -DVMM_GUEST_CC="$(command -v gcc)" >/dev/null
cmake --build build-fuzz -j2 --target fuzzers
ctest --test-dir build-fuzz --output-on-failure -j2 -L fuzz

#!/usr/bin/env bash
# Builds vmm with AddressSanitizer and UndefinedBehaviorSanitizer
# (-DVMM_SANITIZE=ON) into build-asan/ and runs the test suite there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DVMM_SANITIZE=ON >/dev/null
cmake --build build-asan -j2
ctest --test-dir build-asan --output-on-failure -j2 -LE "long|qemu|linux"

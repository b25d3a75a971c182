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

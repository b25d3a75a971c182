#!/usr/bin/env bash
# Sets up, builds and runs vmm's test suite (the README's test command).
# Long runs (label "long") are excluded; run them with: ctest --test-dir build -L long
# So are the Linux guest's (label "linux", tests/linux): ctest --test-dir build -L linux
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2
ctest --test-dir build --output-on-failure -j2 -LE "long|linux"

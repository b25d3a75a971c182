#!/usr/bin/env bash
# Sets up, builds and boots the bundled demo guest (the README's run command).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target vmm demo_guest
exec ./build/vmm -m 32 -nographic -kernel build/guests/demo.elf "$@"

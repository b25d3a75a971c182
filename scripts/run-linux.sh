#!/usr/bin/env bash
# Boots Debian 12's i386 Linux kernel under vmm to a busybox shell on this
# terminal (the README's run command). On a fresh Debian machine it installs
# the build dependencies, fetches the kernel and busybox packages (cached,
# see scripts/linux-guest.sh), builds the initramfs and vmm, then runs
#
#   build/vmm -m 256 -kernel build/linux/vmlinuz -initrd build/linux/initrd.gz \
#             -append "console=ttyS0 ..." [ARGS...]
#
# Extra arguments go to vmm, e.g. --engine=interp or --stats. Set
# VMM_APPEND to add kernel command-line arguments (vmm.test=1 runs the test
# workload and powers off). Ctrl-A x quits vmm; leaving the shell powers the
# guest off.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/linux-guest.sh build/linux
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j2 --target vmm
exec ./build/vmm -m 256 -kernel build/linux/vmlinuz -initrd build/linux/initrd.gz \
  -append "console=ttyS0 ${VMM_APPEND:-}" "$@"

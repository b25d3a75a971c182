#!/usr/bin/env bash
# run_sys.sh - runs a system-architecture guest (tests/guests/sys) under vmm
# or QEMU and compares its COM1 output with an expected file.
#
# usage: run_sys.sh --expected FILE [--timeout S] KIND EMULATOR KERNEL [ARGS...]
#
# A thin wrapper around ../run_guest.sh: the expected file becomes the
# "native reference" (a throw-away script that prints it), and the exit
# status must be 1 (sys_finish() with no failed check).  Exit codes as
# run_guest.sh: 0 pass, 1 fail, 77 QEMU not installed (skip).
set -u
here=$(cd "$(dirname "$0")" && pwd)
expected=""
timeout_s=120
while [ $# -gt 0 ]; do
  case "$1" in
    --expected) expected=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    *) break ;;
  esac
done
if [ -z "$expected" ] || [ $# -lt 3 ]; then
  echo "usage: run_sys.sh --expected FILE [--timeout S] vmm|qemu EMULATOR KERNEL [ARGS...]" >&2
  exit 2
fi
if [ ! -f "$expected" ]; then
  echo "FAIL: expected output $expected does not exist" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run_sys.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
printf '#!/bin/sh\nexec cat "%s"\n' "$expected" >"$tmp/reference"
chmod +x "$tmp/reference"

"$here/../run_guest.sh" --timeout "$timeout_s" --reference "$tmp/reference" \
  --expect-status 1 "$@"

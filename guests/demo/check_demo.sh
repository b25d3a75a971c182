#!/usr/bin/env bash
# check_demo.sh - runs the demo kernel under vmm or QEMU and checks its COM1
# output against demo.expected.
#
# usage: check_demo.sh [options] KIND EMULATOR KERNEL [EMULATOR-ARGS...]
#   KIND       vmm  : EMULATOR [EMULATOR-ARGS...] -kernel KERNEL
#              qemu : EMULATOR -kernel KERNEL <headless, COM1 on stdio,
#                     isa-debug-exit at 0xf4> [EMULATOR-ARGS...]
#   --expected FILE  the expected output (default: demo.expected next to
#                    this script)
#   --runs N         runs per mode (default 1); with N > 1 the N outputs of a
#                    mode must be byte-identical (for vmm --icount)
#   --modes LIST     space-separated boot modes, default "plain trace":
#                    plain = no command line, trace = -append trace
#   --timeout S      seconds per run (default 60)
#
# Every run must exit with status 1 (the kernel writes 0 to isa-debug-exit),
# and its output, with the "trace:" lines dropped and the numbers on the
# "timing:" line replaced by N, must equal the expected file; the timing line
# must show at least one preemption by the timer.  Only the timing line and
# the trace lines depend on when the timer interrupts fire.
#
# Exits 0 on success, 1 on failure, 77 (ctest's SKIP_RETURN_CODE) when the
# QEMU emulator is not installed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
expected=$here/demo.expected
runs=1
modes="plain trace"
timeout_s=60
while [ $# -gt 0 ]; do
  case "$1" in
    --expected) expected=$2; shift 2 ;;
    --runs) runs=$2; shift 2 ;;
    --modes) modes=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    -*) echo "check_demo.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -lt 3 ]; then
  echo "usage: check_demo.sh [options] vmm|qemu EMULATOR KERNEL [ARGS...]" >&2
  exit 2
fi
kind=$1 emulator=$2 kernel=$3
shift 3

case "$kind" in
  vmm) cmd=("$emulator" "$@" -kernel "$kernel") ;;
  qemu)
    if ! command -v "$emulator" >/dev/null 2>&1; then
      echo "SKIP: $emulator is not installed"
      exit 77
    fi
    cmd=("$emulator" -kernel "$kernel" -display none -monitor none
         -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04
         -no-reboot "$@") ;;
  *) echo "check_demo.sh: unknown emulator kind '$kind'" >&2; exit 2 ;;
esac
for f in "$kernel" "$expected"; do
  if [ ! -f "$f" ]; then
    echo "FAIL: $f does not exist" >&2
    exit 1
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/check_demo.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
fail=0

for mode in $modes; do
  case "$mode" in
    plain) extra=() ;;
    trace) extra=(-append trace) ;;
    *) echo "check_demo.sh: unknown mode '$mode'" >&2; exit 2 ;;
  esac
  for ((i = 1; i <= runs; i++)); do
    out=$tmp/$mode.$i
    echo "running: ${cmd[*]} ${extra[*]}"
    start=$(date +%s%N)
    timeout -k 5 "$timeout_s" "${cmd[@]}" "${extra[@]}" </dev/null >"$out" 2>"$out.err"
    status=$?
    ms=$((($(date +%s%N) - start) / 1000000))
    printf '  exit status %d after %d.%03d s; %s\n' "$status" $((ms / 1000)) $((ms % 1000)) \
      "$(grep -m1 '^timing:' "$out" || echo 'no timing line')"
    if [ $status -eq 124 ] || [ $status -eq 137 ]; then
      echo "FAIL: timed out after $timeout_s s; output so far:" >&2
      tail -n 20 "$out" "$out.err" >&2
      fail=1
      continue
    fi
    if [ $status -ne 1 ]; then
      echo "FAIL: exit status $status, expected 1; stderr:" >&2
      tail -n 20 "$out.err" >&2
      fail=1
    fi
    grep -v '^trace: ' "$out" | sed -E '/^timing:/ s/[0-9]+/N/g' >"$out.masked"
    if ! cmp -s "$expected" "$out.masked"; then
      echo "FAIL: $mode run $i: output differs from $expected (- expected, + actual):" >&2
      diff -u --label expected --label actual "$expected" "$out.masked" | head -n 80 >&2
      fail=1
    fi
    if ! grep -qE '^timing: .*\(([1-9][0-9]*) preemptions by the timer\)' "$out"; then
      echo "FAIL: $mode run $i: no preemption by the timer" >&2
      fail=1
    fi
    if [ "$mode" = trace ] && ! grep -q '^trace: ' "$out"; then
      echo "FAIL: $mode run $i: no trace lines" >&2
      fail=1
    fi
    if [ $i -gt 1 ] && ! cmp -s "$tmp/$mode.1" "$out"; then
      echo "FAIL: $mode run $i differs from run 1 (not deterministic):" >&2
      diff -u --label "run 1" --label "run $i" "$tmp/$mode.1" "$out" | head -n 40 >&2
      fail=1
    fi
  done
done

if [ $fail -eq 0 ]; then
  echo "PASS"
fi
exit $fail

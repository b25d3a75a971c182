#!/usr/bin/env bash
# run_guest.sh - runs a guest kernel under vmm or QEMU and checks the result.
#
# usage: run_guest.sh [options] KIND EMULATOR KERNEL [EMULATOR-ARGS...]
#   KIND       vmm  : EMULATOR [EMULATOR-ARGS...] -kernel KERNEL
#              qemu : EMULATOR -kernel KERNEL <headless, COM1 on stdout,
#                     isa-debug-exit at 0xf4> [EMULATOR-ARGS...]
#   options
#   --reference NATIVE   the guest's stdout (its COM1 output) must equal the
#                        stdout of the native program NATIVE, which must
#                        itself exit with 0
#   --reference-runner R runs NATIVE as "R NATIVE" (qemu-i386 on a host whose
#                        kernel cannot run 32-bit programs); "none": no way
#                        to run it, the test is skipped
#   --expect-status N    the emulator's exit status must be N (isa-debug-exit
#                        turns guest_main's 0 into 1; a halt with IF=0 in vmm
#                        is 0)
#   --expect-text TEXT   the output must contain the line TEXT
#   --timeout SECONDS    kill the emulator after that long (default 120)
#
# Exits 0 on success, 1 on failure (with a diff / reason on stderr), and 77
# (ctest's SKIP_RETURN_CODE) when a QEMU emulator is not installed or the
# native reference cannot run on this host.
set -u

timeout_s=120
reference=""
reference_runner=""
expect_status=""
expect_text=""
while [ $# -gt 0 ]; do
  case "$1" in
    --reference) reference=$2; shift 2 ;;
    --reference-runner) reference_runner=$2; shift 2 ;;
    --expect-status) expect_status=$2; shift 2 ;;
    --expect-text) expect_text=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --) shift; break ;;
    -*) echo "run_guest.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ $# -lt 3 ]; then
  echo "usage: run_guest.sh [options] vmm|qemu EMULATOR KERNEL [ARGS...]" >&2
  exit 2
fi
kind=$1 emulator=$2 kernel=$3
shift 3

case "$kind" in
  vmm)
    cmd=("$emulator" "$@" -kernel "$kernel") ;;
  qemu)
    if ! command -v "$emulator" >/dev/null 2>&1; then
      echo "SKIP: $emulator is not installed"
      exit 77
    fi
    # -display none rather than -nographic: nothing else gets multiplexed
    # onto stdio and the terminal is left alone.  -no-reboot turns a triple
    # fault into an exit (status 0) instead of an endless reboot loop.
    cmd=("$emulator" -kernel "$kernel" -display none -monitor none
         -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04
         -no-reboot "$@") ;;
  *)
    echo "run_guest.sh: unknown emulator kind '$kind'" >&2; exit 2 ;;
esac

if [ ! -f "$kernel" ]; then
  echo "FAIL: kernel $kernel does not exist (build it first)" >&2
  exit 1
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run_guest.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

fail=0

if [ -n "$reference" ]; then
  if [ "$reference_runner" = none ]; then
    echo "SKIP: this host cannot run the 32-bit native reference $reference (no IA-32 emulation, no qemu-i386)"
    exit 77
  fi
  # shellcheck disable=SC2086  # the runner is one word or none
  $reference_runner "$reference" >"$tmp/expected"
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL: native reference $reference exited with $rc" >&2
    exit 1
  fi
fi

echo "running: ${cmd[*]}"
start=$(date +%s%N)
timeout -k 5 "$timeout_s" "${cmd[@]}" </dev/null >"$tmp/actual"
status=$?
end=$(date +%s%N)
ms=$(( (end - start) / 1000000 ))
printf 'exit status %d after %d.%03d s\n' "$status" $((ms / 1000)) $((ms % 1000))

if [ $status -eq 124 ] || [ $status -eq 137 ]; then
  echo "FAIL: timed out after $timeout_s s; output so far:" >&2
  tail -n 20 "$tmp/actual" >&2
  exit 1
fi

if [ -n "$expect_status" ] && [ "$status" -ne "$expect_status" ]; then
  echo "FAIL: exit status $status, expected $expect_status" >&2
  fail=1
fi

if [ -n "$reference" ]; then
  if ! cmp -s "$tmp/expected" "$tmp/actual"; then
    echo "FAIL: output differs from the native reference (- expected, + actual):" >&2
    diff -u --label expected --label actual "$tmp/expected" "$tmp/actual" \
      | head -n 200 >&2
    fail=1
  fi
fi

if [ -n "$expect_text" ] && ! grep -qxF -- "$expect_text" "$tmp/actual"; then
  echo "FAIL: output lacks the line '$expect_text'; output:" >&2
  head -n 40 "$tmp/actual" >&2
  fail=1
fi

if [ $fail -eq 0 ]; then
  echo "PASS ($(wc -l <"$tmp/actual") lines of output)"
fi
exit $fail

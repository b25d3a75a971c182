#!/usr/bin/env bash
# run_hostile.sh - runs one hostile guest (tests/guests/hostile) under every
# engine and checks that the VMM contained it.
#
# usage: run_hostile.sh --expected FILE --status N [--timeout S] [--lockstep N]
#                       [--jit-args "ARGS"] [--ratio R] [--slack S] [--qemu]
#                       VMM KERNEL [VMM-ARGS...]
#
# Runs VMM [VMM-ARGS...] -kernel KERNEL with
#   --engine=interp
#   --engine=jit                  (plus --jit-args)
#   --engine=jit --host-mmu=off   (plus --jit-args)
#   --lockstep N --icount 3       (with --lockstep; plus --jit-args)
# and fails unless every run
#   - ends within S seconds (default 20) with exit status N,
#   - prints exactly FILE on COM1 (stdout),
#   - leaves no host-level report on stderr (vmm: fatal, host SIG..., a
#     sanitizer report, an uncaught C++ exception),
# and unless each JIT run takes at most R (default 2) times the
# interpreter's wall time plus S (default 0.5) seconds.
# --qemu also runs qemu-system-i386 and shows how its output differs (for
# information only: QEMU is not the reference everywhere; never fails).
set -u

expected="" status="" timeout_s=20 lockstep="" jit_args="" ratio=2 slack=0.5 qemu=0
while [ $# -gt 0 ]; do
  case "$1" in
    --expected) expected=$2; shift 2 ;;
    --status) status=$2; shift 2 ;;
    --timeout) timeout_s=$2; shift 2 ;;
    --lockstep) lockstep=$2; shift 2 ;;
    --jit-args) jit_args=$2; shift 2 ;;
    --ratio) ratio=$2; shift 2 ;;
    --slack) slack=$2; shift 2 ;;
    --qemu) qemu=1; shift ;;
    -*) echo "run_hostile.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
  esac
done
if [ -z "$expected" ] || [ -z "$status" ] || [ $# -lt 2 ]; then
  echo "usage: run_hostile.sh --expected FILE --status N [options] VMM KERNEL [ARGS...]" >&2
  exit 2
fi
vmm=$1 kernel=$2
shift 2
# Under the sanitizers (the ctest of a -DVMM_SANITIZE=ON build sets VMM_SANITIZED=1) a
# Debug build with ASan/UBSan runs 10-50 times slower: the runs get ten
# times the time and the engines' times are not compared; the sanitizers'
# own reports still fail the test.
if [ "${VMM_SANITIZED:-0}" = 1 ]; then
  timeout_s=$((timeout_s * 10))
  ratio=1000000
fi
# Instructions that leave flags undefined (MUL/IMUL's SF ZF AF PF, DIV's
# six, ...) give the host CPU's flags under every engine (runtime/interp/
# muldiv.cpp), and Intel's and AMD's differ: a guest whose output shows them
# has FILE for one vendor and NAME.<vendor_id>.expected beside it for the
# other, used on a host of that vendor.
vendor=$(sed -n 's/^vendor_id[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | head -n 1)
if [ -n "$vendor" ] && [ -f "${expected%.expected}.$vendor.expected" ]; then
  expected=${expected%.expected}.$vendor.expected
fi
for f in "$expected" "$kernel" "$vmm"; do
  if [ ! -f "$f" ]; then
    echo "FAIL: $f does not exist" >&2
    exit 1
  fi
done

tmp=$(mktemp -d "${TMPDIR:-/tmp}/run_hostile.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2206
extra_jit=($jit_args)

fail=0
declare -A secs
report_pattern='vmm: fatal|host SIG|Sanitizer|runtime error:|terminate called|vmm: std::|Segmentation fault|Aborted|core dumped'

# run NAME ARGS... : one run, checked; its wall time in secs[NAME].
run() {
  local name=$1
  shift
  local cmd=("$vmm" "$@" -kernel "$kernel")
  local start end ms rc
  start=$(date +%s%N)
  timeout -k 5 "$timeout_s" "${cmd[@]}" </dev/null >"$tmp/$name.out" 2>"$tmp/$name.err"
  rc=$?
  end=$(date +%s%N)
  ms=$(( (end - start) / 1000000 ))
  secs[$name]=$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))
  printf '%-8s status %3d  %7s s  %s\n' "$name" "$rc" "${secs[$name]}" "${cmd[*]}"
  local bad=0
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    echo "FAIL $name: timed out after $timeout_s s; output so far:" >&2
    tail -n 5 "$tmp/$name.out" >&2
    bad=1
  elif [ "$rc" -ne "$status" ]; then
    echo "FAIL $name: exit status $rc, expected $status" >&2
    bad=1
  fi
  if grep -Eq "$report_pattern" "$tmp/$name.err"; then
    echo "FAIL $name: host-level report on stderr:" >&2
    head -n 10 "$tmp/$name.err" >&2
    bad=1
  elif [ -s "$tmp/$name.err" ]; then
    sed "s/^/  $name stderr: /" "$tmp/$name.err" | head -n 5
  fi
  if ! cmp -s "$expected" "$tmp/$name.out"; then
    echo "FAIL $name: output differs from $(basename "$expected") (- expected, + actual):" >&2
    diff -u --label expected --label "$name" "$expected" "$tmp/$name.out" | head -n 40 >&2
    bad=1
  fi
  [ $bad -eq 0 ] || fail=1
}

run interp --engine=interp "$@"
run jit --engine=jit "${extra_jit[@]}" "$@"
run softmmu --engine=jit --host-mmu=off "${extra_jit[@]}" "$@"
if [ -n "$lockstep" ]; then
  run lockstep --lockstep "$lockstep" --icount 3 "${extra_jit[@]}" "$@"
fi

# The JIT may not be pathologically slower than the interpreter.
for name in jit softmmu; do
  if ! awk -v j="${secs[$name]}" -v i="${secs[interp]}" -v r="$ratio" -v s="$slack" \
       'BEGIN { exit !(j <= r * i + s) }'; then
    echo "FAIL $name: ${secs[$name]} s, more than $ratio x the interpreter's ${secs[interp]} s + $slack s" >&2
    fail=1
  fi
done

if [ $qemu -eq 1 ] && command -v qemu-system-i386 >/dev/null 2>&1; then
  mem=()
  prev=""
  for a in "$@"; do
    [ "$prev" = "-m" ] && mem=(-m "$a")
    prev=$a
  done
  timeout -k 5 "$timeout_s" qemu-system-i386 -kernel "$kernel" -display none -monitor none \
    -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04 -no-reboot "${mem[@]}" \
    </dev/null >"$tmp/qemu.out" 2>"$tmp/qemu.err"
  echo "qemu     status $? (information only)"
  diff -u --label expected --label qemu "$expected" "$tmp/qemu.out" | head -n 40
fi

if [ $fail -eq 0 ]; then
  echo "PASS ($(wc -l <"$expected") lines, every engine)"
fi
exit $fail

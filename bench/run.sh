#!/usr/bin/env bash
# Measures vmm's engines on the benchmark guests: guest MIPS (from --stats)
# and wall time under the interpreter and the JIT, median of RUNS runs, with
# qemu-system-i386 (TCG) on the same guest in the same run as the reference
# when it is installed.
#
#   bash bench/run.sh [RUNS]        (default 5; build first: cmake --build build)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-5}
VMM=./build/vmm
BENCH=./build/bench
GUESTS=(regloop memloop)
TESTGUESTS=./build/tests/guests
shopt -s nullglob

median() { sort -g | awk '{a[NR]=$1} END {m=(NR+1)/2; if (NR%2) print a[m]; else print (a[NR/2]+a[NR/2+1])/2}'; }
walltime() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); awk -v a="$s" -v b="$e" 'BEGIN {printf "%.3f", b - a}'; }

printf "%-12s %-7s %12s %12s %12s %10s\n" guest engine "vmm MIPS" "vmm s" "qemu s" "vmm/qemu"
run_one() {
  local name=$1 file=$2 engine=$3
  local mips=() secs=() qsecs=()
  for _ in $(seq "$RUNS"); do
    out=$("$VMM" -m 64 -kernel "$file" --engine="$engine" --stats 2>&1 >/dev/null || true)
    mips+=("$(echo "$out" | awk '/guest MIPS/ {print $3}')")
    secs+=("$(echo "$out" | awk '/run time/ {print $3}')")
    if command -v qemu-system-i386 >/dev/null; then
      qsecs+=("$(walltime qemu-system-i386 -m 64 -kernel "$file" -display none -monitor none -serial null \
                 -device isa-debug-exit,iobase=0xf4,iosize=0x04)")
    fi
  done
  local m s q="-" ratio="-"
  m=$(printf "%s\n" "${mips[@]}" | median)
  s=$(printf "%s\n" "${secs[@]}" | median)
  if [ ${#qsecs[@]} -gt 0 ]; then
    q=$(printf "%s\n" "${qsecs[@]}" | median)
    ratio=$(awk -v a="$s" -v b="$q" 'BEGIN {printf "%.2f", a / b}')
  fi
  printf "%-12s %-7s %12s %12s %12s %10s\n" "$name" "$engine" "$m" "$s" "$q" "$ratio"
}
for engine in interp jit; do
  for g in "${GUESTS[@]}"; do run_one "$g.asm" "$BENCH/$g.bin" "$engine"; done
  if [ -d "$TESTGUESTS" ]; then
    for f in "$TESTGUESTS"/*.elf; do run_one "$(basename "$f" .elf).c" "$f" "$engine"; done
  fi
done

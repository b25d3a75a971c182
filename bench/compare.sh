#!/usr/bin/env bash
# Compares the engines on the compute-bound guest programs (tests/guests/progs)
# built with more iterations: wall time of the same C code compiled natively
# (gcc -m32 -O2), under vmm's JIT, under vmm's interpreter and under
# qemu-system-i386 (TCG). Median of RUNS runs each, measured in this run.
#
#   bash bench/compare.sh [RUNS] [ITERS]
# RUNS defaults to 3; ITERS is VMM_GUEST_ITERS for the guests, by default
# sized so each native run takes a few tenths of a second.
# Builds into build-bench/ (Release).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
ITERS=${2:-regloop=32,hash=120,sieve=10,recursion=5,fntable=8,strings=100}
B=build-bench
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DVMM_GUEST_ITERS="$ITERS" >/dev/null
PROGS=(regloop hash sieve recursion fntable strings)
targets=(vmm)
for p in "${PROGS[@]}"; do targets+=("guest_$p" "guest_${p}_native"); done
cmake --build "$B" -j2 --target "${targets[@]}" >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {m=int((NR+1)/2); if (NR%2) print a[m]; else print (a[NR/2]+a[NR/2+1])/2}'; }
wall() {  # seconds for one run of the command (its output discarded)
  local s e
  s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
  awk -v a="$s" -v b="$e" 'BEGIN {printf "%.4f", (b - a) / 1e9}'
}
measure() { local xs=(); for _ in $(seq "$RUNS"); do xs+=("$(wall "$@")"); done; printf "%s\n" "${xs[@]}" | median; }

# Native timings need a host kernel that runs 32-bit programs (IA-32
# emulation); elsewhere the native column is "-" (qemu-i386 would time QEMU).
native_ok=1
"$B/tests/guests/${PROGS[0]}.native" >/dev/null 2>&1 || native_ok=0
[ "$native_ok" = 1 ] || echo "compare.sh: this host cannot run 32-bit programs: no native column" >&2

printf "%-10s %9s %9s %9s %9s %10s %10s %10s\n" guest native jit interp qemu "jit/nat" "interp/jit" "jit/qemu"
geo_jn=0; geo_ij=0; n=0
for p in "${PROGS[@]}"; do
  elf=$B/tests/guests/$p.elf
  t_n="-"
  [ "$native_ok" = 1 ] && t_n=$(measure "$B/tests/guests/$p.native")
  t_j=$(measure "$B/vmm" -m 64 --engine=jit -kernel "$elf")
  t_i=$(measure "$B/vmm" -m 64 --engine=interp -kernel "$elf")
  t_q="-"
  if command -v qemu-system-i386 >/dev/null; then
    t_q=$(measure qemu-system-i386 -m 64 -kernel "$elf" -display none -monitor none -serial null \
          -device isa-debug-exit,iobase=0xf4,iosize=0x04)
  fi
  r_jn=$( [ "$t_n" = "-" ] && echo "-" || awk -v a="$t_j" -v b="$t_n" 'BEGIN {printf "%.2f", a / b}')
  r_ij=$(awk -v a="$t_i" -v b="$t_j" 'BEGIN {printf "%.1f", a / b}')
  r_jq=$( [ "$t_q" = "-" ] && echo "-" || awk -v a="$t_j" -v b="$t_q" 'BEGIN {printf "%.2f", a / b}')
  printf "%-10s %9s %9s %9s %9s %10s %10s %10s\n" "$p" "$t_n" "$t_j" "$t_i" "$t_q" "$r_jn" "$r_ij" "$r_jq"
  [ "$r_jn" = "-" ] || geo_jn=$(awk -v g="$geo_jn" -v r="$r_jn" 'BEGIN {print g + log(r)}')
  geo_ij=$(awk -v g="$geo_ij" -v r="$r_ij" 'BEGIN {print g + log(r)}')
  n=$((n + 1))
done
awk -v a="$geo_jn" -v b="$geo_ij" -v n="$n" -v nat="$native_ok" \
  'BEGIN {printf "geometric mean: jit/native %s, interp/jit %.1f\n", nat ? sprintf("%.2f", exp(a / n)) : "-", exp(b / n)}'

#!/usr/bin/env bash
# Times the hostile guests (tests/guests/hostile) under the interpreter, the
# JIT (guest views) and the JIT with inline TLB probes (--host-mmu=off):
# median of RUNS runs each, interleaved, measured in this run, with the JIT's
# time as a ratio to the interpreter's (the hostile-guest rule: the JIT never
# much slower than the interpreter on any of them). Uses the build in BUILD
# (default build/), which must have the hostile guests built.
#
#   bash bench/hostile.sh [RUNS] [BUILD]
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
B=${2:-build}
H=$B/tests/guests/hostile
# name, then the arguments its ctest uses (tests/guests/hostile/CMakeLists.txt).
GUESTS=(
  "ram_end_straddle -m 16" "beyond_ram -m 16" "weird_jumps -m 16" "smc -m 16" "huge_rep -m 16"
  "garbage_tables -m 16 -no-reboot" "code_flood -m 16 --tb-size 1" "io_flood -m 16" "pt_rewrite -m 16"
  "random_code -m 16" "locked_split -m 16" "pf_error_codes -m 16" "exception_loop -m 16"
  "reset_loop -m 16" "alias_flood -m 16" "block_flood -m 16"
)

# HOSTILE_ONLY="name ..." times only those guests.
if [ -n "${HOSTILE_ONLY:-}" ]; then
  kept=()
  for g in "${GUESTS[@]}"; do
    for only in $HOSTILE_ONLY; do [ "${g%% *}" = "$only" ] && kept+=("$g"); done
  done
  GUESTS=("${kept[@]}")
fi

median() { sort -g | awk '{a[NR]=$1} END {m=int((NR+1)/2); if (NR%2) print a[m]; else print (a[NR/2]+a[NR/2+1])/2}'; }
wall() {  # seconds for one run of the command (its output discarded)
  local s e
  s=$(date +%s%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s%N)
  awk -v a="$s" -v b="$e" 'BEGIN {printf "%.4f", (b - a) / 1e9}'
}

printf "%-18s %8s %8s %8s %10s %12s   (median of %s, seconds)\n" guest interp jit jit-probes "jit/interp" \
  "probes/interp" "$RUNS"
for g in "${GUESTS[@]}"; do
  read -r name args <<<"$g"
  elf=$H/$name.elf
  [ -f "$elf" ] || { printf "%-18s (not built)\n" "$name"; continue; }
  ti=() tj=() tp=()
  for _ in $(seq "$RUNS"); do  # Interleaved, so drift in the machine's speed hits all three alike.
    # shellcheck disable=SC2086
    ti+=("$(wall "$B/vmm" --engine=interp -kernel "$elf" $args)")
    # shellcheck disable=SC2086
    tj+=("$(wall "$B/vmm" --engine=jit -kernel "$elf" $args)")
    # shellcheck disable=SC2086
    tp+=("$(wall "$B/vmm" --engine=jit --host-mmu=off -kernel "$elf" $args)")
  done
  i=$(printf "%s\n" "${ti[@]}" | median)
  j=$(printf "%s\n" "${tj[@]}" | median)
  p=$(printf "%s\n" "${tp[@]}" | median)
  printf "%-18s %8.3f %8.3f %8.3f %10.2f %12.2f\n" "$name" "$i" "$j" "$p" \
    "$(awk -v a="$j" -v b="$i" 'BEGIN {print a / b}')" "$(awk -v a="$p" -v b="$i" 'BEGIN {print a / b}')"
done

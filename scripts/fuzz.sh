#!/usr/bin/env bash
# fuzz.sh - runs the libFuzzer harnesses of tests/fuzz for hours.
#
# usage: scripts/fuzz.sh HOURS [HARNESS...]
#   HOURS    wall-clock time for the whole run (a decimal, e.g. 0.5)
#   HARNESS  harness names (fuzz_<name>.cpp in tests/fuzz); default: all
#
# Configures and builds build-fuzz with clang (everything instrumented with
# -fsanitize=fuzzer-no-link,address,undefined), then fuzzes on both cores:
# the harnesses are dealt to two lanes that run side by side, each lane
# giving its harnesses equal shares of HOURS (a single harness runs in both
# lanes on one corpus; libFuzzer reloads what the other process found).
# A harness that finds something is restarted for the rest of its time.
#
#   build-fuzz/corpus/<name>    the growing corpus, seeded from tests/fuzz/corpus/<name>
#   build-fuzz/findings/<name>  crash-*, leak-*, timeout-*, oom-* inputs
#   build-fuzz/logs/            one libFuzzer log per run
#   build-fuzz/fuzz-log.txt     one line per harness and run, appended: the
#                               executions and CPU seconds add up across runs
#
# Environment: VMM_FUZZ_BUILD (build directory, default build-fuzz),
# VMM_FUZZ_LANES (parallel fuzzers, default 2), VMM_FUZZ_MAX_RESTARTS
# (runs of a harness after findings, default 10).
#
# Needs clang and libFuzzer: Debian packages clang and libclang-rt-14-dev.
set -u

usage() {
  echo "usage: scripts/fuzz.sh HOURS [HARNESS...]" >&2
  exit 2
}
[ $# -ge 1 ] || usage
hours=$1
shift
awk -v h="$hours" 'BEGIN { exit !(h ~ /^[0-9]*\.?[0-9]+$/ && h > 0) }' || usage

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
src=$root/tests/fuzz
build=${VMM_FUZZ_BUILD:-$root/build-fuzz}
lanes=${VMM_FUZZ_LANES:-2}
max_restarts=${VMM_FUZZ_MAX_RESTARTS:-10}

if [ $# -gt 0 ]; then
  harnesses=("$@")
else
  harnesses=()
  for f in "$src"/fuzz_*.cpp; do
    n=$(basename "$f" .cpp)
    harnesses+=("${n#fuzz_}")
  done
fi
for h in "${harnesses[@]}"; do
  [ -f "$src/fuzz_$h.cpp" ] || { echo "fuzz.sh: no harness '$h' (tests/fuzz/fuzz_$h.cpp)" >&2; exit 2; }
done

for tool in clang clang++ cmake ninja; do
  command -v "$tool" >/dev/null || { echo "fuzz.sh: $tool not found (Debian: clang libclang-rt-14-dev cmake ninja-build)" >&2; exit 2; }
done

# ---- Build ----
if ! grep -Eq '^VMM_FUZZ:[A-Z]+=ON$' "$build/CMakeCache.txt" 2>/dev/null; then
  mkdir -p "$build" || exit 1
  flags=
  # Until the top-level CMakeLists.txt instruments everything under
  # VMM_FUZZ itself, the flags come from the command line.
  if ! grep -q 'option(VMM_FUZZ' "$root/CMakeLists.txt"; then
    flags="-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
  fi
  guest_cc=()
  command -v gcc >/dev/null && guest_cc=(-DVMM_GUEST_CC="$(command -v gcc)")
  cmake -S "$root" -B "$build" -G Ninja -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo -DVMM_FUZZ=ON "${guest_cc[@]}" \
    "-DCMAKE_C_FLAGS=$flags" "-DCMAKE_CXX_FLAGS=$flags" >"$build/configure.log" 2>&1 ||
    { cat "$build/configure.log" >&2; echo "fuzz.sh: configuring $build failed" >&2; exit 1; }
fi
targets=()
for h in "${harnesses[@]}"; do targets+=("fuzz_$h"); done
cmake --build "$build" -j2 --target "${targets[@]}" || { echo "fuzz.sh: build failed" >&2; exit 1; }

# ---- Fuzz ----
stamp=$(date +%Y%m%d-%H%M%S)
mkdir -p "$build/logs"
results=$build/logs/results-$stamp.txt
: >"$results"
start_marker=$build/logs/.start-$stamp
touch "$start_marker"
total_seconds=$(awk -v h="$hours" 'BEGIN { printf "%d", h * 3600 }')

# fuzz_one NAME SECONDS LANE: fuzzes NAME for SECONDS (restarting after
# findings); one results line per libFuzzer run.
fuzz_one() {
  local name=$1 seconds=$2 lane=$3
  local bin=$build/tests/fuzz/fuzz_$name corpus=$build/corpus/$name findings=$build/findings/$name
  mkdir -p "$corpus" "$findings"
  # New seeds and regressions join the corpus (existing files are kept).
  for dir in "$src/corpus/$name" "$src/regressions/$name"; do
    [ -d "$dir" ] && find "$dir" -maxdepth 1 -type f ! -name '.*' -exec cp -n {} "$corpus/" \;
  done
  local args=(-timeout=30 -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$findings/")
  [ -f "$src/$name.dict" ] && args+=(-dict="$src/$name.dict")
  if [ -f "$src/$name.options" ]; then
    local extra=()
    read -r -d '' -a extra < <(grep -v '^#' "$src/$name.options")
    args+=("${extra[@]}")
  fi
  local end=$((SECONDS + seconds)) run=0
  while [ $((end - SECONDS)) -ge 5 ] && [ "$run" -le "$max_restarts" ]; do
    local log=$build/logs/$name-$stamp-lane$lane-$run.log
    local TIMEFORMAT='%3U %3S'
    { time "$bin" "${args[@]}" -max_total_time=$((end - SECONDS)) "$corpus" >"$log" 2>&1; } 2>"$log.time"
    local status=$?
    local cpu execs cov ft
    cpu=$(awk '{ printf "%.1f", $1 + $2 }' "$log.time")
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    ft=$(grep -o 'ft: [0-9]*' "$log" | tail -n 1 | cut -d' ' -f2)
    echo "$name ${execs:-0} $cpu ${cov:-0} ${ft:-0} $status" >>"$results"
    [ "$status" -eq 0 ] && break
    echo "fuzz.sh: $name: libFuzzer stopped with status $status (finding?): $log" >&2
    run=$((run + 1))
  done
}

declare -a lane_list
for ((l = 0; l < lanes; l++)); do lane_list[l]=; done
if [ "${#harnesses[@]}" -lt "$lanes" ]; then
  # Fewer harnesses than lanes: every lane fuzzes them all, in turn.
  for ((l = 0; l < lanes; l++)); do lane_list[l]="${harnesses[*]}"; done
else
  for i in "${!harnesses[@]}"; do
    l=$((i % lanes))
    lane_list[l]="${lane_list[l]} ${harnesses[i]}"
  done
fi
echo "fuzz.sh: fuzzing ${harnesses[*]} for $hours h on $lanes lanes (logs: $build/logs)"
for ((l = 0; l < lanes; l++)); do
  (
    read -r -a mine <<<"${lane_list[l]}"
    share=$((total_seconds / ${#mine[@]}))
    for h in "${mine[@]}"; do fuzz_one "$h" "$share" "$l"; done
  ) &
done
wait

# ---- Report ----
printf '\n%-18s %14s %10s %8s %8s %9s %8s\n' harness executions cpu_s cov ft findings total
found=0
for h in "${harnesses[@]}"; do
  read -r execs cpu cov ft < <(awk -v h="$h" '$1 == h { e += $2; c += $3; if ($4 > cov) cov = $4; if ($5 > ft) ft = $5 }
                                          END { printf "%d %.1f %d %d\n", e, c, cov, ft }' "$results")
  new=$(find "$build/findings/$h" -type f ! -name 'slow-unit-*' -newer "$start_marker" 2>/dev/null | wc -l)
  [ "$new" -gt 0 ] && found=1
  all=$(find "$build/findings/$h" -type f ! -name 'slow-unit-*' 2>/dev/null | wc -l)
  printf '%-18s %14s %10s %8s %8s %9s %8s\n' "$h" "$execs" "$cpu" "$cov" "$ft" "$new" "$all"
  echo "$(date -Iseconds) harness=$h hours=$hours executions=$execs cpu_seconds=$cpu cov=$cov ft=$ft findings=$new" \
    >>"$build/fuzz-log.txt"
  find "$build/findings/$h" -type f ! -name 'slow-unit-*' -newer "$start_marker" 2>/dev/null | sed 's/^/  finding: /'
done
rm -f "$start_marker"
awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^cpu_seconds=/) { split($i, a, "="); s += a[2] } }
     END { printf "\nfuzz-log.txt: %.2f CPU-hours of fuzzing in all runs so far\n", s / 3600 }' "$build/fuzz-log.txt"
# A libFuzzer run that failed without saving an input counts as a finding too.
awk '$6 != 0 { bad = 1 } END { exit !bad }' "$results" && found=1
exit "$found"

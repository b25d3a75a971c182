#!/usr/bin/env bash
# run_fuzzer.sh - the ctest test fuzz.<name> (VMM_FUZZ=ON builds): fuzzes one
# harness for a short time on a copy of its seed corpus and regressions in
# the build tree (the source tree is never written), and fails on any
# finding (crash, sanitizer report, timeout, out-of-memory, leak).
#
# usage: run_fuzzer.sh FUZZER NAME SRC_DIR WORK_DIR SECONDS
#   FUZZER   the libFuzzer binary        NAME     the harness name
#   SRC_DIR  tests/fuzz                  WORK_DIR scratch directory (emptied)
set -u
if [ $# -ne 5 ]; then
  echo "usage: run_fuzzer.sh FUZZER NAME SRC_DIR WORK_DIR SECONDS" >&2
  exit 2
fi
fuzzer=$1 name=$2 src=$3 work=$4 seconds=$5

rm -rf "$work"
mkdir -p "$work/corpus" "$work/artifacts" || exit 2
for dir in "$src/corpus/$name" "$src/regressions/$name"; do
  [ -d "$dir" ] && find "$dir" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$work/corpus/" \;
done
# -timeout as scripts/fuzz.sh: system_code lets a legitimately slow guest
# run 3 s per engine before dropping it, and a loaded CI machine under ASan
# stretches that (10 s seen). A slow unit is reported, not a finding.
args=(-max_total_time="$seconds" -timeout=30 -report_slow_units=30 -rss_limit_mb=2048 -print_final_stats=1
      -artifact_prefix="$work/artifacts/")
[ -f "$src/$name.dict" ] && args+=(-dict="$src/$name.dict")
# Per-harness libFuzzer flags, whitespace separated (e.g. -max_len=65536).
if [ -f "$src/$name.options" ]; then
  read -r -d '' -a extra < <(grep -v '^#' "$src/$name.options")
  args+=("${extra[@]}")
fi

"$fuzzer" "${args[@]}" "$work/corpus" >"$work/fuzzer.log" 2>&1
status=$?
findings=$(find "$work/artifacts" -type f ! -name 'slow-unit-*' | sort)
tail -n 25 "$work/fuzzer.log"
if [ "$status" -ne 0 ] || [ -n "$findings" ]; then
  echo "FAIL: fuzz.$name: libFuzzer exit status $status; findings:" >&2
  echo "${findings:-  (none saved)}" >&2
  echo "full log: $work/fuzzer.log" >&2
  exit 1
fi
echo "PASS: fuzz.$name: no finding in ${seconds}s"

#!/usr/bin/env bash
# Boots the Linux guest twice with -icount (deterministic virtual time: the
# clock, TSC, PIT and RTC follow the instruction count) and requires the two
# console outputs to be byte-identical, kernel timestamps included, and both
# runs to power off (status 0).
#
#   run_icount_twice.sh VMM GUEST_DIR [SHIFT]
set -u
vmm=$1 guest=$2 shift_n=${3:-3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for run in 1 2; do
  timeout 600 "$vmm" -m 256 -kernel "$guest/vmlinuz" -initrd "$guest/initrd.gz" \
    -append "console=ttyS0 panic=-1 vmm.test=1" -no-reboot -icount "$shift_n" \
    </dev/null >"$tmp/run$run.log" 2>"$tmp/run$run.err"
  rc=$?
  if [ $rc -ne 0 ]; then
    echo "FAIL: run $run exited with status $rc" >&2
    tail -n 20 "$tmp/run$run.log" "$tmp/run$run.err" >&2
    exit 1
  fi
  if ! grep -q '^VMM-TEST-END' "$tmp/run$run.log"; then
    echo "FAIL: run $run did not finish the test workload" >&2
    tail -n 20 "$tmp/run$run.log" >&2
    exit 1
  fi
done
if ! cmp -s "$tmp/run1.log" "$tmp/run2.log"; then
  echo "FAIL: the two -icount $shift_n boots printed different output:" >&2
  diff "$tmp/run1.log" "$tmp/run2.log" | head -n 20 >&2
  exit 1
fi
echo "PASS: two -icount $shift_n boots, $(wc -l <"$tmp/run1.log") identical lines"

#!/usr/bin/env bash
# bad_kernel_file.sh - vmm given a -kernel FILE it cannot use must refuse it
# at once: exit status 2, nothing on stdout, and exactly one line on stderr,
# "vmm: <FILE>: <what is wrong>" (ctest's TIMEOUT bounds the time).
#
# usage: bad_kernel_file.sh VMM CASE
#   CASE  dev-zero | directory | fifo | empty | huge-sparse | missing | not-a-kernel
set -u
if [ $# -ne 2 ]; then
  echo "usage: bad_kernel_file.sh VMM CASE" >&2
  exit 2
fi
vmm=$1 case=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bad_kernel_file.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

case "$case" in
  dev-zero) file=/dev/zero; what="not a regular file (character device)" ;;
  directory) file=$tmp; what="not a regular file (directory)" ;;
  fifo) file=$tmp/fifo; mkfifo "$file" || exit 1; what="not a regular file (FIFO)" ;;
  empty) file=$tmp/empty.elf; : >"$file"; what="file is empty" ;;
  huge-sparse) file=$tmp/huge.elf; truncate -s 8G "$file" || exit 1
               what="file too large (8 GiB; the limit is 1 GiB)" ;;
  missing) file=$tmp/missing.elf; what="No such file or directory" ;;
  not-a-kernel) file=$tmp/text.elf; echo "not a kernel" >"$file"
                what="no multiboot header in the first 8192 bytes (magic 0x1badb002, 4-byte aligned)" ;;
  *) echo "bad_kernel_file.sh: unknown case $case" >&2; exit 2 ;;
esac

"$vmm" -m 64 -serial none -kernel "$file" >"$tmp/out" 2>"$tmp/err" </dev/null
status=$?
fail=0
if [ "$status" -ne 2 ]; then
  echo "FAIL: exit status $status, expected 2" >&2
  fail=1
fi
if [ -s "$tmp/out" ]; then
  echo "FAIL: unexpected output on stdout:" >&2
  head -c 2000 "$tmp/out" >&2
  fail=1
fi
expected="vmm: $file: $what"
if [ "$(wc -l <"$tmp/err")" -ne 1 ] || [ "$(cat "$tmp/err")" != "$expected" ]; then
  echo "FAIL: stderr is not the one line" >&2
  echo "  expected: $expected" >&2
  echo "  got:" >&2
  head -c 2000 "$tmp/err" | sed 's/^/    /' >&2
  fail=1
fi
if [ "$fail" -eq 0 ]; then
  echo "PASS: $(cat "$tmp/err")"
fi
exit "$fail"

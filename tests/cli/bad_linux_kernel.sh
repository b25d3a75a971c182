#!/usr/bin/env bash
# bad_linux_kernel.sh - vmm given a malformed Linux bzImage (-kernel), or an
# initrd (-initrd) that cannot go with it, must refuse at once: exit status
# 2, nothing on stdout, and exactly one line on stderr, "vmm: <FILE>: <what
# is wrong>", naming the kernel or the initrd file (Documentation/arch/x86/
# boot.rst gives the header fields the synthetic images set).
#
# usage: bad_linux_kernel.sh VMM CASE
#   CASE  truncated | bad-magic | old-protocol | setup-sects | kernel-too-large |
#         initrd-too-large | initrd-no-room | cmdline-too-long
set -u
if [ $# -ne 2 ]; then
  echo "usage: bad_linux_kernel.sh VMM CASE" >&2
  exit 2
fi
vmm=$1 case=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/bad_linux_kernel.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

# bzimage OUT [FIELD=VALUE...] [truncate=N]: a protocol 2.15 bzImage of 4
# setup sectors and a 0x3000-byte protected-mode kernel, with header fields
# (setup_sects, boot_flag, version, initrd_addr_max, cmdline_size) changed.
bzimage() {
  python3 - "$@" <<'EOF' || exit 1
import struct, sys
out, args = sys.argv[1], dict(a.split("=") for a in sys.argv[2:])
f = dict(setup_sects=4, boot_flag=0xAA55, version=0x020F, initrd_addr_max=0x7FFFFFFF, cmdline_size=2047)
f.update({k: int(v, 0) for k, v in args.items() if k in f})
kernel = bytes([0xF4]) * 0x3000  # hlt
img = bytearray(5 * 512)
struct.pack_into("<BHI", img, 0x1F1, f["setup_sects"], 1, len(kernel) // 16)
struct.pack_into("<H", img, 0x1FE, f["boot_flag"])
img[0x200:0x206] = b"\xeb\x6aHdrS"
struct.pack_into("<H", img, 0x206, f["version"])
struct.pack_into("<B", img, 0x211, 1)                  # loadflags: LOADED_HIGH
struct.pack_into("<I", img, 0x214, 0x100000)           # code32_start
struct.pack_into("<IIB", img, 0x22C, f["initrd_addr_max"], 0x200000, 1)  # kernel_alignment, relocatable
struct.pack_into("<I", img, 0x238, f["cmdline_size"])
struct.pack_into("<QI", img, 0x258, 0x1000000, 0x200000)  # pref_address, init_size
img += kernel
if "truncate" in args:
    img = img[: int(args["truncate"], 0)]
open(out, "wb").write(img)
EOF
}

kernel=$tmp/vmlinuz
initrd=
append=
mem=64
case "$case" in
  truncated) bzimage "$kernel" truncate=0x240; file=$kernel
             what="setup header truncated: it ends at 0x26c but the file has 0x240 bytes" ;;
  bad-magic) bzimage "$kernel" boot_flag=0x1234; file=$kernel
             what="boot_flag 0x1234 at offset 0x1fe is not 0xaa55" ;;
  old-protocol) bzimage "$kernel" version=0x0202; file=$kernel
                what="boot protocol version 2.02 is too old (2.04 or later is required)" ;;
  setup-sects) bzimage "$kernel" setup_sects=100; file=$kernel
               what="setup_sects 100 puts the protected-mode kernel at offset 0xca00, at or past the end of the file (0x3a00 bytes)" ;;
  kernel-too-large) bzimage "$kernel"; file=$kernel; mem=16
                    what="the kernel needs guest RAM up to 0x1200000 (init_size 0x200000 from 0x1000000), more than the 16 MiB there are" ;;
  initrd-too-large) bzimage "$kernel"; initrd=$tmp/initrd.img; truncate -s 65M "$initrd" || exit 1; file=$initrd
                    what="file too large (65 MiB; the limit is 64 MiB)" ;;
  initrd-no-room) bzimage "$kernel" initrd_addr_max=0x12fffff; initrd=$tmp/initrd.img
                  truncate -s 2M "$initrd" || exit 1; file=$initrd
                  what="the initrd (2 MiB) does not fit in guest RAM between the kernel (up to 0x1200000) and 0x1300000 (the lower of initrd_addr_max 0x12fffff + 1 and the end of RAM)" ;;
  cmdline-too-long) bzimage "$kernel" cmdline_size=16; file=$kernel; append=console=ttyS0,115
                    what="the command line (17 bytes) is longer than the kernel's cmdline_size (16)" ;;
  *) echo "bad_linux_kernel.sh: unknown case $case" >&2; exit 2 ;;
esac

args=(-m "$mem" -serial none -kernel "$kernel")
[ -n "$initrd" ] && args+=(-initrd "$initrd")
[ -n "$append" ] && args+=(-append "$append")
"$vmm" "${args[@]}" >"$tmp/out" 2>"$tmp/err" </dev/null
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

#!/usr/bin/env bash
# Prepares the Linux guest: Debian 12's i386 kernel (linux-image-686) and an
# initramfs around busybox-static:i386 with the project's init
# (guests/linux/init), test workload (guests/linux/test.sh) and instruction
# test (guests/linux/insn/insn_test.c, built here with gcc -m32 -static).
#
#   scripts/linux-guest.sh [OUTDIR]        (default: build/linux)
#
# Writes OUTDIR/vmlinuz (the bzImage), OUTDIR/initrd.gz, OUTDIR/insn-test
# (the instruction test, also run natively by tests/linux/run_insn_test.py)
# and OUTDIR/packages (the two .deb files used, one a line). Idempotent:
#  - the .deb files are cached in $VMM_LINUX_CACHE (default
#    ~/.cache/vmm/linux-debs) and reused on later runs, with no network;
#    delete the folder to fetch the newest versions again;
#  - only when they are not cached: the i386 architecture is added to dpkg
#    (dpkg --add-architecture i386) and the package lists are updated if
#    apt does not know the i386 packages yet, then the packages are fetched
#    with apt-get download (as root, or through sudo);
#  - insn-test is rebuilt when its source is newer than the binary;
#  - the kernel is extracted only when it changed, the initramfs rebuilt
#    (deterministically, guests/linux/mkinitramfs.py) on every run.
# If the Debian archive cannot be reached the script fails with one message:
# nothing that depends on the guest can pass without it.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
out=${1:-$root/build/linux}
cache=${VMM_LINUX_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm/linux-debs}
guest=$root/guests/linux

die() {
  echo "linux-guest: $*" >&2
  exit 1
}

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

mkdir -p "$out" "$cache"
# One run at a time per cache (tests may start this script in parallel).
exec 9>"$cache/.lock"
flock 9

cached() {  # cached PATTERN: prints the newest cached .deb matching PATTERN
  local f
  f=$(for f in "$cache"/$1; do [ -f "$f" ] && echo "$f"; done | sort -V | tail -n 1)
  [ -n "$f" ] && echo "$f"
}

fetch_failed() {
  die "cannot fetch $1 from the Debian archive (is it reachable? see the apt messages above); the Linux guest needs linux-image-686:i386 and busybox-static:i386"
}

kernel_deb=$(cached 'linux-image-6.1.0-*-686_*_i386.deb' || true)
busybox_deb=$(cached 'busybox-static_*_i386.deb' || true)

if [ -z "$kernel_deb" ] || [ -z "$busybox_deb" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx i386; then
    echo "linux-guest: adding the i386 architecture to dpkg"
    $SUDO dpkg --add-architecture i386
  fi
  if [ -z "$(apt-cache policy busybox-static:i386 2>/dev/null | sed -n 's/^ *Candidate: *//p' | grep -v '(none)')" ]; then
    echo "linux-guest: apt-get update (i386 package lists)"
    $SUDO apt-get update -qq || fetch_failed "the i386 package lists"
  fi
  # linux-image-686 is a metapackage: it depends on the concrete kernel
  # package of the current ABI, e.g. linux-image-6.1.0-57-686.
  kernel_pkg=$(apt-cache depends linux-image-686:i386 2>/dev/null |
               sed -n 's/^ *Depends: *\(linux-image-[0-9.]*-[0-9]*-686\)\(:i386\)\?$/\1/p' | head -n 1)
  [ -n "$kernel_pkg" ] || fetch_failed "linux-image-686:i386 (apt knows no such package)"
  tmp=$(mktemp -d "$cache/.download.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "linux-guest: downloading $kernel_pkg:i386 and busybox-static:i386 into $cache"
  # apt-get download runs as the calling user; as root, apt's sandbox user
  # could not write into a private folder, so it is not used.
  (cd "$tmp" && apt-get download -q -o APT::Sandbox::User="$(id -un)" "$kernel_pkg:i386" busybox-static:i386) ||
    fetch_failed "$kernel_pkg:i386 and busybox-static:i386"
  mv "$tmp"/*.deb "$cache"/
  kernel_deb=$(cached "${kernel_pkg}_*_i386.deb") || fetch_failed "$kernel_pkg:i386"
  busybox_deb=$(cached 'busybox-static_*_i386.deb') || fetch_failed busybox-static:i386
fi

# The kernel: only boot/vmlinuz-* of the package (not its modules).
stamp=$out/.vmlinuz-from
if [ ! -f "$out/vmlinuz" ] || [ "$(cat "$stamp" 2>/dev/null)" != "$kernel_deb" ]; then
  x=$(mktemp -d "$out/.extract.XXXXXX")
  dpkg-deb --fsys-tarfile "$kernel_deb" | tar -x -C "$x" --wildcards './boot/vmlinuz-*'
  mv "$x"/boot/vmlinuz-* "$out/vmlinuz"
  rm -rf "$x"
  echo "$kernel_deb" >"$stamp"
fi

# The instruction test: a static i386 program (gcc-multilib, scripts/setup.sh).
insn_src=$guest/insn/insn_test.c
if [ ! -x "$out/insn-test" ] || [ "$insn_src" -nt "$out/insn-test" ]; then
  gcc -m32 -static -O1 -Wall -o "$out/insn-test.tmp" "$insn_src" ||
    die "cannot build $insn_src with gcc -m32 -static (gcc-multilib missing? see scripts/setup.sh)"
  mv "$out/insn-test.tmp" "$out/insn-test"
fi

# The initramfs.
x=$(mktemp -d "$out/.extract.XXXXXX")
dpkg-deb --fsys-tarfile "$busybox_deb" | tar -x -C "$x" ./bin/busybox
python3 "$guest/mkinitramfs.py" --busybox "$x/bin/busybox" --init "$guest/init" \
  --test "$guest/test.sh" --insn "$out/insn-test" -o "$out/initrd.gz"
rm -rf "$x"

printf '%s\n%s\n' "$(basename "$kernel_deb")" "$(basename "$busybox_deb")" >"$out/packages"
echo "linux-guest: $out/vmlinuz ($(basename "$kernel_deb")), $out/initrd.gz ($(basename "$busybox_deb"))"

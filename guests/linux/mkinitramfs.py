#!/usr/bin/env python3
"""Writes the guest's initramfs: a gzip-compressed cpio archive in the "newc"
format the Linux kernel unpacks (Documentation/driver-api/early-userspace/
buffer-format.rst).

    mkinitramfs.py --busybox BUSYBOX --init INIT --test TEST [--insn INSN] -o initrd.gz

The archive holds /init, /bin/busybox (with /bin/sh pointing at it), the test
workload as /etc/vmm/test.sh, the instruction test (guests/linux/insn) as
/bin/insn-test when given, the directories /init mounts on, and the
/dev/console and /dev/null nodes the kernel needs before devtmpfs is
mounted. Written here rather than with cpio(1) so that no root rights are
needed for the device nodes and the output is the same byte for byte on
every run (owner root, modification times 0).
"""
import argparse
import gzip
import os
import stat
import sys


class Newc:
    def __init__(self):
        self.out = bytearray()
        self.ino = 1

    def _entry(self, name, mode, data=b"", rdev=(0, 0)):
        name_b = name.encode() + b"\0"
        fields = [self.ino, mode, 0, 0, 2 if stat.S_ISDIR(mode) else 1, 0, len(data),
                  0, 0, rdev[0], rdev[1], len(name_b), 0]
        self.ino += 1
        self.out += b"070701" + b"".join(b"%08x" % f for f in fields)
        self.out += name_b
        self.out += b"\0" * (-len(self.out) % 4)
        self.out += data
        self.out += b"\0" * (-len(self.out) % 4)

    def directory(self, name, perm=0o755):
        self._entry(name, stat.S_IFDIR | perm)

    def file(self, name, data, perm=0o755):
        self._entry(name, stat.S_IFREG | perm, data)

    def symlink(self, name, target):
        self._entry(name, stat.S_IFLNK | 0o777, target.encode())

    def char_device(self, name, major, minor, perm):
        self._entry(name, stat.S_IFCHR | perm, rdev=(major, minor))

    def finish(self):
        self.ino = 0
        self._entry("TRAILER!!!", 0)
        self.out += b"\0" * (-len(self.out) % 512)
        return bytes(self.out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--busybox", required=True, help="the static busybox binary")
    ap.add_argument("--init", required=True, help="the script that becomes /init")
    ap.add_argument("--test", required=True, help="the test workload (/etc/vmm/test.sh)")
    ap.add_argument("--insn", help="the static i386 instruction test (/bin/insn-test)")
    ap.add_argument("-o", "--output", required=True, help="the initramfs to write (gzip)")
    args = ap.parse_args()

    def read(path):
        with open(path, "rb") as f:
            return f.read()

    a = Newc()
    for d in ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "proc", "sys", "dev", "root", "etc", "etc/vmm"):
        a.directory(d)
    a.directory("tmp", 0o1777)
    a.char_device("dev/console", 5, 1, 0o600)
    a.char_device("dev/null", 1, 3, 0o666)
    a.file("bin/busybox", read(args.busybox))
    a.symlink("bin/sh", "busybox")
    if args.insn:
        a.file("bin/insn-test", read(args.insn))
    a.file("init", read(args.init))
    a.file("etc/vmm/test.sh", read(args.test))
    archive = a.finish()

    tmp = args.output + ".tmp"
    with open(tmp, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz:
            gz.write(archive)
    os.replace(tmp, args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Cost of the seccomp sandbox: the same runs with -sandbox on and off.

    python3 bench/sandbox.py [--runs N] [--vmm build/vmm]

Guests that make many system calls (the guest views' mmap calls and host
faults: mm_ptchurn, alias_flood) and the Linux test init (when build/linux
holds the guest). Runs are interleaved (on, off, on, off, ...); prints the
median wall time of each, the spread (min-max) and the ratio on/off.
Needs a quiet machine: the differences are a few percent at most.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GUESTS = os.path.join(ROOT, "build", "tests", "guests")


def run(cmd):
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    secs = time.monotonic() - t0
    err = p.stderr.decode(errors="replace")
    if "sandbox" in err or "fatal" in err:
        sys.exit(f"{' '.join(cmd)}: {err.strip()}")
    return secs


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vmm", default=os.path.join(ROOT, "build", "vmm"))
    ap.add_argument("--runs", type=int, default=5)
    a = ap.parse_args()
    cases = [
        ("sys/mm_ptchurn", ["-m", "128", "-kernel", os.path.join(GUESTS, "sys", "mm_ptchurn.elf")]),
        ("hostile/alias_flood", ["-m", "16", "-kernel", os.path.join(GUESTS, "hostile", "alias_flood.elf")]),
    ]
    linux = os.path.join(ROOT, "build", "linux")
    if os.path.exists(os.path.join(linux, "vmlinuz")):
        cases.append(("Linux test init", ["-m", "256", "-kernel", os.path.join(linux, "vmlinuz"), "-initrd",
                                          os.path.join(linux, "initrd.gz"), "-append",
                                          "console=ttyS0 panic=-1 vmm.test=1"]))
    print(f"{'guest':22} {'on (s)':>16} {'off (s)':>16} {'on/off':>7}")
    for name, args in cases:
        times = {"on": [], "off": []}
        for _ in range(a.runs):
            for mode in ("on", "off"):
                times[mode].append(run([a.vmm, "-sandbox", mode] + args))
        med = {m: statistics.median(t) for m, t in times.items()}
        spread = {m: f"{med[m]:.3f} ({min(t):.2f}-{max(t):.2f})" for m, t in times.items()}
        print(f"{name:22} {spread['on']:>16} {spread['off']:>16} {med['on'] / med['off']:7.3f}")


if __name__ == "__main__":
    main()

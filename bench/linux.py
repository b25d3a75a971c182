#!/usr/bin/env python3
"""Times the Linux guest (guests/linux: Debian 12's i686 kernel, busybox
initramfs, the test workload of guests/linux/test.sh) under vmm's JIT and
under qemu-system-i386 (TCG), side by side in one run: runs interleaved,
median and spread of each figure, and vmm's time as a ratio to QEMU's.

    python3 bench/linux.py [--runs N] [--interp] [--build DIR]

Figures (wall-clock seconds from the emulator's start): the kernel's
"Run /init" line, the first userspace command (VMM-TEST-BEGIN), the end of
the workload and the emulator's exit (the guest's power-off); and the time
each workload step took, from the guest's uptime marks (VMM-TIME). Needs
scripts/linux-guest.sh to have built DIR/linux.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, "tests", "linux", "run_linux_test.py")
WALL = re.compile(r"wall time \(s\): (.*)$")
UPTIME = re.compile(r"guest uptime \(s\) after each step: (.*)$")


def one_run(kind, emulator, extra, guest):
    cmd = [sys.executable, RUNNER, "--guest", guest, "--log", os.devnull, kind, emulator] + extra
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"bench/linux.py: {kind} run failed:\n{out.stdout}{out.stderr}")
    figures = {}
    for line in out.stdout.splitlines():
        m = WALL.search(line)
        if m:
            for part in m.group(1).split(", "):
                what, _, value = part.rpartition(" ")
                figures[what] = float(value)
        m = UPTIME.search(line)
        if m:
            marks = [p.rsplit(" ", 1) for p in m.group(1).split(", ")]
            prev = None
            for step, t in marks:
                if prev is not None:
                    figures["step " + step] = float(t) - prev
                prev = float(t)
    return figures


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--interp", action="store_true", help="also time vmm --engine=interp")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    a = ap.parse_args()
    guest = os.path.join(a.build, "linux")
    engines = [("vmm jit", "vmm", os.path.join(a.build, "vmm"), [])]
    if a.interp:
        engines.append(("vmm interp", "vmm", os.path.join(a.build, "vmm"), ["--engine=interp"]))
    engines.append(("qemu tcg", "qemu", "qemu-system-i386", []))
    results = {name: [] for name, *_ in engines}
    for _ in range(a.runs):  # Interleaved: drift in the machine's speed hits every engine alike.
        for name, kind, emulator, extra in engines:
            results[name].append(one_run(kind, emulator, extra, guest))

    keys = [k for k in results[engines[0][0]][0]]
    print(f"{'figure (s)':28}" + "".join(f"{name:>22}" for name, *_ in engines) + f"{'vmm/qemu':>10}")
    for k in keys:
        row, med = f"{k:28}", {}
        for name, *_ in engines:
            xs = [r[k] for r in results[name] if k in r]
            if not xs:
                row += f"{'-':>22}"
                continue
            med[name] = statistics.median(xs)
            row += f"{med[name]:>12.2f} ({min(xs):.2f}-{max(xs):.2f})"
        if "vmm jit" in med and med.get("qemu tcg"):
            row += f"{med['vmm jit'] / med['qemu tcg']:>10.2f}"
        print(row)
    print(f"median of {a.runs} interleaved runs, ranges in parentheses")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Boots the Linux guest (scripts/linux-guest.sh) with vmm.test=1 and checks
what its test workload (guests/linux/test.sh) prints.

    run_linux_test.py [options] vmm|qemu EMULATOR [EMULATOR-ARGS...]

  --guest DIR        holds vmlinuz and initrd.gz (default: build/linux)
  --expected FILE    the expected lines (default: guests/linux/test.expected)
  --timeout SECONDS  kill the emulator after that long (default 300)
  --append TEXT      more kernel command-line arguments
  --log FILE         write the whole console output there (default:
                     linux-<kind>.log in the current folder)

The output between VMM-TEST-BEGIN and VMM-TEST-END, carriage returns
removed, the VMM-TIME lines left out and the kernel version in the uname line
masked, must equal the expected file, and the emulator must exit with status
0 (the guest powers off). The wall time to the kernel's "Run /init" line and
to each marker is printed, with the guest's own uptime at each VMM-TIME mark.

Exit status: 0 pass, 1 fail, 2 usage, 77 (ctest's skip) when a QEMU
emulator is not installed.
"""
import argparse
import os
import re
import selectors
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CMDLINE = "console=ttyS0 panic=-1 vmm.test=1"
UNAME = re.compile(r"^uname: Linux vmm \S+ .* i686 GNU/Linux$")


def normalize(lines):
    """The compared part of the console output."""
    out = []
    inside = False
    for line in lines:
        if line == "VMM-TEST-BEGIN":
            inside = True
        if not inside:
            continue
        if line.startswith("VMM-TIME "):
            continue
        if UNAME.match(line):
            line = "uname: Linux vmm KERNEL-VERSION i686 GNU/Linux"
        out.append(line)
        if line == "VMM-TEST-END":
            break
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--guest", default=os.path.join(ROOT, "build", "linux"))
    ap.add_argument("--expected", default=os.path.join(ROOT, "guests", "linux", "test.expected"))
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--append", default="")
    ap.add_argument("--log")
    ap.add_argument("kind", choices=["vmm", "qemu"])
    ap.add_argument("emulator")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()

    kernel = os.path.join(a.guest, "vmlinuz")
    initrd = os.path.join(a.guest, "initrd.gz")
    for f in (kernel, initrd):
        if not os.path.isfile(f):
            print(f"run_linux_test: {f} is missing (run scripts/linux-guest.sh)", file=sys.stderr)
            return 1
    append = CMDLINE + (" " + a.append if a.append else "")
    if a.kind == "qemu":
        if shutil.which(a.emulator) is None:
            print(f"SKIP: {a.emulator} is not installed")
            return 77
        # The console on stdio; no monitor or display, the terminal left alone.
        cmd = [a.emulator, "-m", "256", "-kernel", kernel, "-initrd", initrd, "-append", append,
               "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot"] + a.args
    else:
        cmd = [a.emulator, "-m", "256", "-kernel", kernel, "-initrd", initrd, "-append", append,
               "-no-reboot"] + a.args
    log_path = a.log or f"linux-{a.kind}.log"
    print("run_linux_test:", " ".join(cmd), flush=True)

    t0 = time.monotonic()
    marks = []  # (what, wall seconds)
    uptimes = []  # (step, guest uptime)
    raw = bytearray()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout, selectors.EVENT_READ)
    pending = b""
    timed_out = False
    with open(log_path, "wb") as log:
        while True:
            left = a.timeout - (time.monotonic() - t0)
            if left <= 0:
                timed_out = True
                proc.kill()
                break
            if not sel.select(timeout=min(left, 1.0)):
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            if not chunk:
                break
            now = time.monotonic() - t0
            log.write(chunk)
            log.flush()
            raw += chunk
            pending += chunk
            *complete, pending = pending.split(b"\n")
            for line in complete:
                text = line.decode("utf-8", "replace").rstrip("\r")
                if "Run /init as init process" in text:
                    marks.append(("kernel runs /init", now))
                elif text in ("VMM-TEST-BEGIN", "VMM-TEST-END"):
                    marks.append((text, now))
                elif text.startswith("VMM-TIME "):
                    parts = text.split()
                    if len(parts) == 3:
                        uptimes.append((parts[1], parts[2]))
    status = proc.wait()
    elapsed = time.monotonic() - t0

    lines = raw.decode("utf-8", "replace").replace("\r", "").split("\n")
    got = normalize(lines)
    with open(a.expected) as f:
        expected = f.read().splitlines()

    print("run_linux_test: wall time (s): " +
          "".join(f"{what} {t:.2f}, " for what, t in marks) + f"exit {elapsed:.2f}")
    if uptimes:
        print("run_linux_test: guest uptime (s) after each step: " +
              ", ".join(f"{step} {t}" for step, t in uptimes))
    ok = True
    if timed_out:
        print(f"run_linux_test: FAIL: no exit after {a.timeout:.0f} s", file=sys.stderr)
        ok = False
    elif status != 0:
        print(f"run_linux_test: FAIL: exit status {status}, expected 0 (guest power-off)", file=sys.stderr)
        ok = False
    if got != expected:
        import difflib
        print("run_linux_test: FAIL: test output differs from " + a.expected + ":", file=sys.stderr)
        sys.stderr.writelines(difflib.unified_diff([l + "\n" for l in expected], [l + "\n" for l in got],
                                                   "expected", "guest"))
        ok = False
    if not ok:
        print("run_linux_test: last lines of the console (whole output in " + log_path + "):", file=sys.stderr)
        for line in lines[-25:]:
            print("  | " + line, file=sys.stderr)
        return 1
    print("run_linux_test: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())

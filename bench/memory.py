#!/usr/bin/env python3
"""Peak host memory of vmm on guests that try to make it grow.

    python3 bench/memory.py [--vmm build/vmm] [--runs N]

Runs each guest (hostile guests that flood the decoded-block cache, the
translation cache and the guest views, and the Linux test when
build/linux holds the guest) and samples /proc/PID/status every 10 ms:

  anon    RssAnon: vmm's heap and stacks (decoded blocks, view bookkeeping,
          translation metadata);
  shmem   RssShmem: guest RAM and the code buffer (memory files), as
          resident in this process's mappings; a page mapped at several
          addresses (guest views) counts once per address, so this can
          exceed what the memory files hold;
  pte     VmPTE: host page tables (the guest views' mappings among them).

Prints the peak of each (MiB) and vmm's own bound (README, "Bounded
resources"). A figure depends on the guest and the build, not on the
machine's load.
"""
import argparse
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HOSTILE = os.path.join(ROOT, "build", "tests", "guests", "hostile")


def sample(pid):
    fields = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key in ("RssAnon", "RssShmem", "VmPTE", "VmRSS"):
                    fields[key] = int(value.split()[0])  # KiB
    except (FileNotFoundError, ProcessLookupError):
        return None
    return fields


def measure(cmd):
    peaks = {"RssAnon": 0, "RssShmem": 0, "VmPTE": 0, "VmRSS": 0}
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    while p.poll() is None:
        s = sample(p.pid)
        if s:
            for k, v in s.items():
                peaks[k] = max(peaks[k], v)
        time.sleep(0.01)
    err = p.stderr.read().decode(errors="replace")
    return peaks, time.monotonic() - t0, p.returncode, err


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--vmm", default=os.path.join(ROOT, "build", "vmm"))
    ap.add_argument("--runs", type=int, default=3)
    a = ap.parse_args()

    guests = [
        ("alias_flood (-m 16)", ["-m", "16", "-kernel", os.path.join(HOSTILE, "alias_flood.elf")]),
        ("block_flood (-m 16)", ["-m", "16", "-kernel", os.path.join(HOSTILE, "block_flood.elf")]),
        ("code_flood (-m 16)", ["-m", "16", "-kernel", os.path.join(HOSTILE, "code_flood.elf")]),
        ("code_flood --tb-size 1", ["-m", "16", "-kernel", os.path.join(HOSTILE, "code_flood.elf"), "--tb-size", "1"]),
        ("random_code (-m 16)", ["-m", "16", "-kernel", os.path.join(HOSTILE, "random_code.elf")]),
    ]
    linux = os.path.join(ROOT, "build", "linux")
    if os.path.exists(os.path.join(linux, "vmlinuz")):
        guests.append(("Linux test (-m 256)", ["-m", "256", "-kernel", os.path.join(linux, "vmlinuz"), "-initrd",
                                               os.path.join(linux, "initrd.gz"), "-append",
                                               "console=ttyS0 panic=-1 vmm.test=1"]))
    else:
        print("(Linux guest absent: scripts/linux-guest.sh build/linux fetches it)", file=sys.stderr)

    print(f"{'guest':28} {'engine':14} {'anon MiB':>9} {'shmem MiB':>10} {'pte MiB':>8} {'secs':>6}")
    for name, args in guests:
        for engine in (["--engine=jit"], ["--engine=jit", "--host-mmu=off"], ["--engine=interp"]):
            runs = [measure([a.vmm] + engine + args) for _ in range(a.runs)]
            for peaks, secs, rc, err in runs:
                if "vmm: fatal" in err or "Sanitizer" in err:
                    sys.exit(f"{name}: {err.strip()}")
            mib = lambda k: max(r[0][k] for r in runs) / 1024
            secs = sorted(r[1] for r in runs)[len(runs) // 2]
            label = " ".join(e.replace("--engine=", "") for e in engine)
            print(f"{name:28} {label:14} {mib('RssAnon'):9.1f} {mib('RssShmem'):10.1f} {mib('VmPTE'):8.2f} {secs:6.2f}")


if __name__ == "__main__":
    main()

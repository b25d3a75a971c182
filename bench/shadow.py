#!/usr/bin/env python3
"""Times vmm's host-MMU ("shadow paging") path on large working sets and on
many address spaces, side by side with vmm's inline-TLB JIT, QEMU's TCG and
a native run of the same kernel.

    python3 bench/shadow.py [--runs N] [--timeout S] [--stats] [--parts a,b]
                            [--mib M --iters N --mem MB]
                            [--ws KiB --rounds N --ops N --spaces-mem MB]

(a) mm_random (tests/guests/sys/mm_random.c): random read-modify-writes
    a[i] = a[i] * K + j over an array of --mib MiB (default 96, in a guest of
    --mem 128 MiB) whose pages are mapped onto scrambled frames, --iters
    iterations (default 100,000,000), under
      - vmm's JIT (default: guest memory through host mappings),
      - vmm's JIT with --host-mmu=off (inline softmmu TLB probes),
      - qemu-system-i386 -accel tcg,
      - natively: bench/guests/mm_random_native.c, the same loop, LCG, array
        contents and checksum as a 32-bit Linux program on a malloc'd array,
        compiled with gcc -m32 -march=i686 -O2 into a temporary directory;
    with each time's ratio to the native one.
(b) mm_spaces (tests/guests/sys/mm_spaces.c): 16 tasks with working sets of
    --ws KiB, round-robin slices of --ops read-modify-writes after a MOV CR3,
    --rounds rounds, with spaces=16 (every task in its own address space, all
    at the same linear address) and spaces=1 (the same tasks side by side in
    one address space: the same instructions and the same checksums, only
    the number of distinct page directories differs), with the ratio of the
    two times (16/1).  The slices run at CPL 3 (ring=3: the kernel loads
    CR3, enters ring 3 through IRET, the slice comes back through INT), as
    processes do: that is what vmm's per-address-space user views are for,
    kept across CR3 loads, whereas its supervisor view follows the TLB (a
    CR3 load unmaps its non-global pages, so a ring-0 working set is
    refaulted after every CR3 load).  Rows: vmm's JIT and --host-mmu=off at
    ring=3, and vmm's JIT at ring=0 for comparison.

What is timed: the guests print "-- begin timed loop" and "-- end timed
loop" on the serial port around the work loop; this script reads the
emulator's stdout unbuffered and stamps each line with time.monotonic() as
it arrives, and reports the time between the two marks (vmm flushes its
serial output at every newline; QEMU's -serial stdio writes at once).  That
leaves out the emulator's start, the guest's page-table setup and array
initialisation and its checks afterwards (and the JIT's translation of
setup code), but includes everything the loop costs: translation of the
loop, host faults, page walks, mapping calls.  The stamps' resolution is
that of the pipe (well under a millisecond); the native program times its
loop with CLOCK_MONOTONIC itself.  The table also gives each run's total
wall time.  Runs are interleaved (run 1 of every configuration, then run
2, ...), so drift in the machine's speed hits every configuration alike;
figures are the median over --runs with the min-max spread.

A run that takes more than --timeout seconds (default 60) is killed and
reported as a timeout; one whose output lacks the marks, has a FAIL line,
or whose checksum differs from the native run's (a) or between spaces=16
and spaces=1 (b) is reported as an error with the command to reproduce it.
--stats passes --stats to vmm and prints, for each vmm configuration, the
run, invalidation, softmmu and host-MMU (guest views) sections of its last
run (--stats-sections all: everything); counting some of them (indirect-
branch lookups) costs a little time, so compare times without --stats.
"""
import argparse
import os
import re
import selectors
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NATIVE_SRC = os.path.join(ROOT, "bench", "guests", "mm_random_native.c")
BEGIN = b"-- begin timed loop"
END = b"-- end timed loop"
CHECKSUM = re.compile(rb"^checksum (0x[0-9a-f]{8})$", re.M)
DEFAULT_SECTIONS = ("run", "invalidations by cause", "softmmu", "jit host-MMU path (guest views)")


class Result:
    def __init__(self, loop=None, wall=None, checksum=None, error=None, stats=""):
        self.loop, self.wall, self.checksum, self.error, self.stats = loop, wall, checksum, error, stats


def shell_quote(cmd):
    return " ".join(c if re.fullmatch(r"[\w@%+=:,./-]+", c) else "'" + c.replace("'", "'\\''") + "'" for c in cmd)


def run_guest(cmd, timeout):
    """Runs an emulator, stamping the timed-loop marks on arrival."""
    with tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=err, bufsize=0)
        out, marks, buf = [], {}, b""
        fd = proc.stdout.fileno()
        os.set_blocking(fd, False)
        sel = selectors.DefaultSelector()
        sel.register(fd, selectors.EVENT_READ)
        timed_out = False
        while True:
            left = start + timeout - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            if not sel.select(min(left, 1.0)):
                continue
            chunk = os.read(fd, 65536)
            now = time.monotonic()
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                out.append(line)
                if line.strip() in (BEGIN, END):
                    marks.setdefault(line.strip(), now)
        sel.close()
        if timed_out:
            proc.kill()
            proc.wait()
            return Result(wall=time.monotonic() - start, error=f"timeout after {timeout:g} s")
        proc.wait()
        wall = time.monotonic() - start
        err.seek(0)
        stderr = err.read().decode(errors="replace")
    text = b"\n".join(out + ([buf] if buf else []))
    m = CHECKSUM.search(text)
    res = Result(wall=wall, checksum=m.group(1).decode() if m else None, stats=stderr)
    fails = [l.decode(errors="replace") for l in out if l.startswith(b"FAIL")]
    if fails:
        res.error = "guest check failed: " + fails[0]
    elif BEGIN not in marks or END not in marks:
        res.error = f"no timed-loop marks (exit status {proc.returncode}): " + stderr.strip()[-200:]
    elif not m:
        res.error = "no checksum line"
    else:
        res.loop = marks[END] - marks[BEGIN]
    return res


def build_native(tmpdir, cc):
    exe = os.path.join(tmpdir, "mm_random_native")
    cmd = [cc, "-m32", "-march=i686", "-O2", "-o", exe, NATIVE_SRC]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench/shadow.py: cannot build the native reference:\n$ {shell_quote(cmd)}\n{r.stderr}")
    return exe


def run_native(cmd, timeout):
    start = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Result(wall=time.monotonic() - start, error=f"timeout after {timeout:g} s")
    wall = time.monotonic() - start
    m = CHECKSUM.search(r.stdout)
    t = re.search(rb"^loop seconds: ([0-9.]+)$", r.stdout, re.M)
    if r.returncode != 0 or not m or not t:
        return Result(wall=wall, error=f"exit status {r.returncode}: {r.stderr.decode(errors='replace')[-200:]}")
    return Result(loop=float(t.group(1)), wall=wall, checksum=m.group(1).decode())


def qemu_cmd(elf, mem, append):
    return ["qemu-system-i386", "-accel", "tcg", "-kernel", elf, "-display", "none", "-monitor", "none",
            "-serial", "stdio", "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-no-reboot",
            "-m", str(mem), "-append", append]


def vmm_cmd(vmm, elf, mem, append, extra, stats):
    return [vmm] + extra + (["--stats"] if stats else []) + ["-m", str(mem), "-kernel", elf, "-append", append]


def fmt_time(results):
    ok = [r.loop for r in results if r.loop is not None]
    if not ok:
        if results and all(r.error and r.error.startswith("timeout") for r in results):
            return f"timeout (> {results[0].wall:.0f} s)", None
        return "error" if results else "-", None
    med = statistics.median(ok)
    s = f"{med:8.3f} ({min(ok):.3f}-{max(ok):.3f})"
    if len(ok) < len(results):
        s += f" [{len(results) - len(ok)} failed]"
    return s, med


def fmt_wall(results):
    w = [r.wall for r in results if r.wall is not None and r.error is None]
    return f"{statistics.median(w):7.2f}" if w else "-"


def stats_sections(text, wanted):
    """The named sections of vmm's --stats text (all of it for 'all')."""
    lines = text.splitlines()
    try:
        first = lines.index("--- vmm statistics ---")
    except ValueError:
        return "(no statistics in the output)"
    lines = lines[first + 1:]
    if wanted == ["all"]:
        return "\n".join(lines)
    keep, on = [], False
    for line in lines:
        if line and not line[0].isspace():
            on = line.strip() in wanted
        if on:
            keep.append(line)
    return "\n".join(keep)


def report_errors(name, results, cmd):
    errs = [r.error for r in results if r.error]
    if errs:
        print(f"  {name}: {len(errs)} of {len(results)} runs failed: {errs[0]}")
        print(f"    reproduce: {shell_quote(cmd)}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--runs", type=int, default=5, help="runs per configuration (default 5)")
    ap.add_argument("--timeout", type=float, default=60, help="seconds before a run is killed (default 60)")
    ap.add_argument("--vmm", default=os.path.join(ROOT, "build", "vmm"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build"), help="build dir with tests/guests/sys/*.elf")
    ap.add_argument("--qemu", default="qemu-system-i386")
    ap.add_argument("--cc", default="gcc", help="compiler for the native reference (needs -m32)")
    ap.add_argument("--parts", default="a,b", help="a (mm_random), b (mm_spaces) or a,b")
    ap.add_argument("--mib", type=int, default=96, help="(a) array size in MiB (default 96)")
    ap.add_argument("--iters", type=int, default=100_000_000, help="(a) read-modify-writes (default 1e8)")
    ap.add_argument("--mem", type=int, default=128, help="(a) guest RAM in MiB (default 128)")
    ap.add_argument("--tasks", type=int, default=16, help="(b) tasks, spaces in the many-spaces run (default 16)")
    ap.add_argument("--ws", type=int, default=256, help="(b) working set per task, KiB (default 256)")
    ap.add_argument("--rounds", type=int, default=20000, help="(b) rounds (default 20000)")
    ap.add_argument("--ops", type=int, default=1000, help="(b) read-modify-writes per slice (default 1000)")
    ap.add_argument("--spaces-mem", type=int, default=64, help="(b) guest RAM in MiB (default 64)")
    ap.add_argument("--stats", action="store_true", help="pass --stats to vmm, print its guest-view statistics")
    ap.add_argument("--stats-sections", default=",".join(DEFAULT_SECTIONS),
                    help="comma-separated section titles of --stats to print, or 'all'")
    a = ap.parse_args()
    parts = set(a.parts.split(","))
    if not parts <= {"a", "b"}:
        ap.error("--parts takes a, b or a,b")
    for tool in [a.vmm] + ([a.qemu] if "a" in parts else []):
        if not shutil.which(tool):
            sys.exit(f"bench/shadow.py: {tool} not found")
    sysdir = os.path.join(a.build, "tests", "guests", "sys")
    thp = "?"
    try:
        with open("/sys/kernel/mm/transparent_hugepage/enabled") as f:
            thp = f.read().strip()
    except OSError:
        pass
    print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f}, transparent huge pages: {thp}")
    print(f"vmm: {a.vmm}; {a.runs} runs per configuration, interleaved; timeout {a.timeout:g} s")
    wanted = a.stats_sections.split(",")

    with tempfile.TemporaryDirectory(prefix="shadow-bench.") as tmp:
        if "a" in parts:
            elf = os.path.join(sysdir, "mm_random.elf")
            if not os.path.exists(elf):
                sys.exit(f"bench/shadow.py: {elf} missing (cmake --build build)")
            append = f"mib={a.mib} iters={a.iters}"
            native = build_native(tmp, a.cc)
            configs = [
                ("native (gcc -m32 -O2)", [native, str(a.mib), str(a.iters)], "native"),
                ("vmm jit", vmm_cmd(a.vmm, elf, a.mem, append, [], a.stats), "vmm"),
                ("vmm jit --host-mmu=off", vmm_cmd(a.vmm, elf, a.mem, append, ["--host-mmu=off"], a.stats), "vmm"),
                ("qemu tcg", qemu_cmd(elf, a.mem, append), "qemu"),
            ]
            res = {name: [] for name, *_ in configs}
            for _ in range(a.runs):
                for name, cmd, kind in configs:
                    r = run_native(cmd, a.timeout) if kind == "native" else run_guest(cmd, a.timeout)
                    res[name].append(r)
            print(f"\n(a) mm_random: {a.mib} MiB array in scrambled frames, {a.iters:,} random "
                  f"read-modify-writes, -m {a.mem}")
            print(f"  {'configuration':26}{'loop s: median (min-max)':>32}{'x native':>10}{'wall s':>9}  checksum")
            _, nat = fmt_time(res[configs[0][0]])
            ref_sum = next((r.checksum for r in res[configs[0][0]] if r.checksum), None)
            for name, cmd, kind in configs:
                s, med = fmt_time(res[name])
                ratio = f"{med / nat:10.1f}" if med is not None and nat else f"{'-':>10}"
                sums = {r.checksum for r in res[name] if r.checksum}
                note = ",".join(sorted(sums)) or "-"
                if ref_sum and sums and sums != {ref_sum}:
                    note += f"  DIFFERS from native {ref_sum}"
                print(f"  {name:26}{s:>32}{ratio}{fmt_wall(res[name]):>9}  {note}")
            for name, cmd, kind in configs:
                report_errors(name, res[name], cmd)
            if a.stats:
                for name, cmd, kind in configs:
                    if kind == "vmm" and res[name] and res[name][-1].stats:
                        print(f"\n  --stats, last run of {name}:")
                        print("    " + stats_sections(res[name][-1].stats, wanted).replace("\n", "\n    "))

        if "b" in parts:
            elf = os.path.join(sysdir, "mm_spaces.elf")
            if not os.path.exists(elf):
                sys.exit(f"bench/shadow.py: {elf} missing (cmake --build build)")
            base = f"tasks={a.tasks} ws={a.ws} rounds={a.rounds} ops={a.ops}"
            rows = (("vmm jit", [], 3), ("vmm jit --host-mmu=off", ["--host-mmu=off"], 3),
                    ("vmm jit, ring=0", [], 0))
            configs = []
            for label, extra, ring in rows:
                for sp in (a.tasks, 1):
                    configs.append((label, sp, vmm_cmd(a.vmm, elf, a.spaces_mem, f"{base} spaces={sp} ring={ring}",
                                                       extra, a.stats)))
            res = {(label, sp): [] for label, sp, _ in configs}
            for _ in range(a.runs):
                for label, sp, cmd in configs:
                    res[(label, sp)].append(run_guest(cmd, a.timeout))
            total = a.tasks * a.rounds * a.ops
            print(f"\n(b) mm_spaces: {a.tasks} tasks x {a.ws} KiB, {a.rounds:,} rounds x {a.ops:,} read-modify-writes "
                  f"({total:,} in all, {a.tasks * a.rounds:,} CR3 loads), at CPL 3 unless ring=0, -m {a.spaces_mem}")
            print(f"  {'configuration':26}{f'spaces={a.tasks}: loop s':>32}{'spaces=1: loop s':>32}"
                  f"{f'{a.tasks}/1':>8}  checksum")
            all_sums = {r.checksum for rs in res.values() for r in rs if r.checksum}
            for label, _, _ in rows:
                many, mm = fmt_time(res[(label, a.tasks)])
                one, m1 = fmt_time(res[(label, 1)])
                ratio = f"{mm / m1:8.2f}" if mm is not None and m1 else f"{'-':>8}"
                sums = {r.checksum for sp in (a.tasks, 1) for r in res[(label, sp)] if r.checksum}
                note = ",".join(sorted(sums)) or "-"
                if len(sums) > 1:
                    note += "  DIFFER between runs"
                elif len(all_sums) > 1:
                    note += "  DIFFERS from another row"
                print(f"  {label:26}{many:>32}{one:>32}{ratio}  {note}")
            for label, sp, cmd in configs:
                report_errors(f"{label} spaces={sp}", res[(label, sp)], cmd)
            if a.stats:
                for label, sp, cmd in configs:
                    r = res[(label, sp)]
                    if r and r[-1].stats:
                        print(f"\n  --stats, last run of {label} spaces={sp}:")
                        print("    " + stats_sections(r[-1].stats, wanted).replace("\n", "\n    "))


if __name__ == "__main__":
    main()

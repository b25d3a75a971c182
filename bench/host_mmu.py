#!/usr/bin/env python3
"""Times every guest program of the test suite under vmm's JIT with the
host-MMU path (guest views, the default) and with --host-mmu=off (inline TLB
probes), side by side in one run: runs interleaved, median of --runs, and
the ratio on/off (above 1: the views are slower).

The pairs are the suite's own tests: each `<kind>_jit.<name>` test with its
`<kind>_jit_softmmu.<name>` twin (guest programs, system-architecture
guests), run exactly as ctest runs them (their wrappers check the output,
so a wrong result fails the run), and the hostile guests of
tests/guests/hostile under the JIT alone with and without --host-mmu=off
(their exit status checked). Times include each wrapper's start-up (a few
milliseconds).

    python3 bench/host_mmu.py [--runs N] [--build DIR] [--filter REGEX]
"""
import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def suite(build):
    out = subprocess.run(["ctest", "--show-only=json-v1"], cwd=build, capture_output=True, text=True, check=True)
    tests = {t["name"]: t for t in json.loads(out.stdout)["tests"] if "command" in t}
    pairs = []
    for name, t in sorted(tests.items()):
        m = re.match(r"^(\w+)_jit_softmmu\.(.+)$", name)
        if m and f"{m.group(1)}_jit.{m.group(2)}" in tests:
            on = tests[f"{m.group(1)}_jit.{m.group(2)}"]
            pairs.append((f"{m.group(1)}.{m.group(2)}", on, t))
        if name.startswith("hostile."):
            # run_hostile.sh runs every engine; time vmm's JIT alone, on the
            # same kernel and options, expecting the test's exit status.
            cmd = t["command"]
            vmm_at = next(i for i, w in enumerate(cmd) if w.endswith("/vmm"))
            status = int(cmd[cmd.index("--status") + 1])
            jit_args = cmd[cmd.index("--jit-args") + 1].split() if "--jit-args" in cmd else []
            base = [cmd[vmm_at], "-kernel", cmd[vmm_at + 1], *cmd[vmm_at + 2:], "--engine=jit", *jit_args]
            on = {"name": name, "command": base, "status": status}
            pairs.append((name, on, {"name": name, "command": base + ["--host-mmu=off"], "status": status}))
    return pairs


def wall(test):
    cwd = next((p["value"] for p in test.get("properties", []) if p["name"] == "WORKING_DIRECTORY"), None)
    start = time.perf_counter()
    r = subprocess.run(test["command"], cwd=cwd, stdin=subprocess.DEVNULL, capture_output=True)
    elapsed = time.perf_counter() - start
    return elapsed, r.returncode


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--filter", default="", help="only pairs whose name matches this regex")
    a = ap.parse_args()
    pairs = [p for p in suite(a.build) if re.search(a.filter, p[0])]
    if not pairs:
        sys.exit("bench/host_mmu.py: no test pairs found (build the tests first)")
    print(f"{'guest':34}{'views (s)':>12}{'probes (s)':>12}{'on/off':>8}")
    worst = (0.0, "")
    for name, on, off in pairs:
        t_on, t_off = [], []
        status = ""
        for _ in range(a.runs):  # Interleaved.
            for test, xs in ((on, t_on), (off, t_off)):
                t, rc = wall(test)
                xs.append(t)
                if rc not in (test.get("status", 0), 77):
                    status = f"  (exit status {rc}: {test['name'] if 'name' in test else name})"
        m_on, m_off = statistics.median(t_on), statistics.median(t_off)
        ratio = m_on / m_off if m_off else float("nan")
        worst = max(worst, (ratio, name))
        print(f"{name:34}{m_on:>12.3f}{m_off:>12.3f}{ratio:>8.2f}{status}")
    print(f"median of {a.runs} interleaved runs; highest on/off: {worst[0]:.2f} ({worst[1]})")


if __name__ == "__main__":
    main()

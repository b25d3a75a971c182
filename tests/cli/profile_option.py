#!/usr/bin/env python3
"""--profile on a whole run (with the sandbox on, as by default): the guest's
output is unchanged, the text report and the JSON are written, and they name
the guest's blocks with their entries.

    profile_option.py --vmm VMM --kernel ELF --reference NATIVE [--runner R] ENGINE
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--runner", default="")
    ap.add_argument("engine", choices=["jit", "interp"])
    a = ap.parse_args()
    ref = subprocess.run(([a.runner] if a.runner else []) + [a.reference], stdout=subprocess.PIPE, check=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        js = os.path.join(tmp, "profile.json")
        p = subprocess.run([a.vmm, "-m", "64", "-kernel", a.kernel, f"--engine={a.engine}", "--profile",
                            f"--profile=json={js}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=240)
        err = p.stderr.decode(errors="replace")
        problems = []
        if p.returncode != 1:
            problems.append(f"exit status {p.returncode}")
        if p.stdout != ref:
            problems.append("output differs from the reference")
        if "--- vmm profile:" not in err or "rank" not in err:
            problems.append("no text report on stderr")
        try:
            with open(js) as f:
                d = json.load(f)
            entries = sum(b["jit_entries"] + b["interp_entries"] for b in d["blocks"])
            if not d["blocks"] or entries == 0:
                problems.append("the JSON names no block with entries")
            if a.engine == "interp" and any(b["jit_entries"] for b in d["blocks"]):
                problems.append("translated entries under the interpreter")
        except (OSError, ValueError, KeyError) as e:
            problems.append(f"bad JSON: {e}")
        if problems:
            print("FAIL: " + "; ".join(problems) + "\n" + err[-3000:], file=sys.stderr)
            return 1
    print(f"PASS: {len(d['blocks'])} blocks, {d['samples']} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Checks that one translation-cache knob (frontend/engine_tuning.h) takes
effect and changes nothing the guest can see.

    tuning_option.py --vmm VMM --kernel ELF --reference NATIVE [--runner R] CASE

The guest runs with the default settings and with CASE's option, each with
--stats=json; its output must equal the reference (NATIVE's stdout, run
under R if given) both times, and the counters CASE's option acts on must
change as they must. Then the option runs under --lockstep 1000, where the
JIT and the interpreter must agree. Exit status 0 pass, 1 fail.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

# CASE: (options, check(default stats, stats) -> error or None)
CASES = {
    "jit-chain-off": (["--jit-chain", "off"], lambda d, s:
                      None if d["jit_execution"]["chains_made"] > 0 and s["jit_execution"]["chains_made"] == 0
                      and s["jit_translation"]["indirect_sites"] == 0 else "chains were still made"),
    "d-nochain": (["-d", "nochain"], lambda d, s:
                  None if d["jit_execution"]["chains_made"] > 0 and s["jit_execution"]["chains_made"] == 0
                  and s["jit_translation"]["indirect_sites"] == 0 else "chains were still made"),
    "jit-lookup-off": (["--jit-lookup", "off"], lambda d, s:
                       None if d["jit_execution"]["indirect_lookups"] > 0
                       and s["jit_execution"]["indirect_lookups"] == 0
                       and s["jit_translation"]["indirect_sites"] == 0
                       and s["jit_execution"]["chains_made"] > 0 else "inline lookups still ran"),
    "jump-cache-off": (["--jump-cache", "off"], lambda d, s:
                       None if d["block_cache"]["jump_cache_lookups"] > 0
                       and s["block_cache"]["jump_cache_lookups"] == 0
                       and s["block_cache"]["block_map_lookups"] > d["block_cache"]["block_map_lookups"]
                       else "the jump cache was still probed"),
    "superblocks-off": (["--superblocks", "off"], lambda d, s:
                        None if d["block_cache"]["superblock_jccs"] > 0 and s["block_cache"]["superblock_jccs"] == 0
                        else "blocks still went on past a Jcc"),
    "max-block-insns-4": (["--max-block-insns", "4"], lambda d, s:
                          None if s["block_cache"]["instructions_decoded"] <= 4 * s["block_cache"]["blocks_decoded"]
                          and d["block_cache"]["instructions_decoded"] > 4 * d["block_cache"]["blocks_decoded"]
                          else "blocks longer than 4 instructions"),
    "jit-x87-off": (["--jit-x87", "off"], lambda d, s:
                    None if d["jit_translation"]["x87_native"] > 0 and d["jit_execution"]["fpu_loads"] > 0
                    and s["jit_translation"]["x87_native"] == 0 and s["jit_execution"]["fpu_loads"] == 0
                    and s["jit_execution"]["helper_calls"] > d["jit_execution"]["helper_calls"]
                    else "x87 instructions still ran natively"),
    "one-insn-per-tb": (["--one-insn-per-tb"], lambda d, s:
                        None if s["block_cache"]["instructions_decoded"] == s["block_cache"]["blocks_decoded"]
                        and d["block_cache"]["instructions_decoded"] > d["block_cache"]["blocks_decoded"]
                        else "blocks of more than one instruction"),
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vmm", required=True)
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--reference", required=True)
    ap.add_argument("--runner", default="")
    ap.add_argument("case", choices=sorted(CASES))
    a = ap.parse_args()
    options, check = CASES[a.case]

    ref = subprocess.run(([a.runner] if a.runner else []) + [a.reference], stdout=subprocess.PIPE, check=True).stdout
    with tempfile.TemporaryDirectory() as tmp:
        def run(extra, tag):
            stats = os.path.join(tmp, tag + ".json")
            p = subprocess.run([a.vmm, "-m", "64", "-kernel", a.kernel, f"--stats=json={stats}"] + extra,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=240)
            if p.returncode != 1 or p.stdout != ref:
                print(f"FAIL: {' '.join(extra) or 'default'}: status {p.returncode}, output "
                      f"{'equal to' if p.stdout == ref else 'different from'} the reference\n"
                      + p.stderr.decode(errors="replace")[-2000:], file=sys.stderr)
                sys.exit(1)
            with open(stats) as f:
                return json.load(f)

        default = run([], "default")
        tuned = run(options, "tuned")
        error = check(default, tuned)
        if error:
            print(f"FAIL: {' '.join(options)}: {error}", file=sys.stderr)
            return 1
        p = subprocess.run([a.vmm, "-m", "64", "-kernel", a.kernel, "--lockstep", "1000"] + options,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=240)
        if p.returncode != 1 or p.stdout != ref:
            print(f"FAIL: {' '.join(options)} under --lockstep 1000: status {p.returncode}\n"
                  + p.stderr.decode(errors="replace")[-2000:], file=sys.stderr)
            return 1
    print(f"PASS: {' '.join(options)} takes effect; output and lockstep unchanged")
    return 0


if __name__ == "__main__":
    sys.exit(main())

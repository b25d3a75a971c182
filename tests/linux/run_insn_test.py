#!/usr/bin/env python3
"""Runs the instruction test (guests/linux/insn/insn_test.c, built by
scripts/linux-guest.sh as GUEST/insn-test and put into the initramfs as
/bin/insn-test) natively on the host and inside the guest, and requires the
same output.

    run_insn_test.py [--guest DIR] [--timeout S] [--log FILE] [--known-difference PREFIX]...
                     vmm|qemu EMULATOR [ARGS...]

The guest boots with vmm.test=1; its workload (guests/linux/test.sh) runs the
program between VMM-INSN-BEGIN and VMM-INSN-END after its own part, followed
by an "insn-test exit status: N" line. The lines between the markers (carriage
returns removed) must equal the native output followed by that line, and the
emulator must exit with status 0.

On a host whose kernel cannot run 32-bit programs (no IA-32 emulation),
--reference-emulator qemu-system-i386 takes the reference from the same
guest under QEMU instead (with QEMU's known difference left out); the QEMU
test itself is then skipped.

--known-difference PREFIX leaves out of both sides the check whose line
starts with PREFIX, with its indented continuation lines: for a documented
difference of the reference emulator (QEMU's TCG does not check data
segment limits), never for vmm.

Exit status: 0 pass, 1 fail, 77 (ctest's skip) when a QEMU emulator is not
installed.
"""
import argparse
import difflib
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CMDLINE = "console=ttyS0 panic=-1 vmm.test=1"


def section(lines):
    out = None
    for line in lines:
        if line == "VMM-INSN-BEGIN":
            out = []
        elif line == "VMM-INSN-END":
            return out
        elif out is not None:
            out.append(line)
    return None


def drop_checks(lines, prefixes):
    out = []
    dropping = False
    for line in lines:
        if line.startswith(" ") and dropping:
            continue
        dropping = any(line.startswith(p) for p in prefixes)
        if not dropping:
            out.append(line)
    return out


def run_emulator(cmd, timeout, log_path):
    """Runs a full-system emulator; returns (console lines, status, timed out)."""
    try:
        proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=timeout)
        raw, status, timed_out = proc.stdout, proc.returncode, False
    except subprocess.TimeoutExpired as e:
        raw, status, timed_out = e.stdout or b"", None, True
    with open(log_path, "wb") as log:
        log.write(raw)
    return raw.decode("utf-8", "replace").replace("\r", "").split("\n"), status, timed_out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--guest", default=os.path.join(ROOT, "build", "linux"))
    ap.add_argument("--timeout", type=float, default=580)
    ap.add_argument("--log")
    ap.add_argument("--known-difference", action="append", default=[])
    ap.add_argument("--reference-emulator", default="",
                    help="on a host whose kernel cannot run 32-bit programs: take the "
                         "reference from this full-system emulator (qemu-system-i386) "
                         "running the same guest instead of the native run; 'none': skip")
    ap.add_argument("kind", choices=["vmm", "qemu"])
    ap.add_argument("emulator")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()

    kernel = os.path.join(a.guest, "vmlinuz")
    initrd = os.path.join(a.guest, "initrd.gz")
    native = os.path.join(a.guest, "insn-test")
    for f in (kernel, initrd, native):
        if not os.path.isfile(f):
            print(f"run_insn_test: {f} is missing (run scripts/linux-guest.sh)", file=sys.stderr)
            return 1
    if a.kind == "qemu":
        if shutil.which(a.emulator) is None:
            print(f"SKIP: {a.emulator} is not installed")
            return 77
        cmd = [a.emulator, "-m", "256", "-kernel", kernel, "-initrd", initrd, "-append", CMDLINE,
               "-display", "none", "-serial", "stdio", "-monitor", "none", "-no-reboot"] + a.args
    else:
        cmd = [a.emulator, "-m", "256", "-kernel", kernel, "-initrd", initrd, "-append", CMDLINE,
               "-no-reboot"] + a.args

    if a.reference_emulator:
        if a.reference_emulator == "none" or shutil.which(a.reference_emulator) is None:
            print("SKIP: this host cannot run the 32-bit program natively (no IA-32 emulation) "
                  "and has no qemu-system-i386 to take the reference from")
            return 77
        if a.kind == "qemu":
            print("SKIP: this host cannot run the 32-bit program natively (no IA-32 emulation): "
                  "QEMU would be compared with itself")
            return 77
        ref_name = "QEMU"
        ref_cmd = [a.reference_emulator, "-m", "256", "-kernel", kernel, "-initrd", initrd,
                   "-append", CMDLINE, "-display", "none", "-serial", "stdio", "-monitor", "none",
                   "-no-reboot"]
        print("run_insn_test: reference:", " ".join(ref_cmd), flush=True)
        ref_log = (a.log or f"linux-insn-{a.kind}.log") + ".reference"
        ref_lines, ref_status, ref_timed_out = run_emulator(ref_cmd, a.timeout, ref_log)
        expected = section(ref_lines)
        if ref_timed_out or ref_status != 0 or expected is None:
            print(f"run_insn_test: FAIL: the reference run under {a.reference_emulator} did not "
                  f"complete (status {ref_status}; output in {ref_log})", file=sys.stderr)
            return 1
        # QEMU's TCG does not check data segment limits (see linux.insn.qemu).
        a.known_difference.append("read past the fs limit")
    else:
        ref_name = "native"
        nat = subprocess.run([native], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             timeout=120)
        expected = nat.stdout.decode("utf-8", "replace").splitlines()
        expected.append(f"insn-test exit status: {nat.returncode}")
        if nat.returncode != 0:
            print(f"run_insn_test: FAIL: the native run exited with status {nat.returncode}",
                  file=sys.stderr)
            return 1

    print("run_insn_test:", " ".join(cmd), flush=True)
    log_path = a.log or f"linux-insn-{a.kind}.log"
    lines, status, timed_out = run_emulator(cmd, a.timeout, log_path)
    got = section(lines)

    if a.known_difference:
        expected = drop_checks(expected, a.known_difference)
        if got is not None:
            got = drop_checks(got, a.known_difference)

    ok = True
    if timed_out:
        print(f"run_insn_test: FAIL: no exit after {a.timeout:.0f} s", file=sys.stderr)
        ok = False
    elif status != 0:
        print(f"run_insn_test: FAIL: exit status {status}, expected 0 (guest power-off)",
              file=sys.stderr)
        ok = False
    if got is None:
        print("run_insn_test: FAIL: no complete VMM-INSN-BEGIN/VMM-INSN-END section",
              file=sys.stderr)
        ok = False
    elif got != expected:
        print(f"run_insn_test: FAIL: the guest's output differs from the {ref_name} run:",
              file=sys.stderr)
        sys.stderr.writelines(difflib.unified_diff([l + "\n" for l in expected],
                                                   [l + "\n" for l in got], ref_name, "guest"))
        ok = False
    if not ok:
        print("run_insn_test: last lines of the console (whole output in " + log_path + "):",
              file=sys.stderr)
        for line in lines[-15:]:
            print("  | " + line, file=sys.stderr)
        return 1
    print(f"run_insn_test: PASS ({len(expected)} lines equal to the {ref_name} run)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""The Linux guest's shell on an interactive console, through a
pseudo-terminal (as a person at a terminal would use scripts/run-linux.sh).

    linux_console_test.py [--guest DIR] [--timeout S] vmm|qemu EMULATOR [ARGS...]

Boots build/linux/{vmlinuz,initrd.gz} (scripts/linux-guest.sh) without
vmm.test=1, on a pty that is the emulator's controlling terminal, and:
waits for the busybox prompt; types a command and reads its output; starts
`sleep 600` and interrupts it with Ctrl-C (the prompt must come back, so the
byte reached the guest's shell as a signal); types Ctrl-A x, which must end
the emulator with status 0 and the terminal's settings as they were. QEMU
runs with -nographic, whose console has the same keys.

Exit status: 0 pass, 1 fail, 77 (ctest's skip) when QEMU is not installed.
"""
import argparse
import fcntl
import os
import pty
import select
import shutil
import subprocess
import sys
import termios
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROMPT = b"/ # "


class Fail(Exception):
    pass


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--guest", default=os.path.join(ROOT, "build", "linux"))
    ap.add_argument("--timeout", type=float, default=300, help="seconds to the first prompt")
    ap.add_argument("kind", choices=["vmm", "qemu"])
    ap.add_argument("emulator")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    kernel = os.path.join(a.guest, "vmlinuz")
    initrd = os.path.join(a.guest, "initrd.gz")
    cmd = [a.emulator, "-m", "256", "-kernel", kernel, "-initrd", initrd, "-append", "console=ttyS0 panic=-1",
           "-no-reboot"]
    if a.kind == "qemu":
        if shutil.which(a.emulator) is None:
            print(f"SKIP: {a.emulator} is not installed")
            return 77
        cmd.append("-nographic")
    cmd += a.args

    master, slave = pty.openpty()
    attrs = termios.tcgetattr(slave)
    attrs[3] |= termios.ICANON | termios.ECHO | termios.ISIG
    termios.tcsetattr(slave, termios.TCSANOW, attrs)
    before = termios.tcgetattr(slave)

    def child_setup():
        os.setsid()
        fcntl.ioctl(slave, termios.TIOCSCTTY, 0)

    print("linux_console_test:", " ".join(cmd), flush=True)
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=slave, stdout=slave, stderr=slave, preexec_fn=child_setup,
                            close_fds=True)
    out = bytearray()
    seen = 0  # out[seen:] is what the next expect() looks at.

    def expect(text, timeout):
        nonlocal seen
        end = time.monotonic() + timeout
        while True:
            i = out.find(text, seen)
            if i >= 0:
                seen = i + len(text)
                return
            left = end - time.monotonic()
            if left <= 0 or proc.poll() is not None:
                raise Fail(f"no {text!r} within {timeout:.0f} s; last output: {bytes(out[-400:])!r}")
            if select.select([master], [], [], min(left, 0.5))[0]:
                try:
                    out.extend(os.read(master, 4096))
                except OSError:
                    pass

    try:
        expect(PROMPT, a.timeout)
        print(f"linux_console_test: prompt after {time.monotonic() - t0:.2f} s")
        os.write(master, b"echo answer=$((6 * 7))\r")
        expect(b"answer=42", 30)
        expect(PROMPT, 30)
        os.write(master, b"sleep 600; echo sleep-$((1 + 1))-ended\r")
        time.sleep(1)
        t1 = time.monotonic()
        os.write(master, b"\x03")
        expect(PROMPT, 30)
        if b"sleep-2-ended" in out:
            raise Fail("Ctrl-C did not interrupt sleep")
        print(f"linux_console_test: Ctrl-C interrupted sleep in {time.monotonic() - t1:.2f} s")
        os.write(master, b"echo still-here\r")
        expect(b"still-here", 30)
        expect(PROMPT, 30)
        os.write(master, b"\x01x")
        end = time.monotonic() + 30
        while proc.poll() is None and time.monotonic() < end:
            if select.select([master], [], [], 0.1)[0]:
                try:
                    out.extend(os.read(master, 4096))
                except OSError:
                    pass
        if proc.poll() is None:
            raise Fail("Ctrl-A x did not end the emulator")
        if proc.returncode != 0:
            raise Fail(f"Ctrl-A x: exit status {proc.returncode}, expected 0")
        if termios.tcgetattr(slave) != before:
            raise Fail("terminal settings not restored after Ctrl-A x")
    except Fail as e:
        print(f"linux_console_test: FAIL: {e}")
        return 1
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    print("linux_console_test: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())

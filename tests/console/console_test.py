#!/usr/bin/env python3
"""The interactive console (runtime/console.h) driven through a
pseudo-terminal, with the echo guest (tests/console/echo.c) on COM1.

    console_test.py VMM ECHO_ELF NOT_A_KERNEL CASE

vmm runs with the pty's slave as its controlling terminal and stdin, stdout
and stderr; the test types on the master. CASE:

  keys     while vmm runs the terminal is in raw mode (no ECHO, ICANON,
           ISIG); a typed line comes back from the guest; Ctrl-C and Ctrl-Z
           reach the guest as bytes (vmm keeps running); Ctrl-A a and
           Ctrl-A Ctrl-A send Ctrl-A; Ctrl-A h lists the keys; Ctrl-A x
           ends vmm with status 0
  sigterm  SIGTERM ends vmm by that signal
  sighup   SIGHUP likewise
  sigsegv  SIGSEGV (sent to vmm running the interpreter) ends it by that
           signal
  abort    SIGABRT likewise
  error    a -kernel file vmm refuses after opening the console: status 2,
           its one-line message
  pipe     stdin not a terminal (a pipe): the terminal on stdout is left
           alone and the guest still gets the piped line

In every case the terminal's settings afterwards (termios and `stty -g`)
must be the ones it had before vmm started.
"""
import fcntl
import os
import pty
import resource
import select
import signal
import subprocess
import sys
import termios
import time

TIMEOUT = 30


class Fail(Exception):
    pass


def stty_g(fd):
    return subprocess.run(["stty", "-g"], stdin=fd, capture_output=True, text=True, check=True).stdout.strip()


class Vmm:
    def __init__(self, argv, stdin_pipe=False):
        self.master, self.slave = pty.openpty()
        # A terminal as a shell leaves it: canonical mode, echo, signal keys.
        attrs = termios.tcgetattr(self.slave)
        attrs[3] |= termios.ICANON | termios.ECHO | termios.ISIG
        termios.tcsetattr(self.slave, termios.TCSANOW, attrs)
        self.before = termios.tcgetattr(self.slave)
        self.before_stty = stty_g(self.slave)
        self.out = b""
        slave = self.slave

        def child_setup():
            resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # No core files from the fatal signals.
            os.setsid()  # A session of its own, the pty as its terminal,
            fcntl.ioctl(slave, termios.TIOCSCTTY, 0)  # vmm in its foreground.

        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE if stdin_pipe else slave,
                                     stdout=slave, stderr=slave, preexec_fn=child_setup,
                                     close_fds=True)

    def read_until(self, text, timeout=TIMEOUT):
        want = text.encode()
        end = time.monotonic() + timeout
        while want not in self.out:
            left = end - time.monotonic()
            if left <= 0:
                raise Fail(f"no {text!r} within {timeout} s; output so far: {self.out!r}")
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:
                    chunk = b""
                if not chunk:
                    raise Fail(f"terminal closed before {text!r}; output: {self.out!r}")
                self.out += chunk
        # Consume up to the match so the next read_until looks at new output.
        i = self.out.index(want) + len(want)
        seen, self.out = self.out[:i], self.out[i:]
        return seen

    def type(self, data):
        os.write(self.master, data)

    def wait(self, timeout=TIMEOUT):
        end = time.monotonic() + timeout
        while self.proc.poll() is None:
            if time.monotonic() > end:
                self.proc.kill()
                raise Fail(f"vmm did not exit within {timeout} s")
            r, _, _ = select.select([self.master], [], [], 0.05)
            if r:
                try:
                    self.out += os.read(self.master, 4096)
                except OSError:
                    pass
        # What it wrote last.
        while select.select([self.master], [], [], 0.2)[0]:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            self.out += chunk
        return self.proc.returncode

    def check_restored(self):
        after = termios.tcgetattr(self.slave)
        after_stty = stty_g(self.slave)
        if after != self.before or after_stty != self.before_stty:
            raise Fail(f"terminal not restored: stty -g before {self.before_stty}, after {after_stty}")

    def raw_now(self):
        lflag = termios.tcgetattr(self.slave)[3]
        return not (lflag & (termios.ECHO | termios.ICANON | termios.ISIG))

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.master)
        os.close(self.slave)


def case_keys(vmm, elf, _):
    v = Vmm([vmm, "-m", "16", "-kernel", elf])
    try:
        v.read_until("echo guest ready")
        if not v.raw_now():
            raise Fail("the terminal is not in raw mode while vmm runs: " + stty_g(v.slave))
        v.type(b"hello console\r")
        v.read_until("line: hello console")
        # Ctrl-C, Ctrl-Z, Ctrl-\ are bytes for the guest; vmm lives on.
        v.type(b"a\x03b\x1ac\x1c\r")
        v.read_until("line: a[03]b[1a]c[1c]")
        # Ctrl-A a and Ctrl-A Ctrl-A send one Ctrl-A each; Ctrl-A with an
        # unknown key sends nothing.
        v.type(b"x\x01ay\x01\x01z\x01q!\r")
        v.read_until("line: x[01]y[01]z!")
        v.type(b"\x01h")
        v.read_until("Ctrl-A x")
        if v.proc.poll() is not None:
            raise Fail(f"vmm exited early with {v.proc.returncode}")
        v.type(b"\x01x")
        status = v.wait()
        if status != 0:
            raise Fail(f"Ctrl-A x: exit status {status}, expected 0; output {v.out!r}")
        v.check_restored()
    finally:
        v.close()


def case_signal(sig, *vmm_args):
    def run(vmm, elf, _):
        v = Vmm([vmm, "-m", "16", "-kernel", elf, *vmm_args])
        try:
            v.read_until("echo guest ready")
            if not v.raw_now():
                raise Fail("the terminal is not in raw mode while vmm runs")
            v.proc.send_signal(sig)
            status = v.wait()
            if status != -sig:
                raise Fail(f"after {signal.Signals(sig).name}: exit status {status}, expected death by the signal")
            v.check_restored()
        finally:
            v.close()
    return run


def case_error(vmm, _, bad):
    v = Vmm([vmm, "-m", "16", "-kernel", bad])
    try:
        status = v.wait()
        if status != 2:
            raise Fail(f"bad kernel: exit status {status}, expected 2; output {v.out!r}")
        if bad.encode() not in v.out:
            raise Fail(f"bad kernel: no message naming the file; output {v.out!r}")
        v.check_restored()
    finally:
        v.close()


def case_pipe(vmm, elf, _):
    v = Vmm([vmm, "-m", "16", "-kernel", elf], stdin_pipe=True)
    try:
        v.read_until("echo guest ready")
        if v.raw_now():
            raise Fail("stdin is a pipe, yet vmm put the terminal in raw mode")
        v.proc.stdin.write(b"piped\r")
        v.proc.stdin.flush()
        v.read_until("line: piped")
        v.proc.terminate()
        v.wait()
        v.check_restored()
    finally:
        v.close()


CASES = {
    "keys": case_keys,
    "sigterm": case_signal(signal.SIGTERM),
    "sighup": case_signal(signal.SIGHUP),
    # The interpreter: the JIT's own SIGSEGV handler takes a signal sent
    # with kill() for one of its own (it passes real faults on).
    "sigsegv": case_signal(signal.SIGSEGV, "--engine=interp"),
    "abort": case_signal(signal.SIGABRT),
    "error": case_error,
    "pipe": case_pipe,
}


def main():
    if len(sys.argv) != 5 or sys.argv[4] not in CASES:
        print(__doc__, file=sys.stderr)
        return 2
    vmm, elf, bad, case = sys.argv[1:]
    try:
        CASES[case](vmm, elf, bad)
    except Fail as e:
        print(f"console_test {case}: FAIL: {e}")
        return 1
    print(f"console_test {case}: PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())

// The process sandbox (-sandbox on, the default; QEMU's spelling): once the
// machine is built and every file the run needs is open, a seccomp filter
// (libseccomp) allows only the system calls the run loop makes, on objects
// that already exist:
//   - the console and already-open files: read, write, poll, fstat, close,
//     terminal ioctls (TCGETS/TCSETS*, TIOCGWINSZ);
//   - the clock: clock_gettime, nanosleep and their kin;
//   - memory: mmap, mprotect, munmap, madvise, mremap, brk, never with
//     PROT_EXEC (the JIT's code buffer is mapped read-execute before the
//     filter goes on and is written through its second, writable mapping),
//     and the hole-punching fallocate that clears guest RAM on a reset;
//   - signals (the guest views' and the JIT's host traps), futex, exit.
// Everything else — opening files, creating processes or threads, sockets,
// ptrace, execve, new executable memory — traps: the SIGSYS handler writes
// one line naming the call and the host PC that made it, restores the
// terminal, and the process is killed by SIGSYS. A guest can only get there
// through a bug in vmm; the filter is the second line of defence behind the
// translator's rule that no guest instruction reaches the host natively.
//
// Builds with AddressSanitizer trap only sockets and new executable memory:
// the sanitizer's runtime makes calls of its own at any time (reports, the
// leak checker's tracer thread at exit).
#pragma once

#include <string>

namespace vmm {

// Installs the filter for the rest of the process's life (it cannot be
// lifted). Returns false with a one-line reason in `error` when the kernel
// refuses it.
bool enter_sandbox(std::string& error);

}  // namespace vmm

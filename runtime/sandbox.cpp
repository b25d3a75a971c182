#include "runtime/sandbox.h"

#include <fcntl.h>
#include <linux/audit.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <termios.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "runtime/console.h"
#include "runtime/sanitizers.h"

namespace vmm {

namespace {

// Names of the host's system calls, resolved before the filter goes on:
// the SIGSYS handler may not allocate.
constexpr int kNamedCalls = 512;
char g_names[kNamedCalls][24];

void remember_names() {
  for (int nr = 0; nr < kNamedCalls; ++nr) {
    char* name = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);
    std::snprintf(g_names[nr], sizeof g_names[nr], "%s", name ? name : "");
    std::free(name);
  }
}

// A forbidden call: one line, the terminal restored, then death by SIGSYS
// (the default action of a seccomp trap, with a core dump where enabled).
void on_forbidden_call(int, siginfo_t* info, void* ctx) {
  const int nr = info->si_syscall;
  const bool native = info->si_arch == AUDIT_ARCH_X86_64;
  const char* name = native && nr >= 0 && nr < kNamedCalls && g_names[nr][0] ? g_names[nr] : "?";
  const auto pc = static_cast<unsigned long>(static_cast<ucontext_t*>(ctx)->uc_mcontext.gregs[REG_RIP]);
  char msg[200];
  const int n = std::snprintf(msg, sizeof msg,
                              "vmm: sandbox: forbidden %ssystem call %s (%d) "
                              "at host pc %#lx; killing the process "
                              "(-sandbox off disables the sandbox)\n",
                              native ? "" : "non-x86-64 ", name, nr, pc);
  if (n > 0) (void)!write(STDERR_FILENO, msg, static_cast<size_t>(n < int{sizeof msg} ? n : sizeof msg - 1));
  TerminalConsole::restore_from_signal_handler();
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(SIGSYS, &dfl, nullptr);
  sigset_t unblock;
  sigemptyset(&unblock);
  sigaddset(&unblock, SIGSYS);
  raise(SIGSYS);
  sigprocmask(SIG_UNBLOCK, &unblock, nullptr);
  _exit(128 + SIGSYS);  // Not reached: the unblocked SIGSYS ends the process.
}

// One argument comparison (libseccomp's SCMP_An macros leave fields to
// aggregate initialisation, which clang warns about).
scmp_arg_cmp arg(unsigned index, scmp_compare op, scmp_datum_t a, scmp_datum_t b = 0) {
  scmp_arg_cmp c{};
  c.arg = index;
  c.op = op;
  c.datum_a = a;
  c.datum_b = b;
  return c;
}

struct FilterDeleter {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

class Filter {
 public:
  explicit Filter(uint32_t default_action) : ctx_(seccomp_init(default_action)) {}
  bool ok() const { return ctx_ != nullptr && error_ == 0; }
  int error() const { return error_; }
  scmp_filter_ctx get() const { return ctx_.get(); }

  void allow(int nr) { note(seccomp_rule_add(ctx_.get(), SCMP_ACT_ALLOW, nr, 0)); }
  void trap(int nr) { note(seccomp_rule_add(ctx_.get(), SCMP_ACT_TRAP, nr, 0)); }
  void trap_if(int nr, scmp_arg_cmp cmp) { note(seccomp_rule_add(ctx_.get(), SCMP_ACT_TRAP, nr, 1, cmp)); }
  void allow_if(int nr, scmp_arg_cmp cmp) { note(seccomp_rule_add(ctx_.get(), SCMP_ACT_ALLOW, nr, 1, cmp)); }
  void attribute(scmp_filter_attr a, uint32_t v) { note(seccomp_attr_set(ctx_.get(), a, v)); }

 private:
  void note(int rc) {
    if (rc != 0 && error_ == 0) error_ = rc;
  }
  std::unique_ptr<void, FilterDeleter> ctx_;
  int error_ = 0;
};

void build_rules(Filter& f) {
  // The console and files opened before the filter went on.
  for (int nr : {SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(readv), SCMP_SYS(writev), SCMP_SYS(poll), SCMP_SYS(ppoll),
                 SCMP_SYS(select), SCMP_SYS(pselect6), SCMP_SYS(lseek), SCMP_SYS(close), SCMP_SYS(fstat)})
    f.allow(nr);
  // glibc's fstat: newfstatat(fd, "", buf, AT_EMPTY_PATH); with a path it could
  // look at any file.
  f.allow_if(SCMP_SYS(newfstatat), arg(3, SCMP_CMP_EQ, AT_EMPTY_PATH));
  // Terminal mode (isatty, raw mode on and off) and the window size.
  for (unsigned long request : {TCGETS, TCSETS, TCSETSW, TCSETSF, TIOCGWINSZ})
    f.allow_if(SCMP_SYS(ioctl), arg(1, SCMP_CMP_MASKED_EQ, 0xffffffffu, request));
  // The clock and waiting for it.
  for (int nr : {SCMP_SYS(clock_gettime), SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday), SCMP_SYS(time),
                 SCMP_SYS(nanosleep), SCMP_SYS(clock_nanosleep)})
    f.allow(nr);
  // Memory: the guest views remap guest RAM's memory file, the allocator
  // grows and shrinks; nothing may become executable.
  f.allow_if(SCMP_SYS(mmap), arg(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  f.allow_if(SCMP_SYS(mprotect), arg(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0));
  for (int nr : {SCMP_SYS(munmap), SCMP_SYS(madvise), SCMP_SYS(mremap), SCMP_SYS(brk)}) f.allow(nr);
  // GuestRam::clear (a reset) punches the whole file out.
  f.allow_if(SCMP_SYS(fallocate), arg(1, SCMP_CMP_EQ, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE));
  // Signals: host traps in translated code, the console's handlers, raise().
  for (int nr : {SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigreturn), SCMP_SYS(sigaltstack),
                 SCMP_SYS(restart_syscall), SCMP_SYS(getpid), SCMP_SYS(gettid)})
    f.allow(nr);
  const auto self = static_cast<scmp_datum_t>(getpid());
  f.allow_if(SCMP_SYS(tgkill), arg(0, SCMP_CMP_EQ, self));
  f.allow_if(SCMP_SYS(kill), arg(0, SCMP_CMP_EQ, self));
  // Locks inside the C library, and the way out.
  for (int nr : {SCMP_SYS(futex), SCMP_SYS(sched_yield), SCMP_SYS(exit), SCMP_SYS(exit_group)}) f.allow(nr);

  // Calls through another ABI (INT 0x80 from this 64-bit process) trap too.
  f.attribute(SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_TRAP);
}

// AddressSanitizer's runtime makes system calls of its own at any time
// (reports read /proc/self/maps and start the symbolizer; LeakSanitizer
// stops the process from a tracer thread at exit, with every signal
// blocked, so a trap there would hang it). Sanitizer builds therefore trap
// only the calls that give a guest-reachable bug the most power: sockets
// and new executable memory.
void build_sanitizer_rules(Filter& f) {
  for (int nr : {SCMP_SYS(socket), SCMP_SYS(socketpair), SCMP_SYS(connect), SCMP_SYS(bind), SCMP_SYS(listen),
                 SCMP_SYS(accept), SCMP_SYS(accept4)})
    f.trap(nr);
  f.trap_if(SCMP_SYS(mmap), arg(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
  f.trap_if(SCMP_SYS(mprotect), arg(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, PROT_EXEC));
}

}  // namespace

bool enter_sandbox(std::string& error) {
  remember_names();
  Filter filter(kAddressSanitizer ? SCMP_ACT_ALLOW : SCMP_ACT_TRAP);
  if (filter.get() == nullptr) {
    error = "sandbox: cannot create a seccomp filter";
    return false;
  }
  if (kAddressSanitizer)
    build_sanitizer_rules(filter);
  else
    build_rules(filter);
  if (!filter.ok()) {
    error = std::string("sandbox: cannot build the seccomp filter: ") + std::strerror(-filter.error());
    return false;
  }
  struct sigaction sa {};
  sa.sa_sigaction = on_forbidden_call;
  sa.sa_flags = SA_SIGINFO;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSYS, &sa, nullptr) != 0) {
    error = std::string("sandbox: cannot install the SIGSYS handler: ") + std::strerror(errno);
    return false;
  }
  // seccomp_load sets no_new_privs first (SCMP_FLTATR_CTL_NNP is on by
  // default).
  if (const int rc = seccomp_load(filter.get()); rc != 0) {
    error = std::string("sandbox: the kernel refused the seccomp filter: ") + std::strerror(-rc);
    return false;
  }
  return true;
}

}  // namespace vmm

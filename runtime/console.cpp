#include "runtime/console.h"

#include <poll.h>
#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace vmm {

namespace {

// Process-wide state: signal handlers and atexit() reach it without the
// console object. Written only while no handler is installed, or (g_raw_on)
// as a single flag.
int g_fd = -1;
struct termios g_saved;  // The terminal as it was found.
struct termios g_raw;    // Raw mode, set while g_raw_on.
volatile sig_atomic_t g_raw_on = 0;
TerminalConsole* g_console = nullptr;
bool g_atexit_registered = false;

// Signals whose default action ends (or stops) the process with the terminal
// as the console left it.
constexpr int kSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGPIPE, SIGABRT,
                            SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGTSTP, SIGCONT};
constexpr size_t kSignalCount = sizeof kSignals / sizeof kSignals[0];
struct sigaction g_previous[kSignalCount];
bool g_installed[kSignalCount];

// Async-signal-safe.
void restore_terminal() {
  if (g_raw_on) {
    g_raw_on = 0;
    tcsetattr(g_fd, TCSANOW, &g_saved);
  }
}

void enter_raw() {
  if (tcsetattr(g_fd, TCSANOW, &g_raw) == 0) g_raw_on = 1;
}

void on_signal(int sig) {
  const int saved_errno = errno;
  if (sig == SIGCONT) {
    // Back in the foreground after a stop: raw mode again.
    if (g_console && !g_raw_on) enter_raw();
    errno = saved_errno;
    return;
  }
  restore_terminal();
  if (sig == SIGTSTP) {
    // Stop as the default action would; SIGCONT resumes here.
    struct sigaction dfl {};
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    struct sigaction mine {};
    sigaction(SIGTSTP, &dfl, &mine);
    sigset_t unblock;
    sigemptyset(&unblock);
    sigaddset(&unblock, SIGTSTP);
    raise(SIGTSTP);
    sigprocmask(SIG_UNBLOCK, &unblock, nullptr);  // Delivered here: the process stops.
    sigaction(SIGTSTP, &mine, nullptr);
    errno = saved_errno;
    return;
  }
  // Everything else: the default action, with the terminal restored. A
  // fault raised by an instruction is raised again on return as well.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  sigaction(sig, &dfl, nullptr);
  raise(sig);  // Pending until the handler returns (the signal is blocked in it).
  errno = saved_errno;
}

void install_handlers() {
  for (size_t i = 0; i < kSignalCount; ++i) {
    struct sigaction current {};
    g_installed[i] = false;
    if (sigaction(kSignals[i], nullptr, &current) != 0) continue;
    // An ignored signal or one with a handler of its own keeps it.
    if ((current.sa_flags & SA_SIGINFO) || current.sa_handler != SIG_DFL) continue;
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = kSignals[i] == SIGCONT || kSignals[i] == SIGTSTP ? SA_RESTART : 0;
    if (sigaction(kSignals[i], &sa, &g_previous[i]) == 0) g_installed[i] = true;
  }
}

void uninstall_handlers() {
  for (size_t i = 0; i < kSignalCount; ++i) {
    if (g_installed[i]) sigaction(kSignals[i], &g_previous[i], nullptr);
    g_installed[i] = false;
  }
}

constexpr const char kHelp[] =
    "\r\n"
    "vmm console keys:\r\n"
    "  Ctrl-A h    print this help\r\n"
    "  Ctrl-A x    exit vmm\r\n"
    "  Ctrl-A a    send Ctrl-A to the guest (also Ctrl-A Ctrl-A)\r\n";

}  // namespace

std::unique_ptr<TerminalConsole> TerminalConsole::open(int in_fd, int out_fd) {
  if (g_console || !isatty(in_fd)) return nullptr;
  // A background job may not change the terminal (it would be stopped).
  if (tcgetpgrp(in_fd) != getpgrp()) return nullptr;
  struct termios saved;
  if (tcgetattr(in_fd, &saved) != 0) return nullptr;

  // Raw input as QEMU's stdio character device sets it: no echo, no
  // canonical mode, no signal keys, 8-bit bytes; output processing kept, so
  // the host terminal still turns a lone "\n" into a new line.
  struct termios raw = saved;
  raw.c_iflag &= ~(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON);
  raw.c_oflag |= OPOST;
  raw.c_lflag &= ~(ECHO | ECHONL | ICANON | IEXTEN | ISIG);
  raw.c_cflag &= ~(CSIZE | PARENB);
  raw.c_cflag |= CS8;
  raw.c_cc[VMIN] = 1;
  raw.c_cc[VTIME] = 0;

  std::unique_ptr<TerminalConsole> console(new TerminalConsole(in_fd, out_fd));
  g_fd = in_fd;
  g_saved = saved;
  g_raw = raw;
  g_console = console.get();
  install_handlers();
  if (!g_atexit_registered) {
    g_atexit_registered = true;
    std::atexit(restore_terminal);
  }
  enter_raw();
  if (!g_raw_on) return nullptr;  // The destructor puts the handlers back.
  return console;
}

TerminalConsole* TerminalConsole::active() { return g_console; }

void TerminalConsole::restore_from_signal_handler() { restore_terminal(); }

TerminalConsole::TerminalConsole(int in_fd, int out_fd) : in_fd_(in_fd), out_fd_(out_fd) {}

TerminalConsole::~TerminalConsole() {
  restore_terminal();
  uninstall_handlers();
  g_console = nullptr;
}

void TerminalConsole::print(const char* text) {
  std::fflush(stdout);  // After the guest's output so far.
  size_t left = std::strlen(text);
  while (left > 0) {
    const ssize_t n = ::write(out_fd_, text, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    text += n;
    left -= static_cast<size_t>(n);
  }
}

void TerminalConsole::handle(uint8_t byte) {
  if (escape_) {
    escape_ = false;
    switch (byte) {
      case 'x':
      case 'X':
        quit_ = true;
        print("\r\nvmm: terminated (Ctrl-A x)\r\n");
        return;
      case 'h':
      case 'H':
      case '?':
        print(kHelp);
        return;
      case 'a':
      case kEscape:
        break;  // Ctrl-A itself goes to the guest.
      default:
        return;  // Unknown keys after Ctrl-A are dropped, as QEMU does.
    }
    byte = kEscape;
  } else if (byte == kEscape) {
    escape_ = true;
    return;
  }
  if (tail_ == kMaxPending && head_ > 0) {
    std::memmove(pending_, pending_ + head_, tail_ - head_);
    tail_ -= head_;
    head_ = 0;
  }
  if (tail_ < kMaxPending) pending_[tail_++] = byte;
}

TerminalConsole::Status TerminalConsole::pump(const std::function<bool()>& can_receive,
                                              const std::function<void(uint8_t)>& receive) {
  // The guest's output reaches the terminal at least as often as input is
  // read, also when it ends without a new line (a prompt, an echoed key).
  std::fflush(stdout);
  auto deliver = [&] {
    while (head_ < tail_ && can_receive()) receive(pending_[head_++]);
    if (head_ == tail_) head_ = tail_ = 0;
  };
  deliver();
  while (!quit_ && !closed_) {
    pollfd p{in_fd_, POLLIN, 0};
    if (::poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP | POLLERR))) break;
    uint8_t buf[256];
    const ssize_t n = ::read(in_fd_, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) break;
    if (n <= 0) {
      closed_ = true;  // Hang-up or error: no more input.
      break;
    }
    for (ssize_t i = 0; i < n && !quit_; ++i) handle(buf[i]);
    deliver();
  }
  if (quit_) return Status::kQuit;
  return closed_ ? Status::kClosed : Status::kOpen;
}

}  // namespace vmm

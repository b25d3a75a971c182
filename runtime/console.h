// The host terminal as the guest's serial console, like `qemu -nographic`:
// the terminal in raw mode (no echo, no line editing, no signals from
// Ctrl-C/Ctrl-Z/Ctrl-\, which go to the guest as bytes), and an escape key:
//
//   Ctrl-A x        quit vmm (status 0)
//   Ctrl-A h or ?   print the keys
//   Ctrl-A a        send Ctrl-A to the guest (so does Ctrl-A Ctrl-A)
//
// The terminal settings are restored on every way out of the process: the
// console's destructor, exit() (atexit), and fatal signals (SIGTERM, SIGINT,
// SIGHUP, SIGQUIT, SIGPIPE, SIGABRT, SIGSEGV, SIGBUS, SIGILL, SIGFPE), whose
// handlers restore the terminal and raise the signal again with its default
// action. SIGTSTP restores the terminal before stopping and SIGCONT puts it
// back in raw mode. A signal that already has a handler or is ignored when the
// console opens keeps it; the JIT's fault handler (jit/host_trap.cpp),
// installed later, passes the faults that are not its own on to these.
//
// There is at most one console per process (TerminalConsole::active()),
// read by the machine that has COM1 on stdio; under --lockstep the reference
// machine does not see Ctrl-A x, so quitting that way reports the engines as
// disagreeing.
#pragma once

#include <termios.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>

namespace vmm {

class TerminalConsole {
 public:
  // Takes over the terminal `in_fd` when it is one and this process is in
  // its foreground; nullptr otherwise (input then works as from a pipe).
  // `out_fd` receives the console's own messages (the key list).
  static std::unique_ptr<TerminalConsole> open(int in_fd, int out_fd);
  // The open console, or nullptr.
  static TerminalConsole* active();
  // Puts the terminal back as it was found, from a signal handler that is
  // about to end the process (async-signal-safe; nothing when no console
  // is open or it is not in raw mode).
  static void restore_from_signal_handler();

  ~TerminalConsole();
  TerminalConsole(const TerminalConsole&) = delete;
  TerminalConsole& operator=(const TerminalConsole&) = delete;

  enum class Status { kOpen, kQuit, kClosed };
  // Reads what the terminal has typed (never blocks), handles the escape
  // keys, and hands the guest's bytes to `receive` while `can_receive()`
  // says the device takes them; bytes it does not take yet wait here (up to
  // kMaxPending; more typed ahead is dropped). Flushes stdout first.
  // kQuit once Ctrl-A x was typed, kClosed when the terminal has gone
  // (hang-up).
  Status pump(const std::function<bool()>& can_receive, const std::function<void(uint8_t)>& receive);

  int fd() const { return in_fd_; }

  static constexpr size_t kMaxPending = 64 * 1024;
  static constexpr uint8_t kEscape = 0x01;  // Ctrl-A

 private:
  TerminalConsole(int in_fd, int out_fd);
  void handle(uint8_t byte);
  void print(const char* text);

  int in_fd_;
  int out_fd_;
  bool escape_ = false;
  bool quit_ = false;
  bool closed_ = false;
  uint8_t pending_[kMaxPending];
  size_t head_ = 0;  // pending_[head_, tail_) waits for the device.
  size_t tail_ = 0;
};

}  // namespace vmm

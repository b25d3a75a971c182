#include "runtime/profiler.h"

#include <cxxabi.h>
#include <dlfcn.h>
#include <signal.h>
#include <sys/time.h>
#include <ucontext.h>

#include <algorithm>
#include <cinttypes>
#include <cstring>
#include <stdexcept>

#include "frontend/block.h"
#include "jit/jit_engine.h"
#include "jit/translator.h"
#include "runtime/cpu.h"

namespace vmm {

namespace {

// What the handler records. The interpreter's block is copied in (not
// pointed to): the block may be freed before the sample is attributed.
struct Sample {
  uintptr_t pc;
  uint32_t phys, eip, mode;
  bool interpreting;
};

// About 65 s of samples at 1 kHz between two drains; the run loop drains
// far more often (every translation retired, every slice), and samples
// beyond the array are counted as lost rather than written.
constexpr size_t kMaxSamples = 1 << 16;
Sample g_samples[kMaxSamples];
std::atomic<size_t> g_count{0};
std::atomic<uint64_t> g_lost{0};
// The block the interpreter runs, written by the run loop, read by the handler.
struct Current {
  std::atomic<bool> on{false};
  std::atomic<uint32_t> phys{0}, eip{0}, mode{0};
} g_current;
Profiler* g_active = nullptr;
struct sigaction g_previous;

void on_sigprof(int, siginfo_t*, void* ctx) {
  const size_t i = g_count.load(std::memory_order_relaxed);
  if (i >= kMaxSamples) {
    g_lost.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  auto* uc = static_cast<ucontext_t*>(ctx);
  Sample& s = g_samples[i];
  s.pc = static_cast<uintptr_t>(uc->uc_mcontext.gregs[REG_RIP]);
  s.interpreting = g_current.on.load(std::memory_order_relaxed);
  s.phys = g_current.phys.load(std::memory_order_relaxed);
  s.eip = g_current.eip.load(std::memory_order_relaxed);
  s.mode = g_current.mode.load(std::memory_order_relaxed);
  // Published after it is written: drain() reads [0, count).
  g_count.store(i + 1, std::memory_order_release);
}

// SIG_BLOCK or SIG_UNBLOCK of SIGPROF for this thread; the mask before in `old`.
void mask_sigprof(int how, sigset_t* old = nullptr) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPROF);
  sigprocmask(how, &set, old);
}

// Blocks SIGPROF while drain() empties the array (the handler runs on this
// thread and would write into it).
class ProfSignalBlocked {
 public:
  ProfSignalBlocked() { mask_sigprof(SIG_BLOCK, &old_); }
  ~ProfSignalBlocked() { sigprocmask(SIG_SETMASK, &old_, nullptr); }

 private:
  sigset_t old_;
};

std::string hex32(uint32_t v) {
  char b[16];
  std::snprintf(b, sizeof b, "0x%08x", v);
  return b;
}

}  // namespace

Profiler::Profiler(unsigned hz) : hz_(hz ? hz : 1000) {
  if (g_active) throw std::runtime_error("--profile: one profiler at a time");
  g_active = this;
  g_count.store(0);
  g_lost.store(0);
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_sigprof;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGPROF, &sa, &g_previous);
  mask_sigprof(SIG_UNBLOCK);  // An earlier profiler left it blocked.
  itimerval t{};
  t.it_interval.tv_usec = static_cast<suseconds_t>(1000000 / hz_);
  t.it_value = t.it_interval;
  setitimer(ITIMER_PROF, &t, nullptr);
}

Profiler::~Profiler() {
  // Stopped by blocking the signal: setitimer is not among the system calls
  // the sandbox leaves a running VM.
  mask_sigprof(SIG_BLOCK);
  g_active = nullptr;
}

Profiler::Key Profiler::key_of(const Block& b) { return Key{b.phys_pc, b.virt_pc, b.mode}; }

void Profiler::interpreting(const Block* b) {
  if (!b) {
    g_current.on.store(false, std::memory_order_relaxed);
    return;
  }
  g_current.on.store(false, std::memory_order_relaxed);
  g_current.phys.store(b->phys_pc, std::memory_order_relaxed);
  g_current.eip.store(b->virt_pc, std::memory_order_relaxed);
  g_current.mode.store(b->mode, std::memory_order_relaxed);
  std::atomic_signal_fence(std::memory_order_release);
  g_current.on.store(true, std::memory_order_relaxed);
}

void Profiler::translated(const Block& b) {
  const auto start = reinterpret_cast<uintptr_t>(b.host_code);
  translations_[start] = Range{start + b.host_size, key_of(b)};
  const auto instrs = reinterpret_cast<uintptr_t>(b.instrs.data());
  instr_ranges_[instrs] = Range{instrs + b.instrs.size() * sizeof(b.instrs[0]), key_of(b)};
  last_begin_ = last_end_ = 0;
  Line& l = lines_[key_of(b)];
  ++l.translations;
  l.host_bytes = b.host_size;
}

void Profiler::drain() {
  if (g_count.load(std::memory_order_acquire) == 0) return;
  ProfSignalBlocked blocked;
  const size_t n = g_count.load(std::memory_order_acquire);
  for (size_t i = 0; i < n; ++i) {
    const Sample& s = g_samples[i];
    ++total_samples_;
    auto it = translations_.upper_bound(s.pc);
    if (it != translations_.begin() && s.pc < std::prev(it)->second.end) {
      ++lines_[std::prev(it)->second.key].jit_samples;
    } else if (s.pc >= buffer_begin_ && s.pc < buffer_end_) {
      ++trampoline_samples_;
    } else if (s.interpreting) {
      ++lines_[Key{s.phys, s.eip, s.mode}].interp_samples;
    } else {
      ++outside_samples_;
      // By function where it has an exported symbol, else by the object
      // (vmm's own functions of internal linkage, the host kernel's time).
      Dl_info info{};
      const bool found = dladdr(reinterpret_cast<void*>(s.pc), &info);
      ++host_functions_[!found ? 0 : reinterpret_cast<uintptr_t>(info.dli_saddr ? info.dli_saddr : info.dli_fbase)];
    }
  }
  g_count.store(0, std::memory_order_release);
}

void Profiler::fold(const Block& b) {
  Line& l = lines_[key_of(b)];
  l.jit_entries += b.profile_jit_entries;
  l.interp_entries += b.profile_interp_entries;
  l.guest_instrs = static_cast<uint32_t>(b.instrs.size());
  l.guest_bytes = b.byte_length;
}

Profiler::Line& Profiler::line_of_instr(const void* in) {
  const auto p = reinterpret_cast<uintptr_t>(in);
  if (p >= last_begin_ && p < last_end_) return *last_line_;
  auto it = instr_ranges_.upper_bound(p);
  if (it == instr_ranges_.begin() || p >= std::prev(it)->second.end) return unattributed_;
  --it;
  last_begin_ = it->first;
  last_end_ = it->second.end;
  last_line_ = &lines_[it->second.key];
  return *last_line_;
}

void Profiler::retiring(const Block& b, bool translation_live) {
  drain();
  instr_ranges_.erase(reinterpret_cast<uintptr_t>(b.instrs.data()));
  last_begin_ = last_end_ = 0;
  // (A translation of an older code-buffer generation went at the flush,
  // and its address may now hold another block's.)
  if (translation_live) translations_.erase(reinterpret_cast<uintptr_t>(b.host_code));
  fold(b);
}

void Profiler::flushing() {
  drain();
  translations_.clear();
}

void Profiler::finish(Cpu& cpu) {
  drain();
  mask_sigprof(SIG_BLOCK);
  drain();
  cpu.for_each_block([this](const Block& b) { fold(b); });
}

Profiler::Line Profiler::total_at(uint32_t eip) const {
  Line t;
  for (const auto& [k, l] : lines_) {
    if (k.eip != eip) continue;
    t.jit_samples += l.jit_samples;
    t.interp_samples += l.interp_samples;
    t.jit_entries += l.jit_entries;
    t.interp_entries += l.interp_entries;
    t.helper_calls += l.helper_calls;
    t.slow_paths += l.slow_paths;
  }
  return t;
}

std::vector<std::pair<Profiler::Key, Profiler::Line>> Profiler::ranked() const {
  std::vector<std::pair<Key, Line>> v(lines_.begin(), lines_.end());
  v.erase(std::remove_if(v.begin(), v.end(),
                         [](const auto& e) { return e.second.jit_samples + e.second.interp_samples == 0; }),
          v.end());
  std::sort(v.begin(), v.end(), [](const auto& a, const auto& b) {
    const uint64_t sa = a.second.jit_samples + a.second.interp_samples;
    const uint64_t sb = b.second.jit_samples + b.second.interp_samples;
    return sa != sb ? sa > sb : a.first.phys < b.first.phys;
  });
  return v;
}

namespace {

// The guest code of a block as it is in RAM at the end of the run (read
// physically: no page walk, nothing set in the guest's tables).
std::string guest_code(Cpu& cpu, uint32_t phys, uint32_t eip, uint32_t bytes, uint32_t mode) {
  std::string out;
  const bool code32 = mode & blockmode::kCode32;
  std::vector<uint8_t> buf(bytes + 16, 0);
  const uint32_t page_left = kPageSize - (phys & ~kPageMask);
  for (uint32_t i = 0; i < bytes && i < page_left && phys + i < cpu.ram.size(); ++i)
    buf[i] = cpu.ram.data()[phys + i];
  const Decoder& dec = cpu.decoder_for(code32);
  for (uint32_t off = 0; off < bytes && off < page_left;) {
    InstrRecord r;
    const DecodeStatus st = dec.decode(buf.data() + off, buf.size() - off, r);
    const unsigned len = st == DecodeStatus::kOk && r.length ? r.length : 1;
    out += "    " + hex32(eip + off) + ":  " + dec.disassemble(buf.data() + off, buf.size() - off, eip + off) + "\n";
    off += len;
  }
  if (bytes > page_left) out += "    (continues on the next page)\n";
  return out;
}

}  // namespace

void Profiler::write_text(std::FILE* f, Cpu& cpu, unsigned top) const {
  const auto v = ranked();
  const double total = total_samples_ ? static_cast<double>(total_samples_) : 1.0;
  std::fprintf(f, "--- vmm profile: %" PRIu64 " samples at %u Hz of CPU time", total_samples_, hz_);
  if (const uint64_t lost = g_lost.load()) std::fprintf(f, " (%" PRIu64 " lost)", lost);
  std::fprintf(f, " ---\n");
  uint64_t jit = 0, interp = 0;
  for (const auto& [k, l] : lines_) {
    jit += l.jit_samples;
    interp += l.interp_samples;
  }
  std::fprintf(f, "translated blocks %.1f %%, JIT trampolines (entry, exits, lookup misses, slow-path calls) %.1f %%, "
                  "interpreted blocks %.1f %%, outside guest blocks %.1f %% (run loop, helpers called from "
                  "translated code, devices, host kernel, idle)\n",
               100.0 * jit / total, 100.0 * trampoline_samples_ / total, 100.0 * interp / total,
               100.0 * outside_samples_ / total);
  std::fprintf(f, "%4s %7s %8s  %-10s %-10s %6s %12s %11s %7s %6s %8s %8s\n", "rank", "share", "samples",
               "guest EIP", "phys", "instrs", "jit entries", "interp entr", "host B", "transl", "helpers", "slow");
  for (unsigned i = 0; i < v.size() && i < top; ++i) {
    const auto& [k, l] = v[i];
    const uint64_t s = l.jit_samples + l.interp_samples;
    // Helper calls and slow paths per translated entry.
    const double per = l.jit_entries ? static_cast<double>(l.jit_entries) : 1.0;
    std::fprintf(f, "%4u %6.2f%% %8" PRIu64 "  0x%08x 0x%08x %6u %12" PRIu64 " %11" PRIu64 " %7u %6u %8.2f %8.2f\n",
                 i + 1, 100.0 * s / total, s, k.eip, k.phys, l.guest_instrs, l.jit_entries, l.interp_entries,
                 l.host_bytes, l.translations, l.helper_calls / per, l.slow_paths / per);
  }
  // Where the time outside guest blocks goes.
  std::vector<std::pair<uint64_t, uintptr_t>> fns;
  for (const auto& [addr, n] : host_functions_) fns.emplace_back(n, addr);
  std::sort(fns.rbegin(), fns.rend());
  if (!fns.empty()) std::fprintf(f, "\noutside guest blocks, by host function:\n");
  for (size_t i = 0; i < fns.size() && i < 12; ++i) {
    std::string name = "(not in a loaded object)";
    Dl_info info{};
    if (fns[i].second && dladdr(reinterpret_cast<void*>(fns[i].second), &info)) {
      if (info.dli_sname && info.dli_saddr == reinterpret_cast<void*>(fns[i].second)) {
        int status = 0;
        char* d = abi::__cxa_demangle(info.dli_sname, nullptr, nullptr, &status);
        name = status == 0 && d ? d : info.dli_sname;
        std::free(d);
        if (name.size() > 110) name = name.substr(0, 107) + "...";
      } else {
        const char* file = info.dli_fname ? std::strrchr(info.dli_fname, '/') : nullptr;
        name = std::string("(functions without an exported symbol in ") +
               (file ? file + 1 : info.dli_fname ? info.dli_fname : "?") + ")";
      }
    }
    std::fprintf(f, "  %6.2f%% %8" PRIu64 "  %s\n", 100.0 * fns[i].first / total, fns[i].first, name.c_str());
  }
  // The guest and host code of the hottest blocks.
  std::unordered_map<Key, const Block*, KeyHash> live;
  cpu.for_each_block([&](const Block& b) { live[key_of(b)] = &b; });
  for (unsigned i = 0; i < v.size() && i < 3; ++i) {
    const auto& [k, l] = v[i];
    std::fprintf(f, "\n#%u: guest 0x%08x (phys 0x%08x), code as in RAM at exit:\n", i + 1, k.eip, k.phys);
    std::fputs(guest_code(cpu, k.phys, k.eip, l.guest_bytes, k.mode).c_str(), f);
    auto it = live.find(k);
    const Block* b = it == live.end() ? nullptr : it->second;
    if (b && b->host_code && cpu.jit() && b->jit_generation == cpu.jit()->generation()) {
      std::fprintf(f, "  host code (%u bytes):\n", b->host_size);
      std::string host = jit::disassemble_host(b->host_code, b->host_size);
      size_t pos = 0;
      while (pos < host.size()) {
        const size_t nl = host.find('\n', pos);
        std::fprintf(f, "    %s\n", host.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos).c_str());
        if (nl == std::string::npos) break;
        pos = nl + 1;
      }
    }
  }
}

void Profiler::write_json(std::FILE* f) const {
  std::fprintf(f, "{\"hz\": %u, \"samples\": %" PRIu64 ", \"lost\": %" PRIu64 ", \"jit_trampolines\": %" PRIu64
                  ", \"outside_guest_blocks\": %" PRIu64 ", \"blocks\": [",
               hz_, total_samples_, g_lost.load(), trampoline_samples_, outside_samples_);
  const auto v = ranked();
  for (size_t i = 0; i < v.size(); ++i) {
    const auto& [k, l] = v[i];
    std::fprintf(f,
                 "%s\n {\"eip\": %u, \"phys\": %u, \"mode\": %u, \"jit_samples\": %" PRIu64
                 ", \"interp_samples\": %" PRIu64 ", \"jit_entries\": %" PRIu64 ", \"interp_entries\": %" PRIu64
                 ", \"helper_calls\": %" PRIu64 ", \"slow_paths\": %" PRIu64
                 ", \"guest_instructions\": %u, \"host_bytes\": %u, \"translations\": %u}",
                 i ? "," : "", k.eip, k.phys, k.mode, l.jit_samples, l.interp_samples, l.jit_entries,
                 l.interp_entries, l.helper_calls, l.slow_paths, l.guest_instrs, l.host_bytes, l.translations);
  }
  std::fprintf(f, "\n]}\n");
}

}  // namespace vmm

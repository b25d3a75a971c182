#include "runtime/log.h"

#include <sstream>

namespace vmm {

namespace {
struct Item {
  const char* name;
  LogMask mask;
  const char* help;
};
constexpr Item kItems[] = {
    {"in_asm", LogMask::kInAsm, "show guest code of each decoded block"},
    {"out_asm", LogMask::kOutAsm, "show host code generated for each block"},
    {"exec", LogMask::kExec, "show each block executed"},
    {"int", LogMask::kInt, "show exceptions and interrupts"},
    {"cpu", LogMask::kCpu, "show CPU registers before each block"},
    {"unimp", LogMask::kUnimp, "log unimplemented instructions and unassigned I/O"},
    {"guest_errors", LogMask::kGuestErrors, "log guest errors (invalid operations)"},
    {"nochain", LogMask::kNoChain, "do not chain translated blocks (as --jit-chain=off)"},
};
}  // namespace

Log::~Log() {
  if (out_) std::fclose(out_);
}

const char* Log::help() {
  static std::string text = [] {
    std::string s = "Log items (comma separated):\n";
    for (const Item& i : kItems) s += std::string(i.name) + std::string(14 - std::string(i.name).size(), ' ') + i.help + "\n";
    return s;
  }();
  return text.c_str();
}

bool Log::parse(const std::string& list, std::string& error) {
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    bool found = false;
    for (const Item& i : kItems) {
      if (item == i.name) {
        mask_ |= static_cast<uint32_t>(i.mask);
        found = true;
      }
    }
    if (!found) {
      error = "unknown log item '" + item + "' (use -d help for a list)";
      return false;
    }
  }
  return true;
}

namespace {
bool parse_u32(const std::string& text, uint32_t& out) {
  if (text.empty()) return false;
  size_t used = 0;
  unsigned long long v;
  try {
    v = std::stoull(text, &used, 0);
  } catch (...) {
    return false;
  }
  if (used != text.size() || v > 0xFFFFFFFFull) return false;
  out = static_cast<uint32_t>(v);
  return true;
}
}  // namespace

bool Log::parse_filter(const std::string& list, std::string& error) {
  std::stringstream ss(list);
  std::string item;
  while (std::getline(ss, item, ',')) {
    if (item.empty()) continue;
    Range r{};
    uint32_t a = 0, b = 0;
    size_t at;
    bool ok = false;
    if ((at = item.find("..")) != std::string::npos) {
      ok = parse_u32(item.substr(0, at), a) && parse_u32(item.substr(at + 2), b) && a <= b;
      r = {a, b};
    } else if ((at = item.find_first_of("+-", 1)) != std::string::npos) {
      ok = parse_u32(item.substr(0, at), a) && parse_u32(item.substr(at + 1), b) && b != 0;
      if (ok && item[at] == '+') {
        ok = uint64_t{a} + b - 1 <= 0xFFFFFFFFull;
        r = {a, a + (b - 1)};
      } else if (ok) {
        ok = b - 1 <= a;
        r = {a - (b - 1), a};
      }
    }
    if (!ok) {
      error = "bad -dfilter range '" + item + "' (START+SIZE, START-SIZE or START..END)";
      return false;
    }
    ranges_.push_back(r);
  }
  return true;
}

bool Log::open(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "w");
  if (!f) return false;
  if (out_) std::fclose(out_);
  out_ = f;
  return true;
}

void Log::printf(LogMask m, const char* fmt, ...) {
  if (!enabled(m)) return;
  va_list ap;
  va_start(ap, fmt);
  std::vfprintf(stream(), fmt, ap);
  va_end(ap);
}

}  // namespace vmm

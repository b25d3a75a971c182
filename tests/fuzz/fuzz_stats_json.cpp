// Fuzz harness: the --stats writers (runtime/stats_report.h). The JSON one
// must give valid JSON (RFC 8259, UTF-8) for any report, and json_quote must
// give back every string it is handed, whatever bytes it holds.
//
// Input: [mode][...]
//   mode bit 0 set: a report built by build_stats_report from counters taken
//     from the input (CpuStats and SoftMmuStats fields, vectors, seconds);
//   clear: a report made directly from the input: sections, entries of every
//     kind (counts, reals as raw IEEE bits, so NaN and infinities too, texts),
//     distributions, and every key, label and text an arbitrary byte string.
//
// The JSON goes to a memory FILE (open_memstream) and is parsed here by a
// strict recursive-descent parser: RFC 8259 grammar, strings of valid UTF-8
// with no raw control characters, \u escapes forming whole code points. The
// parsed document must then hold the report: "format" and "version" first,
// the sections, entries and rows in order under their keys, counts as their
// decimal digits, undefined or non-finite reals as null, texts equal to the
// originals (originals that are not valid UTF-8 cannot be given back; they
// must still come out as valid JSON). write_stats_text runs too (no crash).
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "runtime/stats_report.h"
#include "tests/fuzz/fuzz_input.h"

namespace {

using vmm::fuzz::FuzzInput;

// ---- A strict JSON parser ----

struct Json {
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject } type = Type::kNull;
  std::string text;  // Number: its literal text. String: the decoded value (UTF-8).
  bool boolean = false;
  // Array: its items. Object: member values, with their names in `names`
  // (document order). Two vectors, as std::pair<std::string, Json> of the
  // incomplete Json is not allowed.
  std::vector<Json> items;
  std::vector<std::string> names;
};

// Appends code point `cp` as UTF-8.
void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | cp >> 6);
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | cp >> 12);
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | cp >> 18);
    out += static_cast<char>(0x80 | (cp >> 12 & 0x3F));
    out += static_cast<char>(0x80 | (cp >> 6 & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The length of the valid UTF-8 sequence at s[i] (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or 0.
size_t utf8_sequence(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return i + k < s.size() ? static_cast<uint8_t>(s[i + k]) : 0x100u; };
  const unsigned c = b(0);
  const auto cont = [&](size_t k) { return (b(k) & 0xC0) == 0x80 && b(k) < 0x100; };
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    const unsigned lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
    return b(1) >= lo && b(1) <= hi && cont(2) ? 3 : 0;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    const unsigned lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
    return b(1) >= lo && b(1) <= hi && cont(2) && cont(3) ? 4 : 0;
  }
  return 0;
}

bool valid_utf8(std::string_view s) {
  for (size_t i = 0; i < s.size();) {
    const size_t n = utf8_sequence(s, i);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : s_(text) {}

  // The document, or a failed FUZZ_CHECK naming where it is not JSON.
  Json document() {
    Json v = value(0);
    ws();
    expect(pos_ == s_.size(), "text after the value");
    return v;
  }

 private:
  void expect(bool ok, const char* what) {
    FUZZ_CHECK(ok, "invalid JSON at offset %zu: %s\n--- document ---\n%.*s\n---", pos_, what,
               static_cast<int>(s_.size()), s_.data());
  }
  int peek() const { return pos_ < s_.size() ? static_cast<uint8_t>(s_[pos_]) : -1; }
  void ws() {
    while (peek() == ' ' || peek() == '\t' || peek() == '\n' || peek() == '\r') ++pos_;
  }
  void literal(std::string_view word) {
    expect(s_.substr(pos_, word.size()) == word, "bad literal");
    pos_ += word.size();
  }

  Json value(int depth) {
    expect(depth < 64, "nested too deeply");
    ws();
    Json v;
    switch (peek()) {
      case '{': object(v, depth); break;
      case '[': array(v, depth); break;
      case '"': v.type = Json::Type::kString; v.text = string(); break;
      case 't': literal("true"); v.type = Json::Type::kBool; v.boolean = true; break;
      case 'f': literal("false"); v.type = Json::Type::kBool; break;
      case 'n': literal("null"); break;
      default: number(v); break;
    }
    return v;
  }

  void object(Json& v, int depth) {
    v.type = Json::Type::kObject;
    ++pos_;
    ws();
    if (peek() == '}') {
      ++pos_;
      return;
    }
    for (;;) {
      ws();
      expect(peek() == '"', "object member name expected");
      std::string name = string();
      ws();
      expect(peek() == ':', "':' expected");
      ++pos_;
      v.items.push_back(value(depth + 1));
      v.names.push_back(std::move(name));
      ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect(peek() == '}', "',' or '}' expected");
      ++pos_;
      return;
    }
  }

  void array(Json& v, int depth) {
    v.type = Json::Type::kArray;
    ++pos_;
    ws();
    if (peek() == ']') {
      ++pos_;
      return;
    }
    for (;;) {
      v.items.push_back(value(depth + 1));
      ws();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect(peek() == ']', "',' or ']' expected");
      ++pos_;
      return;
    }
  }

  unsigned hex4() {
    unsigned v = 0;
    for (int i = 0; i < 4; ++i) {
      const int c = peek();
      unsigned d = 0;
      if (c >= '0' && c <= '9') d = c - '0';
      else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
      else expect(false, "bad \\u escape");
      v = v << 4 | d;
      ++pos_;
    }
    return v;
  }

  std::string string() {
    ++pos_;  // The opening quote.
    std::string out;
    for (;;) {
      const int c = peek();
      expect(c >= 0, "unterminated string");
      if (c == '"') {
        ++pos_;
        return out;
      }
      expect(c >= 0x20, "raw control character in a string");
      if (c == '\\') {
        ++pos_;
        const int e = peek();
        ++pos_;
        switch (e) {
          case '"': out += '"'; break;
          case '\\': out += '\\'; break;
          case '/': out += '/'; break;
          case 'b': out += '\b'; break;
          case 'f': out += '\f'; break;
          case 'n': out += '\n'; break;
          case 'r': out += '\r'; break;
          case 't': out += '\t'; break;
          case 'u': {
            uint32_t cp = hex4();
            if (cp >= 0xD800 && cp <= 0xDBFF) {
              expect(peek() == '\\', "high surrogate without its low half");
              ++pos_;
              expect(peek() == 'u', "high surrogate without its low half");
              ++pos_;
              const unsigned low = hex4();
              expect(low >= 0xDC00 && low <= 0xDFFF, "high surrogate without its low half");
              cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            } else {
              expect(cp < 0xDC00 || cp > 0xDFFF, "lone low surrogate");
            }
            append_utf8(out, cp);
            break;
          }
          default: --pos_; expect(false, "bad escape"); break;
        }
        continue;
      }
      const size_t n = utf8_sequence(s_, pos_);
      expect(n != 0, "invalid UTF-8 in a string");
      out.append(s_.substr(pos_, n));
      pos_ += n;
    }
  }

  void number(Json& v) {
    const size_t start = pos_;
    const auto digit = [&] { return peek() >= '0' && peek() <= '9'; };
    if (peek() == '-') ++pos_;
    expect(digit(), "value expected");
    if (peek() == '0') {
      ++pos_;
    } else {
      while (digit()) ++pos_;
    }
    if (peek() == '.') {
      ++pos_;
      expect(digit(), "digit expected after '.'");
      while (digit()) ++pos_;
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      expect(digit(), "digit expected in the exponent");
      while (digit()) ++pos_;
    }
    v.type = Json::Type::kNumber;
    v.text = std::string(s_.substr(start, pos_ - start));
  }

  std::string_view s_;
  size_t pos_ = 0;
};

// ---- The report, from the input ----

double real_from_bits(uint64_t bits) {
  double d;
  std::memcpy(&d, &bits, sizeof d);
  return d;
}

vmm::StatsReport direct_report(FuzzInput& in) {
  vmm::StatsReport report;
  const unsigned sections = in.u8() % 8;
  for (unsigned s = 0; s < sections; ++s) {
    vmm::StatSection& section = report.sections.emplace_back();
    section.key = in.short_string();
    section.title = in.short_string();
    const unsigned entries = in.u8() % 16;
    for (unsigned i = 0; i < entries; ++i) {
      vmm::StatEntry& e = section.entries.emplace_back();
      e.key = in.short_string();
      e.label = in.short_string();
      e.kind = static_cast<vmm::StatEntry::Kind>(in.u8() % 5);
      e.defined = !(in.u8() & 1);
      switch (e.kind) {
        case vmm::StatEntry::Kind::kCount: e.count = in.u64(); break;
        case vmm::StatEntry::Kind::kText: e.text = in.short_string(); break;
        default:
          e.real = real_from_bits(in.u64());
          e.decimals = static_cast<int8_t>(in.u8());
          break;
      }
    }
    const unsigned distributions = in.u8() % 4;
    for (unsigned d = 0; d < distributions; ++d) {
      vmm::StatDistribution& dist = section.distributions.emplace_back();
      dist.key = in.short_string();
      dist.label = in.short_string();
      dist.text_rows = in.u8() % 8;
      const unsigned rows = in.u8() % 16;
      for (unsigned r = 0; r < rows; ++r) {
        std::string name = in.short_string();
        dist.rows.emplace_back(std::move(name), in.u64());
      }
    }
  }
  return report;
}

vmm::StatsReport built_report(FuzzInput& in) {
  auto cpu = std::make_unique<vmm::CpuStats>();
  vmm::SoftMmuStats mmu;
  for (uint64_t* f : {&cpu->instructions, &cpu->block_lookups, &cpu->jump_cache_hits, &cpu->block_map_lookups,
                      &cpu->block_map_hits, &cpu->blocks_stale, &cpu->blocks_built, &cpu->instrs_decoded,
                      &cpu->smc_interpreted_blocks, &cpu->smc_invalidations, &cpu->blocks_invalidated,
                      &cpu->invlpg_flushes, &cpu->cr3_flushes, &cpu->paging_flushes, &cpu->code_cache_flushes,
                      &cpu->code_cache_full, &cpu->blocks_flushed, &cpu->exceptions, &cpu->interrupts, &mmu.walks,
                      &mmu.page_faults, &mmu.flushes, &mmu.page_flushes, &mmu.mmio_accesses, &mmu.code_writes}) {
    // A byte says how: 0 small, 1 full 64 bits, else zero (most counters of
    // a short run).
    const uint8_t how = in.u8() % 4;
    *f = how == 0 ? in.u8() : how == 1 ? in.u64() : 0;
  }
  cpu->decode_seconds = real_from_bits(in.u64());
  const unsigned vectors = in.u8();
  for (unsigned i = 0; i < vectors && !in.done(); ++i) {
    const uint8_t v = in.u8();
    (in.flag() ? cpu->exceptions_by_vector : cpu->interrupts_by_vector)[v] = in.u64();
  }
  const double seconds = real_from_bits(in.u64());
  return vmm::build_stats_report(vmm::StatsSources{.jit_engine = false,
                                                   .seconds = seconds,
                                                   .cpu = *cpu,
                                                   .mmu = mmu,
                                                   .unhandled_reads = in.u64(),
                                                   .unhandled_writes = in.u64(),
                                                   .jit = nullptr});
}

// ---- The checks ----

// A string that went through json_quote and the parser: equal to the
// original when that was valid UTF-8.
void check_string(const std::string& parsed, const std::string& original, const char* what) {
  if (valid_utf8(original)) {
    FUZZ_CHECK(parsed == original, "%s '%s' came back from JSON as '%s'", what, original.c_str(), parsed.c_str());
  }
}

const Json& member(const Json& object, size_t i, const std::string& key, const char* what) {
  FUZZ_CHECK(object.type == Json::Type::kObject && i < object.items.size(), "%s: member %zu missing", what, i);
  check_string(object.names[i], key, what);
  return object.items[i];
}

void check_entry(const Json& v, const vmm::StatEntry& e) {
  using Kind = vmm::StatEntry::Kind;
  switch (e.kind) {
    case Kind::kCount:
      FUZZ_CHECK(v.type == Json::Type::kNumber && v.text == std::to_string(e.count), "count %" PRIu64 " as '%s'",
                 e.count, v.text.c_str());
      break;
    case Kind::kText:
      FUZZ_CHECK(v.type == Json::Type::kString, "text entry is not a string");
      check_string(v.text, e.text, "text");
      break;
    default:
      if (!e.defined || !std::isfinite(e.real)) {
        FUZZ_CHECK(v.type == Json::Type::kNull, "undefined or non-finite real is not null");
      } else {
        FUZZ_CHECK(v.type == Json::Type::kNumber, "real is not a number");
        const double back = std::strtod(v.text.c_str(), nullptr);
        FUZZ_CHECK(std::isfinite(back), "real %g written as '%s'", e.real, v.text.c_str());
      }
      break;
  }
}

void check_document(const Json& doc, const vmm::StatsReport& report) {
  FUZZ_CHECK(doc.type == Json::Type::kObject, "the document is not an object");
  FUZZ_CHECK(doc.items.size() == 2 + report.sections.size(), "%zu members for %zu sections", doc.items.size(),
             report.sections.size());
  const Json& format = member(doc, 0, "format", "format");
  FUZZ_CHECK(format.type == Json::Type::kString && format.text == "vmm-stats", "format");
  const Json& version = member(doc, 1, "version", "version");
  FUZZ_CHECK(version.type == Json::Type::kNumber && version.text == "1", "version");
  for (size_t s = 0; s < report.sections.size(); ++s) {
    const vmm::StatSection& section = report.sections[s];
    const Json& obj = member(doc, 2 + s, section.key, "section key");
    FUZZ_CHECK(obj.type == Json::Type::kObject, "section is not an object");
    FUZZ_CHECK(obj.items.size() == section.entries.size() + section.distributions.size(), "section member count");
    for (size_t i = 0; i < section.entries.size(); ++i) {
      check_entry(member(obj, i, section.entries[i].key, "entry key"), section.entries[i]);
    }
    for (size_t d = 0; d < section.distributions.size(); ++d) {
      const vmm::StatDistribution& dist = section.distributions[d];
      const Json& rows = member(obj, section.entries.size() + d, dist.key, "distribution key");
      FUZZ_CHECK(rows.type == Json::Type::kObject && rows.items.size() == dist.rows.size(), "distribution rows");
      for (size_t r = 0; r < dist.rows.size(); ++r) {
        const Json& count = member(rows, r, dist.rows[r].first, "row name");
        FUZZ_CHECK(count.type == Json::Type::kNumber && count.text == std::to_string(dist.rows[r].second),
                   "row count");
      }
    }
  }
}

std::string write_to_memory(void (*writer)(FILE*, const vmm::StatsReport&), const vmm::StatsReport& report) {
  char* buf = nullptr;
  size_t len = 0;
  FILE* f = open_memstream(&buf, &len);
  FUZZ_CHECK(f, "open_memstream failed");
  writer(f, report);
  FUZZ_CHECK(std::fclose(f) == 0, "fclose failed");
  std::string out(buf, len);
  std::free(buf);
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzInput in(data, size);
  const uint8_t mode = in.u8();
  const vmm::StatsReport report = (mode & 1) ? built_report(in) : direct_report(in);

  const std::string json = write_to_memory(vmm::write_stats_json, report);
  check_document(JsonParser(json).document(), report);
  write_to_memory(vmm::write_stats_text, report);

  // json_quote alone, on the whole input as one string.
  const std::string rest(reinterpret_cast<const char*>(data), size);
  const std::string quoted = vmm::json_quote(rest);
  const Json q = JsonParser(quoted).document();
  FUZZ_CHECK(q.type == Json::Type::kString, "json_quote did not give a string");
  check_string(q.text, rest, "json_quote");
  return 0;
}

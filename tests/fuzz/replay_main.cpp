// Replay driver for the fuzz harnesses in a normal (non-libFuzzer) build:
// runs LLVMFuzzerTestOneInput once over every file given on the command line
// and every regular file in the directories given (not recursive; names
// starting with '.' are skipped, so a directory can hold a .gitkeep). A
// finding aborts the process (FUZZ_CHECK, a sanitizer, an uncaught
// exception), so exit status 0 means every input passed.
//
//   fuzz_<name> tests/fuzz/corpus/<name> tests/fuzz/regressions/<name>
//
// A path that does not exist is an error (a misspelt corpus would otherwise
// pass by testing nothing).
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <system_error>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);
extern "C" __attribute__((weak)) int LLVMFuzzerInitialize(int* argc, char*** argv);

namespace {

bool run_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    return false;
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Past the end of a vector of 0 bytes is not a valid pointer to hand over:
  // give a harness that reads data[0] by mistake something ASan can flag.
  std::vector<uint8_t> copy(bytes);
  LLVMFuzzerTestOneInput(copy.empty() ? nullptr : copy.data(), copy.size());
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (LLVMFuzzerInitialize) LLVMFuzzerInitialize(&argc, &argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
    return 2;
  }
  size_t inputs = 0;
  for (int i = 1; i < argc; ++i) {
    const std::filesystem::path arg(argv[i]);
    std::error_code ec;
    if (std::filesystem::is_directory(arg, ec)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(arg)) {
        if (entry.is_regular_file() && entry.path().filename().string()[0] != '.') files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        if (!run_file(f)) return 1;
        ++inputs;
      }
    } else if (std::filesystem::is_regular_file(arg, ec)) {
      if (!run_file(arg)) return 1;
      ++inputs;
    } else {
      std::fprintf(stderr, "replay: %s: no such file or directory\n", argv[i]);
      return 1;
    }
  }
  std::printf("replay: %zu inputs passed\n", inputs);
  return 0;
}

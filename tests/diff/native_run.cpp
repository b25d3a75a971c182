#include "tests/diff/native_run.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>

extern char** environ;

namespace vmm::diff {

bool run_native(const std::string& helper, const Sequence& seq, State& out) {
  out = State{};
  char in_name[] = "/tmp/vmm_diff_inXXXXXX";
  char out_name[] = "/tmp/vmm_diff_outXXXXXX";
  const int fi = mkstemp(in_name), fo = mkstemp(out_name);
  if (fi < 0 || fo < 0) {
    out.ok = false;
    out.error = "mkstemp failed";
    return false;
  }
  close(fo);
  std::vector<uint8_t> code = seq.code;
  for (uint32_t off : seq.fs_gs_prefixes) code[off] = 0x3E;  // FS/GS bases are not 0 natively.
  FILE* f = fdopen(fi, "wb");
  uint32_t hdr[10];
  for (int i = 0; i < 8; ++i) hdr[i] = seq.gpr[i];
  hdr[8] = seq.eflags;
  hdr[9] = seq.end_eip;
  fwrite(hdr, 4, 10, f);
  fwrite(code.data(), 1, kCodeSize, f);
  fwrite(seq.data.data(), 1, kDataSize, f);
  fwrite(seq.stack.data(), 1, kStackSize, f);
  fclose(f);
  pid_t pid;
  char* argv[] = {const_cast<char*>(helper.c_str()), in_name, out_name, nullptr};
  int status = -1;
  bool ok = posix_spawn(&pid, helper.c_str(), nullptr, nullptr, argv, environ) == 0 &&
            waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
  if (ok) {
    FILE* r = std::fopen(out_name, "rb");
    int32_t vec = -1;
    out.data.resize(kDataSize);
    out.stack.resize(kStackSize);
    ok = r && std::fread(&vec, 4, 1, r) == 1 && std::fread(out.gpr, 4, 8, r) == 8 &&
         std::fread(&out.eip, 4, 1, r) == 1 && std::fread(&out.eflags, 4, 1, r) == 1 &&
         std::fread(out.data.data(), 1, kDataSize, r) == kDataSize &&
         std::fread(out.stack.data(), 1, kStackSize, r) == kStackSize;
    if (r) std::fclose(r);
    out.vector = vec;
  }
  unlink(in_name);
  unlink(out_name);
  if (!ok) {
    out.ok = false;
    out.error = "native helper failed (status " + std::to_string(status) + ")";
  }
  return ok;
}

}  // namespace vmm::diff

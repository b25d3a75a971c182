// read_file_bounded (runtime/read_file.h): files named on the command line
// are refused by type and size before anything is read, with one line
// "<path>: <what is wrong>".
#include <gtest/gtest.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "runtime/message_text.h"
#include "runtime/read_file.h"

namespace vmm {
namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;

// A fresh directory under $TMPDIR (or /tmp), removed with what it holds.
class ReadFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tmp = std::getenv("TMPDIR");
    std::string templ = std::string(tmp && *tmp ? tmp : "/tmp") + "/vmm-read-file-XXXXXX";
    ASSERT_NE(mkdtemp(templ.data()), nullptr);
    dir_ = templ;
  }
  void TearDown() override {
    for (const std::string& p : created_) unlink(p.c_str());
    rmdir(dir_.c_str());
  }

  std::string path(const std::string& name) {
    created_.push_back(dir_ + "/" + name);
    return created_.back();
  }
  std::string write_file(const std::string& name, const std::vector<uint8_t>& data) {
    const std::string p = path(name);
    const int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    EXPECT_GE(fd, 0);
    EXPECT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    close(fd);
    return p;
  }

  // Expects FileError with exactly "<p>: <what>", within a second.
  void expect_refused(const std::string& p, uint64_t max_bytes, const std::string& what) {
    const auto t0 = std::chrono::steady_clock::now();
    try {
      read_file_bounded(p, max_bytes);
      ADD_FAILURE() << p << " accepted";
    } catch (const FileError& e) {
      EXPECT_EQ(std::string(e.what()), p + ": " + what);
    }
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(1)) << p << " took too long";
  }

  std::string dir_;
  std::vector<std::string> created_;
};

std::vector<uint8_t> pattern(size_t n) {
  std::vector<uint8_t> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = static_cast<uint8_t>(i * 7 + (i >> 9));
  return v;
}

TEST_F(ReadFileTest, ReadsWholeFile) {
  const std::vector<uint8_t> data = pattern(200000);  // Several read() calls.
  EXPECT_EQ(read_file_bounded(write_file("k.elf", data), 1 << 20), data);
}

TEST_F(ReadFileTest, SizeLimitIsInclusive) {
  const std::string p = write_file("k.elf", pattern(4096));
  EXPECT_EQ(read_file_bounded(p, 4096).size(), 4096u);
  expect_refused(p, 4095, "file too large (4 KiB; the limit is 4095 bytes)");
}

TEST_F(ReadFileTest, MissingFile) {
  expect_refused(dir_ + "/missing.elf", kGiB, "No such file or directory");
}

TEST_F(ReadFileTest, Directory) { expect_refused(dir_, kGiB, "not a regular file (directory)"); }

// /dev/zero has no end: reading it to EOF would never stop.
TEST_F(ReadFileTest, CharacterDevice) { expect_refused("/dev/zero", kGiB, "not a regular file (character device)"); }

// Opening a FIFO for reading waits for a writer; the check comes first.
TEST_F(ReadFileTest, Fifo) {
  const std::string p = path("fifo");
  ASSERT_EQ(mkfifo(p.c_str(), 0600), 0);
  expect_refused(p, kGiB, "not a regular file (FIFO)");
}

TEST_F(ReadFileTest, EmptyFile) { expect_refused(write_file("empty.elf", {}), kGiB, "file is empty"); }

// A sparse 8 GiB file is refused from its size alone, without reading it.
TEST_F(ReadFileTest, HugeSparseFile) {
  const std::string p = path("huge.elf");
  const int fd = open(p.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  ASSERT_EQ(ftruncate(fd, static_cast<off_t>(8 * kGiB)), 0);
  close(fd);
  expect_refused(p, kGiB, "file too large (8 GiB; the limit is 1 GiB)");
}

TEST(SizeText, Units) {
  EXPECT_EQ(size_text(0), "0 bytes");
  EXPECT_EQ(size_text(1), "1 byte");
  EXPECT_EQ(size_text(1023), "1023 bytes");
  EXPECT_EQ(size_text(1024), "1 KiB");
  EXPECT_EQ(size_text(1536), "1536 bytes");
  EXPECT_EQ(size_text(3 << 20), "3 MiB");
  EXPECT_EQ(size_text((3 << 20) + 1024), "3073 KiB");
  EXPECT_EQ(size_text(128 << 20), "128 MiB");
  EXPECT_EQ(size_text(8 * kGiB), "8 GiB");
  EXPECT_EQ(size_text(~uint64_t{0}), "18446744073709551615 bytes");
  EXPECT_EQ(size_text(uint64_t{1} << 63), "8 EiB");
}

}  // namespace
}  // namespace vmm

#include "runtime/read_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <iterator>
#include <new>

#include "runtime/message_text.h"

namespace vmm {

namespace {

// What a path that is not a regular file is, for the message.
const char* file_type(mode_t mode) {
  if (S_ISDIR(mode)) return "directory";
  if (S_ISCHR(mode)) return "character device";
  if (S_ISBLK(mode)) return "block device";
  if (S_ISFIFO(mode)) return "FIFO";
  if (S_ISSOCK(mode)) return "socket";
  return "special file";
}

[[noreturn]] void refuse(const std::string& path, const std::string& what) { throw FileError(path + ": " + what); }

void check_stat(const std::string& path, const struct stat& st, uint64_t max_bytes) {
  if (!S_ISREG(st.st_mode)) refuse(path, std::string("not a regular file (") + file_type(st.st_mode) + ")");
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size == 0) refuse(path, "file is empty");
  if (size > max_bytes) {
    refuse(path, "file too large (" + size_text(size) + "; the limit is " + size_text(max_bytes) + ")");
  }
}

}  // namespace

std::vector<uint8_t> read_file_bounded(const std::string& path, uint64_t max_bytes) {
  // The path is checked before it is opened: opening a FIFO blocks until a
  // writer comes, and opening a device may have side effects.
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) refuse(path, std::strerror(errno));
  check_stat(path, st, max_bytes);

  // O_NONBLOCK: should the path have become a FIFO since, open does not
  // wait for a writer; fstat then refuses it.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) refuse(path, std::strerror(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  if (::fstat(fd, &st) != 0) refuse(path, std::strerror(errno));
  check_stat(path, st, max_bytes);

  const size_t size = static_cast<size_t>(st.st_size);
  std::vector<uint8_t> bytes;
  try {
    bytes.resize(size);
  } catch (const std::bad_alloc&) {
    refuse(path, "not enough host memory to read the file (" + size_text(size) + ")");
  }
  size_t done = 0;
  for (;;) {
    // One byte more than expected is asked for at the end, to notice growth.
    uint8_t extra;
    uint8_t* const dst = done < size ? bytes.data() + done : &extra;
    const size_t want = done < size ? size - done : 1;
    const ssize_t n = ::read(fd, dst, want);
    if (n < 0) {
      if (errno == EINTR) continue;
      refuse(path, std::strerror(errno));
    }
    if (n == 0) break;
    if (done >= size) refuse(path, "file grew while it was being read");
    done += static_cast<size_t>(n);
  }
  if (done != size) refuse(path, "file shrank while it was being read");
  return bytes;
}

}  // namespace vmm

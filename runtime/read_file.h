// Reading a file named on the command line (the -kernel image), with its
// size checked before anything is read.
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace vmm {

// A file that cannot be used. what() is one line, "<path>: <what is wrong>",
// e.g. "/dev/zero: not a regular file (character device)".
class FileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads the whole of the regular file `path`, which must hold between 1 and
// `max_bytes` bytes. The type and the size are checked (stat, then fstat on
// the descriptor) before anything is read, so a device, a FIFO, a directory
// or a file of absurd size is refused at once, without blocking and without
// an allocation sized by the file; the buffer is sized by the checked
// st_size, and a file that changes size while it is read is refused too.
// Throws FileError.
std::vector<uint8_t> read_file_bounded(const std::string& path, uint64_t max_bytes);

}  // namespace vmm

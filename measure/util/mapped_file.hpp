// Opening and reading input files, bounded: every file mrforge reads from outside goes through
// InputFile, which checks what the file is before a byte is read. Reading files is the caller's
// job; parsers take the bytes this gives.
//
// - Opening never blocks: files are opened O_NONBLOCK (a FIFO without a writer, a serial line),
//   then fstat'ed; anything but a regular file (FIFO, device, socket, directory) is refused, so
//   /dev/zero or a FIFO given as a quote is an error, not a hang or a read without end.
// - Each kind of input has a size limit (measure/util/input_limits.hpp), checked with fstat before
//   reading and again while reading (pseudo-files such as sysfs report no true size).
// - Files inside an input directory (an OCI layout's blobs, an image directory's members, the files
//   of a build output) are opened with open_in: every component below the directory is opened
//   with O_NOFOLLOW, so a symbolic link can never lead out of the directory.
// Errors are SystemError naming the file and saying what was wrong (exit 2 in the CLI).
#pragma once

#include <measure/util/bytes.hpp>
#include <measure/util/input_limits.hpp>
#include <measure/util/unique_fd.hpp>

#include <cstdint>
#include <string>

namespace mrforge {

class InputFile {
public:
  // `path` as the user named it (symbolic links followed). Throws SystemError if it cannot be
  // opened, is not a regular file, or is larger than `limit`.
  static InputFile open(const std::string &path, FileLimit limit);
  // `relative` inside the directory `dir`: components separated by '/', none empty, "." or "..",
  // and none of them a symbolic link (`dir` itself may be one). Throws SystemError naming
  // DIR/RELATIVE for a symbolic link, a name that leaves the directory, and as open() does.
  static InputFile open_in(const std::string &dir, const std::string &relative, FileLimit limit);

  ~InputFile() = default;
  InputFile(InputFile &&other) noexcept = default;
  InputFile &operator=(InputFile &&other) noexcept = default;
  InputFile(const InputFile &) = delete;
  InputFile &operator=(const InputFile &) = delete;

  int fd() const { return m_fd.get(); }
  uint64_t size() const { return m_size; } // as fstat reported it when opened
  const std::string &path() const { return m_path; }
  FileLimit limit() const { return m_limit; }

  // The whole file from the current position. Throws SystemError if it yields more than the limit
  // (a pseudo-file whose size lied) or a read fails.
  Bytes read_all();
  // Reads up to `n` bytes (fewer only at the end of the file). Throws SystemError if a read fails.
  Bytes read_some(size_t n);
  // Throws the SystemError "larger than the limit" for this file; for callers that stream it.
  [[noreturn]] void fail_too_large() const;

private:
  InputFile(int fd, std::string path, FileLimit limit);
  UniqueFd m_fd;
  uint64_t m_size = 0;
  std::string m_path;
  FileLimit m_limit;
};

// Read-only memory map of a whole input file (RAII).
class MappedFile {
public:
  // An empty file gives an empty view. Throws SystemError if the file cannot be mapped.
  explicit MappedFile(InputFile file);
  // MappedFile(InputFile::open(path, limit)).
  MappedFile(const std::string &path, FileLimit limit);
  ~MappedFile();
  MappedFile(const MappedFile &) = delete;
  MappedFile &operator=(const MappedFile &) = delete;

  ByteView bytes() const { return {static_cast<const uint8_t *>(m_addr), m_size}; }
  const std::string &path() const { return m_path; }

private:
  std::string m_path;
  void *m_addr = nullptr;
  size_t m_size = 0;
};

// Reads a whole file into memory with read() (small files, and pseudo-files that cannot be
// mapped): InputFile::open(path, limit).read_all().
Bytes read_file(const std::string &path, FileLimit limit);

// "4 MiB (4194304 bytes)", "100 bytes": a limit in messages.
std::string limit_text(uint64_t bytes);

} // namespace mrforge

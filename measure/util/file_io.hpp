// Reading and writing whole files: the one set every part of mrforge uses.
//
// - Reading goes through InputFile (measure/util/mapped_file.hpp): a regular file within the
//   limit for its kind, or a SystemError naming the file.
// - Writing is atomic: PATH.tmp-XXXXXX is written, fsync'ed and renamed over PATH, so a symlink at
//   PATH is replaced (never written through), and a failed or interrupted write leaves the old file
//   (or none) and no temporary file behind. Temporary files and directories are registered with
//   InterruptCleanup, which removes them when SIGINT, SIGTERM or SIGHUP ends the process.
#pragma once

#include <measure/util/bytes.hpp>
#include <measure/util/input_limits.hpp>

#include <string>
#include <string_view>

namespace mrforge {

// The whole file as text (bytes as they are). Throws SystemError as InputFile::open and read_all do.
std::string read_text_file(const std::string &path, FileLimit limit);

// Writes `content` to `path` atomically with mode `mode` (whatever the umask). Throws
// SystemError naming `path` when any step fails.
void write_file_atomically(const std::string &path, std::string_view content, unsigned mode = 0644);
void write_file_atomically(const std::string &path, ByteView content, unsigned mode = 0644);

// Registers a temporary file or directory to be removed if SIGINT, SIGTERM or SIGHUP ends the
// process before the guard is released or destroyed; the process then dies of that signal as it
// would have. The handler is installed on first use for each of those signals whose disposition
// is the default one (an ignored signal stays ignored, another handler is left alone). Paths
// longer than PATH_MAX, or beyond 64 registered at once, are only removed by their owner's
// normal cleanup.
class InterruptCleanup {
public:
  enum class Kind { file, directory };
  InterruptCleanup(const std::string &path, Kind kind);
  ~InterruptCleanup() { release(); }
  InterruptCleanup(const InterruptCleanup &) = delete;
  InterruptCleanup &operator=(const InterruptCleanup &) = delete;
  // The path is no longer ours to remove (renamed into place, or removed).
  void release();

private:
  int m_slot = -1;
};

} // namespace mrforge

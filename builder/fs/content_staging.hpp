// Where the bytes of staged regular files live: a host directory of files named by their sha256
// (so identical contents are stored once). The FsTree's nodes point at these files.
#pragma once

#include <builder/fs/fs_tree.hpp>

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

namespace mrforge::builder {

struct StagedContent {
  std::string path; // host path of the stored bytes
  std::string sha256_hex;
  uint64_t size = 0;
};

class ContentStaging {
public:
  // `dir` is created if missing. Throws SystemError.
  explicit ContentStaging(std::string dir);
  const std::string &dir() const { return m_dir; }

  StagedContent put(std::string_view bytes);
  // Streams bytes from `read` (returns the number of bytes placed in the buffer, 0 at the end)
  // into the staging directory without holding them in memory.
  StagedContent put_stream(const std::function<size_t(uint8_t *buffer, size_t capacity)> &read);

private:
  std::string m_dir;
  uint64_t m_counter = 0;
};

// A regular-file node whose bytes are `content` (owner root).
Node staged_file_node(const StagedContent &content, uint32_t mode, std::string origin);

} // namespace mrforge::builder

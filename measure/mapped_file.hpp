// Read-only memory map of a whole file (RAII). Reading files is the caller's job; parsers
// take the bytes this gives.
#pragma once

#include <measure/bytes.hpp>

#include <string>

namespace mrforge {

class MappedFile {
public:
  // Throws SystemError naming the path if the file cannot be opened, is not a regular file, or
  // cannot be mapped. An empty file gives an empty view.
  explicit MappedFile(const std::string &path);
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

// Reads a whole file into memory with read() (small files, and pseudo-files that cannot be mapped).
Bytes read_file(const std::string &path);

} // namespace mrforge

// Byte sinks: where writers put their output. Writers (tar, cpio) produce a stream of bytes; a
// compressor is a sink that forwards compressed bytes to another sink; a hashing sink computes the
// sha256 of what passes through (an OCI layer needs the digest of both the compressed blob and the
// uncompressed tar, its diff ID); a file sink writes to a file.
#pragma once

#include <measure/util/hash.hpp>
#include <measure/util/unique_fd.hpp>

#include <cstdint>
#include <memory>
#include <string>

namespace mrforge::builder {

// Writes all `size` bytes to `fd` (retrying short writes and EINTR). Throws SystemError naming
// `path` on failure.
void write_all(int fd, const void *data, size_t size, const std::string &path);

class ByteSink {
public:
  virtual ~ByteSink() = default;
  virtual void write(const uint8_t *data, size_t size) = 0;
  // Flushes everything buffered (and, for a compressor, ends the stream and finishes its output
  // sink). Called once, after the last write.
  virtual void finish() {}
};

// Counts and hashes (sha256) the bytes, forwarding them to `next` if given.
class HashingSink : public ByteSink {
public:
  explicit HashingSink(ByteSink *next = nullptr);
  void write(const uint8_t *data, size_t size) override;
  void finish() override;
  uint64_t size() const { return m_size; }
  // Lowercase hex sha256; valid after finish().
  const std::string &sha256_hex() const { return m_hex; }

private:
  ByteSink *m_next;
  Hasher m_hasher;
  uint64_t m_size = 0;
  std::string m_hex;
};

// Writes to a new file (created with O_EXCL, mode 0644). finish() flushes and fsyncs; the caller
// renames it into place. Throws SystemError naming the path.
class FileSink : public ByteSink {
public:
  explicit FileSink(std::string path);
  ~FileSink() override;
  FileSink(const FileSink &) = delete;
  FileSink &operator=(const FileSink &) = delete;
  void write(const uint8_t *data, size_t size) override;
  void finish() override;

private:
  void flush_buffer();
  void start_writeback();
  std::string m_path;
  UniqueFd m_fd;
  std::string m_buffer;
  uint64_t m_written = 0;           // bytes handed to write(2)
  uint64_t m_writeback_started = 0; // bytes sync_file_range was asked to write back
};

// Collects bytes in memory (small outputs and tests).
class MemorySink : public ByteSink {
public:
  void write(const uint8_t *data, size_t size) override { m_data.append(reinterpret_cast<const char *>(data), size); }
  const std::string &data() const { return m_data; }

private:
  std::string m_data;
};

} // namespace mrforge::builder

#include <builder/system/byte_sink.hpp>

#include <measure/util/errors.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mrforge::builder {

namespace {

// Writes are collected up to this size before a write(2): fewer system calls for the many small
// pieces (512-byte tar headers, compressed blocks) that writers produce.
constexpr size_t k_file_buffer_size = size_t{1} << 20;
// After this many bytes written, the kernel is asked to start writing them back
// (sync_file_range(SYNC_FILE_RANGE_WRITE), which does not wait for the disk): finish()'s fsync then
// finds most of the file already on its way instead of all of it still dirty, which for a layer
// of 100 MB cost about 0.1 s of idle waiting at the end.
constexpr uint64_t k_writeback_interval = uint64_t{8} << 20;

std::string errno_text(const char *what) { return std::string(what) + ": " + std::strerror(errno); }

} // namespace

HashingSink::HashingSink(ByteSink *next) : m_next(next), m_hasher(HashAlgorithm::sha256) {}

void HashingSink::write(const uint8_t *data, size_t size) {
  if (size == 0) return;
  m_hasher.update(data, size);
  m_size += size;
  if (m_next != nullptr) m_next->write(data, size);
}

void HashingSink::finish() {
  m_hex = to_hex(m_hasher.finish());
  if (m_next != nullptr) m_next->finish();
}

FileSink::FileSink(std::string path) : m_path(std::move(path)) {
  m_fd.reset(::open(m_path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644));
  if (!m_fd) throw SystemError(m_path, errno_text("cannot create"));
  // 0644 whatever the umask: an output's modes must not depend on the host (`diff` compares them).
  if (::fchmod(m_fd.get(), 0644) != 0) throw SystemError(m_path, errno_text("cannot set the mode"));
  m_buffer.reserve(k_file_buffer_size);
}

void write_all(int fd, const void *data, size_t size, const std::string &path) {
  const auto *p = static_cast<const uint8_t *>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SystemError(path, errno_text("write failed"));
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

// An unfinished file is closed by m_fd: the caller removes it; nothing to report from here.
FileSink::~FileSink() = default;

void FileSink::write(const uint8_t *data, size_t size) {
  if (!m_fd) throw SystemError(m_path, "write after finish");
  if (m_buffer.size() + size > k_file_buffer_size) flush_buffer();
  if (size >= k_file_buffer_size) {
    write_all(m_fd.get(), data, size, m_path); // large pieces go straight to the file
    m_written += size;
    start_writeback();
    return;
  }
  m_buffer.append(reinterpret_cast<const char *>(data), size);
}

void FileSink::flush_buffer() {
  write_all(m_fd.get(), m_buffer.data(), m_buffer.size(), m_path);
  m_written += m_buffer.size();
  m_buffer.clear();
  start_writeback();
}

void FileSink::start_writeback() {
  if (m_written - m_writeback_started < k_writeback_interval) return;
  // A hint: an error here changes nothing (finish()'s fsync reports real write errors).
  ::sync_file_range(m_fd.get(), static_cast<off_t>(m_writeback_started),
                    static_cast<off_t>(m_written - m_writeback_started), SYNC_FILE_RANGE_WRITE);
  m_writeback_started = m_written;
}

void FileSink::finish() {
  if (!m_fd) throw SystemError(m_path, "finish called twice");
  flush_buffer();
  if (::fsync(m_fd.get()) != 0) throw SystemError(m_path, errno_text("fsync failed"));
  if (::close(m_fd.release()) != 0) throw SystemError(m_path, errno_text("close failed"));
}

} // namespace mrforge::builder

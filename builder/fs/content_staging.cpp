// Content-addressed staging of regular-file bytes: each blob is written to a temporary file in the
// staging directory while it is hashed, then renamed to its lowercase sha256 hex name. A blob that
// is already present is kept and the temporary file is removed, so identical contents are stored
// once and a blob's name always matches its bytes.
#include <builder/fs/content_staging.hpp>
#include <builder/system/byte_sink.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/unique_fd.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mrforge::builder {

namespace {

constexpr size_t k_copy_buffer_size = 64 * 1024;

std::string errno_text(const std::string &what) { return what + ": " + std::strerror(errno); }

// mkdir -p for the staging directory itself (a host path, not a tree path).
void make_directories(const std::string &dir) {
  if (dir.empty()) throw SystemError(dir, "empty staging directory name");
  size_t pos = 0;
  while (true) {
    size_t slash = dir.find('/', pos);
    std::string prefix = slash == std::string::npos ? dir : dir.substr(0, slash);
    if (!prefix.empty() && ::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST)
      throw SystemError(prefix, errno_text("cannot create directory"));
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) throw SystemError(dir, errno_text("cannot stat staging directory"));
  if (!S_ISDIR(st.st_mode)) throw SystemError(dir, "staging path exists and is not a directory");
}

// Owns a temporary file: closes it and removes it unless released.
class TempFile {
public:
  explicit TempFile(std::string pattern) : m_path(std::move(pattern)) {
    std::vector<char> name(m_path.begin(), m_path.end());
    name.push_back('\0');
    m_fd.reset(::mkstemp(name.data()));
    if (!m_fd) throw SystemError(m_path, errno_text("cannot create temporary file"));
    m_path.assign(name.data());
  }
  ~TempFile() {
    m_fd.reset();
    if (!m_released) ::unlink(m_path.c_str());
  }
  TempFile(const TempFile &) = delete;
  TempFile &operator=(const TempFile &) = delete;

  void write_all(const uint8_t *data, size_t size) { builder::write_all(m_fd.get(), data, size, m_path); }

  // Closes the file and gives it the name `final_path`, or removes it if that name exists already
  // (same name, same bytes).
  void commit(const std::string &final_path) {
    if (::fchmod(m_fd.get(), 0644) != 0) throw SystemError(m_path, errno_text("cannot set mode"));
    if (::close(m_fd.release()) != 0) throw SystemError(m_path, errno_text("close failed"));
    struct stat st {};
    if (::lstat(final_path.c_str(), &st) == 0) {
      if (!S_ISREG(st.st_mode)) throw SystemError(final_path, "staged content name exists and is not a regular file");
      return; // destructor removes the temporary file
    }
    if (errno != ENOENT) throw SystemError(final_path, errno_text("cannot stat"));
    if (::rename(m_path.c_str(), final_path.c_str()) != 0)
      throw SystemError(final_path, errno_text("cannot rename " + m_path + " to"));
    m_released = true;
  }

private:
  std::string m_path;
  UniqueFd m_fd;
  bool m_released = false;
};

} // namespace

ContentStaging::ContentStaging(std::string dir) : m_dir(std::move(dir)) {
  while (m_dir.size() > 1 && m_dir.back() == '/') m_dir.pop_back();
  make_directories(m_dir);
}

StagedContent ContentStaging::put(std::string_view bytes) {
  size_t pos = 0;
  return put_stream([&](uint8_t *buffer, size_t capacity) {
    size_t n = std::min(capacity, bytes.size() - pos);
    std::memcpy(buffer, bytes.data() + pos, n);
    pos += n;
    return n;
  });
}

StagedContent ContentStaging::put_stream(const std::function<size_t(uint8_t *buffer, size_t capacity)> &read) {
  // The counter only makes temporary names readable; mkstemp makes them unique.
  TempFile temp(m_dir + "/.incoming-" + std::to_string(::getpid()) + "-" + std::to_string(m_counter++) + "-XXXXXX");
  Hasher hasher(HashAlgorithm::sha256);
  std::vector<uint8_t> buffer(k_copy_buffer_size);
  uint64_t size = 0;
  while (true) {
    size_t n = read(buffer.data(), buffer.size());
    if (n == 0) break;
    if (n > buffer.size()) throw SystemError(m_dir, "content reader returned more bytes than the buffer holds");
    hasher.update(buffer.data(), n);
    temp.write_all(buffer.data(), n);
    size += n;
  }
  StagedContent out;
  out.sha256_hex = to_hex(hasher.finish());
  out.path = m_dir + "/" + out.sha256_hex;
  out.size = size;
  temp.commit(out.path);
  return out;
}

Node staged_file_node(const StagedContent &content, uint32_t mode, std::string origin) {
  Node node;
  node.type = NodeType::regular;
  node.mode = mode;
  node.size = content.size;
  node.content_path = content.path;
  node.origin = std::move(origin);
  return node;
}

} // namespace mrforge::builder

#include <measure/util/errors.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/mapped_read.hpp>

#include <algorithm>
#include <mutex>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace mrforge {

namespace {

// O_NONBLOCK: opening a FIFO without a writer (or a tty) returns at once instead of waiting; it is
// cleared again once the file is known to be a regular file. O_NOCTTY: a terminal never becomes
// ours.
constexpr int k_open_flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK;

std::string errno_text(const char *what) { return std::string(what) + ": " + std::strerror(errno); }

int open_at(int dir_fd, const char *name, int flags) {
  for (;;) {
    int fd = ::openat(dir_fd, name, flags);
    if (fd >= 0 || errno != EINTR) return fd;
  }
}

const char *file_type(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISSOCK(mode)) return "a socket";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a regular file";
}

std::string with_article(const char *kind) {
  bool vowel = std::strchr("aeiouAEIOU", kind[0]) != nullptr;
  return std::string(vowel ? "an " : "a ") + kind;
}

// Why opening `name` below `dir_fd` failed: a symbolic link is named as such (O_NOFOLLOW gives
// ELOOP for the last component, ENOTDIR or ELOOP with O_DIRECTORY for the others).
[[noreturn]] void fail_open_in(int dir_fd, const char *name, const std::string &path, int err) {
  struct stat st {};
  if ((err == ELOOP || err == ENOTDIR) && ::fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
    throw SystemError(path, "is a symbolic link: links inside an input directory are not followed (they could lead "
                            "out of it)");
  if (err == ENOTDIR) throw SystemError(path, "is not a directory");
  throw SystemError(path, std::string("cannot open: ") + std::strerror(err));
}

} // namespace

std::string limit_text(uint64_t bytes) {
  static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
  uint64_t value = bytes;
  const char *unit = nullptr;
  for (const char *u : units) {
    if (value == 0 || value % 1024 != 0) break;
    value /= 1024;
    unit = u;
  }
  if (!unit) return std::to_string(bytes) + " bytes";
  return std::to_string(value) + " " + unit + " (" + std::to_string(bytes) + " bytes)";
}

InputFile::InputFile(int fd, std::string path, FileLimit limit) : m_fd(fd), m_path(std::move(path)), m_limit(limit) {}

void InputFile::fail_too_large() const {
  throw SystemError(m_path, "holds more than " + limit_text(m_limit.max_size) + ", the limit for " +
                                with_article(m_limit.kind) + "; nothing beyond it was read");
}

namespace {
// The checks every input file passes before a byte is read: a regular file within its limit.
// Returns its size; clears O_NONBLOCK.
uint64_t check_input(int fd, const std::string &path, FileLimit limit) {
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw SystemError(path, errno_text("cannot stat"));
  if (!S_ISREG(st.st_mode))
    throw SystemError(path, std::string("is ") + file_type(st.st_mode) + ", not a regular file; " +
                                with_article(limit.kind) + " must be a regular file");
  auto size = static_cast<uint64_t>(st.st_size);
  if (size > limit.max_size)
    throw SystemError(path, "is " + std::to_string(size) + " bytes, larger than " + limit_text(limit.max_size) +
                                ", the limit for " + with_article(limit.kind));
  int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) throw SystemError(path, errno_text("fcntl"));
  return size;
}
} // namespace

InputFile InputFile::open(const std::string &path, FileLimit limit) {
  int fd = open_at(AT_FDCWD, path.c_str(), k_open_flags);
  if (fd < 0) throw SystemError(path, errno_text("cannot open"));
  InputFile file(fd, path, limit);
  file.m_size = check_input(fd, path, limit);
  return file;
}

InputFile InputFile::open_in(const std::string &dir, const std::string &relative, FileLimit limit) {
  const std::string path = dir + "/" + relative;
  std::vector<std::string> parts;
  for (size_t start = 0;;) {
    size_t end = relative.find('/', start);
    parts.push_back(relative.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  for (const std::string &p : parts)
    if (p.empty() || p == "." || p == ".." || p.find('\0') != std::string::npos)
      throw SystemError(path, "'" + relative + "' is not a plain relative name inside " + dir);

  UniqueFd current(open_at(AT_FDCWD, dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!current) throw SystemError(dir, errno_text("cannot open the directory"));
  std::string walked = dir;
  for (size_t i = 0; i + 1 < parts.size(); ++i) {
    walked += "/" + parts[i];
    int next = open_at(current.get(), parts[i].c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) fail_open_in(current.get(), parts[i].c_str(), walked, errno);
    current.reset(next);
  }
  int fd = open_at(current.get(), parts.back().c_str(), k_open_flags | O_NOFOLLOW);
  if (fd < 0) fail_open_in(current.get(), parts.back().c_str(), path, errno);
  InputFile file(fd, path, limit);
  file.m_size = check_input(fd, path, limit);
  return file;
}

Bytes InputFile::read_some(size_t n) {
  Bytes out(n);
  size_t got = 0;
  while (got < n) {
    ssize_t r = ::read(m_fd.get(), out.data() + got, n - got);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw SystemError(m_path, errno_text("read failed"));
    }
    if (r == 0) break;
    got += static_cast<size_t>(r);
  }
  out.resize(got);
  return out;
}

Bytes InputFile::read_all() {
  // read() rather than mmap so that pseudo-files (sysfs fw_cfg blobs) work too; their size as
  // fstat reports it means nothing, so the limit is checked on what arrives.
  Bytes out;
  out.reserve(static_cast<size_t>(m_size));
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(m_fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SystemError(m_path, errno_text("read failed"));
    }
    if (n == 0) break;
    if (static_cast<uint64_t>(n) > m_limit.max_size - out.size()) fail_too_large();
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

namespace {

// The file behind each live mapping (mapped_read.hpp): a descriptor of its own, closed when the
// mapping goes.
struct Mapping {
  const uint8_t *addr = nullptr;
  size_t size = 0;
  int fd = -1;
  std::string path;
};

std::mutex g_mappings_mutex;
std::vector<Mapping> g_mappings;

void remember_mapping(const void *addr, size_t size, int fd, const std::string &path) {
  int own = ::fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return; // no descriptor to spare: hashes read the mapping instead
  try {
    std::lock_guard<std::mutex> lock(g_mappings_mutex);
    g_mappings.push_back(Mapping{static_cast<const uint8_t *>(addr), size, own, path});
  } catch (...) {
    ::close(own); // not remembered: hashes read the mapping instead
  }
}

void forget_mapping(const void *addr) {
  std::lock_guard<std::mutex> lock(g_mappings_mutex);
  auto it = std::find_if(g_mappings.begin(), g_mappings.end(), [&](const Mapping &m) { return m.addr == addr; });
  if (it == g_mappings.end()) return;
  ::close(it->fd);
  g_mappings.erase(it);
}

// The live mapping that holds all of `bytes`, if any (copied: the caller reads without the lock;
// the mapping outlives the read, since the caller's view points into it).
bool find_mapping(ByteView bytes, Mapping &out) {
  std::lock_guard<std::mutex> lock(g_mappings_mutex);
  const auto at = reinterpret_cast<uintptr_t>(bytes.data());
  for (const Mapping &m : g_mappings) {
    const auto begin = reinterpret_cast<uintptr_t>(m.addr), end = begin + m.size;
    if (at >= begin && at <= end && bytes.size() <= end - at) {
      out = m;
      return true;
    }
  }
  return false;
}

// Below this, a hash reads the mapping: the pages are few, and the parsers have touched most.
constexpr size_t k_read_threshold = 256 * 1024;
// The read buffer: large enough for few system calls, small enough to stay in the L2 cache.
constexpr size_t k_read_buffer_size = 256 * 1024;

} // namespace

void update_from_file(Hasher &h, ByteView bytes) {
  Mapping m;
  if (bytes.size() < k_read_threshold || !find_mapping(bytes, m)) {
    h.update(bytes);
    return;
  }
  thread_local std::vector<uint8_t> buffer(k_read_buffer_size);
  auto offset = static_cast<off_t>(bytes.data() - m.addr);
  size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::pread(m.fd, buffer.data(), std::min(left, buffer.size()), offset);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SystemError(m.path, errno_text("read failed"));
    }
    if (n == 0)
      throw SystemError(m.path, "ended at byte " + std::to_string(offset) +
                                    " while being read, before the end it had when opened: it was changed meanwhile");
    h.update(buffer.data(), static_cast<size_t>(n));
    offset += n;
    left -= static_cast<size_t>(n);
  }
}

MappedFile::MappedFile(InputFile file) : m_path(file.path()), m_size(static_cast<size_t>(file.size())) {
  if (m_size == 0) return;
  m_addr = ::mmap(nullptr, m_size, PROT_READ, MAP_PRIVATE, file.fd(), 0);
  if (m_addr == MAP_FAILED) {
    m_addr = nullptr;
    throw SystemError(m_path, errno_text("cannot map"));
  }
  ::madvise(m_addr, m_size, MADV_SEQUENTIAL);
  remember_mapping(m_addr, m_size, file.fd(), m_path);
}

MappedFile::MappedFile(const std::string &path, FileLimit limit) : MappedFile(InputFile::open(path, limit)) {}

MappedFile::~MappedFile() {
  if (!m_addr) return;
  forget_mapping(m_addr);
  ::munmap(m_addr, m_size);
}

Bytes read_file(const std::string &path, FileLimit limit) { return InputFile::open(path, limit).read_all(); }

} // namespace mrforge

#include <measure/errors.hpp>
#include <measure/mapped_file.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace mrforge {

namespace {
struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};
} // namespace

MappedFile::MappedFile(const std::string &path) : m_path(path) {
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) throw SystemError(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw SystemError(path, std::string("cannot stat: ") + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw SystemError(path, "not a regular file");
  m_size = static_cast<size_t>(st.st_size);
  if (m_size == 0) return;
  m_addr = ::mmap(nullptr, m_size, PROT_READ, MAP_PRIVATE, f.fd, 0);
  if (m_addr == MAP_FAILED) {
    m_addr = nullptr;
    throw SystemError(path, std::string("cannot map: ") + std::strerror(errno));
  }
  ::madvise(m_addr, m_size, MADV_SEQUENTIAL);
}

MappedFile::~MappedFile() {
  if (m_addr) ::munmap(m_addr, m_size);
}

Bytes read_file(const std::string &path) {
  // read() rather than mmap so that pseudo-files (sysfs fw_cfg blobs, pipes) work too.
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (f.fd < 0) throw SystemError(path, std::string("cannot open: ") + std::strerror(errno));
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) throw SystemError(path, std::string("cannot stat: ") + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw SystemError(path, "is a directory");
  Bytes out;
  uint8_t buf[65536];
  for (;;) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SystemError(path, std::string("read failed: ") + std::strerror(errno));
    }
    if (n == 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  return out;
}

} // namespace mrforge

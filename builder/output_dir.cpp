#include <builder/byte_sink.hpp>
#include <builder/output_dir.hpp>

#include <measure/errors.hpp>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>

namespace mrforge::builder {

namespace fs = std::filesystem;

namespace {

std::string errno_text() { return std::strerror(errno); }

std::string make_temp_dir(const std::string &prefix) {
  std::string templ = prefix + "XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr)
    throw SystemError(prefix, "cannot create a temporary directory: " + errno_text());
  ::chmod(templ.c_str(), 0755);
  return templ;
}

void remove_tree_quietly(const std::string &path) {
  std::error_code ec;
  fs::remove_all(path, ec); // best effort in destructors; nothing to report to
}

} // namespace

OutputDir::OutputDir(std::string final_path, std::string marker)
    : m_final(std::move(final_path)), m_marker(std::move(marker)) {
  while (m_final.size() > 1 && m_final.back() == '/') m_final.pop_back();
  if (m_final.empty()) throw InputError("-o", "the output directory is empty");
  std::error_code ec;
  auto status = fs::symlink_status(m_final, ec);
  if (!ec && fs::exists(status)) {
    if (!fs::is_directory(status))
      throw InputError(m_final, "exists and is not a directory; choose another output path");
    bool empty = fs::is_empty(m_final, ec);
    if (!empty && !fs::exists(fs::path(m_final) / m_marker))
      throw InputError(m_final, "exists and was not written by mrforge (no " + m_marker +
                                    "); remove it or choose another output path");
  }
  fs::path parent = fs::absolute(m_final).parent_path();
  fs::create_directories(parent, ec); // like mkdir -p for the output's parents
  if (!fs::is_directory(parent))
    throw InputError(m_final, "cannot create its parent directory " + parent.string() +
                                  (ec ? ": " + ec.message() : std::string()));
  m_temp = make_temp_dir(m_final + ".mrforge-tmp-");
}

OutputDir::~OutputDir() {
  if (!m_committed) remove_tree_quietly(m_temp);
}

void OutputDir::commit() {
  if (!fs::exists(fs::path(m_temp) / m_marker))
    throw Error("output " + m_temp + " has no " + m_marker + " (a bug: the build did not finish)");
  std::error_code ec;
  if (fs::exists(fs::symlink_status(m_final, ec))) {
    if (::renameat2(AT_FDCWD, m_temp.c_str(), AT_FDCWD, m_final.c_str(), RENAME_EXCHANGE) != 0)
      throw SystemError(m_final, "cannot swap in the new output: " + errno_text());
    m_committed = true;
    remove_tree_quietly(m_temp); // now holds the previous output
    return;
  }
  if (::rename(m_temp.c_str(), m_final.c_str()) != 0)
    throw SystemError(m_final, "cannot move the new output into place: " + errno_text());
  m_committed = true;
}

ScratchDir::~ScratchDir() { remove_tree_quietly(m_path); }

ScratchDir ScratchDir::create(const std::string &prefix) {
  const char *base = std::getenv("TMPDIR");
  std::string templ = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/" + prefix + "-XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr)
    throw SystemError(templ, "cannot create a temporary directory: " + errno_text());
  return ScratchDir(templ);
}

void write_file_atomically(const std::string &path, const std::string &content, unsigned mode) {
  std::string templ = path + ".tmp-XXXXXX";
  int fd = ::mkstemp(templ.data());
  if (fd < 0) throw SystemError(path, "cannot create a temporary file: " + errno_text());
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      std::string why = errno_text();
      ::close(fd);
      ::unlink(templ.c_str());
      throw SystemError(path, "cannot write: " + why);
    }
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0 || ::fsync(fd) != 0 || ::close(fd) != 0) {
    std::string why = errno_text();
    ::unlink(templ.c_str());
    throw SystemError(path, "cannot write: " + why);
  }
  if (::rename(templ.c_str(), path.c_str()) != 0) {
    std::string why = errno_text();
    ::unlink(templ.c_str());
    throw SystemError(path, "cannot rename into place: " + why);
  }
}

} // namespace mrforge::builder

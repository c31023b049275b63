#include <builder/system/store.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/unique_fd.hpp>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <filesystem>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace mrforge::builder {

namespace fs = std::filesystem;

namespace {

bool is_sha256_hex(const std::string &s) {
  return s.size() == 64 && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

void check_hex(const std::string &s, const std::string &what) {
  if (!is_sha256_hex(s)) throw InputError(what, "'" + s + "' is not a lowercase sha256 digest");
}

// Copies what is left of `in` (at most its limit) into the existing file `dest`.
void copy_into(InputFile &in, const std::string &dest) {
  UniqueFd out(::open(dest.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW));
  if (!out) throw SystemError(dest, std::string("cannot open: ") + std::strerror(errno));
  std::vector<uint8_t> buffer(1 << 20);
  uint64_t copied = 0;
  for (;;) {
    ssize_t n = ::read(in.fd(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SystemError(in.path(), std::string("cannot read: ") + std::strerror(errno));
    if (n == 0) break;
    if (static_cast<uint64_t>(n) > in.limit().max_size - copied) in.fail_too_large();
    copied += static_cast<uint64_t>(n);
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out.get(), buffer.data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) throw SystemError(dest, std::string("cannot copy into the store: ") + std::strerror(errno));
      done += w;
    }
  }
  if (::close(out.release()) != 0)
    throw SystemError(dest, std::string("cannot copy into the store: ") + std::strerror(errno));
}

} // namespace

FileDigest digest_file(InputFile file) {
  Hasher hasher(HashAlgorithm::sha256);
  std::vector<uint8_t> buffer(1 << 20);
  FileDigest out;
  while (true) {
    ssize_t n = ::read(file.fd(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SystemError(file.path(), std::string("cannot read: ") + std::strerror(errno));
    if (n == 0) break;
    if (static_cast<uint64_t>(n) > file.limit().max_size - out.size) file.fail_too_large();
    hasher.update(buffer.data(), static_cast<size_t>(n));
    out.size += static_cast<uint64_t>(n);
  }
  out.sha256_hex = to_hex(hasher.finish());
  return out;
}

FileDigest digest_file(const std::string &path, FileLimit limit) { return digest_file(InputFile::open(path, limit)); }

Store::Store(std::string root) : m_root(std::move(root)) {
  std::error_code ec;
  fs::create_directories(fs::path(m_root) / "sha256", ec);
  if (!ec) fs::create_directories(fs::path(m_root) / "tmp", ec);
  if (ec) throw SystemError(m_root, "cannot create the store: " + ec.message() + " (choose another with --store)");
}

std::string Store::default_root() {
  if (const char *s = std::getenv("MRFORGE_STORE"); s != nullptr && *s != '\0') return s;
  if (const char *x = std::getenv("XDG_CACHE_HOME"); x != nullptr && *x == '/')
    return std::string(x) + "/mrforge/store";
  if (const char *h = std::getenv("HOME"); h != nullptr && *h == '/') return std::string(h) + "/.cache/mrforge/store";
  throw InputError("--store", "no HOME or XDG_CACHE_HOME to place the store in; give --store DIR");
}

std::string Store::path_of(const std::string &sha256_hex) const {
  check_hex(sha256_hex, "store key");
  return m_root + "/sha256/" + sha256_hex;
}

bool Store::contains(const std::string &sha256_hex) const {
  struct stat st {};
  return ::stat(path_of(sha256_hex).c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string Store::require(const std::string &sha256_hex, uint64_t size, const std::string &what) const {
  std::string p = path_of(sha256_hex);
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0)
    throw InputError(what, "not in the store " + m_root + " (sha256 " + sha256_hex +
                               "); run `mrforge fetch` first (it needs the network once)");
  if (static_cast<uint64_t>(st.st_size) != size)
    throw InputError(what, "the store's copy " + p + " has " + std::to_string(st.st_size) + " bytes, the lock says " +
                               std::to_string(size) + "; delete it and run `mrforge fetch` again");
  return p;
}

std::string Store::temp_path(const std::string &hint) {
  std::string safe;
  for (char c : hint)
    safe += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-') ? c : '_';
  std::string templ = m_root + "/tmp/" + safe.substr(0, 80) + ".XXXXXX";
  UniqueFd fd(::mkstemp(templ.data()));
  if (!fd)
    throw SystemError(m_root, std::string("cannot create a temporary file in the store: ") + std::strerror(errno));
  return templ;
}

std::string Store::commit(const std::string &temp, const std::string &sha256_hex, uint64_t size,
                          const std::string &what) {
  check_hex(sha256_hex, what);
  FileDigest got = digest_file(temp, limits::k_artifact);
  if (got.sha256_hex != sha256_hex || got.size != size) {
    ::unlink(temp.c_str());
    throw InputError(what, "content does not match the lock: expected sha256 " + sha256_hex + " (" +
                               std::to_string(size) + " bytes), got " + got.sha256_hex + " (" +
                               std::to_string(got.size) + " bytes); nothing was stored");
  }
  std::string dest = path_of(sha256_hex);
  ::chmod(temp.c_str(), 0644);
  if (::rename(temp.c_str(), dest.c_str()) != 0) {
    std::string why = std::strerror(errno);
    ::unlink(temp.c_str());
    throw SystemError(dest, "cannot store: " + why);
  }
  return dest;
}

std::string Store::add_file(const std::string &source, const std::string &sha256_hex, uint64_t size,
                            const std::string &what) {
  // Opened and checked before anything is copied: a FIFO or a device would never end, and a file
  // larger than the pinned size cannot be the pinned one.
  InputFile in = InputFile::open(source, FileLimit{"pinned file", size});
  std::string temp = temp_path(fs::path(source).filename().string());
  try {
    copy_into(in, temp);
  } catch (...) {
    ::unlink(temp.c_str());
    throw;
  }
  return commit(temp, sha256_hex, size, what + " (from " + source + ")");
}

std::string Store::make_scratch_dir(const std::string &hint) {
  std::string templ = m_root + "/tmp/" + hint + ".XXXXXX";
  if (::mkdtemp(templ.data()) == nullptr)
    throw SystemError(m_root, std::string("cannot create a scratch directory in the store: ") + std::strerror(errno));
  return templ;
}

} // namespace mrforge::builder

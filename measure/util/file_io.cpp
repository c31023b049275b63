#include <measure/util/errors.hpp>
#include <measure/util/file_io.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/unique_fd.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>

namespace mrforge {

namespace fs = std::filesystem;

namespace {

std::string errno_text() { return std::strerror(errno); }

// ---- removal on SIGINT / SIGTERM / SIGHUP ---------------------------------------------------
// A signal handler can only reach data through globals. These are the only mutable globals of
// mrforge: fixed slots (no allocation, constant-initialized) that the handler reads with
// async-signal-safe calls only.

constexpr size_t k_cleanup_slots = 64;
constexpr size_t k_cleanup_path_max = 4096; // PATH_MAX
constexpr int k_slot_free = 0, k_slot_writing = 1, k_slot_file = 2, k_slot_directory = 3;
// Output directories are shallow (an OCI layout's blobs/sha256/DIGEST is the deepest).
constexpr int k_cleanup_max_depth = 16;

struct CleanupSlot {
  std::atomic<int> state{k_slot_free};
  char path[k_cleanup_path_max];
};
CleanupSlot g_cleanup_slots[k_cleanup_slots];
std::atomic<pid_t> g_cleanup_owner{0}; // a forked child (before exec) must not remove our files
std::once_flag g_cleanup_installed;
constexpr int k_cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP};

bool is_dot_or_dot_dot(const char *name) {
  return name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0'));
}

// rm -r with async-signal-safe calls only (openat, getdents64, unlinkat, close); best effort.
void remove_tree_in_handler(int parent, const char *name, int depth) {
  if (::unlinkat(parent, name, 0) == 0 || errno != EISDIR) return; // a file, a symlink, or gone
  if (depth < k_cleanup_max_depth) {
    UniqueFd dir(::openat(parent, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (dir) {
      const int fd = dir.get();
      // Removing entries while reading the directory can make getdents64 skip some: read it again
      // until a pass finds nothing left (or gives up after a few).
      for (int pass = 0; pass < 4; ++pass) {
        bool any = false;
        ::lseek(fd, 0, SEEK_SET);
        alignas(struct dirent64) char buf[2048];
        for (;;) {
          ssize_t n = ::getdents64(fd, buf, sizeof buf);
          if (n <= 0) break;
          for (ssize_t off = 0; off < n;) {
            const auto *entry = reinterpret_cast<const struct dirent64 *>(buf + off);
            off += entry->d_reclen;
            if (is_dot_or_dot_dot(entry->d_name)) continue;
            any = true;
            remove_tree_in_handler(fd, entry->d_name, depth + 1);
          }
        }
        if (!any) break;
      }
    }
  }
  ::unlinkat(parent, name, AT_REMOVEDIR);
}

extern "C" void remove_temporaries_and_die(int sig) {
  int saved_errno = errno;
  if (::getpid() == g_cleanup_owner.load()) {
    for (CleanupSlot &slot : g_cleanup_slots) {
      int state = slot.state.load();
      if (state == k_slot_file)
        ::unlinkat(AT_FDCWD, slot.path, 0);
      else if (state == k_slot_directory)
        remove_tree_in_handler(AT_FDCWD, slot.path, 0);
    }
  }
  errno = saved_errno;
  // SA_RESETHAND made the action the default one: once this handler returns, the raised signal
  // ends the process as it would have ended without us (the parent sees "killed by SIGxxx").
  ::raise(sig);
}

void install_cleanup_handler() {
  g_cleanup_owner.store(::getpid());
  for (int sig : k_cleanup_signals) {
    struct sigaction old {};
    if (::sigaction(sig, nullptr, &old) != 0) continue;
    if ((old.sa_flags & SA_SIGINFO) != 0 || old.sa_handler != SIG_DFL) continue; // ignored, or not ours
    struct sigaction act {};
    act.sa_handler = remove_temporaries_and_die;
    act.sa_flags = static_cast<int>(SA_RESETHAND);
    sigemptyset(&act.sa_mask);
    for (int other : k_cleanup_signals) sigaddset(&act.sa_mask, other);
    ::sigaction(sig, &act, nullptr);
  }
}

} // namespace

std::string read_text_file(const std::string &path, FileLimit limit) {
  Bytes b = read_file(path, limit);
  return std::string(b.begin(), b.end());
}

void write_file_atomically(const std::string &path, std::string_view content, unsigned mode) {
  std::string templ = path + ".tmp-XXXXXX";
  UniqueFd file(::mkostemp(templ.data(), O_CLOEXEC));
  const int fd = file.get();
  if (fd < 0) throw SystemError(path, "cannot create a temporary file: " + errno_text());
  InterruptCleanup cleanup(templ, InterruptCleanup::Kind::file);
  auto fail = [&](const char *what) {
    std::string why = errno_text();
    ::unlink(templ.c_str());
    throw SystemError(path, what + (": " + why));
  };
  size_t done = 0;
  while (done < content.size()) {
    ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("cannot write");
    done += static_cast<size_t>(n);
  }
  if (::fchmod(fd, static_cast<mode_t>(mode)) != 0 || ::fsync(fd) != 0) fail("cannot write");
  if (::close(file.release()) != 0) fail("cannot write");
  if (::rename(templ.c_str(), path.c_str()) != 0) fail("cannot rename into place");
}

void write_file_atomically(const std::string &path, ByteView content, unsigned mode) {
  write_file_atomically(path, std::string_view(reinterpret_cast<const char *>(content.data()), content.size()), mode);
}

InterruptCleanup::InterruptCleanup(const std::string &path, Kind kind) {
  std::call_once(g_cleanup_installed, install_cleanup_handler);
  std::error_code ec;
  std::string absolute = fs::absolute(path, ec).string();
  if (ec || absolute.size() >= k_cleanup_path_max) return;
  for (size_t i = 0; i < k_cleanup_slots; ++i) {
    int expected = k_slot_free;
    if (!g_cleanup_slots[i].state.compare_exchange_strong(expected, k_slot_writing)) continue;
    std::memcpy(g_cleanup_slots[i].path, absolute.c_str(), absolute.size() + 1);
    g_cleanup_slots[i].state.store(kind == Kind::file ? k_slot_file : k_slot_directory);
    m_slot = static_cast<int>(i);
    return;
  }
}

void InterruptCleanup::release() {
  if (m_slot < 0) return;
  g_cleanup_slots[static_cast<size_t>(m_slot)].state.store(k_slot_free);
  m_slot = -1;
}

} // namespace mrforge

#include <builder/system/byte_sink.hpp>
#include <builder/system/output_dir.hpp>

#include <measure/documents/json_text.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/unique_fd.hpp>

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <filesystem>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>

namespace mrforge::builder {

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

// ---- output directories ---------------------------------------------------------------------

// A build record is a small JSON document; anything larger is not one of ours.
constexpr size_t k_max_record_size = 1u << 20;

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

// What the build record at `record` (inside output directory `dir`) says the directory holds, or
// an InputError saying why it is not a record mrforge wrote.
std::string recorded_kind(const std::string &dir, const std::string &record) {
  const std::string advice = "; remove it or choose another output path";
  auto not_ours = [&](const std::string &why) -> InputError {
    return InputError(dir, "exists and is not mrforge's output: " + why + advice);
  };
  UniqueFd file(::open(record.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY));
  const int fd = file.get();
  if (fd < 0) {
    if (errno == ENOENT) throw not_ours(std::string("it has no ") + k_build_record);
    if (errno == ELOOP) throw not_ours(std::string("its ") + k_build_record + " is a symlink");
    throw not_ours(std::string("its ") + k_build_record + " cannot be opened (" + errno_text() + ")");
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0) throw SystemError(record, "cannot examine: " + errno_text());
  if (!S_ISREG(st.st_mode)) throw not_ours(std::string("its ") + k_build_record + " is not a regular file");
  if (static_cast<uint64_t>(st.st_size) > k_max_record_size)
    throw not_ours(std::string("its ") + k_build_record + " is " + std::to_string(st.st_size) +
                   " bytes, more than a build record (at most " + std::to_string(k_max_record_size) + ")");
  std::string text(static_cast<size_t>(st.st_size), '\0');
  size_t got = 0;
  while (got < text.size()) {
    ssize_t n = ::read(fd, text.data() + got, text.size() - got);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) throw SystemError(record, "cannot read: " + errno_text());
    if (n == 0) break;
    got += static_cast<size_t>(n);
  }
  text.resize(got);
  nlohmann::json j;
  try {
    j = parse_json_text(text, record);
  } catch (const FormatError &e) {
    throw not_ours(std::string("its ") + k_build_record + " is not a build record (" + e.what() + ")");
  }
  auto kind = j.is_object() ? j.find(k_output_kind_field) : j.end();
  if (!j.is_object() || kind == j.end() || !kind->is_string())
    throw not_ours(std::string("its ") + k_build_record + " does not name an output kind (\"" + k_output_kind_field +
                   "\"; an older mrforge or another tool wrote it)");
  return kind->get<std::string>();
}

} // namespace

const char *output_kind_name(OutputKind kind) {
  switch (kind) {
  case OutputKind::guest_image: return "guest-image";
  case OutputKind::oci_image: return "oci-image";
  case OutputKind::acpi_generated: return "acpi-generated";
  case OutputKind::acpi_captured: return "acpi-captured";
  case OutputKind::acpi_boot_dump: return "acpi-boot-dump";
  }
  return "unknown";
}

void check_output_replaceable(const std::string &given, OutputKind kind) {
  std::string path = given; // "out/" would follow a symlink "out"
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    if (errno == ENOENT) return;
    throw SystemError(path, "cannot examine the output path: " + errno_text());
  }
  if (S_ISLNK(st.st_mode))
    throw InputError(path, "is a symlink; mrforge never writes an output through a symlink: give the directory it "
                           "points to, or another output path");
  if (!S_ISDIR(st.st_mode)) throw InputError(path, "exists and is not a directory; choose another output path");
  std::error_code ec;
  bool empty = fs::is_empty(path, ec);
  if (ec) throw SystemError(path, "cannot list the output directory: " + ec.message());
  if (empty) return;
  std::string recorded = recorded_kind(path, path + "/" + k_build_record);
  if (recorded != output_kind_name(kind)) {
    std::string shown = recorded.size() <= 32 ? recorded : recorded.substr(0, 32) + "...";
    for (char &c : shown)
      if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
    throw InputError(path, std::string("holds mrforge's ") + shown + " output, not " + output_kind_name(kind) +
                               "; remove it or choose another output path");
  }
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

OutputDir::OutputDir(std::string final_path, OutputKind kind) : m_final(std::move(final_path)), m_kind(kind) {
  while (m_final.size() > 1 && m_final.back() == '/') m_final.pop_back();
  if (m_final.empty()) throw InputError("-o", "the output directory is empty");
  check_output_replaceable(m_final, m_kind);
  std::error_code ec;
  fs::path parent = fs::absolute(m_final).parent_path();
  fs::create_directories(parent, ec); // like mkdir -p for the output's parents
  if (!fs::is_directory(parent))
    throw InputError(m_final, "cannot create its parent directory " + parent.string() +
                                  (ec ? ": " + ec.message() : std::string()));
  m_temp = make_temp_dir(m_final + ".mrforge-tmp-");
  m_cleanup.emplace(m_temp, InterruptCleanup::Kind::directory);
}

OutputDir::~OutputDir() {
  if (!m_committed) remove_tree_quietly(m_temp);
}

void OutputDir::write_record(const nlohmann::ordered_json &record) {
  nlohmann::ordered_json r;
  r[k_output_kind_field] = output_kind_name(m_kind);
  for (auto it = record.begin(); it != record.end(); ++it)
    if (it.key() != k_output_kind_field) r[it.key()] = it.value();
  std::string text;
  try {
    text = r.dump(2) + "\n";
  } catch (const nlohmann::json::type_error &e) { // a value from input that is not UTF-8
    throw InputError(m_final, std::string("cannot write its ") + k_build_record + ": " + e.what() +
                                  "; JSON holds UTF-8 text only");
  }
  write_file_atomically(m_temp + "/" + k_build_record, text);
  m_record_written = true;
}

void OutputDir::commit() {
  if (!m_record_written)
    throw Error("output " + m_temp + " has no " + k_build_record + " (a bug: the run did not finish)");
  check_output_replaceable(m_final, m_kind);
  struct stat st {};
  if (::lstat(m_final.c_str(), &st) == 0) {
    if (::renameat2(AT_FDCWD, m_temp.c_str(), AT_FDCWD, m_final.c_str(), RENAME_EXCHANGE) != 0)
      throw SystemError(m_final, "cannot swap in the new output: " + errno_text());
    m_committed = true;
    remove_tree_quietly(m_temp); // now holds the previous output
    m_cleanup.reset();
    return;
  }
  if (::rename(m_temp.c_str(), m_final.c_str()) != 0)
    throw SystemError(m_final, "cannot move the new output into place: " + errno_text());
  m_committed = true;
  m_cleanup.reset();
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

} // namespace mrforge::builder

#include <builder/system/byte_sink.hpp>
#include <builder/system/output_dir.hpp>

#include <measure/documents/json_text.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/unique_fd.hpp>

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
  case OutputKind::dstack_app: return "dstack-app";
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

// ---- file outputs ---------------------------------------------------------------------------

namespace {

std::string temporary_file_name(const std::string &output) {
  std::string name = output + ".tmp-XXXXXX";
  if (!UniqueFd(::mkstemp(name.data())))
    throw SystemError(output, "cannot create a temporary file next to it: " + errno_text());
  ::unlink(name.c_str());
  return name;
}

void sync_parent_directory(const std::string &path) {
  std::string dir = path.find('/') == std::string::npos ? "." : path.substr(0, path.rfind('/'));
  if (dir.empty()) dir = "/";
  UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) throw SystemError(dir, "cannot sync directory: " + errno_text());
}

} // namespace

FileOutput::FileOutput(std::string path)
    : m_path(std::move(path)), m_temp(temporary_file_name(m_path)),
      m_on_interrupt(m_temp, InterruptCleanup::Kind::file) {}

FileOutput::~FileOutput() {
  if (!m_committed) ::unlink(m_temp.c_str());
}

void FileOutput::commit() {
  if (::rename(m_temp.c_str(), m_path.c_str()) != 0)
    throw SystemError(m_path, "cannot rename " + m_temp + " into place: " + errno_text());
  m_committed = true;
  m_on_interrupt.release();
  sync_parent_directory(m_path);
}

} // namespace mrforge::builder

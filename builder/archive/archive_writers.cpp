// tar (pax restricted) and cpio newc writers over an FsTree, through libarchive 3.6.
//
// Fixed choices (part of the digest contract):
//  - tar: archive_write_set_format_pax_restricted, xattrs only as SCHILY.xattr (option
//    "xattrheader=SCHILY"), 10240-byte blocks with the last block padded (libarchive's and GNU
//    tar's default), directory names as libarchive writes them (it appends '/');
//  - cpio: "newc" (070701), 512-byte blocks (GNU cpio's padding), TRAILER!!! written by libarchive;
//  - every entry: mtime = options.mtime with 0 ns (no pax "mtime" record), no atime/ctime/
//    birthtime, numeric uid/gid, no uname/gname, mode = type bits | (node.mode & 07777);
//  - hard links share their file's metadata (one inode).
#include <builder/archive/archive_writers.hpp>
#include <builder/system/output_dir.hpp>
#include <builder/system/utf8_locale.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/unique_fd.hpp>

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <fcntl.h>
#include <map>
#include <memory>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace mrforge::builder {

namespace {

constexpr int k_tar_bytes_per_block = 10240; // libarchive's and GNU tar's default (20 records)
constexpr int k_cpio_bytes_per_block = 512;  // GNU cpio pads its output to 512 bytes
constexpr size_t k_read_chunk = size_t{256} << 10;

std::string errno_text(const char *what) { return std::string(what) + ": " + std::strerror(errno); }

// An archive being written into a ByteSink. Exceptions from the sink cannot travel through
// libarchive's C frames: the callback stores them and reports failure, and check() rethrows.
class ArchiveWriter {
public:
  ArchiveWriter(ByteSink &out, std::string what) : m_out(out), m_what(std::move(what)), m_a(archive_write_new()) {
    if (m_a == nullptr) throw Error(m_what + ": archive_write_new failed");
  }
  ~ArchiveWriter() {
    m_abandoned = true; // after a failure: let libarchive free without writing more
    archive_write_free(m_a);
  }
  ArchiveWriter(const ArchiveWriter &) = delete;
  ArchiveWriter &operator=(const ArchiveWriter &) = delete;

  archive *get() { return m_a; }

  void check(int r, const std::string &where) {
    if (r == ARCHIVE_OK) return;
    if (m_error) std::rethrow_exception(m_error);
    const char *message = archive_error_string(m_a);
    throw SystemError(where, m_what + ": libarchive: " + (message != nullptr ? message : "unknown error"));
  }

  void open() { check(archive_write_open(m_a, this, nullptr, &ArchiveWriter::write_callback, nullptr), m_what); }
  void close() { check(archive_write_close(m_a), m_what); }

  void write_data(const uint8_t *data, size_t size, const std::string &where) {
    la_ssize_t n = archive_write_data(m_a, data, size);
    if (n < 0 || static_cast<size_t>(n) != size) check(n < 0 ? static_cast<int>(n) : ARCHIVE_FATAL, where);
  }

private:
  static la_ssize_t write_callback(archive *a, void *client, const void *buffer, size_t length) {
    auto *self = static_cast<ArchiveWriter *>(client);
    if (self->m_abandoned || self->m_error) {
      archive_set_error(a, EIO, "output abandoned");
      return -1;
    }
    try {
      self->m_out.write(static_cast<const uint8_t *>(buffer), length);
    } catch (...) {
      self->m_error = std::current_exception(); // rethrown by check()
      archive_set_error(a, EIO, "output sink failed");
      return -1;
    }
    return static_cast<la_ssize_t>(length);
  }

  ByteSink &m_out;
  std::string m_what;
  archive *m_a;
  std::exception_ptr m_error;
  bool m_abandoned = false;
};

struct EntryFree {
  void operator()(archive_entry *e) const { archive_entry_free(e); }
};
using EntryPtr = std::unique_ptr<archive_entry, EntryFree>;

EntryPtr new_entry() {
  EntryPtr e(archive_entry_new());
  if (!e) throw Error("archive_entry_new failed");
  return e;
}

// Streams `node`'s content file (exactly node.size bytes) into the current entry.
void write_content(ArchiveWriter &writer, const std::string &tree_path, const Node &node,
                   std::vector<uint8_t> &buffer) {
  const std::string &host = node.content_path;
  // O_NONBLOCK: a FIFO put in its place cannot block the open; it is refused below (no effect on
  // regular files).
  UniqueFd fd(::open(host.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (fd.get() < 0) throw SystemError(host, errno_text(("cannot open content of '" + tree_path + "'").c_str()));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) throw SystemError(host, errno_text("fstat failed"));
  if (!S_ISREG(st.st_mode)) throw SystemError(host, "content of '" + tree_path + "' is not a regular file");
  if (static_cast<uint64_t>(st.st_size) != node.size)
    throw SystemError(host, "content of '" + tree_path + "' is " + std::to_string(st.st_size) +
                                " bytes, but the tree recorded " + std::to_string(node.size) +
                                " (changed since it was staged)");
  ::posix_fadvise(fd.get(), 0, 0, POSIX_FADV_SEQUENTIAL); // a hint; failure changes nothing
  uint64_t left = node.size;
  while (left > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(left, buffer.size()));
    ssize_t n = ::read(fd.get(), buffer.data(), want);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SystemError(host, errno_text("read failed"));
    }
    if (n == 0) throw SystemError(host, "content of '" + tree_path + "' shrank while it was being archived");
    writer.write_data(buffer.data(), static_cast<size_t>(n), tree_path);
    left -= static_cast<uint64_t>(n);
  }
}

unsigned type_bits(NodeType type) {
  switch (type) {
  case NodeType::directory: return AE_IFDIR;
  case NodeType::regular:
  case NodeType::hardlink: return AE_IFREG;
  case NodeType::symlink: return AE_IFLNK;
  case NodeType::char_device: return AE_IFCHR;
  case NodeType::block_device: return AE_IFBLK;
  case NodeType::fifo: return AE_IFIFO;
  }
  throw Error("unknown node type");
}

// The node whose metadata an entry carries: a hard link's file, else the node itself.
const Node &inode_of(const FsTree &tree, const std::string &path, const Node &node) {
  if (node.type != NodeType::hardlink) return node;
  const Node *target = tree.find(node.link_target);
  if (target == nullptr || target->type != NodeType::regular)
    throw InputError(node.origin, "'" + path + "': hard link to '" + node.link_target +
                                      "', which is not a regular file in the tree");
  return *target;
}

// Fields every entry gets in both formats.
void set_common(archive_entry *e, const std::string &path, const Node &node, const Node &inode,
                const ArchiveOptions &options) {
  archive_entry_clear(e);
  archive_entry_copy_pathname(e, path.c_str());
  archive_entry_set_mode(e, static_cast<mode_t>(type_bits(node.type) | (inode.mode & 07777)));
  archive_entry_set_uid(e, inode.uid);
  archive_entry_set_gid(e, inode.gid);
  archive_entry_set_mtime(e, static_cast<time_t>(options.mtime), 0);
  archive_entry_set_size(e, 0); // regular files set theirs; newc needs one on every entry
  if (node.type == NodeType::symlink) archive_entry_copy_symlink(e, node.link_target.c_str());
  if (node.type == NodeType::char_device || node.type == NodeType::block_device) {
    archive_entry_set_rdevmajor(e, node.dev_major);
    archive_entry_set_rdevminor(e, node.dev_minor);
  }
}

} // namespace

namespace {

// The fixed tar format choices (see the top of this file), then opens the archive.
void open_tar(ArchiveWriter &writer) {
  archive *a = writer.get();
  writer.check(archive_write_set_format_pax_restricted(a), "tar writer");
  writer.check(archive_write_set_format_option(a, "pax", "xattrheader", "SCHILY"), "tar writer");
  writer.check(archive_write_set_bytes_per_block(a, k_tar_bytes_per_block), "tar writer");
  writer.open();
}

} // namespace

void write_tar(const FsTree &tree, const ArchiveOptions &options, ByteSink &out) {
  Utf8Locale utf8; // names are UTF-8 whatever the caller's locale (see utf8_locale.hpp)
  ArchiveWriter writer(out, "tar writer");
  archive *a = writer.get();
  open_tar(writer);
  EntryPtr entry = new_entry();
  std::vector<uint8_t> buffer(k_read_chunk);
  for (const auto &[path, node] : tree.nodes()) {
    const Node &inode = inode_of(tree, path, node);
    archive_entry *e = entry.get();
    set_common(e, path, node, inode, options);
    if (node.type == NodeType::hardlink) archive_entry_copy_hardlink(e, node.link_target.c_str());
    if (node.type == NodeType::regular) archive_entry_set_size(e, static_cast<la_int64_t>(node.size));
    if (node.type != NodeType::hardlink)            // a link's xattrs are its file's, written with the file
      for (const auto &[name, value] : node.xattrs) // std::map: sorted by name
        archive_entry_xattr_add_entry(e, name.c_str(), value.data(), value.size());
    writer.check(archive_write_header(a, e), path);
    if (node.type == NodeType::regular) write_content(writer, path, node, buffer);
    writer.check(archive_write_finish_entry(a), path);
  }
  writer.close();
}

struct TarStreamWriter::Impl {
  Impl(ByteSink &out, const ArchiveOptions &opts) : writer(out, "tar writer"), entry(new_entry()), options(opts) {}
  Utf8Locale utf8; // names are UTF-8 whatever the caller's locale (see utf8_locale.hpp)
  ArchiveWriter writer;
  EntryPtr entry;
  ArchiveOptions options;
  std::string path; // of the open entry; empty between entries
  uint64_t left = 0;
};

TarStreamWriter::TarStreamWriter(ByteSink &out, const ArchiveOptions &options)
    : m_impl(std::make_unique<Impl>(out, options)) {
  open_tar(m_impl->writer);
}

TarStreamWriter::~TarStreamWriter() = default;

void TarStreamWriter::begin_file(const std::string &path, uint64_t size, uint32_t mode) {
  Impl &w = *m_impl;
  if (!w.path.empty()) throw Error("tar writer: '" + w.path + "' was not ended before '" + path + "'");
  if (size > static_cast<uint64_t>(INT64_MAX)) throw SystemError(path, "too large for a tar entry");
  archive_entry *e = w.entry.get();
  archive_entry_clear(e);
  archive_entry_copy_pathname(e, path.c_str());
  archive_entry_set_mode(e, static_cast<mode_t>(AE_IFREG | (mode & 07777)));
  archive_entry_set_uid(e, 0);
  archive_entry_set_gid(e, 0);
  archive_entry_set_mtime(e, static_cast<time_t>(w.options.mtime), 0);
  archive_entry_set_size(e, static_cast<la_int64_t>(size));
  w.writer.check(archive_write_header(w.writer.get(), e), path);
  w.path = path;
  w.left = size;
}

void TarStreamWriter::write(const uint8_t *data, size_t size) {
  Impl &w = *m_impl;
  if (size > w.left) throw SystemError(w.path, "more bytes than the entry's size (it changed while being archived)");
  w.writer.write_data(data, size, w.path);
  w.left -= size;
}

void TarStreamWriter::end_file() {
  Impl &w = *m_impl;
  if (w.left != 0)
    throw SystemError(w.path,
                      std::to_string(w.left) + " bytes short of the entry's size (it changed while being archived)");
  w.writer.check(archive_write_finish_entry(w.writer.get()), w.path);
  w.path.clear();
}

void TarStreamWriter::close() { m_impl->writer.close(); }

void write_cpio_newc(const FsTree &tree, const ArchiveOptions &options, ByteSink &out) {
  Utf8Locale utf8; // names are UTF-8 whatever the caller's locale (see utf8_locale.hpp)
  // Inode numbers, link counts and which path of a hard-link group carries the data.
  struct Inode {
    uint64_t number = 0;
    uint32_t nlink = 1;
    std::string data_path; // last path of the group in sorted order
  };
  std::map<std::string, Inode> inodes; // file path (not link path) -> inode
  uint64_t next_inode = 1;
  for (const auto &[path, node] : tree.nodes()) {
    if (node.type == NodeType::hardlink) {
      inode_of(tree, path, node);               // validates the target
      Inode &ino = inodes.at(node.link_target); // the target sorts first: already numbered
      ++ino.nlink;
      ino.data_path = path;
      continue;
    }
    Inode ino;
    ino.number = next_inode++;
    ino.nlink = node.type == NodeType::directory ? 2 : 1;
    ino.data_path = path;
    inodes.emplace(path, ino);
    if (node.type == NodeType::directory) {
      std::string parent = parent_path(path);
      if (!parent.empty()) ++inodes.at(parent).nlink; // a subdirectory's ".." links its parent
    }
  }

  ArchiveWriter writer(out, "cpio writer");
  archive *a = writer.get();
  writer.check(archive_write_set_format_cpio_newc(a), "cpio writer");
  writer.check(archive_write_set_bytes_per_block(a, k_cpio_bytes_per_block), "cpio writer");
  writer.open();
  EntryPtr entry = new_entry();
  std::vector<uint8_t> buffer(k_read_chunk);
  for (const auto &[path, node] : tree.nodes()) {
    const Node &inode = inode_of(tree, path, node);
    const std::string &file_path = node.type == NodeType::hardlink ? node.link_target : path;
    const Inode &ino = inodes.at(file_path);
    archive_entry *e = entry.get();
    set_common(e, path, node, inode, options);
    archive_entry_set_ino64(e, static_cast<la_int64_t>(ino.number));
    archive_entry_set_nlink(e, ino.nlink);
    bool carries_data = (node.type == NodeType::regular || node.type == NodeType::hardlink) && ino.data_path == path;
    if (carries_data) archive_entry_set_size(e, static_cast<la_int64_t>(inode.size));
    writer.check(archive_write_header(a, e), path);
    if (carries_data) write_content(writer, path, inode, buffer);
    writer.check(archive_write_finish_entry(a), path);
  }
  writer.close();
}

int64_t parse_epoch_seconds(const std::string &text, const std::string &what) {
  if (text.empty()) throw InputError(what, "empty timestamp (expected seconds since 1970-01-01 UTC, e.g. 1700000000)");
  int64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9')
      throw InputError(what, "'" + text + "' is not a timestamp (expected decimal seconds since 1970-01-01 UTC)");
    int digit = c - '0';
    if (value > (INT64_MAX - digit) / 10) throw InputError(what, "'" + text + "' is too large");
    value = value * 10 + digit;
  }
  return value;
}

const char *archive_format_name(ArchiveFormat format) {
  switch (format) {
  case ArchiveFormat::tar: return "tar";
  case ArchiveFormat::cpio_newc: return "cpio";
  }
  return "unknown";
}

ArchiveFormat parse_archive_format(const std::string &name, const std::string &what) {
  if (name == "tar") return ArchiveFormat::tar;
  if (name == "cpio") return ArchiveFormat::cpio_newc;
  throw InputError(what, "unknown archive format '" + name + "' (expected tar or cpio)");
}

ArchiveResult write_directory_archive(const DirectoryArchiveOptions &options) {
  ScanOptions scan;
  scan.uid = options.uid;
  scan.gid = options.gid;
  scan.origin = "directory " + options.source_dir;
  FsTree tree = scan_directory(options.source_dir, scan);

  ArchiveResult result;
  result.path = options.output_path;
  result.format = options.format;
  result.compression = options.compression.kind;
  result.compressor = compressor_version(options.compression.kind);

  FileOutput output(options.output_path);
  {
    FileSink file(output.temp_path());
    HashingSink compressed(&file);
    std::unique_ptr<ByteSink> compressor = make_compressor(options.compression, compressed);
    HashingSink raw(compressor.get());
    if (options.format == ArchiveFormat::tar)
      write_tar(tree, options.archive, raw);
    else
      write_cpio_newc(tree, options.archive, raw);
    raw.finish(); // ends compression, fsyncs and closes the file
    result.sha256 = compressed.sha256_hex();
    result.size = compressed.size();
    result.uncompressed_sha256 = raw.sha256_hex();
    result.uncompressed_size = raw.size();
  }
  output.commit();
  return result;
}

} // namespace mrforge::builder

// Root file system image writer: materialize an FsTree, run mkfs.erofs or mksquashfs, append a
// dm-verity hash tree with veritysetup. See rootfs_image.hpp for the fixed choices and the layout.
#include <builder/guest/rootfs_image.hpp>
#include <builder/system/output_dir.hpp>
#include <builder/system/subprocess.hpp>

#include <measure/util/bytes.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/strings.hpp>
#include <measure/util/unique_fd.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <future>
#include <map>
#include <sstream>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <vector>

namespace mrforge::builder {

namespace {

constexpr uint64_t k_block_size = 4096;              // erofs 1.5 block size, verity data and hash blocks
constexpr uint32_t k_dir_build_mode = 0700;          // directories while they are being filled
constexpr int64_t k_max_epoch = int64_t{0xffffffff}; // squashfs stores times as 32-bit unsigned
constexpr size_t k_copy_chunk = size_t{1} << 20;

std::string errno_text(const std::string &what) { return what + ": " + std::strerror(errno); }

// A path as a tool argument: never one that looks like an option.
std::string path_arg(const std::string &path) { return !path.empty() && path[0] == '-' ? "./" + path : path; }

// Removes the image's temporary file unless the image was completed.
class TempFileGuard {
public:
  explicit TempFileGuard(std::string path) : m_path(std::move(path)) {}
  ~TempFileGuard() {
    if (!m_released) ::unlink(m_path.c_str());
  }
  TempFileGuard(const TempFileGuard &) = delete;
  TempFileGuard &operator=(const TempFileGuard &) = delete;
  void release() { m_released = true; }

private:
  std::string m_path;
  bool m_released = false;
};

void report(const RootfsImageSettings &settings, const std::string &message) {
  if (settings.progress) settings.progress(message);
}

uint64_t file_size(const std::string &path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw SystemError(path, errno_text("stat failed"));
  return static_cast<uint64_t>(st.st_size);
}

bool is_hex(const std::string &s) {
  return !s.empty() &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// ---- checks before anything is written ----

bool needs_privileged_xattr(const std::string &name) { return name.compare(0, 5, "user.") != 0; }

void check_tree(const FsTree &tree, const RootfsImageSettings &settings) {
  if (settings.source_date_epoch < 0 || settings.source_date_epoch > k_max_epoch)
    throw InputError("source_date_epoch", std::to_string(settings.source_date_epoch) +
                                              " is outside 0 ... 4294967295 (the range both erofs and squashfs store)");
  std::string privileged; // why root is needed, for the message
  for (const auto &[path, node] : tree.nodes()) {
    std::string where = "rootfs entry '" + path + "'" + (node.origin.empty() ? "" : " (" + node.origin + ")");
    if (settings.format == RootfsFormat::erofs) {
      // mkfs.erofs 1.5 skips every directory entry whose name starts with "lost+found"
      // (lib/inode.c, erofs_mkfs_build_tree: strncmp(d_name, "lost+found", 10)).
      std::string name = path.substr(path.rfind('/') == std::string::npos ? 0 : path.rfind('/') + 1);
      if (name.compare(0, 10, "lost+found") == 0)
        throw InputError(where, "mkfs.erofs 1.5 silently drops names starting with \"lost+found\"; rename it or "
                                "build a squashfs root");
    }
    for (const auto &[name, value] : node.xattrs) {
      if (name.empty() || name.find('.') == std::string::npos || name.find('\0') != std::string::npos)
        throw InputError(where, "xattr name '" + name + "' has no namespace (\"user.\", \"security.\", ...)");
      // Linux allows user.* xattrs on regular files and directories only (xattr(7)).
      if (!needs_privileged_xattr(name) && node.type != NodeType::regular && node.type != NodeType::directory)
        throw InputError(where, "a " + std::string(node_type_name(node.type)) + " cannot carry the user xattr " + name);
    }
    if (node.type == NodeType::hardlink) {
      const Node *target = tree.find(node.link_target);
      if (target == nullptr || target->type != NodeType::regular)
        throw InputError(where, "hard link target '" + node.link_target + "' is not a regular file of the tree");
      continue;
    }
    if (!privileged.empty()) continue;
    if (node.uid != 0 || node.gid != 0)
      privileged = "'" + path + "' is owned by " + std::to_string(node.uid) + ":" + std::to_string(node.gid);
    else if (node.type == NodeType::char_device || node.type == NodeType::block_device)
      privileged = "'" + path + "' is a device node";
    else
      for (const auto &[name, value] : node.xattrs)
        if (needs_privileged_xattr(name)) {
          privileged = "'" + path + "' has the xattr " + name;
          break;
        }
  }
  if (!privileged.empty() && ::geteuid() != 0)
    throw SystemError(settings.scratch_dir, "a root file system with owners, device nodes or security/trusted xattrs "
                                            "needs root privileges to be materialized (" +
                                                privileged + "): run the build as root");
}

bool all_root_owned(const FsTree &tree) {
  return std::all_of(tree.nodes().begin(), tree.nodes().end(), [](const auto &entry) {
    return entry.second.type == NodeType::hardlink || (entry.second.uid == 0 && entry.second.gid == 0);
  });
}

// ---- materializing the tree ----

// The staged content of a regular-file entry, opened and checked to be the regular file of the
// size the tree recorded.
UniqueFd open_content(const std::string &tree_path, const Node &node) {
  const std::string &host = node.content_path;
  // O_NONBLOCK: a FIFO put in its place cannot block the open; it is refused below (no effect on
  // regular files).
  UniqueFd in(::open(host.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (in.get() < 0) throw SystemError(host, errno_text("cannot open content of '" + tree_path + "'"));
  struct stat st {};
  if (::fstat(in.get(), &st) != 0) throw SystemError(host, errno_text("fstat failed"));
  if (!S_ISREG(st.st_mode)) throw SystemError(host, "content of '" + tree_path + "' is not a regular file");
  if (static_cast<uint64_t>(st.st_size) != node.size)
    throw SystemError(host, "content of '" + tree_path + "' is " + std::to_string(st.st_size) +
                                " bytes, but the tree recorded " + std::to_string(node.size) +
                                " (changed since it was staged)");
  return in;
}

// Hard-links the staged content (the checked open file, through /proc, so that the file checked is
// the file linked) to `dest`. False if this file system or kernel cannot (the caller copies).
bool link_content(const UniqueFd &in, const std::string &tree_path, const std::string &dest) {
  const std::string proc = "/proc/self/fd/" + std::to_string(in.get());
  if (::linkat(AT_FDCWD, proc.c_str(), AT_FDCWD, dest.c_str(), AT_SYMLINK_FOLLOW) == 0) return true;
  if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == ENOENT || errno == EOPNOTSUPP) return false;
  throw SystemError(dest, errno_text("cannot link the content of '" + tree_path + "'"));
}

void copy_content(const std::string &tree_path, const Node &node, const std::string &dest) {
  const std::string &host = node.content_path;
  UniqueFd in = open_content(tree_path, node);
  UniqueFd out(::open(dest.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600));
  if (out.get() < 0) throw SystemError(dest, errno_text("cannot create materialized '" + tree_path + "'"));
  uint64_t left = node.size;
  bool use_copy_range = true; // the kernel copies (or reflinks) without a trip through user space
  std::vector<char> buffer;
  while (left > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(left, k_copy_chunk));
    if (use_copy_range) {
      ssize_t n = ::copy_file_range(in.get(), nullptr, out.get(), nullptr, want, 0);
      if (n > 0) {
        left -= static_cast<uint64_t>(n);
        continue;
      }
      if (n == 0) break; // shrank under us: reported below
      if (errno != EXDEV && errno != ENOSYS && errno != EINVAL && errno != EOPNOTSUPP)
        throw SystemError(dest, errno_text("copying the content of '" + tree_path + "' failed"));
      use_copy_range = false;
      buffer.resize(k_copy_chunk);
    }
    ssize_t n = ::read(in.get(), buffer.data(), want);
    if (n < 0) {
      if (errno == EINTR) continue;
      throw SystemError(host, errno_text("read failed"));
    }
    if (n == 0) break;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out.get(), buffer.data() + done, static_cast<size_t>(n - done));
      if (w < 0) {
        if (errno == EINTR) continue;
        throw SystemError(dest, errno_text("write failed"));
      }
      done += w;
    }
    left -= static_cast<uint64_t>(n);
  }
  if (left != 0) throw SystemError(host, "content of '" + tree_path + "' ended early (changed since it was staged)");
  if (::close(out.release()) != 0) throw SystemError(dest, errno_text("close failed"));
}

// The order the xattrs are set in and must be listed in: descending byte-wise by name. tmpfs
// (an rbtree since Linux 6.6, insertion order before) and ext4's in-inode area (insertion order)
// both list them this way when they are set this way.
std::vector<std::string> xattr_order(const Node &node) {
  std::vector<std::string> names;
  for (auto it = node.xattrs.rbegin(); it != node.xattrs.rend(); ++it) names.push_back(it->first);
  return names;
}

std::vector<std::string> list_xattrs(const std::string &host) {
  for (;;) {
    ssize_t size = ::llistxattr(host.c_str(), nullptr, 0);
    if (size < 0) {
      if (errno == ENOTSUP) return {};
      throw SystemError(host, errno_text("llistxattr failed"));
    }
    std::string buffer(static_cast<size_t>(size), '\0');
    ssize_t got = size == 0 ? 0 : ::llistxattr(host.c_str(), buffer.data(), buffer.size());
    if (got < 0) {
      if (errno == ERANGE) continue; // grew in between
      throw SystemError(host, errno_text("llistxattr failed"));
    }
    std::vector<std::string> names;
    for (size_t pos = 0; pos < static_cast<size_t>(got);) {
      size_t end = buffer.find('\0', pos);
      if (end == std::string::npos || end >= static_cast<size_t>(got)) end = static_cast<size_t>(got);
      names.push_back(buffer.substr(pos, end - pos));
      pos = end + 1;
    }
    return names;
  }
}

std::string names_or_none(const std::vector<std::string> &names) {
  return names.empty() ? "(none)" : join(names, ", ");
}

void materialize(const FsTree &tree, const std::string &root, const RootfsImageSettings &settings) {
  const bool as_root = ::geteuid() == 0;
  auto host = [&root](const std::string &path) { return root + "/" + path; };
  if (::mkdir(root.c_str(), k_dir_build_mode) != 0)
    throw SystemError(root, errno_text("cannot create the materialized tree (the scratch directory must be empty)"));

  // 1. directories (sorted, so parents first), 2. regular files, 3. hard links, 4. the rest.
  for (const auto &[path, node] : tree.nodes())
    if (node.type == NodeType::directory && ::mkdir(host(path).c_str(), k_dir_build_mode) != 0)
      throw SystemError(host(path), errno_text("mkdir failed"));
  // A staged content the caller lets us consume and that backs one entry only is linked, not
  // copied: its bytes are written once. (Linking a content shared by two entries would make them
  // one inode, a hard link in the image.) The tools store nothing of the link count or inode.
  std::map<std::string, int> uses;
  for (const auto &[path, node] : tree.nodes())
    if (node.type == NodeType::regular) ++uses[node.content_path];
  auto consumable = [&](const Node &node) {
    const std::string &dir = settings.consumable_content_dir;
    return !dir.empty() && uses[node.content_path] == 1 && node.content_path.size() > dir.size() + 1 &&
           node.content_path.compare(0, dir.size() + 1, dir + "/") == 0 &&
           node.content_path.find('/', dir.size() + 1) == std::string::npos;
  };
  for (const auto &[path, node] : tree.nodes()) {
    if (node.type != NodeType::regular) continue;
    if (consumable(node) && link_content(open_content(path, node), path, host(path))) continue;
    copy_content(path, node, host(path));
  }
  for (const auto &[path, node] : tree.nodes())
    if (node.type == NodeType::hardlink && ::link(host(node.link_target).c_str(), host(path).c_str()) != 0)
      throw SystemError(host(path), errno_text("cannot hard-link to '" + node.link_target + "'"));
  for (const auto &[path, node] : tree.nodes()) {
    const std::string p = host(path);
    switch (node.type) {
    case NodeType::symlink:
      if (::symlink(node.link_target.c_str(), p.c_str()) != 0) throw SystemError(p, errno_text("symlink failed"));
      break;
    case NodeType::char_device:
    case NodeType::block_device: {
      mode_t type = node.type == NodeType::char_device ? S_IFCHR : S_IFBLK;
      if (::mknod(p.c_str(), type | 0600, ::makedev(node.dev_major, node.dev_minor)) != 0)
        throw SystemError(p, errno_text("mknod failed"));
      break;
    }
    case NodeType::fifo:
      if (::mknod(p.c_str(), S_IFIFO | 0600, 0) != 0) throw SystemError(p, errno_text("mkfifo failed"));
      break;
    default: break;
    }
  }

  // Owners, then modes (chown clears setuid/setgid), then xattrs (chown also drops
  // security.capability), checked in the order the tools will read them.
  for (const auto &[path, node] : tree.nodes()) {
    if (node.type == NodeType::hardlink) continue; // shares its file's inode
    const std::string p = host(path);
    if (as_root && ::lchown(p.c_str(), node.uid, node.gid) != 0) throw SystemError(p, errno_text("lchown failed"));
    if (node.type != NodeType::symlink && ::chmod(p.c_str(), node.mode & 07777) != 0)
      throw SystemError(p, errno_text("chmod failed"));
    for (const std::string &name : xattr_order(node)) {
      const std::string &value = node.xattrs.at(name);
      if (::lsetxattr(p.c_str(), name.c_str(), value.data(), value.size(), XATTR_CREATE) != 0)
        throw SystemError(p, errno_text("cannot set xattr " + name + " of '" + path + "'"));
    }
  }
  if (as_root && ::lchown(root.c_str(), 0, 0) != 0) throw SystemError(root, errno_text("lchown failed"));
  if (::chmod(root.c_str(), 0755) != 0) throw SystemError(root, errno_text("chmod failed"));

  // The tools store xattrs in listing order: every entry must list exactly its own, in order (this
  // also catches SELinux labels and default ACLs the scratch file system adds by itself).
  auto check_listing = [&](const std::string &p, const std::string &path, const std::vector<std::string> &want) {
    std::vector<std::string> got = list_xattrs(p);
    if (got != want)
      throw SystemError(p, "the scratch file system lists the xattrs of '" + path + "' as [" + names_or_none(got) +
                               "], expected [" + names_or_none(want) +
                               "]; the image would depend on it: use a scratch directory on tmpfs (e.g. /dev/shm) "
                               "or ext4 without default ACLs or SELinux labels");
  };
  check_listing(root, "/", {});
  for (const auto &[path, node] : tree.nodes())
    if (node.type != NodeType::hardlink) check_listing(host(path), path, xattr_order(node));

  // Times last, children before their directories (reverse sorted order), the root at the end.
  const struct timespec times[2] = {{static_cast<time_t>(settings.source_date_epoch), 0},
                                    {static_cast<time_t>(settings.source_date_epoch), 0}};
  const auto &nodes = tree.nodes();
  for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
    if (it->second.type == NodeType::hardlink) continue;
    const std::string p = host(it->first);
    if (::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
      throw SystemError(p, errno_text("utimensat failed"));
  }
  if (::utimensat(AT_FDCWD, root.c_str(), times, AT_SYMLINK_NOFOLLOW) != 0)
    throw SystemError(root, errno_text("utimensat failed"));
}

// ---- tools ----

std::string first_line(const std::string &text) { return text.substr(0, text.find('\n')); }

// "mkfs.erofs 1.5" from the first line mkfs.erofs prints (it has no --version in 1.5).
std::string erofs_version() {
  ScratchDir dir = ScratchDir::create("mrforge-erofs-version");
  if (::mkdir(dir.file("empty").c_str(), 0755) != 0) throw SystemError(dir.file("empty"), errno_text("mkdir failed"));
  ProcessResult r =
      run_tool({"mkfs.erofs", "-T0", dir.file("probe.img"), dir.file("empty")}, dir.path(), "mkfs.erofs version probe");
  std::string line = first_line(r.stdout_data);
  if (line.compare(0, 11, "mkfs.erofs ") != 0 || line.size() == 11)
    throw SystemError("mkfs.erofs", "unexpected version line '" + line + "'");
  return line;
}

// "mksquashfs 4.5.1" from "mksquashfs version 4.5.1 (2022/03/17)".
std::string squashfs_version() {
  ProcessResult r = run_tool({"mksquashfs", "-version"}, "mksquashfs", "version probe");
  std::istringstream in(first_line(r.stdout_data));
  std::string name, word, version;
  in >> name >> word >> version;
  if (name != "mksquashfs" || word != "version" || version.empty())
    throw SystemError("mksquashfs", "unexpected version line '" + first_line(r.stdout_data) + "'");
  return "mksquashfs " + version;
}

// "veritysetup 2.6.1" from "veritysetup 2.6.1 flags: ...".
std::string verity_version() {
  ProcessResult r = run_tool({"veritysetup", "--version"}, "veritysetup", "version probe");
  std::istringstream in(first_line(r.stdout_data));
  std::string name, version;
  in >> name >> version;
  if (name != "veritysetup" || version.empty())
    throw SystemError("veritysetup", "unexpected version line '" + first_line(r.stdout_data) + "'");
  return "veritysetup " + version;
}

// Appends zeros up to the next multiple of the block size.
void pad_to_block(const std::string &path) {
  uint64_t size = file_size(path);
  if (size % k_block_size == 0) return;
  uint64_t padded = (size / k_block_size + 1) * k_block_size;
  if (::truncate(path.c_str(), static_cast<off_t>(padded)) != 0)
    throw SystemError(path, errno_text("cannot pad the file system to a multiple of 4096 bytes"));
}

// "Root hash:      \t0123..." -> "0123..."
std::string verity_field(const std::string &output, const std::string &key) {
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, key.size(), key) != 0) continue;
    std::string value = line.substr(key.size());
    value.erase(0, value.find_first_not_of(" \t"));
    while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r')) value.pop_back();
    return value;
  }
  return {};
}

void sync_file(const std::string &path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0 || ::fsync(fd.get()) != 0) throw SystemError(path, errno_text("fsync failed"));
}

} // namespace

const char *rootfs_format_name(RootfsFormat f) {
  switch (f) {
  case RootfsFormat::erofs: return "erofs";
  case RootfsFormat::squashfs: return "squashfs";
  }
  return "unknown";
}

RootfsFormat parse_rootfs_format(const std::string &name, const std::string &where) {
  if (name == "erofs") return RootfsFormat::erofs;
  if (name == "squashfs") return RootfsFormat::squashfs;
  throw InputError(where, "unknown root file system format '" + name + "' (expected erofs or squashfs)");
}

std::string derive_hex(const std::string &seed, const std::string &purpose, size_t bytes) {
  if (bytes > 32) throw InputError("derive_hex(" + purpose + ")", std::to_string(bytes) + " bytes asked, at most 32");
  std::string message = std::string("mrforge-seed", 12) + '\0' + purpose + '\0' + seed;
  Sha256 digest = sha256(ByteView::of(message));
  return to_hex(ByteView(digest.data(), bytes));
}

std::string derive_uuid(const std::string &seed, const std::string &purpose) {
  std::string message = std::string("mrforge-seed", 12) + '\0' + purpose + '\0' + seed;
  Sha256 d = sha256(ByteView::of(message));
  d[6] = static_cast<uint8_t>((d[6] & 0x0f) | 0x40); // version 4
  d[8] = static_cast<uint8_t>((d[8] & 0x3f) | 0x80); // RFC 4122 variant
  std::string hex = to_hex(ByteView(d.data(), 16));
  return hex.substr(0, 8) + "-" + hex.substr(8, 4) + "-" + hex.substr(12, 4) + "-" + hex.substr(16, 4) + "-" +
         hex.substr(20, 12);
}

std::string VerityInfo::dm_table(const std::string &device) const {
  return "0 " + std::to_string(data_size / 512) + " verity 1 " + device + " " + device + " " +
         std::to_string(data_block_size) + " " + std::to_string(hash_block_size) + " " + std::to_string(data_blocks) +
         " " + std::to_string(hash_start_block) + " " + hash_algorithm + " " + root_hash + " " + salt;
}

std::string rootfs_tool_versions(RootfsFormat format) {
  // Two processes to start and wait for (mkfs.erofs writes a probe image): side by side.
  std::future<std::string> verity = std::async(std::launch::async, verity_version);
  std::string fs = format == RootfsFormat::erofs ? erofs_version() : squashfs_version();
  return fs + "; " + verity.get();
}

RootfsImageResult write_rootfs_image(const FsTree &tree, const RootfsImageSettings &settings,
                                     const std::string &out_path) {
  check_tree(tree, settings);
  const std::string tmp = out_path + ".tmp";
  const std::string epoch = std::to_string(settings.source_date_epoch);

  // Fail early on an unwritable destination, before the (long) materialization.
  {
    UniqueFd probe(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644));
    if (probe.get() < 0) throw SystemError(tmp, errno_text("cannot create the root file system image"));
  }
  TempFileGuard guard(tmp);
  if (::unlink(tmp.c_str()) != 0) throw SystemError(tmp, errno_text("unlink failed"));

  RootfsImageResult result;
  result.tools = rootfs_tool_versions(settings.format);

  const std::string root = settings.scratch_dir + "/tree";
  report(settings, "rootfs: writing " + std::to_string(tree.size()) + " entries");
  materialize(tree, root, settings);

  const bool all_root = all_root_owned(tree);
  if (settings.format == RootfsFormat::erofs) {
    result.fs_uuid = derive_uuid(settings.seed, "rootfs-uuid");
    report(settings, "rootfs: mkfs.erofs");
    std::vector<std::string> argv = {"mkfs.erofs", "-T" + epoch, "-U", result.fs_uuid, "--quiet"};
    if (all_root) argv.push_back("--all-root");
    argv.push_back(path_arg(tmp));
    argv.push_back(path_arg(root));
    run_tool(argv, tmp, "writing the erofs file system");
  } else {
    report(settings, "rootfs: mksquashfs");
    std::vector<std::string> argv = {"mksquashfs", path_arg(root),  path_arg(tmp), "-noappend", "-no-progress",
                                     "-quiet",     "-reproducible", "-comp",       "gzip",      "-b",
                                     "131072",     "-mkfs-time",    epoch,         "-all-time", epoch,
                                     "-xattrs",    "-exit-on-error"};
    if (all_root) argv.push_back("-all-root");
    run_tool(argv, tmp, "writing the squashfs file system");
    pad_to_block(tmp);
  }

  VerityInfo &v = result.verity;
  v.data_size = file_size(tmp);
  if (v.data_size == 0 || v.data_size % k_block_size != 0)
    throw SystemError(tmp, "the file system is " + std::to_string(v.data_size) + " bytes, not a multiple of 4096");
  v.data_blocks = v.data_size / k_block_size;
  v.hash_start_block = v.data_blocks + 1; // the verity superblock takes one hash block
  v.salt = derive_hex(settings.seed, "verity-salt", 32);
  v.uuid = derive_uuid(settings.seed, "verity-uuid");

  report(settings, "rootfs: verity");
  ProcessResult r = run_tool({"veritysetup", "format", path_arg(tmp), path_arg(tmp), "--format=1", "--hash=sha256",
                              "--data-block-size=" + std::to_string(v.data_block_size),
                              "--hash-block-size=" + std::to_string(v.hash_block_size),
                              "--data-blocks=" + std::to_string(v.data_blocks),
                              "--hash-offset=" + std::to_string(v.data_size), "--salt=" + v.salt, "--uuid=" + v.uuid},
                             tmp, "appending the dm-verity hash tree");
  v.root_hash = verity_field(r.stdout_data, "Root hash:");
  if (v.root_hash.size() != 64 || !is_hex(v.root_hash))
    throw SystemError(tmp, "veritysetup format printed no sha256 root hash: " + tool_output_tail(r.stdout_data));
  if (verity_field(r.stdout_data, "Salt:") != v.salt || verity_field(r.stdout_data, "UUID:") != v.uuid)
    throw SystemError(tmp,
                      "veritysetup format reports another salt or UUID than given: " + tool_output_tail(r.stdout_data));
  v.image_size = file_size(tmp);
  if (v.image_size < v.hash_start_block * k_block_size) // one data block needs no hash block
    throw SystemError(tmp, "veritysetup format did not append its superblock");

  sync_file(tmp);
  if (::rename(tmp.c_str(), out_path.c_str()) != 0)
    throw SystemError(out_path, errno_text("cannot rename " + tmp + " into place"));
  guard.release();
  return result;
}

} // namespace mrforge::builder

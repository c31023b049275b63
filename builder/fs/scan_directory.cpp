// scan_directory(): a host directory into an FsTree. Names are sorted (never the file system's
// listing order) and symlinks are never followed: every lookup is relative to an opened directory,
// with AT_SYMLINK_NOFOLLOW / O_NOFOLLOW. Permission bits are recorded as found; owners come from
// the options and times are not recorded.
#include <builder/fs/fs_tree.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/unique_fd.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>
#include <vector>

namespace mrforge::builder {

namespace {

// A cap on nesting, so that a pathological tree cannot exhaust file descriptors or the stack.
constexpr int k_max_depth = 256;

std::string errno_text(const char *what) { return std::string(what) + ": " + std::strerror(errno); }

class DirHandle {
public:
  explicit DirHandle(DIR *dir) : m_dir(dir) {}
  ~DirHandle() {
    if (m_dir != nullptr) ::closedir(m_dir);
  }
  DirHandle(const DirHandle &) = delete;
  DirHandle &operator=(const DirHandle &) = delete;
  DIR *get() const { return m_dir; }

private:
  DIR *m_dir;
};

struct Found {
  std::string path; // relative, normalized
  struct stat st;
  std::string link_target;
};

std::string join(const std::string &a, const std::string &b) { return a.empty() ? b : a + "/" + b; }

std::string read_link_at(int dirfd, const char *name, const std::string &host_path, off_t size_hint) {
  std::string target(static_cast<size_t>(std::max<off_t>(size_hint, 64)) + 1, '\0');
  while (true) {
    ssize_t n = ::readlinkat(dirfd, name, target.data(), target.size());
    if (n < 0) throw SystemError(host_path, errno_text("readlink failed"));
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      return target;
    }
    target.resize(target.size() * 2); // changed since lstat: try again with more room
  }
}

// Appends the entries below the directory open as `dirfd` (tree path `prefix`) to `out`.
void scan_into(int dirfd, const std::string &host_root, const std::string &prefix, int depth, std::vector<Found> &out) {
  std::string host_dir = prefix.empty() ? host_root : host_root + "/" + prefix;
  if (depth > k_max_depth)
    throw SystemError(host_dir, "directories nested deeper than " + std::to_string(k_max_depth) + " levels");
  UniqueFd fd(::dup(dirfd));
  if (!fd) throw SystemError(host_dir, errno_text("dup failed"));
  DirHandle dir(::fdopendir(fd.get()));
  if (dir.get() == nullptr) throw SystemError(host_dir, errno_text("cannot read directory"));
  fd.release(); // the DIR owns it now
  std::vector<std::string> names;
  while (true) {
    errno = 0;
    dirent *d = ::readdir(dir.get());
    if (d == nullptr) {
      if (errno != 0) throw SystemError(host_dir, errno_text("cannot read directory"));
      break;
    }
    if (std::strcmp(d->d_name, ".") == 0 || std::strcmp(d->d_name, "..") == 0) continue;
    names.emplace_back(d->d_name);
  }
  std::sort(names.begin(), names.end()); // listing order is the file system's: never use it

  for (const std::string &name : names) {
    Found f;
    f.path = join(prefix, name);
    std::string host_path = host_root + "/" + f.path;
    if (::fstatat(dirfd, name.c_str(), &f.st, AT_SYMLINK_NOFOLLOW) != 0)
      throw SystemError(host_path, errno_text("lstat failed"));
    mode_t type = f.st.st_mode & S_IFMT;
    if (type == S_IFLNK) {
      f.link_target = read_link_at(dirfd, name.c_str(), host_path, f.st.st_size);
    } else if (type != S_IFREG && type != S_IFDIR) {
      const char *what = type == S_IFCHR    ? "a character device"
                         : type == S_IFBLK  ? "a block device"
                         : type == S_IFIFO  ? "a fifo"
                         : type == S_IFSOCK ? "a socket"
                                            : "of an unknown file type";
      throw SystemError(host_path,
                        std::string("is ") + what +
                            "; only regular files, directories and symlinks can be archived from a directory");
    }
    out.push_back(std::move(f));
    if (type == S_IFDIR) {
      UniqueFd child(::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!child) throw SystemError(host_path, errno_text("cannot open directory"));
      std::string child_prefix = out.back().path; // a copy: `out` grows below
      scan_into(child.get(), host_root, child_prefix, depth + 1, out);
    }
  }
}

} // namespace

FsTree scan_directory(const std::string &host_dir, const ScanOptions &options) {
  std::vector<Found> found;
  {
    UniqueFd root(::open(host_dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!root) throw SystemError(host_dir, errno_text("cannot open directory"));
    scan_into(root.get(), host_dir, "", 0, found);
  }

  // Byte-wise path order (what FsTree iterates in), so that "first path of a hard-link group"
  // does not depend on the order directories were visited in.
  std::sort(found.begin(), found.end(), [](const Found &a, const Found &b) { return a.path < b.path; });

  FsTree tree;
  std::map<std::pair<dev_t, ino_t>, std::string> first_link; // (dev, ino) -> first path
  for (const Found &f : found) {
    Node node;
    node.mode = static_cast<uint32_t>(f.st.st_mode & 07777);
    node.uid = options.uid;
    node.gid = options.gid;
    node.origin = options.origin.empty() ? "directory " + host_dir : options.origin;
    switch (f.st.st_mode & S_IFMT) {
    case S_IFDIR: node.type = NodeType::directory; break;
    case S_IFLNK:
      node.type = NodeType::symlink;
      node.link_target = f.link_target;
      break;
    default: { // S_IFREG (others were refused while scanning)
      node.type = NodeType::regular;
      node.size = static_cast<uint64_t>(f.st.st_size);
      node.content_path = host_dir + "/" + f.path;
      if (f.st.st_nlink > 1) {
        auto [it, inserted] = first_link.emplace(std::make_pair(f.st.st_dev, f.st.st_ino), f.path);
        if (!inserted) {
          node.type = NodeType::hardlink;
          node.link_target = it->second;
          node.size = 0;
          node.content_path.clear();
        }
      }
      break;
    }
    }
    tree.add(f.path, std::move(node));
  }
  return tree;
}

} // namespace mrforge::builder

// The staging tree: an in-memory model of a file system image (paths, types, modes, owners,
// link targets, device numbers, xattrs) whose regular-file bytes live in host files. Everything
// the builder assembles (unpacked packages, recipe files, users, the dpkg database) goes into an
// FsTree, and the deterministic writers (tar, cpio) read only from it. Nothing here ever creates
// a symlink or a device node on the host, so a hostile package cannot make the builder write
// outside its staging area.
//
// Paths are relative, normalized ("usr/bin/env", no "./" prefix, no trailing "/", no "." or ".."
// components, no empty components, no NUL). The root directory is implicit. Iteration order is
// byte-wise by path, which puts every directory before its contents.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace mrforge::builder {

enum class NodeType { directory, regular, symlink, hardlink, char_device, block_device, fifo };

const char *node_type_name(NodeType type); // "directory", "regular file", "symlink", ...

struct Node {
  NodeType type = NodeType::regular;
  uint32_t mode = 0644; // permission bits only (07777: includes setuid, setgid, sticky)
  uint32_t uid = 0;
  uint32_t gid = 0;
  uint64_t size = 0;        // regular files: number of bytes in content_path
  std::string content_path; // regular files: host file holding the bytes, read at write time
  std::string link_target;  // symlink: target as stored; hardlink: tree path of the linked file
  uint32_t dev_major = 0;   // char/block devices
  uint32_t dev_minor = 0;
  std::map<std::string, std::string> xattrs; // name -> value, sorted
  std::string origin;                        // who put it here, for messages: "package busybox-static", "file hello.sh"
};

enum class OnExisting {
  error,   // a non-directory already there (or a directory replaced by a non-directory) is an error
  replace, // replace a non-directory; a directory may only be replaced by a directory (metadata)
};

class FsTree {
public:
  // Normalizes a path as found in an archive or recipe ("./usr/bin/x", "usr//bin/x/", "/usr/bin/x"
  // when allow_absolute). Throws InputError naming `where` for "..", NUL, empty paths, and absolute
  // paths unless allowed.
  enum class Absolute { refuse, strip };
  static std::string normalize_path(std::string_view raw, const std::string &where,
                                    Absolute absolute = Absolute::refuse);

  // Adds a node at a normalized path. The parent must exist and be a directory; if any ancestor
  // is a symlink the add is refused ("writes through symlink"). A hard link's target must exist
  // and be a regular file (so a file is added before its links). An existing directory given again as a directory keeps
  // its metadata (dpkg's behaviour); other collisions follow `on_existing`. Throws InputError naming node.origin and
  // the path.
  void add(const std::string &path, Node node, OnExisting on_existing = OnExisting::error);

  // mkdir -p: creates missing directories (mode 0755, root) along `path`, refusing symlinks on the
  // way and non-directories in the way.
  void ensure_directory(const std::string &path, const std::string &origin);

  // Removes a node and everything below it; returns the number of nodes removed.
  size_t remove(const std::string &path);

  const Node *find(const std::string &path) const;
  Node *find_mutable(const std::string &path);
  const std::map<std::string, Node> &nodes() const { return m_nodes; }
  size_t size() const { return m_nodes.size(); }

  // Adds every node of `other` (a later layer over this one); hard links after the other nodes.
  void merge(const FsTree &other, OnExisting on_existing);

private:
  void check_parent(const std::string &path, const Node &node) const;
  std::map<std::string, Node> m_nodes; // std::string's operator< is byte-wise (unsigned char)
};

// Scans a host directory into a tree: regular files (content_path = host path), directories,
// symlinks (target as read), hard links (files with nlink > 1 become hard links to the first path
// in sorted order). Owners become `uid`/`gid` (never the host's), modes keep their permission
// bits, and times are not recorded (writers use one timestamp). Device nodes, sockets and fifos
// are refused with SystemError naming the path. Used for recipe directories and benchmarks.
struct ScanOptions {
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string origin;
};
FsTree scan_directory(const std::string &host_dir, const ScanOptions &options);

// "usr/bin/env" -> "usr/bin"; "etc" -> "".
std::string parent_path(const std::string &path);

// Follows symlinks (absolute ones from the tree's root, at most 40 hops: Linux's MAXSYMLINKS) and
// hard links inside `tree`, as the kernel would inside the image; returns the tree path of the
// regular file `path` leads to, or nothing if it leads nowhere or to a non-file. Throws InputError
// {where} for a symlink loop.
std::optional<std::string> resolve_regular_file(const FsTree &tree, const std::string &path, const std::string &where);

} // namespace mrforge::builder

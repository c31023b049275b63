#include <builder/fs/fs_tree.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/strings.hpp>

#include <deque>
#include <vector>

namespace mrforge::builder {

const char *node_type_name(NodeType type) {
  switch (type) {
  case NodeType::directory: return "directory";
  case NodeType::regular: return "regular file";
  case NodeType::symlink: return "symlink";
  case NodeType::hardlink: return "hard link";
  case NodeType::char_device: return "character device";
  case NodeType::block_device: return "block device";
  case NodeType::fifo: return "fifo";
  }
  return "unknown";
}

std::string FsTree::normalize_path(std::string_view raw, const std::string &where, Absolute absolute) {
  if (raw.find('\0') != std::string_view::npos) throw InputError(where, "path contains a NUL byte");
  if (!raw.empty() && raw.front() == '/') {
    if (absolute == Absolute::refuse)
      throw InputError(where, "absolute path '" + std::string(raw) +
                                  "' is not allowed (paths are relative to the image root)");
  }
  std::string out;
  size_t pos = 0;
  while (pos <= raw.size()) {
    size_t slash = raw.find('/', pos);
    if (slash == std::string_view::npos) slash = raw.size();
    std::string_view part = raw.substr(pos, slash - pos);
    if (part == "..") throw InputError(where, "path '" + std::string(raw) + "' contains '..'");
    if (!part.empty() && part != ".") {
      if (!out.empty()) out += '/';
      out += part;
    }
    pos = slash + 1;
  }
  if (out.empty()) throw InputError(where, "path '" + std::string(raw) + "' names the root directory, not an entry");
  return out;
}

namespace {

std::string parent_of(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? std::string() : path.substr(0, slash);
}

std::string describe(const Node &node) { return node.origin.empty() ? std::string("an earlier entry") : node.origin; }

} // namespace

void FsTree::check_parent(const std::string &path, const Node &node) const {
  // Every ancestor must be a directory; a symlink anywhere on the way would make a writer of this
  // tree put the entry somewhere else than its path says.
  size_t pos = 0;
  while ((pos = path.find('/', pos)) != std::string::npos) {
    std::string ancestor = path.substr(0, pos);
    auto it = m_nodes.find(ancestor);
    if (it == m_nodes.end())
      throw InputError(node.origin, "'" + path + "': parent directory '" + ancestor + "' does not exist");
    if (it->second.type == NodeType::symlink)
      throw InputError(node.origin, "'" + path + "' would be written through the symlink '" + ancestor + "' -> '" +
                                        it->second.link_target + "' (from " + describe(it->second) + ")");
    if (it->second.type != NodeType::directory)
      throw InputError(node.origin, "'" + path + "': '" + ancestor + "' is a " + node_type_name(it->second.type) +
                                        " (from " + describe(it->second) + "), not a directory");
    ++pos;
  }
}

void FsTree::add(const std::string &path, Node node, OnExisting on_existing) {
  check_parent(path, node);
  if (node.type == NodeType::hardlink) {
    auto target = m_nodes.find(node.link_target);
    if (target == m_nodes.end())
      throw InputError(node.origin,
                       "'" + path + "': hard link to '" + node.link_target + "', which is not in the tree");
    if (target->second.type != NodeType::regular)
      throw InputError(node.origin, "'" + path + "': hard link to '" + node.link_target + "', which is a " +
                                        node_type_name(target->second.type) + ", not a regular file");
  }
  auto it = m_nodes.find(path);
  if (it == m_nodes.end()) {
    m_nodes.emplace(path, std::move(node));
    return;
  }
  Node &existing = it->second;
  if (existing.type == NodeType::directory && node.type == NodeType::directory) {
    if (on_existing == OnExisting::replace) {
      existing.mode = node.mode;
      existing.uid = node.uid;
      existing.gid = node.gid;
      existing.xattrs = node.xattrs;
    }
    return;
  }
  if (on_existing == OnExisting::error)
    throw InputError(node.origin, "'" + path + "' is already in the image as a " + node_type_name(existing.type) +
                                      " from " + describe(existing));
  if (existing.type == NodeType::directory)
    throw InputError(node.origin, "'" + path + "' is a directory (from " + describe(existing) +
                                      ") and cannot be replaced by a " + node_type_name(node.type));
  if (existing.type == NodeType::regular && node.type != NodeType::regular)
    for (const auto &[other_path, other] : m_nodes)
      if (other.type == NodeType::hardlink && other.link_target == path)
        throw InputError(node.origin, "'" + path + "' has hard links ('" + other_path +
                                          "') and cannot be replaced by a " + node_type_name(node.type));
  existing = std::move(node);
}

void FsTree::ensure_directory(const std::string &path, const std::string &origin) {
  if (path.empty()) return; // the root directory is implicit
  size_t pos = 0;
  while (true) {
    size_t slash = path.find('/', pos);
    std::string prefix = slash == std::string::npos ? path : path.substr(0, slash);
    auto it = m_nodes.find(prefix);
    if (it == m_nodes.end()) {
      Node dir;
      dir.type = NodeType::directory;
      dir.mode = 0755;
      dir.origin = origin;
      m_nodes.emplace(prefix, std::move(dir));
    } else if (it->second.type == NodeType::symlink) {
      throw InputError(origin, "'" + path + "' would be created through the symlink '" + prefix + "' -> '" +
                                   it->second.link_target + "' (from " + describe(it->second) + ")");
    } else if (it->second.type != NodeType::directory) {
      throw InputError(origin, "'" + path + "': '" + prefix + "' is a " + node_type_name(it->second.type) + " (from " +
                                   describe(it->second) + "), not a directory");
    }
    if (slash == std::string::npos) return;
    pos = slash + 1;
  }
}

size_t FsTree::remove(const std::string &path) {
  auto it = m_nodes.find(path);
  if (it == m_nodes.end()) return 0;
  size_t removed = 0;
  std::string prefix = path + '/';
  it = m_nodes.erase(it);
  ++removed;
  while (it != m_nodes.end() && it->first.compare(0, prefix.size(), prefix) == 0) {
    it = m_nodes.erase(it);
    ++removed;
  }
  // Hard links into the removed part would dangle: one pass removes them (a hard link always
  // points at a regular file, never at another link, so no second pass is needed).
  for (auto link = m_nodes.begin(); link != m_nodes.end();) {
    if (link->second.type == NodeType::hardlink && m_nodes.find(link->second.link_target) == m_nodes.end()) {
      link = m_nodes.erase(link);
      ++removed;
    } else {
      ++link;
    }
  }
  return removed;
}

const Node *FsTree::find(const std::string &path) const {
  auto it = m_nodes.find(path);
  return it == m_nodes.end() ? nullptr : &it->second;
}

Node *FsTree::find_mutable(const std::string &path) {
  auto it = m_nodes.find(path);
  return it == m_nodes.end() ? nullptr : &it->second;
}

void FsTree::merge(const FsTree &other, OnExisting on_existing) {
  // Sorted order puts parents first; hard links go last because their file may sort after them.
  for (const auto &[path, node] : other.m_nodes)
    if (node.type != NodeType::hardlink) add(path, node, on_existing);
  for (const auto &[path, node] : other.m_nodes)
    if (node.type == NodeType::hardlink) add(path, node, on_existing);
}

std::string parent_path(const std::string &path) { return parent_of(path); }

namespace {

// Symlink hops allowed while resolving one path (Linux's MAXSYMLINKS).
constexpr int k_max_symlink_hops = 40;

std::vector<std::string> split_path(const std::string &path) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    if (slash > start) parts.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return parts;
}

std::string join_parts(const std::vector<std::string> &parts) { return join(parts, "/"); }

} // namespace

std::optional<std::string> resolve_regular_file(const FsTree &tree, const std::string &path, const std::string &where) {
  std::deque<std::string> pending;
  for (std::string &p : split_path(path)) pending.push_back(std::move(p));
  std::vector<std::string> done;
  int hops = 0;
  while (!pending.empty()) {
    std::string part = std::move(pending.front());
    pending.pop_front();
    if (part == ".") continue;
    if (part == "..") {
      if (!done.empty()) done.pop_back();
      continue;
    }
    done.push_back(part);
    const Node *node = tree.find(join_parts(done));
    if (node == nullptr) return std::nullopt;
    if (node->type == NodeType::symlink) {
      if (++hops > k_max_symlink_hops)
        throw InputError(where,
                         "'/" + path + "': more than " + std::to_string(k_max_symlink_hops) + " symlinks (a loop?)");
      done.pop_back();
      if (!node->link_target.empty() && node->link_target[0] == '/') done.clear();
      std::vector<std::string> target = split_path(node->link_target);
      pending.insert(pending.begin(), target.begin(), target.end());
    } else if (!pending.empty() && node->type != NodeType::directory) {
      return std::nullopt;
    }
  }
  std::string final_path = join_parts(done);
  const Node *node = tree.find(final_path);
  if (node != nullptr && node->type == NodeType::hardlink) {
    final_path = node->link_target;
    node = tree.find(final_path);
  }
  if (node == nullptr || node->type != NodeType::regular) return std::nullopt;
  return final_path;
}

} // namespace mrforge::builder

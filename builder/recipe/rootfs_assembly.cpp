#include <builder/debian/deb_unpack.hpp>
#include <builder/debian/dpkg_database.hpp>
#include <builder/recipe/rootfs_assembly.hpp>
#include <builder/rootfs/base_directories.hpp>
#include <builder/rootfs/ca_certificates.hpp>
#include <builder/rootfs/merged_usr.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/strings.hpp>
#include <measure/util/terminal_text.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <sys/stat.h>

namespace mrforge::builder {

namespace fs = std::filesystem;

LayeredTree::LayeredTree(std::vector<std::string> layer_names)
    : m_names(std::move(layer_names)), m_paths(m_names.size()) {}

void LayeredTree::record(size_t layer, const std::vector<std::string> &paths) {
  for (const auto &p : paths) {
    for (size_t other = 0; other < m_paths.size(); ++other)
      if (other != layer && m_full.find(p) != nullptr && m_full.find(p)->type != NodeType::directory)
        m_paths[other].erase(p); // a later write of a file supersedes an earlier layer's
    m_paths[layer].insert(p);
  }
}

void LayeredTree::add(size_t layer, const std::string &path, Node node, OnExisting on_existing) {
  m_full.add(path, std::move(node), on_existing);
  record(layer, {path});
}

void LayeredTree::ensure_directory(size_t layer, const std::string &path, const std::string &origin) {
  std::vector<std::string> created;
  for (size_t pos = 0;;) {
    size_t slash = path.find('/', pos);
    std::string prefix = slash == std::string::npos ? path : path.substr(0, slash);
    if (m_full.find(prefix) == nullptr) created.push_back(prefix);
    if (slash == std::string::npos) break;
    pos = slash + 1;
  }
  m_full.ensure_directory(path, origin);
  record(layer, created);
}

FsTree LayeredTree::layer_tree(size_t layer) const {
  FsTree out;
  std::vector<std::string> links;
  for (const std::string &path : m_paths.at(layer)) {
    const Node *node = m_full.find(path);
    if (node == nullptr) continue; // removed after it was recorded
    // Parents first, with the whole tree's metadata.
    for (size_t pos = 0; (pos = path.find('/', pos)) != std::string::npos; ++pos) {
      std::string parent = path.substr(0, pos);
      if (out.find(parent) == nullptr) out.add(parent, *m_full.find(parent));
    }
    if (node->type == NodeType::hardlink) {
      links.push_back(path);
      continue;
    }
    out.add(path, *node, OnExisting::replace);
  }
  for (const std::string &path : links) {
    const Node *node = m_full.find(path);
    if (out.find(node->link_target) != nullptr) {
      out.add(path, *node, OnExisting::replace);
    } else {
      Node copy = *m_full.find(node->link_target); // the file lives in another layer: copy it
      copy.origin = node->origin;
      out.add(path, copy, OnExisting::replace);
    }
  }
  return out;
}

std::vector<size_t> package_layers(const Recipe &recipe, const Lock &lock) {
  std::map<std::string, size_t> layer_index;
  for (size_t i = 0; i < recipe.layers.size(); ++i) layer_index[recipe.layers[i]] = i;
  std::map<std::string, size_t> requested;
  for (const auto &p : recipe.packages) requested[p.name] = layer_index.at(p.layer);
  std::map<std::string, std::string> parent;
  for (const auto &p : lock.packages) {
    const std::string prefix = "dependency of ";
    if (p.reason.rfind(prefix, 0) == 0) parent[p.name] = p.reason.substr(prefix.size());
  }
  bool sets = lock_has_sets(lock);
  std::vector<size_t> out;
  for (const auto &p : lock.packages) {
    if (sets && std::find(p.sets.begin(), p.sets.end(), k_set_rootfs) == p.sets.end()) {
      out.push_back(k_not_in_rootfs); // the initramfs's or the firmware's alone
      continue;
    }
    std::string name = p.name;
    size_t layer = 0;
    for (size_t hops = 0; hops <= lock.packages.size(); ++hops) {
      auto r = requested.find(name);
      if (r != requested.end()) {
        layer = r->second;
        break;
      }
      auto up = parent.find(name);
      if (up == parent.end()) break; // no chain to a requested package: the first layer
      name = up->second;
    }
    out.push_back(layer);
  }
  return out;
}

namespace {

// Recipe files keep the owner-execute bit of the checkout (git records it) and nothing else of
// the host's mode, so umask and file-system defaults cannot change the image.
uint32_t default_mode(const Node &node) {
  if (node.type == NodeType::directory) return 0755;
  if (node.type == NodeType::symlink) return 0777;
  return (node.mode & 0100) ? 0755 : 0644;
}

// One /etc/passwd or /etc/group record. load_recipe validated every field; a Recipe built some
// other way must not be able to add records either.
std::string account_record(const Recipe &recipe, const std::vector<std::string> &fields) {
  for (const std::string &f : fields)
    if (!is_passwd_field(f))
      throw InputError(recipe.path, "'" + echoed(f) + "' cannot be a field of /etc/passwd or /etc/group");
  return join(fields, ":") + "\n";
}

std::string passwd_file(const Recipe &recipe) {
  std::vector<UserSpec> users = recipe.users;
  users.insert(users.begin(), UserSpec{"root", 0, 0, "/root", "/bin/sh"});
  std::stable_sort(users.begin(), users.end(), [](const UserSpec &a, const UserSpec &b) { return a.uid < b.uid; });
  std::string out;
  for (const auto &u : users)
    out += account_record(recipe, {u.name, "x", std::to_string(u.uid), std::to_string(u.gid), u.name, u.home, u.shell});
  return out;
}

std::string group_file(const Recipe &recipe) {
  std::vector<GroupSpec> groups = recipe.groups;
  groups.insert(groups.begin(), GroupSpec{"root", 0});
  std::stable_sort(groups.begin(), groups.end(), [](const GroupSpec &a, const GroupSpec &b) { return a.gid < b.gid; });
  std::string out;
  for (const auto &g : groups) {
    std::vector<std::string> members;
    for (const auto &u : recipe.users)
      if (u.gid == g.gid && u.name != g.name) members.push_back(u.name);
    out += account_record(recipe, {g.name, "x", std::to_string(g.gid), join(members, ",")});
  }
  return out;
}

void add_generated_file(LayeredTree &tree, size_t layer, ContentStaging &staging, const std::string &path,
                        const std::string &content, uint32_t mode, const std::string &origin) {
  tree.ensure_directory(layer, path.substr(0, path.rfind('/')), origin);
  tree.add(layer, path, staged_file_node(staging.put(content), mode, origin), OnExisting::replace);
}

void add_recipe_file(LayeredTree &tree, size_t layer, const FileSpec &spec,
                     const std::map<std::string, const LockedFile *> &locked) {
  std::string origin = "file " + spec.source + " (" + spec.where.describe() + ")";
  auto check = [&](const std::string &rel, const Node &node) {
    auto it = locked.find(rel);
    if (it == locked.end()) throw InputError(origin, rel + " is not in the lock; run `mrforge lock` again");
    FileDigest d = digest_file(node.content_path, limits::k_recipe_file);
    if (d.sha256_hex != it->second->sha256)
      throw InputError(origin, rel + " changed since the lock (lock sha256 " + it->second->sha256 + ", now " +
                                   d.sha256_hex + "); run `mrforge lock` again");
  };
  auto parent = spec.target.rfind('/');
  if (parent != std::string::npos) tree.ensure_directory(layer, spec.target.substr(0, parent), origin);
  if (fs::is_directory(fs::symlink_status(spec.source_path))) {
    if (spec.mode)
      throw InputError(origin, "'mode' applies to single files; a directory source keeps each file's execute bit");
    FsTree scanned = scan_directory(spec.source_path, ScanOptions{spec.uid, spec.gid, origin});
    Node root;
    root.type = NodeType::directory;
    root.mode = 0755;
    root.uid = spec.uid;
    root.gid = spec.gid;
    root.origin = origin;
    tree.add(layer, spec.target, root, OnExisting::replace);
    for (const auto &[rel, scanned_node] : scanned.nodes()) {
      Node node = scanned_node;
      node.mode = default_mode(node);
      node.origin = origin;
      if (node.type == NodeType::regular) check(spec.source + "/" + rel, node);
      if (node.type == NodeType::hardlink) node.link_target = spec.target + "/" + node.link_target;
      tree.add(layer, spec.target + "/" + rel, node, OnExisting::replace);
    }
    return;
  }
  struct stat st {};
  if (::stat(spec.source_path.c_str(), &st) != 0 || !S_ISREG(st.st_mode))
    throw InputError(origin, spec.source_path + " is not a regular file or directory");
  Node node;
  node.type = NodeType::regular;
  node.mode = spec.mode ? *spec.mode : ((st.st_mode & 0100) ? 0755u : 0644u);
  node.uid = spec.uid;
  node.gid = spec.gid;
  node.size = static_cast<uint64_t>(st.st_size);
  node.content_path = spec.source_path;
  node.origin = origin;
  check(spec.source, node);
  tree.add(layer, spec.target, node, OnExisting::replace);
}

} // namespace

LayeredTree assemble_rootfs(const Recipe &recipe, const Lock &lock, const Store &store, ContentStaging &staging,
                            const AssemblyOptions &options) {
  auto progress = [&](const std::string &s) {
    if (options.progress) options.progress(s);
  };
  LayeredTree tree(recipe.layers);
  std::map<std::string, size_t> layer_index;
  for (size_t i = 0; i < recipe.layers.size(); ++i) layer_index[recipe.layers[i]] = i;

  // Packages, layer by layer, by name within a layer.
  std::vector<size_t> layers = package_layers(recipe, lock);
  std::vector<DebPackage> unpacked;
  UnpackPolicy policy{recipe.allow.device_nodes, recipe.allow.setuid};
  size_t last_package_layer = 0;
  for (size_t layer = 0; layer < recipe.layers.size(); ++layer) {
    for (size_t i = 0; i < lock.packages.size(); ++i) {
      if (layers[i] != layer) continue;
      const LockedPackage &p = lock.packages[i];
      std::string name = p.name + "_" + p.version + "_" + p.architecture + ".deb";
      std::string path = store.require(p.sha256, p.size, "package " + name);
      progress("unpack " + name + " (layer " + recipe.layers[layer] + ")");
      DebPackage deb = unpack_deb(path, name, tree.full(), staging, policy);
      if (deb.name != p.name || deb.version != p.version)
        throw InputError(name, "the .deb says it is " + deb.name + " " + deb.version + ", the lock says " + p.name +
                                   " " + p.version);
      tree.record(layer, deb.paths);
      unpacked.push_back(std::move(deb));
      last_package_layer = layer;
    }
  }
  if (!unpacked.empty()) {
    std::vector<std::string> before;
    for (const auto &kv : tree.full().nodes()) before.push_back(kv.first);
    add_dpkg_database(tree.full(), staging, unpacked, "dpkg database");
    std::vector<std::string> added;
    for (const auto &kv : tree.full().nodes())
      if (!std::binary_search(before.begin(), before.end(), kv.first) || kv.first.rfind("var/lib/dpkg", 0) == 0)
        added.push_back(kv.first);
    tree.record(last_package_layer, added);
  }

  // The merged-/usr links of a suite that needs them, in the first layer (its packages need them).
  if (recipe.has_debian && suite_facts(recipe.debian.suite, recipe.path).merged_usr)
    tree.record(0, apply_merged_usr(tree.full(), merged_usr_aliases(recipe.debian.architecture, recipe.path),
                                    recipe.debian.suite));

  // Users and groups, then the recipe's directories, symlinks and files, in the recipe's last
  // layer unless they name another.
  size_t last = recipe.layers.size() - 1;
  add_generated_file(tree, last, staging, "etc/passwd", passwd_file(recipe), 0644, "recipe users");
  add_generated_file(tree, last, staging, "etc/group", group_file(recipe), 0644, "recipe groups");
  // A recipe directory or symlink: its parents as needed, then the entry.
  auto add_entry = [&](const std::string &layer_name, const std::string &target, Node node, OnExisting on_existing) {
    size_t layer = layer_index.at(layer_name);
    auto parent = target.rfind('/');
    if (parent != std::string::npos) tree.ensure_directory(layer, target.substr(0, parent), node.origin);
    tree.add(layer, target, std::move(node), on_existing);
  };
  for (const DirectorySpec &d : recipe.directories) {
    Node node;
    node.type = NodeType::directory;
    node.mode = d.mode;
    node.uid = d.uid;
    node.gid = d.gid;
    node.origin = "directory /" + d.target + " (" + d.where.describe() + ")";
    add_entry(d.layer, d.target, node, OnExisting::replace);
  }
  for (const SymlinkSpec &l : recipe.symlinks) {
    Node node;
    node.type = NodeType::symlink;
    node.mode = 0777;
    node.link_target = l.points_to;
    node.origin = "symlink /" + l.target + " (" + l.where.describe() + ")";
    add_entry(l.layer, l.target, node, OnExisting::error); // over a package's path: an error naming both
  }
  std::map<std::string, const LockedFile *> locked;
  for (const auto &f : lock.files) locked[f.path] = &f;
  for (const FileSpec &f : recipe.files) add_recipe_file(tree, layer_index.at(f.layer), f, locked);

  // What maintainer scripts and base-files would have made (builder/rootfs), in the last layer.
  tree.record(last, add_base_directories(tree.full()));
  if (has_ca_certificates(tree.full())) {
    progress("ca-certificates: /etc/ssl/certs (built-in equivalent of its postinst)");
    tree.record(last, add_ca_certificates(tree.full(), staging));
  }
  return tree;
}

} // namespace mrforge::builder

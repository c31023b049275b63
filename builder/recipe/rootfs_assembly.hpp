// Assembling an image's file system from a recipe and its lock: the locked packages unpacked (no
// maintainer scripts), the dpkg database, the merged-/usr links of a suite that needs them
// (builder/rootfs), /etc/passwd and /etc/group from the recipe's users and groups, and the
// recipe's directories, symlinks and files, each entry assigned to one of the recipe's layers. The OCI builder writes
// one tar per layer; the guest image builder (later) writes the whole tree into one file system.
#pragma once

#include <builder/fs/content_staging.hpp>
#include <builder/fs/fs_tree.hpp>
#include <builder/recipe/lock.hpp>
#include <builder/recipe/recipe.hpp>
#include <builder/system/store.hpp>

#include <functional>
#include <set>
#include <string>
#include <vector>

namespace mrforge::builder {

// The whole tree plus which paths each layer added (a path is in the layer that last wrote it).
class LayeredTree {
public:
  explicit LayeredTree(std::vector<std::string> layer_names);
  const std::vector<std::string> &layer_names() const { return m_names; }
  FsTree &full() { return m_full; }
  const FsTree &full() const { return m_full; }

  // Records that `layer` wrote these paths (already added to full()).
  void record(size_t layer, const std::vector<std::string> &paths);
  // Adds to full() and records.
  void add(size_t layer, const std::string &path, Node node, OnExisting on_existing);
  void ensure_directory(size_t layer, const std::string &path, const std::string &origin);

  // The tree of one layer: the entries it wrote plus their parent directories (with the
  // metadata of the whole tree). A hard link whose file is in another layer becomes a copy.
  FsTree layer_tree(size_t layer) const;

private:
  std::vector<std::string> m_names;
  FsTree m_full;
  std::vector<std::set<std::string>> m_paths;
};

struct AssemblyOptions {
  std::function<void(const std::string &)> progress;
};

// Unpacks the lock's packages (only its "rootfs" set when it has sets). Throws InputError for
// hostile or conflicting package contents (naming package and path) and for recipe files that
// do not match their lock digests.
LayeredTree assemble_rootfs(const Recipe &recipe, const Lock &lock, const Store &store, ContentStaging &staging,
                            const AssemblyOptions &options);

// For each locked package, the index of the layer it goes into: a requested package's own layer;
// a dependency goes with the package that pulled it in (the lock's reason), transitively. When
// the lock has package sets (a GuestImage lock), only packages of the "rootfs" set go into the
// file system: the others get k_not_in_rootfs, and assemble_rootfs does not unpack them.
constexpr size_t k_not_in_rootfs = static_cast<size_t>(-1);
std::vector<size_t> package_layers(const Recipe &recipe, const Lock &lock);

} // namespace mrforge::builder

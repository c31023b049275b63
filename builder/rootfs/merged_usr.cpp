#include <builder/rootfs/merged_usr.hpp>

#include <measure/util/errors.hpp>

namespace mrforge::builder {

std::vector<std::string> apply_merged_usr(FsTree &tree, const std::vector<UsrAlias> &aliases,
                                          const std::string &suite) {
  std::string origin = "merged-/usr layout of " + suite;
  std::vector<std::string> added;
  for (const UsrAlias &alias : aliases) {
    const Node *existing = tree.find(alias.path);
    if (existing == nullptr) {
      Node link;
      link.type = NodeType::symlink;
      link.mode = 0777;
      link.link_target = alias.target;
      link.origin = origin;
      tree.add(alias.path, link);
      added.push_back(alias.path);
      continue;
    }
    if (existing->type == NodeType::symlink && existing->link_target == alias.target) continue;
    // Name the first file a package put under the alias, else the entry itself.
    std::string path = alias.path;
    const Node *culprit = existing;
    for (auto it = tree.nodes().upper_bound(alias.path + "/");
         it != tree.nodes().end() && it->first.compare(0, alias.path.size() + 1, alias.path + "/") == 0; ++it)
      if (it->second.type != NodeType::directory) {
        path = it->first;
        culprit = &it->second;
        break;
      }
    std::string fix = path == alias.path ? "" : "; it should ship /" + alias.target + path.substr(alias.path.size());
    throw InputError(culprit->origin, "ships /" + path + " (a " + node_type_name(culprit->type) + "), but " + suite +
                                          " is merged-/usr: /" + alias.path + " must be a symlink to " + alias.target +
                                          fix);
  }
  return added;
}

} // namespace mrforge::builder

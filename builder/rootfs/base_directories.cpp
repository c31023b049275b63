#include <builder/rootfs/base_directories.hpp>

#include <cstdint>

namespace mrforge::builder {

std::vector<std::string> add_base_directories(FsTree &tree) {
  struct Base {
    const char *path;
    uint32_t mode;
  };
  const Base k_base[] = {{"root", 0700}, {"tmp", 01777}};
  std::vector<std::string> added;
  for (const Base &b : k_base) {
    if (tree.find(b.path) != nullptr) continue;
    Node dir;
    dir.type = NodeType::directory;
    dir.mode = b.mode;
    dir.origin = "base directories (built in)";
    tree.add(b.path, dir);
    added.push_back(b.path);
  }
  return added;
}

} // namespace mrforge::builder

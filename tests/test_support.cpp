#include "test_support.hpp"

#include <measure/mapped_file.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <vector>

namespace mrforge::test {

std::string source_path(const std::string &rel) { return std::string(MRFORGE_SOURCE_DIR) + "/" + rel; }

std::string vector_path(const std::string &rel) {
  std::string p = std::string(MRFORGE_SOURCE_DIR) + "/../shared/vectors/" + rel;
  if (!std::filesystem::exists(p)) FAIL("test vector missing: " << p);
  return p;
}

std::string debian_ovmf() {
  std::string p = "/usr/share/ovmf/OVMF.fd";
  if (!std::filesystem::exists(p)) FAIL(p << " is missing: install Debian's ovmf package (.ci/run does)");
  return p;
}

std::string debian_kernel_612() {
  std::vector<std::string> found;
  for (const auto &e : std::filesystem::directory_iterator("/boot")) {
    std::string name = e.path().filename().string();
    if (name.rfind("vmlinuz-6.12", 0) == 0) found.push_back(e.path().string());
  }
  if (found.empty()) FAIL("/boot/vmlinuz-6.12* is missing: install linux-image-6.12-amd64 (.ci/run does)");
  std::sort(found.begin(), found.end());
  return found.back();
}

Bytes read(const std::string &path) { return read_file(path); }

} // namespace mrforge::test

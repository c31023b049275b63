#include "guest_fixture.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <unistd.h>

namespace fs = std::filesystem;

namespace mrforge::test {

namespace {

const char *k_debs = "/var/cache/apt/archives";

// Pins the current linux-image-6.12 package instead (when the committed pin's .deb is gone): the
// one in apt's cache, else one `apt-get download` puts into `debs_dir`. Returns the directory
// holding the .deb.
std::string repin_kernel(const std::string &pin_path, const std::string &debs_dir) {
  ShellResult deb =
      run_shell("ls /var/cache/apt/archives/linux-image-6.12.*-amd64_*.deb 2>/dev/null | sort | tail -n 1");
  std::string path = deb.out.substr(0, deb.out.find('\n'));
  if (path.empty()) {
    fs::create_directories(debs_dir);
    ShellResult dl = run_shell("cd " + shell_quote(debs_dir) +
                               " && apt-get download $(apt-cache depends linux-image-6.12-amd64 | "
                               "awk '/Depends: linux-image-6/ {print $2; exit}') && ls \"$PWD\"/*.deb");
    INFO(dl.err);
    REQUIRE(dl.exit_code == 0);
    path = dl.out.substr(0, dl.out.find('\n'));
  }
  REQUIRE(!path.empty());
  auto field = [&](const std::string &f) {
    std::string v = run_shell("dpkg-deb -f " + shell_quote(path) + " " + f).out;
    return v.substr(0, v.find('\n'));
  };
  std::string package = field("Package"), version = field("Version");
  std::string release = package.substr(std::string("linux-image-").size());
  std::string sha = run_shell("sha256sum " + shell_quote(path)).out.substr(0, 64);
  std::string size = std::to_string(fs::file_size(path));
  std::string text = read_text(pin_path);
  auto replace = [&](const std::string &key, const std::string &value) {
    size_t at = text.find("\n" + key + ":");
    REQUIRE(at != std::string::npos);
    size_t end = text.find('\n', at + 1);
    text.replace(at + 1, end - at - 1, key + ": " + value);
  };
  replace("package", package);
  replace("version", "\"" + version + "\"");
  replace("release", release);
  replace("sha256", sha);
  replace("size", size);
  replace("filename", "pool/unknown/" + fs::path(path).filename().string());
  write_text(pin_path, text);
  return fs::path(path).parent_path().string();
}

} // namespace

std::string copy_guest_recipe(const std::string &dest, bool reverse, const std::string &mtime) {
  fs::create_directories(dest + "/recipes/debian-bookworm-tdx");
  fs::create_directories(dest + "/kernels");
  std::vector<std::pair<std::string, std::string>> files;
  for (const char *rel : {"recipes/debian-bookworm-tdx.yaml", "recipes/debian-bookworm-tdx.yaml.lock",
                          "recipes/debian-bookworm-tdx/init", "recipes/debian-bookworm-tdx/index.html",
                          "recipes/debian-bookworm-tdx/dstack-lite-vm.yaml", "kernels/debian-bookworm-6.12-amd64.yaml"})
    files.emplace_back(source_path(rel), dest + "/" + rel);
  if (reverse) std::reverse(files.begin(), files.end());
  for (const auto &[from, to] : files) fs::copy_file(from, to, fs::copy_options::overwrite_existing);
  REQUIRE(run_shell("find " + shell_quote(dest) + " -exec touch -h -d " + shell_quote(mtime) + " {} +").exit_code == 0);
  return dest + "/recipes/debian-bookworm-tdx.yaml";
}

std::string fetch_or_relock(const std::string &recipe, const std::string &store) {
  ShellResult fetched = run_mrforge_cli({"fetch", "--frozen", "--debs", k_debs, "--store", store, recipe});
  if (fetched.exit_code == 0) return k_debs;
  WARN("the committed lock or kernel pin could not be fetched, pinning afresh: " << fetched.err);
  std::string root = fs::path(recipe).parent_path().parent_path().string();
  std::string debs = repin_kernel(root + "/kernels/debian-bookworm-6.12-amd64.yaml", root + "/debs");
  ShellResult locked = run_mrforge_cli({"lock", recipe});
  INFO(locked.err);
  REQUIRE(locked.exit_code == 0);
  ShellResult again = run_mrforge_cli({"fetch", "--frozen", "--debs", debs, "--store", store, recipe});
  INFO(again.err);
  REQUIRE(again.exit_code == 0);
  return debs;
}

nlohmann::json build_guest_json(const std::string &recipe, const std::string &store, const std::string &out,
                                const std::string &prefix, const std::vector<std::string> &extra) {
  std::vector<std::string> args{"build", "--frozen", "--offline", "--json", "--store", store, recipe, "-o", out};
  args.insert(args.end(), extra.begin(), extra.end());
  ShellResult r = run_mrforge_cli(args, prefix);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}

const PublishedGuest &published_guest() {
  static std::unique_ptr<TempDir> dir;
  static PublishedGuest guest;
  if (dir) return guest;
  REQUIRE(geteuid() == 0); // the root file system has owners (uid 1000)
  auto made = std::make_unique<TempDir>("published-guest");
  PublishedGuest g;
  g.root = made->path() + "/src";
  g.recipe = copy_guest_recipe(g.root);
  g.store = made->path() + "/store";
  g.debs = fetch_or_relock(g.recipe, g.store);
  g.out = made->path() + "/out";
  build_guest_json(g.recipe, g.store, g.out);
  dir = std::move(made);
  guest = g;
  return guest;
}

} // namespace mrforge::test

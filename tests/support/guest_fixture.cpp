#include "guest_fixture.hpp"

#include "kernel_package.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <unistd.h>

namespace fs = std::filesystem;

namespace mrforge::test {

namespace {

const char *k_debs = "/var/cache/apt/archives";

// Pins the current linux-image-6.12 package instead (when the committed pin's .deb is gone):
// current_kernel_package, downloaded into `debs_dir` if apt's cache has none. Returns the
// directory holding the .deb.
std::string repin_kernel(const std::string &pin_path, const std::string &debs_dir) {
  KernelPackage k = current_kernel_package(debs_dir);
  std::string text = read_text(pin_path);
  auto replace = [&](const std::string &key, const std::string &value) {
    size_t at = text.find("\n" + key + ":");
    REQUIRE(at != std::string::npos);
    size_t end = text.find('\n', at + 1);
    text.replace(at + 1, end - at - 1, key + ": " + value);
  };
  replace("package", k.package);
  replace("version", "\"" + k.version + "\"");
  replace("release", k.release);
  replace("sha256", k.sha256);
  replace("size", std::to_string(fs::file_size(k.deb)));
  replace("filename", "pool/unknown/" + k.file_name());
  write_text(pin_path, text);
  return fs::path(k.deb).parent_path().string();
}

} // namespace

std::string copy_guest_recipe(const std::string &dest, bool reverse, const std::string &mtime,
                              const std::string &name) {
  std::vector<std::string> rels = {"recipes/" + name + ".yaml", "recipes/" + name + ".yaml.lock",
                                   "kernels/debian-bookworm-6.12-amd64.yaml"};
  std::set<std::string> folders = {"recipes/debian-bookworm-tdx", "recipes/" + name};
  for (const std::string &folder : folders)
    for (const auto &e : fs::directory_iterator(source_path(folder)))
      rels.push_back(folder + "/" + e.path().filename().string());
  std::sort(rels.begin(), rels.end());
  if (reverse) std::reverse(rels.begin(), rels.end());
  for (const std::string &rel : rels) {
    fs::create_directories(fs::path(dest + "/" + rel).parent_path());
    fs::copy_file(source_path(rel), dest + "/" + rel, fs::copy_options::overwrite_existing);
  }
  REQUIRE(run_shell("find " + shell_quote(dest) + " -exec touch -h -d " + shell_quote(mtime) + " {} +").exit_code == 0);
  return dest + "/recipes/" + name + ".yaml";
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

void fetch_as(const std::string &from, const std::string &to, const std::string &store, const std::string &debs) {
  const fs::path from_root = fs::path(from).parent_path().parent_path(),
                 to_root = fs::path(to).parent_path().parent_path();
  const std::string pin = "kernels/debian-bookworm-6.12-amd64.yaml";
  fs::copy_file(from + ".lock", to + ".lock", fs::copy_options::overwrite_existing);
  fs::copy_file(from_root / pin, to_root / pin, fs::copy_options::overwrite_existing);
  ShellResult fetched = run_mrforge_cli({"fetch", "--frozen", "--debs", debs, "--store", store, to});
  INFO(fetched.err);
  REQUIRE(fetched.exit_code == 0);
}

std::set<std::string> failed_events(const nlohmann::json &boot) {
  std::set<std::string> out;
  for (const auto &c : boot.at("checks"))
    if (c.at("status") == "FAIL") out.insert(c.at("what").get<std::string>());
  return out;
}

uint64_t first_sector(const std::string &disk, int n) {
  std::istringstream lines(sh("sgdisk -i " + std::to_string(n) + " " + shell_quote(disk)));
  for (std::string line; std::getline(lines, line);)
    if (line.rfind("First sector: ", 0) == 0) return std::stoull(line.substr(14));
  FAIL("sgdisk -i " << n << " printed no first sector");
  return 0;
}

void copy_with_cmdline_byte_changed(const std::string &out, const std::string &tampered, const std::string &cmdline) {
  sh("cp -a " + shell_quote(out) + " " + shell_quote(tampered));
  const std::string disk = read_text(tampered + "/disk.img");
  const size_t at = disk.find(cmdline);
  REQUIRE(at != std::string::npos);
  REQUIRE(disk.find(cmdline, at + 1) == std::string::npos);
  const size_t panic = cmdline.find("panic=-1");
  REQUIRE(panic != std::string::npos);
  std::fstream f(tampered + "/disk.img", std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(at + panic + 7));
  f.put('2');
  REQUIRE(f.good());
}

std::string bytes_at(const std::string &path, uint64_t offset, uint64_t size) {
  std::ifstream in(path, std::ios::binary);
  REQUIRE(in);
  in.seekg(static_cast<std::streamoff>(offset));
  std::string out(size, '\0');
  in.read(&out[0], static_cast<std::streamsize>(size));
  REQUIRE(static_cast<uint64_t>(in.gcount()) == size);
  return out;
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

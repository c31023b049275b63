// The second bundled guest, recipes/debian-bookworm-python.yaml: about 190 MB of Debian packages
// (python3, Flask, pandas/NumPy, cryptography, lxml, PyYAML, requests). It builds from its lock,
// a second build is a no-op from the step cache giving the same directory, the application stack
// in its root file system works (its own python3 runs the example app's endpoints in a chroot of
// the extracted image), and it boots under QEMU with its service answering.
//
// Packages come from deb.debian.org ([network]), the kernel package from apt's cache when there.
// Build speed is a benchmark (tests/bench/guest_build_python.sh), not asserted here.
#include "support/guest_fixture.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <unistd.h>

using namespace mrforge::test;
namespace fs = std::filesystem;

namespace {

// The recipe, its files, the shape it measures with and the kernel pin, in DEST's recipes/ and
// kernels/ (fetch_or_relock may relock the copy). Returns the copied recipe.
std::string copy_python_recipe(const std::string &dest) {
  for (const char *rel :
       {"recipes/debian-bookworm-python.yaml", "recipes/debian-bookworm-python.yaml.lock",
        "recipes/debian-bookworm-python/init", "recipes/debian-bookworm-python/app.py",
        "recipes/debian-bookworm-python/readings.csv", "recipes/debian-bookworm-tdx/dstack-lite-vm.yaml",
        "kernels/debian-bookworm-6.12-amd64.yaml"}) {
    fs::create_directories(fs::path(dest + "/" + rel).parent_path());
    fs::copy_file(source_path(rel), dest + "/" + rel, fs::copy_options::overwrite_existing);
  }
  return dest + "/recipes/debian-bookworm-python.yaml";
}

// A locked package's upstream version: "1.5.3+dfsg-2" -> "1.5.3", "1:1.24.2-1" -> "1.24.2".
std::string upstream_version(const nlohmann::json &lock, const std::string &name) {
  for (const auto &p : lock.at("packages"))
    if (p.at("name") == name) {
      std::string v = p.at("version").get<std::string>();
      if (v.find(':') != std::string::npos) v = v.substr(v.find(':') + 1);
      v = v.substr(0, v.rfind('-'));
      return v.substr(0, v.find('+'));
    }
  FAIL("package " << name << " is not in the lock");
  return "";
}

// The mean of each sensor's values in readings.csv, as Python's json.dumps prints the floats the
// app returns (one decimal place is enough for this data; checked below).
std::string expected_means(const std::string &csv_path) {
  std::ifstream in(csv_path);
  std::string line;
  std::getline(in, line); // header
  std::map<std::string, std::pair<double, int>> sums;
  while (std::getline(in, line)) {
    size_t comma = line.find(',');
    REQUIRE(comma != std::string::npos);
    auto &s = sums[line.substr(0, comma)];
    s.first += std::stod(line.substr(comma + 1));
    s.second += 1;
  }
  std::string out = "{";
  for (const auto &[sensor, s] : sums) {
    double mean = s.first / s.second;
    std::ostringstream v;
    v.setf(std::ios::fixed);
    v.precision(1);
    v << mean;
    REQUIRE(std::stod(v.str()) == mean);
    out += (out.size() > 1 ? "," : "") + std::string("\"") + sensor + "\":" + v.str();
  }
  return out + "}";
}

} // namespace

TEST_CASE("The python guest builds, rebuilds as a no-op from the step cache, runs its app stack and boots",
          "[guest][network]") {
  REQUIRE(geteuid() == 0); // the root file system has owners (uid 1000); chroot
  TempDir work("python-guest");
  const std::string recipe = copy_python_recipe(work / "src");
  const std::string store = work / "store";
  fetch_or_relock(recipe, store);
  const nlohmann::json lock = nlohmann::json::parse(read_text(recipe + ".lock"));

  nlohmann::json cold = build_guest_json(recipe, store, work / "cold");
  for (const auto &s : cold.at("steps")) CHECK_FALSE(s.at("cached").get<bool>());
  nlohmann::json noop = build_guest_json(recipe, store, work / "noop");
  CHECK(noop.at("steps").size() == 4);
  for (const auto &s : noop.at("steps")) CHECK(s.at("cached").get<bool>());
  CHECK(noop.at("digest") == cold.at("digest"));
  CHECK(file_digests(work / "noop") == file_digests(work / "cold"));

  // The image's own python3 and libraries, run from the extracted root file system.
  const std::string root = work / "root";
  sh("fsck.erofs --extract=" + shell_quote(root) + " " + shell_quote(work / "cold/rootfs.img") + " >/dev/null");
  const std::string script = "import sys; sys.path.insert(0, '/srv/app'); import app; c = app.app.test_client(); "
                             "print(c.get('/').data.decode()); print(c.get('/stats').data.decode()); "
                             "import cryptography, lxml.etree, requests, yaml; print('imports ok')";
  ShellResult run = run_shell("env -i PYTHONDONTWRITEBYTECODE=1 \"$(command -v chroot)\" " + shell_quote(root) +
                              " /usr/bin/python3 -c " + shell_quote(script));
  INFO(run.out << run.err);
  REQUIRE(run.exit_code == 0);
  const std::string hello = "{\"flask\":\"" + upstream_version(lock, "python3-flask") + "\",\"python\":\"" +
                            upstream_version(lock, "python3.11") + "\",\"service\":\"flask\"}";
  const std::string stats = "{\"mean\":" + expected_means(source_path("recipes/debian-bookworm-python/readings.csv")) +
                            ",\"pandas\":\"" + upstream_version(lock, "python3-pandas") + "\"}";
  CHECK(run.out == hello + "\n" + stats + "\nimports ok\n");

  // Boots: every firmware measurement as predicted, and init's ready line from the service.
  ShellResult boot = run_mrforge_cli({"boot", work / "cold", "--json"});
  INFO(boot.out << boot.err);
  CHECK(boot.exit_code == 0);
  nlohmann::json b = nlohmann::json::parse(boot.out);
  CHECK(b.at("ok") == true);
  CHECK(b.at("ready") == true);
  CHECK(b.at("ready_line").get<std::string>() == "service=flask uid=1000 reply=" + hello);
}

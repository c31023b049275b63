// An installed mrforge is one self-contained file whose outputs do not depend on where it lives:
// installed into different prefixes (`cmake --install`), run with the checkout and the build tree
// hidden under empty mounts (a private mount namespace: needs root, util-linux's unshare), it
// gives byte-identical results, and no output names a path of the host (the checkout, the build
// tree, the install prefix, the store or a temporary folder).
//
// The guest test builds the bundled recipe (recipes/debian-bookworm-tdx.yaml) twice from copies in
// different folders, with different stores and installs; packages come from deb.debian.org
// ([network]), as in guest_build_test.cpp.
#include "support/guest_fixture.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <sstream>
#include <unistd.h>

using namespace mrforge::test;
namespace fs = std::filesystem;

namespace {

const std::string k_source_dir = fs::path(MRFORGE_SOURCE_DIR).lexically_normal().string();
const std::string k_build_dir = fs::path(MRFORGE_BUILD_DIR).lexically_normal().string();

// `cmake --install BUILD --prefix PREFIX`; returns PREFIX/bin/mrforge.
std::string install_mrforge(const std::string &prefix) {
  ShellResult r = run_shell(shell_quote(MRFORGE_CMAKE_COMMAND) + " --install " + shell_quote(k_build_dir) +
                            " --prefix " + shell_quote(prefix));
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  const std::string binary = prefix + "/bin/mrforge";
  REQUIRE(fs::is_regular_file(binary));
  return binary;
}

// The checkout and the build tree (the build tree first: it may lie inside the checkout).
std::vector<std::string> build_host_dirs() {
  std::vector<std::string> dirs{k_build_dir};
  if (k_source_dir != k_build_dir) dirs.push_back(k_source_dir);
  return dirs;
}

// Runs a shell command line in a private mount namespace where the checkout and the build tree
// are empty folders, from /.
ShellResult run_with_checkout_hidden(const std::string &command) {
  REQUIRE(geteuid() == 0); // mounting needs root
  std::string script;
  for (const std::string &dir : build_host_dirs())
    script += "mount -t tmpfs -o size=1m mrforge-hidden " + shell_quote(dir) + " && ";
  // Prove the checkout is gone before running anything.
  script += "test ! -e " + shell_quote(k_source_dir + "/CMakeLists.txt") + " && cd / && " + command;
  return run_shell("unshare --mount --propagation private sh -c " + shell_quote(script));
}

std::string command_line(const std::string &binary, const std::vector<std::string> &args) {
  std::string cmd = shell_quote(binary);
  for (const std::string &a : args) cmd += " " + shell_quote(a);
  return cmd;
}

ShellResult run_ok(const std::string &command) {
  ShellResult r = run_shell(command);
  INFO(command << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  return r;
}

ShellResult run_hidden_ok(const std::string &command) {
  ShellResult r = run_with_checkout_hidden(command);
  INFO(command << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
  return r;
}

// Every file of `dir` (recursively) with its bytes.
std::map<std::string, std::string> file_contents(const std::string &dir) {
  std::map<std::string, std::string> out;
  for (const auto &e : fs::recursive_directory_iterator(dir))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = read_text(e.path().string());
  return out;
}

// The lines of `strings BINARY` that name the checkout or the build tree. ASan and UBSan keep each
// instrumented source file's path for their reports (-ffile-prefix-map does not reach it): in a
// sanitized build those lines, and only those, are expected.
std::vector<std::string> build_paths_in_binary(const std::string &binary) {
  ShellResult s = run_ok("strings -a " + shell_quote(binary));
  REQUIRE(s.out.size() > 100000);
  std::vector<std::string> found;
  std::istringstream lines(s.out);
  for (std::string line; std::getline(lines, line);) {
    bool names_dir = false, is_source_file = false;
    for (const std::string &dir : build_host_dirs()) {
      if (line.find(dir) == std::string::npos) continue;
      names_dir = true;
      const std::string ext = fs::path(line).extension().string();
      is_source_file = is_source_file || (line.rfind(dir + "/", 0) == 0 && (ext == ".cpp" || ext == ".hpp"));
    }
#ifdef MRFORGE_SANITIZED
    if (names_dir && !is_source_file) found.push_back(line);
#else
    (void)is_source_file;
    if (names_dir) found.push_back(line);
#endif
  }
  return found;
}

// The needles found in `text`.
std::vector<std::string> found_in(const std::string &text, const std::vector<std::string> &needles) {
  std::vector<std::string> found;
  for (const std::string &n : needles)
    if (text.find(n) != std::string::npos) found.push_back(n);
  return found;
}

// A measure command of copies of the Debian firmware and kernel in `dir` (a folder of this run,
// which no output may name) that needs no network: the qemu-9.2-tdx profile generates the ACPI
// tables from the shape.
std::vector<std::string> measure_args(const std::string &dir) {
  if (!fs::exists(dir + "/OVMF.fd")) {
    fs::create_directories(dir);
    fs::copy_file(debian_ovmf(), dir + "/OVMF.fd");
    fs::copy_file(debian_kernel_612(), dir + "/" + fs::path(debian_kernel_612()).filename().string());
  }
  return {"measure",
          "--firmware",
          dir + "/OVMF.fd",
          "--kernel",
          dir + "/" + fs::path(debian_kernel_612()).filename().string(),
          "--cmdline",
          "console=hvc0",
          "--cpus",
          "2",
          "--memory",
          "2G",
          "--profile",
          "qemu-9.2-tdx",
          "--json"};
}

} // namespace

TEST_CASE("An installed mrforge carries its profiles, no path of its checkout, and gives the same results "
          "with the checkout hidden",
          "[install]") {
  TempDir work("install");
  const std::string a = install_mrforge(work / "prefix-a");
  const std::string b = install_mrforge(work / "elsewhere/deeper/prefix-b");

  // No path of the build host in the binaries (debug information and __FILE__ are relative).
  for (const std::string &binary : {std::string(MRFORGE_BINARY), a}) CHECK(build_paths_in_binary(binary).empty());

  // profiles and measure: the build tree's binary, an install run from elsewhere, and another
  // install with the checkout hidden all print the same bytes.
  const std::vector<std::vector<std::string>> commands = {
      {"profiles", "--json"}, {"profiles"}, measure_args(work / "inputs")};
  for (const auto &args : commands) {
    INFO(args.front());
    ShellResult reference = run_ok(command_line(MRFORGE_BINARY, args));
    ShellResult from_a = run_ok("cd " + shell_quote(work.path()) + " && " + command_line(a, args));
    ShellResult hidden_b = run_hidden_ok(command_line(b, args));
    CHECK(from_a.out == reference.out);
    CHECK(hidden_b.out == reference.out);
    std::vector<std::string> paths = build_host_dirs();
    paths.push_back(work.path());
    CHECK(found_in(reference.out, paths).empty());
  }

  // The listing says where each profile comes from and its sha256; the set is never empty.
  nlohmann::json listing = nlohmann::json::parse(run_hidden_ok(command_line(b, {"profiles", "--json"})).out);
  CHECK(listing.at("search_path").empty());
  for (const char *kind : {"platform_profiles", "ovmf_variants", "acpi_profiles"}) {
    INFO(kind);
    REQUIRE(listing.at(kind).size() >= 3);
    for (const auto &p : listing.at(kind)) {
      CHECK(p.at("from") == "embedded");
      CHECK(p.at("sha256").get<std::string>().size() == 64);
    }
  }
  // measure names the profile and the variant by name and sha256, the files by their names.
  nlohmann::json m = nlohmann::json::parse(run_hidden_ok(command_line(b, measure_args(work / "inputs"))).out);
  const std::string profile_sha = run_ok("sha256sum " + shell_quote(source_path("measure/profiles/platform/"
                                                                                "qemu-9.2-tdx.yaml")))
                                      .out.substr(0, 64);
  CHECK(m.at("inputs").at("profile") == "qemu-9.2-tdx (sha256:" + profile_sha + ")");
  // (Debian's OVMF is recognised by its fingerprint.)
  CHECK(m.at("inputs").at("ovmf_variant").get<std::string>().rfind("debian-bookworm-2022.11 (sha256:", 0) == 0);
  CHECK(m.at("inputs").at("firmware") == "OVMF.fd");
  CHECK(m.at("inputs").at("acpi_tables").get<std::string>().find("ACPI profile qemu-9.2-tdx (sha256:") !=
        std::string::npos);
  CHECK(m.at("inputs").at("kernel") == fs::path(debian_kernel_612()).filename().string());
  CHECK(found_in(m.dump(), {work.path()}).empty());
  // A folder of ACPI blobs is named by its own name (the checkout holds this one, so the build
  // tree's binary runs it).
  std::vector<std::string> with_tables = measure_args(work / "inputs");
  with_tables.insert(with_tables.end() - 1,
                     {"--acpi-tables", source_path("tests/data/acpi/qemu-7.2-q35/c1-m2g"), "--events"});
  nlohmann::json t = nlohmann::json::parse(run_ok(command_line(MRFORGE_BINARY, with_tables)).out);
  CHECK(t.at("inputs").at("acpi_tables") == "tables c1-m2g");
  CHECK(t.at("events")[8].at("source") == "computed: SHA-384 of etc/table-loader from tables c1-m2g");
  CHECK(found_in(t.dump(), build_host_dirs()).empty());

  // A user's folder on MRFORGE_PROFILE_PATH is listed with its path; a missing one is an error.
  write_text(work / "mine/platform/custom.yaml",
             read_text(source_path("measure/profiles/platform/qemu-9.2-tdx.yaml")) + "# a copy\n");
  ShellResult bad_name = run_hidden_ok("MRFORGE_PROFILE_PATH=" + shell_quote(work / "mine") + " " +
                                       command_line(b, {"profiles", "--json"}) + "; echo \"exit $?\"");
  CHECK(bad_name.out.find("exit 2") != std::string::npos); // its name: says qemu-9.2-tdx, not custom
  CHECK(bad_name.err.find("its name is 'qemu-9.2-tdx'") != std::string::npos);
  ShellResult missing = run_hidden_ok("MRFORGE_PROFILE_PATH=" + shell_quote(work / "nowhere") + " " +
                                      command_line(b, {"profiles"}) + "; echo \"exit $?\"");
  CHECK(missing.out == "exit 2\n"); // nothing listed
  CHECK(missing.err.find("MRFORGE_PROFILE_PATH: " + work / "nowhere" + " is not a folder") != std::string::npos);
}

TEST_CASE("The bundled guest built by two installs in different folders, one with the checkout hidden, is "
          "byte-identical and names no host path",
          "[install][guest][network]") {
  REQUIRE(geteuid() == 0); // the root file system has owners (uid 1000)
  TempDir work("install-guest");
  const std::string bin_a = install_mrforge(work / "opt/mrforge");
  const std::string bin_b = install_mrforge(work / "usr/local/other-prefix");
  const std::string recipe_a = copy_guest_recipe(work / "a");
  const std::string recipe_b = copy_guest_recipe(work / "b/nested/deeper");
  const std::string store_a = work / "store-a", store_b = work / "stores/b";
  fetch_or_relock(recipe_a, store_a);
  // b gets exactly a's lock and pin (they may have been renewed above) and a copy of its store.
  fs::copy_file(work / "a/recipes/debian-bookworm-tdx.yaml.lock",
                work / "b/nested/deeper/recipes/debian-bookworm-tdx.yaml.lock", fs::copy_options::overwrite_existing);
  fs::copy_file(work / "a/kernels/debian-bookworm-6.12-amd64.yaml",
                work / "b/nested/deeper/kernels/debian-bookworm-6.12-amd64.yaml", fs::copy_options::overwrite_existing);
  fs::create_directories(work / "stores");
  run_ok("cp -a " + shell_quote(store_a) + " " + shell_quote(store_b));
  fs::create_directories(work / "tmp-a");
  fs::create_directories(work / "tmp-b");

  // Each install builds, signs (Ed25519: deterministic), exports reference values and measures
  // its own output; b runs with the checkout hidden. The key pair is shared.
  run_ok(command_line(bin_a, {"keygen", "-o", work / "ci"}));
  auto commands = [&](const std::string &bin, const std::string &recipe, const std::string &store,
                      const std::string &tag) {
    const std::string out = work / ("out-" + tag), results = work / ("results-" + tag);
    std::string s = "mkdir -p " + shell_quote(results) + " && cd " + shell_quote(work / ("tmp-" + tag)) +
                    " && export TMPDIR=" + shell_quote(work / ("tmp-" + tag)) + " && ";
    s += command_line(bin, {"build", "--frozen", "--offline", "--json", "--store", store, recipe, "-o", out}) + " >" +
         shell_quote(results + "/build.json") + " && ";
    s += command_line(bin, {"sign", "--key", work / "ci.key", out}) + " >/dev/null && ";
    s += "mv " + shell_quote(out + ".intoto.json") + " " + shell_quote(results + "/statement.intoto.json") + " && ";
    s += command_line(bin, {"reference-values", results + "/statement.intoto.json", "--pub", work / "ci.pub",
                            "--format", "coco-rvps", "-o", results + "/rvps.json"}) +
         " && ";
    s +=
        command_line(bin, {"reference-values", out, "--format", "measurements", "-o", results + "/measurements.json"}) +
        " && ";
    s += command_line(bin, {"measure", out, "--profile", "qemu-8.2-tdx", "--ovmf-variant", "debian-bookworm-2022.11",
                            "--cpus", "2", "--memory", "2G", "--json"}) +
         " >" + shell_quote(results + "/measure.json") + " && ";
    s += command_line(bin, {"profiles", "--json"}) + " >" + shell_quote(results + "/profiles.json");
    return s;
  };
  run_ok(commands(bin_a, recipe_a, store_a, "a"));
  run_hidden_ok(commands(bin_b, recipe_b, store_b, "b"));

  // Every byte of the two output directories, and of every other output, is the same (the build
  // summary echoes the -o folder it was given, and nothing else differs).
  auto out_a = file_contents(work / "out-a"), out_b = file_contents(work / "out-b");
  CHECK(out_a.size() == 13); // with dstack's measurement.tdx.cbor and the two SBOMs
  for (const auto &[name, bytes] : out_a) {
    INFO(name);
    CHECK(out_b.count(name) == 1);
    CHECK((out_b.count(name) == 1 && out_b.at(name) == bytes));
  }
  CHECK(run_shell(command_line(bin_a, {"diff", work / "out-a", work / "out-b"})).exit_code == 0);
  auto results_a = file_contents(work / "results-a"), results_b = file_contents(work / "results-b");
  nlohmann::json build_a = nlohmann::json::parse(results_a.at("build.json"));
  nlohmann::json build_b = nlohmann::json::parse(results_b.at("build.json"));
  CHECK(build_a.at("out") == work / "out-a");
  build_a.erase("out");
  build_b.erase("out");
  CHECK(build_a == build_b);
  results_a.erase("build.json");
  results_b.erase("build.json");
  CHECK(results_a == results_b);
  CHECK(results_a.size() == 5);

  // No output names the checkout, the build tree, an install prefix, a store, a recipe copy or a
  // temporary folder (all of which lie in `work`, TMPDIR included). The images are searched too.
  std::vector<std::string> needles = build_host_dirs();
  needles.push_back(work.path());
  for (const std::string &dir : {work / "out-a", work / "out-b", work / "results-a", work / "results-b"})
    for (const auto &[name, bytes] : file_contents(dir)) {
      INFO(dir << "/" << name);
      // The build summary on standard output echoes the -o folder it was given (checked above).
      const bool echoes_out = name == "build.json";
      CHECK(found_in(bytes, echoes_out ? build_host_dirs() : needles).empty());
      // The text outputs name no absolute path of a temporary folder at all.
      const bool text =
          fs::path(name).extension() == ".json" || fs::path(name).extension() == ".txt" || name == "recipe.lock";
      if (text && !echoes_out) CHECK(bytes.find("/tmp/") == std::string::npos);
    }
  nlohmann::json shapes = nlohmann::json::parse(out_a.at("measurements.json")).at("shapes");
  REQUIRE(shapes.size() == 1);
  CHECK(shapes[0].at("inputs").at("profile").get<std::string>().rfind("qemu-8.2-tdx (sha256:", 0) == 0);
  CHECK(shapes[0].at("inputs").at("ovmf_variant").get<std::string>().rfind("debian-bookworm-2022.11 (sha256:", 0) == 0);
}

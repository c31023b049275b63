// lock, fetch and build end to end against a real Debian-format repository made by the test
// (dpkg-deb, apt-ftparchive, a throwaway gpg key, python's HTTP server on loopback), and the
// bundled example built twice under different conditions.
#include "support/apt_repo.hpp"
#include "test_support.hpp"

#include <builder/audit/artifact_diff.hpp>
#include <builder/system/store.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>

namespace fs = std::filesystem;
using namespace mrforge;
using namespace mrforge::test;

namespace {

// A .deb written with libarchive so that its data.tar can hold what dpkg-deb would never make.
struct CraftedEntry {
  std::string path;
  char type;        // 'f' file, 'd' dir, 'l' symlink, 'h' hard link, 'c' char device
  std::string data; // file content or link target
  unsigned mode = 0644;
};

std::string tar_bytes(const std::vector<CraftedEntry> &entries) {
  std::unique_ptr<archive, decltype(&archive_write_free)> a(archive_write_new(), archive_write_free);
  archive_write_set_format_pax_restricted(a.get());
  archive_write_add_filter_gzip(a.get());
  std::vector<char> buffer(1 << 20);
  size_t used = 0;
  REQUIRE(archive_write_open_memory(a.get(), buffer.data(), buffer.size(), &used) == ARCHIVE_OK);
  for (const auto &e : entries) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> ent(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(ent.get(), e.path.c_str());
    archive_entry_set_perm(ent.get(), static_cast<mode_t>(e.mode));
    archive_entry_set_mtime(ent.get(), 1700000000, 0);
    switch (e.type) {
    case 'f':
      archive_entry_set_filetype(ent.get(), AE_IFREG);
      archive_entry_set_size(ent.get(), static_cast<la_int64_t>(e.data.size()));
      break;
    case 'd': archive_entry_set_filetype(ent.get(), AE_IFDIR); break;
    case 'l':
      archive_entry_set_filetype(ent.get(), AE_IFLNK);
      archive_entry_set_symlink(ent.get(), e.data.c_str());
      break;
    case 'h':
      archive_entry_set_filetype(ent.get(), AE_IFREG);
      archive_entry_set_hardlink(ent.get(), e.data.c_str());
      break;
    case 'c':
      archive_entry_set_filetype(ent.get(), AE_IFCHR);
      archive_entry_set_rdevmajor(ent.get(), 1);
      archive_entry_set_rdevminor(ent.get(), 3);
      break;
    }
    REQUIRE(archive_write_header(a.get(), ent.get()) == ARCHIVE_OK);
    if (e.type == 'f') archive_write_data(a.get(), e.data.data(), e.data.size());
  }
  REQUIRE(archive_write_close(a.get()) == ARCHIVE_OK);
  return std::string(buffer.data(), used);
}

void write_crafted_deb(const std::string &path, const std::string &name, const std::vector<CraftedEntry> &data) {
  std::string control = "Package: " + name +
                        "\nVersion: 1.0\nArchitecture: amd64\nMaintainer: test <t@example.invalid>\n"
                        "Description: crafted\n";
  std::string control_tar = tar_bytes({{"./", 'd', "", 0755}, {"./control", 'f', control, 0644}});
  std::string data_tar = tar_bytes(data);
  std::unique_ptr<archive, decltype(&archive_write_free)> a(archive_write_new(), archive_write_free);
  archive_write_set_format_ar_bsd(a.get());
  REQUIRE(archive_write_open_filename(a.get(), path.c_str()) == ARCHIVE_OK);
  auto member = [&](const std::string &member_name, const std::string &bytes) {
    std::unique_ptr<archive_entry, decltype(&archive_entry_free)> ent(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(ent.get(), member_name.c_str());
    archive_entry_set_filetype(ent.get(), AE_IFREG);
    archive_entry_set_perm(ent.get(), 0644);
    archive_entry_set_size(ent.get(), static_cast<la_int64_t>(bytes.size()));
    REQUIRE(archive_write_header(a.get(), ent.get()) == ARCHIVE_OK);
    archive_write_data(a.get(), bytes.data(), bytes.size());
  };
  member("debian-binary", "2.0\n");
  member("control.tar.gz", control_tar);
  member("data.tar.gz", data_tar);
  REQUIRE(archive_write_close(a.get()) == ARCHIVE_OK);
}

struct Repo {
  TempDir dir{"repo"};
  std::unique_ptr<AptRepo> repo = demo_repository(dir / "repo");
  std::string url = repo->serve();

  // A recipe folder using the repository, with a local file.
  std::string recipe(const std::string &folder, const std::string &packages, const std::string &extra = "") const {
    write_text(folder + "/greeting.txt", "hello from the recipe\n");
    std::string path = folder + "/demo.yaml";
    write_text(path, "apiVersion: mrforge/v1\nkind: OciImage\nname: demo\nsource_date_epoch: 1700000000\n"
                     "debian: {suite: bookworm, mirror: \"" +
                         url + "\", keyring: " + repo->keyring() +
                         "}\n"
                         "layers: [base, app]\n"
                         "packages: " +
                         packages +
                         "\n"
                         "files:\n  - {source: greeting.txt, target: /etc/greeting, mode: \"0640\"}\n" +
                         extra);
    return path;
  }
};

std::string layer_listing(const std::string &blob) {
  ShellResult r = run_shell("TZ=UTC tar -tvzf " + shell_quote(blob) + " --numeric-owner");
  REQUIRE(r.exit_code == 0);
  return r.out;
}

} // namespace

TEST_CASE("lock resolves the closure from a signed local repository and is deterministic", "[oci_build][repo]") {
  Repo repo;
  TempDir work("work");
  std::string recipe = repo.recipe(work.path(), "[demo-hello]");
  ShellResult r = run_mrforge_cli({"lock", "--json", recipe});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["packages"].size() == 3);
  CHECK(j["packages"][0]["name"] == "demo-data");
  CHECK(j["packages"][0]["reason"] == "dependency of demo-hello");
  CHECK(j["packages"][2]["name"] == "libdemo1");
  CHECK(j["packages"][2]["sha256"] ==
        builder::digest_file(repo.dir / "repo/pool/main/libdemo1_1.2-1_amd64.deb", limits::k_artifact).sha256_hex);
  std::string first = read_text(recipe + ".lock");
  r = run_mrforge_cli({"lock", recipe});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("unchanged") != std::string::npos);
  CHECK(read_text(recipe + ".lock") == first);
  r = run_mrforge_cli({"lock", "--check", recipe});
  CHECK(r.exit_code == 0);
}

TEST_CASE("fetch fills the store once and build works offline from it", "[oci_build][repo]") {
  Repo repo;
  TempDir work("work");
  std::string recipe = repo.recipe(work.path(), "[demo-hello]");
  std::string store = work / "store";
  REQUIRE(run_mrforge_cli({"lock", recipe}).exit_code == 0);
  ShellResult r = run_mrforge_cli({"fetch", "--json", "--store", store, recipe});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["downloaded"] == 3);
  r = run_mrforge_cli({"fetch", "--json", "--store", store, recipe});
  CHECK(nlohmann::json::parse(r.out)["downloaded"] == 0);
  CHECK(nlohmann::json::parse(r.out)["in_store"] == 3);

  r = run_mrforge_cli({"build", "--offline", "--json", "--store", store, recipe, "-o", work / "out"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["layers"].size() == 2);
  std::string manifest = j["manifest_digest"];
  CHECK(fs::exists(work / ("out/blobs/sha256/" + manifest.substr(7))));
  CHECK(fs::exists(work / "out/docker-archive.tar"));
  CHECK(fs::exists(work / "out/oci-layout"));
  CHECK(r.err.find("unpack demo-hello_1.0-3_amd64.deb") != std::string::npos); // progress on stderr

  std::string base =
      layer_listing(work / ("out/blobs/sha256/" + j["layers"][0]["digest"].get<std::string>().substr(7)));
  INFO(base);
  CHECK(base.find("-rwxr-xr-x 0/0              21 2023-11-14 22:13 usr/bin/demo-hello") != std::string::npos);
  CHECK(base.find("var/lib/dpkg/status") != std::string::npos);
  std::string app = layer_listing(work / ("out/blobs/sha256/" + j["layers"][1]["digest"].get<std::string>().substr(7)));
  CHECK(app.find("-rw-r----- 0/0              22 2023-11-14 22:13 etc/greeting") != std::string::npos);
  CHECK(app.find("etc/passwd") != std::string::npos);
  CHECK(app.find("usr/bin/demo-hello") == std::string::npos);

  // Built again into the same directory: identical bytes, the old output replaced atomically.
  auto before = file_digests(work / "out");
  r = run_mrforge_cli({"build", "--offline", "--threads", "1", "--store", store, recipe, "-o", work / "out"});
  REQUIRE(r.exit_code == 0);
  CHECK(file_digests(work / "out") == before);
}

TEST_CASE("A tampered package, a bad signature and a stale lock are refused with nothing half-written",
          "[oci_build][repo]") {
  Repo repo;
  TempDir work("work");
  std::string recipe = repo.recipe(work.path(), "[demo-hello]");
  REQUIRE(run_mrforge_cli({"lock", recipe}).exit_code == 0);
  std::string lock = read_text(recipe + ".lock");

  SECTION("tampered .deb") {
    std::string deb = repo.dir / "repo/pool/main/libdemo1_1.2-1_amd64.deb";
    std::string bytes = read_text(deb);
    bytes[bytes.size() - 10] ^= 0x55;
    write_text(deb, bytes);
    ShellResult r = run_mrforge_cli({"fetch", "--store", work / "store", recipe});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("package libdemo1 1.2-1 (amd64)") != std::string::npos);
    CHECK(r.err.find("content does not match the lock") != std::string::npos);
    CHECK_FALSE(builder::Store(work / "store").contains(nlohmann::json::parse(lock)["packages"][2]["sha256"]));
  }
  SECTION("InRelease signed by a key the keyring does not hold") {
    repo.repo->sign_with_foreign_key();
    ShellResult r = run_mrforge_cli({"lock", recipe});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("signature") != std::string::npos);
    CHECK(read_text(recipe + ".lock") == lock);
  }
  SECTION("stale lock with --frozen") {
    fs::create_directories(work / "out");
    write_text(work / "out/mrforge-build.json", "{\"output_kind\": \"oci-image\"}\n"); // an earlier build's
    repo.recipe(work.path(), "[demo-hello, demo-data]");
    ShellResult r = run_mrforge_cli({"build", "--frozen", "--store", work / "store", recipe, "-o", work / "out"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("--frozen: the lock does not match the recipe") != std::string::npos);
    CHECK(r.err.find("package demo-data: in the recipe (") != std::string::npos);
    CHECK(read_text(work / "out/mrforge-build.json") == "{\"output_kind\": \"oci-image\"}\n"); // untouched
    CHECK(read_text(recipe + ".lock") == lock);
  }
  SECTION("a pinned package the repository no longer serves") {
    std::string deb = repo.dir / "repo/pool/main/demo-data_2.0-1_all.deb";
    fs::create_directories(work / "debs");
    fs::rename(deb, work / "debs/demo-data_2.0-1_all.deb");
    ShellResult r = run_mrforge_cli({"fetch", "--store", work / "store", recipe});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("no longer served") != std::string::npos);
    CHECK(r.err.find("--debs DIR") != std::string::npos);
    r = run_mrforge_cli({"fetch", "--json", "--store", work / "store", "--debs", work / "debs", recipe});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    CHECK(nlohmann::json::parse(r.out)["from_directory"] == 1);
  }
}

TEST_CASE("Malicious packages are refused naming the package and the entry, leaving no output", "[oci_build][repo]") {
  struct Case {
    const char *name;
    std::vector<CraftedEntry> entries;
    const char *message;
  };
  std::vector<Case> cases = {
      {"evil-traversal", {{"./usr/", 'd', "", 0755}, {"./usr/../../etc/passwd", 'f', "root::0:0::/:/bin/sh\n"}}, ".."},
      {"evil-absolute", {{"/etc/shadow", 'f', "x\n"}}, "absolute path"},
      {"evil-symlink",
       {{"./etc/", 'd', "", 0755}, {"./etc/x", 'l', "/etc"}, {"./etc/x/passwd", 'f', "owned\n"}},
       "through the symlink"},
      {"evil-device", {{"./dev/", 'd', "", 0755}, {"./dev/mem", 'c', "", 0600}}, "device"},
      {"evil-hardlink", {{"./etc/", 'd', "", 0755}, {"./etc/x", 'h', "../../etc/shadow"}}, ".."},
  };
  for (const Case &c : cases) {
    DYNAMIC_SECTION(c.name) {
      Repo repo;
      TempDir work("work");
      // apt-ftparchive --arch only indexes files named NAME_VERSION_ARCH.deb.
      std::string deb = work / (std::string(c.name) + "_1.0_amd64.deb");
      write_crafted_deb(deb, c.name, c.entries);
      repo.repo->add_deb_file(deb);
      repo.repo->publish();
      REQUIRE(read_text(repo.dir / "repo/dists/bookworm/main/binary-amd64/Packages")
                  .find(std::string("Package: ") + c.name) != std::string::npos);
      std::string recipe = repo.recipe(work.path(), std::string("[") + c.name + "]");
      ShellResult r = run_mrforge_cli({"build", "--store", work / "store", recipe, "-o", work / "out"});
      INFO(r.err);
      CHECK(r.exit_code == 2);
      CHECK(r.err.find(std::string(c.name) + "_1.0_amd64.deb") != std::string::npos);
      CHECK(r.err.find(c.message) != std::string::npos);
      CHECK_FALSE(fs::exists(work / "out"));
      for (const auto &e : fs::directory_iterator(work.path()))
        CHECK(e.path().filename().string().find("mrforge-tmp") == std::string::npos);
    }
  }
}

TEST_CASE("A deliberate difference is explained entry by entry", "[oci_build][repo]") {
  Repo repo;
  TempDir work("work");
  std::string recipe = repo.recipe(work.path(), "[demo-hello]");
  REQUIRE(run_mrforge_cli({"build", "--store", work / "store", recipe, "-o", work / "a"}).exit_code == 0);
  // One file's mode and another's content change.
  std::string text = read_text(recipe);
  text.replace(text.find("\"0640\""), 6, "\"0600\"");
  write_text(recipe, text);
  std::string old_sha = run_shell("sha256sum " + shell_quote(work / "greeting.txt")).out.substr(0, 64);
  write_text(work / "greeting.txt", "hello from the changed recipe\n");
  REQUIRE(run_mrforge_cli({"build", "--store", work / "store", recipe, "-o", work / "b"}).exit_code == 0);
  builder::DiffOptions no_images;
  no_images.use_guestfs = false; // an OCI layout holds no file-system images
  std::string all;
  for (const auto &d : builder::diff_paths(work / "a", work / "b", no_images)) all += d.line() + "\n";
  INFO(all);
  CHECK(all.find("layer 1 (mrforge: layer app): etc/greeting: mode 0640 -> 0600") != std::string::npos);
  CHECK(all.find("layer 1 (mrforge: layer app): etc/greeting: size 22 -> 30 bytes") != std::string::npos);
  std::string new_sha = run_shell("sha256sum " + shell_quote(work / "greeting.txt")).out.substr(0, 64);
  CHECK(all.find("etc/greeting: content sha256:" + old_sha + " -> sha256:" + new_sha) != std::string::npos);
  CHECK(all.find("config: rootfs.diff_ids") != std::string::npos);
  CHECK(all.find("layer 0") == std::string::npos); // the package layer is the same
  CHECK(builder::diff_paths(work / "a", work / "a", no_images).empty());
}

namespace {

// Copies the example folder, creating the files in the given order with the given mtime.
void copy_example(const std::string &to, bool reverse, const std::string &touch_time) {
  std::vector<std::string> names = {"hello.sh", "hello.yaml", "motd"};
  if (fs::exists(test::source_path("examples/oci/hello.yaml.lock"))) names.push_back("hello.yaml.lock");
  if (reverse) std::reverse(names.begin(), names.end());
  fs::create_directories(to);
  for (const auto &n : names) {
    fs::copy_file(test::source_path("examples/oci/" + n), to + "/" + n);
    REQUIRE(run_shell("touch -d " + shell_quote(touch_time) + " " + shell_quote(to + "/" + n)).exit_code == 0);
  }
}

} // namespace

TEST_CASE("The example image is byte-identical when built under different conditions", "[oci_build][network]") {
  TempDir work("repro");
  std::string store = work / "store";
  copy_example(work / "a/example", false, "2001-02-03 04:05:06");
  copy_example(work / "b/nested/example", true, "2024-12-24 18:00:00");
  fs::create_directories(work / "cwd-a");
  fs::create_directories(work / "cwd-b");

  // The committed lock pins bookworm as it was when it was made; after a Debian point release the
  // mirror may no longer serve some of those versions. Then lock afresh (the same for both builds):
  // reproducibility is about the two builds, not about the mirror's history.
  ShellResult fetched = run_mrforge_cli({"fetch", "--frozen", "--store", store, work / "a/example/hello.yaml"});
  if (fetched.exit_code != 0) {
    WARN("the committed lock could not be fetched, locking afresh: " << fetched.err);
    REQUIRE(run_mrforge_cli({"lock", work / "a/example/hello.yaml"}).exit_code == 0);
    fs::copy_file(work / "a/example/hello.yaml.lock", work / "b/nested/example/hello.yaml.lock",
                  fs::copy_options::overwrite_existing);
    REQUIRE(run_mrforge_cli({"fetch", "--frozen", "--store", store, work / "a/example/hello.yaml"}).exit_code == 0);
  }
  ShellResult a = run_mrforge_cli({"build", "--frozen", "--offline", "--threads", "1", "--store", store,
                                   "../a/example/hello.yaml", "-o", "../out-a"},
                                  "cd " + shell_quote(work / "cwd-a") + " && umask 022 && TZ=UTC LC_ALL=C");
  INFO(a.err);
  REQUIRE(a.exit_code == 0);
  ShellResult b = run_mrforge_cli({"build", "--frozen", "--offline", "--threads", "2", "--store", store,
                                   work / "b/nested/example/hello.yaml", "-o", work / "out-b"},
                                  "cd " + shell_quote(work / "cwd-b") +
                                      " && umask 077 && TZ=Pacific/Chatham LC_ALL=C.UTF-8 LANG=de_DE.UTF-8");
  INFO(b.err);
  REQUIRE(b.exit_code == 0);
  auto da = file_digests(work / "out-a"), db = file_digests(work / "out-b");
  CHECK(da.size() > 5);
  CHECK(da == db);
  CHECK(builder::diff_paths(work / "out-a", work / "out-b").empty());

  // umoci unpacks it with the recipe's modes and owners, and the image's own program runs in it
  // (busybox-static, as the recipe's user).
  ShellResult unpack = run_shell("umoci unpack --image " + shell_quote(work / "out-a:mrforge/hello:1.0") + " " +
                                 shell_quote(work / "bundle"));
  INFO(unpack.err);
  REQUIRE(unpack.exit_code == 0);
  std::string rootfs = work / "bundle/rootfs";
  auto mode_of = [&](const std::string &rel) {
    return static_cast<unsigned>(fs::status(rootfs + "/" + rel).permissions()) & 07777u;
  };
  CHECK(mode_of("usr/local/bin/hello") == 0755u);
  CHECK(mode_of("home/app") == 0750u);
  CHECK(mode_of("etc/motd") == 0644u);
  CHECK(mode_of("bin/busybox") == 0755u);
  CHECK(read_text(rootfs + "/etc/passwd") ==
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/busybox\n");
  CHECK(read_text(rootfs + "/var/lib/dpkg/status").find("Package: ca-certificates\nStatus: install ok installed\n") !=
        std::string::npos);
  ShellResult hello = run_shell("chroot --userspec=1000:1000 " + shell_quote(rootfs) + " /usr/local/bin/hello");
  INFO(hello.err);
  CHECK(hello.exit_code == 0);
  CHECK(hello.out.find("Hello from an image mrforge built bit for bit from a pinned recipe.") != std::string::npos);
  CHECK(hello.out.find("running as app (uid 1000)") != std::string::npos);
}

// Images that run: merged-/usr for suites that need it, recipe symlinks and directories, and the
// check that an image's entrypoint can start. The trixie image comes from Debian's trixie archive
// ([network]) and is run with umoci and chroot; the error cases use a signed loopback repository.
#include "support/apt_repo.hpp"
#include "test_support.hpp"

#include <builder/system/store.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>

namespace fs = std::filesystem;
using namespace mrforge;
using namespace mrforge::test;

namespace {

size_t count_of(const std::string &text, const std::string &what) {
  size_t n = 0;
  for (size_t pos = text.find(what); pos != std::string::npos; pos = text.find(what, pos + 1)) ++n;
  return n;
}

unsigned mode_of(const std::string &path) {
  return static_cast<unsigned>(fs::symlink_status(path).permissions()) & 07777u;
}

void unpack(const std::string &image, const std::string &bundle) {
  ShellResult r = run_shell("umoci unpack --image " + shell_quote(image) + " " + shell_quote(bundle));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
}

std::string trixie_recipe(const std::string &folder, const std::string &packages) {
  std::string path = folder + "/trixie.yaml";
  write_text(path, "apiVersion: mrforge/v1\nkind: OciImage\nname: runnable/trixie\nsource_date_epoch: 1700000000\n"
                   "debian: {suite: trixie, mirror: \"http://deb.debian.org/debian\", "
                   "keyring: /usr/share/keyrings/debian-archive-keyring.gpg}\n"
                   "packages: " +
                       packages +
                       "\n"
                       "config: {entrypoint: [/bin/busybox], cmd: [echo, hi]}\n");
  return path;
}

// Locks, fetches and builds, then unpacks with umoci; returns the rootfs folder.
std::string build_and_unpack(const std::string &recipe, const std::string &store, const std::string &out,
                             const std::string &bundle) {
  ShellResult r = run_mrforge_cli({"lock", recipe});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  r = run_mrforge_cli({"build", "--store", store, recipe, "-o", out});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  unpack(out + ":runnable/trixie:latest", bundle);
  return bundle + "/rootfs";
}

} // namespace

TEST_CASE("A trixie image without base-files gets the merged-/usr links and its dynamically linked entrypoint runs",
          "[runnable][network]") {
  TempDir work("trixie");
  std::string rootfs = build_and_unpack(trixie_recipe(work.path(), "[busybox, ca-certificates]"), work / "store",
                                        work / "out", work / "bundle");

  // The aliases trixie's base-files would ship, so busybox (dynamically linked, PT_INTERP
  // /lib64/ld-linux-x86-64.so.2) starts as /bin/busybox.
  for (const auto &[link, target] : std::map<std::string, std::string>{
           {"bin", "usr/bin"}, {"sbin", "usr/sbin"}, {"lib", "usr/lib"}, {"lib64", "usr/lib64"}}) {
    INFO(link);
    REQUIRE(fs::is_symlink(rootfs + "/" + link));
    CHECK(fs::read_symlink(rootfs + "/" + link) == target);
  }
  ShellResult run = run_shell("chroot " + shell_quote(rootfs) +
                              " /bin/busybox sh -c 'echo runs; /bin/busybox ls /lib64/ld-linux-x86-64.so.2'");
  INFO(run.err);
  CHECK(run.exit_code == 0);
  CHECK(run.out.find("runs") != std::string::npos);
  CHECK(run.out.find("/lib64/ld-linux-x86-64.so.2") != std::string::npos);
}

TEST_CASE("A trixie image without base-files gets /tmp, /root and ca-certificates' /etc/ssl/certs built in",
          "[runnable][network]") {
  TempDir work("trixie-certs");
  std::string rootfs = build_and_unpack(trixie_recipe(work.path(), "[busybox, ca-certificates]"), work / "store",
                                        work / "out", work / "bundle");
  CHECK(mode_of(rootfs + "/tmp") == 01777u);
  CHECK(mode_of(rootfs + "/root") == 0700u);

  // The bundle holds every certificate the package ships, in the order of the conf file, which
  // lists every file under /usr/share/ca-certificates.
  std::vector<std::string> files;
  std::string certs_dir = rootfs + "/usr/share/ca-certificates";
  for (const auto &e : fs::recursive_directory_iterator(certs_dir))
    if (e.is_regular_file() && e.path().extension() == ".crt")
      files.push_back(fs::relative(e.path(), certs_dir).string());
  std::sort(files.begin(), files.end());
  REQUIRE(files.size() > 100);
  std::string bundle = read_text(rootfs + "/etc/ssl/certs/ca-certificates.crt");
  std::string expected_bundle, expected_conf;
  size_t source_blocks = 0;
  for (const std::string &f : files) {
    std::string pem = read_text(certs_dir + "/" + f);
    source_blocks += count_of(pem, "-----BEGIN CERTIFICATE-----");
    expected_bundle += pem + (pem.back() == '\n' ? "" : "\n");
    expected_conf += f + "\n";
  }
  CHECK(count_of(bundle, "-----BEGIN CERTIFICATE-----") == source_blocks);
  CHECK(source_blocks == files.size());
  CHECK(bundle == expected_bundle);
  std::string conf = read_text(rootfs + "/etc/ca-certificates.conf");
  CHECK(conf.substr(conf.size() - expected_conf.size()) == expected_conf);
  CHECK(mode_of(rootfs + "/etc/ssl/certs/ca-certificates.crt") == 0644u);

  // NAME.pem links to each certificate, and the hash links are the ones `openssl rehash` (the host's
  // OpenSSL 3) makes for a folder holding those certificates under their .pem names.
  std::map<std::string, std::string> ours; // HASH.N -> NAME.pem
  size_t pem_links = 0;
  TempDir rehash("rehash");
  for (const auto &e : fs::directory_iterator(rootfs + "/etc/ssl/certs")) {
    std::string name = e.path().filename().string();
    if (!fs::is_symlink(e.path())) continue;
    std::string target = fs::read_symlink(e.path()).string();
    if (name.size() > 4 && name.substr(name.size() - 4) == ".pem") {
      ++pem_links;
      REQUIRE(target.rfind("/usr/share/ca-certificates/", 0) == 0);
      fs::copy_file(rootfs + target, rehash / name);
    } else {
      ours[name] = target;
    }
  }
  CHECK(pem_links == files.size());
  ShellResult rh = run_shell("openssl rehash " + shell_quote(rehash.path()));
  INFO(rh.err);
  REQUIRE(rh.exit_code == 0);
  std::map<std::string, std::string> theirs;
  for (const auto &e : fs::directory_iterator(rehash.path()))
    if (fs::is_symlink(e.path())) theirs[e.path().filename().string()] = fs::read_symlink(e.path()).string();
  CHECK(theirs.size() > 100);
  CHECK(ours == theirs);
}

TEST_CASE("A trixie image with base-files has its /etc/os-release and base-files' own merged-/usr links",
          "[runnable][network]") {
  TempDir work("trixie-base");
  std::string recipe = trixie_recipe(work.path(), "[base-files, mawk, busybox]");
  std::string rootfs = build_and_unpack(recipe, work / "store", work / "out", work / "bundle");
  CHECK(fs::read_symlink(rootfs + "/bin") == "usr/bin");
  REQUIRE(fs::is_symlink(rootfs + "/etc/os-release"));
  CHECK(fs::read_symlink(rootfs + "/etc/os-release") == "../usr/lib/os-release");

  // The content is base-files' data, as dpkg-deb reads it from the locked .deb.
  auto lock = nlohmann::json::parse(read_text(recipe + ".lock"));
  std::string deb;
  for (const auto &p : lock["packages"])
    if (p["name"] == "base-files") deb = builder::Store(work / "store").require(p["sha256"], p["size"], "base-files");
  REQUIRE_FALSE(deb.empty());
  ShellResult data = run_shell("dpkg-deb --fsys-tarfile " + shell_quote(deb) + " | tar -xO ./usr/lib/os-release");
  REQUIRE(data.exit_code == 0);
  CHECK(data.out.find("VERSION_CODENAME=trixie") != std::string::npos);
  CHECK(read_text(rootfs + "/etc/os-release") == data.out);
  CHECK(mode_of(rootfs + "/tmp") == 01777u); // base-files' data too
  CHECK(mode_of(rootfs + "/root") == 0700u);
  ShellResult run = run_shell("chroot " + shell_quote(rootfs) + " /bin/busybox cat /etc/os-release");
  CHECK(run.exit_code == 0);
  CHECK(run.out == data.out);
}

namespace {

struct LoopbackRepo {
  TempDir dir{"runnable-repo"};
  std::unique_ptr<AptRepo> repo;
  std::string url;

  LoopbackRepo(const std::string &suite, const std::vector<DebSpec> &debs) {
    repo = std::make_unique<AptRepo>(dir / "repo");
    for (const DebSpec &d : debs) repo->build_deb(d);
    repo->publish(suite);
    url = repo->serve();
  }

  std::string recipe(const std::string &folder, const std::string &suite, const std::string &rest) const {
    std::string path = folder + "/image.yaml";
    write_text(path, "apiVersion: mrforge/v1\nkind: OciImage\nname: image\nsource_date_epoch: 1700000000\n"
                     "debian: {suite: " +
                         suite + ", mirror: \"" + url + "\", keyring: " + repo->keyring() + "}\n" + rest);
    return path;
  }
};

DebSpec package(const std::string &name, std::vector<DebFile> files) {
  DebSpec d{name, "1.0-1", "amd64"};
  d.files = std::move(files);
  return d;
}

ShellResult lock_and_build(const std::string &recipe, const std::string &work) {
  ShellResult r = run_mrforge_cli({"lock", recipe});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return run_mrforge_cli({"build", "--store", work + "/store", recipe, "-o", work + "/out"});
}

} // namespace

TEST_CASE(
    "Recipe symlinks and directories go into the image, and a symlink over a package's path is an error naming both",
    "[runnable][repo]") {
  LoopbackRepo repo("bookworm", {package("tool", {{"usr/bin/tool", "#!/bin/sh\necho tool\n", 0755},
                                                  {"bin/sh", "shell stand-in\n", 0755}})});
  TempDir work("symlinks");
  std::string ok = repo.recipe(work.path(), "bookworm",
                               "packages: [tool]\n"
                               "directories: [{target: /var/empty, mode: \"0711\"}]\n"
                               "symlinks: [{target: /usr/local/bin/t, points_to: ../../bin/tool}]\n"
                               "config: {entrypoint: [tool]}\n");
  ShellResult r = lock_and_build(ok, work.path());
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  unpack(work / "out:image:latest", work / "b");
  CHECK(fs::read_symlink(work / "b/rootfs/usr/local/bin/t") == "../../bin/tool");
  CHECK(mode_of(work / "b/rootfs/var/empty") == 0711u);

  std::string clash = repo.recipe(work.path(), "bookworm",
                                  "packages: [tool]\n"
                                  "symlinks: [{target: /usr/bin/tool, points_to: /bin/sh}]\n");
  r = lock_and_build(clash, work.path());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("symlink /usr/bin/tool (") != std::string::npos);
  CHECK(r.err.find("image.yaml:7:") != std::string::npos);
  CHECK(r.err.find("package tool") != std::string::npos);
}

TEST_CASE("In a merged-/usr suite a package shipping /bin is an error that names it and the /usr path",
          "[runnable][repo]") {
  DebSpec legacy = package("legacy", {{"usr/bin/fine", "ok\n", 0755}, {"bin/old-tool", "#!/bin/sh\n", 0755}});
  LoopbackRepo repo("trixie", {legacy});
  TempDir work("legacy");
  ShellResult r = lock_and_build(repo.recipe(work.path(), "trixie", "packages: [legacy]\n"), work.path());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("package legacy: ships /bin/old-tool (a regular file), but trixie is merged-/usr: /bin must be a "
                   "symlink to usr/bin; it should ship /usr/bin/old-tool") != std::string::npos);
  CHECK_FALSE(fs::exists(work / "out"));

  // A suite mrforge has no facts for is refused rather than guessed.
  LoopbackRepo other("nosuchcodename", {legacy});
  TempDir work2("unknown-suite");
  r = lock_and_build(other.recipe(work2.path(), "nosuchcodename", "packages: [legacy]\n"), work2.path());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("suite 'nosuchcodename': mrforge does not know whether its packages expect the merged-/usr "
                   "layout (known: bookworm, trixie)") != std::string::npos);
}

TEST_CASE("An entrypoint whose ELF interpreter is missing from the image is an error naming it", "[runnable][repo]") {
  // The host's /bin/true: a dynamically linked ELF whose PT_INTERP is /lib64/ld-linux-x86-64.so.2.
  ShellResult interp = run_shell("readelf -l /bin/true | grep -o '/lib64/ld-linux-x86-64.so.2'");
  REQUIRE(interp.exit_code == 0);
  LoopbackRepo repo("bookworm", {package("prog", {{"usr/bin/prog", read_text("/bin/true"), 0755},
                                                  {"usr/bin/script", "#!/usr/bin/prog -x\n", 0755}})});
  TempDir work("interp");
  ShellResult r = lock_and_build(
      repo.recipe(work.path(), "bookworm", "packages: [prog]\nconfig: {entrypoint: [/usr/bin/prog]}\n"), work.path());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("the entrypoint /usr/bin/prog needs the interpreter /lib64/ld-linux-x86-64.so.2, which is not a "
                   "file in the image") != std::string::npos);
  CHECK_FALSE(fs::exists(work / "out"));

  // Through a script's "#!" line, and for a bare name found on the image's PATH.
  r = lock_and_build(repo.recipe(work.path(), "bookworm",
                                 "packages: [prog]\nconfig: {cmd: [script], env: {PATH: /usr/local/bin:/usr/bin}}\n"),
                     work.path());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("the cmd script (via /usr/bin/prog) needs the interpreter /lib64/ld-linux-x86-64.so.2") !=
        std::string::npos);

  // A missing entrypoint is named too.
  r = lock_and_build(repo.recipe(work.path(), "bookworm", "packages: [prog]\nconfig: {entrypoint: [/usr/bin/nope]}\n"),
                     work.path());
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("the entrypoint '/usr/bin/nope' is not a file in the image") != std::string::npos);
}

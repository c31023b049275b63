// Input bundles (`mrforge fetch --export/--import`) against a real signed apt repository on
// loopback: deterministic bytes, an offline rebuild from the bundle alone with the same image
// digest, and bundles that are damaged, altered or made from another lock refused by name with
// nothing unverified in the store.
#include "support/apt_repo.hpp"
#include "test_support.hpp"

#include <builder/bundle/input_bundle.hpp>
#include <builder/recipe/recipe.hpp>
#include <builder/system/store.hpp>

#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <sys/stat.h>

namespace fs = std::filesystem;
using namespace mrforge;
using namespace mrforge::test;

namespace {

// A signed repository of the three demo packages (demo-hello needs libdemo1 and demo-data), served
// on loopback.
struct Repo {
  TempDir dir{"bundle-repo"};
  std::unique_ptr<AptRepo> repo = demo_repository(dir / "repo");
  std::string url = repo->serve();

  std::string deb(const std::string &file) const { return dir / ("repo/pool/main/" + file); }

  // An OciImage recipe FOLDER/NAME.yaml (image demo/NAME:1.0) with a local file greeting.txt.
  std::string recipe(const std::string &folder, const std::string &name, const std::string &packages,
                     const std::string &greeting = "hello from the recipe\n") const {
    fs::create_directories(folder);
    write_text(folder + "/greeting.txt", greeting);
    std::string path = folder + "/" + name + ".yaml";
    write_text(path, "apiVersion: mrforge/v1\nkind: OciImage\nname: demo/" + name +
                         "\ntag: \"1.0\"\nsource_date_epoch: 1700000000\n"
                         "debian: {suite: bookworm, mirror: \"" +
                         url + "\", keyring: " + repo->keyring() + "}\nlayers: [base, app]\npackages: " + packages +
                         "\nfiles:\n  - {source: greeting.txt, target: /etc/greeting, mode: \"0640\"}\n");
    return path;
  }
};

// Every blob of the store holds the bytes its name says, and no temporary file is left.
void check_store_verified(const std::string &store) {
  if (!fs::exists(store)) return;
  for (const auto &e : fs::directory_iterator(store + "/sha256")) {
    INFO(e.path());
    CHECK(builder::digest_file(e.path().string(), limits::k_artifact).sha256_hex == e.path().filename().string());
  }
  CHECK(fs::is_empty(store + "/tmp"));
}

size_t blob_count(const std::string &store) {
  if (!fs::exists(store + "/sha256")) return 0;
  return static_cast<size_t>(std::distance(fs::directory_iterator(store + "/sha256"), fs::directory_iterator()));
}

// The bundle entries of a lock's one source: its InRelease and indexes, under SUITE/DATE.
std::vector<std::string> metadata_entries(const nlohmann::json &lock) {
  REQUIRE(lock["sources"].size() == 1);
  const nlohmann::json &source = lock["sources"][0];
  std::string folder = "sources/bookworm/" + source["date"].get<std::string>() + "/dists/bookworm/";
  std::vector<std::string> out{folder + "InRelease"};
  for (const auto &i : source["indexes"]) out.push_back(folder + i["path"].get<std::string>());
  return out;
}

// The recipe folder WORK/app (demo.yaml, locked) using the repository, its inputs fetched into
// WORK/store-a and exported to WORK/a.tar; `exported` is that `fetch --json ... --export` run.
struct Exported {
  Repo repo;
  TempDir work;
  std::string recipe;
  std::string bundle;
  ShellResult exported;

  explicit Exported(const std::string &hint) : work(hint) {
    recipe = repo.recipe(work / "app", "demo", "[demo-hello]");
    REQUIRE(run_mrforge_cli({"lock", recipe}).exit_code == 0);
    bundle = work / "a.tar";
    exported = run_mrforge_cli({"fetch", "--json", "--store", work / "store-a", recipe, "--export", bundle});
    INFO(exported.err);
    REQUIRE(exported.exit_code == 0);
  }
};

ShellResult import_into(const std::string &store, const std::string &recipe, const std::string &bundle) {
  return run_mrforge_cli({"fetch", "--store", store, recipe, "--import", bundle});
}

} // namespace

TEST_CASE("An exported bundle is byte-identical every time and rebuilds the same image offline from nothing else",
          "[bundle][repo]") {
  Exported ex("bundle");
  Repo &repo = ex.repo;
  const TempDir &work = ex.work;
  const std::string &recipe = ex.recipe;
  ShellResult r = ex.exported;
  nlohmann::json j = nlohmann::json::parse(r.out);
  nlohmann::json lock = nlohmann::json::parse(read_text(recipe + ".lock"));
  std::vector<std::string> metadata = metadata_entries(lock);
  const size_t stored = 3 + metadata.size(); // packages, InRelease, indexes
  CHECK(j["downloaded"] == 3);
  CHECK(j["bundle"]["entries"] == stored + 1); // and greeting.txt
  CHECK(j["bundle"]["sha256"] == sha256sum_of(work / "a.tar"));
  CHECK(r.err.find("bundle " + work / "a.tar" + ": writing " + std::to_string(stored + 1) + " entries") !=
        std::string::npos);

  // Again from another store (downloaded afresh), another working directory, umask, TZ and locale.
  r = run_shell("cd / && umask 077 && TZ=Asia/Tokyo LC_ALL=C " + shell_quote(MRFORGE_BINARY) +
                " fetch --frozen --store " + shell_quote(work / "store-b") + " " + shell_quote(recipe) + " --export " +
                shell_quote(work / "b.tar"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_text(work / "a.tar") == read_text(work / "b.tar"));

  // The layout: index.json first, then the entries by name; owners, times and modes fixed.
  std::string names = "index.json\nfiles/demo.yaml/greeting.txt\n";
  for (const std::string &m : metadata) names += m + "\n";
  names += "sources/bookworm/pool/main/demo-data_2.0-1_all.deb\n"
           "sources/bookworm/pool/main/demo-hello_1.0-3_amd64.deb\n"
           "sources/bookworm/pool/main/libdemo1_1.2-1_amd64.deb\n";
  CHECK(sh("tar -tf " + shell_quote(work / "a.tar")) == names);
  std::string listing = sh("TZ=UTC tar -tvf " + shell_quote(work / "a.tar") + " --numeric-owner");
  for (size_t at = 0, end; (end = listing.find('\n', at)) != std::string::npos; at = end + 1) {
    std::string line = listing.substr(at, end - at);
    INFO(line);
    CHECK(line.rfind("-rw-r--r-- 0/0 ", 0) == 0);
    CHECK(line.find(" 1970-01-01 00:00 ") != std::string::npos);
  }
  // The signed InRelease and the indexes are the repository's own bytes.
  auto member = [&](const std::string &name) { return sh("tar -xOf " + shell_quote(work / "a.tar") + " " + name); };
  CHECK(member(metadata[0]) == read_text(repo.dir / "repo/dists/bookworm/InRelease"));
  for (size_t i = 1; i < metadata.size(); ++i)
    CHECK(member(metadata[i]) ==
          read_text(repo.dir /
                    ("repo/dists/bookworm/" + lock["sources"][0]["indexes"][i - 1]["path"].get<std::string>())));
  nlohmann::json index = nlohmann::json::parse(member("index.json"));
  CHECK(index["bundleVersion"] == 1);
  REQUIRE(index["recipes"].size() == 1);
  CHECK(index["recipes"][0]["id"] == "demo.yaml");
  CHECK(index["recipes"][0]["lock"] == "demo.yaml.lock");
  CHECK(index["recipes"][0]["lock_sha256"] == sha256sum_of(recipe + ".lock"));
  REQUIRE(index["entries"].size() == stored + 1);
  CHECK(index["entries"][0] == nlohmann::json{{"kind", "file"},
                                              {"name", "files/demo.yaml/greeting.txt"},
                                              {"recipes", {"demo.yaml"}},
                                              {"sha256", sha256sum_of(work / "app/greeting.txt")},
                                              {"size", 22}});
  CHECK(index["entries"][1] == nlohmann::json{{"kind", "inrelease"},
                                              {"name", metadata[0]},
                                              {"recipes", {"demo.yaml"}},
                                              {"sha256", lock["sources"][0]["inrelease_sha256"]},
                                              {"size", lock["sources"][0]["inrelease_size"]}});
  for (const auto &p : lock["packages"]) {
    bool listed = false;
    for (const auto &e : index["entries"])
      listed = listed || (e["name"] == "sources/bookworm/" + p["filename"].get<std::string>() &&
                          e["sha256"] == p["sha256"] && e["size"] == p["size"] && e["kind"] == "package");
    CHECK(listed);
  }

  r = run_mrforge_cli({"build", "--offline", "--json", "--store", work / "store-a", recipe, "-o", work / "out-a"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  std::string manifest = nlohmann::json::parse(r.out)["manifest_digest"];

  // The repository is gone; the auditor has the recipe folder (another path) and the bundle.
  repo.repo.reset(); // stops the HTTP server
  fs::create_directories(work / "auditor");
  fs::copy(work / "app", work / "auditor/app", fs::copy_options::recursive);
  std::string copy = work / "auditor/app/demo.yaml";
  r = run_mrforge_cli({"fetch", "--json", "--store", work / "store-c", copy, "--import", work / "b.tar"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  j = nlohmann::json::parse(r.out);
  CHECK(j["bundle"]["stored"] == stored);
  CHECK(j["bundle"]["files_checked"] == 1);
  CHECK(j["in_store"] == 3);
  CHECK(j["downloaded"] == 0);
  check_store_verified(work / "store-c");
  // Importing again finds everything there.
  r = run_mrforge_cli({"fetch", "--json", "--offline", "--store", work / "store-c", copy, "--import", work / "b.tar"});
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["bundle"]["already_in_store"] == stored);

  r = run_mrforge_cli({"build", "--offline", "--json", "--store", work / "store-c", copy, "-o", work / "out-c"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["manifest_digest"] == manifest);
  CHECK(file_digests(work / "out-c") == file_digests(work / "out-a"));

  // rebuild takes its fresh store's inputs from the bundle alone.
  r = run_mrforge_cli({"rebuild", copy, "--against", work / "out-a", "--bundle", work / "b.tar", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["identical"] == true);
  CHECK(r.err.find("bundle " + work / "b.tar" + ": verifying") != std::string::npos);
}

TEST_CASE("A damaged, altered or foreign bundle is refused naming the entry, with nothing unverified stored",
          "[bundle][repo]") {
  Exported ex("bundle-bad");
  Repo &repo = ex.repo;
  const TempDir &work = ex.work;
  const std::string &recipe = ex.recipe;
  const std::string &bundle = ex.bundle;
  ShellResult r;
  std::string bytes = read_text(bundle);
  std::string store = work / "store";
  const std::string lib_entry = "sources/bookworm/pool/main/libdemo1_1.2-1_amd64.deb";
  const std::vector<std::string> metadata = metadata_entries(nlohmann::json::parse(read_text(recipe + ".lock")));

  SECTION("a flipped byte in a package") {
    std::string deb = read_text(repo.deb("libdemo1_1.2-1_amd64.deb"));
    size_t at = bytes.find(deb);
    REQUIRE(at != std::string::npos);
    bytes[at + deb.size() / 2] ^= 0x01;
    write_text(bundle, bytes);
    r = import_into(store, recipe, bundle);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("entry '" + lib_entry + "'") != std::string::npos);
    CHECK(r.err.find("package libdemo1 1.2-1 (amd64)") != std::string::npos);
    CHECK(r.err.find("the lock pins " + sha256sum_of(repo.deb("libdemo1_1.2-1_amd64.deb"))) != std::string::npos);
    CHECK_FALSE(builder::Store(store).contains(sha256sum_of(repo.deb("libdemo1_1.2-1_amd64.deb"))));
  }
  SECTION("a flipped byte in the signed InRelease") {
    std::string inrelease = read_text(repo.dir / "repo/dists/bookworm/InRelease");
    size_t at = bytes.find(inrelease);
    REQUIRE(at != std::string::npos);
    bytes[at + inrelease.find("SHA256:")] = 's';
    write_text(bundle, bytes);
    r = import_into(store, recipe, bundle);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("entry '" + metadata[0] + "'") != std::string::npos);
    CHECK(r.err.find("InRelease of bookworm") != std::string::npos);
    CHECK(blob_count(store) == 0);
  }
  SECTION("truncated inside a package") {
    std::string deb = read_text(repo.deb("libdemo1_1.2-1_amd64.deb"));
    size_t at = bytes.find(deb);
    REQUIRE(at != std::string::npos);
    write_text(bundle, bytes.substr(0, at + 100));
    r = import_into(store, recipe, bundle);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("truncated") != std::string::npos);
    CHECK(r.err.find(lib_entry) != std::string::npos);
    CHECK_FALSE(builder::Store(store).contains(sha256sum_of(repo.deb("libdemo1_1.2-1_amd64.deb"))));
  }
  SECTION("an entry the index does not list") {
    write_text(work / "extra/sources/bookworm/pool/main/evil.deb", "not in any lock\n");
    sh("tar -rf " + shell_quote(bundle) + " -C " + shell_quote(work / "extra") +
       " sources/bookworm/pool/main/evil.deb");
    r = import_into(store, recipe, bundle);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("entry 'sources/bookworm/pool/main/evil.deb'") != std::string::npos);
    CHECK(r.err.find("is not in the index") != std::string::npos);
    // The locked entries before it were verified and stored; the stranger was not.
    CHECK(blob_count(store) == 3 + metadata.size());
  }
  SECTION("an entry twice") {
    fs::create_directories(work / "extra/sources/bookworm/pool/main");
    fs::copy_file(repo.deb("libdemo1_1.2-1_amd64.deb"), work / ("extra/" + lib_entry));
    sh("tar -rf " + shell_quote(bundle) + " -C " + shell_quote(work / "extra") + " " + lib_entry);
    r = import_into(store, recipe, bundle);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("entry '" + lib_entry + "'") != std::string::npos);
    CHECK(r.err.find("appears twice") != std::string::npos);
  }
  SECTION("a bundle made from another lock") {
    repo.recipe(work / "app", "demo", "[demo-hello]", "another greeting\n");
    REQUIRE(run_mrforge_cli({"lock", recipe}).exit_code == 0);
    r = import_into(store, recipe, bundle);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("was made from another lock of demo.yaml") != std::string::npos);
    CHECK(r.err.find(sha256sum_of(recipe + ".lock")) != std::string::npos);
    CHECK(blob_count(store) == 0);
  }
  SECTION("a local file that differs from the lock") {
    write_text(work / "app/greeting.txt", "edited after locking\n");
    r = import_into(store, recipe, bundle);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("greeting.txt") != std::string::npos);
    CHECK(blob_count(store) == 0);
  }
  SECTION("a bundle for another recipe") {
    std::string other = repo.recipe(work / "other", "other", "[libdemo1]");
    REQUIRE(run_mrforge_cli({"lock", other}).exit_code == 0);
    r = import_into(store, other, bundle);
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("holds no inputs for other.yaml") != std::string::npos);
  }
  SECTION("not a tar, a directory, a FIFO, nothing") {
    sh("gzip -c " + shell_quote(bundle) + " > " + shell_quote(work / "b.tar.gz"));
    r = import_into(store, recipe, work / "b.tar.gz");
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("damaged or truncated at its start") != std::string::npos);
    r = import_into(store, recipe, work / "app");
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("is a directory") != std::string::npos);
    REQUIRE(::mkfifo((work / "fifo").c_str(), 0600) == 0);
    r = import_into(store, recipe, work / "fifo");
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("not a regular file") != std::string::npos);
    r = import_into(store, recipe, work / "missing.tar");
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("missing.tar") != std::string::npos);
    // Export refuses a directory or a FIFO as its output, and leaves them alone.
    r = run_mrforge_cli({"fetch", "--store", work / "store-a", recipe, "--export", work / "fifo"});
    CHECK(r.exit_code == 2);
    CHECK(r.err.find("not a regular file") != std::string::npos);
    CHECK(fs::is_fifo(work / "fifo"));
    CHECK(blob_count(store) == 0);
    CHECK(run_mrforge_cli({"fetch", "--store", store, recipe, "--import", bundle, "--export", work / "x"}).exit_code ==
          1);
  }
  check_store_verified(store);
}

TEST_CASE("A bundle cut at any point is refused or complete, and the store holds only verified blobs",
          "[bundle][repo]") {
  Exported ex("bundle-cut");
  const Repo &repo = ex.repo;
  const TempDir &work = ex.work;
  const std::string &recipe = ex.recipe;
  std::string bytes = read_text(ex.bundle);
  builder::Recipe r = builder::load_recipe(recipe);
  builder::Lock lock = builder::read_lock(builder::lock_path_for(recipe));
  builder::BundlePlan plan = builder::plan_bundle({builder::bundle_recipe("demo.yaml", "demo.yaml", r, lock)});
  const size_t stored = 3 + 1 + lock.sources.at(0).indexes.size();
  // A lock made before the InRelease size was recorded cannot be bundled: re-lock.
  builder::Lock old = lock;
  old.sources.at(0).inrelease_size = 0;
  CHECK_THROWS_WITH(builder::plan_bundle({builder::bundle_recipe("demo.yaml", "demo.yaml", r, old)}),
                    Catch::Contains("source bookworm: the lock records no InRelease size") &&
                        Catch::Contains("re-lock with `mrforge lock`"));
  // The end of the last entry's data: a cut after it loses only the end-of-archive blocks.
  std::string last = read_text(repo.deb("libdemo1_1.2-1_amd64.deb"));
  size_t complete = bytes.find(last) + last.size();
  size_t refused = 0;
  for (size_t cut = 0; cut < bytes.size(); cut += 257) {
    INFO("cut at " << cut);
    std::string store = work / ("store-" + std::to_string(cut));
    write_text(work / "cut.tar", bytes.substr(0, cut));
    builder::Store s(store);
    // Cut before the end of the last entry's data: refused. After it only padding and the
    // end-of-archive blocks are lost: refused (libarchive reads an entry with its padding) or
    // complete. Either way the store holds only verified blobs.
    try {
      builder::BundleReport report = builder::import_bundle(plan, s, work / "cut.tar", {});
      CHECK(cut >= complete);
      CHECK(report.stored == stored);
    } catch (const InputError &e) {
      CHECK(std::string(e.what()).find(work / "cut.tar") != std::string::npos);
      ++refused;
    }
    check_store_verified(store);
    fs::remove_all(store);
  }
  CHECK(refused > 10);
}

TEST_CASE("A DstackApp bundle holds each service's inputs once, and the app builds offline from it", "[bundle][repo]") {
  Repo repo;
  TempDir work("bundle-app");
  repo.recipe(work / "app/web", "web", "[demo-hello]", "web says hello\n");
  repo.recipe(work / "app/worker", "worker", "[libdemo1]", "worker says hello\n");
  write_text(work / "app/compose.yaml", "services:\n  web:\n    image: demo/web:1.0\n  worker:\n"
                                        "    image: demo/worker:1.0\n");
  std::string app = work / "app/app.yaml";
  write_text(app, "apiVersion: mrforge/v1\nkind: DstackApp\nname: bundled\ncompose: compose.yaml\n"
                  "services:\n  web: {recipe: web/web.yaml}\n  worker: {recipe: worker/worker.yaml}\n"
                  "key_provider: none\n");
  ShellResult r = run_mrforge_cli({"lock", app});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  r = run_mrforge_cli({"fetch", "--json", "--store", work / "store-a", app, "--export", work / "app.tar"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  nlohmann::json j = nlohmann::json::parse(r.out);
  CHECK(j["app"] == "bundled");
  CHECK(j["services"].size() == 2);
  // Three packages (libdemo1 once), the InRelease and indexes (both services were locked against
  // the same InRelease: once), and two greetings.
  const std::vector<std::string> metadata =
      metadata_entries(nlohmann::json::parse(read_text(work / "app/web/web.yaml.lock")));
  CHECK(metadata == metadata_entries(nlohmann::json::parse(read_text(work / "app/worker/worker.yaml.lock"))));
  CHECK(j["bundle"]["entries"] == 5 + metadata.size());

  nlohmann::json index = nlohmann::json::parse(sh("tar -xOf " + shell_quote(work / "app.tar") + " index.json"));
  REQUIRE(index["recipes"].size() == 2);
  CHECK(index["recipes"][0]["id"] == "web");
  CHECK(index["recipes"][0]["recipe"] == "web/web.yaml");
  CHECK(index["recipes"][0]["lock_sha256"] == sha256sum_of(work / "app/web/web.yaml.lock"));
  CHECK(index["recipes"][1]["id"] == "worker");
  std::map<std::string, nlohmann::json> entries;
  for (const auto &e : index["entries"]) entries[e["name"]] = e["recipes"];
  CHECK(entries["sources/bookworm/pool/main/libdemo1_1.2-1_amd64.deb"] == nlohmann::json{"web", "worker"});
  CHECK(entries["sources/bookworm/pool/main/demo-data_2.0-1_all.deb"] == nlohmann::json{"web"});
  CHECK(entries["files/web/greeting.txt"] == nlohmann::json{"web"});
  CHECK(entries["files/worker/greeting.txt"] == nlohmann::json{"worker"});
  for (const std::string &m : metadata) CHECK(entries[m] == nlohmann::json{"web", "worker"});

  r = run_mrforge_cli({"build", "--offline", "--store", work / "store-a", app, "-o", work / "out-a"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  repo.repo.reset();
  r = run_mrforge_cli({"fetch", "--json", "--store", work / "store-b", app, "--import", work / "app.tar"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["bundle"]["stored"] == 3 + metadata.size());
  check_store_verified(work / "store-b");
  // One service's recipe alone is not what the app's bundle holds.
  r = run_mrforge_cli({"fetch", "--store", work / "store-c", work / "app/web/web.yaml", "--import", work / "app.tar"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("holds no inputs for web.yaml") != std::string::npos);
  r = run_mrforge_cli({"build", "--offline", "--store", work / "store-b", app, "-o", work / "out-b"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(file_digests(work / "out-b") == file_digests(work / "out-a"));
  r = run_mrforge_cli({"rebuild", app, "--against", work / "out-a", "--bundle", work / "app.tar", "--json"});
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["identical"] == true);
}

TEST_CASE("A GuestImage's kernel package travels in the bundle under kernel/ and returns to the store", "[bundle]") {
  TempDir work("bundle-kernel");
  // A lock as a GuestImage recipe's: a package, the kernel .deb of its pin and a local file, with
  // the blobs in a store (their bytes stand in for real packages: only digests matter here).
  write_text(work / "recipe/init", "#!/bin/sh\nexec /bin/sh\n");
  write_text(work / "package.deb", "package bytes\n");
  write_text(work / "kernel.deb", std::string(40000, 'k'));
  builder::Store store(work / "store-a");
  builder::Lock lock;
  lock.recipe_name = "guest";
  lock.packages.push_back({"busybox-static",
                           "1:1.35.0-4",
                           "amd64",
                           14,
                           sha256sum_of(work / "package.deb"),
                           "pool/main/b/busybox/busybox-static_1.35.0-4_amd64.deb",
                           "bookworm/main",
                           "requested",
                           {"initramfs"}});
  builder::LockedKernel kernel;
  kernel.package = "linux-image-6.12";
  kernel.version = "6.12.117-1";
  kernel.architecture = "amd64";
  kernel.filename = "pool/updates/main/l/linux-signed/linux-image-6.12_6.12.117-1_amd64.deb";
  kernel.size = 40000;
  kernel.sha256 = sha256sum_of(work / "kernel.deb");
  lock.kernel = kernel;
  lock.files.push_back({"init", sha256sum_of(work / "recipe/init"), fs::file_size(work / "recipe/init")});
  store.add_file(work / "package.deb", lock.packages[0].sha256, 14, "package");
  store.add_file(work / "kernel.deb", kernel.sha256, kernel.size, "kernel");
  write_text(work / "recipe/guest.yaml.lock", "{}\n"); // the lock file whose sha256 the index records
  builder::BundleRecipe r;
  r.id = r.recipe = "guest.yaml";
  r.recipe_dir = work / "recipe";
  r.lock_path = work / "recipe/guest.yaml.lock";
  r.lock_sha256 = sha256sum_of(r.lock_path);
  r.lock = lock;
  builder::BundlePlan plan = builder::plan_bundle({r});
  REQUIRE(plan.entries.size() == 3);
  const builder::BundleEntry &k = plan.entries.at("kernel/" + kernel.filename);
  CHECK(k.kind == builder::BundleEntryKind::kernel);
  CHECK(k.what == "kernel linux-image-6.12 6.12.117-1 (amd64)");
  CHECK(plan.entries.count("files/guest.yaml/init") == 1);

  builder::BundleReport out = builder::export_bundle(plan, store, work / "guest.tar", {});
  CHECK(out.entries == 3);
  CHECK(out.sha256 == sha256sum_of(work / "guest.tar"));
  CHECK(sh("tar -xOf " + shell_quote(work / "guest.tar") + " " + shell_quote("kernel/" + kernel.filename)) ==
        std::string(40000, 'k'));
  builder::Store fresh(work / "store-b");
  builder::BundleReport in = builder::import_bundle(plan, fresh, work / "guest.tar", {});
  CHECK(in.stored == 2);
  CHECK(in.files_checked == 1);
  CHECK(fresh.contains(kernel.sha256));
  check_store_verified(work / "store-b");

  // Exporting again gives the same bytes; a store whose kernel copy rotted gives none.
  builder::export_bundle(plan, store, work / "again.tar", {});
  CHECK(read_text(work / "again.tar") == read_text(work / "guest.tar"));
  std::string blob = store.path_of(kernel.sha256);
  fs::permissions(blob, fs::perms::owner_write, fs::perm_options::add);
  write_text(blob, std::string(39999, 'k') + "K");
  CHECK_THROWS_WITH(builder::export_bundle(plan, store, work / "guest.tar", {}),
                    Catch::Contains("kernel linux-image-6.12 6.12.117-1 (amd64)") &&
                        Catch::Contains("delete it from the store and run `mrforge fetch` again"));
  CHECK(read_text(work / "again.tar") == read_text(work / "guest.tar")); // the old bundle is intact
}

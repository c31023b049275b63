// Several Debian sources per recipe (resolved together, as apt does) and locks that outlive their
// mirror: each source's InRelease date is recorded, and `fetch` finds the locked InRelease and the
// .debs in a snapshot-shaped archive (tests/support/snapshot_server.py, redirecting as
// snapshot.debian.org does) when the mirror has moved on or its Valid-Until has passed. Real signed
// repositories on loopback (AptRepo), nothing mocked.
#include "support/apt_repo.hpp"
#include "support/script_server.hpp"
#include "test_support.hpp"

#include <builder/debian/repository.hpp>
#include <builder/debian/snapshot.hpp>
#include <builder/recipe/inputs.hpp>
#include <builder/recipe/lock.hpp>
#include <builder/system/store.hpp>
#include <builder/system/subprocess.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <thread>

namespace fs = std::filesystem;
using namespace mrforge;
using namespace mrforge::builder;
using namespace mrforge::test;

namespace {

DebSpec deb(const std::string &name, const std::string &version, const std::string &depends = "") {
  DebSpec s;
  s.name = name;
  s.version = version;
  s.depends = depends;
  s.files = {{"usr/share/doc/" + name + "/version", version + "\n", 0644}};
  return s;
}

std::string pool_file(const std::string &name, const std::string &version) {
  return "pool/main/" + name + "_" + version + "_amd64.deb";
}

// The recipe text's debian section for these sources (YAML flow mappings).
std::string recipe_with(const std::string &folder, const std::string &debian, const std::string &packages) {
  std::string path = folder + "/r.yaml";
  write_text(path, "apiVersion: mrforge/v1\nkind: OciImage\nname: demo\nsource_date_epoch: 1700000000\n"
                   "debian:\n" +
                       debian + "packages: " + packages + "\n");
  return path;
}

std::string source_entry(const std::string &suite, const AptRepo &repo, const std::string &url,
                         const std::string &extra = "") {
  return "    - {suite: " + suite + ", mirror: \"" + url + "\", keyring: " + repo.keyring() + extra + "}\n";
}

const LockedPackage &package(const Lock &lock, const std::string &name) {
  for (const auto &p : lock.packages)
    if (p.name == name) return p;
  FAIL("no package " << name << " in the lock");
  throw std::logic_error("unreachable");
}

// tests/support/snapshot_server.py serving `root` on a free loopback port.
struct SnapshotServer : ScriptServer {
  explicit SnapshotServer(const std::string &root) : ScriptServer("tests/support/snapshot_server.py", {root}) {}
};

// Copies the repository as it is now into ROOT/archive/ARCHIVE/TIME (dists and pool).
void take_snapshot(const AptRepo &repo, const std::string &root, const std::string &archive, const std::string &time) {
  std::string dest = root + "/archive/" + archive + "/" + time;
  fs::create_directories(dest);
  for (const char *part : {"dists", "pool"})
    fs::copy(repo.dir() + "/" + part, dest + "/" + part, fs::copy_options::recursive);
}

std::string other_dir_path(const TempDir &dir) { return dir / "cli-store-2"; }

} // namespace

TEST_CASE("Two sources resolve together as apt does: highest priority, then highest version", "[sources][lock]") {
  TempDir dir("sources");
  AptRepo base(dir / "base");
  base.build_deb(deb("libgreet1", "1.0-1"));
  base.build_deb(deb("greet", "1.0-1", "libgreet1 (>= 1.0)"));
  base.build_deb(deb("tool", "2.0-1"));
  base.publish("bookworm");
  AptRepo security(dir / "security");
  security.build_deb(deb("greet", "1.0-1+deb12u1", "libgreet1 (>= 1.0)"));
  security.build_deb(deb("tool", "1.5-1")); // older than bookworm's: not the candidate at equal priority
  security.publish("bookworm-security");
  const std::string base_url = base.serve(), security_url = security.serve();

  std::string debian = "  suite: bookworm\n  sources:\n" + source_entry("bookworm", base, base_url) +
                       source_entry("bookworm-security", security, security_url);
  Recipe recipe = load_recipe(recipe_with(dir.path(), debian, "[greet, tool]"));
  Fetcher fetcher;
  Lock lock = lock_recipe(recipe, fetcher, {}, {});
  REQUIRE(lock.packages.size() == 3);
  CHECK(package(lock, "greet").version == "1.0-1+deb12u1");
  CHECK(package(lock, "greet").source == "bookworm-security/main");
  CHECK(package(lock, "greet").filename == pool_file("greet", "1.0-1+deb12u1"));
  CHECK(package(lock, "libgreet1").source == "bookworm/main");
  CHECK(package(lock, "tool").version == "2.0-1");
  CHECK(package(lock, "tool").source == "bookworm/main");
  REQUIRE(lock.sources.size() == 2);
  CHECK(lock.sources[0].suite == "bookworm");
  CHECK(lock.sources[1].suite == "bookworm-security");
  CHECK(lock.sources[1].inrelease_size == fs::file_size(security.dir() + "/dists/bookworm-security/InRelease"));
  CHECK(debian::is_snapshot_time(lock.sources[0].date));
  CHECK(lock.sources[0].archive.empty()); // a mirror URL without a path names no archive

  // The lock round-trips, and the recipe's source list is what it records.
  std::string text = lock_to_json(lock);
  CHECK(lock_to_json(parse_lock(text, "r.yaml.lock")) == text);
  CHECK(lock_differences(recipe, parse_lock(text, "r.yaml.lock")).empty());

  SECTION("each package is fetched from its own source's mirror") {
    TempDir store_dir("store");
    Store store(store_dir.path());
    FetchOptions options;
    options.snapshot_service.clear();
    options.repository_metadata = true;
    FetchReport report = fetch_inputs(lock, recipe, store, fetcher, options, {});
    CHECK(report.downloaded == 3);
    CHECK(report.from_snapshot == 0);
    REQUIRE(report.sources.size() == 2);
    CHECK(report.sources[0] == "bookworm: from " + base_url);
    CHECK(report.sources[1] == "bookworm-security: from " + security_url);
    CHECK(store.contains(lock.sources[1].inrelease_sha256));
    for (const auto &source : lock.sources)
      for (const auto &index : source.indexes) CHECK(store.contains(index.sha256));
    CHECK(store.contains(package(lock, "greet").sha256));
  }

  SECTION("a lower priority keeps a source's newer versions from being candidates") {
    std::string pinned = "  suite: bookworm\n  sources:\n" + source_entry("bookworm", base, base_url) +
                         source_entry("bookworm-security", security, security_url, ", priority: 100");
    Recipe low = load_recipe(recipe_with(dir.path(), pinned, "[greet, tool]"));
    Lock l = lock_recipe(low, fetcher, {}, {});
    CHECK(package(l, "greet").version == "1.0-1");
    CHECK(package(l, "greet").source == "bookworm/main");
    // The recipe's change of priority makes the first lock stale, naming the field.
    std::vector<std::string> diff = lock_differences(low, lock);
    REQUIRE(diff.size() == 1);
    CHECK(diff[0] == "debian.sources[1].priority: the recipe says 100, the lock 500");
  }
}

TEST_CASE("A recipe's sources are checked: suites of the release, once each, priorities in range",
          "[sources][recipe]") {
  TempDir dir("sources-recipe");
  auto error_of = [&](const std::string &debian) {
    return error_message([&] { load_recipe(recipe_with(dir.path(), debian, "[hello]")); });
  };
  CHECK_THAT(error_of("  suite: bookworm\n  sources:\n    - {suite: trixie-security}\n"),
             Catch::Contains("r.yaml:8:") &&
                 Catch::Contains("'trixie-security' is not a suite of the release bookworm"));
  CHECK_THAT(error_of("  suite: bookworm\n  sources:\n    - {suite: bookworm}\n    - {suite: bookworm}\n"),
             Catch::Contains("suite bookworm is listed twice"));
  CHECK_THAT(error_of("  suite: bookworm\n  sources:\n    - {suite: bookworm, priority: 0}\n"),
             Catch::Contains("expected an apt pin priority from 1 to 1000"));
  CHECK_THAT(error_of("  suite: bookworm\n  mirror: http://deb.debian.org/debian\n  sources:\n"
                      "    - {suite: bookworm}\n"),
             Catch::Contains("mirror"));
  CHECK_THAT(error_of("  suite: bookworm\n  sources: []\n"), Catch::Contains("expected at least one source"));
}

TEST_CASE("fetch finds a lock's InRelease and .debs in the snapshot archive once the mirror has moved on",
          "[sources][snapshot][fetch]") {
  TempDir dir("snapshot");
  AptRepo repo(dir / "mirror");
  repo.build_deb(deb("greet", "1.0-1"));
  // Dated in the past, as every real InRelease is when a snapshot of it is needed; valid for a day
  // from now, so that locking it works.
  repo.publish("bookworm", "main", {"Date=Thu, 03 Dec 2026 10:00:00 UTC", "ValidTime=86400"});
  const std::string url = repo.serve();
  Recipe recipe = load_recipe(recipe_with(
      dir.path(), "  suite: bookworm\n  sources:\n" + source_entry("bookworm", repo, url, ", snapshot_archive: debian"),
      "[greet]"));
  Fetcher fetcher;
  Lock lock = lock_recipe(recipe, fetcher, {}, {});
  REQUIRE(lock.sources.size() == 1);
  CHECK(lock.sources[0].date == "20261203T100000Z");
  CHECK(lock.sources[0].archive == "debian");

  // The snapshot service imported that state two hours after the Date, and has an older one.
  const std::string root = dir / "snapshots";
  take_snapshot(repo, root, "debian", "20261203T120000Z");
  SnapshotServer snapshots(root);

  SECTION("an expired Valid-Until is refused from the mirror and accepted from the snapshot of the recorded time") {
    int64_t later = debian::parse_snapshot_time("20270301T000000Z", "test");
    debian::AptSource source{url, "bookworm", {"main"}, "amd64", repo.keyring()};
    debian::LoadOptions load;
    load.now = later;
    CHECK_THROWS_AS(debian::load_repository_index(source, fetcher, {}, load), debian::UnusableReleaseError);

    TempDir store_dir("store");
    Store store(store_dir.path());
    FetchOptions options;
    options.snapshot_service = snapshots.url();
    options.repository_metadata = true;
    options.now = later;
    FetchReport report = fetch_inputs(lock, recipe, store, fetcher, options, {});
    REQUIRE(report.sources.size() == 1);
    // Probed at the Date (nothing before it), + 1 h (nothing), + 3 h: redirected to 12:00.
    CHECK(report.sources[0] == "bookworm: from " + snapshots.url() + "/archive/debian/20261203T130000Z");
    CHECK(store.contains(lock.sources[0].inrelease_sha256));
    CHECK(report.downloaded == 1); // the .deb is still on the mirror
    CHECK(report.from_snapshot == 0);
  }

  SECTION("the mirror has moved on: new InRelease, the locked .deb removed") {
    fs::remove(repo.dir() + "/" + pool_file("greet", "1.0-1"));
    repo.build_deb(deb("greet", "1.1-1"));
    repo.publish("bookworm", "main", {"Date=Fri, 04 Dec 2026 10:00:00 UTC", "ValidTime=86400"});
    take_snapshot(repo, root, "debian", "20261204T120000Z"); // a later snapshot, with the new state

    TempDir store_dir("store");
    Store store(store_dir.path());
    FetchOptions options;
    options.snapshot_service = snapshots.url();
    options.repository_metadata = true;
    std::vector<std::string> lines;
    FetchReport report =
        fetch_inputs(lock, recipe, store, fetcher, options, [&](const std::string &l) { lines.push_back(l); });
    CHECK(report.from_snapshot == 1);
    CHECK(report.downloaded == 1);
    CHECK(report.sources.at(0) == "bookworm: from " + snapshots.url() + "/archive/debian/20261203T130000Z");
    CHECK(store.contains(package(lock, "greet").sha256));
    for (const auto &index : lock.sources[0].indexes) CHECK(store.contains(index.sha256));

    // The same through the command line, into another store, with the lock beside the recipe.
    write_text(recipe.path + ".lock", lock_to_json(lock));
    TempDir cli_store("store");
    ShellResult r = run_mrforge_cli(
        {"fetch", "--frozen", "--json", "--store", cli_store.path(), "--snapshot", snapshots.url(), recipe.path});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    nlohmann::json j = nlohmann::json::parse(r.out);
    CHECK(j["from_snapshot"] == 1);
    CHECK(j["sources"] ==
          nlohmann::json::array({"bookworm: from " + snapshots.url() + "/archive/debian/20261203T130000Z"}));
    r = run_mrforge_cli({"fetch", "--frozen", "--store", (other_dir_path(dir)), "--no-snapshot", recipe.path});
    CHECK(r.exit_code == 2);
    CHECK_THAT(r.err, Catch::Contains("no snapshot service was given"));

    // Without the snapshot service, the error says what was tried and how to supply the file.
    TempDir other_dir("store");
    Store other(other_dir.path());
    options.snapshot_service.clear();
    options.repository_metadata = false;
    std::string message = error_message([&] { fetch_inputs(lock, recipe, other, fetcher, options, {}); });
    CHECK_THAT(message, Catch::Contains("package greet 1.0-1 (amd64)") &&
                            Catch::Contains(url + "/" + pool_file("greet", "1.0-1") + " (not found)") &&
                            Catch::Contains("snapshot archive was not asked: no snapshot service was given") &&
                            Catch::Contains("mrforge fetch --import BUNDLE"));
    CHECK(!other.contains(package(lock, "greet").sha256));
  }

  SECTION("a snapshot service that never had the locked InRelease is an error naming each time asked") {
    const std::string empty_root = dir / "other-snapshots";
    repo.publish("bookworm", "main", {"Date=Fri, 04 Dec 2026 10:00:00 UTC", "ValidTime=86400"});
    take_snapshot(repo, empty_root, "debian", "20261201T000000Z"); // another InRelease, before the Date
    SnapshotServer wrong(empty_root);
    TempDir store_dir("store");
    Store store(store_dir.path());
    FetchOptions options;
    options.snapshot_service = wrong.url();
    options.repository_metadata = true;
    std::string message = error_message([&] { fetch_inputs(lock, recipe, store, fetcher, options, {}); });
    CHECK_THAT(message, Catch::Contains("InRelease of bookworm (sha256 " + lock.sources[0].inrelease_sha256) &&
                            Catch::Contains("is another one than the lock's") &&
                            Catch::Contains("/archive/debian/20261203T100000Z: another InRelease") &&
                            Catch::Contains("/archive/debian/20261205T100000Z: another InRelease") &&
                            Catch::Contains("mrforge fetch --import BUNDLE"));
    CHECK(!store.contains(lock.sources[0].inrelease_sha256));
  }
}

TEST_CASE("Snapshot times: format, probes after a Date, archive names of mirrors", "[sources][snapshot]") {
  CHECK(debian::snapshot_time(0) == "19700101T000000Z");
  int64_t t = debian::parse_snapshot_time("20261203T100000Z", "t");
  CHECK(debian::snapshot_time(t) == "20261203T100000Z");
  CHECK(debian::parse_release_date("Thu, 03 Dec 2026 10:00:00 UTC", "d") == t);
  CHECK_THROWS_AS(debian::parse_snapshot_time("20261303T100000Z", "t"), InputError);
  CHECK_THROWS_AS(debian::parse_snapshot_time("2026-12-03", "t"), InputError);
  CHECK(debian::snapshot_probe_times(t) ==
        std::vector<std::string>{"20261203T100000Z", "20261203T110000Z", "20261203T130000Z", "20261203T160000Z",
                                 "20261203T220000Z", "20261204T100000Z", "20261205T100000Z"});
  CHECK(debian::archive_of_mirror("http://deb.debian.org/debian") == "debian");
  CHECK(debian::archive_of_mirror("http://deb.debian.org/debian-security/") == "debian-security");
  CHECK(debian::archive_of_mirror("http://127.0.0.1:8080").empty());
  CHECK(debian::snapshot_base("https://snapshot.debian.org/", "debian", "20261203T100000Z") ==
        "https://snapshot.debian.org/archive/debian/20261203T100000Z");
}

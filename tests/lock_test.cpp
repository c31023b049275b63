// Lock files: deterministic bytes, strict reading, and staleness named entry by entry.
#include "test_support.hpp"

#include <builder/recipe/lock.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

using namespace mrforge;
using namespace mrforge::builder;
using namespace mrforge::test;

namespace {

Lock sample_lock() {
  Lock lock;
  lock.recipe_name = "demo";
  lock.requested = {"hello"};
  lock.has_debian = true;
  lock.debian.suite = "bookworm";
  lock.debian.sources.push_back(DebianSource{});
  lock.debian.sources.back().suite = "bookworm";
  LockedSource s;
  s.suite = "bookworm";
  s.components = {"main"};
  s.architecture = "amd64";
  s.inrelease_sha256 = std::string(64, 'a');
  s.indexes.push_back({"main/binary-amd64/Packages.xz", std::string(64, 'b'), 1234});
  lock.sources.push_back(s);
  lock.packages.push_back({"hello", "1.0-1", "amd64", 4096, std::string(64, 'c'),
                           "pool/main/h/hello/hello_1.0-1_amd64.deb", "bookworm/main", "requested"});
  lock.files.push_back({"hello.sh", std::string(64, 'd'), 10});
  return lock;
}

} // namespace

TEST_CASE("A lock is written with sorted keys and reads back to the same bytes", "[lock]") {
  Lock lock = sample_lock();
  std::string text = lock_to_json(lock);
  CHECK(text.back() == '\n');
  CHECK(text.find("\"files\"") < text.find("\"lockVersion\""));
  Lock again = parse_lock(text, "x.lock");
  CHECK(lock_to_json(again) == text);
  CHECK(again.packages.at(0).filename == "pool/main/h/hello/hello_1.0-1_amd64.deb");
  CHECK(again.sources.at(0).indexes.at(0).size == 1234);
}

TEST_CASE("Malformed locks are refused naming the file and the field", "[lock]") {
  std::string text = lock_to_json(sample_lock());
  CHECK_THROWS_WITH(parse_lock("{\n  \"lockVersion\": 1,\n  oops\n}", "x.lock"),
                    Catch::Contains("x.lock:3:3: not valid JSON"));
  std::string bad = text;
  bad.replace(bad.find(std::string(64, 'c')), 64, "not-a-digest");
  CHECK_THROWS_WITH(parse_lock(bad, "x.lock"), Catch::Contains("packages[0].sha256: expected a lowercase sha256"));
  bad = text;
  bad.replace(bad.find("pool/main"), 9, "../../etc");
  CHECK_THROWS_WITH(parse_lock(bad, "x.lock"), Catch::Contains("packages[0].filename"));
  bad = text;
  bad.replace(bad.find("\"lockVersion\": 1"), 16, "\"lockVersion\": 9");
  CHECK_THROWS_WITH(parse_lock(bad, "x.lock"), Catch::Contains("lock version 1"));
}

TEST_CASE("A stale lock is explained entry by entry", "[lock]") {
  TempDir dir("lock");
  write_text(dir / "hello.sh", "echo hi\n");
  write_text(dir / "r.yaml", "apiVersion: mrforge/v1\nkind: OciImage\nname: demo\n"
                             "debian: {suite: bookworm}\npackages: [hello, curl]\n"
                             "files: [{source: hello.sh, target: /hello}]\n");
  Recipe recipe = load_recipe(dir / "r.yaml");
  Lock lock = sample_lock();
  lock.files = digest_recipe_files(recipe);
  std::vector<std::string> diff = lock_differences(recipe, lock);
  REQUIRE(diff.size() == 1);
  CHECK(diff[0].find("package curl: in the recipe (") != std::string::npos);
  CHECK(diff[0].find("r.yaml:5:19), not in the lock") != std::string::npos);

  write_text(dir / "hello.sh", "echo changed\n");
  lock.requested = {"curl", "hello"};
  diff = lock_differences(recipe, lock);
  REQUIRE(diff.size() == 1);
  CHECK(diff[0].find("file hello.sh: content changed (lock sha256 ") != std::string::npos);
  CHECK_FALSE(packages_differ(recipe, lock));

  lock.debian.suite = "trixie";
  diff = lock_differences(recipe, lock);
  CHECK(diff.at(0) == "debian.suite: the recipe says bookworm, the lock trixie");
}

TEST_CASE("An OciImage lock has no package sets and keeps its bytes", "[lock]") {
  std::string path = test::source_path("examples/oci/hello.yaml.lock");
  std::string text = test::read_text(path);
  Lock lock = parse_lock(text, path);
  CHECK(lock_to_json(lock) == text);
  CHECK_FALSE(lock_has_sets(lock));
  CHECK_FALSE(lock.kernel);
  CHECK(text.find("\"sets\"") == std::string::npos);
  CHECK(packages_in_set(lock, "rootfs").size() == lock.packages.size());
  CHECK(lock_differences(load_recipe(test::source_path("examples/oci/hello.yaml")), lock).empty());
}

TEST_CASE("Package sets in a lock are checked against the sets its recipe part names", "[lock]") {
  Lock lock = sample_lock();
  lock.requested_sets = {{"firmware", {}}, {"initramfs", {"busybox-static"}}, {"rootfs", {"hello"}}};
  lock.packages[0].sets = {"initramfs", "rootfs"};
  std::string text = lock_to_json(lock);
  Lock again = parse_lock(text, "x.lock");
  CHECK(lock_to_json(again) == text);
  CHECK(again.packages[0].sets == std::vector<std::string>{"initramfs", "rootfs"});
  CHECK(packages_in_set(again, "firmware").empty());
  CHECK(packages_in_set(again, "initramfs").size() == 1);

  std::string bad = text;
  bad.replace(bad.find("\"initramfs\",\n        \"rootfs\""), 29, "\"rootfs\",\n        \"initramfs\"");
  CHECK_THROWS_WITH(parse_lock(bad, "x.lock"), Catch::Contains("packages[0].sets: expected sorted set names"));
  lock.packages[0].sets.clear();
  CHECK_THROWS_WITH(parse_lock(lock_to_json(lock), "x.lock"), Catch::Contains("packages[0]: names no set"));
  lock.requested_sets.erase("firmware");
  CHECK_THROWS_WITH(parse_lock(lock_to_json(lock), "x.lock"), Catch::Contains("recipe.sets: missing set 'firmware'"));
  lock.requested_sets.clear();
  lock.packages[0].sets = {"rootfs"};
  CHECK_THROWS_WITH(parse_lock(lock_to_json(lock), "x.lock"),
                    Catch::Contains("packages[0].sets: unknown package set 'rootfs'"));
}

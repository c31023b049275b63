// The step cache: hits only for the same key text, never for damaged entries (stat stamps vouch
// only for unchanged files), and nothing kept when disabled.
#include "test_support.hpp"

#include <builder/recipe/step_cache.hpp>
#include <builder/system/store.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <chrono>
#include <fcntl.h>
#include <filesystem>
#include <fstream>
#include <sys/stat.h>
#include <thread>

using namespace mrforge::builder;
using namespace mrforge::test;
namespace fs = std::filesystem;

namespace {

CachedEntry put(StepCache &cache, const StepKey &key, const std::string &content) {
  std::string dir = cache.begin(key);
  write_text(dir + "/out.bin", content);
  return cache.commit(key, dir, {"out.bin"});
}

} // namespace

TEST_CASE("The step cache returns an entry only for the same inputs and only while intact", "[step_cache]") {
  TempDir work("step-cache");
  Store store(work / "store");
  StepCache cache(store, true);
  StepKey key("rootfs");
  key.add("packages", "busybox=abc").add("epoch", "1");

  CHECK_FALSE(cache.lookup(key));
  CachedEntry made = put(cache, key, "image bytes");
  CHECK(made.files.at("out.bin").size == 11);
  CHECK(made.files.at("out.bin").sha256_hex ==
        digest_file(made.file("out.bin"), mrforge::limits::k_artifact).sha256_hex);

  auto hit = cache.lookup(key);
  REQUIRE(hit);
  CHECK(read_text(hit->file("out.bin")) == "image bytes");

  // Another input value, another name order, or a value with a newline: a different key.
  StepKey other("rootfs");
  other.add("packages", "busybox=abd").add("epoch", "1");
  CHECK_FALSE(cache.lookup(other));
  StepKey swapped("rootfs");
  swapped.add("epoch", "1").add("packages", "busybox=abc");
  CHECK(swapped.digest() != key.digest());
  StepKey a("s"), b("s");
  a.add("x", "1\ny=2");
  b.add("x", "1").add("y", "2");
  CHECK(a.digest() != b.digest());
  CHECK(StepKey("kernel").add("x", "1").digest() != StepKey("initramfs").add("x", "1").digest());

  // A damaged output (same size, other bytes) is not used, and the next commit replaces it.
  write_text(hit->file("out.bin"), "IMAGE bytes");
  CHECK_FALSE(cache.lookup(key));
  put(cache, key, "image bytes");
  REQUIRE(cache.lookup(key));
  CHECK(read_text(cache.lookup(key)->file("out.bin")) == "image bytes");

  // A missing output or an unreadable record is a miss too.
  fs::remove(cache.lookup(key)->file("out.bin"));
  CHECK_FALSE(cache.lookup(key));
  put(cache, key, "image bytes");
  write_text(cache.lookup(key)->dir + "/entry.json", "{not json");
  CHECK_FALSE(cache.lookup(key));
}

TEST_CASE("A disabled step cache never hits and keeps nothing under its steps", "[step_cache]") {
  TempDir work("step-cache-off");
  Store store(work / "store");
  StepCache on(store, true);
  StepKey key("firmware");
  key.add("package", "ovmf=123");
  put(on, key, "firmware");
  REQUIRE(on.lookup(key));

  StepCache off(store, false);
  CHECK_FALSE(off.lookup(key));
  CachedEntry e = put(off, key, "firmware");
  CHECK(read_text(e.file("out.bin")) == "firmware");
  CHECK(e.dir.find("/steps/firmware/") == std::string::npos); // not placed in the cache
}

TEST_CASE("The step cache trusts an output's stat stamp only while the file is unchanged", "[step_cache]") {
  TempDir work("step-cache-stamp");
  Store store(work / "store");
  StepCache cache(store, true);
  StepKey key("rootfs");
  key.add("packages", "python3=abc");
  CachedEntry made = put(cache, key, "image bytes");
  const std::string out = made.file("out.bin");

  // The record holds a stamp per output; one taken within 2 s of the file's last change does not
  // vouch for it, so the output is hashed again and restamped on a later lookup.
  auto stamp = [&] {
    nlohmann::json j = nlohmann::json::parse(read_text(made.dir + "/entry.json"));
    return j.at("outputs").at("out.bin").at("stat");
  };
  REQUIRE(stamp().is_array());
  std::this_thread::sleep_for(std::chrono::milliseconds(2100));
  REQUIRE(cache.lookup(key));
  const nlohmann::json vouching = stamp();
  CHECK(vouching[4].get<int64_t>() - vouching[3].get<int64_t>() > int64_t{2000000000});
  REQUIRE(cache.lookup(key));
  CHECK(stamp() == vouching); // trusted: not restamped

  // Rewritten in place with the same size, its modification time put back: the change time
  // still moves, so the stamp no longer vouches, the bytes are hashed, and the entry is refused.
  struct stat before {};
  REQUIRE(::stat(out.c_str(), &before) == 0);
  {
    std::fstream f(out, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(0);
    f.write("I", 1);
  }
  const struct timespec times[2] = {before.st_atim, before.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, out.c_str(), times, 0) == 0);
  struct stat after {};
  REQUIRE(::stat(out.c_str(), &after) == 0);
  CHECK(after.st_mtim.tv_sec == before.st_mtim.tv_sec);
  CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
  CHECK(after.st_size == before.st_size);
  CHECK_FALSE(cache.lookup(key));
}

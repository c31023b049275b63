// The step cache: hits only for the same key text, never for damaged entries, and nothing kept
// when disabled.
#include "test_support.hpp"

#include <builder/recipe/step_cache.hpp>
#include <builder/system/store.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

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

// Fuzz target for input bundle import (`mrforge fetch --import`): a tar read through libarchive,
// its index compared with a fixed lock's, each entry hashed into a store. Any input must either
// import or throw mrforge::Error, and afterwards every blob in the store must hold the bytes its
// name says and no temporary file may be left. The plan is fixed: one package and one local file
// (make_bundle_seeds.py writes the matching valid bundle and hostile variants of it); the seed
// corpus (tests/fuzz/corpus/bundle) also runs as an ordinary test.
#include <builder/bundle/input_bundle.hpp>
#include <builder/system/store.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

namespace {

std::string sha256_of(const std::string &s) { return mrforge::to_hex(mrforge::sha256(mrforge::ByteView::of(s))); }

// The plan make_bundle_seeds.py writes bundles for (keep the two in step).
mrforge::builder::BundlePlan fixed_plan() {
  const std::string package = "package bytes\n", motd = "hello\n";
  mrforge::builder::BundleRecipe r;
  r.id = "fuzz.yaml";
  r.recipe = "fuzz.yaml";
  r.recipe_dir = "/nonexistent";
  r.lock_path = "fuzz.yaml.lock";
  r.lock_sha256 = sha256_of("lock\n");
  r.lock.recipe_name = "fuzz";
  r.lock.packages.push_back(
      {"p", "1", "amd64", package.size(), sha256_of(package), "pool/main/p_1_amd64.deb", "bookworm/main", "requested"});
  r.lock.files.push_back({"motd", sha256_of(motd), motd.size()});
  return mrforge::builder::plan_bundle({r});
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  static const mrforge::builder::BundlePlan plan = fixed_plan();
  char dir[] = "/tmp/mrforge-fuzz-bundle-XXXXXX";
  if (::mkdtemp(dir) == nullptr) std::abort();
  std::string bundle = std::string(dir) + "/input.tar";
  if (FILE *f = std::fopen(bundle.c_str(), "wb")) {
    if (size > 0 && std::fwrite(data, 1, size, f) != size) std::abort();
    std::fclose(f);
  }
  std::string root = std::string(dir) + "/store";
  {
    mrforge::builder::Store store(root);
    try {
      (void)mrforge::builder::import_bundle(plan, store, bundle, {});
    } catch (const mrforge::Error &) {
    }
  }
  for (const auto &e : std::filesystem::directory_iterator(root + "/sha256"))
    if (mrforge::builder::digest_file(e.path().string(), mrforge::limits::k_artifact).sha256_hex !=
        e.path().filename().string())
      std::abort(); // an unverified blob was stored
  if (!std::filesystem::is_empty(root + "/tmp")) std::abort();
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return 0;
}

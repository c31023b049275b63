// verity.json: to_json writes exactly the bytes the hand-built JSON did (the step cache and
// mrforge-build.json keep them), and from_json reads every field back.
#include <builder/guest/verity_json.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace mrforge::builder;

namespace {

RootfsImageResult known_result() {
  RootfsImageResult r;
  r.verity.root_hash = "8f1c0a7d3e5b9f2a4c6e8d0b1a3f5e7c9d2b4a6c8e0f1d3b5a7c9e2f4d6b8a0c";
  r.verity.salt = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
  r.verity.uuid = "4a1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d";
  r.verity.hash_algorithm = "sha256";
  r.verity.data_block_size = 4096;
  r.verity.hash_block_size = 4096;
  r.verity.data_blocks = 102400;
  r.verity.hash_start_block = 102401;
  r.verity.data_size = 419430400;
  r.verity.image_size = 422879232;
  r.fs_uuid = "9b8a7c6d-5e4f-4321-9abc-def012345678";
  r.tools = "mkfs.erofs 1.5; veritysetup 2.6.1";
  return r;
}

} // namespace

TEST_CASE("verity.json: to_json gives the recorded text byte for byte, from_json reads it back", "[verity]") {
  const RootfsImageResult r = known_result();
  const nlohmann::ordered_json j = r;
  // The text verity.json held before to_json existed (a hand-built ordered_json, dump(2)).
  CHECK(j.dump(2) + "\n" == R"({
  "root_hash": "8f1c0a7d3e5b9f2a4c6e8d0b1a3f5e7c9d2b4a6c8e0f1d3b5a7c9e2f4d6b8a0c",
  "salt": "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
  "uuid": "4a1b2c3d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
  "hash_algorithm": "sha256",
  "data_block_size": 4096,
  "hash_block_size": 4096,
  "data_blocks": 102400,
  "hash_start_block": 102401,
  "data_size": 419430400,
  "image_size": 422879232,
  "fs_uuid": "9b8a7c6d-5e4f-4321-9abc-def012345678",
  "tools": "mkfs.erofs 1.5; veritysetup 2.6.1"
}
)");

  // Read back as guest_build does (a plain json parsed from the file's text).
  const VerityInfo back = nlohmann::json::parse(j.dump(2)).get<VerityInfo>();
  CHECK(back.root_hash == r.verity.root_hash);
  CHECK(back.salt == r.verity.salt);
  CHECK(back.uuid == r.verity.uuid);
  CHECK(back.hash_algorithm == r.verity.hash_algorithm);
  CHECK(back.data_block_size == r.verity.data_block_size);
  CHECK(back.hash_block_size == r.verity.hash_block_size);
  CHECK(back.data_blocks == r.verity.data_blocks);
  CHECK(back.hash_start_block == r.verity.hash_start_block);
  CHECK(back.data_size == r.verity.data_size);
  CHECK(back.image_size == r.verity.image_size);
  CHECK(back.dm_table("/dev/vda") == r.verity.dm_table("/dev/vda"));

  nlohmann::json missing = nlohmann::json::parse(j.dump());
  missing.erase("hash_start_block");
  CHECK_THROWS_AS(missing.get<VerityInfo>(), nlohmann::json::out_of_range);
}

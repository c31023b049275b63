// verity.json, the rootfs step's record of its dm-verity parameters, as nlohmann/json
// conversions: written with to_json (fields in this order, which the step cache and
// mrforge-build.json keep) and read back with from_json.
//
//   {"root_hash", "salt", "uuid", "hash_algorithm", "data_block_size", "hash_block_size",
//    "data_blocks", "hash_start_block", "data_size", "image_size", "fs_uuid", "tools"}
#pragma once

#include <builder/guest/rootfs_image.hpp>

#include <nlohmann/json.hpp>

namespace mrforge::builder {

// The ten VerityInfo fields, in the order above.
void to_json(nlohmann::ordered_json &j, const VerityInfo &v);
// The VerityInfo fields followed by "fs_uuid" and "tools": the whole of verity.json.
void to_json(nlohmann::ordered_json &j, const RootfsImageResult &r);
// Reads the ten VerityInfo fields (other members are ignored). Throws nlohmann::json::exception
// when one is missing or of the wrong type.
void from_json(const nlohmann::json &j, VerityInfo &v);

} // namespace mrforge::builder

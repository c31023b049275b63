#include <builder/guest/verity_json.hpp>

namespace mrforge::builder {

void to_json(nlohmann::ordered_json &j, const VerityInfo &v) {
  j = nlohmann::ordered_json{{"root_hash", v.root_hash},
                             {"salt", v.salt},
                             {"uuid", v.uuid},
                             {"hash_algorithm", v.hash_algorithm},
                             {"data_block_size", v.data_block_size},
                             {"hash_block_size", v.hash_block_size},
                             {"data_blocks", v.data_blocks},
                             {"hash_start_block", v.hash_start_block},
                             {"data_size", v.data_size},
                             {"image_size", v.image_size}};
}

void to_json(nlohmann::ordered_json &j, const RootfsImageResult &r) {
  to_json(j, r.verity);
  j["fs_uuid"] = r.fs_uuid;
  j["tools"] = r.tools;
}

void from_json(const nlohmann::json &j, VerityInfo &v) {
  j.at("root_hash").get_to(v.root_hash);
  j.at("salt").get_to(v.salt);
  j.at("uuid").get_to(v.uuid);
  j.at("hash_algorithm").get_to(v.hash_algorithm);
  j.at("data_block_size").get_to(v.data_block_size);
  j.at("hash_block_size").get_to(v.hash_block_size);
  j.at("data_blocks").get_to(v.data_blocks);
  j.at("hash_start_block").get_to(v.hash_start_block);
  j.at("data_size").get_to(v.data_size);
  j.at("image_size").get_to(v.image_size);
}

} // namespace mrforge::builder

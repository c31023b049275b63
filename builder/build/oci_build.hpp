// Building an OciImage recipe: assemble the file system from the locked inputs in the store
// (offline), write one deterministic layer per recipe layer, and produce the OCI image layout and
// docker-archive in an output directory that is replaced atomically, with the image's software
// bills of materials beside them (sbom.spdx.json, sbom.cdx.json: builder/sbom/; not in the image).
#pragma once

#include <builder/build/build_settings.hpp>
#include <builder/oci/oci_image.hpp>
#include <builder/recipe/inputs.hpp>
#include <builder/recipe/lock.hpp>
#include <builder/recipe/recipe.hpp>
#include <builder/system/output_dir.hpp>
#include <builder/system/store.hpp>

#include <nlohmann/json_fwd.hpp>

#include <string>

namespace mrforge::builder {

struct OciBuildResult {
  OciImageResult image;
  std::string out_dir;
  std::string ref_name;
  std::string lock_sha256;
  std::string compressor;
};

OciBuildResult build_oci(const Recipe &recipe, const Lock &lock, Store &store, const BuildSettings &settings);

// {"manifest_digest", "config_digest", "index_digest", "ref", "layers": [{"name", "digest",
// "diff_id", "size", "media_type"}], ...}: what `build --json` prints and the build record holds.
nlohmann::json oci_build_json(const OciBuildResult &result);

// An image pinned by manifest digest from a local OCI layout (oci_layout_import.hpp), written to
// settings.out_dir as an OciImage output is (replaced atomically). Its build record says where it
// came from: {"source": "oci-layout", "oci_layout": LAYOUT_AS_WRITTEN, "manifest_digest",
// "config_digest", "index_digest", "ref", "layers": [{"digest", "size", "media_type"}], "tool"}:
// no recipe, lock or timestamp. Throws what import_oci_layout throws.
OciBuildResult import_pinned_oci(const std::string &layout_dir, const std::string &layout_as_written,
                                 const std::string &manifest_digest, const std::string &ref,
                                 const BuildSettings &settings);

} // namespace mrforge::builder

// How to build a recipe, whatever its kind (GuestImage: guest_build.hpp, OciImage: oci_build.hpp).
// None of these settings changes an output byte except source_date_epoch.
#pragma once

#include <builder/recipe/inputs.hpp>

#include <cstdint>
#include <string>

namespace mrforge::builder {

struct BuildSettings {
  std::string out_dir;           // replaced all at once (output_dir.hpp)
  int64_t source_date_epoch = 0; // every timestamp in the output
  int threads = 1;               // compression threads: speed only, never bytes
  bool use_cache = true;         // GuestImage: false runs every step (build --no-cache); OciImage has no steps
  Progress progress;
};

} // namespace mrforge::builder

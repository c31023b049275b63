// Building a DstackApp recipe: each service's OciImage recipe is built (oci_build.hpp) into
// images/SERVICE/, or its pinned image copied there from its OCI layout after every blob is
// verified (import_pinned_oci), the compose file is pinned to the images' manifest digests, and the app's files
// are written. The output directory appears whole or not at all (output_dir.hpp):
//   app-compose.json      dstack's app-compose in the SDKs' normalized form (dstack_app.hpp); its
//                         sha256 is the compose hash the TD extends into RTMR3
//   docker-compose.yaml   the embedded compose file, byte for byte (for reading)
//   mrforge-app.json      compose_hash, app_id and per service the image, digest and recipe or
//                         OCI layout
//   images/SERVICE/       the service's OCI layout, docker-archive.tar and build record
//   mrforge-build.json    the build record (output_kind "dstack-app")
// The bytes depend only on the recipes, their locks and files, the pinned layouts' blobs, and
// SOURCE_DATE_EPOCH.
#pragma once

#include <builder/app/app_recipe.hpp>
#include <builder/build/build_settings.hpp>
#include <builder/recipe/lock.hpp>
#include <builder/system/store.hpp>

#include <measure/documents/dstack_app.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mrforge::builder {

// What one service's image is built from: its recipe's lock, the store holding its inputs, and
// its timestamp (resolve_source_date_epoch of its recipe). A service pinned from an OCI layout
// needs none of them (leave the pointers null).
struct AppServiceInputs {
  const Lock *lock = nullptr;
  Store *store = nullptr;
  int64_t source_date_epoch = 0;
};

struct AppBuildResult {
  std::string out_dir;
  std::string compose_hash;
  std::string app_id;
  std::vector<AppServiceRecord> services;
};

// settings.out_dir is the app's output; settings.source_date_epoch is not used (each service has
// its own). `inputs` has one entry per app.services, in order. Throws what load, lock and
// build_oci throw, InputError for an app-compose value dstack's SDKs would serialize differently.
AppBuildResult build_app(const AppRecipe &app, const std::vector<AppServiceInputs> &inputs,
                         const BuildSettings &settings);

// The app-compose object (before normalization) for a compose file.
nlohmann::json app_compose_object(const AppRecipe &app, const std::string &compose_file);

// {"compose_hash", "app_id", "services": [{"name", "source", "image", "digest", "recipe" or
// "oci_layout"}]}: `build --json`.
nlohmann::json app_build_json(const AppBuildResult &result);

} // namespace mrforge::builder

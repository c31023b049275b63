// DstackApp recipes: a dstack app (a docker compose file run in a TD, Dstack-TEE/dstack) whose
// service images this repository builds from OciImage recipes or takes, pinned by digest, from a
// local OCI image layout, and dstack's app-compose settings.
//
//   apiVersion: mrforge/v1
//   kind: DstackApp
//   name: hello-app                 # app-compose "name"
//   compose: docker-compose.yaml    # the user's compose file, relative to the recipe's folder
//   services:                       # every service of the compose file, none other
//     web: {recipe: ../oci/hello.yaml}            # an OciImage recipe (relative; may leave the folder)
//     worker: {recipe: worker.yaml, image: registry.example/worker:1.0}
//                                   # image: the reference the compose file writes (default the
//                                   # recipe's NAME:TAG); mrforge appends @sha256:DIGEST to it
//     cache: {oci_layout: vendor/redis, image: docker.io/library/redis:7.2, digest: "sha256:HEX"}
//                                   # an image mrforge does not build: an OCI image layout (a folder
//                                   # relative to the recipe's, e.g. made by `skopeo copy
//                                   # docker://... oci:vendor/redis`), the reference the compose
//                                   # file writes (required) and the pinned manifest digest
//                                   # (required: a single-platform image manifest listed in the
//                                   # layout's index.json). Every blob is verified at build time.
//   key_provider: kms               # required: kms, local (SGX sealing) or none
//   app_id: 0123...89               # 40 hex: the app id the deployment pins (a KMS app's registered
//                                   # id, dstack's .instance-info); default: the compose hash's
//                                   # first 20 bytes, dstack's rule when none is pinned
//   key_provider_id: ""             # hex: KMS CA key or sealing measurement to pin (default none)
//   runner: docker-compose          # or nerdctl-compose (default docker-compose)
//   manifest_version: 2             # 2 (written as the number 2, as dstack's writers do) or 3 ("3")
//   gateway: false                  # gateway_enabled
//   public_logs: false
//   public_sysinfo: false
//   public_tcbinfo: true            # dstack's default is true
//   secure_time: true               # dstack's default is true
//   no_instance_id: false
//   allowed_envs: [API_TOKEN]       # environment variables the deployer may set
//   pre_launch_script: ""           # shell run before the compose file starts (omitted when empty)
//   storage_fs: zfs                 # optional: zfs or ext4
//
// A service has `recipe` or `oci_layout`, never both; `digest` only with `oci_layout` (a built
// image's digest is computed, not chosen).
//
// Every app-compose field mrforge writes is written explicitly (including those equal to dstack's
// defaults), so that no reader's default decides what the TD does. Fields mrforge does not
// support (init_script, event_log_version 2, requirements, port_policy, verity_volumes, swap_size)
// are refused as unknown keys rather than silently dropped.
//
// The compose file: each service's `image:` must be the service's reference (plain, '...' or
// "..." on one line) and is rewritten in place to REF@sha256:DIGEST; every other byte of the file
// is kept (comments, order, layout), so the embedded compose file is the user's file plus the
// digests. Anchors and aliases are refused (an image taken from an alias could escape the rewrite).
#pragma once

#include <builder/recipe/recipe.hpp>

#include <string>
#include <vector>

namespace mrforge::builder {

// Where a service's image comes from.
enum class AppServiceSource {
  recipe,     // built from an OciImage recipe
  oci_layout, // pinned by digest from a local OCI image layout
};

struct AppServiceSpec {
  std::string name; // the compose service
  AppServiceSource source = AppServiceSource::recipe;
  std::string recipe_path;    // source recipe: as written in the app recipe (relative)
  Recipe recipe;              // source recipe: the OciImage recipe, loaded
  std::string oci_layout;     // source oci_layout: the layout folder as written (relative)
  std::string oci_layout_dir; // source oci_layout: the layout folder (absolute)
  std::string pinned_digest;  // source oci_layout: "sha256:HEX" of its image manifest
  std::string image_ref;      // the reference the compose file uses
  Location where;
};

struct AppComposeSettings {
  std::string runner = "docker-compose";
  unsigned manifest_version = 2;
  std::string key_provider; // kms, local, none
  std::string key_provider_id;
  bool gateway = false;
  bool public_logs = false;
  bool public_sysinfo = false;
  bool public_tcbinfo = true;
  bool secure_time = true;
  bool no_instance_id = false;
  std::vector<std::string> allowed_envs;
  std::string pre_launch_script;
  std::string storage_fs;
};

struct AppRecipe {
  std::string path;   // as given
  std::string sha256; // of the recipe file's bytes
  std::string dir;    // its folder (absolute)
  std::string name;
  std::string app_id;       // 40 lower-case hex the deployment pins, or "" (the compose hash's prefix)
  std::string compose;      // as written (relative)
  std::string compose_path; // absolute
  std::string compose_text; // the compose file's bytes
  std::vector<AppServiceSpec> services;
  AppComposeSettings settings;
};

// Whether the YAML file at `path` says `kind: DstackApp` (false for anything else, including a
// file that cannot be read or parsed: load_recipe then reports the problem).
bool is_app_recipe(const std::string &path);

// Reads and validates a DstackApp recipe, its compose file and its services' OciImage recipes
// (a pinned service's layout is read when it is built, not here). Throws DocumentError
// (file:line:column: field) for a malformed recipe or compose file, a compose service without a
// recipe service or the other way round, an image that is not the service's reference, a service
// with both or neither of recipe and oci_layout, a digest with a recipe, a pinned service without
// image or digest, a layout that is not a folder; SystemError for unreadable files.
AppRecipe load_app_recipe(const std::string &path);

// The compose file with every service's image rewritten to REF@DIGEST (digests: service name ->
// "sha256:HEX"). Throws DocumentError where an image cannot be rewritten in place.
std::string pin_compose_images(const AppRecipe &app, const std::vector<std::pair<std::string, std::string>> &digests);

} // namespace mrforge::builder

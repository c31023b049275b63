// dstack apps (Dstack-TEE/dstack at 312dc605): app-compose.json, its compose hash and app id, and
// mrforge-app.json, the record `mrforge build` writes for a DstackApp recipe.
//
// The guest hashes the raw bytes of app-compose.json (dstack-util system_setup.rs:2651
// `sha256_file(app_compose_file)`): compose_hash = sha256(file bytes), whatever produced them, and
// app_id = its first 20 bytes unless the deployment pins one (system_setup.rs:2659-2661). mrforge
// writes the file in the form dstack's JS and Python SDKs produce (get-compose-hash.ts
// toDeterministicJson, get_compose_hash.py to_deterministic_json): keys sorted recursively,
// separators "," and ":", raw UTF-8 with only '"', '\' and control characters escaped. The SDKs
// disagree on nulls and floats (JS keeps a top-level null that Python drops; Python writes 1.0,
// JS 1), so the form refuses both: with strings, booleans, integers, arrays and objects whose keys
// are ASCII the two SDKs give the same bytes. Go's SDK escapes '<', '>' and '&' and is not followed.
//
// mrforge-app.json (written by builder/app, read here so that verify needs no builder code):
//   {"kind": "DstackApp", "name": APP, "recipe": {"name", "sha256"},
//    "app_compose": "app-compose.json", "compose_hash": HEX64, "app_id": HEX40,
//    "app_id_source": "compose-hash" (app_id is its first 20 bytes) | "recipe" (the id the deployment
//    pins, as a KMS app's registered id),
//    "key_provider": "kms"|"local"|"none", "key_provider_id": HEX|"", "storage_fs": "zfs"|"ext4"|"",
//    "no_instance_id": bool,
//    "services": [{"name", "source": "recipe", "ref", "digest": "sha256:HEX",
//                  "image": "REF@sha256:HEX", "recipe": PATH, "recipe_name", "recipe_sha256",
//                  "lock_sha256", "output"}
//               | {"name", "source": "oci-layout", "ref", "digest", "image", "oci_layout": PATH,
//                  "output"}],
//    "tool": "mrforge X.Y.Z"}
// A service's "source" says where its image came from: built from an OciImage recipe (with that
// recipe's lock), or pinned by digest from a local OCI layout (PATH as the app recipe writes it,
// relative to its folder; no recipe and no lock). A service has exactly the fields of its source.
#pragma once

#include <measure/util/bytes.hpp>

#include <nlohmann/json.hpp>

#include <map>
#include <string>
#include <vector>

namespace mrforge {

constexpr const char *k_app_compose_file = "app-compose.json";
constexpr const char *k_app_record_file = "mrforge-app.json";

// The normalized bytes of an app-compose object (see above). Throws InputError naming `what` and
// the field for a null, a floating-point number, a key that is not printable ASCII, or text that is
// not UTF-8: those are the values on which dstack's SDKs give different bytes.
std::string normalized_app_compose(const nlohmann::json &app_compose, const std::string &what);

// sha256 of app-compose.json's bytes, lower-case hex (64 digits).
std::string compose_hash_of(ByteView app_compose_bytes);
// dstack's app id when the deployment pins none: the first 20 bytes of the compose hash (40 hex).
std::string app_id_of_compose_hash(const std::string &compose_hash_hex);

// The `image:` of every service of a docker compose file (YAML), in document order. Throws
// DocumentError (file:line:column) for YAML mrforge cannot follow safely: syntax errors, anchors
// and aliases (an image could come from an alias), no `services` mapping, a service without a
// string `image`. `file` names the compose file in messages.
std::vector<std::pair<std::string, std::string>> compose_service_images(const std::string &yaml,
                                                                        const std::string &file);

constexpr const char *k_app_source_recipe = "recipe";
constexpr const char *k_app_source_oci_layout = "oci-layout";

struct AppServiceRecord {
  std::string name;   // the compose service
  std::string source; // k_app_source_recipe or k_app_source_oci_layout
  std::string ref;    // REF as the compose file names it (the image recipe's NAME:TAG)
  std::string digest; // "sha256:HEX" of the image manifest mrforge built or was pinned to
  std::string image;  // REF@sha256:HEX, as the embedded compose file names it
  // source "recipe": the OciImage recipe, relative to the app recipe's folder, and its lock.
  std::string recipe;
  std::string recipe_name;
  std::string recipe_sha256;
  std::string lock_sha256;
  // source "oci-layout": the OCI layout folder, relative to the app recipe's folder.
  std::string oci_layout;
  std::string output; // its OCI output directory inside the app output ("images/NAME")
};

struct AppRecord {
  std::string source; // the file read, for messages
  std::string name;   // the app's name (app-compose "name")
  std::string recipe_name;
  std::string recipe_sha256;
  std::string app_compose; // file name of app-compose.json beside the record
  std::string compose_hash;
  std::string app_id;
  bool app_id_pinned = false;  // app_id_source "recipe": not derived from the compose hash
  std::string key_provider;    // "kms", "local" or "none"
  std::string key_provider_id; // lower-case hex the app pins (KMS CA key or sealing measurement), or ""
  std::string storage_fs;      // "zfs" or "ext4" as the app sets it, or "" (the TD's command line decides)
  bool no_instance_id = false;
  std::vector<AppServiceRecord> services;
  std::string tool;
};

// Strict reader of mrforge-app.json: every field present with its type, hex lower case and of its
// length, app_id the compose hash's first 40 digits, digests "sha256:HEX", each image REF@DIGEST,
// service names unique, each service's source known and its fields exactly that source's (a
// pinned service with a lock, or a built one with a layout, is refused). Throws FormatError for
// text that is not JSON, InputError(source.FIELD).
AppRecord parse_app_record(ByteView bytes, const std::string &source);

// A deployed app-compose.json, as far as the compose hash is concerned: its top-level fields other
// than docker_compose_file (dumped JSON per key) and the image of each compose service.
struct AppComposeContent {
  std::map<std::string, std::string> fields;
  std::string compose_file;
  std::vector<std::pair<std::string, std::string>> images; // service -> image
};
// Throws FormatError for text that is not a JSON object, InputError for a docker_compose_file that
// is not a string, DocumentError for a compose file compose_service_images refuses.
AppComposeContent parse_app_compose(ByteView bytes, const std::string &source);

// Why two app-compose.json files (the record's and the one a TD ran) hash differently, one line
// each: the services whose image differs ("service 'web': the record has IMG, the other has IMG"),
// services only one of them has, top-level fields that differ, and, when the images agree, that the
// compose file's text differs. Empty when the two contents are the same.
std::vector<std::string> app_compose_differences(const AppComposeContent &record, const AppComposeContent &other);

} // namespace mrforge

// Recipes: the YAML documents (apiVersion mrforge/v1) that say what an image contains. Loading
// is strict: unknown keys, wrong types, missing fields, paths that leave the recipe's folder and
// names that do not resolve are DocumentErrors naming file, line, column and field.
//
//   apiVersion: mrforge/v1
//   kind: OciImage
//   name: hello                     # image name; the reference is NAME:TAG
//   tag: "1.0"                      # default "latest"
//   source_date_epoch: 1700000000   # the build's one timestamp (SOURCE_DATE_EPOCH overrides it)
//   debian:                         # where packages come from
//     suite: bookworm
//     components: [main]            # default [main]
//     architecture: amd64           # default amd64
//     mirror: http://deb.debian.org/debian   # default: the host's apt configuration for the suite
//     keyring: /usr/share/keyrings/debian-archive-keyring.gpg  # default: that entry's Signed-By
//   packages: [busybox-static, {name: ca-certificates, layer: base}]
//   files:                          # from the recipe's folder
//     - {source: hello.sh, target: /usr/local/bin/hello, mode: "0755", owner: app, layer: app}
//   directories: [{target: /srv/data, mode: "0750", owner: app}]
//   groups: [{name: app, gid: 1000}]
//   users: [{name: app, uid: 1000, group: app, home: /home/app, shell: /bin/sh}]
//   config: {entrypoint: [...], cmd: [...], env: {K: V}, workdir: /, user: app,
//            labels: {k: v}, exposed_ports: ["8080/tcp"]}
//   layers: [base, app]             # ordered layer names; default one layer "rootfs"
//   compression: {algorithm: gzip, level: 6}
//   allow: [setuid, device_nodes]   # what packages may contain; default none
#pragma once

#include <builder/compress.hpp>
#include <builder/oci_image.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace mrforge::builder {

struct Location {
  std::string file;
  int line = 0;
  int column = 0;
  std::string describe() const; // "hello.yaml:12:5"
};

struct DebianSourceSpec {
  std::string suite;
  std::vector<std::string> components{"main"};
  std::string architecture = "amd64";
  std::string mirror;  // empty: from the host's apt configuration
  std::string keyring; // empty: from the host's apt configuration; else an absolute path
};

struct PackageRequest {
  std::string name;
  std::string layer;
  Location where;
};

struct FileSpec {
  std::string source;      // relative to the recipe folder, normalized
  std::string source_path; // absolute host path
  std::string target;      // tree path (normalized, relative)
  std::optional<uint32_t> mode;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string layer;
  Location where;
};

struct DirectorySpec {
  std::string target;
  uint32_t mode = 0755;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string layer;
  Location where;
};

struct GroupSpec {
  std::string name;
  uint32_t gid = 0;
};

struct UserSpec {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string home;
  std::string shell = "/bin/sh";
};

struct AllowSpec {
  bool setuid = false;
  bool device_nodes = false;
};

struct Recipe {
  std::string path; // the recipe file as given
  std::string dir;  // its folder (absolute)
  std::string kind; // "OciImage"
  std::string name;
  std::string tag = "latest";
  std::optional<int64_t> source_date_epoch;
  DebianSourceSpec debian;
  bool has_debian = false;
  std::vector<PackageRequest> packages;
  std::vector<FileSpec> files;
  std::vector<DirectorySpec> directories;
  std::vector<GroupSpec> groups;
  std::vector<UserSpec> users;
  ImageConfig config;
  std::vector<std::string> layers{"rootfs"};
  Compression compression;
  AllowSpec allow;
};

// Reads and validates a recipe. Throws SystemError if it cannot be read, DocumentError otherwise.
Recipe load_recipe(const std::string &path);

// The build's timestamp: SOURCE_DATE_EPOCH from `env_value` if non-null (strictly a decimal
// integer, else InputError), else the recipe's source_date_epoch, else InputError asking for one.
int64_t resolve_source_date_epoch(const Recipe &recipe, const char *env_value);

// Where the lock of a recipe lives: RECIPE.lock.
std::string lock_path_for(const std::string &recipe_path);

} // namespace mrforge::builder

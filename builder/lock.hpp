// Lock files (RECIPE.lock): the exact inputs a recipe resolved to. JSON, with sorted keys, two-space
// indentation and a final newline, so that the same recipe and the same repository indexes give
// the same bytes. What the recipe asked for is recorded too, so that a stale lock is detected
// entry by entry.
//
//   {"lockVersion": 1, "recipe": {"name": ..., "packages": [requested names, sorted],
//    "debian": {"suite", "components", "architecture", "mirror" (only if the recipe names one)}},
//    "sources": [{"suite", "components", "architecture", "inrelease_sha256",
//                 "indexes": [{"path", "sha256", "size"}]}],
//    "packages": [{"name", "version", "architecture", "size", "sha256", "filename", "source",
//                  "reason"}],
//    "files": [{"path" (relative to the recipe folder), "sha256", "size"}]}
#pragma once

#include <builder/recipe.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace mrforge::builder {

struct LockedIndex {
  std::string path; // "main/binary-amd64/Packages.xz"
  std::string sha256;
  uint64_t size = 0;
};

struct LockedSource {
  std::string suite;
  std::vector<std::string> components;
  std::string architecture;
  std::string inrelease_sha256;
  std::vector<LockedIndex> indexes;
};

struct LockedPackage {
  std::string name;
  std::string version;
  std::string architecture;
  uint64_t size = 0;
  std::string sha256;
  std::string filename; // pool path, relative to the mirror
  std::string source;   // "bookworm/main"
  std::string reason;   // "requested" or "dependency of X"
};

struct LockedFile {
  std::string path; // relative to the recipe folder
  std::string sha256;
  uint64_t size = 0;
};

struct Lock {
  std::string recipe_name;
  std::vector<std::string> requested; // sorted
  bool has_debian = false;
  DebianSourceSpec debian; // as the recipe said (mirror/keyring empty when from the host)
  std::vector<LockedSource> sources;
  std::vector<LockedPackage> packages; // sorted by name
  std::vector<LockedFile> files;       // sorted by path
};

std::string lock_to_json(const Lock &lock);
// Throws DocumentError (with line and column) for syntax errors, missing or mistyped fields.
Lock parse_lock(const std::string &text, const std::string &file);
// Throws SystemError if missing/unreadable, DocumentError if malformed.
Lock read_lock(const std::string &path);

// Every local file a recipe uses (directory sources expanded), sorted, with digests.
std::vector<LockedFile> digest_recipe_files(const Recipe &recipe);

// How recipe and lock disagree, one line per entry ("package curl: in the recipe, not in the
// lock"). Empty when the lock is current. Local files are compared by digest.
std::vector<std::string> lock_differences(const Recipe &recipe, const Lock &lock);
// Only the package side (requested packages and Debian source) differs?
bool packages_differ(const Recipe &recipe, const Lock &lock);

} // namespace mrforge::builder

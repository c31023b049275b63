// Lock files (RECIPE.lock): the exact inputs a recipe resolved to. JSON, with sorted keys, two-space
// indentation and a final newline, so that the same recipe and the same repository indexes give
// the same bytes. What the recipe asked for is recorded too, so that a stale lock is detected
// entry by entry.
//
//   {"lockVersion": 1, "recipe": {"name": ..., "packages": [requested names, sorted],
//    "debian": {"suite", "components", "architecture", "mirror" (only if the recipe names one)}},
//    "sources": [{"suite", "components", "architecture", "inrelease_sha256", "inrelease_size",
//                 "date" (the InRelease's Date, YYYYMMDDTHHMMSSZ), "archive" (its name on the
//                 snapshot service, when known), "indexes": [{"path", "sha256", "size"}]}],
//    (a recipe with `debian.sources` writes "recipe": {"debian": {"suite", "architecture",
//     "sources": [{"suite", "components", "priority", "mirror"?, "snapshot_archive"?}]}}, and
//     each package's "source" is "SUITE/COMPONENT" of the source it was taken from)
//    "packages": [{"name", "version", "architecture", "size", "sha256", "filename", "source",
//                  "reason"}],
//    "files": [{"path" (relative to the recipe folder), "sha256", "size"}]}
//
// A GuestImage lock adds (an OciImage lock has none of these, so its bytes are unchanged):
//   "recipe": {..., "sets": {"firmware": [names], "initramfs": [names], "rootfs": [names]},
//              "firmware": {"package", "path"} or {"file", "sha256"}},
//   "kernel": {"pin" (relative to the recipe folder), "name", "package", "version", "architecture",
//              "filename", "size", "sha256", "mirror", "release"},
//   and on each package "sets": the sorted names of the sets that need it. The three sets are
//   resolved separately from the same signed indexes (so the root file system does not carry the
//   initramfs's or the firmware's dependencies) and merged: a package needed by two sets is
//   locked once, with both set names. A local firmware file is in "files" like recipe files.
#pragma once

#include <builder/recipe/recipe.hpp>

#include <cstdint>
#include <map>
#include <optional>
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
  uint64_t inrelease_size = 0; // 0 in locks made before it was recorded
  // The InRelease's Date, as Debian's snapshot service names its times: "20261204T035428Z".
  std::string date;
  // The archive's name on the snapshot service ("debian", "debian-security"); empty if unknown.
  std::string archive;
  std::vector<LockedIndex> indexes;
};

struct LockedPackage {
  std::string name;
  std::string version;
  std::string architecture;
  uint64_t size = 0;
  std::string sha256;
  std::string filename;               // pool path, relative to the mirror
  std::string source;                 // "bookworm/main"
  std::string reason;                 // "requested" or "dependency of X" ("SET: reason; SET: reason" when sets differ)
  std::vector<std::string> sets = {}; // GuestImage locks: "firmware", "initramfs", "rootfs" (sorted)
};

// The package sets of a GuestImage lock.
constexpr const char *k_set_firmware = "firmware";
constexpr const char *k_set_initramfs = "initramfs";
constexpr const char *k_set_rootfs = "rootfs";

// The kernel pin a GuestImage lock was made with (copied from the pin file).
struct LockedKernel {
  std::string pin; // the pin file, relative to the recipe folder ("../kernels/x.yaml")
  std::string name;
  std::string package;
  std::string version;
  std::string architecture;
  std::string filename;
  uint64_t size = 0;
  std::string sha256;
  std::string mirror;
  std::string release;
};

// The firmware a GuestImage recipe asked for: package and path, or a local file and its digest.
struct LockedFirmware {
  std::string package;
  std::string path; // normalized tree path, "usr/share/ovmf/OVMF.fd"
  std::string file; // relative to the recipe folder
  std::string sha256;
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
  // GuestImage locks: what each package set requested (set name -> sorted names; all three sets
  // present), the firmware request and the kernel pin. Empty for OciImage locks.
  std::map<std::string, std::vector<std::string>> requested_sets;
  std::optional<LockedFirmware> firmware;
  std::optional<LockedKernel> kernel;
};

// Whether the lock divides its packages into sets (a GuestImage lock).
bool lock_has_sets(const Lock &lock);
// The packages of one set, in the lock's (name) order; every package when the lock has no sets.
std::vector<const LockedPackage *> packages_in_set(const Lock &lock, const std::string &set);

// What a recipe asks for, without resolving anything: name, requested packages (and sets),
// Debian source (keyring dropped), firmware, kernel pin and the local files' digests (see
// digest_recipe_files). The sources and packages are left empty.
Lock lock_recipe_side(const Recipe &recipe);

std::string lock_to_json(const Lock &lock);
// Throws DocumentError (with line and column) for syntax errors, missing or mistyped fields.
Lock parse_lock(const std::string &text, const std::string &file);
// Throws SystemError if missing/unreadable, DocumentError if malformed.
Lock read_lock(const std::string &path);

// Every local file a recipe uses (directory sources expanded, a GuestImage's local firmware
// included), sorted, with digests. Throws InputError naming the recipe location when a local
// firmware file's digest is not the sha256 the recipe pins; SystemError if a file is unreadable.
std::vector<LockedFile> digest_recipe_files(const Recipe &recipe);

// How recipe and lock disagree, one line per entry ("package curl: in the recipe, not in the
// lock", "package dmsetup: requested for initramfs in the recipe (r.yaml:12:15), not in the
// lock's initramfs set", "kernel.version: the pin says A, the lock B"). Empty when the lock is
// current. Local files are compared by digest.
std::vector<std::string> lock_differences(const Recipe &recipe, const Lock &lock);
// Only the package side (requested packages and sets, the recipe's kind, the Debian source)
// differs? A change of kernel pin, firmware path or local files needs no re-resolution.
bool packages_differ(const Recipe &recipe, const Lock &lock);

} // namespace mrforge::builder

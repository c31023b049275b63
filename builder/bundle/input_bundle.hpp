// Input bundles: every locked input of one or more recipes in one deterministic archive, so that an
// auditor can rebuild offline after the mirrors have moved on (`mrforge fetch --export/--import`):
// the .debs, a guest's kernel package, the local files, and each Debian source's signed InRelease
// and package indexes, against which the packages were locked (an auditor can check the
// InRelease's signature and find each package's sha256 in the indexes).
//
// The archive is an uncompressed POSIX tar in write_tar's format (pax restricted: a pax header
// only for names ustar cannot hold), every entry a regular file with mode 0644, uid/gid 0, no owner
// names and mtime 0. `index.json` comes first, then every other entry in byte-wise name order:
//
//   index.json                                 the index (below)
//   sources/SUITE/DATE/dists/SUITE/InRelease   each source's signed InRelease as locked (DATE: its
//   sources/SUITE/DATE/dists/SUITE/main/binary-amd64/Packages.xz   Date; "inrelease-" and 16 hex
//                                              digits of its sha256 in a lock without one), and
//                                              the package indexes the lock records
//   sources/SUITE/POOL-PATH                    each locked package, by its source's suite
//   kernel/POOL-PATH                           a GuestImage's kernel package
//   files/RECIPE-ID/PATH                       each local file (PATH relative to the recipe folder)
//
// index.json (sorted keys, two-space indentation, final newline):
//   {"bundleVersion": 1,
//    "recipes": [{"id", "recipe" (the recipe file as named), "lock" (its lock file),
//                 "lock_sha256" (of the lock file's bytes), "name" (the recipe's name)}],
//    "entries": [{"name", "kind" ("inrelease", "index", "package", "kernel" or "file"), "sha256", "size",
//                 "recipes": [ids of the recipes that lock it]}]}
// sorted by id and by name. A recipe's id is the DstackApp service it builds, or the recipe file's
// name for a single recipe. An input several recipes lock (the same package in two services) is
// stored once.
//
// sources/SUITE/ thus reads like a Debian mirror (dists/ under a date, pool/), and several recipes'
// sources at different times stay apart.
//
// Import reads a bundle as untrusted: the index (first, at most limits::k_json_document) must equal
// the index of the locks on disk; each entry must be one of them, once, a regular file of the
// locked size; its sha256 is computed while it streams into a temporary file of the store, which is
// committed only when the digest is the lock's. Nothing is ever written by the archive's paths.
#pragma once

#include <builder/recipe/inputs.hpp>
#include <builder/recipe/lock.hpp>
#include <builder/system/store.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mrforge::builder {

// One recipe whose inputs a bundle holds.
struct BundleRecipe {
  std::string id;          // the DstackApp service, or the recipe file's name
  std::string recipe;      // the recipe file, as the user named it (in the index and in messages)
  std::string recipe_dir;  // where its local files are read (export)
  std::string lock_path;   // its lock file
  std::string lock_sha256; // of the lock file's bytes
  Lock lock;
};

// The id (and shown name) of a recipe the user names directly, not through a DstackApp: its file
// name. A DstackApp's service is known by the service's name, shown as the app writes its recipe.
std::string recipe_file_id(const std::string &recipe_path);

// Reads and hashes the lock file of `recipe` (lock_path_for) and pairs it with `lock`, the lock
// the inputs were fetched from; `shown` is the recipe file as the index names it (relative, the
// same on every machine). Throws SystemError if the lock file is unreadable.
BundleRecipe bundle_recipe(const std::string &id, const std::string &shown, const Recipe &recipe, Lock lock);

enum class BundleEntryKind { package, kernel, file, inrelease, index };
// "package", "kernel", "file", "inrelease", "index"
const char *bundle_entry_kind_name(BundleEntryKind kind);

struct BundleEntry {
  std::string name; // path in the archive
  BundleEntryKind kind = BundleEntryKind::package;
  std::string sha256;
  uint64_t size = 0;
  std::vector<std::string> recipes; // ids, sorted
  std::string what;                 // for messages: "package busybox 1.35 (amd64)", "file motd of demo.yaml"
  std::string local_path;           // kind file: the file in its recipe folder (export reads it)
};

// What a bundle of these recipes holds: the recipes (sorted by id) and every entry (by name).
struct BundlePlan {
  std::vector<BundleRecipe> recipes;
  std::map<std::string, BundleEntry> entries;
};

// Throws InputError when two recipes share an id, when a lock records no InRelease size (made by an
// older mrforge: re-lock), or when locks pin different content under one entry name (two
// repositories serving one suite with different files at the same pool path).
BundlePlan plan_bundle(std::vector<BundleRecipe> recipes);
// The index.json bytes of the plan (see the top of this file).
std::string bundle_index_json(const BundlePlan &plan);

struct BundleReport {
  std::string path;
  size_t entries = 0; // index.json not counted
  uint64_t bytes = 0; // of the entries' content
  size_t stored = 0;  // import: blobs added to the store
  size_t already_in_store = 0;
  size_t files_checked = 0;  // import: local files compared with their lock
  std::string sha256;        // export: of the archive
  uint64_t archive_size = 0; // export: of the archive
};

// Writes the bundle to `output` (through OUTPUT.tmp-XXXXXX, renamed into place; an existing
// regular file or symlink at `output` is replaced, anything else refused). Every entry's content is
// read from the store (packages, kernel, InRelease, indexes) or its recipe folder (local files) and
// its sha256 checked
// while it is written: a store or folder that no longer holds the locked bytes is an InputError
// naming the entry, and `output` is left as it was. Throws InputError / SystemError.
BundleReport export_bundle(const BundlePlan &plan, const Store &store, const std::string &output,
                           const Progress &progress);

// Verifies the bundle at `path` against `plan` (see the top of this file) and puts every package,
// kernel, InRelease and index it holds into the store; local files are only compared with their
// locks. A bundle
// made from other locks, an entry that is unknown, repeated, missing, of another size or digest,
// not a regular file, or a damaged or truncated archive is an InputError naming the bundle and
// the entry; blobs verified before the error stay in the store, nothing unverified is stored.
// `path` must be a regular file (a FIFO or a directory is a SystemError). Throws InputError /
// SystemError.
BundleReport import_bundle(const BundlePlan &plan, Store &store, const std::string &path, const Progress &progress);

} // namespace mrforge::builder

// The inputs of a recipe: locking (resolving package names against the repository's signed
// indexes), fetching into the content-addressed store, and checking a lock against its recipe.
#pragma once

#include <builder/debian/host_apt.hpp>
#include <builder/http_fetch.hpp>
#include <builder/lock.hpp>
#include <builder/recipe.hpp>
#include <builder/store.hpp>

#include <functional>
#include <string>
#include <vector>

namespace mrforge::builder {

using Progress = std::function<void(const std::string &)>;

struct SourceOptions {
  std::string host_root = "/"; // where the host's apt configuration is read (tests use a fake root)
};

// The repository a recipe's `debian:` section points at: its mirror and keyring, or those of the
// host's apt configuration for the same suite. Throws InputError saying what to add to the recipe
// when neither gives one.
debian::AptSource apt_source_for(const DebianSourceSpec &spec, const SourceOptions &options, const std::string &where);

// Resolves the recipe's packages against the signed indexes and digests its local files.
Lock lock_recipe(const Recipe &recipe, Fetcher &fetcher, const SourceOptions &options, const Progress &progress);

enum class LockMode {
  update, // a missing or stale lock is (re)made and written
  frozen, // a missing or stale lock is an error naming each differing entry
};

struct CurrentLock {
  Lock lock;
  bool written = false; // the lock file was (re)written
  std::vector<std::string> changes;
};

// The lock to build from. In update mode a stale lock is remade (only the file digests when the
// package side is unchanged, so no network is needed for that) and written next to the recipe.
CurrentLock current_lock(const Recipe &recipe, LockMode mode, Fetcher &fetcher, const SourceOptions &options,
                         const Progress &progress);

struct FetchOptions {
  std::vector<std::string> mirrors; // tried first, in order (e.g. a snapshot.debian.org URL)
  std::string debs_dir;             // a directory of .deb files to take pinned packages from
  SourceOptions sources;
  bool offline = false; // a package missing from the store is an error, not a download
};

struct FetchReport {
  size_t in_store = 0;
  size_t downloaded = 0;
  size_t from_directory = 0;
  uint64_t bytes_downloaded = 0;
};

// Puts every locked package into the store, verifying sha256 and size. A package that no mirror
// serves any more is an InputError saying so and how to supply it (--debs DIR or --mirror URL);
// a wrong digest is an InputError naming the package and both digests. Nothing unverified is
// ever stored.
FetchReport fetch_inputs(const Lock &lock, const Recipe &recipe, Store &store, Fetcher &fetcher,
                         const FetchOptions &options, const Progress &progress);

} // namespace mrforge::builder

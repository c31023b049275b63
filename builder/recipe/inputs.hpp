// The inputs of a recipe: locking (resolving package names against the repository's signed
// indexes), fetching into the content-addressed store, and checking a lock against its recipe.
#pragma once

#include <builder/debian/host_apt.hpp>
#include <builder/debian/snapshot.hpp>
#include <builder/recipe/lock.hpp>
#include <builder/recipe/recipe.hpp>
#include <builder/system/http_fetch.hpp>
#include <builder/system/store.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace mrforge::builder {

using Progress = std::function<void(const std::string &)>;

struct SourceOptions {
  std::string host_root = "/"; // where the host's apt configuration is read (tests use a fake root)
};

// The repository one source of a recipe's `debian:` section points at: its mirror and keyring, or
// those of the host's apt configuration for the same suite. Throws InputError saying what to add
// to the recipe when neither gives one.
debian::AptSource apt_source_for(const DebianSource &spec, const std::string &architecture,
                                 const SourceOptions &options, const std::string &where);

// Resolves the recipe's packages against the signed indexes of all its sources (together, with
// their priorities: see resolver.hpp) and digests its local files. Each source's InRelease
// digest, size and Date and its snapshot archive name are recorded. For a
// GuestImage, the rootfs, initramfs and firmware sets are resolved separately and merged (see
// lock.hpp), and the kernel pin is copied. Throws InputError (debian::ResolutionError naming the
// set) when a set cannot be resolved, and as digest_recipe_files does for a local firmware whose
// digest is not the recipe's.
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
  // Debian's snapshot service, asked when a source's mirror no longer serves a locked file (see
  // builder/debian/snapshot.hpp); empty: never.
  std::string snapshot_service = debian::k_snapshot_service;
  // Also put each source's signed InRelease and its indexes into the store (checked against the
  // lock, the signature verified), as `mrforge fetch` does; a build needs only the .debs.
  bool repository_metadata = false;
  std::optional<int64_t> now; // the clock for Valid-Until (tests); default: now
};

struct FetchReport {
  size_t in_store = 0; // packages (the kernel is counted apart)
  size_t downloaded = 0;
  size_t from_directory = 0;
  size_t from_snapshot = 0; // of `downloaded`: from Debian's snapshot archive
  // With repository_metadata: per locked source, "SUITE: in store", "SUITE: from MIRROR" or
  // "SUITE: from SNAPSHOT-URL".
  std::vector<std::string> sources;
  uint64_t bytes_downloaded = 0; // packages and kernel
  // The kernel .deb of a GuestImage lock: its path in the store and how it got there ("in store",
  // "from directory", "downloaded"). Empty when the lock has no kernel.
  std::string kernel_deb;
  std::string kernel_fetch;
};

// Puts every locked package, and the kernel .deb of a GuestImage lock, into the store, verifying
// sha256 and size. Each comes from options.debs_dir first (by file name: no network), then
// options.mirrors, then the mirror of the package's source (the kernel: its pin's), then Debian's
// snapshot archive at the time the lock recorded for that source (the kernel: of the source whose
// mirror is its pin's). A .deb
// that no mirror serves any more is an InputError saying so and how to supply it (--debs DIR or
// --mirror URL); a wrong digest is an InputError naming the package and both digests; with
// options.offline a missing one is an InputError. Nothing unverified is ever stored. Large
// downloads (the kernel is ~100 MB) report progress in tenths through `progress`, using the
// Fetcher's progress callback for the duration (it is cleared afterwards).
FetchReport fetch_inputs(const Lock &lock, const Recipe &recipe, Store &store, Fetcher &fetcher,
                         const FetchOptions &options, const Progress &progress);

} // namespace mrforge::builder

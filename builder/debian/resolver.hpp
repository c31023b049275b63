// Dependency closure of the packages a recipe names, over the indexes of its repositories.
//
// Rules (deliberately simpler than apt's, and documented so a lock file can be explained):
// - Candidates for the target architecture are records whose Architecture is the target or
//   "all". Foreign architectures are never considered (no Multi-Arch: foreign cross-satisfaction),
//   and a dependency qualified with a foreign architecture (":arm64") cannot be satisfied;
//   ":any" and ":native" are satisfied by the candidate of the target architecture.
// - Each name has one candidate, chosen as apt's policy does across sources: the version from the
//   index with the highest pin priority (RepositoryIndex::priority, 500 by default as apt's), and
//   among those the highest version; among equal versions, the first record in index order (the
//   order of `indexes`, then of each Packages file). A package of a lower-priority source is
//   still the candidate when no higher-priority source has the name.
// - The closure follows Pre-Depends and Depends only. Recommends and Suggests are ignored, and
//   Essential packages are NOT added implicitly: a recipe that needs them names them.
// - A group of alternatives "a | b" is satisfied, in this order, by: an already selected package
//   (real, or providing the name with a matching version); the first alternative whose real
//   candidate satisfies it; the first alternative with exactly one satisfying provider. Virtual
//   names are provided through Provides of candidates; a versioned dependency is only met by a
//   versioned Provides ("foo (= 1.2)"). A virtual name with several providers, requested or
//   needed, is an error listing them, asking the recipe to name one.
// - Requested names are sorted and all selected before any dependency is followed, so the result
//   does not depend on the order of the request or on hash-map iteration.
// - With ResolveOptions::follow_dependencies false, the result is the requested packages alone
//   (each resolved to its candidate as above, a virtual name to its one provider); no Pre-Depends
//   or Depends is followed or checked. For packages that are only unpacked to take files out of
//   them (a guest's firmware set: OVMF, systemd-stub, shim, GRUB), never installed.
#pragma once

#include <builder/debian/repository.hpp>
#include <measure/util/errors.hpp>

#include <map>
#include <string>
#include <vector>

namespace mrforge::builder::debian {

// The request cannot be met: a missing package, an unsatisfiable dependency (what() names the
// chain: "ca-certificates depends on openssl (>= 1.1.1) but openssl 1.1.0 (bookworm/main) is
// the candidate (ca-certificates is a dependency of curl, which was requested)"), or an
// ambiguous virtual package.
class ResolutionError : public InputError {
public:
  using InputError::InputError;
};

struct Resolution {
  std::vector<PackageRecord> packages;       // sorted by name
  std::map<std::string, std::string> reason; // name -> "requested" or "dependency of X"
};

struct ResolveOptions {
  bool follow_dependencies = true; // false: the requested packages only (see the rules above)
};

// Throws ResolutionError, or InputError for malformed relationship fields in the indexes.
Resolution resolve_dependencies(const std::vector<std::string> &requested, const std::vector<RepositoryIndex> &indexes,
                                const std::string &architecture, const ResolveOptions &options = {});

} // namespace mrforge::builder::debian

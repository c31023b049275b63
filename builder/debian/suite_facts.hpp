// What mrforge knows about each Debian release that changes how an image must be laid out, with
// where each fact was read. A suite is named by its codename, optionally with an archive suffix
// ("bookworm-security", "trixie-updates"): the suffix does not change the layout.
#pragma once

#include <string>
#include <vector>

namespace mrforge::builder {

struct SuiteFacts {
  const char *codename;
  // Packages ship their files under /usr only and expect /bin, /sbin, /lib (and the
  // architecture's extra library directories) to be symlinks into /usr (Debian's merged-/usr,
  // DEP 17).
  bool merged_usr;
  const char *provenance;
};

// The facts of `suite` ("trixie", "bookworm-security"). Throws InputError {where} for a suite
// mrforge has no facts for, listing the known ones.
const SuiteFacts &suite_facts(const std::string &suite, const std::string &where);

// The merged-/usr aliases for an architecture: {"bin", "usr/bin"}, ... (tree path, link target).
// Throws InputError {where} for an architecture without recorded aliases.
struct UsrAlias {
  std::string path;
  std::string target;
};
std::vector<UsrAlias> merged_usr_aliases(const std::string &architecture, const std::string &where);

} // namespace mrforge::builder

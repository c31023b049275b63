// The dpkg database (/var/lib/dpkg) for packages unpacked by unpack_deb, so that `dpkg -l`,
// `dpkg -L`, `dpkg -S` and `dpkg -V` inside the image report them as installed. What this does and
// does not emulate of `dpkg --install` is in DPKG_NOTES.md.
#pragma once

#include <builder/debian/deb_unpack.hpp>
#include <builder/fs/content_staging.hpp>
#include <builder/fs/fs_tree.hpp>

#include <map>
#include <string>
#include <vector>

namespace mrforge::builder {

// Adds to `tree` (file bytes through `staging`, nodes owned by root, origin `origin`):
//   var/lib/dpkg/status        one paragraph per package, sorted by name then architecture: the
//                              control fields in their original order, "Status: install ok
//                              installed" after Package and, for packages with conffiles, a
//                              "Conffiles:" field (path and md5 of the shipped file) before
//                              Description, as dpkg writes it; paragraphs end with a blank line
//   var/lib/dpkg/info/P.list   "/." then every path of the package with a leading '/', archive
//                              order; P is NAME, or NAME:ARCH for "Multi-Arch: same"
//   var/lib/dpkg/info/P.md5sums, P.conffiles, other control members (0644) and the maintainer
//                              scripts (0755, recorded only: they were not run)
//   var/lib/dpkg/info/format   "1\n" (the info database format that has ":ARCH" names)
//   var/lib/dpkg/available, diversions, statoverride (empty), and the directories updates/,
//   triggers/, alternatives/, parts/ that dpkg expects.
// The bytes depend only on `packages` and the tree's staged content. Throws InputError naming
// `origin` for two packages with the same name and architecture, or a dpkg path already present
// in the tree as a file; SystemError if a conffile's staged bytes cannot be read.
void add_dpkg_database(FsTree &tree, ContentStaging &staging, const std::vector<DebPackage> &packages,
                       const std::string &origin);

// The text of var/lib/dpkg/status for `packages` (as above); `conffile_md5` gives the md5 (hex)
// of each conffile path ("/etc/x"). Exposed for tests.
std::string dpkg_status_text(const std::vector<const DebPackage *> &sorted_packages,
                             const std::map<std::string, std::map<std::string, std::string>> &conffile_md5);

} // namespace mrforge::builder

// Debian's merged-/usr layout (DEP 17) for suites whose packages expect it (suite_facts.hpp):
// /bin, /sbin, /lib and /lib64 are symlinks into /usr. On a Debian system the links come from
// base-files' data (trixie), debootstrap or usrmerge's maintainer scripts; mrforge runs no
// maintainer scripts, so it adds the links itself when no package shipped them.
#pragma once

#include <builder/debian/suite_facts.hpp>
#include <builder/fs/fs_tree.hpp>

#include <string>
#include <vector>

namespace mrforge::builder {

// Adds each alias (bin -> usr/bin, ...) as a symlink, unless a package already shipped that very
// link (trixie's base-files does); returns the paths added. `suite` names the layout in origins
// and messages. Throws InputError naming the package and the path when a package ships a path
// under an alias (a directory or file where the link must be), saying which /usr path it should
// use, or a link with another target.
std::vector<std::string> apply_merged_usr(FsTree &tree, const std::vector<UsrAlias> &aliases, const std::string &suite);

} // namespace mrforge::builder

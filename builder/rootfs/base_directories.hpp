// Directories every Debian system has: base-files' data ships ./tmp/ (drwxrwxrwt) and ./root/
// (drwx------), root-owned (base-files 12.4+deb12u15 in bookworm, 13.8+deb13u8 in trixie). Images
// without base-files (it is Essential, so nothing depends on it and a recipe must list it) would
// have neither, so mrforge adds them with base-files' modes when neither a package nor the recipe
// made them.
#pragma once

#include <builder/fs/fs_tree.hpp>

#include <string>
#include <vector>

namespace mrforge::builder {

// Adds /tmp (01777) and /root (0700, root's home in the generated /etc/passwd) when absent;
// returns the paths added. An existing entry of another type there is left for the writers to
// carry as it is.
std::vector<std::string> add_base_directories(FsTree &tree);

} // namespace mrforge::builder

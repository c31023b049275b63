// Explaining why two builds differ, entry by entry, as diffoscope does: for two OCI image
// outputs, which blob differs, and inside a layer which tar entry and which attribute (content,
// mode, owner, mtime, link target, xattr, type, size); for the image config, which field.
#pragma once

#include <string>
#include <vector>

namespace mrforge::builder {

// One line per difference, e.g.
//   "layer 1 (app): usr/local/bin/hello: mode 0755 -> 0700"
//   "config: config.Env differs"
// Empty when the outputs are byte-identical. Throws SystemError/FormatError for unreadable input.
std::vector<std::string> explain_oci_differences(const std::string &dir_a, const std::string &dir_b);

// The entry-by-entry comparison of two tar archives (any compression libarchive reads); each
// line is prefixed with `label`.
std::vector<std::string> explain_tar_differences(const std::string &tar_a, const std::string &tar_b,
                                                 const std::string &label);

} // namespace mrforge::builder

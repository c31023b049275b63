// The shipped profiles (measure/profiles/{platform,ovmf,acpi}/*.yaml), compiled into the binary at
// build time by measure/documents/embed_profiles.cmake, so that mrforge needs no source tree at run time.
#pragma once

#include <string_view>
#include <vector>

namespace mrforge {

struct EmbeddedProfile {
  std::string_view kind; // "platform", "ovmf" or "acpi": the folder under measure/profiles/
  std::string_view name; // the file name without ".yaml"
  std::string_view text; // the file's bytes
};

// Sorted by kind (platform, ovmf, acpi), then file name; never empty (the build fails without them).
const std::vector<EmbeddedProfile> &embedded_profiles();

} // namespace mrforge

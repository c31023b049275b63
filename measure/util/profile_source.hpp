// Where a platform profile, an OVMF variant or an ACPI profile came from, and the name outputs
// give it. Outputs (measurements.json, statements, `--json`) name a profile by identity() only,
// which is the same on every host; the path it was read from is for error messages.
#pragma once

#include <string>

namespace mrforge {

struct ProfileSource {
  std::string name;     // a shipped profile's name ("qemu-8.2-tdx"), or a user's file name ("my-host.yaml")
  std::string sha256;   // lowercase hex SHA-256 of the file's bytes
  std::string location; // "embedded", or the path it was read from: for errors and `mrforge profiles` only

  // "qemu-8.2-tdx (sha256:HEX)" or "my-host.yaml (sha256:HEX)".
  std::string identity() const { return name + " (sha256:" + sha256 + ")"; }
};

} // namespace mrforge

// EFI GUIDs: 16 bytes in EFI layout (first three groups little-endian), printed in the
// registry form 8be4df61-93ca-11d2-aa0d-00e098032b8c.
#pragma once

#include <measure/util/bytes.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace mrforge {

struct Guid {
  std::array<uint8_t, 16> bytes{}; // as stored on disk (EFI layout)

  // Parses "8be4df61-93ca-11d2-aa0d-00e098032b8c" (any case); throws InputError naming `what`.
  static Guid parse(std::string_view text, const std::string &what = "GUID");
  static Guid from_bytes(ByteView b16); // b16.size() must be 16
  std::string str() const;
  bool operator==(const Guid &o) const { return bytes == o.bytes; }
  bool operator!=(const Guid &o) const { return bytes != o.bytes; }
};

} // namespace mrforge

#include <measure/formats/guid.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

#include <algorithm>

namespace mrforge {

Guid Guid::parse(std::string_view text, const std::string &what) {
  // Registry form: 8-4-4-4-12 hex digits.
  if (text.size() != 36 || text[8] != '-' || text[13] != '-' || text[18] != '-' || text[23] != '-')
    throw InputError(what,
                     "expected a GUID like 8be4df61-93ca-11d2-aa0d-00e098032b8c, got '" + std::string(text) + "'");
  std::string hex;
  for (char c : text)
    if (c != '-') hex.push_back(c);
  Bytes b = from_hex(hex, what);
  Guid g;
  // Data1 (4), Data2 (2), Data3 (2) are little-endian in EFI layout; Data4 is a byte array.
  const size_t order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  for (size_t i = 0; i < 16; ++i) g.bytes[i] = b[order[i]];
  return g;
}

Guid Guid::from_bytes(ByteView b16) {
  if (b16.size() != 16) throw Error("internal: GUID needs 16 bytes");
  Guid g;
  std::copy(b16.begin(), b16.end(), g.bytes.begin());
  return g;
}

std::string Guid::str() const {
  const size_t order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
  std::array<uint8_t, 16> reg{};
  for (size_t i = 0; i < 16; ++i) reg[i] = bytes[order[i]];
  std::string h = to_hex(ByteView(reg.data(), reg.size()));
  return h.substr(0, 8) + "-" + h.substr(8, 4) + "-" + h.substr(12, 4) + "-" + h.substr(16, 4) + "-" + h.substr(20);
}

} // namespace mrforge

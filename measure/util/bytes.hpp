// A non-owning view of bytes (C++17 has no std::span) and the owning buffer type.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

namespace mrforge {

using Bytes = std::vector<uint8_t>;

class ByteView {
public:
  constexpr ByteView() = default;
  constexpr ByteView(const uint8_t *data, size_t size) : m_data(data), m_size(size) {}
  ByteView(const Bytes &bytes) : m_data(bytes.data()), m_size(bytes.size()) {} // NOLINT: implicit by design
  static ByteView of(std::string_view text) { return {reinterpret_cast<const uint8_t *>(text.data()), text.size()}; }

  const uint8_t *data() const { return m_data; }
  size_t size() const { return m_size; }
  bool empty() const { return m_size == 0; }
  const uint8_t *begin() const { return m_data; }
  const uint8_t *end() const { return m_data + m_size; }
  uint8_t operator[](size_t i) const { return m_data[i]; }
  Bytes to_bytes() const { return Bytes(begin(), end()); }

  // Unchecked sub-view for callers that have already validated pos and n against size();
  // parsers of untrusted input use Reader instead.
  ByteView unchecked_sub(size_t pos, size_t n) const { return {m_data + pos, n}; }

private:
  const uint8_t *m_data = nullptr;
  size_t m_size = 0;
};

// Appends the low `n` bytes of v, least significant first (the little-endian fields of UEFI,
// PE/COFF and TDX structures).
inline void append_le(Bytes &out, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
// Overwrites out[at, at+n) with the low `n` bytes of v, little-endian; the caller checked the range.
inline void store_le(Bytes &out, size_t at, uint64_t v, size_t n) {
  for (size_t i = 0; i < n; ++i) out[at + i] = static_cast<uint8_t>(v >> (8 * i));
}

inline bool operator==(ByteView a, ByteView b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i] != b[i]) return false;
  return true;
}

} // namespace mrforge

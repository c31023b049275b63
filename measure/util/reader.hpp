// Bounds-checked reader over untrusted bytes. The only way parsers touch input memory.
// Every failure throws FormatError carrying the source name and the absolute offset.
// Ranges are checked by comparison (n > size - pos), never by addition that could overflow.
#pragma once

#include <measure/util/bytes.hpp>
#include <measure/util/errors.hpp>

#include <cstdint>
#include <string>
#include <type_traits>

namespace mrforge {

class Reader {
public:
  // base: absolute offset of data[0] within the named source (for error messages).
  Reader(ByteView data, std::string source, uint64_t base = 0);

  size_t pos() const { return m_pos; }
  size_t size() const { return m_data.size(); }
  size_t remaining() const { return m_data.size() - m_pos; }
  uint64_t absolute(size_t pos) const { return m_base + pos; }
  const std::string &source() const { return m_source; }
  ByteView data() const { return m_data; }

  // Moves to pos (may equal size()).
  void seek(size_t pos);
  void skip(size_t n);

  template <typename T> T read_le() {
    static_assert(std::is_unsigned_v<T>, "read_le reads unsigned integers");
    ByteView b = read_bytes(sizeof(T));
    T v = 0;
    for (size_t i = 0; i < sizeof(T); ++i) v = static_cast<T>(v | (static_cast<T>(b[i]) << (8 * i)));
    return v;
  }
  // Reads a little-endian integer at an absolute position of this view without moving.
  template <typename T> T peek_le(size_t pos) const {
    Reader r = *this;
    r.seek(pos);
    return r.read_le<T>();
  }

  ByteView read_bytes(size_t n);
  // A sub-range [pos, pos+n) of this reader's view, as its own reader with absolute offsets kept.
  Reader sub(size_t pos, size_t n, const char *what) const;
  ByteView view(size_t pos, size_t n, const char *what) const;
  // Reads magic.size() bytes and requires them to equal magic.
  void expect(ByteView magic, const char *what);

  // Throws FormatError at the current position / at pos.
  [[noreturn]] void fail(const std::string &message) const;
  [[noreturn]] void fail_at(size_t pos, const std::string &message) const;

private:
  ByteView m_data;
  std::string m_source;
  uint64_t m_base;
  size_t m_pos = 0;
};

// Checked arithmetic for header fields: throw FormatError via the reader on overflow.
uint64_t checked_add(const Reader &r, size_t pos, uint64_t a, uint64_t b, const char *what);
uint64_t checked_mul(const Reader &r, size_t pos, uint64_t a, uint64_t b, const char *what);

std::string hex_u64(uint64_t v); // "0x1f"

} // namespace mrforge

#include <measure/util/reader.hpp>

#include <cstdio>

namespace mrforge {

Reader::Reader(ByteView data, std::string source, uint64_t base)
    : m_data(data), m_source(std::move(source)), m_base(base) {}

void Reader::seek(size_t pos) {
  if (pos > m_data.size())
    fail_at(m_data.size(),
            "offset " + hex_u64(m_base + pos) + " is beyond the end of the data (size " + hex_u64(m_data.size()) + ")");
  m_pos = pos;
}

void Reader::skip(size_t n) {
  if (n > remaining())
    fail("truncated: need " + std::to_string(n) + " more bytes, have " + std::to_string(remaining()));
  m_pos += n;
}

ByteView Reader::read_bytes(size_t n) {
  if (n > remaining()) fail("truncated: need " + std::to_string(n) + " bytes, have " + std::to_string(remaining()));
  ByteView v = m_data.unchecked_sub(m_pos, n);
  m_pos += n;
  return v;
}

ByteView Reader::view(size_t pos, size_t n, const char *what) const {
  if (pos > m_data.size() || n > m_data.size() - pos)
    fail_at(pos > m_data.size() ? m_data.size() : pos, std::string(what) + " [" + hex_u64(m_base + pos) + ", +" +
                                                           hex_u64(n) + ") lies outside the data (size " +
                                                           hex_u64(m_data.size()) + ")");
  return m_data.unchecked_sub(pos, n);
}

Reader Reader::sub(size_t pos, size_t n, const char *what) const {
  return Reader(view(pos, n, what), m_source, m_base + pos);
}

void Reader::expect(ByteView magic, const char *what) {
  size_t at = m_pos;
  ByteView got = read_bytes(magic.size());
  if (!(got == magic)) fail_at(at, std::string("bad ") + what);
}

void Reader::fail(const std::string &message) const { fail_at(m_pos, message); }

void Reader::fail_at(size_t pos, const std::string &message) const {
  throw FormatError(m_source, m_base + pos, message);
}

uint64_t checked_add(const Reader &r, size_t pos, uint64_t a, uint64_t b, const char *what) {
  if (b > UINT64_MAX - a) r.fail_at(pos, std::string(what) + " overflows 64 bits");
  return a + b;
}

uint64_t checked_mul(const Reader &r, size_t pos, uint64_t a, uint64_t b, const char *what) {
  if (a != 0 && b > UINT64_MAX / a) r.fail_at(pos, std::string(what) + " overflows 64 bits");
  return a * b;
}

std::string hex_u64(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

} // namespace mrforge

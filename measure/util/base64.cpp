// Base64 (RFC 4648 section 4: standard alphabet, '=' padding). OpenSSL's EVP_EncodeBlock and
// EVP_DecodeBlock do the work; EVP_DecodeBlock skips leading/trailing whitespace, accepts
// non-canonical padding bits and always returns a multiple of 3 bytes, so the text is checked
// here first (alphabet, length, padding position, zero padding bits: RFC 4648 section 3.5) and
// the decoded length is computed exactly.
#include <measure/util/base64.hpp>

#include <measure/util/errors.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>

namespace mrforge::builder {

namespace {

// Whole groups of 3 input bytes (encoding) / 4 characters (decoding) per OpenSSL call, so that
// the int lengths OpenSSL takes never overflow.
constexpr size_t k_encode_chunk = 3 * 16384;
constexpr size_t k_decode_chunk = 4 * 16384;

// The 6-bit value of a base64 character, or -1.
int sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

std::string describe_char(char c) {
  auto u = static_cast<unsigned char>(c);
  char buf[48];
  if (u >= 0x21 && u <= 0x7e)
    std::snprintf(buf, sizeof buf, "'%c'", c);
  else
    std::snprintf(buf, sizeof buf, "byte 0x%02x", u);
  return buf;
}

} // namespace

std::string base64_encode(const std::vector<uint8_t> &bytes) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::vector<unsigned char> buffer(k_encode_chunk / 3 * 4 + 1);
  for (size_t pos = 0; pos < bytes.size(); pos += k_encode_chunk) {
    size_t n = std::min(k_encode_chunk, bytes.size() - pos);
    int written = EVP_EncodeBlock(buffer.data(), bytes.data() + pos, static_cast<int>(n));
    if (written < 0) throw Error("EVP_EncodeBlock failed");
    out.append(reinterpret_cast<const char *>(buffer.data()), static_cast<size_t>(written));
  }
  return out;
}

std::vector<uint8_t> base64_decode(std::string_view text, const std::string &what) {
  for (size_t i = 0; i < text.size(); ++i)
    if (sextet(text[i]) < 0 && text[i] != '=')
      throw InputError(what, "not base64: " + describe_char(text[i]) + " at offset " + std::to_string(i));
  if (text.size() % 4 != 0)
    throw InputError(what, "not canonical base64: length " + std::to_string(text.size()) + " is not a multiple of 4");
  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  size_t data_chars = text.size() - padding;
  for (size_t i = 0; i < data_chars; ++i)
    if (text[i] == '=')
      throw InputError(what, "not base64: '=' at offset " + std::to_string(i) + " (padding belongs only at the end)");
  if (padding > 0) {
    // The last data character carries 4 (one '=': 2) bits that are not part of the data; the
    // canonical encoding has them zero.
    int last = sextet(text[data_chars - 1]);
    int unused_mask = padding == 2 ? 0x0f : 0x03;
    if ((last & unused_mask) != 0)
      throw InputError(what, "not canonical base64: non-zero padding bits in " + describe_char(text[data_chars - 1]) +
                                 " at offset " + std::to_string(data_chars - 1));
  }

  std::vector<uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  std::vector<unsigned char> buffer(k_decode_chunk / 4 * 3);
  for (size_t pos = 0; pos < text.size(); pos += k_decode_chunk) {
    size_t n = std::min(k_decode_chunk, text.size() - pos);
    int got =
        EVP_DecodeBlock(buffer.data(), reinterpret_cast<const unsigned char *>(text.data() + pos), static_cast<int>(n));
    if (got < 0 || static_cast<size_t>(got) != n / 4 * 3)
      throw InputError(what, "not base64 (rejected by OpenSSL near offset " + std::to_string(pos) + ")");
    out.insert(out.end(), buffer.begin(), buffer.begin() + got);
  }
  out.resize(out.size() - padding); // EVP_DecodeBlock returns the padding positions as zero bytes
  return out;
}

std::vector<uint8_t> base64_decode_any_alphabet(std::string_view text, const std::string &what) {
  size_t url = text.find_first_of("-_");
  if (url == std::string_view::npos) return base64_decode(text, what);
  size_t standard = text.find_first_of("+/");
  if (standard != std::string_view::npos)
    throw InputError(what, "not base64: " + describe_char(text[std::max(url, standard)]) + " at offset " +
                               std::to_string(std::max(url, standard)) +
                               " mixes the standard and the URL-safe alphabet");
  std::string translated(text);
  for (char &c : translated) c = c == '-' ? '+' : c == '_' ? '/' : c;
  return base64_decode(translated, what); // offsets in its messages are the same
}

int base64_sextet(char c) { return sextet(c); }

} // namespace mrforge::builder

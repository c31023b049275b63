// Base64 (RFC 4648 sections 4 and 5). OpenSSL's EVP_EncodeBlock and EVP_DecodeBlock do the work
// on the standard padded form; EVP_DecodeBlock skips leading/trailing whitespace, accepts
// non-canonical padding bits and always returns a multiple of 3 bytes, so the text is checked
// here first (alphabet, length, padding position, zero leftover bits: RFC 4648 section 3.5),
// translated to the standard padded form, and the decoded length is computed exactly.
#include <measure/util/base64.hpp>

#include <measure/util/errors.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>

namespace mrforge {

namespace {

// Whole groups of 3 input bytes (encoding) / 4 characters (decoding) per OpenSSL call, so that
// the int lengths OpenSSL takes never overflow.
constexpr size_t k_encode_chunk = 3 * 16384;
constexpr size_t k_decode_chunk = 4 * 16384;

// The 6-bit value of a character common to both alphabets, or -1.
int common_sextet(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
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

[[noreturn]] void refuse_char(const std::string &what, std::string_view text, size_t i, const std::string &why = {}) {
  throw InputError(what, "not base64: " + describe_char(text[i]) + " at offset " + std::to_string(i) + why);
}

// Checks the alphabet and where '=' stands; returns the number of data characters (without '=').
size_t check_text(std::string_view text, const std::string &what, Base64Options options) {
  size_t standard = std::string_view::npos; // the first '+' or '/'
  size_t url = std::string_view::npos;      // the first '-' or '_'
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (common_sextet(c) >= 0 || c == '=') continue;
    bool is_standard = c == '+' || c == '/';
    bool is_url = c == '-' || c == '_';
    if ((is_standard && options.alphabet == Base64Alphabet::url_safe) ||
        (is_url && options.alphabet == Base64Alphabet::standard) || (!is_standard && !is_url))
      refuse_char(what, text, i);
    size_t &first = is_standard ? standard : url;
    if (first == std::string_view::npos) first = i;
    if (standard != std::string_view::npos && url != std::string_view::npos)
      refuse_char(what, text, i, " mixes the standard and the URL-safe alphabet");
  }

  size_t padding = 0;
  while (padding < 2 && padding < text.size() && text[text.size() - 1 - padding] == '=') ++padding;
  size_t data_chars = text.size() - padding;
  for (size_t i = 0; i < data_chars; ++i)
    if (text[i] == '=') refuse_char(what, text, i, " (padding belongs only at the end)");
  if (padding > 0 && options.padding == Base64Padding::none)
    refuse_char(what, text, data_chars, " (this base64 is unpadded)");
  bool padded = padding > 0 || options.padding == Base64Padding::required;
  if (padded && text.size() % 4 != 0)
    throw InputError(what, "not canonical base64: length " + std::to_string(text.size()) + " is not a multiple of 4");
  if (data_chars % 4 == 1)
    throw InputError(what, "not base64: length " + std::to_string(text.size()) +
                               " leaves one character in the last group (it carries 6 of 8 bits)");
  // The last data character of a short group carries 4 (3 characters: 2) bits that are not part
  // of the data; the canonical encoding has them zero.
  if (data_chars % 4 != 0) {
    char last = text[data_chars - 1];
    int value = common_sextet(last);
    if (value < 0) value = (last == '+' || last == '-') ? 62 : 63;
    int unused_mask = data_chars % 4 == 2 ? 0x0f : 0x03;
    if ((value & unused_mask) != 0)
      throw InputError(what, "not canonical base64: non-zero padding bits in " + describe_char(last) + " at offset " +
                                 std::to_string(data_chars - 1));
  }
  return data_chars;
}

} // namespace

std::string base64_encode(const std::vector<uint8_t> &bytes, Base64Options options) {
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  std::vector<unsigned char> buffer(k_encode_chunk / 3 * 4 + 1);
  for (size_t pos = 0; pos < bytes.size(); pos += k_encode_chunk) {
    size_t n = std::min(k_encode_chunk, bytes.size() - pos);
    int written = EVP_EncodeBlock(buffer.data(), bytes.data() + pos, static_cast<int>(n));
    if (written < 0) throw Error("EVP_EncodeBlock failed");
    out.append(reinterpret_cast<const char *>(buffer.data()), static_cast<size_t>(written));
  }
  if (options.alphabet == Base64Alphabet::url_safe)
    for (char &c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
  if (options.padding == Base64Padding::none)
    while (!out.empty() && out.back() == '=') out.pop_back();
  return out;
}

std::vector<uint8_t> base64_decode(std::string_view text, const std::string &what, Base64Options options) {
  size_t data_chars = check_text(text, what, options);

  // The standard padded form of the same text (one character for one, so offsets agree).
  std::string standard(text.substr(0, data_chars));
  for (char &c : standard) c = c == '-' ? '+' : c == '_' ? '/' : c;
  standard.append((4 - data_chars % 4) % 4, '=');

  std::vector<uint8_t> out;
  out.reserve(standard.size() / 4 * 3);
  std::vector<unsigned char> buffer(k_decode_chunk / 4 * 3);
  for (size_t pos = 0; pos < standard.size(); pos += k_decode_chunk) {
    size_t n = std::min(k_decode_chunk, standard.size() - pos);
    int got = EVP_DecodeBlock(buffer.data(), reinterpret_cast<const unsigned char *>(standard.data() + pos),
                              static_cast<int>(n));
    if (got < 0 || static_cast<size_t>(got) != n / 4 * 3)
      throw InputError(what, "not base64 (rejected by OpenSSL near offset " + std::to_string(pos) + ")");
    out.insert(out.end(), buffer.begin(), buffer.begin() + got);
  }
  // EVP_DecodeBlock returns the padding positions as zero bytes: keep exactly 6 bits per character.
  out.resize(data_chars * 6 / 8);
  return out;
}

int base64_sextet(char c) {
  if (c == '+') return 62;
  if (c == '/') return 63;
  return common_sextet(c);
}

} // namespace mrforge

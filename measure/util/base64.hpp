// Base64 (RFC 4648): the standard alphabet with '=' padding (section 4) by default; the URL-safe
// alphabet (section 5) and unpadded text (section 3.2) only when a caller asks for them. Decoding
// is strict whatever the mode: whitespace and line breaks are refused, one string uses one
// alphabet, padding is where and how long RFC 4648 puts it, and the bits left over in the last
// character are zero (section 3.5), so that one byte string has one encoding per mode.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mrforge {

enum class Base64Alphabet {
  standard, // '+' and '/' (RFC 4648 section 4)
  url_safe, // '-' and '_' (RFC 4648 section 5)
  either,   // decoding: either alphabet, but only one of them in one string (DSSE, Azure evidence);
            // encoding: the standard alphabet
};

enum class Base64Padding {
  required, // the length is a multiple of 4, '=' fills the last group
  optional, // decoding: padded or unpadded text; encoding: padded
  none,     // no '=' at all
};

struct Base64Options {
  Base64Alphabet alphabet = Base64Alphabet::standard;
  Base64Padding padding = Base64Padding::required;
};

// The 6-bit value of a character of the standard alphabet, or -1 (padding '=' included).
int base64_sextet(char c);

std::string base64_encode(const std::vector<uint8_t> &bytes, Base64Options options = {});
// Throws InputError(what, ...) naming the first offending character's offset (or the length).
std::vector<uint8_t> base64_decode(std::string_view text, const std::string &what, Base64Options options = {});

} // namespace mrforge

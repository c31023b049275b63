// Base64 (RFC 4648, standard alphabet with padding), through OpenSSL's EVP encoder. Decoding is
// strict: whitespace and line breaks are refused, the length must be a multiple of 4 and the
// padding canonical, so that one envelope has one encoding.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mrforge::builder {

// The 6-bit value of a character of the standard alphabet, or -1 (padding '=' included).
int base64_sextet(char c);

std::string base64_encode(const std::vector<uint8_t> &bytes);
// Throws InputError(what, ...) naming the first offending character's offset.
std::vector<uint8_t> base64_decode(std::string_view text, const std::string &what);
// The same, but the URL-safe alphabet (RFC 4648 section 5: '-' and '_' for '+' and '/', padded)
// is accepted too, as DSSE requires of verifiers. One string uses one alphabet; a mix is refused.
std::vector<uint8_t> base64_decode_any_alphabet(std::string_view text, const std::string &what);

} // namespace mrforge::builder

#include "output.hpp"

#include <measure/errors.hpp>
#include <measure/reader.hpp>
#include <measure/tcg_log.hpp>

#include <algorithm>
#include <iostream>

namespace mrforge::cli {

namespace {

// The offset of the first byte of `s` that does not belong to well-formed UTF-8 (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or npos.
size_t invalid_utf8_at(const std::string &s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    size_t n = c < 0x80                   ? 1
               : (c >= 0xC2 && c <= 0xDF) ? 2
               : (c >= 0xE0 && c <= 0xEF) ? 3
               : (c >= 0xF0 && c <= 0xF4) ? 4
                                          : 0;
    if (n == 0 || n > s.size() - i) return i;
    for (size_t k = 1; k < n; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return i;
    const auto c1 = static_cast<unsigned char>(n > 1 ? s[i + 1] : 0);
    if ((c == 0xE0 && c1 < 0xA0) || (c == 0xED && c1 > 0x9F) || (c == 0xF0 && c1 < 0x90) || (c == 0xF4 && c1 > 0x8F))
      return i;
    i += n;
  }
  return std::string::npos;
}

// The JSON pointer of the first string (key or value) in `j` that is not UTF-8, and the offset
// of its bad byte; empty when there is none.
std::string find_invalid_utf8(const Json &j, const std::string &where, size_t &offset) {
  if (j.is_string()) {
    offset = invalid_utf8_at(j.get_ref<const std::string &>());
    return offset == std::string::npos ? std::string() : (where.empty() ? "/" : where);
  }
  if (j.is_object()) {
    for (auto it = j.begin(); it != j.end(); ++it) {
      std::string path = where + "/" + it.key();
      if ((offset = invalid_utf8_at(it.key())) != std::string::npos) return path; // the key itself
      std::string found = find_invalid_utf8(it.value(), path, offset);
      if (!found.empty()) return found;
    }
  }
  if (j.is_array())
    for (size_t i = 0; i < j.size(); ++i) {
      std::string found = find_invalid_utf8(j[i], where + "/" + std::to_string(i), offset);
      if (!found.empty()) return found;
    }
  return {};
}

} // namespace

void print_json(const Json &j) {
  // JSON text is UTF-8 (RFC 8259); a value that is not (a path, a command line, a string from an
  // input) cannot be printed as JSON without changing it. Said before anything is printed.
  size_t offset = 0;
  std::string where = find_invalid_utf8(j, "", offset);
  if (!where.empty()) {
    std::string shown;
    for (char c : where.substr(0, 80))
      shown += static_cast<unsigned char>(c) >= 0x20 && static_cast<unsigned char>(c) < 0x7f ? c : '?';
    throw InputError("--json", "the value at " + shown + " is not valid UTF-8 (byte " + std::to_string(offset) +
                                   "), so it cannot be printed as JSON; give UTF-8 input, or leave out --json");
  }
  std::string text;
  try {
    text = j.dump(2);
  } catch (const nlohmann::json::type_error &e) { // the check above should have caught it
    throw InputError("--json", std::string("cannot be printed as JSON: ") + e.what());
  }
  std::cout << text << "\n";
}

std::string payload_text(ByteView payload) {
  for (uint8_t c : payload)
    if (c < 0x20 || c > 0x7E) return to_hex(payload);
  return "\"" + std::string(payload.begin(), payload.end()) + "\"";
}

void print_table(const std::vector<std::vector<std::string>> &rows) {
  std::vector<size_t> width;
  for (const auto &r : rows)
    for (size_t i = 0; i < r.size(); ++i) {
      if (width.size() <= i) width.push_back(0);
      width[i] = std::max(width[i], r[i].size());
    }
  for (const auto &r : rows) {
    std::string line;
    for (size_t i = 0; i < r.size(); ++i) {
      line += r[i];
      if (i + 1 < r.size()) line += std::string(width[i] - r[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

} // namespace mrforge::cli

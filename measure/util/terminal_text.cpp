// Escaping for terminals (see terminal_text.hpp). UTF-8 is decoded strictly (Unicode 15, table
// 3-7 "Well-Formed UTF-8 Byte Sequences").
#include <measure/util/terminal_text.hpp>

#include <cstdint>
#include <cstdio>

namespace mrforge {

namespace {

// The length of the well-formed UTF-8 sequence at text[pos] and its code point; 0 if none.
size_t utf8_sequence(std::string_view text, size_t pos, uint32_t &cp) {
  auto byte = [&](size_t i) { return static_cast<uint8_t>(text[i]); };
  uint8_t b0 = byte(pos);
  if (b0 < 0x80) {
    cp = b0;
    return 1;
  }
  size_t n = 0;
  uint8_t lo = 0x80, hi = 0xBF; // the allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    n = 2;
    cp = b0 & 0x1Fu;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    n = 3;
    cp = b0 & 0x0Fu;
    if (b0 == 0xE0) lo = 0xA0; // no overlong forms
    if (b0 == 0xED) hi = 0x9F; // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    n = 4;
    cp = b0 & 0x07u;
    if (b0 == 0xF0) lo = 0x90; // no overlong forms
    if (b0 == 0xF4) hi = 0x8F; // nothing above U+10FFFF
  } else {
    return 0;
  }
  if (n > text.size() - pos) return 0;
  for (size_t i = 1; i < n; ++i) {
    uint8_t b = byte(pos + i);
    if (b < (i == 1 ? lo : 0x80) || b > (i == 1 ? hi : 0xBF)) return 0;
    cp = (cp << 6) | (b & 0x3Fu);
  }
  return n;
}

// Code points a terminal acts on or that change how the rest of the line reads.
bool is_invisible_control(uint32_t cp) {
  return (cp >= 0x80 && cp <= 0x9F) || cp == 0x200E || cp == 0x200F || cp == 0x2028 || cp == 0x2029 ||
         (cp >= 0x202A && cp <= 0x202E) || (cp >= 0x2066 && cp <= 0x2069);
}

void append_hex_byte(std::string &out, uint8_t b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02x", b);
  out += buf;
}

} // namespace

std::string terminal_text(std::string_view text, Newlines newlines) {
  std::string out;
  out.reserve(text.size());
  size_t pos = 0;
  while (pos < text.size()) {
    uint32_t cp = 0;
    size_t n = utf8_sequence(text, pos, cp);
    if (n == 0) {
      append_hex_byte(out, static_cast<uint8_t>(text[pos]));
      ++pos;
      continue;
    }
    if (cp < 0x20 || cp == 0x7F) {
      bool keep = newlines == Newlines::keep && (cp == '\n' || cp == '\t');
      if (keep)
        out.push_back(static_cast<char>(cp));
      else if (cp == '\n')
        out += "\\n";
      else if (cp == '\r')
        out += "\\r";
      else if (cp == '\t')
        out += "\\t";
      else
        append_hex_byte(out, static_cast<uint8_t>(cp));
    } else if (is_invisible_control(cp)) {
      char buf[12];
      std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      out += buf;
    } else {
      out.append(text.substr(pos, n));
    }
    pos += n;
  }
  return out;
}

std::string echoed(std::string_view value) {
  if (value.size() <= k_max_echoed_bytes) return terminal_text(value);
  // Cut before a sequence the cut would split, so the kept part escapes as it reads.
  std::string_view head = value.substr(0, complete_utf8_prefix(value.substr(0, k_max_echoed_bytes)));
  return terminal_text(head) + "... (" + std::to_string(value.size()) + " bytes)";
}

size_t complete_utf8_prefix(std::string_view text) {
  // A sequence is at most 4 bytes: look at the last 3 for the start of an unfinished one.
  size_t start = text.size() > 3 ? text.size() - 3 : 0;
  for (size_t pos = text.size(); pos > start; --pos) {
    uint8_t b = static_cast<uint8_t>(text[pos - 1]);
    if (b < 0x80) return text.size(); // ASCII: nothing unfinished after it
    if (b >= 0xC0) {
      // A lead byte at pos - 1: unfinished if fewer bytes follow than it announces.
      size_t need = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2;
      return text.size() - (pos - 1) < need ? pos - 1 : text.size();
    }
  }
  return text.size();
}

} // namespace mrforge

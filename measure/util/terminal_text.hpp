// Untrusted text on its way to a terminal. Event names, payloads, file names, quote and envelope
// fields come from whoever made the input; printed raw, a newline fakes an output line ("RESULT:
// OK"), ESC starts a sequence the terminal obeys (conceal, move the cursor, retitle the window), CR
// overwrites the line. Every such byte becomes a visible escape instead.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace mrforge {

enum class Newlines {
  escape, // one line: '\n' and '\t' are escaped like every other control character
  keep,   // text of several lines: '\n' and '\t' pass, every other control character is escaped
};

// `text` with printable UTF-8 kept and everything else made visible: C0 controls (ESC, CR, LF,
// TAB, ...) as \n \r \t or \xNN, DEL as \x7f, C1 controls (U+0080..U+009F), the line and paragraph
// separators U+2028/U+2029 and the bidirectional marks and overrides (U+200E, U+200F,
// U+202A..U+202E, U+2066..U+2069) as \uNNNN, and every byte that is not part of well-formed UTF-8
// (overlong forms, surrogates, above U+10FFFF, truncated sequences) as \xNN. A backslash is not
// doubled: the result is for reading, not for parsing back. Never throws.
std::string terminal_text(std::string_view text, Newlines newlines = Newlines::escape);

// How much of an input value an error message quotes.
constexpr size_t k_max_echoed_bytes = 200;

// An input value quoted in a message: terminal_text of its first k_max_echoed_bytes bytes, and
// "... (N bytes)" when it is longer, so a 50 MB name does not become a 50 MB message.
std::string echoed(std::string_view value);

// The length of the longest prefix of `text` that does not end inside a UTF-8 sequence that the
// next bytes could still complete (for a stream that escapes text as it arrives in pieces).
size_t complete_utf8_prefix(std::string_view text);

} // namespace mrforge

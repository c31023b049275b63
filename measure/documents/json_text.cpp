#include <measure/documents/json_text.hpp>
#include <measure/util/errors.hpp>

#include <algorithm>

namespace mrforge::json_text_detail {

namespace {
// "[json.exception.parse_error.101] parse error at line 1, column 5: syntax error ..." without
// the bracketed id; the position is reported as the offset instead.
std::string message_of(const nlohmann::json::exception &e) {
  std::string m = e.what();
  size_t id_end = m.find("] ");
  if (id_end != std::string::npos) m = m.substr(id_end + 2);
  return m;
}

// The first offset outside JSON strings at which `found` returns true (text.size() if none).
template <class Found> size_t first_outside_strings(std::string_view text, Found found) {
  bool in_string = false;
  for (size_t at = 0; at < text.size(); ++at) {
    char c = text[at];
    if (in_string) {
      if (c == '\\')
        ++at; // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
    } else if (c == '"') {
      in_string = true;
    } else if (found(at)) {
      return at;
    }
  }
  return text.size();
}

// out_of_range.406 carries the literal ("number overflow parsing '1e999'") but no position: the
// parser stopped at the literal's first occurrence outside strings and not inside a longer number.
uint64_t literal_offset(const std::string &message, std::string_view text) {
  size_t open = message.find('\'');
  size_t close = message.rfind('\'');
  if (open == std::string::npos || close <= open + 1) return 0;
  std::string_view literal(message.data() + open + 1, close - open - 1);
  auto part_of_number = [](char c) {
    return (c >= '0' && c <= '9') || c == '-' || c == '+' || c == '.' || c == 'e' || c == 'E';
  };
  size_t at = first_outside_strings(text, [&](size_t i) {
    return text.compare(i, literal.size(), literal) == 0 && (i == 0 || !part_of_number(text[i - 1])) &&
           (i + literal.size() == text.size() || !part_of_number(text[i + literal.size()]));
  });
  return at == text.size() ? 0 : at;
}
} // namespace

void check_nesting(std::string_view text, const std::string &source, int max_depth) {
  int depth = 0;
  size_t at = first_outside_strings(text, [&](size_t i) {
    if (text[i] == '[' || text[i] == '{') return ++depth > max_depth;
    if ((text[i] == ']' || text[i] == '}') && depth > 0) --depth;
    return false;
  });
  if (at < text.size())
    throw FormatError(source, at,
                      "arrays and objects nested deeper than " + std::to_string(max_depth) +
                          " levels; mrforge reads JSON nested at most that deep");
}

void throw_format_error(const nlohmann::json::exception &e, std::string_view text, const std::string &source) {
  if (const auto *pe = dynamic_cast<const nlohmann::json::parse_error *>(&e)) {
    // byte counts the bytes read including the offending one; at the end of truncated text it
    // is one past the end.
    uint64_t offset = pe->byte == 0 ? 0 : std::min<uint64_t>(pe->byte - 1, text.size());
    if (offset >= text.size())
      throw FormatError(source, text.size(), "truncated: the JSON ends early (" + message_of(e) + ")");
    throw FormatError(source, offset, "not valid JSON: " + message_of(e));
  }
  throw FormatError(source, literal_offset(e.what(), text), "not valid JSON: " + message_of(e));
}

} // namespace mrforge::json_text_detail

#include <measure/errors.hpp>
#include <measure/json_text.hpp>

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
  bool in_string = false;
  for (size_t at = 0; at < text.size(); ++at) {
    char c = text[at];
    if (in_string) {
      if (c == '\\')
        ++at; // the escaped character cannot end the string
      else if (c == '"')
        in_string = false;
      continue;
    }
    if (c == '"') {
      in_string = true;
      continue;
    }
    if (text.compare(at, literal.size(), literal) == 0 && (at == 0 || !part_of_number(text[at - 1])) &&
        (at + literal.size() == text.size() || !part_of_number(text[at + literal.size()])))
      return at;
  }
  return 0;
}
} // namespace

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

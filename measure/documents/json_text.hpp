// Parsing untrusted JSON text with nlohmann/json so that every way it can fail is a FormatError
// naming the source and the byte offset, never an unexpected exception: nlohmann reports bad
// syntax as parse_error (with a byte count) but a number too large for a double ("1e999") as
// out_of_range (without one), and a caller that catches only the first crashes on the second.
// Every reader of JSON from outside (envelopes, statements, locks, build records, dstack event
// logs, expected values) parses through here.
//
// Nesting is limited to limits::k_max_json_depth (128) arrays and objects inside each other: deeper
// text is refused before nlohmann parses it, so every recursive walk over a parsed value (copies,
// comparisons, dump(), diff's field-by-field comparison) is bounded.
#pragma once

#include <measure/util/bytes.hpp>
#include <measure/util/input_limits.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>
#include <utility>

namespace mrforge {

namespace json_text_detail {
// The FormatError for one of nlohmann's exceptions while parsing `text`: the offset of the
// offending byte (of the out-of-range number's literal for out_of_range), "truncated" when the
// text ended early, and nlohmann's message without its "[json.exception...]" prefix.
[[noreturn]] void throw_format_error(const nlohmann::json::exception &e, std::string_view text,
                                     const std::string &source);
// Throws FormatError at the opening bracket that nests deeper than `max_depth` (brackets inside
// strings do not count).
void check_nesting(std::string_view text, const std::string &source, int max_depth);
} // namespace json_text_detail

// Parses `text` (from `source`, a file name or a description for messages) as one JSON document.
// `callback` is nlohmann's parser callback (it may throw mrforge errors of its own, which pass
// through). Json is nlohmann::json or nlohmann::ordered_json. Throws FormatError for text that is
// not JSON and for nesting deeper than limits::k_max_json_depth.
template <class Json = nlohmann::json>
Json parse_json_text(std::string_view text, const std::string &source,
                     typename Json::parser_callback_t callback = nullptr) {
  json_text_detail::check_nesting(text, source, limits::k_max_json_depth);
  try {
    return Json::parse(text.begin(), text.end(), callback);
  } catch (const nlohmann::json::parse_error &e) {
    json_text_detail::throw_format_error(e, text, source);
  } catch (const nlohmann::json::out_of_range &e) {
    json_text_detail::throw_format_error(e, text, source);
  }
}

template <class Json = nlohmann::json>
Json parse_json_text(ByteView bytes, const std::string &source, typename Json::parser_callback_t callback = nullptr) {
  return parse_json_text<Json>(std::string_view(reinterpret_cast<const char *>(bytes.data()), bytes.size()), source,
                               std::move(callback));
}

} // namespace mrforge

#include <measure/documents/json_text.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace mrforge;

namespace {
// The FormatError parse_json_text throws for `text`, checked to be one.
FormatError failure_of(const std::string &text) {
  try {
    parse_json_text(text, "doc.json");
  } catch (const FormatError &e) {
    return e;
  }
  FAIL("parsed without an error: " << text);
  return FormatError("", 0, "");
}
} // namespace

TEST_CASE("parse_json_text parses JSON and keeps key order for ordered_json", "[json_text]") {
  nlohmann::json j = parse_json_text("{\"b\": 1, \"a\": [true, null, 2.5]}", "doc.json");
  CHECK(j["b"] == 1);
  CHECK(j["a"][2] == 2.5);
  nlohmann::ordered_json o = parse_json_text<nlohmann::ordered_json>("{\"b\": 1, \"a\": 2}", "doc.json");
  CHECK(o.begin().key() == "b");
}

TEST_CASE("a syntax error is a FormatError at the offending byte", "[json_text]") {
  FormatError e = failure_of("{\"payload\": nope}");
  CHECK(e.source() == "doc.json");
  CHECK(e.offset() == 13); // the 'o' of nope, where it stops being null
  CHECK_THAT(e.detail(), Catch::StartsWith("not valid JSON: "));
  CHECK_THAT(e.detail(), Catch::Contains("syntax error"));
  CHECK_THAT(e.detail(), !Catch::Contains("[json.exception"));
}

TEST_CASE("text that ends early is reported as truncated at its end", "[json_text]") {
  std::string text = "{\"a\": [1, 2";
  FormatError e = failure_of(text);
  CHECK(e.offset() == text.size());
  CHECK_THAT(e.detail(), Catch::StartsWith("truncated: the JSON ends early"));
  CHECK(failure_of("").offset() == 0);
}

TEST_CASE("a number too large for a double is a FormatError at its literal, not an escaping exception", "[json_text]") {
  // nlohmann throws out_of_range (not parse_error) for these: a fuzzer found an envelope with one
  // that crashed a reader catching only parse_error.
  std::string text = "{\"n\": 9, \"m\": 999e801}";
  FormatError e = failure_of(text);
  CHECK(e.offset() == text.find("999e801"));
  CHECK_THAT(e.detail(), Catch::Contains("number overflow parsing '999e801'"));
  // The literal's first occurrence outside strings and longer numbers.
  std::string twice = "[\"21e9990\", 21e9990, 1e999]";
  CHECK(failure_of("[21e9990, 1e999]").offset() == 1);
  CHECK(failure_of("[-1e999]").offset() == 1);
  CHECK(failure_of(twice).offset() == twice.find(", 21e9990") + 2);
}

TEST_CASE("a parser callback's own errors pass through parse_json_text", "[json_text]") {
  auto refuse_keys = [](int, nlohmann::json::parse_event_t event, nlohmann::json &) {
    if (event == nlohmann::json::parse_event_t::key) throw InputError("doc.json", "no keys here");
    return true;
  };
  CHECK_THROWS_AS(parse_json_text("{\"a\": 1}", "doc.json", refuse_keys), InputError);
  CHECK(parse_json_text("[1]", "doc.json", refuse_keys)[0] == 1);
}

// Numbers in YAML documents: whole strings read with std::from_chars, and no C octal surprise.
#include <measure/documents/yaml_field.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/size_text.hpp>

#include <catch2/catch.hpp>

#include <string>

using namespace mrforge;

namespace {

YamlField value_of(const std::string &scalar) {
  return YamlField(parse_yaml_text("v: " + scalar + "\n", "doc.yaml", "YAML"), "doc.yaml", "").required("v");
}

std::string u64_error(const std::string &scalar) {
  try {
    (void)value_of(scalar).u64();
  } catch (const DocumentError &e) {
    return e.what();
  }
  FAIL("accepted: " << scalar);
  return "";
}

} // namespace

TEST_CASE("YamlField::u64 reads decimal and 0x hex, and refuses a leading zero instead of reading octal",
          "[yaml][numbers]") {
  CHECK(value_of("10").u64() == 10);
  CHECK(value_of("0").u64() == 0);
  CHECK(value_of("0x10").u64() == 16);
  CHECK(value_of("0XfF").u64() == 255);
  CHECK(value_of("18446744073709551615").u64() == UINT64_MAX);

  // strtoull(base 0) read `010` as octal 8 while the message promised "decimal or 0x hex".
  std::string e = u64_error("010");
  CHECK(e.find("doc.yaml:1") != std::string::npos);
  CHECK(e.find("'010' has a leading zero") != std::string::npos);
  CHECK(u64_error("00").find("leading zero") != std::string::npos);

  for (const char *bad : {"18446744073709551616", "-1", "+1", "1 2", "0x", "0x-1", "1e3", "12abc", "''"}) {
    INFO(bad);
    CHECK(u64_error(bad).find("expected an unsigned integer (decimal or 0x hex)") != std::string::npos);
  }
}

TEST_CASE("YamlField::i64 and mode read whole strings with std::from_chars", "[yaml][numbers]") {
  CHECK(value_of("-42").i64() == -42);
  CHECK(value_of("9223372036854775807").i64() == INT64_MAX);
  for (const char *bad : {"+1", "9223372036854775808", "1.5", "0x10", "''"}) {
    INFO(bad);
    CHECK_THROWS_WITH(value_of(bad).i64(), Catch::Contains("expected a decimal integer"));
  }
  CHECK(value_of("'0644'").mode() == 0644);
  CHECK(value_of("'7777'").mode() == 07777);
  CHECK_THROWS_WITH(value_of("'17777'").mode(), Catch::Contains("has bits beyond 07777"));
  CHECK_THROWS_WITH(value_of("'0648'").mode(), Catch::Contains("expected an octal file mode"));
}

TEST_CASE("parse_unsigned takes the whole string in its base, or nothing", "[numbers]") {
  CHECK(parse_unsigned("65535") == std::optional<uint64_t>(65535));
  CHECK(parse_unsigned("ff", 16) == std::optional<uint64_t>(255));
  CHECK(parse_unsigned("755", 8) == std::optional<uint64_t>(0755));
  CHECK(parse_unsigned("18446744073709551615") == std::optional<uint64_t>(UINT64_MAX));
  CHECK_FALSE(parse_unsigned("18446744073709551616"));
  CHECK_FALSE(parse_unsigned(""));
  CHECK_FALSE(parse_unsigned("-1"));
  CHECK_FALSE(parse_unsigned("+1"));
  CHECK_FALSE(parse_unsigned(" 1"));
  CHECK_FALSE(parse_unsigned("1 "));
  CHECK_FALSE(parse_unsigned("8", 8));
  CHECK_FALSE(parse_unsigned("0x10", 16));
}

// The one base64 (measure/util/base64): RFC 4648 section 10 vectors in every mode, and the
// refusals (mixed alphabets, padding where or when it does not belong, non-zero leftover bits).
// signing_test checks the standard mode against coreutils.
#include <measure/util/base64.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace mrforge;

namespace {

std::vector<uint8_t> bytes_of(const std::string &s) { return {s.begin(), s.end()}; }

std::string error_of(std::string_view text, Base64Options options) {
  try {
    base64_decode(text, "field", options);
  } catch (const InputError &e) {
    CHECK(e.input() == "field");
    return e.what();
  }
  FAIL("accepted: " << text);
  return {};
}

constexpr Base64Options k_url{Base64Alphabet::url_safe, Base64Padding::required};
constexpr Base64Options k_url_unpadded{Base64Alphabet::url_safe, Base64Padding::none};
constexpr Base64Options k_either_optional{Base64Alphabet::either, Base64Padding::optional};

} // namespace

TEST_CASE("base64 encodes and decodes the RFC 4648 vectors in every mode", "[base64]") {
  struct Vector {
    std::string plain, padded;
  };
  // RFC 4648 section 10.
  const std::vector<Vector> vectors = {{"", ""},
                                       {"f", "Zg=="},
                                       {"fo", "Zm8="},
                                       {"foo", "Zm9v"},
                                       {"foob", "Zm9vYg=="},
                                       {"fooba", "Zm9vYmE="},
                                       {"foobar", "Zm9vYmFy"}};
  for (const auto &v : vectors) {
    INFO(v.plain);
    std::string unpadded = v.padded.substr(0, v.padded.find('='));
    CHECK(base64_encode(bytes_of(v.plain)) == v.padded);
    CHECK(base64_encode(bytes_of(v.plain), k_url_unpadded) == unpadded);
    CHECK(base64_decode(v.padded, "v") == bytes_of(v.plain));
    CHECK(base64_decode(v.padded, "v", k_url) == bytes_of(v.plain));
    CHECK(base64_decode(unpadded, "v", k_url_unpadded) == bytes_of(v.plain));
    CHECK(base64_decode(unpadded, "v", k_either_optional) == bytes_of(v.plain));
    CHECK(base64_decode(v.padded, "v", k_either_optional) == bytes_of(v.plain));
  }
  // The two characters the alphabets differ in (RFC 4648 sections 4 and 5): 62 and 63.
  const std::vector<uint8_t> high = {0xfb, 0xff, 0xbf, 0x3e, 0x3f};
  CHECK(base64_encode(high) == "+/+/Pj8=");
  CHECK(base64_encode(high, k_url) == "-_-_Pj8=");
  CHECK(base64_encode(high, k_url_unpadded) == "-_-_Pj8");
  CHECK(base64_decode("-_-_Pj8", "v", k_url_unpadded) == high);
  CHECK(base64_decode("-_-_Pj8", "v", k_either_optional) == high);
  CHECK(base64_decode("+/+/Pj8", "v", k_either_optional) == high);
  // Every byte value, through each mode and back.
  std::vector<uint8_t> all;
  for (int i = 0; i < 256; ++i) all.push_back(static_cast<uint8_t>(i));
  for (Base64Options o : {Base64Options{}, k_url, k_url_unpadded, k_either_optional})
    CHECK(base64_decode(base64_encode(all, o), "all", o) == all);
}

TEST_CASE("base64 refuses mixed alphabets, misplaced padding and non-zero leftover bits", "[base64]") {
  struct Case {
    std::string text;
    Base64Options options;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"+/+/", k_url, "not base64: '+' at offset 0"}, // standard alphabet in URL-safe mode
      {"-_-_", {}, "not base64: '-' at offset 0"},    // URL-safe alphabet in standard mode
      {"-/+_Pj8=", k_either_optional, "'/' at offset 1 mixes the standard and the URL-safe alphabet"},
      {"ab-d+fgh", k_either_optional, "'+' at offset 4 mixes the standard and the URL-safe alphabet"},
      {"Zm8", {}, "length 3 is not a multiple of 4"}, // padding required
      {"Zm8", k_url, "length 3 is not a multiple of 4"},
      {"Zm8=", k_url_unpadded, "'=' at offset 3 (this base64 is unpadded)"},
      {"Zg=", k_either_optional, "length 3 is not a multiple of 4"}, // padded, but short
      {"Zm9vY", k_either_optional, "length 5 leaves one character in the last group"},
      {"Z", k_url_unpadded, "length 1 leaves one character in the last group"},
      {"Zm=v", k_either_optional, "'=' at offset 2 (padding belongs only at the end)"},
      {"Zm9v===", k_either_optional, "'=' at offset 4 (padding belongs only at the end)"},
      {"Zh", k_url_unpadded, "non-zero padding bits in 'h' at offset 1"},     // 'h' = 100001
      {"Zm9", k_either_optional, "non-zero padding bits in '9' at offset 2"}, // '9' = 111101
      {"Z-", k_url_unpadded, "non-zero padding bits in '-' at offset 1"},     // '-' = 111110
      {"Zm9v Yg", k_either_optional, "byte 0x20 at offset 4"},
      {"Zm9v\n", k_url_unpadded, "byte 0x0a at offset 4"},
  };
  for (const auto &c : cases) {
    INFO(c.text);
    CHECK_THAT(error_of(c.text, c.options), Catch::StartsWith("field: ") && Catch::Contains(c.message));
  }
}

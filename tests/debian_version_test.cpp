// dpkg version comparison: pairs from dpkg's own test suite (lib/dpkg/t/t-version.c) and from the
// Debian archive, and the validation of dpkg's parseversion().
#include <builder/debian/version.hpp>

#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace mrforge;
using namespace mrforge::builder::debian;

namespace {

int sign(int v) { return (v > 0) - (v < 0); }

struct Pair {
  const char *a;
  const char *b;
  int expected; // sign of compare(a, b)
};

} // namespace

TEST_CASE("Versions compare exactly as dpkg's verrevcmp does", "[debian][version]") {
  const std::vector<Pair> pairs = {
      // dpkg's t-version.c
      {"0:0", "0:0-0", 0},
      {"0:0", "0:0-00", 0},
      {"0:0-0", "0:0-00", 0},
      {"0:0.0-0", "0:0.0-00", 0},
      {"0:0", "0", 0},
      {"1:2-3", "1:2-3", 0},
      {"1:2-3", "1:2-4", -1},
      {"1:2-3", "2:2-3", -1},
      {"1:2-3", "1:3-3", -1},
      {"2:2-3", "1:2-3", 1},
      {"0:a", "0:b", -1},
      {"0:a", "0:a-b", -1},
      {"0:a~", "0:a", -1},
      {"0:a~b", "0:a", -1},
      {"0:a~b", "0:a~", 1},
      {"0:a~~", "0:a~", -1},
      {"0:1.0", "0:1.0a", -1},
      {"0:1.0+", "0:1.0a", 1},
      {"0:1.0.", "0:1.0+", 1},
      {"0:0-a", "0:0-b", -1},
      {"0:0-1", "0:0-2", -1},
      {"0:0-a.", "0:0-a+", 1},
      // Common cases from the archive and the Debian Policy.
      {"1.0~rc1", "1.0", -1},
      {"1.0~rc1", "1.0~rc2", -1},
      {"1.0~rc1-1", "1.0-1", -1},
      {"1:0.1", "2.0", 1},
      {"1.0-1", "1.0-1+b1", -1},
      {"1.0-1+b1", "1.0-1+b2", -1},
      {"1.0-1+deb12u1", "1.0-1", 1},
      {"2.30-1", "2.3-1", 1},
      {"2.36-9+deb12u4", "2.36-9+deb12u10", -1},
      {"1.2.3", "1.2.10", -1},
      {"1.002", "1.2", 0},
      {"1.0", "1.0-0", 0},
      {"1.0", "1.0-1", -1},
      {"1.0~", "1.0", -1},
      {"1.0~~", "1.0~", -1},
      {"1.0~~a", "1.0~", -1},
      {"1.0a", "1.0", 1},
      {"1.0.1", "1.0+1", 1},
      {"3.0.11-1~deb12u2", "3.0.11-1", -1},
      {"7.88.1-10+deb12u5", "7.88.1-10+deb12u12", -1},
      {"252.30-1~deb12u2", "252.26-1~deb12u2", 1},
      {"20230311", "20230106+nmu1", 1},
      {"1:9.18.28-1~deb12u2", "9.18.33-1", 1},
      {"2.9.14+dfsg-1.3~deb12u1", "2.9.14+dfsg-1.3", -1},
      {"6.1.0-9", "6.1.0-10", -1},
      {"1.0-1", "1.0-1.1", -1},
      {"1.0a1", "1.0a10", -1},
      {"1.0+git20230101", "1.0", 1},
      {"1.0+git20230101", "1.0.1", -1},
  };
  for (const auto &p : pairs) {
    INFO(p.a << " vs " << p.b);
    CHECK(sign(compare_versions(p.a, p.b)) == p.expected);
    CHECK(sign(compare_versions(p.b, p.a)) == -p.expected);
  }
}

TEST_CASE("A version splits into epoch, upstream and revision at the first colon and the last hyphen",
          "[debian][version]") {
  Version v = parse_version("1:2.30-rc1-3+b1", "test");
  CHECK(v.epoch == 1);
  CHECK(v.upstream == "2.30-rc1");
  CHECK(v.revision == "3+b1");
  CHECK(v.to_string() == "1:2.30-rc1-3+b1");
  CHECK(parse_version("  0:1.0 ", "t").to_string() == "1.0");
  CHECK(parse_version("1:2:3", "t").upstream == "2:3");
  CHECK(parse_version("abc", "t").upstream == "abc"); // dpkg only warns about a non-digit start
}

TEST_CASE("Malformed versions are refused as dpkg's parseversion refuses them", "[debian][version]") {
  for (const char *bad : {"", "   ", "1.0 1", ":1.0", "a:1.0", "-1:1.0", "1:", "1.0-", "-1", "1:-1", "99999999999:1",
                          "1.0_1", "1.0-1_2", "1.0-1:2", "1.0/1", "1.0\t2"}) {
    INFO("\"" << bad << "\"");
    CHECK_THROWS_AS(parse_version(bad, "test"), InputError);
  }
  try {
    parse_version("1.0-", "Packages: foo");
    FAIL("no error");
  } catch (const InputError &e) {
    CHECK(std::string(e.what()) == "Packages: foo: version \"1.0-\": revision number is empty");
  }
}

TEST_CASE("Comparing parts treats tilde as earlier than the end of the string", "[debian][version]") {
  CHECK(compare_version_part("~", "") < 0);
  CHECK(compare_version_part("", "a") < 0);
  CHECK(compare_version_part("a", "+") < 0);
  CHECK(compare_version_part("010", "10") == 0);
  CHECK(compare_version_part("", "") == 0);
}

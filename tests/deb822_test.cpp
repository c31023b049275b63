// Debian control-format paragraphs: real files (this machine's dpkg status), continuation lines,
// case-insensitive lookup with original order and text, and errors located by line.
#include <builder/debian/deb822.hpp>

#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <fstream>
#include <sstream>
#include <string>

using namespace mrforge;
using namespace mrforge::builder::debian;

namespace {

// A Packages paragraph as Debian bookworm's main/binary-amd64/Packages has it (hello 2.10-3).
const std::string k_hello = "Package: hello\n"
                            "Version: 2.10-3\n"
                            "Installed-Size: 280\n"
                            "Maintainer: Santiago Vila <sanvila@debian.org>\n"
                            "Architecture: amd64\n"
                            "Depends: libc6 (>= 2.34)\n"
                            "Description: example package based on GNU hello\n"
                            "Homepage: https://www.gnu.org/software/hello/\n"
                            "Description-md5: 27cf0ee7c2c5a4e8d7e2b0e0b5a5d2e7\n"
                            "Tag: devel::examples, role::program, scope::utility\n"
                            "Section: devel\n"
                            "Priority: optional\n"
                            "Filename: pool/main/h/hello/hello_2.10-3_amd64.deb\n"
                            "Size: 53228\n"
                            "MD5sum: 1a8d1e3c9e4e0a1f1e9e1c8f2f6a3b5d\n"
                            "SHA256: 2ba9ee1f9b4a9b1e6bd6f5c1cfdd4bd7dc5c09e9cfdf8bb2b5b8f5b4a7f0f6b1\n";

int error_line(const std::string &text, Comments comments = Comments::reject) {
  try {
    parse_deb822(text, "test.txt", comments);
  } catch (const DocumentError &e) {
    CHECK(e.file() == "test.txt");
    return e.line();
  }
  FAIL("no error for:\n" << text);
  return 0;
}

} // namespace

TEST_CASE("A Packages paragraph parses into fields in their original order", "[debian][deb822]") {
  auto paragraphs = parse_deb822(k_hello + "\n" + k_hello, "Packages");
  REQUIRE(paragraphs.size() == 2);
  const Paragraph &p = paragraphs[0];
  CHECK(p.line == 1);
  CHECK(paragraphs[1].line == 18);
  REQUIRE(p.fields.size() == 16);
  CHECK(p.fields[0].name == "Package");
  CHECK(p.fields[15].name == "SHA256");
  CHECK(p.get("version") == "2.10-3");
  CHECK(p.get("VERSION") == "2.10-3");
  CHECK(p.required("Filename") == "pool/main/h/hello/hello_2.10-3_amd64.deb");
  CHECK(p.get("Recommends", "none") == "none");
  CHECK_FALSE(p.has("Recommends"));
  CHECK(p.find("size")->line == 14);
  CHECK(p.to_text() == k_hello);
}

TEST_CASE("Continuation lines are kept with their leading space so paragraphs can be rewritten", "[debian][deb822]") {
  const std::string text = "Package: adduser\n"
                           "Conffiles:\n"
                           " /etc/adduser.conf cc3493ecd2d09837ffdcc3e25fdfff18\n"
                           " /etc/deluser.conf 11a06baf8245fd8d690b99024d228c1f\n"
                           "Description: add and remove users and groups\n"
                           " This package includes the 'adduser' and 'deluser' commands.\n"
                           " .\n"
                           "\tTabbed continuation\n";
  auto paragraphs = parse_deb822(text, "status");
  REQUIRE(paragraphs.size() == 1);
  const Paragraph &p = paragraphs[0];
  CHECK(p.get("Conffiles") ==
        "\n /etc/adduser.conf cc3493ecd2d09837ffdcc3e25fdfff18\n /etc/deluser.conf 11a06baf8245fd8d690b99024d228c1f");
  CHECK(p.get("Description") == "add and remove users and groups\n This package includes the 'adduser' and "
                                "'deluser' commands.\n .\n\tTabbed continuation");
  CHECK(p.to_text() == text);
  CHECK(split_words(p.get("Conffiles")).size() == 4);
}

TEST_CASE("Blank lines made of spaces separate paragraphs and extra blank lines are ignored", "[debian][deb822]") {
  auto paragraphs = parse_deb822("\n\nA: 1\n  \t\nB: 2\n\n\n\nC: 3\r\nD:  4  \r\n", "x");
  REQUIRE(paragraphs.size() == 3);
  CHECK(paragraphs[0].get("A") == "1");
  CHECK(paragraphs[1].line == 5);
  CHECK(paragraphs[2].get("C") == "3");
  CHECK(paragraphs[2].get("D") == "4");
  CHECK(parse_deb822("", "empty").empty());
  CHECK(parse_deb822("\n \n", "blank").empty());
}

TEST_CASE("Comment lines are skipped for apt sources and refused elsewhere", "[debian][deb822]") {
  const std::string text = "# comment\nTypes: deb\n# inside\nURIs: http://x\n";
  auto paragraphs = parse_deb822(text, "x.sources", Comments::skip);
  REQUIRE(paragraphs.size() == 1);
  CHECK(paragraphs[0].fields.size() == 2);
  CHECK(error_line(text) == 1);
}

TEST_CASE("Malformed paragraphs are errors naming the source and line", "[debian][deb822]") {
  CHECK(error_line(" continuation first\n") == 1);              // no field before
  CHECK(error_line("A: 1\nB: 2\nno colon here\n") == 3);        // missing ':'
  CHECK(error_line("A: 1\n: value\n") == 2);                    // empty name
  CHECK(error_line("A: 1\nB: 2\na: 3\n") == 3);                 // duplicate, any case
  CHECK(error_line("A: 1\n-B: 2\n") == 2);                      // name starting with '-'
  CHECK(error_line(std::string("A: 1\n\nB: x\0y\n", 13)) == 3); // NUL byte
  CHECK(error_line("A: 1\nB\xff: 2\n") == 2);                   // non-ASCII name
  CHECK(error_line(std::string(300, 'N') + ": v\n") == 1);      // name too long

  try {
    parse_deb822("Package: a\nVersion: 1\n\nPackage: b\nPackage: c\n", "Packages.xz");
    FAIL("no error");
  } catch (const DocumentError &e) {
    CHECK(std::string(e.what()) == "Packages.xz:5:1: duplicate field Package (first on line 4)");
  }
}

TEST_CASE("A missing or empty required field names the paragraph's line", "[debian][deb822]") {
  auto paragraphs = parse_deb822("A: 1\n\nB: 2\nC:\n", "Packages");
  REQUIRE(paragraphs.size() == 2);
  try {
    (void)paragraphs[1].required("Version");
    FAIL("no error");
  } catch (const DocumentError &e) {
    CHECK(e.line() == 3);
    CHECK(std::string(e.what()).find("no Version field") != std::string::npos);
  }
  CHECK_THROWS_AS(paragraphs[1].required("C"), DocumentError);
}

TEST_CASE("Every truncation of a valid paragraph parses or fails cleanly", "[debian][deb822]") {
  const std::string text = k_hello + "\nPackage: x\nDescription: d\n more\n";
  for (size_t n = 0; n <= text.size(); ++n) {
    try {
      auto paragraphs = parse_deb822(std::string_view(text).substr(0, n), "cut");
      for (const auto &p : paragraphs) CHECK_FALSE(p.fields.empty());
    } catch (const DocumentError &e) {
      CHECK(e.file() == "cut");
    }
  }
}

TEST_CASE("This machine's dpkg status parses and every paragraph is rewritten byte for byte", "[debian][deb822]") {
  std::ifstream in("/var/lib/dpkg/status", std::ios::binary);
  REQUIRE(in); // every Debian host has one
  std::stringstream ss;
  ss << in.rdbuf();
  const std::string text = ss.str();
  auto paragraphs = parse_deb822(text, "/var/lib/dpkg/status");
  REQUIRE(paragraphs.size() > 10);
  std::string rewritten;
  for (const auto &p : paragraphs) {
    CHECK_FALSE(p.required("Package").empty());
    rewritten += p.to_text() + "\n";
  }
  CHECK(rewritten == text);
}

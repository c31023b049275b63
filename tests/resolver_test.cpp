// Relationship fields and the dependency closure over synthetic indexes: alternatives, virtual
// packages, versioned constraints and provides, cycles, determinism and errors naming the chain.
#include <builder/debian/relations.hpp>
#include <builder/debian/resolver.hpp>

#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

using namespace mrforge;
using namespace mrforge::builder::debian;

namespace {

struct P {
  std::string name, version, depends = "", provides = "", pre_depends = "", architecture = "amd64";
};

RepositoryIndex make_index(const std::string &suite, const std::vector<P> &packages) {
  RepositoryIndex index;
  index.source = AptSource{"http://example.invalid/debian", suite, {"main"}, "amd64", ""};
  for (const auto &p : packages) {
    PackageRecord r;
    r.name = p.name;
    r.version = p.version;
    r.architecture = p.architecture;
    r.filename = "pool/main/" + p.name + "_" + p.version + "_" + p.architecture + ".deb";
    r.size = 1;
    r.sha256 = std::string(64, '0');
    r.source_index = suite + "/main";
    r.depends = p.depends;
    r.pre_depends = p.pre_depends;
    r.provides = p.provides;
    index.packages.push_back(r);
  }
  return index;
}

std::vector<std::string> names(const Resolution &r) {
  std::vector<std::string> out;
  for (const auto &p : r.packages) out.push_back(p.name + "=" + p.version);
  return out;
}

std::string resolution_error(const std::vector<std::string> &requested, const std::vector<RepositoryIndex> &indexes) {
  try {
    resolve_dependencies(requested, indexes, "amd64");
  } catch (const ResolutionError &e) {
    return e.what();
  }
  FAIL("no resolution error");
  return {};
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

} // namespace

TEST_CASE("Depends fields parse into groups of alternatives with versions and qualifiers", "[debian][relations]") {
  auto groups = parse_dependencies("libc6 (>= 2.34), debconf (>= 0.5) | debconf-2.0,python3:any,\n"
                                   " libfoo (<< 2~), bar (=1.0-1), baz(>>1:2),qux (<= 3)",
                                   "test", "amd64");
  REQUIRE(groups.size() == 7);
  CHECK(groups[0][0].name == "libc6");
  CHECK(groups[0][0].relation == Relation::later_equal);
  CHECK(groups[0][0].version.to_string() == "2.34");
  REQUIRE(groups[1].size() == 2);
  CHECK(groups[1][1].name == "debconf-2.0");
  CHECK(groups[1][1].relation == Relation::none);
  CHECK(groups[2][0].arch_qualifier == "any");
  CHECK(groups[3][0].relation == Relation::earlier);
  CHECK(groups[4][0].relation == Relation::equal);
  CHECK(groups[4][0].to_string() == "bar (= 1.0-1)");
  CHECK(groups[5][0].version.epoch == 1);
  CHECK(groups[6][0].relation == Relation::earlier_equal);
  CHECK(parse_dependencies("", "t", "amd64").empty());
  CHECK(parse_dependencies("a,", "t", "amd64").size() == 1); // a trailing comma is tolerated
  CHECK(parse_dependencies("a (< 1), b (> 2)", "t", "amd64")[1][0].relation == Relation::later_equal);
}

TEST_CASE("Architecture restrictions and build profiles are evaluated for binary packages", "[debian][relations]") {
  auto groups = parse_dependencies("a [amd64], b [!amd64], c [i386 arm64] | d, e [linux-any], f [!i386] <!nocheck>, "
                                   "g <nocheck>, h <stage1 !nocheck> <!stage2>, i [any-amd64]",
                                   "test", "amd64");
  std::vector<std::string> got;
  for (const auto &g : groups) {
    std::string s;
    for (const auto &d : g) s += (s.empty() ? "" : "|") + d.name;
    got.push_back(s);
  }
  CHECK(got == std::vector<std::string>{"a", "d", "e", "f", "h", "i"});
}

TEST_CASE("Malformed relationship fields are errors naming the field", "[debian][relations]") {
  for (const char *bad : {"a (>= )", "a (~ 1)", "a (>= 1", "a,,b", "a | | b", "(>= 1)", "a [amd64", "a [ ]", "a <>",
                          "a extra", "a:", "a (>= 1_2)", "a [am/d64]"}) {
    INFO(bad);
    CHECK_THROWS_AS(parse_dependencies(bad, "bookworm/main: x: Depends", "amd64"), InputError);
  }
  try {
    parse_dependencies("libc6 (>= 2.34), foo (~ 1)", "bookworm/main: x 1.0: Depends", "amd64");
  } catch (const InputError &e) {
    CHECK(std::string(e.what()) == "bookworm/main: x 1.0: Depends: \"foo (~ 1)\": unknown version relation \"\"");
  }
}

TEST_CASE("Provides entries may carry an exact version and nothing else", "[debian][relations]") {
  auto provides = parse_provides("mail-transport-agent, libfoo-abi (= 2.1), default-mta", "t");
  REQUIRE(provides.size() == 3);
  CHECK_FALSE(provides[0].versioned);
  CHECK(provides[1].versioned);
  CHECK(provides[1].version.to_string() == "2.1");
  CHECK_THROWS_AS(parse_provides("a (>= 1)", "t"), InputError);
  CHECK_THROWS_AS(parse_provides("a | b", "t"), InputError);
}

TEST_CASE("Version constraints hold as dpkg defines them", "[debian][relations]") {
  Version v = parse_version("1.0-1", "t");
  CHECK(satisfies(v, Relation::later_equal, parse_version("1.0", "t")));
  CHECK(satisfies(v, Relation::earlier, parse_version("1.0-1+b1", "t")));
  CHECK_FALSE(satisfies(v, Relation::later, parse_version("1.0-1", "t")));
  CHECK(satisfies(v, Relation::equal, parse_version("0:1.0-1", "t")));
  CHECK(satisfies(v, Relation::earlier_equal, parse_version("1.0-1", "t")));
}

TEST_CASE("The closure follows Depends and Pre-Depends and ignores what is not needed", "[debian][resolver]") {
  auto index = make_index("bookworm", {{"curl", "7.88.1-10", "libcurl4 (= 7.88.1-10), libc6 (>= 2.34)"},
                                       {"libcurl4", "7.88.1-10", "libc6 (>= 2.17), libssl3 (>= 3.0.0)"},
                                       {"libc6", "2.36-9", "", "", "libgcc-s1"},
                                       {"libgcc-s1", "12.2.0-14", "libc6 (>= 2.35)"}, // a cycle with libc6
                                       {"libssl3", "3.0.11-1", "libc6 (>= 2.34)"},
                                       {"unrelated", "1.0", "libc6"}});
  Resolution r = resolve_dependencies({"curl"}, {index}, "amd64");
  CHECK(names(r) == std::vector<std::string>{"curl=7.88.1-10", "libc6=2.36-9", "libcurl4=7.88.1-10",
                                             "libgcc-s1=12.2.0-14", "libssl3=3.0.11-1"});
  CHECK(r.reason.at("curl") == "requested");
  CHECK(r.reason.at("libcurl4") == "dependency of curl");
  CHECK(r.reason.at("libgcc-s1") == "dependency of libc6");
  CHECK(r.packages[0].source_index == "bookworm/main");
}

TEST_CASE("Without following dependencies the result is the requested packages alone", "[debian][resolver]") {
  // A firmware set: files are taken out of these packages, nothing is installed, so shim-signed's
  // Depends (even one no index can meet) are neither followed nor checked.
  auto index = make_index("bookworm", {{"shim-signed", "1.44~1+deb12u1+15.8-1~deb12u1",
                                        "shim-helpers-amd64-signed (>= 1+15.8+1~deb12u1), grub-efi-amd64-bin, "
                                        "mokutil (>= 0.6.0), missing-package"},
                                       {"grub-efi-amd64-signed", "1+2.06+13+deb12u1", "grub-efi-amd64-bin (= 2.06-13)"},
                                       {"grub-efi-amd64-bin", "2.06-13+deb12u1", "grub-common"},
                                       {"mokutil", "0.6.0-2"},
                                       {"ovmf", "2022.11-6+deb12u2", "", "", "", "all"},
                                       {"edk2", "1", "", "ovmf-firmware"}});
  ResolveOptions files_only;
  files_only.follow_dependencies = false;
  Resolution r =
      resolve_dependencies({"shim-signed", "ovmf", "grub-efi-amd64-signed", "ovmf"}, {index}, "amd64", files_only);
  CHECK(names(r) == std::vector<std::string>{"grub-efi-amd64-signed=1+2.06+13+deb12u1", "ovmf=2022.11-6+deb12u2",
                                             "shim-signed=1.44~1+deb12u1+15.8-1~deb12u1"});
  CHECK(r.reason.at("shim-signed") == "requested");
  CHECK(r.reason.size() == 3);
  // Requested names are still resolved as ever: a virtual name to its one provider, a missing one
  // is an error.
  CHECK(names(resolve_dependencies({"ovmf-firmware"}, {index}, "amd64", files_only)) ==
        std::vector<std::string>{"edk2=1"});
  CHECK_THROWS_AS(resolve_dependencies({"no-such-package"}, {index}, "amd64", files_only), ResolutionError);
  // The default follows them (and fails here on a missing one).
  CHECK(contains(resolution_error({"shim-signed"}, {index}), "shim-signed depends on shim-helpers-amd64-signed"));
}

TEST_CASE("The candidate is the highest version for the target architecture or all", "[debian][resolver]") {
  auto main = make_index("bookworm", {{"tzdata", "2024a-0+deb12u1", "", "", "", "all"},
                                      {"bash", "5.2.15-2+b2"},
                                      {"bash", "5.2.15-2+b7", "", "", "", "arm64"}});
  auto updates = make_index("bookworm-updates", {{"tzdata", "2025b-0+deb12u1", "", "", "", "all"},
                                                 {"bash", "5.2.15-2+b2", "extra"}}); // a tie: first index wins
  Resolution r = resolve_dependencies({"tzdata", "bash"}, {main, updates}, "amd64");
  CHECK(names(r) == std::vector<std::string>{"bash=5.2.15-2+b2", "tzdata=2025b-0+deb12u1"});
  CHECK(r.packages[0].source_index == "bookworm/main");
  CHECK(r.packages[1].source_index == "bookworm-updates/main");
}

TEST_CASE("Alternatives prefer a selected package, then a real one, then a provider", "[debian][resolver]") {
  auto index = make_index("bookworm", {{"app", "1", "mawk | awk"},
                                       {"tool", "1", "gawk | awk"},
                                       {"gawk", "1", "", "awk"},
                                       {"mawk", "1", "", "awk"},
                                       {"mta-user", "1", "default-mta | mail-transport-agent"},
                                       {"exim4", "4.96", "", "mail-transport-agent, default-mta"},
                                       {"postfix", "3.7", "", "mail-transport-agent"}});
  CHECK(names(resolve_dependencies({"app"}, {index}, "amd64")) == std::vector<std::string>{"app=1", "mawk=1"});
  // With gawk requested, app's "mawk | awk" is met by gawk's Provides: awk without adding mawk.
  CHECK(names(resolve_dependencies({"app", "gawk"}, {index}, "amd64")) == std::vector<std::string>{"app=1", "gawk=1"});
  // A virtual name with one provider is resolved to it.
  CHECK(names(resolve_dependencies({"mta-user"}, {index}, "amd64")) ==
        std::vector<std::string>{"exim4=4.96", "mta-user=1"});
  // Requesting a provider first satisfies the virtual dependency with it.
  CHECK(names(resolve_dependencies({"postfix", "mta-user"}, {index}, "amd64")) ==
        std::vector<std::string>{"mta-user=1", "postfix=3.7"});
}

TEST_CASE("A requested virtual package with several providers is an error listing them", "[debian][resolver]") {
  auto index = make_index("bookworm", {{"gawk", "1", "", "awk"}, {"mawk", "1", "", "awk"}, {"x", "1", "awk"}});
  std::string e = resolution_error({"awk"}, {index});
  CHECK(contains(e, "awk is a virtual package provided by gawk, mawk; name one of them in the recipe"));
  e = resolution_error({"x"}, {index});
  CHECK(contains(e, "x depends on awk, a virtual package provided by gawk, mawk"));
  CHECK(names(resolve_dependencies({"x", "mawk"}, {index}, "amd64")) == std::vector<std::string>{"mawk=1", "x=1"});
}

TEST_CASE("Versioned dependencies are met only by versioned Provides", "[debian][resolver]") {
  auto index = make_index("bookworm", {{"perl-base", "5.36.0-7", "", "perlapi-5.36.0, libfoo-abi (= 2.0)"},
                                       {"needs-abi", "1", "libfoo-abi (>= 2)"},
                                       {"needs-new-abi", "1", "libfoo-abi (>= 3)"},
                                       {"needs-api", "1", "perlapi-5.36.0 (>= 1)"}});
  CHECK(names(resolve_dependencies({"needs-abi"}, {index}, "amd64")) ==
        std::vector<std::string>{"needs-abi=1", "perl-base=5.36.0-7"});
  CHECK(contains(resolution_error({"needs-new-abi"}, {index}),
                 "needs-new-abi depends on libfoo-abi (>= 3) but no provider of libfoo-abi has a matching version"));
  CHECK_THROWS_AS(resolve_dependencies({"needs-api"}, {index}, "amd64"), ResolutionError);
}

TEST_CASE("Unsatisfiable dependencies are errors naming the chain", "[debian][resolver]") {
  auto index = make_index("bookworm", {{"curl", "7.88.1-10", "ca-certificates"},
                                       {"ca-certificates", "20230311", "openssl (>= 3.1)"},
                                       {"openssl", "3.0.11-1"},
                                       {"orphan", "1", "missing | alsomissing:arm64"}});
  CHECK(resolution_error({"curl"}, {index}) ==
        "package selection: ca-certificates depends on openssl (>= 3.1) but openssl 3.0.11-1 (bookworm/main) is the "
        "candidate and does not satisfy it (ca-certificates is a dependency of curl, which was requested)");
  std::string e = resolution_error({"orphan"}, {index});
  CHECK(contains(e, "no package missing is available for amd64"));
  CHECK(contains(e, "alsomissing:arm64 is for a foreign architecture"));
  CHECK(contains(e, "(orphan was requested)"));
  CHECK(contains(resolution_error({"nosuch"}, {index}), "no package named nosuch is available for amd64"));
}

TEST_CASE("Resolution does not depend on the order of the request or of the indexes' records", "[debian][resolver]") {
  std::vector<P> packages = {{"a", "1", "c | d"}, {"b", "1", "d | c"}, {"c", "1"}, {"d", "1"}, {"e", "1", "a, b"}};
  Resolution first = resolve_dependencies({"a", "b", "e"}, {make_index("s", packages)}, "amd64");
  std::reverse(packages.begin(), packages.end());
  Resolution second = resolve_dependencies({"e", "b", "a", "a"}, {make_index("s", packages)}, "amd64");
  CHECK(names(first) == names(second));
  CHECK(first.reason == second.reason);
  CHECK(names(first) == std::vector<std::string>{"a=1", "b=1", "c=1", "e=1"});
}

TEST_CASE("Essential packages and Recommends are not added implicitly", "[debian][resolver]") {
  auto index = make_index("bookworm", {{"hello", "2.10-3"}, {"base-files", "12.4"}});
  index.packages[1].essential = true;
  CHECK(names(resolve_dependencies({"hello"}, {index}, "amd64")) == std::vector<std::string>{"hello=2.10-3"});
}

// SBOMs of build outputs (builder/sbom/): the example OCI image and the bundled guest image, each
// SBOM checked with the formats' published JSON schemas (tests/schemas/, python3-jsonschema),
// against the lock the output was built from, against dpkg-deb's reading of each .deb, across two
// builds under different conditions, and as subjects of the signed statement.
#include "support/guest_fixture.hpp"
#include "test_support.hpp"

#include <builder/attest/measurement_statement.hpp>
#include <builder/audit/artifact_diff.hpp>
#include <builder/sbom/sbom_model.hpp>
#include <builder/system/store.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

using namespace mrforge;
using namespace mrforge::test;
namespace fs = std::filesystem;
using Json = nlohmann::json;

namespace {

Json read_json(const std::string &path) { return Json::parse(read_text(path)); }

// tests/schemas/validate.py with /usr/bin/python3 (python3-jsonschema): exit 0 and "valid".
void require_valid(const std::string &file, const char *kind) {
  ShellResult r = run_shell("/usr/bin/python3 " + shell_quote(source_path("tests/schemas/validate.py")) + " " +
                            shell_quote(source_path("tests/schemas")) + " " + kind + " " + shell_quote(file));
  INFO(r.out << r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find(": valid " + std::string(kind)) != std::string::npos);
}

std::string percent_decode(const std::string &s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

// A deb purl taken apart: name, version, arch and distro (REQUIREs the shape).
struct Purl {
  std::string name, version, arch, distro;
};
// Whether every character of `s` is one `allowed` accepts (and `s` is not empty).
template <typename Allowed> bool made_of(const std::string &s, Allowed allowed) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [&](char c) { return allowed(c); });
}
bool lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool alnum(char c) { return lower_alnum(c) || (c >= 'A' && c <= 'Z'); }
bool lower_hex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); }

Purl parse_deb_purl(const std::string &purl) {
  // purl-spec: pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS, qualifiers sorted by key; only
  // unreserved characters, ':' and %XX escapes in name and version. (No std::regex: GCC 12's
  // <regex> trips -Werror=maybe-uninitialized in CI's build.)
  INFO(purl);
  const std::string prefix = "pkg:deb/debian/";
  REQUIRE(purl.rfind(prefix, 0) == 0);
  const size_t at = purl.find('@', prefix.size()), arch = purl.find("?arch=", at), distro = purl.find("&distro=", arch);
  REQUIRE(at != std::string::npos);
  REQUIRE(arch != std::string::npos);
  REQUIRE(distro != std::string::npos);
  Purl p{purl.substr(prefix.size(), at - prefix.size()), purl.substr(at + 1, arch - at - 1),
         purl.substr(arch + 6, distro - arch - 6), purl.substr(distro + 8)};
  CHECK(made_of(p.name,
                [](char c) { return lower_alnum(c) || c == '.' || c == '%' || c == '-' || (c >= 'A' && c <= 'F'); }));
  CHECK(made_of(p.version, [](char c) { return alnum(c) || std::string(".~_:%-").find(c) != std::string::npos; }));
  CHECK(made_of(p.arch, [](char c) { return lower_alnum(c) || c == '-'; }));
  REQUIRE(p.distro.rfind("debian-", 0) == 0);
  CHECK(made_of(p.distro.substr(7), lower_alnum));
  p.name = percent_decode(p.name);
  p.version = percent_decode(p.version);
  return p;
}

// SPDX documentNamespace: https://mrforge.dev/spdx/NAME-SHA256HEX.
bool is_mrforge_namespace(const std::string &ns) {
  const std::string prefix = "https://mrforge.dev/spdx/";
  if (ns.rfind(prefix, 0) != 0 || ns.size() < prefix.size() + 66) return false;
  const std::string name = ns.substr(prefix.size(), ns.size() - prefix.size() - 65), hex = ns.substr(ns.size() - 64);
  return ns[ns.size() - 65] == '-' && made_of(hex, lower_hex) &&
         made_of(name, [](char c) { return alnum(c) || c == '.' || c == '_' || c == '-'; });
}

// CycloneDX serialNumber: urn:uuid: and a version 5 UUID (RFC 4122 variant).
bool is_v5_uuid_urn(const std::string &urn) {
  const std::string prefix = "urn:uuid:";
  if (urn.rfind(prefix, 0) != 0 || urn.size() != prefix.size() + 36) return false;
  const std::string u = urn.substr(prefix.size());
  for (size_t i = 0; i < u.size(); ++i)
    if ((i == 8 || i == 13 || i == 18 || i == 23) ? u[i] != '-' : !lower_hex(u[i])) return false;
  return u[14] == '5' && std::string("89ab").find(u[19]) != std::string::npos;
}

// date(1)'s RFC 3339 form of a time.
std::string date_rfc3339(int64_t epoch) {
  std::string out = sh("date -u -d @" + std::to_string(epoch) + " +%Y-%m-%dT%H:%M:%SZ");
  return out.substr(0, out.find('\n'));
}

const Json &spdx_package(const Json &spdx, const std::string &name, const std::string &id_prefix = "SPDXRef-deb-") {
  for (const Json &p : spdx["packages"])
    if (p["name"] == name && p["SPDXID"].get<std::string>().rfind(id_prefix, 0) == 0) return p;
  FAIL("no SPDX package " << name);
  static Json none;
  return none;
}

const Json &cdx_component(const Json &cdx, const std::string &purl) {
  for (const Json &c : cdx["components"])
    if (c.value("purl", "") == purl) return c;
  FAIL("no CycloneDX component " << purl);
  static Json none;
  return none;
}

std::string cdx_property(const Json &component, const std::string &name) {
  for (const Json &p : component["properties"])
    if (p["name"] == name) return p["value"];
  return "(none)";
}

std::string spdx_purl(const Json &package) {
  for (const Json &r : package["externalRefs"])
    if (r["referenceType"] == "purl") return r["referenceLocator"];
  return "";
}

// What dpkg-deb reads from a .deb: "NAME VERSION" of its source package.
std::string dpkg_source(const std::string &deb) {
  std::string source = sh("dpkg-deb -f " + shell_quote(deb) + " Source");
  std::string package = sh("dpkg-deb -f " + shell_quote(deb) + " Package");
  std::string version = sh("dpkg-deb -f " + shell_quote(deb) + " Version");
  for (std::string *s : {&source, &package, &version})
    while (!s->empty() && s->back() == '\n') s->pop_back();
  if (source.empty()) return package + " " + version;
  size_t open = source.find(" (");
  if (open == std::string::npos) return source + " " + version;
  return source.substr(0, open) + " " + source.substr(open + 2, source.size() - open - 3);
}

// Every locked package is in both SBOMs with the lock's version, architecture and .deb sha256,
// its purl, and the source package dpkg-deb reads from the stored .deb.
void check_packages(const Json &lock_packages, const Json &spdx, const Json &cdx, const builder::Store &store,
                    const std::string &distro) {
  REQUIRE(lock_packages.size() > 0);
  for (const Json &lp : lock_packages) {
    const std::string name = lp["name"], version = lp["version"], arch = lp["architecture"], sha = lp["sha256"];
    INFO("package " << name);
    const Json &sp = spdx_package(spdx, name);
    CHECK(sp["versionInfo"] == version);
    CHECK(sp["checksums"] == Json::array({{{"algorithm", "SHA256"}, {"checksumValue", sha}}}));
    const std::string purl = spdx_purl(sp);
    Purl parsed = parse_deb_purl(purl);
    CHECK(parsed.name == name);
    CHECK(parsed.version == version);
    CHECK(parsed.arch == arch);
    CHECK(parsed.distro == distro);
    const Json &c = cdx_component(cdx, purl);
    CHECK(c["name"] == name);
    CHECK(c["version"] == version);
    CHECK(c["bom-ref"] == purl);
    CHECK(c["hashes"] == Json::array({{{"alg", "SHA-256"}, {"content", sha}}}));
    CHECK(cdx_property(c, "mrforge:deb:architecture") == arch);
    const std::string deb = store.require(sha, lp["size"].get<uint64_t>(), name);
    CHECK(sha256sum_of(deb) == sha);
    const std::string source = dpkg_source(deb);
    CHECK(sp["sourceInfo"] == "built from Debian source package " + source);
    CHECK(cdx_property(c, "mrforge:deb:source") + " " + cdx_property(c, "mrforge:deb:source_version") == source);
  }
}

std::set<std::string> spdx_relations(const Json &spdx) {
  std::set<std::string> out;
  for (const Json &r : spdx["relationships"])
    out.insert(r["spdxElementId"].get<std::string>() + " " + r["relationshipType"].get<std::string>() + " " +
               r["relatedSpdxElement"].get<std::string>());
  return out;
}

// Both documents' fixed parts: version, creation time, the identifier derived from content.
void check_headers(const Json &spdx, const Json &cdx, int64_t epoch) {
  CHECK(spdx["spdxVersion"] == "SPDX-2.3");
  CHECK(spdx["creationInfo"]["created"] == date_rfc3339(epoch));
  CHECK(cdx["specVersion"] == "1.6");
  CHECK(cdx["metadata"]["timestamp"] == date_rfc3339(epoch));
  CHECK(is_mrforge_namespace(spdx["documentNamespace"].get<std::string>()));
  CHECK(is_v5_uuid_urn(cdx["serialNumber"].get<std::string>()));
  // Every relation names elements of the document; every dependency ref is a component.
  std::set<std::string> ids{"SPDXRef-DOCUMENT"};
  for (const Json &p : spdx["packages"]) CHECK(ids.insert(p["SPDXID"].get<std::string>()).second);
  for (const Json &r : spdx["relationships"]) {
    CHECK(ids.count(r["spdxElementId"].get<std::string>()));
    CHECK(ids.count(r["relatedSpdxElement"].get<std::string>()));
  }
  std::set<std::string> refs{cdx["metadata"]["component"]["bom-ref"].get<std::string>()};
  for (const Json &c : cdx["components"]) CHECK(refs.insert(c["bom-ref"].get<std::string>()).second);
  CHECK(cdx["dependencies"].size() == refs.size());
  for (const Json &d : cdx["dependencies"]) {
    CHECK(refs.count(d["ref"].get<std::string>()));
    for (const Json &on : d["dependsOn"]) CHECK(refs.count(on.get<std::string>()));
  }
}

void copy_example(const std::string &to, const std::string &touch_time) {
  fs::create_directories(to);
  for (const auto &e : fs::directory_iterator(source_path("examples/oci"))) {
    std::string dest = to + "/" + e.path().filename().string();
    fs::copy_file(e.path(), dest);
    REQUIRE(run_shell("touch -d " + shell_quote(touch_time) + " " + shell_quote(dest)).exit_code == 0);
  }
}

} // namespace

TEST_CASE("Debian suites map to purl distro qualifiers and names are percent-encoded", "[sbom]") {
  CHECK(builder::debian_distro("bookworm") == "debian-12");
  CHECK(builder::debian_distro("bookworm-security") == "debian-12");
  CHECK(builder::debian_distro("bookworm-updates") == "debian-12");
  CHECK(builder::debian_distro("trixie") == "debian-13");
  CHECK(builder::debian_distro("bullseye") == "debian-11");
  CHECK(builder::debian_distro("sid") == "debian-sid");
  // purl-spec's deb example, and the characters Debian names and versions use.
  CHECK(builder::deb_purl("curl", "7.50.3-1", "i386", "jessie") ==
        "pkg:deb/debian/curl@7.50.3-1?arch=i386&distro=jessie");
  Purl p = parse_deb_purl(builder::deb_purl("libstdc++6", "1:12.2.0-14+deb12u1~x", "amd64", "debian-12"));
  CHECK(p.name == "libstdc++6");
  CHECK(p.version == "1:12.2.0-14+deb12u1~x");
  CHECK(builder::deb_purl("libstdc++6", "1", "amd64", "debian-12").find('+') == std::string::npos);
}

TEST_CASE("The source package is read from a control file's Source field", "[sbom]") {
  const std::string head = "Package: libuuid1\nVersion: 2.38.1-5+b1\nArchitecture: amd64\n";
  using P = std::pair<std::string, std::string>;
  CHECK(builder::deb_source(head + "Source: util-linux (2.38.1-5)\n", "libuuid1", "2.38.1-5+b1", "c") ==
        P{"util-linux", "2.38.1-5"});
  CHECK(builder::deb_source(head + "Source: util-linux\n", "libuuid1", "2.38.1-5+b1", "c") ==
        P{"util-linux", "2.38.1-5+b1"});
  CHECK(builder::deb_source(head, "libuuid1", "2.38.1-5+b1", "c") == P{"libuuid1", "2.38.1-5+b1"});
  for (const char *bad : {"Source: util-linux (2.38.1-5\n", "Source: util-linux ()\n", "Source: Util_Linux\n",
                          "Source: util-linux (1 (2))\n"}) {
    INFO(bad);
    CHECK_THAT(error_message([&] { builder::deb_source(head + bad, "libuuid1", "1", "x.deb: control"); }),
               Catch::Contains("x.deb: control") && Catch::Contains("Source"));
  }
}

TEST_CASE("The example OCI image's SBOMs validate, list every locked package and are signed subjects",
          "[sbom][network]") {
  TempDir work("sbom-oci");
  const std::string store = work / "store";
  copy_example(work / "a/example", "2001-02-03 04:05:06");
  copy_example(work / "b/nested/example", "2024-12-24 18:00:00");
  const std::string recipe_a = work / "a/example/hello.yaml", recipe_b = work / "b/nested/example/hello.yaml";
  ShellResult fetched = run_mrforge_cli({"fetch", "--frozen", "--store", store, recipe_a});
  if (fetched.exit_code != 0) {
    WARN("the committed lock could not be fetched, locking afresh: " << fetched.err);
    REQUIRE(run_mrforge_cli({"lock", recipe_a}).exit_code == 0);
    fs::copy_file(recipe_a + ".lock", recipe_b + ".lock", fs::copy_options::overwrite_existing);
    REQUIRE(run_mrforge_cli({"fetch", "--frozen", "--store", store, recipe_a}).exit_code == 0);
  }
  ShellResult a = run_mrforge_cli({"build", "--frozen", "--offline", "--store", store, recipe_a, "-o", work / "out-a"},
                                  "umask 022 && TZ=UTC LC_ALL=C");
  INFO(a.err);
  REQUIRE(a.exit_code == 0);
  ShellResult b = run_mrforge_cli(
      {"build", "--frozen", "--offline", "--threads", "2", "--store", store, recipe_b, "-o", work / "out-b"},
      "umask 077 && TZ=Pacific/Chatham LC_ALL=C.UTF-8");
  INFO(b.err);
  REQUIRE(b.exit_code == 0);

  // Byte-identical across the two builds, and free of the paths they ran in.
  for (const char *name : {"sbom.spdx.json", "sbom.cdx.json"}) {
    const std::string text = read_text(work / ("out-a/" + std::string(name)));
    CHECK(text == read_text(work / ("out-b/" + std::string(name))));
    CHECK(text.find(work.path()) == std::string::npos);
    CHECK(text.find("/tmp") == std::string::npos);
  }
  CHECK(builder::diff_paths(work / "out-a", work / "out-b").empty());

  require_valid(work / "out-a/sbom.spdx.json", "spdx");
  require_valid(work / "out-a/sbom.cdx.json", "cyclonedx");

  const Json spdx = read_json(work / "out-a/sbom.spdx.json"), cdx = read_json(work / "out-a/sbom.cdx.json");
  const Json lock = read_json(recipe_a + ".lock");
  const Json record = read_json(work / "out-a/mrforge-build.json");
  check_headers(spdx, cdx, record["source_date_epoch"].get<int64_t>());
  builder::Store st(store);
  check_packages(lock["packages"], spdx, cdx, st, "debian-12");
  // One element per locked package plus the image and the local files, nothing else.
  CHECK(spdx["packages"].size() == 1 + lock["packages"].size() + lock["files"].size());
  CHECK(cdx["components"].size() == lock["packages"].size() + lock["files"].size());
  for (const Json &f : lock["files"]) {
    const Json &sp = spdx_package(spdx, f["path"], "SPDXRef-file-");
    CHECK(sp["checksums"][0]["checksumValue"] == f["sha256"]);
    CHECK(sha256sum_of(work / ("a/example/" + f["path"].get<std::string>())) == f["sha256"]);
  }
  // The image is the described root; it contains every package; the lock's reasons are DEPENDS_ON.
  const std::string manifest = record["manifest_digest"];
  const Json &root = spdx_package(spdx, "mrforge/hello", "SPDXRef-image");
  CHECK(spdx_purl(root) == "pkg:oci/hello@" + manifest + "?tag=1.0");
  CHECK(cdx["metadata"]["component"]["purl"] == spdx_purl(root));
  std::set<std::string> rel = spdx_relations(spdx);
  CHECK(rel.count("SPDXRef-DOCUMENT DESCRIBES SPDXRef-image"));
  size_t depends = 0;
  for (const Json &lp : lock["packages"]) {
    const std::string id = spdx_package(spdx, lp["name"])["SPDXID"];
    CHECK(rel.count("SPDXRef-image CONTAINS " + id));
    const std::string reason = lp["reason"], prefix = "dependency of ";
    if (reason.rfind(prefix, 0) == 0) {
      const std::string parent = spdx_package(spdx, reason.substr(prefix.size()))["SPDXID"];
      CHECK(rel.count(parent + " DEPENDS_ON " + id));
      ++depends;
    }
  }
  CHECK(depends > 0);

  // The record holds their digests; the statement lists them; verify-signature checks them.
  CHECK(record["sbom"]["sbom.spdx.json"] == sha256sum_of(work / "out-a/sbom.spdx.json"));
  CHECK(record["sbom"]["sbom.cdx.json"] == sha256sum_of(work / "out-a/sbom.cdx.json"));
  REQUIRE(run_mrforge_cli({"keygen", "-o", work / "ci"}).exit_code == 0);
  REQUIRE(run_mrforge_cli({"sign", "--key", work / "ci.key", work / "out-a"}).exit_code == 0);
  // out-a's envelope against the files of out-b.
  auto verify_b = [&] {
    return run_mrforge_cli(
        {"verify-signature", "--pub", work / "ci.pub", work / "out-a.intoto.json", "--artifacts", work / "out-b"});
  };
  ShellResult vs = verify_b();
  INFO(vs.out << vs.err);
  CHECK(vs.exit_code == 0);
  for (const char *name : {"sbom.spdx.json", "sbom.cdx.json"})
    CHECK(vs.out.find(std::string(name) + " ") != std::string::npos);

  // One byte changed in an SBOM: verify-signature refuses the artifacts, naming the file; a new
  // statement is refused too (the record's digest), and diff names the file.
  write_text(work / "out-b/sbom.cdx.json", read_text(work / "out-b/sbom.cdx.json") + " ");
  ShellResult tampered = verify_b();
  CHECK(tampered.exit_code != 0);
  CHECK(tampered.out.find("sbom.cdx.json: sha256 is") != std::string::npos);
  CHECK_THAT(error_message([&] { builder::make_statement(work / "out-b"); }),
             Catch::Contains("sbom.cdx.json") && Catch::Contains("mrforge-build.json"));
  bool named = false;
  for (const auto &d : builder::diff_paths(work / "out-a", work / "out-b")) named |= d.artifact == "sbom.cdx.json";
  CHECK(named);
  fs::remove(work / "out-b/sbom.spdx.json");
  ShellResult missing = verify_b();
  CHECK(missing.exit_code != 0);
  CHECK(missing.out.find("sbom.spdx.json: missing") != std::string::npos);
}

TEST_CASE("The bundled guest image's SBOMs list its packages, kernel, firmware and artifacts", "[sbom][network]") {
  const PublishedGuest &g = published_guest();
  require_valid(g.out + "/sbom.spdx.json", "spdx");
  require_valid(g.out + "/sbom.cdx.json", "cyclonedx");
  const Json spdx = read_json(g.out + "/sbom.spdx.json"), cdx = read_json(g.out + "/sbom.cdx.json");
  const Json lock = read_json(g.out + "/recipe.lock");
  const Json record = read_json(g.out + "/mrforge-build.json");
  check_headers(spdx, cdx, record["source_date_epoch"].get<int64_t>());
  builder::Store store(g.store);
  check_packages(lock["packages"], spdx, cdx, store, "debian-12");

  // The kernel: the pinned package with the lock's digest and its source package.
  const Json &k = lock["kernel"];
  const Json &kp = spdx_package(spdx, k["package"], "SPDXRef-kernel-");
  CHECK(kp["versionInfo"] == k["version"]);
  CHECK(kp["checksums"][0]["checksumValue"] == k["sha256"]);
  CHECK(kp["primaryPackagePurpose"] == "OPERATING_SYSTEM");
  CHECK(kp["sourceInfo"] ==
        "built from Debian source package " + dpkg_source(store.require(k["sha256"], k["size"], "kernel")));
  CHECK(parse_deb_purl(spdx_purl(kp)).name == k["package"]);

  // The artifacts: sha256sum.txt's digests (which do not list the SBOMs), and what each holds.
  const std::string sums = read_text(g.out + "/sha256sum.txt");
  CHECK(sums.find("sbom.") == std::string::npos);
  std::set<std::string> rel = spdx_relations(spdx);
  for (const char *name : {"OVMF.fd", "vmlinuz", "initrd.img", "rootfs.img"}) {
    INFO(name);
    const Json &a = spdx_package(spdx, name, "SPDXRef-artifact-");
    const std::string sha = a["checksums"][0]["checksumValue"];
    CHECK(sums.find(sha + "  " + name + "\n") != std::string::npos);
    CHECK(rel.count("SPDXRef-image CONTAINS " + a["SPDXID"].get<std::string>()));
  }
  CHECK(spdx_package(spdx, "OVMF.fd", "SPDXRef-artifact-")["primaryPackagePurpose"] == "FIRMWARE");
  const std::string fw_package = lock["recipe"]["firmware"].value("package", "");
  if (!fw_package.empty())
    CHECK(rel.count("SPDXRef-artifact-OVMF.fd GENERATED_FROM " +
                    spdx_package(spdx, fw_package)["SPDXID"].get<std::string>()));
  CHECK(rel.count("SPDXRef-artifact-vmlinuz GENERATED_FROM " + kp["SPDXID"].get<std::string>()));
  size_t in_rootfs = 0, in_initrd = 0;
  for (const Json &lp : lock["packages"]) {
    const std::string id = spdx_package(spdx, lp["name"])["SPDXID"];
    const Json sets = lp["sets"];
    auto has = [&](const char *set) { return std::find(sets.begin(), sets.end(), set) != sets.end(); };
    CHECK(rel.count("SPDXRef-artifact-rootfs.img CONTAINS " + id) == (has("rootfs") ? 1u : 0u));
    CHECK(rel.count("SPDXRef-artifact-initrd.img CONTAINS " + id) == (has("initramfs") ? 1u : 0u));
    in_rootfs += has("rootfs");
    in_initrd += has("initramfs");
  }
  CHECK(in_rootfs > 0);
  CHECK(in_initrd > 0);

  // Subjects of the statement, with the record's digests.
  const Json st = Json::parse(builder::make_statement(g.out).dump());
  std::map<std::string, std::string> subjects;
  for (const Json &s : st["subject"]) subjects[s["name"]] = s["digest"]["sha256"];
  CHECK(subjects["sbom.spdx.json"] == sha256sum_of(g.out + "/sbom.spdx.json"));
  CHECK(subjects["sbom.cdx.json"] == sha256sum_of(g.out + "/sbom.cdx.json"));
}

// The auditor's path end to end with the bundled recipe: a published output directory and its
// signed envelope, rebuilt from the recipe and lock in a fresh store: identical. Then the recipe
// is changed in one input at a time (one file's mode, one file's content, one package) and the
// rebuild against the original publication must fail and name the artifact, the entry inside it
// and the attribute. File-system images are compared through libguestfs.
#include "support/guest_fixture.hpp"
#include "test_support.hpp"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>

using namespace mrforge::test;
namespace fs = std::filesystem;

namespace {

struct Rebuild {
  int exit_code = -1;
  nlohmann::json report;
  std::string err;
};

Rebuild rebuild(const std::string &recipe, const std::vector<std::string> &extra = {}) {
  const PublishedGuest &g = published_guest();
  std::vector<std::string> args{"rebuild", recipe, "--against", g.out, "--debs", g.debs, "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  ShellResult r = run_mrforge_cli(args, "LIBGUESTFS_BACKEND_SETTINGS=force_tcg");
  Rebuild out{r.exit_code, nlohmann::json(), r.err};
  if (!r.out.empty()) out.report = nlohmann::json::parse(r.out);
  return out;
}

// A copy of the published recipe tree that a test may change.
std::string changed_copy(const TempDir &dir) {
  std::string root = dir / "src";
  REQUIRE(run_shell("cp -a " + shell_quote(published_guest().root) + " " + shell_quote(root)).exit_code == 0);
  return root + "/recipes/debian-bookworm-tdx.yaml";
}

void replace_in(const std::string &path, const std::string &from, const std::string &to) {
  std::string text = read_text(path);
  size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  text.replace(at, from.size(), to);
  write_text(path, text);
}

// The differences as (artifact, entry, attribute) triples.
std::vector<std::string> triples(const nlohmann::json &report) {
  std::vector<std::string> out;
  for (const auto &d : report.at("differences"))
    out.push_back(d.at("artifact").get<std::string>() + " | " + d.at("entry").get<std::string>() + " | " +
                  d.at("attribute").get<std::string>());
  return out;
}

bool has(const std::vector<std::string> &v, const std::string &s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

} // namespace

TEST_CASE("rebuild of the bundled recipe reproduces its published output and signed statement",
          "[rebuild][network][guestfs]") {
  const PublishedGuest &g = published_guest();
  TempDir dir("rebuild-same");
  REQUIRE(run_mrforge_cli({"keygen", "-o", dir / "ci"}).exit_code == 0);
  ShellResult signed_ = run_mrforge_cli({"sign", "--key", dir / "ci.key", g.out, "-o", dir / "published.intoto.json"});
  INFO(signed_.err);
  REQUIRE(signed_.exit_code == 0);

  Rebuild r =
      rebuild(g.recipe, {"--envelope", dir / "published.intoto.json", "--pub", dir / "ci.pub", "--work", dir / "work"});
  INFO(r.err);
  CHECK(r.exit_code == 0);
  CHECK(r.report.at("identical") == true);
  CHECK(r.report.at("differences").empty());
  CHECK(r.report.at("signature_ok") == true);
  CHECK(r.report.at("envelope_problems").empty());
  // The fresh store really was fresh and the rebuilt output is the published one, file by file.
  CHECK(r.report.at("published_digest") == "sha256:" + read_text(g.out + "/digest.txt").substr(0, 64));
  CHECK(r.report.at("rebuilt_digest") == r.report.at("published_digest"));
  CHECK(run_shell("diff -r " + shell_quote(g.out) + " " + shell_quote(dir / "work/out")).exit_code == 0);
  CHECK(fs::exists(dir / "work/store"));

  // An envelope signed by another key does not pass, and says so.
  REQUIRE(run_mrforge_cli({"keygen", "-o", dir / "other"}).exit_code == 0);
  Rebuild wrong_key = rebuild(g.recipe, {"--envelope", dir / "published.intoto.json", "--pub", dir / "other.pub"});
  CHECK(wrong_key.exit_code == 4);
  CHECK(wrong_key.report.at("signature_ok") == false);
}

TEST_CASE("rebuild after a changed input names the artifact, the entry and the attribute",
          "[rebuild][network][guestfs]") {
  published_guest();
  TempDir dir("rebuild-changed");
  std::string recipe = changed_copy(dir);
  std::string folder = fs::path(recipe).parent_path().string() + "/debian-bookworm-tdx";

  SECTION("one file's mode") {
    replace_in(recipe, "target: /srv/www/index.html, mode: \"0644\"", "target: /srv/www/index.html, mode: \"0600\"");
    Rebuild r = rebuild(recipe);
    INFO(r.err);
    REQUIRE(r.exit_code == 4);
    auto t = triples(r.report);
    CAPTURE(t);
    CHECK(has(t, "rootfs.img | srv/www/index.html | mode"));
    CHECK(r.report.at("differences")[0].at("a") == "0644");
    CHECK(r.report.at("differences")[0].at("b") == "0600");
    // What follows from it: the root hash in the command line, RTMR2.
    CHECK(has(t, "metadata.json | cmdline | value"));
  }
  SECTION("one file's content") {
    write_text(folder + "/index.html", "hello from a changed guest\n");
    REQUIRE(run_mrforge_cli({"lock", recipe}).exit_code == 0); // the file's digest is in the lock
    Rebuild r = rebuild(recipe);
    INFO(r.err);
    REQUIRE(r.exit_code == 4);
    auto t = triples(r.report);
    CAPTURE(t);
    CHECK(has(t, "rootfs.img | srv/www/index.html | content"));
  }
  SECTION("one package") {
    replace_in(recipe, "packages: [busybox-static]\n", "packages: [busybox-static, netbase]\n");
    ShellResult locked = run_mrforge_cli({"lock", recipe});
    INFO(locked.err);
    REQUIRE(locked.exit_code == 0);
    Rebuild r = rebuild(recipe);
    INFO(r.err);
    REQUIRE(r.exit_code == 4);
    auto t = triples(r.report);
    CAPTURE(t);
    CHECK(has(t, "rootfs.img | etc/services | presence")); // a file of netbase
    // The lock names the new package (which entry it is depends on the sort order).
    CHECK(std::any_of(t.begin(), t.end(),
                      [](const std::string &x) { return x.rfind("recipe.lock | packages", 0) == 0; }));
  }
}

TEST_CASE("rebuild refuses bad publications and keys before it builds anything", "[rebuild]") {
  TempDir dir("rebuild-errors");
  std::string recipe = source_path("recipes/debian-bookworm-tdx.yaml");
  auto run = [&](const std::vector<std::string> &extra) {
    std::vector<std::string> args{"rebuild", recipe, "--work", dir / "work"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_mrforge_cli(args);
  };
  fs::create_directories(dir / "not-an-output");
  ShellResult r = run({"--against", dir / "not-an-output"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("not-an-output: no mrforge-build.json") != std::string::npos);

  fs::create_directories(dir / "other");
  write_text(dir / "other/mrforge-build.json", "{\"recipe\": \"hello\"}\n");
  r = run({"--against", dir / "other"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("was built from recipe 'hello'") != std::string::npos);

  fs::create_directories(dir / "published");
  write_text(dir / "published/mrforge-build.json", "{\"recipe\": \"debian-bookworm-tdx\"}\n");
  write_text(dir / "envelope.json", "{\"payload\": \"e30=\", \"payloadType\": \"applic");
  REQUIRE(run_mrforge_cli({"keygen", "-o", dir / "k"}).exit_code == 0);
  r = run({"--against", dir / "published", "--envelope", dir / "envelope.json"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--envelope: needs --pub") != std::string::npos);
  r = run({"--against", dir / "published", "--envelope", dir / "envelope.json", "--pub", dir / "k.pub"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("envelope.json+0x") != std::string::npos);
  CHECK(r.err.find("truncated") != std::string::npos);
  write_text(dir / "whole.json", "{\"payload\": \"e30=\", \"payloadType\": \"x\", \"signatures\": []}\n");
  r = run({"--against", dir / "published", "--envelope", dir / "whole.json", "--pub", dir / "k.key"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("k.key") != std::string::npos);
  CHECK_FALSE(fs::exists(dir / "work/store")); // refused before anything was fetched or built
}

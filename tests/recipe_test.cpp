// Recipes: strict loading with errors that name file, line, column and field, paths that cannot
// leave the recipe's folder, and the one timestamp of a build.
#include "test_support.hpp"

#include <builder/recipe/recipe.hpp>
#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <filesystem>

using namespace mrforge;
using namespace mrforge::builder;
using namespace mrforge::test;

namespace {

const char *k_header = "apiVersion: mrforge/v1\nkind: OciImage\nname: demo\n";

// Loads a recipe text from a fresh folder (with a hello.sh beside it) and returns the error text.
std::string error_of(const std::string &body, int *line = nullptr, int *column = nullptr) {
  TempDir dir("recipe");
  write_text(dir / "hello.sh", "#!/bin/sh\n");
  write_text(dir / "r.yaml", body);
  try {
    load_recipe(dir / "r.yaml");
  } catch (const DocumentError &e) {
    if (line) *line = e.line();
    if (column) *column = e.column();
    return e.what();
  }
  return "(no error)";
}

} // namespace

TEST_CASE("The example recipe loads with its layers, users, files and config", "[recipe]") {
  Recipe r = load_recipe(test::source_path("examples/oci/hello.yaml"));
  CHECK(r.name == "mrforge/hello");
  CHECK(r.tag == "1.0");
  CHECK(r.source_date_epoch == 1735689600);
  CHECK(r.debian.suite == "bookworm");
  REQUIRE(!r.debian.sources.empty());
  CHECK(r.debian.sources[0].mirror.empty());
  REQUIRE(r.layers == std::vector<std::string>{"base", "app"});
  REQUIRE(r.packages.size() == 4);
  CHECK(r.packages[0].name == "busybox-static");
  CHECK(r.packages[2].name == "base-files");
  CHECK(r.packages[3].name == "mawk");
  CHECK(r.packages[0].layer == "base");
  REQUIRE(r.files.size() == 2);
  CHECK(r.files[0].target == "usr/local/bin/hello");
  CHECK(r.files[0].mode == 0755u);
  CHECK(r.files[1].layer == "app");
  REQUIRE(r.directories.size() == 1);
  CHECK(r.directories[0].uid == 1000);
  CHECK(r.directories[0].gid == 1000);
  CHECK(r.config.env == std::vector<std::string>{"PATH=/usr/local/bin:/usr/bin:/bin"});
  CHECK(r.config.exposed_ports == std::vector<std::string>{"8080/tcp"});
}

TEST_CASE("Unknown keys, wrong types and missing fields name file, line, column and field", "[recipe]") {
  int line = 0, column = 0;
  std::string e = error_of(std::string(k_header) + "source_date_epoch: 1\npackagez: [a]\n", &line, &column);
  CHECK(e.find("r.yaml:5:1: packagez: unknown key") != std::string::npos);
  CHECK(line == 5);
  CHECK(column == 1);

  e = error_of(std::string(k_header) + "source_date_epoch: yesterday\n");
  CHECK(e.find("r.yaml:4:20: source_date_epoch: expected a decimal integer") != std::string::npos);

  e = error_of("apiVersion: mrforge/v1\nkind: OciImage\n");
  CHECK(e.find("missing required field 'name'") != std::string::npos);

  e = error_of(std::string(k_header) + "files:\n  - {source: hello.sh, target: /x, mode: 0999}\n");
  CHECK(e.find("r.yaml:5:42: files[0].mode: expected an octal file mode") != std::string::npos);

  e = error_of(std::string(k_header) + "debian: {suite: bookworm}\npackages: [Bad_Name]\n");
  CHECK(e.find("packages[0]: 'Bad_Name' is not a Debian package name") != std::string::npos);

  e = error_of(std::string(k_header) + "packages: [busybox]\n");
  CHECK(e.find("packages need a 'debian:' section") != std::string::npos);

  e = error_of(std::string(k_header) + "layers: [a]\nfiles:\n  - {source: hello.sh, target: /x, layer: b}\n");
  CHECK(e.find("files[0].layer: unknown layer 'b' (the recipe's layers: a)") != std::string::npos);

  e = error_of(std::string(k_header) + "name: again\n");
  CHECK(e.find("key given twice") != std::string::npos);

  e = error_of(std::string(k_header) + "kind: Other\n");
  CHECK(e.find("key given twice") != std::string::npos);

  e = error_of("apiVersion: mrforge/v2\nkind: OciImage\nname: x\n");
  CHECK(e.find("unsupported apiVersion 'mrforge/v2'") != std::string::npos);

  e = error_of(std::string(k_header) + "files: [\n");
  CHECK(e.find("YAML syntax error") != std::string::npos);

  e = error_of(std::string(k_header) + "config: {user: nobody}\n");
  CHECK(e.find("config.user: unknown user 'nobody'") != std::string::npos);

  e = error_of(std::string(k_header) + "users: [{name: app, uid: 1000, group: staff}]\n");
  CHECK(e.find("unknown group 'staff'") != std::string::npos);
}

TEST_CASE("A recipe cannot reach outside its folder", "[recipe]") {
  std::string e = error_of(std::string(k_header) + "files:\n  - {source: ../etc/passwd, target: /x}\n");
  CHECK(e.find("files[0].source") != std::string::npos);
  CHECK(e.find("contains '..'") != std::string::npos);
  CHECK(e.find("a recipe can only use files from its own folder") != std::string::npos);

  e = error_of(std::string(k_header) + "files:\n  - {source: /etc/passwd, target: /x}\n");
  CHECK(e.find("expected a path relative to the recipe's folder") != std::string::npos);

  // Through a symlink inside the folder.
  TempDir dir("recipe");
  std::filesystem::create_symlink("/etc", dir / "etc");
  write_text(dir / "r.yaml", std::string(k_header) + "files:\n  - {source: etc/passwd, target: /x}\n");
  try {
    load_recipe(dir / "r.yaml");
    FAIL("a symlink out of the folder was accepted");
  } catch (const DocumentError &err) {
    CHECK(std::string(err.what()).find("outside the recipe's folder") != std::string::npos);
  }

  e = error_of(std::string(k_header) + "files:\n  - {source: hello.sh, target: /usr/.wh.x}\n");
  CHECK(e.find("OCI whiteouts") != std::string::npos);
  e = error_of(std::string(k_header) + "files:\n  - {source: hello.sh, target: relative/x}\n");
  CHECK(e.find("expected an absolute path in the image") != std::string::npos);
}

TEST_CASE("The build timestamp is SOURCE_DATE_EPOCH, else the recipe's, never the clock", "[recipe]") {
  Recipe r;
  r.path = "r.yaml";
  CHECK_THROWS_WITH(resolve_source_date_epoch(r, nullptr), Catch::Contains("no timestamp"));
  r.source_date_epoch = 1700000000;
  CHECK(resolve_source_date_epoch(r, nullptr) == 1700000000);
  CHECK(resolve_source_date_epoch(r, "1600000000") == 1600000000);
  CHECK_THROWS_WITH(resolve_source_date_epoch(r, "16e8"), Catch::Contains("SOURCE_DATE_EPOCH"));
  CHECK_THROWS_WITH(resolve_source_date_epoch(r, ""), Catch::Contains("SOURCE_DATE_EPOCH"));
  CHECK_THROWS_WITH(resolve_source_date_epoch(r, "-1"), Catch::Contains("SOURCE_DATE_EPOCH"));
}

TEST_CASE("User and group fields cannot add records to /etc/passwd or /etc/group", "[recipe]") {
  const std::string groups = "groups: [{name: app, gid: 1000}]\n";
  auto users = [&](const std::string &entry) { return std::string(k_header) + groups + "users: [" + entry + "]\n"; };
  int line = 0, column = 0;
  // A newline and ':' in home would write a second, passwordless uid 0 record.
  std::string e =
      error_of(users(R"({name: app, uid: 1000, group: app, home: "/srv\nevil::0:0::/:/bin/sh"})"), &line, &column);
  CHECK(e.find("/r.yaml:5:") != std::string::npos);
  CHECK(line == 5);
  CHECK(column > 1);
  CHECK(e.find("users[0].home: home directory '/srv\\nevil::0:0::/:/bin/sh' cannot hold ':', a newline") !=
        std::string::npos);
  CHECK(e.find('\n') == std::string::npos); // the value is escaped in the message
  e = error_of(users("{name: app, uid: 1000, group: app, shell: '/bin/sh:0:0'}"));
  CHECK(e.find("users[0].shell: shell '/bin/sh:0:0' cannot hold ':'") != std::string::npos);
  e = error_of(users("{name: app, uid: 1000, group: app, home: srv/app}"));
  CHECK(e.find("users[0].home: expected an absolute home directory, got 'srv/app'") != std::string::npos);
  e = error_of(users("{name: app, uid: 1000, group: app, shell: bin/sh}"));
  CHECK(e.find("users[0].shell: expected an absolute shell") != std::string::npos);
  e = error_of(users("{name: app, uid: 1000, group: app, home: /srv/../etc}"));
  CHECK(e.find("contains '..'") != std::string::npos);

  // Names: useradd's grammar, and never a number.
  for (const char *name : {"'app:x'", "'1000'", "App", "'-app'", "'a b'", "\"app\\tx\""}) {
    INFO(name);
    e = error_of(users(std::string("{name: ") + name + ", uid: 1000, group: app}"));
    CHECK(e.find("users[0].name: ") != std::string::npos);
    CHECK(e.find("is not a user name") != std::string::npos);
  }
  e = error_of(users("{name: " + std::string(33, 'a') + ", uid: 1000, group: app}"));
  CHECK(e.find("is not a user name") != std::string::npos);
  e = error_of(std::string(k_header) + "groups: [{name: \"app\\nroot::0:\", gid: 1000}]\n");
  CHECK(e.find("groups[0].name: 'app\\nroot::0:' is not a group name") != std::string::npos);

  // Ids: root's 0, the reserved 65535 and 4294967295, and one account per id.
  e = error_of(users("{name: app, uid: 0, group: app}"));
  CHECK(e.find("users[0].uid: uid 0 is root's") != std::string::npos);
  e = error_of(users("{name: app, uid: 65535, group: app}"));
  CHECK(e.find("uid 65535 is reserved") != std::string::npos);
  e = error_of(std::string(k_header) + "groups: [{name: app, gid: 4294967295}]\n");
  CHECK(e.find("gid 4294967295 is reserved") != std::string::npos);
  e = error_of(users("{name: app, uid: 1000, group: app}, {name: bob, uid: 1000, group: app}"));
  CHECK(e.find("users[1].uid: uid 1000 is user app's already") != std::string::npos);
  e = error_of(std::string(k_header) + "groups: [{name: app, gid: 1000}, {name: ops, gid: 1000}]\n");
  CHECK(e.find("groups[1].gid: gid 1000 is group app's already") != std::string::npos);

  // Archive components become URL paths.
  e = error_of(std::string(k_header) + "debian: {suite: bookworm, components: [\"main/../../x\"]}\n");
  CHECK(e.find("debian.components[0]: 'main/../../x' is not an archive component") != std::string::npos);

  // What is valid loads, with the default home.
  TempDir dir("recipe");
  write_text(dir / "r.yaml", users("{name: _app-1, uid: 1000, group: app}"));
  Recipe r = load_recipe(dir / "r.yaml");
  REQUIRE(r.users.size() == 1);
  CHECK(r.users[0].home == "/home/_app-1");
  CHECK(r.users[0].shell == "/bin/sh");
}

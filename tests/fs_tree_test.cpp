// The staging tree: path normalization, adds and their refusals, mkdir -p, removal, merging.
#include <builder/fs/fs_tree.hpp>

#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using namespace mrforge;
using namespace mrforge::builder;

namespace {

Node dir(uint32_t mode = 0755, std::string origin = "test") {
  Node n;
  n.type = NodeType::directory;
  n.mode = mode;
  n.origin = std::move(origin);
  return n;
}

Node file(uint64_t size = 0, std::string origin = "test") {
  Node n;
  n.type = NodeType::regular;
  n.size = size;
  n.content_path = "/nonexistent";
  n.origin = std::move(origin);
  return n;
}

Node link(NodeType type, std::string target, std::string origin = "test") {
  Node n;
  n.type = type;
  n.link_target = std::move(target);
  n.mode = type == NodeType::symlink ? 0777 : 0644;
  n.origin = std::move(origin);
  return n;
}

std::vector<std::string> paths(const FsTree &t) {
  std::vector<std::string> out;
  for (const auto &[p, n] : t.nodes()) out.push_back(p);
  return out;
}

} // namespace

TEST_CASE("normalize_path strips ./, repeated and trailing slashes", "[fs_tree]") {
  CHECK(FsTree::normalize_path("usr/bin/env", "t") == "usr/bin/env");
  CHECK(FsTree::normalize_path("./usr/bin/env", "t") == "usr/bin/env");
  CHECK(FsTree::normalize_path("usr//bin/./x/", "t") == "usr/bin/x");
  CHECK(FsTree::normalize_path("/usr/bin/x", "t", FsTree::Absolute::strip) == "usr/bin/x");
  CHECK(FsTree::normalize_path("a/.../b", "t") == "a/.../b"); // "..." is an ordinary name
  CHECK(FsTree::normalize_path("..x/y", "t") == "..x/y");
}

TEST_CASE("normalize_path refuses .., absolute paths, NUL and the root", "[fs_tree]") {
  CHECK_THROWS_AS(FsTree::normalize_path("usr/../etc/passwd", "data.tar member 3"), InputError);
  CHECK_THROWS_WITH(FsTree::normalize_path("../x", "data.tar member 3"),
                    Catch::Contains("data.tar member 3") && Catch::Contains(".."));
  CHECK_THROWS_AS(FsTree::normalize_path("a/..", "t"), InputError);
  CHECK_THROWS_WITH(FsTree::normalize_path("/etc/passwd", "recipe files[0]"),
                    Catch::Contains("recipe files[0]") && Catch::Contains("absolute"));
  CHECK_THROWS_AS(FsTree::normalize_path(std::string("a\0b", 3), "t"), InputError);
  CHECK_THROWS_AS(FsTree::normalize_path("", "t"), InputError);
  CHECK_THROWS_AS(FsTree::normalize_path("./", "t"), InputError);
  CHECK_THROWS_AS(FsTree::normalize_path("/", "t", FsTree::Absolute::strip), InputError);
}

TEST_CASE("add keeps byte-wise order with directories before their contents", "[fs_tree]") {
  FsTree t;
  t.add("usr", dir());
  t.add("usr/bin", dir());
  t.add("usr-local", dir());
  t.add("usr/bin/env", file(10));
  t.add("usr/\xc3\xa9", file()); // UTF-8 sorts after ASCII (unsigned bytes)
  t.add("usr/Z", file());
  CHECK(paths(t) == std::vector<std::string>{"usr", "usr-local", "usr/Z", "usr/bin", "usr/bin/env", "usr/\xc3\xa9"});
  REQUIRE(t.find("usr/bin/env") != nullptr);
  CHECK(t.find("usr/bin/env")->size == 10);
  CHECK(t.find("usr/bin/none") == nullptr);
  CHECK(t.size() == 6);
}

TEST_CASE("add refuses a missing parent, a non-directory parent and writes through a symlink", "[fs_tree]") {
  FsTree t;
  CHECK_THROWS_WITH(t.add("etc/passwd", file(0, "package base-files")),
                    Catch::Contains("package base-files") && Catch::Contains("does not exist"));
  t.add("etc", dir());
  t.add("etc/hosts", file());
  CHECK_THROWS_WITH(t.add("etc/hosts/x", file()), Catch::Contains("not a directory"));
  t.add("lib", link(NodeType::symlink, "usr/lib"));
  CHECK_THROWS_WITH(t.add("lib/evil.so", file(0, "package evil")),
                    Catch::Contains("package evil") && Catch::Contains("symlink 'lib'"));
  CHECK_THROWS_AS(t.ensure_directory("lib/modules", "recipe"), InputError);
  CHECK_THROWS_AS(t.ensure_directory("etc/hosts/d", "recipe"), InputError);
}

TEST_CASE("add handles conflicts by policy", "[fs_tree]") {
  FsTree t;
  t.add("etc", dir(0755, "package a"));
  t.add("etc/motd", file(1, "package a"));
  // Same file again: an error by default, naming both origins.
  CHECK_THROWS_WITH(t.add("etc/motd", file(2, "package b")),
                    Catch::Contains("package b") && Catch::Contains("package a"));
  t.add("etc/motd", file(3, "recipe"), OnExisting::replace);
  CHECK(t.find("etc/motd")->size == 3);
  // A directory cannot become a file, even with replace.
  CHECK_THROWS_AS(t.add("etc", file(), OnExisting::replace), InputError);
  // A directory given again keeps its metadata (dpkg), unless replacing.
  t.add("etc", dir(0700, "package c"));
  CHECK(t.find("etc")->mode == 0755);
  t.add("etc", dir(0700, "recipe"), OnExisting::replace);
  CHECK(t.find("etc")->mode == 0700);
  CHECK(t.find("etc/motd") != nullptr); // contents kept
}

TEST_CASE("hard links must point at a regular file already in the tree", "[fs_tree]") {
  FsTree t;
  t.add("bin", dir());
  CHECK_THROWS_WITH(t.add("bin/b", link(NodeType::hardlink, "bin/a")), Catch::Contains("not in the tree"));
  t.add("bin/a", file(5));
  t.add("bin/b", link(NodeType::hardlink, "bin/a"));
  CHECK_THROWS_WITH(t.add("bin/c", link(NodeType::hardlink, "bin")), Catch::Contains("not a regular file"));
  t.add("bin/s", link(NodeType::symlink, "a"));
  CHECK_THROWS_AS(t.add("bin/d", link(NodeType::hardlink, "bin/s")), InputError);
}

TEST_CASE("ensure_directory creates missing directories as 0755 root", "[fs_tree]") {
  FsTree t;
  t.ensure_directory("var/lib/dpkg", "dpkg database");
  CHECK(paths(t) == std::vector<std::string>{"var", "var/lib", "var/lib/dpkg"});
  const Node *n = t.find("var/lib");
  REQUIRE(n != nullptr);
  CHECK(n->type == NodeType::directory);
  CHECK(n->mode == 0755);
  CHECK(n->uid == 0);
  CHECK(n->origin == "dpkg database");
  t.ensure_directory("var/lib", "again"); // existing: unchanged
  CHECK(t.find("var/lib")->origin == "dpkg database");
}

TEST_CASE("remove takes a subtree and hard links into it", "[fs_tree]") {
  FsTree t;
  t.ensure_directory("a/b", "t");
  t.add("a/b/f", file());
  t.add("a/bx", file());
  t.add("a/link", link(NodeType::hardlink, "a/b/f"));
  t.add("a/keep", file());
  CHECK(t.remove("a/b") == 3); // a/b, a/b/f and the dangling a/link
  CHECK(paths(t) == std::vector<std::string>{"a", "a/bx", "a/keep"});
  CHECK(t.remove("nothing") == 0);
}

TEST_CASE("merge adds a later layer over an earlier one", "[fs_tree]") {
  FsTree base;
  base.ensure_directory("etc", "base");
  base.add("etc/issue", file(1, "base"));
  FsTree layer;
  layer.ensure_directory("etc", "layer");
  layer.add("etc/issue", file(2, "layer"));
  layer.add("etc/new", file(3, "layer"));
  FsTree strict = base;
  CHECK_THROWS_AS(strict.merge(layer, OnExisting::error), InputError);
  base.merge(layer, OnExisting::replace);
  CHECK(base.find("etc/issue")->size == 2);
  CHECK(base.find("etc/new") != nullptr);
}

TEST_CASE("parent_path and node type names", "[fs_tree]") {
  CHECK(parent_path("usr/bin/env") == "usr/bin");
  CHECK(parent_path("etc").empty());
  CHECK(std::string(node_type_name(NodeType::hardlink)) == "hard link");
  CHECK(std::string(node_type_name(NodeType::char_device)) == "character device");
}

TEST_CASE("merge adds hard links after their files even when a link sorts first", "[fs_tree]") {
  FsTree layer;
  layer.add("b", file(3));
  layer.add("a", link(NodeType::hardlink, "b"));
  FsTree base;
  base.merge(layer, OnExisting::error);
  CHECK(paths(base) == std::vector<std::string>{"a", "b"});
  CHECK(base.find("a")->link_target == "b");
}

TEST_CASE("a file with hard links cannot be replaced by another kind of node", "[fs_tree]") {
  FsTree t;
  t.add("f", file(3));
  t.add("g", link(NodeType::hardlink, "f"));
  CHECK_THROWS_WITH(t.add("f", link(NodeType::symlink, "x", "recipe"), OnExisting::replace),
                    Catch::Contains("'f' has hard links ('g')"));
  t.add("f", file(5), OnExisting::replace); // another regular file keeps the links valid
  CHECK(t.find("f")->size == 5);
  t.ensure_directory("", "test"); // the root is implicit: nothing is added
  CHECK(t.find("") == nullptr);
}

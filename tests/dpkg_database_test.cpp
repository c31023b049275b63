// add_dpkg_database: the database written for packages built by dpkg-deb is read back with the
// real dpkg-query and dpkg --verify from a copy of the staged tree.
#include "test_support.hpp"

#include <builder/debian/deb_unpack.hpp>
#include <builder/debian/dpkg_database.hpp>
#include <builder/fs/content_staging.hpp>
#include <builder/fs/fs_tree.hpp>

#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

namespace fs = std::filesystem;
using namespace mrforge;
using namespace mrforge::builder;

namespace {

using namespace mrforge::test;

struct PipeCloser {
  void operator()(std::FILE *f) const noexcept { ::pclose(f); }
};

// Runs a shell command with LC_ALL=C and returns its standard output; `status` gets the exit code.
std::string output_of(const std::string &command, int *status = nullptr) {
  std::unique_ptr<std::FILE, PipeCloser> pipe(::popen(("LC_ALL=C COLUMNS=200 " + command).c_str(), "r"));
  REQUIRE(pipe);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, pipe.get())) > 0) out.append(buf, n);
  int rc = ::pclose(pipe.release());
  if (status != nullptr)
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
  else
    REQUIRE(rc == 0);
  return out;
}

fs::path build_hello(const fs::path &tmp) {
  fs::path root = tmp / "hello";
  write_file(root / "DEBIAN/control",
             "Package: hello\nVersion: 1:2.3-4\nArchitecture: all\nMaintainer: T <t@example.org>\n"
             "Multi-Arch: foreign\nDescription: greeting\n prints hello\n");
  write_file(root / "DEBIAN/postinst", "#!/bin/sh\nadduser hello\n", fs::perms(0755));
  write_file(root / "DEBIAN/conffiles", "/etc/hello.conf\n");
  write_file(root / "usr/bin/hello", "#!/bin/sh\necho hello\n", fs::perms(0755));
  write_file(root / "usr/share/doc/hello/copyright", "none\n");
  write_file(root / "etc/hello.conf", "greeting = hello\n");
  fs::create_symlink("/etc/alternatives/hi", root / "usr/bin/hi");
  output_of("cd '" + root.string() + "' && md5sum usr/bin/hello usr/share/doc/hello/copyright > DEBIAN/md5sums");
  fs::path deb = tmp / "hello_2.3-4_all.deb";
  output_of("dpkg-deb --root-owner-group -Zxz --build '" + root.string() + "' '" + deb.string() + "'");
  return deb;
}

fs::path build_libfoo(const fs::path &tmp) {
  fs::path root = tmp / "libfoo";
  write_file(root / "DEBIAN/control", "Package: libfoo1\nSource: foo\nVersion: 0.9-1\nArchitecture: amd64\n"
                                      "Maintainer: T <t@example.org>\nMulti-Arch: same\nDescription: foo library\n");
  write_file(root / "DEBIAN/triggers", "activate-noawait ldconfig\n");
  write_file(root / "DEBIAN/shlibs", "libfoo 1 libfoo1 (>= 0.9)\n");
  write_file(root / "usr/lib/x86_64-linux-gnu/libfoo.so.1", "not really ELF\n");
  output_of("cd '" + root.string() + "' && md5sum usr/lib/x86_64-linux-gnu/libfoo.so.1 > DEBIAN/md5sums");
  fs::path deb = tmp / "libfoo1_0.9-1_amd64.deb";
  output_of("dpkg-deb --root-owner-group -Zgzip --build '" + root.string() + "' '" + deb.string() + "'");
  return deb;
}

// Copies the staged tree to a host directory (files, directories, symlinks, hard links).
void materialize(const FsTree &tree, const fs::path &root) {
  fs::create_directories(root);
  for (const auto &[path, node] : tree.nodes()) {
    fs::path p = root / path;
    switch (node.type) {
    case NodeType::directory: fs::create_directory(p); break;
    case NodeType::regular: fs::copy_file(node.content_path, p); break;
    case NodeType::symlink: fs::create_symlink(node.link_target, p); continue;
    case NodeType::hardlink: fs::create_hard_link(root / node.link_target, p); continue;
    default: FAIL("unexpected node type in test tree");
    }
    fs::permissions(p, fs::perms(node.mode & 0777));
  }
}

// dpkg's file list from the package itself: "./usr/bin/" -> "/usr/bin", "./" -> "/.".
std::string expected_list(const fs::path &deb) {
  std::string names = output_of("dpkg-deb --fsys-tarfile '" + deb.string() + "' | tar -t");
  std::string out;
  std::istringstream in(names);
  std::string line;
  while (std::getline(in, line)) {
    if (line == "./") {
      out += "/.\n";
      continue;
    }
    if (line.back() == '/') line.pop_back();
    out += line.substr(1) + "\n";
  }
  return out;
}

struct Built {
  TempDir tmp{"dpkgdb"};
  fs::path hello_deb, libfoo_deb;
  ContentStaging staging{(tmp / "staging")};
  FsTree tree;
  std::vector<DebPackage> packages;

  Built() {
    hello_deb = build_hello(tmp.path());
    libfoo_deb = build_libfoo(tmp.path());
    packages.push_back(unpack_deb(libfoo_deb.string(), "libfoo1_0.9-1_amd64.deb", tree, staging, {}));
    packages.push_back(unpack_deb(hello_deb.string(), "hello_2.3-4_all.deb", tree, staging, {}));
    add_dpkg_database(tree, staging, packages, "dpkg database");
  }

  std::string staged(const std::string &path) const {
    const Node *node = tree.find(path);
    REQUIRE(node != nullptr);
    REQUIRE(node->type == NodeType::regular);
    return read_text(node->content_path);
  }
};

} // namespace

TEST_CASE("the dpkg status file has one paragraph per package with Status and Conffiles", "[deb]") {
  Built b;
  std::string conf_md5 = output_of("md5sum '" + (b.tmp / "hello/etc/hello.conf") + "' | cut -c1-32");
  conf_md5.pop_back();
  CHECK(b.staged("var/lib/dpkg/status") == "Package: hello\n"
                                           "Status: install ok installed\n"
                                           "Version: 1:2.3-4\n"
                                           "Architecture: all\n"
                                           "Maintainer: T <t@example.org>\n"
                                           "Multi-Arch: foreign\n"
                                           "Conffiles:\n"
                                           " /etc/hello.conf " +
                                               conf_md5 +
                                               "\n"
                                               "Description: greeting\n"
                                               " prints hello\n"
                                               "\n"
                                               "Package: libfoo1\n"
                                               "Status: install ok installed\n"
                                               "Source: foo\n"
                                               "Version: 0.9-1\n"
                                               "Architecture: amd64\n"
                                               "Maintainer: T <t@example.org>\n"
                                               "Multi-Arch: same\n"
                                               "Description: foo library\n"
                                               "\n");
  CHECK(b.staged("var/lib/dpkg/info/hello.list") == expected_list(b.hello_deb));
  CHECK(b.staged("var/lib/dpkg/info/libfoo1:amd64.list") == expected_list(b.libfoo_deb));
  CHECK(b.staged("var/lib/dpkg/info/hello.conffiles") == "/etc/hello.conf\n");
  CHECK(b.staged("var/lib/dpkg/info/hello.postinst") == "#!/bin/sh\nadduser hello\n");
  CHECK(b.tree.find("var/lib/dpkg/info/hello.postinst")->mode == 0755);
  CHECK(b.tree.find("var/lib/dpkg/info/hello.md5sums")->mode == 0644);
  CHECK(b.staged("var/lib/dpkg/info/libfoo1:amd64.triggers") == "activate-noawait ldconfig\n");
  CHECK(b.staged("var/lib/dpkg/info/libfoo1:amd64.shlibs") == "libfoo 1 libfoo1 (>= 0.9)\n");
  for (const char *empty : {"available", "diversions", "statoverride"})
    CHECK(b.staged(std::string("var/lib/dpkg/") + empty).empty());
  for (const char *dir : {"updates", "triggers", "alternatives", "parts", "info"})
    CHECK(b.tree.find(std::string("var/lib/dpkg/") + dir)->type == NodeType::directory);
}

TEST_CASE("the dpkg database does not depend on the order packages are given in", "[deb]") {
  Built b;
  TempDir other{"dpkgdb"};
  ContentStaging staging((other / "staging"));
  FsTree tree;
  std::vector<DebPackage> reversed(b.packages.rbegin(), b.packages.rend());
  unpack_deb(b.hello_deb.string(), "hello.deb", tree, staging, {});
  unpack_deb(b.libfoo_deb.string(), "libfoo.deb", tree, staging, {});
  add_dpkg_database(tree, staging, reversed, "dpkg database");
  for (const auto &[path, node] : b.tree.nodes()) {
    if (path.compare(0, 12, "var/lib/dpkg") != 0) continue;
    const Node *again = tree.find(path);
    REQUIRE(again != nullptr);
    CHECK(again->type == node.type);
    CHECK(again->mode == node.mode);
    if (node.type == NodeType::regular) CHECK(read_text(again->content_path) == read_text(node.content_path));
  }
}

TEST_CASE("dpkg-query and dpkg --verify read the written database", "[deb]") {
  Built b;
  fs::path root = (b.tmp / "image");
  materialize(b.tree, root);
  std::string admin = "--admindir='" + (root / "var/lib/dpkg").string() + "'";

  CHECK(output_of("dpkg-query " + admin + " -W -f='${Package} ${Version} ${Status}\\n'") ==
        "hello 1:2.3-4 install ok installed\nlibfoo1 0.9-1 install ok installed\n");
  CHECK(output_of("dpkg-query " + admin + " -L hello") == expected_list(b.hello_deb));
  CHECK(output_of("dpkg-query " + admin + " -L libfoo1:amd64") == expected_list(b.libfoo_deb));
  std::string listing = output_of("dpkg-query " + admin + " -l");
  CHECK(listing.find("ii  hello ") != std::string::npos);
  CHECK(listing.find("ii  libfoo1:amd64 ") != std::string::npos);
  CHECK(output_of("dpkg-query " + admin + " -S /usr/bin/hello") == "hello: /usr/bin/hello\n");

  // Everything verifies; then a changed binary and a changed conffile are reported.
  int status = 0;
  std::string verify = "dpkg --root='" + root.string() + "' --verify hello libfoo1 2>&1";
  CHECK(output_of(verify, &status).empty());
  CHECK(status == 0);
  write_file(root / "usr/bin/hello", "#!/bin/sh\necho changed\n", fs::perms(0755));
  write_file(root / "etc/hello.conf", "greeting = changed\n");
  std::string report = output_of(verify, &status);
  CHECK(report.find("??5?????? c /etc/hello.conf") != std::string::npos);
  CHECK(report.find("??5??????   /usr/bin/hello") != std::string::npos);
}

TEST_CASE("a package given twice to the dpkg database is refused", "[deb]") {
  Built b;
  FsTree tree;
  std::vector<DebPackage> twice{b.packages[1], b.packages[1]};
  CHECK_THROWS_WITH(add_dpkg_database(tree, b.staging, twice, "dpkg database"),
                    Catch::Contains("package 'hello' is given twice"));
}

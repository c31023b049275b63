// unpack_deb: real packages built by dpkg-deb, hostile packages crafted with libarchive, and a
// truncation sweep. Every refusal must name the .deb, the member and the problem, and leave the
// tree as it was.
#include "test_support.hpp"

#include <builder/debian/deb_unpack.hpp>
#include <builder/fs/content_staging.hpp>
#include <builder/fs/fs_tree.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

#include <catch2/catch.hpp>

#include <archive.h>
#include <archive_entry.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <vector>

namespace fs = std::filesystem;
using namespace mrforge;
using namespace mrforge::builder;

namespace {

using namespace mrforge::test;

std::string sha256_file(const fs::path &p) { return to_hex(sha256(ByteView::of(read_text(p)))); }

int run(const std::string &command) { return std::system(command.c_str()); }

// A small package tree: script, doc, conffile, relative and absolute symlinks, a hard link.
void make_hello_tree(const fs::path &root, const std::string &name, const std::string &extra_control = "") {
  write_file(root / "DEBIAN/control", "Package: " + name +
                                          "\nVersion: 1:2.3-4\nArchitecture: all\nMaintainer: Test <t@example.org>\n" +
                                          extra_control + "Description: test package\n more text\n .\n end\n");
  write_file(root / "DEBIAN/postinst", "#!/bin/sh\necho would configure\n", fs::perms(0755));
  write_file(root / "DEBIAN/conffiles", "/etc/" + name + ".conf\n");
  write_file(root / "usr/bin" / name, "#!/bin/sh\necho hello\n", fs::perms(0755));
  write_file(root / "usr/share/doc" / name / "copyright", "Copyright: nobody\n");
  write_file(root / "etc" / (name + ".conf"), "setting = 1\n");
  fs::create_symlink(name, root / "usr/bin" / (name + "-rel"));
  fs::create_symlink("/etc/alternatives/" + name, root / "usr/bin" / (name + "-alt"));
  fs::create_hard_link(root / "usr/bin" / name, root / "usr/bin" / (name + "2"));
  REQUIRE(run("cd '" + root.string() + "' && find usr -type f | sort | xargs md5sum > DEBIAN/md5sums") == 0);
}

fs::path build_deb(const fs::path &root, const fs::path &out, const std::string &compression) {
  REQUIRE(run("dpkg-deb --root-owner-group -Z" + compression + " --build '" + root.string() + "' '" + out.string() +
              "' >/dev/null") == 0);
  return out;
}

// ---- crafted archives ----

struct TarEntry {
  std::string path;
  mode_t type = AE_IFREG;
  uint32_t mode = 0644;
  std::string content;
  std::string symlink;
  std::string hardlink;
  unsigned dev_major = 0, dev_minor = 0;
};

struct WriteDeleter {
  void operator()(archive *a) const noexcept { archive_write_free(a); }
};

la_ssize_t append_to_string(archive *, void *client, const void *buffer, size_t length) {
  static_cast<std::string *>(client)->append(static_cast<const char *>(buffer), length);
  return static_cast<la_ssize_t>(length);
}

std::string make_tar(const std::vector<TarEntry> &entries) {
  std::string out;
  std::unique_ptr<archive, WriteDeleter> a(archive_write_new());
  REQUIRE(archive_write_set_format_pax_restricted(a.get()) == ARCHIVE_OK);
  REQUIRE(archive_write_add_filter_gzip(a.get()) == ARCHIVE_OK);
  REQUIRE(archive_write_set_bytes_in_last_block(a.get(), 1) == ARCHIVE_OK); // no padding to 10 KiB
  REQUIRE(archive_write_open(a.get(), &out, nullptr, append_to_string, nullptr) == ARCHIVE_OK);
  for (const TarEntry &e : entries) {
    std::unique_ptr<archive_entry, void (*)(archive_entry *)> entry(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(entry.get(), e.path.c_str());
    archive_entry_set_filetype(entry.get(), e.type);
    archive_entry_set_perm(entry.get(), e.mode);
    archive_entry_set_mtime(entry.get(), 1700000000, 0);
    if (!e.symlink.empty()) archive_entry_set_symlink(entry.get(), e.symlink.c_str());
    if (!e.hardlink.empty()) archive_entry_set_hardlink(entry.get(), e.hardlink.c_str());
    if (e.type == AE_IFCHR || e.type == AE_IFBLK) {
      archive_entry_set_rdevmajor(entry.get(), e.dev_major);
      archive_entry_set_rdevminor(entry.get(), e.dev_minor);
    }
    archive_entry_set_size(entry.get(), e.type == AE_IFREG && e.hardlink.empty() ? la_int64_t(e.content.size()) : 0);
    REQUIRE(archive_write_header(a.get(), entry.get()) == ARCHIVE_OK);
    if (!e.content.empty())
      REQUIRE(archive_write_data(a.get(), e.content.data(), e.content.size()) == la_ssize_t(e.content.size()));
  }
  REQUIRE(archive_write_close(a.get()) == ARCHIVE_OK);
  return out;
}

// The ar container, written with libarchive's BSD ar writer (names up to 16 bytes verbatim).
void write_ar(const fs::path &out_path, const std::vector<std::pair<std::string, std::string>> &members) {
  std::string out;
  std::unique_ptr<archive, WriteDeleter> a(archive_write_new());
  REQUIRE(archive_write_set_format_ar_bsd(a.get()) == ARCHIVE_OK);
  REQUIRE(archive_write_set_bytes_in_last_block(a.get(), 1) == ARCHIVE_OK);
  REQUIRE(archive_write_open(a.get(), &out, nullptr, append_to_string, nullptr) == ARCHIVE_OK);
  for (const auto &[name, bytes] : members) {
    std::unique_ptr<archive_entry, void (*)(archive_entry *)> entry(archive_entry_new(), archive_entry_free);
    archive_entry_set_pathname(entry.get(), name.c_str());
    archive_entry_set_filetype(entry.get(), AE_IFREG);
    archive_entry_set_perm(entry.get(), 0644);
    archive_entry_set_size(entry.get(), la_int64_t(bytes.size()));
    REQUIRE(archive_write_header(a.get(), entry.get()) == ARCHIVE_OK);
    REQUIRE(archive_write_data(a.get(), bytes.data(), bytes.size()) == la_ssize_t(bytes.size()));
  }
  REQUIRE(archive_write_close(a.get()) == ARCHIVE_OK);
  std::ofstream(out_path, std::ios::binary) << out;
}

std::string control_tar(const std::string &name) {
  return make_tar({{"./", AE_IFDIR, 0755, "", "", "", 0, 0},
                   {"./control", AE_IFREG, 0644,
                    "Package: " + name + "\nVersion: 1.0\nArchitecture: amd64\nDescription: crafted\n", "", "", 0, 0}});
}

TarEntry dir(const std::string &p) { return {p, AE_IFDIR, 0755, "", "", "", 0, 0}; }
TarEntry file(const std::string &p, const std::string &content, uint32_t mode = 0644) {
  return {p, AE_IFREG, mode, content, "", "", 0, 0};
}

fs::path crafted_deb(const fs::path &dir_path, const std::string &file_name, const std::string &package,
                     const std::vector<TarEntry> &data) {
  fs::path p = dir_path / file_name;
  write_ar(p, {{"debian-binary", "2.0\n"}, {"control.tar.gz", control_tar(package)}, {"data.tar.gz", make_tar(data)}});
  return p;
}

struct Fixture {
  TempDir tmp{"deb"};
  ContentStaging staging{(tmp / "staging")};
  FsTree tree;

  // A first, benign package so that refusals can be checked to leave the tree as it was.
  Fixture() {
    fs::path base =
        crafted_deb(tmp.path(), "base.deb", "base",
                    {dir("./"), dir("./etc/"), file("./etc/hostname", "base\n"), dir("./usr/"), dir("./usr/bin/")});
    unpack_deb(base.string(), "base.deb", tree, staging, {});
  }

  std::vector<std::string> paths() const {
    std::vector<std::string> out;
    for (const auto &[p, n] : tree.nodes()) out.push_back(p + " " + node_type_name(n.type) + " " + n.origin);
    return out;
  }

  // Unpacks a crafted package that must be refused; returns the message.
  std::string refused(const std::vector<TarEntry> &data, const UnpackPolicy &policy = {}) {
    fs::path deb = crafted_deb(tmp.path(), "evil_1.0_amd64.deb", "evil", data);
    std::vector<std::string> before = paths();
    std::string message;
    try {
      unpack_deb(deb.string(), "evil_1.0_amd64.deb", tree, staging, policy);
      FAIL("evil_1.0_amd64.deb was accepted");
    } catch (const InputError &e) {
      message = e.what();
    }
    CHECK(paths() == before);
    CHECK(message.find("evil_1.0_amd64.deb") != std::string::npos);
    CHECK(message.find("data.tar.gz") != std::string::npos);
    return message;
  }
};

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

} // namespace

TEST_CASE("a package built by dpkg-deb unpacks with its paths, modes, links, bytes and control fields", "[deb]") {
  for (std::string compression : {"xz", "gzip", "zstd", "none"}) {
    SECTION("compression " + compression) {
      TempDir tmp{"deb"};
      fs::path root = (tmp / "root");
      make_hello_tree(root, "hello", "Multi-Arch: foreign\n");
      fs::path deb = build_deb(root, (tmp / "hello.deb"), compression);
      ContentStaging staging((tmp / "staging"));
      FsTree tree;
      DebPackage pkg = unpack_deb(deb.string(), "hello_2.3-4_all.deb", tree, staging, {});

      CHECK(pkg.name == "hello");
      CHECK(pkg.version == "1:2.3-4");
      CHECK(pkg.architecture == "all");
      CHECK(pkg.multi_arch == "foreign");
      // dpkg-deb rewrites the control file (field order kept); compare with what it shipped.
      std::string shipped;
      REQUIRE(run("dpkg-deb --ctrl-tarfile '" + deb.string() + "' | tar -xO ./control > '" + (tmp / "control") + "'") ==
              0);
      shipped = read_text((tmp / "control"));
      CHECK(pkg.control == shipped);
      CHECK(pkg.conffiles == "/etc/hello.conf\n");
      CHECK(pkg.md5sums == read_text(root / "DEBIAN/md5sums"));
      REQUIRE(pkg.maintainer_scripts.count("postinst") == 1);
      CHECK(pkg.maintainer_scripts.at("postinst") == "#!/bin/sh\necho would configure\n");

      const Node *bin = tree.find("usr/bin/hello");
      REQUIRE(bin != nullptr);
      CHECK(bin->type == NodeType::regular);
      CHECK(bin->mode == 0755);
      CHECK(bin->uid == 0);
      CHECK(bin->gid == 0);
      CHECK(bin->origin == "package hello");
      CHECK(bin->size == fs::file_size(root / "usr/bin/hello"));
      CHECK(sha256_file(bin->content_path) == sha256_file(root / "usr/bin/hello"));
      CHECK(fs::path(bin->content_path).filename() == sha256_file(root / "usr/bin/hello"));
      CHECK(fs::path(bin->content_path).parent_path() == (tmp / "staging"));

      const Node *doc = tree.find("usr/share/doc/hello/copyright");
      REQUIRE(doc != nullptr);
      CHECK(doc->mode == 0644);
      CHECK(sha256_file(doc->content_path) == sha256_file(root / "usr/share/doc/hello/copyright"));

      const Node *rel = tree.find("usr/bin/hello-rel");
      REQUIRE(rel != nullptr);
      CHECK(rel->type == NodeType::symlink);
      CHECK(rel->link_target == "hello");
      const Node *alt = tree.find("usr/bin/hello-alt");
      REQUIRE(alt != nullptr);
      CHECK(alt->type == NodeType::symlink);
      CHECK(alt->link_target == "/etc/alternatives/hello");
      const Node *hard = tree.find("usr/bin/hello2");
      REQUIRE(hard != nullptr);
      CHECK(hard->type == NodeType::hardlink);
      CHECK(hard->link_target == "usr/bin/hello");
      const Node *usr = tree.find("usr");
      REQUIRE(usr != nullptr);
      CHECK(usr->type == NodeType::directory);
      CHECK(usr->mode == 0755);

      // paths: every entry once (the root "./" excluded), directories included, archive order.
      CHECK(pkg.paths.front() == "etc");
      CHECK(std::count(pkg.paths.begin(), pkg.paths.end(), "usr/bin") == 1);
      CHECK(std::count(pkg.paths.begin(), pkg.paths.end(), "usr/bin/hello2") == 1);
      CHECK(pkg.paths.size() == tree.size());
      // Nothing but content blobs in the staging directory.
      for (const auto &e : fs::directory_iterator((tmp / "staging"))) {
        CHECK(e.is_regular_file());
        CHECK(e.path().filename().string().size() == 64);
      }
    }
  }
}

TEST_CASE("identical contents are staged once and put() matches put_stream()", "[deb]") {
  TempDir tmp{"deb"};
  ContentStaging staging((tmp / "a/b"));
  StagedContent one = staging.put("same bytes");
  StagedContent two = staging.put("same bytes");
  CHECK(one.path == two.path);
  CHECK(one.size == 10);
  CHECK(one.sha256_hex == to_hex(sha256(ByteView::of("same bytes"))));
  CHECK(read_text(one.path) == "same bytes");
  StagedContent empty = staging.put("");
  CHECK(empty.sha256_hex == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  size_t count = 0;
  for ([[maybe_unused]] const auto &e : fs::directory_iterator((tmp / "a/b"))) ++count;
  CHECK(count == 2); // no temporary files left behind
}

TEST_CASE("hostile data.tar entries are refused with the .deb, the member and the problem", "[deb]") {
  Fixture f;
  std::string m;

  m = f.refused({dir("./"), file("/etc/passwd", "root::0:0::/:/bin/sh\n")});
  CHECK(contains(m, "absolute path '/etc/passwd'"));

  m = f.refused({dir("./"), file("../../etc/passwd", "x")});
  CHECK(contains(m, "'../../etc/passwd' contains '..'"));

  m = f.refused({dir("./"), dir("./opt/"), file("./opt/../../etc/passwd", "x")});
  CHECK(contains(m, "contains '..'"));

  m = f.refused({dir("./"), {"./x", AE_IFLNK, 0777, "", "/etc", "", 0, 0}, file("./x/passwd", "x")});
  CHECK(contains(m, "entry './x/passwd'"));
  CHECK(contains(m, "through the symlink 'x' -> '/etc'"));

  m = f.refused({dir("./"), {"./y", AE_IFREG, 0644, "", "", "../outside", 0, 0}});
  CHECK(contains(m, "'../outside' contains '..'"));

  m = f.refused({dir("./"), {"./y", AE_IFREG, 0644, "", "", "/etc/shadow", 0, 0}});
  CHECK(contains(m, "absolute path '/etc/shadow'"));

  // A hard link to another package's file.
  m = f.refused({dir("./"), {"./y", AE_IFREG, 0644, "", "", "./etc/hostname", 0, 0}});
  CHECK(contains(m, "hard link to './etc/hostname', which is not a regular file earlier in this package"));

  m = f.refused({dir("./"), dir("./dev/"), {"./dev/mem", AE_IFCHR, 0600, "", "", "", 1, 1}});
  CHECK(contains(m, "entry './dev/mem'"));
  CHECK(contains(m, "character device refused"));
  CHECK(contains(m, "allow: [device_nodes]"));

  m = f.refused({dir("./"), dir("./dev/"), {"./dev/sda", AE_IFBLK, 0600, "", "", "", 8, 0}});
  CHECK(contains(m, "block device refused"));

  m = f.refused({dir("./"), {"./pipe", AE_IFIFO, 0600, "", "", "", 0, 0}});
  CHECK(contains(m, "fifo refused"));

  m = f.refused({dir("./"), dir("./usr/"), dir("./usr/bin/"), file("./usr/bin/su", "ELF", 04755)});
  CHECK(contains(m, "entry './usr/bin/su'"));
  CHECK(contains(m, "setuid/setgid file (mode 4755)"));
  CHECK(contains(m, "allow: [setuid]"));

  m = f.refused({dir("./"), file("./usr/bin/wall", "ELF", 02755)});
  CHECK(contains(m, "mode 2755"));

  // Another package's file: both named.
  m = f.refused({dir("./"), dir("./etc/"), file("./etc/hostname", "evil\n")});
  CHECK(contains(m, "from package base"));
  CHECK(contains(m, "package evil"));
  CHECK(contains(m, "Replaces"));

  // The same file twice in one package.
  m = f.refused({dir("./"), file("./a", "1"), file("./a", "2")});
  CHECK(contains(m, "'a' appears twice"));

  // A symlink replacing a directory, a file below a file, a missing parent.
  m = f.refused({dir("./"), {"./usr", AE_IFLNK, 0777, "", "/tmp", "", 0, 0}});
  CHECK(contains(m, "'usr'"));
  m = f.refused({dir("./"), file("./etc/hostname/x", "1")});
  CHECK(contains(m, "not a directory"));
  m = f.refused({dir("./"), file("./nowhere/x", "1")});
  CHECK(contains(m, "does not exist"));

  // Absurd path length.
  m = f.refused({dir("./"), file("./" + std::string(5000, 'a'), "1")});
  CHECK(contains(m, "limit 4096"));
}

TEST_CASE("device nodes and setuid files are accepted when the policy allows them", "[deb]") {
  Fixture f;
  UnpackPolicy policy;
  policy.allow_device_nodes = true;
  policy.allow_setuid = true;
  fs::path deb = crafted_deb(f.tmp.path(), "dev.deb", "devs",
                             {dir("./"),
                              dir("./dev/"),
                              {"./dev/null", AE_IFCHR, 0666, "", "", "", 1, 3},
                              {"./dev/fifo", AE_IFIFO, 0600, "", "", "", 0, 0},
                              dir("./usr/"),
                              dir("./usr/bin/"),
                              file("./usr/bin/su", "ELF", 04755),
                              dir("./var/"),
                              {"./var/mail/", AE_IFDIR, 02775, "", "", "", 0, 0}});
  DebPackage pkg = unpack_deb(deb.string(), "dev.deb", f.tree, f.staging, policy);
  const Node *null = f.tree.find("dev/null");
  REQUIRE(null != nullptr);
  CHECK(null->type == NodeType::char_device);
  CHECK(null->dev_major == 1);
  CHECK(null->dev_minor == 3);
  CHECK(f.tree.find("dev/fifo")->type == NodeType::fifo);
  CHECK(f.tree.find("usr/bin/su")->mode == 04755);
  CHECK(f.tree.find("var/mail")->mode == 02775);
  // The base package's shared directories are listed again (dpkg lists them for every package).
  CHECK(std::find(pkg.paths.begin(), pkg.paths.end(), "usr/bin") != pkg.paths.end());
}

TEST_CASE("a setgid directory needs no permission", "[deb]") {
  Fixture f;
  fs::path deb = crafted_deb(f.tmp.path(), "mail.deb", "mail",
                             {dir("./"), dir("./var/"), {"./var/mail/", AE_IFDIR, 02775, "", "", "", 0, 0}});
  unpack_deb(deb.string(), "mail.deb", f.tree, f.staging, {});
  CHECK(f.tree.find("var/mail")->mode == 02775);
}

TEST_CASE("broken containers and control files are refused", "[deb]") {
  Fixture f;
  std::vector<std::string> before = f.paths();
  auto refuse = [&](const std::vector<std::pair<std::string, std::string>> &members, const std::string &expected) {
    fs::path deb = (f.tmp / "broken.deb");
    write_ar(deb, members);
    try {
      unpack_deb(deb.string(), "broken.deb", f.tree, f.staging, {});
      FAIL("accepted");
    } catch (const Error &e) {
      std::string m = e.what();
      CHECK(contains(m, "broken.deb"));
      CHECK(contains(m, expected));
    }
    CHECK(f.paths() == before);
  };
  std::string control = control_tar("pkg");
  std::string data = make_tar({dir("./"), file("./a", "1")});
  refuse({{"debian-binary", "3.0\n"}, {"control.tar.gz", control}, {"data.tar.gz", data}}, "debian-binary is '3.0");
  refuse({{"debian-binary", "2.0"}, {"control.tar.gz", control}, {"data.tar.gz", data}}, "debian-binary");
  refuse({{"control.tar.gz", control}, {"data.tar.gz", data}}, "expected 'debian-binary'");
  refuse({{"debian-binary", "2.0\n"}, {"data.tar.gz", data}, {"control.tar.gz", control}},
         "unexpected ar member 'data.tar.gz'");
  refuse({{"debian-binary", "2.0\n"}, {"control.tar.gz", control}}, "no data.tar member");
  refuse({{"debian-binary", "2.0\n"}, {"control.tar.gz", control}, {"evil", "x"}, {"data.tar.gz", data}},
         "unexpected ar member 'evil'");
  refuse({{"debian-binary", "2.0\n"}, {"control.tar.gz", control}, {"data.tar.gz", data}, {"data.tar.gz", data}},
         "nothing after data.tar");
  // Compression that does not match the name.
  refuse({{"debian-binary", "2.0\n"}, {"control.tar.gz", control}, {"data.tar.xz", data}}, "data.tar.xz");
  // Invalid control files.
  auto with_control = [&](const std::string &text) {
    return std::vector<std::pair<std::string, std::string>>{
        {"debian-binary", "2.0\n"},
        {"control.tar.gz", make_tar({dir("./"), file("./control", text)})},
        {"data.tar.gz", data}};
  };
  refuse(with_control("Package: ../../evil\nVersion: 1\nArchitecture: all\n"), "not a valid package name");
  refuse(with_control("Package: a\nVersion: 1\n"), "'Architecture' is missing");
  refuse(with_control("Package: a\nStatus: install ok installed\nVersion: 1\nArchitecture: all\n"),
         "field 'Status' belongs in dpkg's status file");
  refuse(with_control("Package: a\nPackage: b\nVersion: 1\nArchitecture: all\n"), "duplicate field Package");
  refuse(with_control("Package: a\nVersion: 1\nArchitecture: all\n\nPackage: b\n"), "second paragraph");
  refuse({{"debian-binary", "2.0\n"},
          {"control.tar.gz", make_tar({dir("./"), file("./control", "Package: a\nVersion: 1\nArchitecture: all\n"),
                                       file("./list", "/etc/shadow\n")})},
          {"data.tar.gz", data}},
         "control member named 'list'");
  refuse({{"debian-binary", "2.0\n"},
          {"control.tar.gz", make_tar({dir("./"), file("./control", "Package: a\nVersion: 1\nArchitecture: all\n"),
                                       file("./conffiles", "/etc/missing.conf\n")})},
          {"data.tar.gz", data}},
         "conffile '/etc/missing.conf' is not a regular file of this package");
}

TEST_CASE("a .deb truncated at any length is refused and leaves the tree unchanged", "[deb]") {
  TempDir tmp{"deb"};
  fs::path root = (tmp / "root");
  make_hello_tree(root, "hello");
  std::string whole = read_text(build_deb(root, (tmp / "hello.deb"), "xz"));
  ContentStaging staging((tmp / "staging"));
  size_t refused = 0;
  for (size_t len = 0; len < whole.size(); ++len) {
    fs::path cut = (tmp / "cut.deb");
    std::ofstream(cut, std::ios::binary | std::ios::trunc) << whole.substr(0, len);
    FsTree tree;
    try {
      unpack_deb(cut.string(), "hello_cut.deb", tree, staging, {});
      // Only dropping the ar padding byte after the last member may go unnoticed.
      CHECK(len + 1 == whole.size());
    } catch (const Error &e) {
      ++refused;
      CAPTURE(len, e.what());
      CHECK(contains(e.what(), "hello_cut.deb"));
      CHECK(tree.size() == 0);
    }
  }
  CHECK(refused + 1 >= whole.size());
}

TEST_CASE("a Debian archive package from the apt cache unpacks", "[deb]") {
  fs::path cache = "/var/cache/apt/archives";
  fs::path chosen;
  std::error_code ec;
  if (fs::is_directory(cache, ec)) {
    std::vector<fs::path> debs;
    for (const auto &e : fs::directory_iterator(cache, ec))
      if (e.path().extension() == ".deb") debs.push_back(e.path());
    std::sort(debs.begin(), debs.end());
    for (const auto &d : debs)
      if (d.filename().string().rfind("busybox", 0) == 0 || chosen.empty()) chosen = d;
  }
  TempDir tmp{"deb"};
  if (chosen.empty()) {
    // An apt configured to clean its cache (as in container images): fetch one from Debian.
    REQUIRE(run("cd '" + tmp.path() + "' && apt-get download -q busybox-static >/dev/null") == 0);
    for (const auto &e : fs::directory_iterator(tmp.path()))
      if (e.path().extension() == ".deb") chosen = e.path();
  }
  INFO("no .deb in " << cache << " and apt-get download busybox-static gave none");
  REQUIRE(!chosen.empty());
  ContentStaging staging((tmp / "staging"));
  FsTree tree;
  DebPackage pkg = unpack_deb(chosen.string(), chosen.filename().string(), tree, staging, {});
  CAPTURE(chosen);
  REQUIRE(run("dpkg-deb --field '" + chosen.string() + "' Package > '" + (tmp / "name") + "'") == 0);
  CHECK(pkg.name + "\n" == read_text((tmp / "name")));
  // Every regular file's staged bytes have the hash in their name.
  for (const auto &[path, node] : tree.nodes())
    if (node.type == NodeType::regular) CHECK(fs::path(node.content_path).filename() == sha256_file(node.content_path));
  // As many entries as dpkg-deb lists (minus the root "./").
  REQUIRE(run("dpkg-deb -c '" + chosen.string() + "' | wc -l > '" + (tmp / "count") + "'") == 0);
  CHECK(pkg.paths.size() + 1 == std::stoul(read_text((tmp / "count"))));
}

TEST_CASE("the first path of a hard-link group in byte order becomes the regular file", "[deb]") {
  Fixture f;
  fs::path deb = crafted_deb(f.tmp.path(), "links.deb", "links",
                             {dir("./"),
                              dir("./opt/"),
                              file("./opt/z", "shared bytes\n", 0755),
                              {"./opt/m", AE_IFREG, 0644, "", "", "./opt/z", 0, 0},
                              {"./opt/a", AE_IFREG, 0644, "", "", "./opt/z", 0, 0}});
  DebPackage pkg = unpack_deb(deb.string(), "links.deb", f.tree, f.staging, {});
  const Node *a = f.tree.find("opt/a");
  REQUIRE(a != nullptr);
  CHECK(a->type == NodeType::regular);
  CHECK(a->mode == 0755);
  CHECK(read_text(a->content_path) == "shared bytes\n");
  for (const char *link : {"opt/m", "opt/z"}) {
    const Node *n = f.tree.find(link);
    REQUIRE(n != nullptr);
    CHECK(n->type == NodeType::hardlink);
    CHECK(n->link_target == "opt/a");
  }
  CHECK(pkg.paths == std::vector<std::string>{"opt", "opt/z", "opt/m", "opt/a"});
}

// Deterministic tar and cpio writers: what they write is read back by libarchive, GNU tar and GNU
// cpio with every field checked, and the same tree gives the same bytes however its content files
// were created. Also scan_directory() and `mrforge archive`.
#include "test_support.hpp"

#include <builder/archive/archive_writers.hpp>
#include <builder/archive/compress.hpp>
#include <builder/fs/fs_tree.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <archive.h>
#include <archive_entry.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <sstream>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>
#include <vector>

using namespace mrforge;
using namespace mrforge::builder;
using mrforge::test::TempDir;

namespace {

constexpr int64_t k_mtime = 1700000000; // 2023-11-14 22:13:20 UTC

void write_file(const std::string &path, const std::string &data) {
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  f.close();
  REQUIRE(f.good());
}

std::string read_file(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Runs a shell command and returns its standard output; fails the test on a non-zero exit.
std::string run(const std::string &command, int expect_status = 0) {
  FILE *p = ::popen(command.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int status = ::pclose(p);
  INFO(command << "\n" << out);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == expect_status);
  return out;
}

void set_host_mtime(const std::string &path, time_t t) {
  struct timeval tv[2] = {{t, 0}, {t, 0}};
  REQUIRE(::lutimes(path.c_str(), tv) == 0);
}

std::string big_content() {
  std::string s;
  uint32_t x = 12345;
  while (s.size() < 300000) {
    x = x * 1103515245 + 12345;
    s += static_cast<char>(x >> 24);
    if (x % 7 == 0) s += "text text text\n";
  }
  return s;
}

const std::string k_long_dir = "usr/share/doc/" + std::string(60, 'd');
const std::string k_long_path = k_long_dir + "/" + std::string(70, 'f') + ".txt"; // > 100 chars
const std::string k_capability("\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00", 20);

struct Contents {
  std::string name;
  std::string data;
};

std::vector<Contents> contents() {
  return {{"hello", "hello world\n"},
          {"su", "#!/bin/sh\necho root\n"},
          {"big", big_content()},
          {"long", "long path\n"},
          {"empty", ""},
          {"hostname", "tdx-guest\n"}};
}

// A tree with every kind of entry. Content files are created in `content_dir`, in reverse order
// when asked, with host mtime `host_mtime`.
FsTree make_tree(const std::string &content_dir, bool reverse, time_t host_mtime, bool with_device = true) {
  std::vector<Contents> files = contents();
  if (reverse) std::reverse(files.begin(), files.end());
  for (const Contents &c : files) {
    write_file(content_dir + "/" + c.name, c.data);
    set_host_mtime(content_dir + "/" + c.name, host_mtime);
  }
  auto content = [&](const std::string &name, uint32_t mode, uint32_t uid = 0, uint32_t gid = 0) {
    Node n;
    n.type = NodeType::regular;
    n.mode = mode;
    n.uid = uid;
    n.gid = gid;
    n.content_path = content_dir + "/" + name;
    for (const Contents &c : contents())
      if (c.name == name) n.size = c.data.size();
    n.origin = "test";
    return n;
  };
  auto special = [](NodeType type, uint32_t mode, std::string target = {}) {
    Node n;
    n.type = type;
    n.mode = mode;
    n.link_target = std::move(target);
    n.origin = "test";
    return n;
  };
  FsTree t;
  t.ensure_directory("bin", "test");
  t.add("bin/su", content("su", 04755));
  t.add("bin/sh", special(NodeType::symlink, 0777, "dash"));
  t.ensure_directory("etc", "test");
  Node hostname = content("hostname", 0640, 1000, 1001);
  hostname.xattrs["user.comment"] = "hi";
  hostname.xattrs["security.capability"] = k_capability;
  t.add("etc/hostname", hostname);
  t.add("etc/hello", content("hello", 0644));
  t.add("etc/empty", content("empty", 0600));
  if (with_device) {
    t.ensure_directory("dev", "test");
    Node console = special(NodeType::char_device, 0600);
    console.dev_major = 5;
    console.dev_minor = 1;
    t.add("dev/console", console);
  }
  t.ensure_directory(k_long_dir, "test");
  t.add(k_long_path, content("long", 0644));
  t.ensure_directory("usr/lib", "test");
  t.add("usr/lib/data.bin", content("big", 0755));
  t.add("usr/lib/data.bin.hardlink", special(NodeType::hardlink, 0755, "usr/lib/data.bin"));
  t.add("usr/lib/data.bin.z", special(NodeType::hardlink, 0755, "usr/lib/data.bin"));
  Node tmp = special(NodeType::directory, 01777);
  t.add("tmp", tmp);
  return t;
}

std::string tar_bytes(const FsTree &t) {
  MemorySink out;
  write_tar(t, {k_mtime}, out);
  return out.data();
}

std::string cpio_bytes(const FsTree &t) {
  MemorySink out;
  write_cpio_newc(t, {k_mtime}, out);
  return out.data();
}

struct ReadEntry {
  std::string path;
  unsigned mode = 0; // type | permissions
  int64_t uid = 0, gid = 0;
  int64_t mtime = 0;
  long mtime_nsec = 0;
  bool atime = false, ctime = false, birthtime = false;
  std::string uname, gname;
  std::string symlink, hardlink;
  int64_t size = 0;
  unsigned rdevmajor = 0, rdevminor = 0;
  int64_t ino = 0;
  unsigned nlink = 0;
  std::map<std::string, std::string> xattrs;
  std::string data;
};

std::map<std::string, ReadEntry> read_back(const std::string &bytes) {
  archive *a = archive_read_new();
  REQUIRE(a != nullptr);
  archive_read_support_format_all(a);
  REQUIRE(archive_read_open_memory(a, bytes.data(), bytes.size()) == ARCHIVE_OK);
  std::map<std::string, ReadEntry> out;
  archive_entry *e;
  int r;
  while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK) {
    ReadEntry x;
    x.path = archive_entry_pathname(e);
    x.mode = archive_entry_mode(e);
    x.uid = archive_entry_uid(e);
    x.gid = archive_entry_gid(e);
    x.mtime = archive_entry_mtime(e);
    x.mtime_nsec = archive_entry_mtime_nsec(e);
    x.atime = archive_entry_atime_is_set(e) != 0;
    x.ctime = archive_entry_ctime_is_set(e) != 0;
    x.birthtime = archive_entry_birthtime_is_set(e) != 0;
    x.uname = archive_entry_uname(e) ? archive_entry_uname(e) : "";
    x.gname = archive_entry_gname(e) ? archive_entry_gname(e) : "";
    x.symlink = archive_entry_symlink(e) ? archive_entry_symlink(e) : "";
    x.hardlink = archive_entry_hardlink(e) ? archive_entry_hardlink(e) : "";
    x.size = archive_entry_size(e);
    x.rdevmajor = static_cast<unsigned>(archive_entry_rdevmajor(e));
    x.rdevminor = static_cast<unsigned>(archive_entry_rdevminor(e));
    x.ino = archive_entry_ino64(e);
    x.nlink = archive_entry_nlink(e);
    archive_entry_xattr_reset(e);
    const char *name;
    const void *value;
    size_t size;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
      x.xattrs[name] = std::string(static_cast<const char *>(value), size);
    char buf[65536];
    la_ssize_t n;
    while ((n = archive_read_data(a, buf, sizeof buf)) > 0) x.data.append(buf, static_cast<size_t>(n));
    REQUIRE(n == 0);
    std::string key = x.path;
    if (!key.empty() && key.back() == '/') key.pop_back();
    REQUIRE(out.count(key) == 0);
    out[key] = x;
  }
  REQUIRE(r == ARCHIVE_EOF);
  archive_read_free(a);
  return out;
}

// One cpio newc header (SVR4 "070701"), read by hand to check every field.
struct NewcHeader {
  std::string name;
  uint32_t ino, mode, uid, gid, nlink, mtime, filesize, devmajor, devminor, rdevmajor, rdevminor;
  std::string data;
};

std::vector<NewcHeader> parse_newc(const std::string &bytes, size_t &end) {
  std::vector<NewcHeader> out;
  size_t pos = 0;
  auto field = [&](size_t i) {
    return static_cast<uint32_t>(std::stoul(bytes.substr(pos + 6 + 8 * i, 8), nullptr, 16));
  };
  auto align4 = [](size_t v) { return (v + 3) & ~size_t{3}; };
  while (true) {
    REQUIRE(pos + 110 <= bytes.size());
    REQUIRE(bytes.substr(pos, 6) == "070701");
    NewcHeader h{};
    h.ino = field(0);
    h.mode = field(1);
    h.uid = field(2);
    h.gid = field(3);
    h.nlink = field(4);
    h.mtime = field(5);
    h.filesize = field(6);
    h.devmajor = field(7);
    h.devminor = field(8);
    h.rdevmajor = field(9);
    h.rdevminor = field(10);
    uint32_t namesize = field(11);
    CHECK(field(12) == 0); // check field: 0 in newc
    REQUIRE(namesize >= 1);
    h.name = bytes.substr(pos + 110, namesize - 1);
    CHECK(bytes[pos + 110 + namesize - 1] == '\0');
    pos = align4(pos + 110 + namesize);
    h.data = bytes.substr(pos, h.filesize);
    pos = align4(pos + h.filesize);
    out.push_back(h);
    if (h.name == "TRAILER!!!") break;
  }
  end = pos;
  return out;
}

} // namespace

TEST_CASE("tar: every entry reads back with libarchive with the tree's metadata", "[writers]") {
  TempDir dir;
  FsTree tree = make_tree(dir.path(), false, 1234567890);
  std::string tar = tar_bytes(tree);
  CHECK(tar.size() % 10240 == 0);
  std::map<std::string, ReadEntry> entries = read_back(tar);

  // Same paths in the same (byte-wise) order as the tree.
  std::vector<std::string> names;
  for (const auto &[path, node] : tree.nodes()) names.push_back(path);
  std::vector<std::string> read_names;
  for (const auto &[path, e] : entries) read_names.push_back(path);
  CHECK(read_names == names);

  for (const auto &[path, e] : entries) {
    CAPTURE(path);
    CHECK(e.path.rfind("./", 0) != 0);
    CHECK(e.mtime == k_mtime);
    CHECK(e.mtime_nsec == 0);
    CHECK_FALSE(e.atime);
    CHECK_FALSE(e.ctime);
    CHECK_FALSE(e.birthtime);
    CHECK(e.uname.empty());
    CHECK(e.gname.empty());
  }
  CHECK(entries["bin"].mode == (AE_IFDIR | 0755));
  CHECK(entries["tmp"].mode == (AE_IFDIR | 01777));
  CHECK(entries["bin/su"].mode == (AE_IFREG | 04755));
  CHECK(entries["bin/su"].data == "#!/bin/sh\necho root\n");
  CHECK(entries["bin/sh"].mode == (AE_IFLNK | 0777));
  CHECK(entries["bin/sh"].symlink == "dash");
  CHECK(entries["etc/hostname"].uid == 1000);
  CHECK(entries["etc/hostname"].gid == 1001);
  CHECK(entries["etc/hostname"].mode == (AE_IFREG | 0640));
  CHECK(entries["etc/hostname"].data == "tdx-guest\n");
  CHECK(entries["etc/hostname"].xattrs ==
        std::map<std::string, std::string>{{"security.capability", k_capability}, {"user.comment", "hi"}});
  CHECK(entries["etc/empty"].size == 0);
  CHECK(entries["dev/console"].mode == (AE_IFCHR | 0600));
  CHECK(entries["dev/console"].rdevmajor == 5);
  CHECK(entries["dev/console"].rdevminor == 1);
  CHECK(entries[k_long_path].data == "long path\n");
  CHECK(entries["usr/lib/data.bin"].data == big_content());
  CHECK(entries["usr/lib/data.bin.hardlink"].hardlink == "usr/lib/data.bin");
  CHECK(entries["usr/lib/data.bin.hardlink"].size == 0);
  CHECK(entries["usr/lib/data.bin.z"].hardlink == "usr/lib/data.bin");

  // One xattr header flavour, and a pax header only where ustar cannot hold the value.
  CHECK(tar.find("SCHILY.xattr.user.comment=hi") != std::string::npos);
  CHECK(tar.find("LIBARCHIVE.xattr") == std::string::npos);
  CHECK(tar.find("atime=") == std::string::npos);
  CHECK(tar.find("ctime=") == std::string::npos);
  CHECK(tar.find("mtime=") == std::string::npos);
}

TEST_CASE("tar: GNU tar lists and extracts the archive with names, modes, owners, times and links", "[writers]") {
  REQUIRE(run("command -v tar >/dev/null && echo yes") == "yes\n");
  TempDir dir;
  ::mkdir((dir / "content").c_str(), 0755);
  FsTree tree = make_tree(dir / "content", false, 1234567890);
  write_file(dir / "out.tar", tar_bytes(tree));

  // GNU tar pads columns; compare with runs of spaces squeezed.
  std::string listing = run("TZ=UTC LC_ALL=C tar -tvv --numeric-owner -f '" + (dir / "out.tar") + "' | tr -s ' '");
  INFO(listing);
  CHECK(listing.find("drwxr-xr-x 0/0 0 2023-11-14 22:13 bin/\n") != std::string::npos);
  CHECK(listing.find("-rwsr-xr-x 0/0 20 2023-11-14 22:13 bin/su\n") != std::string::npos);
  CHECK(listing.find("lrwxrwxrwx 0/0 0 2023-11-14 22:13 bin/sh -> dash\n") != std::string::npos);
  CHECK(listing.find("-rw-r----- 1000/1001 10 2023-11-14 22:13 etc/hostname\n") != std::string::npos);
  CHECK(listing.find("crw------- 0/0 5,1 2023-11-14 22:13 dev/console\n") != std::string::npos);
  CHECK(listing.find("hrwxr-xr-x 0/0 0 2023-11-14 22:13 usr/lib/data.bin.hardlink link to usr/lib/data.bin\n") !=
        std::string::npos);
  CHECK(listing.find(" " + k_long_path + "\n") != std::string::npos);
  CHECK(listing.find("drwxrwxrwt 0/0") != std::string::npos);
  CHECK(listing.find("./") == std::string::npos);

  // Extract (the device node is left out: mknod needs privileges a test should not rely on).
  ::mkdir((dir / "x").c_str(), 0755);
  run("tar -xpf '" + (dir / "out.tar") + "' -C '" + (dir / "x") + "' --exclude=dev/console");
  struct stat st {};
  REQUIRE(::lstat((dir / "x/bin/su").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 04755);
  CHECK(st.st_mtime == k_mtime);
  if (::geteuid() == 0) {
    REQUIRE(::lstat((dir / "x/etc/hostname").c_str(), &st) == 0);
    CHECK(st.st_uid == 1000);
    CHECK(st.st_gid == 1001);
  }
  CHECK(read_file(dir / "x/etc/hostname") == "tdx-guest\n");
  CHECK(read_file(dir / ("x/" + k_long_path)) == "long path\n");
  char target[64] = {};
  REQUIRE(::readlink((dir / "x/bin/sh").c_str(), target, sizeof target - 1) == 4);
  CHECK(std::string(target) == "dash");
  struct stat a {
  }, b{};
  REQUIRE(::stat((dir / "x/usr/lib/data.bin").c_str(), &a) == 0);
  REQUIRE(::stat((dir / "x/usr/lib/data.bin.z").c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);
  CHECK(a.st_nlink == 3);
  CHECK(read_file(dir / "x/usr/lib/data.bin.hardlink") == big_content());
  REQUIRE(::lstat((dir / "x/tmp").c_str(), &st) == 0);
  CHECK((st.st_mode & 07777) == 01777);
}

TEST_CASE("tar and cpio bytes do not depend on content file creation order, host mtimes or umask", "[writers]") {
  TempDir one, two;
  mode_t old_umask = ::umask(022);
  FsTree a = make_tree(one.path(), false, 1000000000);
  ::umask(077);
  FsTree b = make_tree(two.path(), true, 1600000000);
  ::umask(old_umask);
  CHECK(tar_bytes(a) == tar_bytes(b));
  CHECK(cpio_bytes(a) == cpio_bytes(b));
  // And through the sinks an OCI layer uses: identical digests for any thread count.
  auto layer = [](const FsTree &t, int threads) {
    MemorySink out;
    HashingSink compressed(&out);
    std::unique_ptr<ByteSink> gz = make_compressor({CompressionKind::gzip, 6, threads}, compressed);
    HashingSink raw(gz.get());
    write_tar(t, {k_mtime}, raw);
    raw.finish();
    CHECK(compressed.size() == out.data().size());
    return raw.sha256_hex() + "/" + compressed.sha256_hex();
  };
  CHECK(layer(a, 1) == layer(b, 3));
}

TEST_CASE("writers refuse content files that changed size since staging", "[writers]") {
  TempDir dir;
  FsTree tree = make_tree(dir.path(), false, 1234567890);
  write_file(dir / "hello", "hello world, now longer\n");
  MemorySink out;
  CHECK_THROWS_WITH(write_tar(tree, {k_mtime}, out), Catch::Contains("hello") && Catch::Contains("changed since"));
  CHECK_THROWS_AS(write_cpio_newc(tree, {k_mtime}, out), SystemError);
  ::unlink((dir / "hello").c_str());
  CHECK_THROWS_AS(write_tar(tree, {k_mtime}, out), SystemError);
}

TEST_CASE("cpio newc: sequential inodes, link counts, device numbers and TRAILER!!!", "[writers]") {
  TempDir dir;
  FsTree tree = make_tree(dir.path(), false, 1234567890);
  std::string cpio = cpio_bytes(tree);
  CHECK(cpio.size() % 512 == 0);
  size_t end = 0;
  std::vector<NewcHeader> headers = parse_newc(cpio, end);
  CHECK(cpio.find_first_not_of('\0', end) == std::string::npos); // only padding after the trailer
  REQUIRE(headers.size() == tree.size() + 1);
  CHECK(headers.back().name == "TRAILER!!!");

  std::map<std::string, NewcHeader> by_name;
  uint32_t expected_ino = 1;
  size_t i = 0;
  for (const auto &[path, node] : tree.nodes()) {
    const NewcHeader &h = headers[i++];
    CAPTURE(path);
    CHECK(h.name == path);
    CHECK(h.mtime == k_mtime);
    CHECK(h.devmajor == 0);
    CHECK(h.devminor == 0);
    if (node.type != NodeType::hardlink) CHECK(h.ino == expected_ino++);
    by_name[path] = h;
  }
  CHECK(by_name["bin"].mode == (AE_IFDIR | 0755));
  CHECK(by_name["bin"].nlink == 2);
  CHECK(by_name["usr"].nlink == 4); // usr/lib and usr/share
  CHECK(by_name["bin/su"].mode == (AE_IFREG | 04755));
  CHECK(by_name["bin/su"].nlink == 1);
  CHECK(by_name["bin/su"].data == "#!/bin/sh\necho root\n");
  CHECK(by_name["bin/sh"].mode == (AE_IFLNK | 0777));
  CHECK(by_name["bin/sh"].data == "dash");
  CHECK(by_name["etc/hostname"].uid == 1000);
  CHECK(by_name["etc/hostname"].gid == 1001);
  CHECK(by_name["dev/console"].mode == (AE_IFCHR | 0600));
  CHECK(by_name["dev/console"].rdevmajor == 5);
  CHECK(by_name["dev/console"].rdevminor == 1);
  CHECK(by_name["dev/console"].filesize == 0);
  // A hard-link group: one inode, nlink 3, data only on the last path.
  const NewcHeader &first = by_name["usr/lib/data.bin"];
  const NewcHeader &middle = by_name["usr/lib/data.bin.hardlink"];
  const NewcHeader &last = by_name["usr/lib/data.bin.z"];
  CHECK(first.ino == middle.ino);
  CHECK(first.ino == last.ino);
  CHECK(first.nlink == 3);
  CHECK(last.nlink == 3);
  CHECK(first.filesize == 0);
  CHECK(middle.filesize == 0);
  CHECK(last.data == big_content());
  CHECK(last.mode == (AE_IFREG | 0755));
}

TEST_CASE("cpio newc: GNU cpio lists and extracts it, hard links with their content", "[writers]") {
  REQUIRE(run("command -v cpio >/dev/null && echo yes") == "yes\n");
  TempDir dir;
  ::mkdir((dir / "content").c_str(), 0755);
  FsTree tree = make_tree(dir / "content", false, 1234567890, false);
  write_file(dir / "initrd.cpio", cpio_bytes(tree));
  std::string listing = run("cpio -t --quiet < '" + (dir / "initrd.cpio") + "'");
  std::string expected;
  for (const auto &[path, node] : tree.nodes()) expected += path + "\n";
  CHECK(listing == expected);

  ::mkdir((dir / "x").c_str(), 0755);
  run("cd '" + (dir / "x") + "' && cpio -i -d -m --quiet --no-absolute-filenames < '" + (dir / "initrd.cpio") + "'");
  CHECK(read_file(dir / "x/bin/su") == "#!/bin/sh\necho root\n");
  CHECK(read_file(dir / "x/usr/lib/data.bin") == big_content());
  CHECK(read_file(dir / "x/usr/lib/data.bin.hardlink") == big_content());
  CHECK(read_file(dir / "x/usr/lib/data.bin.z") == big_content());
  struct stat a {
  }, b{};
  REQUIRE(::stat((dir / "x/usr/lib/data.bin").c_str(), &a) == 0);
  REQUIRE(::stat((dir / "x/usr/lib/data.bin.hardlink").c_str(), &b) == 0);
  CHECK(a.st_ino == b.st_ino);
  CHECK(a.st_mtime == k_mtime);
  REQUIRE(::lstat((dir / "x/bin/su").c_str(), &a) == 0);
  CHECK((a.st_mode & 07777) == 04755);
  char target[64] = {};
  REQUIRE(::readlink((dir / "x/bin/sh").c_str(), target, sizeof target - 1) == 4);
  CHECK(std::string(target) == "dash");
  // libarchive reads it back too, with the inode numbers as written.
  std::map<std::string, ReadEntry> entries = read_back(read_file(dir / "initrd.cpio"));
  CHECK(entries["bin"].ino == 1);
  CHECK(entries["usr/lib/data.bin.z"].data == big_content());
}

namespace {

// Builds the same host directory in two ways: creation order reversed and a different umask
// (every mode is then set explicitly).
void make_host_dir(const std::string &root, bool reverse, mode_t mask) {
  mode_t old = ::umask(mask);
  std::vector<std::string> steps = {"d:a",     "d:a/b", "f:a/b/file", "f:a/z", "l:a/link", "h:a/b/file:c-hard",
                                    "d:empty", "f:top"};
  if (reverse) {
    // Same result, different order: files of a/ before a/b/'s, the hard link from the other side.
    steps = {"d:empty", "f:top", "d:a", "f:a/z", "d:a/b", "f:c-hard", "h:c-hard:a/b/file", "l:a/link"};
  }
  for (const std::string &s : steps) {
    std::string kind = s.substr(0, 1), rest = s.substr(2);
    if (kind == "d") {
      REQUIRE(::mkdir((root + "/" + rest).c_str(), 0777) == 0);
      REQUIRE(::chmod((root + "/" + rest).c_str(), 0755) == 0);
    } else if (kind == "f") {
      write_file(root + "/" + rest, "content of " + (rest == "c-hard" ? std::string("a/b/file") : rest) + "\n");
      REQUIRE(::chmod((root + "/" + rest).c_str(), rest == "top" ? 0600 : 0644) == 0);
    } else if (kind == "l") {
      REQUIRE(::symlink("../top", (root + "/" + rest).c_str()) == 0);
    } else {
      std::string from = rest.substr(0, rest.find(':')), to = rest.substr(rest.find(':') + 1);
      REQUIRE(::link((root + "/" + from).c_str(), (root + "/" + to).c_str()) == 0);
    }
  }
  ::umask(old);
}

} // namespace

TEST_CASE("scan_directory gives the same tree whatever the creation order and umask", "[writers]") {
  TempDir one, two;
  make_host_dir(one.path(), false, 022);
  make_host_dir(two.path(), true, 077);
  FsTree a = scan_directory(one.path(), {0, 0, "dir a"});
  FsTree b = scan_directory(two.path(), {0, 0, "dir b"});
  REQUIRE(a.size() == b.size());
  auto ia = a.nodes().begin();
  auto ib = b.nodes().begin();
  for (; ia != a.nodes().end(); ++ia, ++ib) {
    CAPTURE(ia->first);
    CHECK(ia->first == ib->first);
    CHECK(ia->second.type == ib->second.type);
    CHECK(ia->second.mode == ib->second.mode);
    CHECK(ia->second.size == ib->second.size);
    CHECK(ia->second.link_target == ib->second.link_target);
  }
  CHECK(tar_bytes(a) == tar_bytes(b));
  // The first path in byte order is the file, the other a hard link to it.
  REQUIRE(a.find("a/b/file") != nullptr);
  CHECK(a.find("a/b/file")->type == NodeType::regular);
  CHECK(a.find("a/b/file")->content_path == one / "a/b/file");
  CHECK(a.find("c-hard")->type == NodeType::hardlink);
  CHECK(a.find("c-hard")->link_target == "a/b/file");
  CHECK(a.find("a/link")->type == NodeType::symlink);
  CHECK(a.find("a/link")->link_target == "../top");
  CHECK(a.find("top")->mode == 0600);
  CHECK(a.find("top")->size == std::string("content of top\n").size());
  CHECK(a.find("empty")->type == NodeType::directory);
}

TEST_CASE("scan_directory takes owners from the options and does not follow symlinks", "[writers]") {
  TempDir dir;
  REQUIRE(::mkdir((dir / "d").c_str(), 0755) == 0);
  REQUIRE(::symlink("/etc", (dir / "d/etc").c_str()) == 0);
  write_file(dir / "d/f", "x");
  FsTree t = scan_directory(dir / "d", {1000, 1000, "test"});
  CHECK(t.size() == 2);
  CHECK(t.find("etc")->type == NodeType::symlink);
  CHECK(t.find("etc")->link_target == "/etc");
  CHECK(t.find("f")->uid == 1000);
  CHECK(t.find("f")->gid == 1000);
}

TEST_CASE("scan_directory refuses fifos and sockets, naming the path", "[writers]") {
  TempDir dir;
  REQUIRE(::mkdir((dir / "d").c_str(), 0755) == 0);
  REQUIRE(::mkfifo((dir / "d/pipe").c_str(), 0644) == 0);
  CHECK_THROWS_WITH(scan_directory(dir / "d", {}), Catch::Contains(dir / "d/pipe") && Catch::Contains("fifo"));
  CHECK_THROWS_AS(scan_directory(dir / "missing", {}), SystemError);
}

TEST_CASE("write_directory_archive writes, hashes and renames into place", "[writers]") {
  TempDir dir;
  REQUIRE(::mkdir((dir / "src").c_str(), 0755) == 0);
  make_host_dir(dir / "src", false, 022);
  DirectoryArchiveOptions o;
  o.source_dir = dir / "src";
  o.output_path = dir / "layer.tar.gz";
  o.archive.mtime = k_mtime;
  o.compression = {CompressionKind::gzip, 6, 2};
  ArchiveResult r = write_directory_archive(o);
  std::string gz = read_file(o.output_path);
  CHECK(r.sha256 == to_hex(sha256(ByteView::of(gz))));
  CHECK(r.size == gz.size());
  std::string tar = run("gzip -dc '" + o.output_path + "'");
  CHECK(r.uncompressed_sha256 == to_hex(sha256(ByteView::of(tar))));
  CHECK(r.uncompressed_size == tar.size());
  CHECK(r.compressor.rfind("libdeflate ", 0) == 0);
  CHECK(run("ls '" + dir.path() + "'") == "layer.tar.gz\nsrc\n"); // no temporary left behind
  // Again with other threads, over the existing file: same bytes.
  o.compression.threads = 1;
  ArchiveResult again = write_directory_archive(o);
  CHECK(again.sha256 == r.sha256);
  // cpio, uncompressed: both digests are the same.
  o.output_path = dir / "initrd.cpio";
  o.format = ArchiveFormat::cpio_newc;
  o.compression.kind = CompressionKind::none;
  ArchiveResult c = write_directory_archive(o);
  CHECK(c.sha256 == c.uncompressed_sha256);
  // A failure leaves nothing behind.
  o.source_dir = dir / "missing";
  o.output_path = dir / "never.tar";
  CHECK_THROWS_AS(write_directory_archive(o), SystemError);
  CHECK(run("ls '" + dir.path() + "'") == "initrd.cpio\nlayer.tar.gz\nsrc\n");
}

TEST_CASE("parse_epoch_seconds is strict", "[writers]") {
  CHECK(parse_epoch_seconds("0", "t") == 0);
  CHECK(parse_epoch_seconds("1700000000", "t") == 1700000000);
  CHECK(parse_epoch_seconds("9223372036854775807", "t") == INT64_MAX);
  for (const char *bad : {"", " 1", "1 ", "-1", "+1", "1.5", "0x10", "1e9", "9223372036854775808", "abc"}) {
    CAPTURE(bad);
    CHECK_THROWS_AS(parse_epoch_seconds(bad, "SOURCE_DATE_EPOCH"), InputError);
  }
}

TEST_CASE("mrforge archive prints the digests and needs a timestamp", "[writers]") {
  TempDir dir;
  REQUIRE(::mkdir((dir / "src").c_str(), 0755) == 0);
  make_host_dir(dir / "src", false, 022);
  std::string bin = MRFORGE_BINARY;
  std::string out = run("SOURCE_DATE_EPOCH=1700000000 '" + bin + "' archive '" + (dir / "src") + "' -o '" +
                        (dir / "a.tar.zst") + "' --compression zstd --threads 2 --json");
  nlohmann::json j = nlohmann::json::parse(out);
  CHECK(j["path"] == dir / "a.tar.zst");
  CHECK(j["sha256"] == to_hex(sha256(ByteView::of(read_file(dir / "a.tar.zst")))));
  CHECK(j["format"] == "tar");
  CHECK(j["compression"] == "zstd");
  CHECK(j["compressor"].get<std::string>().rfind("zstd ", 0) == 0);
  CHECK(j["uncompressed_size"].get<uint64_t>() % 10240 == 0);
  // --mtime gives the same bytes as SOURCE_DATE_EPOCH.
  std::string text = run("env -u SOURCE_DATE_EPOCH '" + bin + "' archive '" + (dir / "src") + "' -o '" +
                         (dir / "b.tar.zst") + "' --compression zstd --threads 1 --mtime 1700000000");
  CHECK(text.find(j["sha256"].get<std::string>()) != std::string::npos);
  // No timestamp, or a bad one: exit code 2 (bad input), nothing written.
  run("env -u SOURCE_DATE_EPOCH '" + bin + "' archive '" + (dir / "src") + "' -o '" + (dir / "c.tar") + "' 2>/dev/null",
      2);
  run("SOURCE_DATE_EPOCH=yesterday '" + bin + "' archive '" + (dir / "src") + "' -o '" + (dir / "c.tar") +
          "' 2>/dev/null",
      2);
  CHECK(::access((dir / "c.tar").c_str(), F_OK) != 0);
}

// Explaining differences between artifacts (builder/audit/artifact_diff.hpp, `mrforge diff`): file-system
// and disk images through libguestfs (erofs and squashfs made by the builder's own writer, with
// their dm-verity tails; a GPT disk with two ext4 partitions made by sfdisk and mkfs.ext4 -d),
// tar and cpio archives made by GNU tar and GNU cpio, JSON, text and binary files. Expected values
// come from the tools (sha256sum, cmp), not from the code under test. The libguestfs appliance is
// launched twice for the whole file (about a minute each under TCG): once for a directory of
// image pairs, once for a forged image.
#include "test_support.hpp"

#include <builder/audit/artifact_diff.hpp>
#include <builder/audit/guestfs_tree.hpp>
#include <builder/fs/fs_tree.hpp>
#include <builder/guest/rootfs_image.hpp>

#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace mrforge;
using namespace mrforge::builder;
using namespace mrforge::test;
namespace fs = std::filesystem;

namespace {

std::string all_lines(const std::vector<Difference> &diffs) {
  std::string s;
  for (const auto &d : diffs) s += d.line() + "\n";
  return s;
}

bool has_line(const std::vector<Difference> &diffs, const std::string &line) {
  for (const auto &d : diffs)
    if (d.line() == line) return true;
  return false;
}

// First differing byte, 0-based, as cmp reports it ("differ: byte N" is 1-based), or the size of
// the shorter file when one is a prefix of the other ("EOF on X after byte N").
uint64_t cmp_offset(const std::string &a, const std::string &b) {
  auto r = run_shell("cmp " + shell_quote(a) + " " + shell_quote(b));
  REQUIRE(r.exit_code == 1);
  std::string text = r.out + r.err;
  auto pos = text.find("byte ");
  REQUIRE(pos != std::string::npos);
  uint64_t n = std::stoull(text.substr(pos + 5));
  return text.find("EOF") != std::string::npos ? n : n - 1;
}

std::string hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string sha256_of_text(const std::string &text) {
  return sh("printf %s " + shell_quote(text) + " | sha256sum").substr(0, 64);
}

// The tree every image pair starts from; each field is changed on one side of one pair.
struct Variant {
  uint32_t motd_mode = 0644;
  std::string motd = "hello\n";
  uint32_t owned_uid = 1000;
  std::string link = "../etc/motd";
  std::string note = "first";
};

FsTree make_tree(const std::string &content_dir, const Variant &v) {
  fs::create_directories(content_dir);
  write_text(content_dir + "/motd", v.motd);
  write_text(content_dir + "/owned", "owned\n");
  FsTree tree;
  auto dir = [&](const std::string &p) {
    Node n;
    n.type = NodeType::directory;
    n.mode = 0755;
    n.origin = "test";
    tree.add(p, n);
  };
  auto file = [&](const std::string &host, uint32_t mode, uint32_t uid) {
    Node n;
    n.type = NodeType::regular;
    n.mode = mode;
    n.uid = uid;
    n.gid = 1000 * (uid != 0);
    n.content_path = host;
    n.size = fs::file_size(host);
    n.origin = "test";
    return n;
  };
  dir("bin");
  dir("etc");
  Node motd = file(content_dir + "/motd", v.motd_mode, 0);
  motd.xattrs["user.note"] = v.note;
  tree.add("etc/motd", motd);
  tree.add("etc/owned", file(content_dir + "/owned", 0640, v.owned_uid));
  Node link;
  link.type = NodeType::symlink;
  link.mode = 0777;
  link.link_target = v.link;
  link.origin = "test";
  tree.add("bin/link", link);
  return tree;
}

void write_image(const TempDir &work, const std::string &name, const Variant &v, RootfsFormat format,
                 const std::string &seed, const std::string &out) {
  std::string scratch = work / ("scratch-" + name);
  fs::create_directories(scratch);
  RootfsImageSettings s;
  s.format = format;
  s.seed = seed;
  s.source_date_epoch = 1700000000;
  s.scratch_dir = scratch;
  write_rootfs_image(make_tree(work / ("content-" + name), v), s, out);
}

// A GPT disk with two ext4 partitions filled by mkfs.ext4 -d (no loop device, no host mount).
void write_disk(const std::string &tree_dir, const std::string &out) {
  sh("truncate -s 24M " + shell_quote(out) +
     " && printf 'label: gpt\\nstart=2048, size=16384, type=linux\\n"
     "start=18432, size=20480, type=linux\\n' | sfdisk -q " +
     shell_quote(out));
  std::string env = "E2FSPROGS_FAKE_TIME=1700000000 ";
  sh(env + "mkfs.ext4 -q -U 11111111-2222-4333-8444-555555555555 -E offset=1048576 -d " +
     shell_quote(tree_dir + "/p1") + " " + shell_quote(out) + " 8M");
  sh(env + "mkfs.ext4 -q -U 11111111-2222-4333-8444-666666666666 -E offset=9437184 -d " +
     shell_quote(tree_dir + "/p2") + " " + shell_quote(out) + " 10M");
}

void make_disk_tree(const std::string &dir, const std::string &data) {
  sh("mkdir -p " + shell_quote(dir + "/p1/boot") + " " + shell_quote(dir + "/p2/srv"));
  write_text(dir + "/p1/boot/config", "boot\n");
  write_text(dir + "/p2/srv/data", data);
  sh("find " + shell_quote(dir) + " -exec touch -h -d @1700000000 {} +");
}

} // namespace

TEST_CASE("Two directories of image pairs: each file, attribute and file system is named, through libguestfs",
          "[diff][guestfs]") {
  TempDir work("h3-diff-images");
  fs::create_directories(work / "a");
  fs::create_directories(work / "b");
  auto pair = [&](const std::string &name, const Variant &va, const Variant &vb,
                  RootfsFormat format = RootfsFormat::erofs, const std::string &seed_b = "seed") {
    write_image(work, name + "-a", va, format, "seed", work / ("a/" + name));
    write_image(work, name + "-b", vb, format, seed_b, work / ("b/" + name));
  };
  Variant base;
  Variant mode = base, content = base, owner = base, link = base, note = base;
  mode.motd_mode = 0600;
  content.motd = "hellO\n";
  owner.owned_uid = 1001;
  link.link = "../etc/owned";
  note.note = "second";
  pair("mode.img", base, mode);
  pair("content.img", base, content);
  pair("owner.img", base, owner);
  pair("link.img", base, link);
  pair("xattr.img", base, note);
  pair("seed.img", base, base, RootfsFormat::erofs, "another seed"); // same tree, other UUIDs and salt
  pair("squash.img", base, mode, RootfsFormat::squashfs);
  pair("same.img", base, base);
  make_disk_tree(work / "disk-a", "data one\n");
  make_disk_tree(work / "disk-b", "data two\n");
  write_disk(work / "disk-a", work / "a/disk.img");
  write_disk(work / "disk-b", work / "b/disk.img");
  // A consequential record, reported after the images.
  write_text(work / "a/metadata.json", R"({"cmdline": "console=ttyS0 root=x", "version": "1"})");
  write_text(work / "b/metadata.json", R"({"cmdline": "console=ttyS0 root=y", "version": "1"})");

  // One `mrforge diff` run, so one appliance launch for all eight pairs.
  auto r = run_mrforge_cli({"diff", "--json", work / "a", work / "b"});
  INFO(r.err);
  REQUIRE(r.exit_code == 4);
  CHECK(r.err.find("libguestfs: launching the appliance for 16 image(s)") != std::string::npos);
  CHECK(r.err.find("reading erofs on /dev/sda") != std::string::npos);
  CHECK(r.err.find("reading squashfs on /dev/sda") != std::string::npos);
  CHECK(r.err.find("reading ext4 on /dev/sda2") != std::string::npos);
  auto list = nlohmann::json::parse(r.out);
  std::vector<Difference> diffs;
  for (const auto &j : list) {
    Difference d{j.at("artifact").get<std::string>(),  j.at("entry").get<std::string>(),
                 j.at("attribute").get<std::string>(), j.at("a").get<std::string>(),
                 j.at("b").get<std::string>(),         {},
                 j.value("note", std::string())};
    if (j.contains("offset")) d.offset = j["offset"].get<uint64_t>();
    diffs.push_back(d);
  }
  INFO(all_lines(diffs));

  CHECK(has_line(diffs, "mode.img: etc/motd: mode 0644 -> 0600"));
  CHECK(has_line(diffs, "content.img: etc/motd: content sha256:" + sha256_of_text("hello\n") +
                            " -> sha256:" + sha256_of_text("hellO\n")));
  CHECK(has_line(diffs, "owner.img: etc/owned: owner 1000:1000 -> 1001:1000"));
  CHECK(has_line(diffs, "link.img: bin/link: link target ../etc/motd -> ../etc/owned"));
  CHECK(has_line(diffs, "xattr.img: etc/motd: xattr user.note first -> second"));
  CHECK(has_line(diffs, "squash.img: etc/motd: mode 0644 -> 0600"));
  CHECK(has_line(diffs, "disk.img: sda2:srv/data: content sha256:" + sha256_of_text("data one\n") +
                            " -> sha256:" + sha256_of_text("data two\n")));
  // Only that attribute of that file: one line per changed image pair.
  for (std::string name : {"mode.img", "content.img", "owner.img", "link.img", "xattr.img", "squash.img", "disk.img"}) {
    size_t n = 0;
    for (const auto &d : diffs) n += d.artifact == name;
    CHECK(n == 1);
  }
  // Equal trees, different bytes: said so, with the first differing offset cmp finds.
  std::string seed_line =
      "seed.img: content differs at offset " + hex(cmp_offset(work / "a/seed.img", work / "b/seed.img"));
  bool seed_found = false;
  for (const auto &d : diffs)
    if (d.artifact == "seed.img") {
      seed_found = true;
      CHECK(d.line().rfind(seed_line, 0) == 0);
      CHECK(d.note.find("file system trees equal") != std::string::npos);
    }
  CHECK(seed_found);
  for (const auto &d : diffs) CHECK(d.artifact != "same.img");
  // Images first, the JSON record last.
  REQUIRE(!diffs.empty());
  CHECK(diffs.back().line() == "metadata.json: cmdline: value console=ttyS0 root=x -> console=ttyS0 root=y");

  // Without libguestfs the images are only bytes (and no appliance is started).
  std::vector<std::string> progress;
  DiffOptions bytes_only;
  bytes_only.use_guestfs = false;
  bytes_only.progress = [&](const std::string &l) { progress.push_back(l); };
  auto raw = diff_paths(work / "a/mode.img", work / "b/mode.img", bytes_only);
  CHECK(progress.empty());
  REQUIRE(raw.size() == 1);
  CHECK(raw[0].attribute == "content");
  CHECK(raw[0].offset == cmp_offset(work / "a/mode.img", work / "b/mode.img"));
}

TEST_CASE("A file that claims erofs magic but is not a file system is a clear error", "[diff][guestfs]") {
  TempDir work("h3-diff-forged");
  // Random bytes with the erofs superblock magic (0xE0F5E1E2, little-endian) at offset 1024.
  sh("head -c 65536 /dev/urandom > " + shell_quote(work / "a.img") +
     " && printf '\\342\\341\\365\\340' | dd of=" + shell_quote(work / "a.img") +
     " bs=1 seek=1024 conv=notrunc status=none && printf '\\000' | dd of=" + shell_quote(work / "a.img") +
     " bs=1 seek=9000 conv=notrunc status=none && cp " + shell_quote(work / "a.img") + " " +
     shell_quote(work / "b.img") + " && printf x | dd of=" + shell_quote(work / "b.img") +
     " bs=1 seek=9000 conv=notrunc status=none");
  auto r = run_mrforge_cli({"diff", work / "a.img", work / "b.img"});
  INFO(r.out << r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("mrforge: error: " + work / "a.img") != std::string::npos);
  bool clear = r.err.find("no file system") != std::string::npos || r.err.find("does not mount") != std::string::npos;
  CHECK(clear);
  // Byte comparison still works on it.
  auto raw = run_mrforge_cli({"diff", "--no-guestfs", work / "a.img", work / "b.img"});
  CHECK(raw.exit_code == 4);
  CHECK(raw.out == "a.img vs b.img: content differs at offset 0x2328 (compared as bytes only: libguestfs not used)\n");
}

TEST_CASE("tar.gz members: presence, type, mode, owner, content, link target, xattr and mtime", "[diff]") {
  TempDir work("h3-diff-tar");
  for (std::string side : {"a", "b"}) {
    std::string d = work / (side + "/t");
    sh("mkdir -p " + shell_quote(d + "/etc") + " && cd " + shell_quote(d) +
       " && printf 'hello\\n' > etc/motd && printf 'x\\n' > etc/x && ln -s motd etc/link && mkdir etc/d");
  }
  std::string b = work / "b/t";
  sh("cd " + shell_quote(b) + " && chmod 0600 etc/motd && printf 'hellO\\n' > etc/x && ln -sf x etc/link && " +
     "setfattr -n user.tag -v blue etc/motd && printf 'new\\n' > etc/new && rmdir etc/d && printf d > etc/d && chmod "
     "0755 etc/d");
  for (std::string side : {"a", "b"})
    sh("cd " + shell_quote(work / (side + "/t")) + " && find . -exec touch -h -d @1700000000 {} + && " +
       (side == "b" ? "touch -d @1700000001 etc/new && " : "") +
       "tar --xattrs --format=pax --sort=name --numeric-owner --owner=0 --group=0 --mtime=@1700000000 -czf ../l.tar.gz "
       ".");
  // The owner of one member differs: rebuild b's tar with etc/x owned by 1000.
  sh("cd " + shell_quote(b) + " && tar --xattrs --format=pax --sort=name --numeric-owner --owner=0 --group=0 " +
     "--mtime=@1700000000 --exclude=./etc/x -cf ../l.tar . && tar --xattrs --format=pax --numeric-owner --owner=1000 " +
     "--group=1000 --mtime=@1700000005 -rf ../l.tar ./etc/x && gzip -n -f ../l.tar");
  auto diffs = diff_paths(work / "a/l.tar.gz", work / "b/l.tar.gz");
  INFO(all_lines(diffs));
  CHECK(has_line(diffs, "l.tar.gz: etc/motd: mode 0644 -> 0600"));
  CHECK(has_line(diffs, "l.tar.gz: etc/motd: xattr user.tag (absent) -> blue"));
  CHECK(has_line(diffs, "l.tar.gz: etc/x: owner 0:0 -> 1000:1000"));
  CHECK(has_line(diffs, "l.tar.gz: etc/x: content sha256:" + sha256_of_text("x\n") +
                            " -> sha256:" + sha256_of_text("hellO\n")));
  CHECK(has_line(diffs, "l.tar.gz: etc/x: size 2 -> 6 bytes"));
  CHECK(has_line(diffs, "l.tar.gz: etc/x: mtime 1700000000 -> 1700000005"));
  CHECK(has_line(diffs, "l.tar.gz: etc/link: link target motd -> x"));
  CHECK(has_line(diffs, "l.tar.gz: etc/d: type directory -> file"));
  CHECK(has_line(diffs, "l.tar.gz: etc/new: only in the second"));
  CHECK(diffs.size() == 9);
  // The same archive recompressed differently: same members, different bytes.
  sh("cd " + shell_quote(work / "a") + " && zcat l.tar.gz | gzip -1 -n > l2.tar.gz");
  auto recompressed = diff_paths(work / "a/l.tar.gz", work / "a/l2.tar.gz");
  REQUIRE(recompressed.size() >= 1);
  CHECK(recompressed.back().note.find("same members and attributes") != std::string::npos);
  CHECK(recompressed.back().offset == cmp_offset(work / "a/l.tar.gz", work / "a/l2.tar.gz"));
}

TEST_CASE("cpio newc members compressed with gzip and zstd, as in an initrd", "[diff]") {
  TempDir work("h3-diff-cpio");
  for (std::string side : {"a", "b"}) {
    std::string d = work / (side + "/t");
    sh("mkdir -p " + shell_quote(d + "/bin") + " && cd " + shell_quote(d) +
       " && printf '#!/bin/sh\\n' > init && chmod 0755 init && printf 'tool\\n' > bin/tool && ln bin/tool bin/alias");
  }
  sh("cd " + shell_quote(work / "b/t") + " && chmod 0700 init && printf 'TOOL\\n' > bin/tool");
  for (std::string side : {"a", "b"})
    sh("cd " + shell_quote(work / (side + "/t")) + " && find . -exec touch -h -d @1700000000 {} + && " +
       "find . | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0 > ../i.cpio && gzip -n -k ../i.cpio && zstd -q "
       "../i.cpio");
  for (std::string ext : {".gz", ".zst"}) {
    auto diffs = diff_paths(work / ("a/i.cpio" + ext), work / ("b/i.cpio" + ext));
    INFO(all_lines(diffs));
    std::string name = "i.cpio" + ext;
    CHECK(has_line(diffs, name + ": init: mode 0755 -> 0700"));
    // The hard-linked pair shares the new content, whichever name carried the data.
    std::string change = "content sha256:" + sha256_of_text("tool\n") + " -> sha256:" + sha256_of_text("TOOL\n");
    CHECK(has_line(diffs, name + ": bin/tool: " + change));
    CHECK(has_line(diffs, name + ": bin/alias: " + change));
    CHECK(diffs.size() == 3);
  }
  // Entries report two names for the linked file.
  auto entries = read_archive_entries(work / "a/i.cpio.gz", "i.cpio.gz");
  for (const auto &e : entries)
    if (e.path == "bin/tool" || e.path == "bin/alias") {
      CHECK(e.links == 2);
      CHECK(e.size == 5);
    }
  // A truncated gzip cpio is a FormatError naming the file; the CLI exits 2.
  sh("head -c " + std::to_string(fs::file_size(work / "b/i.cpio.gz") / 2) + " " + shell_quote(work / "b/i.cpio.gz") +
     " > " + shell_quote(work / "b/cut.cpio.gz"));
  CHECK_THROWS_AS(diff_paths(work / "a/i.cpio.gz", work / "b/cut.cpio.gz"), FormatError);
  auto r = run_mrforge_cli({"diff", work / "a/i.cpio.gz", work / "b/cut.cpio.gz"});
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("mrforge: error: " + work / "b/cut.cpio.gz") != std::string::npos);
}

TEST_CASE("JSON documents field by field, text line by line, binaries by size and first differing offset", "[diff]") {
  TempDir work("h3-diff-docs");
  fs::create_directories(work / "a");
  fs::create_directories(work / "b");
  write_text(work / "a/measurements.json",
             R"({"shapes": [{"rtmr2": "aa", "memory": "2G"}, {"rtmr2": "cc"}], "tool": "x"})");
  write_text(work / "b/measurements.json",
             R"({"shapes": [{"rtmr2": "bb", "memory": "2G"}, {"rtmr2": "cc"}, {"rtmr2": "dd"}], "extra": 1})");
  write_text(work / "a/sha256sum.txt", "111  rootfs.img\n222  vmlinuz\n");
  write_text(work / "b/sha256sum.txt", "333  rootfs.img\n222  vmlinuz\n");
  sh("head -c 5000 /dev/zero > " + shell_quote(work / "a/blob.bin") + " && cp " + shell_quote(work / "a/blob.bin") +
     " " + shell_quote(work / "b/blob.bin") + " && printf '\\377\\000' | dd of=" + shell_quote(work / "b/blob.bin") +
     " bs=1 seek=4321 conv=notrunc status=none && printf '\\000\\001\\002' >> " + shell_quote(work / "b/blob.bin"));
  sh("head -c 3000 " + shell_quote(work / "a/blob.bin") + " > " + shell_quote(work / "a/prefix.bin") + " && cp " +
     shell_quote(work / "a/blob.bin") + " " + shell_quote(work / "b/prefix.bin"));
  write_text(work / "a/only-a", "x");

  auto diffs = diff_paths(work / "a", work / "b");
  INFO(all_lines(diffs));
  CHECK(has_line(diffs, "measurements.json: shapes[0].rtmr2: value aa -> bb"));
  // An item added to an array: the others are aligned by value, the new one shown.
  CHECK(has_line(diffs, "measurements.json: shapes[2]: only in the second ({\"rtmr2\":\"dd\"})"));
  CHECK(has_line(diffs, "measurements.json: tool: only in the first"));
  CHECK(has_line(diffs, "measurements.json: extra: only in the second"));
  CHECK(has_line(diffs, "sha256sum.txt: line 1: value 111  rootfs.img -> 333  rootfs.img"));
  CHECK(has_line(diffs, "only-a: only in the first"));
  CHECK(has_line(diffs, "blob.bin: size 5000 -> 5003 bytes"));
  CHECK(has_line(diffs,
                 "blob.bin: content differs at offset " + hex(cmp_offset(work / "a/blob.bin", work / "b/blob.bin"))));
  CHECK(cmp_offset(work / "a/blob.bin", work / "b/blob.bin") == 4321);
  CHECK(has_line(diffs, "prefix.bin: content differs at offset " +
                            hex(cmp_offset(work / "a/prefix.bin", work / "b/prefix.bin"))));
  CHECK(cmp_offset(work / "a/prefix.bin", work / "b/prefix.bin") == 3000);
  CHECK(diffs.size() == 10);
  // Binary files before JSON, JSON before text.
  auto position = [&](const std::string &artifact) {
    for (size_t i = 0; i < diffs.size(); ++i)
      if (diffs[i].artifact == artifact) return i;
    return diffs.size();
  };
  CHECK(position("blob.bin") < position("measurements.json"));
  CHECK(position("measurements.json") < position("sha256sum.txt"));

  // An item inserted in the middle is named as such, the items after it are not "changed".
  write_text(work / "a/lock.json", R"({"packages": [{"name": "a"}, {"name": "c"}, {"name": "d"}]})");
  write_text(work / "b/lock.json", R"({"packages": [{"name": "a"}, {"name": "b"}, {"name": "c"}, {"name": "d"}]})");
  auto inserted = diff_paths(work / "a/lock.json", work / "b/lock.json");
  INFO(all_lines(inserted));
  REQUIRE(inserted.size() == 1);
  CHECK(inserted[0].line() == "lock.json: packages[1]: only in the second ({\"name\":\"b\"})");

  // Long values are shown around their first difference.
  write_text(work / "a/m.json", "{\"cmdline\": \"" + std::string(200, 'k') + " roothash=abc tail\"}");
  write_text(work / "b/m.json", "{\"cmdline\": \"" + std::string(200, 'k') + " roothash=abd tail\"}");
  auto cmdline = diff_paths(work / "a/m.json", work / "b/m.json");
  REQUIRE(cmdline.size() == 1);
  CHECK(cmdline[0].entry == "cmdline");
  CHECK(cmdline[0].a.find("roothash=abc tail") != std::string::npos);
  CHECK(cmdline[0].b.find("roothash=abd tail") != std::string::npos);
  CHECK(cmdline[0].a.size() < 120);

  // A damaged JSON document on one side is a type difference, not a crash.
  write_text(work / "b/m.json", "{\"cmdline\": ");
  auto broken = diff_paths(work / "a/m.json", work / "b/m.json");
  REQUIRE(!broken.empty());
  CHECK(broken[0].attribute == "type");
}

TEST_CASE("Identical directories give no differences, the CLI exits 0, 4 or 2", "[diff]") {
  TempDir work("h3-diff-same");
  for (std::string side : {"a", "b"}) {
    fs::create_directories(work / (side + "/sub"));
    write_text(work / (side + "/sub/f.json"), R"({"k": 1})");
    write_text(work / (side + "/g.txt"), "same\n");
    fs::create_symlink("g.txt", work / (side + "/link"));
  }
  CHECK(diff_paths(work / "a", work / "b").empty());
  auto same = run_mrforge_cli({"diff", work / "a", work / "b"});
  CHECK(same.exit_code == 0);
  CHECK(same.out == "identical\n");
  CHECK(run_mrforge_cli({"diff", "--json", work / "a", work / "b"}).out == "[]\n");

  fs::remove(work / "b/link");
  fs::create_symlink("sub", work / "b/link");
  write_text(work / "b/sub/f.json", R"({"k": 2})");
  auto changed = run_mrforge_cli({"diff", work / "a", work / "b"});
  CHECK(changed.exit_code == 4);
  CHECK(changed.out == "link: link target g.txt -> sub\nsub/f.json: k: value 1 -> 2\n");

  auto missing = run_mrforge_cli({"diff", work / "a", work / "nope"});
  CHECK(missing.exit_code == 2);
  CHECK(missing.err.find(work / "nope" + ": does not exist") != std::string::npos);
  auto mixed = run_mrforge_cli({"diff", work / "a", work / "a/g.txt"});
  CHECK(mixed.exit_code == 2);
}

TEST_CASE("Plain directories: the type of special files, mode, owner and device numbers are compared", "[diff]") {
  // Made with mknod/mkfifo/chmod/chown (root, as CI runs); not by the code under test.
  TempDir work("diff-special");
  for (std::string side : {"a", "b"}) fs::create_directories(work / side);
  sh("mknod " + shell_quote(work / "a/dev") + " c 1 3 && mkfifo " + shell_quote(work / "b/dev"));
  sh("mknod " + shell_quote(work / "a/null") + " c 1 3 && mknod " + shell_quote(work / "b/null") + " c 1 5");
  sh("mknod " + shell_quote(work / "a/disk") + " b 7 0 && mknod " + shell_quote(work / "b/disk") + " c 7 0");
  for (std::string side : {"a", "b"}) {
    write_text(work / (side + "/mode.txt"), "same\n");
    write_text(work / (side + "/owner.txt"), "same\n");
    fs::create_directories(work / (side + "/dir"));
  }
  sh("chmod 0644 " + shell_quote(work / "a/mode.txt") + " && chmod 4755 " + shell_quote(work / "b/mode.txt"));
  sh("chown 0:0 " + shell_quote(work / "a/owner.txt") + " && chown 1:2 " + shell_quote(work / "b/owner.txt"));
  sh("chmod 0755 " + shell_quote(work / "a/dir") + " && chmod 1777 " + shell_quote(work / "b/dir"));
  std::vector<std::string> lines;
  for (const Difference &d : diff_paths(work / "a", work / "b")) lines.push_back(d.line());
  std::sort(lines.begin(), lines.end());
  CHECK(lines == std::vector<std::string>{
                     "dev: type char device -> fifo",
                     "dir: mode 0755 -> 1777",
                     "disk: type block device -> char device",
                     "mode.txt: mode 0644 -> 4755",
                     "null: device 1:3 -> 1:5",
                     "owner.txt: owner 0:0 -> 1:2",
                 });
  auto r = run_mrforge_cli({"diff", work / "a", work / "b"});
  CHECK(r.exit_code == 4); // was 0: "identical"
  // The same special files on both sides are equal.
  TempDir same("diff-special-same");
  for (std::string side : {"a", "b"}) {
    fs::create_directories(same / side);
    sh("mkfifo " + shell_quote(same / (side + "/fifo")) + " && mknod " + shell_quote(same / (side + "/null")) +
       " c 1 3");
  }
  CHECK(diff_paths(same / "a", same / "b").empty());
}

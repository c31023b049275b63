// Root file system images (erofs and squashfs + dm-verity): the same tree staged differently and
// materialized on tmpfs and on disk gives the same bytes; what the image holds is read back with
// the tools' own extractors (fsck.erofs --extract, unsquashfs) and every field checked; the
// verity tree is checked with veritysetup verify/dump; seeds derive salts and UUIDs as documented.
// Needs root (owners, a device node, security.capability), like the real build.
// GCC 12 reports a false -Wmaybe-uninitialized inside libstdc++'s <regex> automaton when it
// inlines std::function moves under -O2 with ASan (the CI build); the warning is in the
// standard library, not here.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include "test_support.hpp"

#include <builder/fs/fs_tree.hpp>
#include <builder/guest/rootfs_image.hpp>
#include <builder/system/output_dir.hpp>

#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/xattr.h>
#include <unistd.h>
#include <vector>

using namespace mrforge;
using namespace mrforge::builder;
using namespace mrforge::test;
namespace fs = std::filesystem;

namespace {

constexpr int64_t k_epoch = 1700000000; // 2023-11-14 22:13:20 UTC

// security.capability v2 granting cap_net_raw (13) permitted+effective: magic_etc, then
// permitted/inheritable for caps 0-31 and 32-63 (linux/capability.h, VFS_CAP_REVISION_2).
std::string cap_net_raw() {
  const uint32_t words[5] = {0x02000001, 1u << 13, 0, 0, 0};
  return std::string(reinterpret_cast<const char *>(words), sizeof words);
}

void write_bytes(const std::string &path, const std::string &data) {
  std::ofstream f(path, std::ios::binary);
  f.write(data.data(), static_cast<std::streamsize>(data.size()));
  f.close();
  REQUIRE(f.good());
}

std::string read_bytes(const std::string &path) {
  std::ifstream f(path, std::ios::binary);
  REQUIRE(f.good());
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// Runs a shell command; fails the test unless it exits with `status`; returns stdout.

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

// Deterministic pseudo-random bytes (xorshift), different per `salt`.
std::string pattern(size_t size, uint32_t salt) {
  std::string out(size, '\0');
  uint32_t x = 2463534242u ^ salt;
  for (auto &c : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x & 0xff);
  }
  return out;
}

bool exists(const std::string &path) {
  struct stat st {};
  return ::lstat(path.c_str(), &st) == 0;
}

// A directory on tmpfs (/dev/shm), removed at the end; falls back to /tmp without /dev/shm.
ScratchDir shm_dir(const std::string &hint) {
  std::string tmpl = (exists("/dev/shm") ? std::string("/dev/shm/") : std::string("/tmp/")) + hint + "-XXXXXX";
  std::vector<char> buf(tmpl.begin(), tmpl.end());
  buf.push_back('\0');
  REQUIRE(::mkdtemp(buf.data()) != nullptr);
  return ScratchDir(buf.data());
}

class UmaskGuard {
public:
  explicit UmaskGuard(mode_t mask) : m_old(::umask(mask)) {}
  ~UmaskGuard() { ::umask(m_old); }
  UmaskGuard(const UmaskGuard &) = delete;
  UmaskGuard &operator=(const UmaskGuard &) = delete;

private:
  mode_t m_old;
};

struct Expected {
  NodeType type;
  uint32_t mode;
  uint32_t uid, gid;
  std::string content; // regular: bytes; symlink: target; hardlink: tree path of the file
  std::map<std::string, std::string> xattrs;
  uint32_t major = 0, minor = 0;
};

// The test tree: directories, files of several sizes (one > 1 MiB), modes 0750/0600/04755, a
// uid 1000 owner, a group, symlinks, a hard link, a device node, a fifo, and xattrs (a shared
// one on three files, security.capability + a user xattr on one, so the listing order matters).
std::map<std::string, Expected> expected_tree() {
  std::map<std::string, Expected> e;
  auto dir = [&](const std::string &p, uint32_t mode, uint32_t uid = 0, uint32_t gid = 0) {
    e[p] = Expected{NodeType::directory, mode, uid, gid, "", {}};
  };
  auto file = [&](const std::string &p, uint32_t mode, std::string content, uint32_t uid = 0, uint32_t gid = 0,
                  std::map<std::string, std::string> xattrs = {}) {
    e[p] = Expected{NodeType::regular, mode, uid, gid, std::move(content), std::move(xattrs)};
  };
  dir("etc", 0755);
  dir("usr", 0755);
  dir("usr/bin", 0755);
  dir("usr/lib", 0755);
  dir("home", 0755);
  dir("home/user", 0750, 1000, 1000);
  dir("var", 0755);
  dir("var/empty", 0700);
  dir("dev", 0755);
  file("etc/hostname", 0644, "guest\n", 0, 0, {{"user.shared", "1"}});
  file("etc/shadow", 0640, "root:*:19000:0:99999:7:::\n", 0, 42);
  file("usr/bin/tool", 04755, pattern((size_t{3} << 19) + 123, 1), 0, 0,
       {{"security.capability", cap_net_raw()}, {"user.origin", "test"}});
  file("usr/lib/block", 0644, pattern(4096, 2), 0, 0, {{"user.shared", "1"}});
  file("usr/lib/empty", 0600, "");
  file("home/user/notes", 0600, pattern(10000, 3), 1000, 1000, {{"user.shared", "1"}});
  e["usr/bin/tool2"] = Expected{NodeType::hardlink, 04755, 0, 0, "usr/bin/tool", {}};
  e["usr/bin/alias"] = Expected{NodeType::symlink, 0777, 0, 0, "tool", {}};
  e["etc/abs-link"] = Expected{NodeType::symlink, 0777, 0, 0, "/usr/bin/tool", {}};
  e["dev/null"] = Expected{NodeType::char_device, 0666, 0, 0, "", {}, 1, 3};
  e["var/fifo"] = Expected{NodeType::fifo, 0620, 0, 5, "", {}};
  return e;
}

// Stages the expected tree: content files written into `content_dir` in the given order, with
// host mtimes of `host_mtime`, nodes added in that order (parents always first).
FsTree stage(const std::map<std::string, Expected> &expected, const std::string &content_dir, bool reverse,
             int64_t host_mtime) {
  std::vector<std::string> order;
  for (const auto &entry : expected) order.push_back(entry.first);
  if (reverse) std::reverse(order.begin(), order.end());
  // Files (and their content) in `order`; the tree needs parents and link targets first.
  std::map<std::string, std::string> content_paths;
  int counter = 0;
  for (const auto &p : order) {
    const Expected &x = expected.at(p);
    if (x.type != NodeType::regular) continue;
    std::string host = content_dir + "/c" + std::to_string(counter++);
    write_bytes(host, x.content);
    struct timeval tv[2] = {{host_mtime, 0}, {host_mtime, 0}};
    REQUIRE(::utimes(host.c_str(), tv) == 0);
    content_paths[p] = host;
  }
  FsTree tree;
  auto add = [&](const std::string &p) {
    const Expected &x = expected.at(p);
    Node n;
    n.type = x.type;
    n.mode = x.mode;
    n.uid = x.uid;
    n.gid = x.gid;
    n.xattrs = x.xattrs;
    n.origin = "test";
    if (x.type == NodeType::regular) {
      n.content_path = content_paths.at(p);
      n.size = x.content.size();
    }
    if (x.type == NodeType::symlink || x.type == NodeType::hardlink) n.link_target = x.content;
    n.dev_major = x.major;
    n.dev_minor = x.minor;
    tree.add(p, n);
  };
  for (int pass = 0; pass < 3; ++pass) // directories, then files and the rest, then hard links
    for (const auto &p : order) {
      NodeType t = expected.at(p).type;
      int want = t == NodeType::directory ? 0 : t == NodeType::hardlink ? 2 : 1;
      if (want != pass) continue;
      if (pass == 0) {
        // Parents first even in reverse order: add the missing ancestors now.
        std::string prefix;
        std::istringstream parts(p);
        std::string part;
        while (std::getline(parts, part, '/')) {
          prefix += (prefix.empty() ? "" : "/") + part;
          if (tree.find(prefix) == nullptr) add(prefix);
        }
      } else {
        add(p);
      }
    }
  REQUIRE(tree.size() == expected.size());
  return tree;
}

struct Built {
  RootfsImageResult result;
  std::string image;
  std::vector<std::string> progress;
};

Built build(const FsTree &tree, RootfsFormat format, const std::string &seed, const std::string &scratch,
            const std::string &out) {
  Built b;
  RootfsImageSettings s;
  s.format = format;
  s.seed = seed;
  s.source_date_epoch = k_epoch;
  s.scratch_dir = scratch;
  s.progress = [&b](const std::string &m) { b.progress.push_back(m); };
  b.result = write_rootfs_image(tree, s, out);
  b.image = out;
  return b;
}

// The file system size as its own tool reports it (not from the writer).
uint64_t fs_blocks_from_tool(RootfsFormat format, const std::string &image) {
  if (format == RootfsFormat::erofs) {
    std::string out = sh("dump.erofs -s " + shell_quote(image));
    std::smatch m;
    REQUIRE(std::regex_search(out, m, std::regex("Filesystem blocks:\\s+([0-9]+)")));
    return std::stoull(m[1]);
  }
  std::string out = sh("unsquashfs -s " + shell_quote(image));
  std::smatch m;
  REQUIRE(std::regex_search(out, m, std::regex("Filesystem size ([0-9]+) bytes")));
  return (std::stoull(m[1]) + 4095) / 4096;
}

std::map<std::string, std::string> host_xattrs(const std::string &path) {
  std::map<std::string, std::string> out;
  ssize_t n = ::llistxattr(path.c_str(), nullptr, 0);
  REQUIRE(n >= 0);
  std::string names(static_cast<size_t>(n), '\0');
  REQUIRE(::llistxattr(path.c_str(), names.data(), names.size()) == n);
  for (size_t pos = 0; pos < names.size();) {
    std::string name = names.c_str() + pos;
    pos += name.size() + 1;
    ssize_t vn = ::lgetxattr(path.c_str(), name.c_str(), nullptr, 0);
    REQUIRE(vn >= 0);
    std::string value(static_cast<size_t>(vn), '\0');
    REQUIRE(::lgetxattr(path.c_str(), name.c_str(), value.data(), value.size()) == vn);
    out[name] = value;
  }
  return out;
}

// Checks an extracted (or mounted) tree against the expectation: every name, type, size,
// content, mode, owner, link target, device number, mtime = epoch, and (if asked) xattrs.
// fsck.erofs 1.5 chmods before it chowns, so its extraction loses setuid/setgid bits
// (fsck/main.c, erofs_extract_special/...: chmod, then lchown): `extractor_drops_setid`.
void check_extracted(const std::string &root, const std::map<std::string, Expected> &expected, bool check_xattrs,
                     bool hardlinks_share_inode, bool extractor_drops_setid = false) {
  // Exactly the expected names, nothing else.
  std::string listing = sh("cd " + shell_quote(root) + " && find . -mindepth 1 | sed 's|^\\./||' | LC_ALL=C sort");
  std::string want;
  for (const auto &entry : expected) want += entry.first + "\n";
  CHECK(listing == want);
  struct stat rs {};
  REQUIRE(::lstat(root.c_str(), &rs) == 0);
  CHECK((rs.st_mode & 07777) == 0755);
  CHECK(rs.st_uid == 0);
  CHECK(rs.st_mtime == k_epoch);
  for (const auto &[path, x] : expected) {
    INFO("entry " << path);
    const std::string p = root + "/" + path;
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    CHECK(st.st_mtime == k_epoch);
    const Expected &meta = x.type == NodeType::hardlink ? expected.at(x.content) : x;
    const uint32_t mode_mask = extractor_drops_setid ? 01777 : 07777;
    if (x.type != NodeType::symlink) CHECK((st.st_mode & mode_mask) == (meta.mode & mode_mask));
    CHECK(st.st_uid == meta.uid);
    CHECK(st.st_gid == meta.gid);
    switch (x.type) {
    case NodeType::directory: CHECK(S_ISDIR(st.st_mode)); break;
    case NodeType::regular:
    case NodeType::hardlink:
      REQUIRE(S_ISREG(st.st_mode));
      CHECK(static_cast<uint64_t>(st.st_size) == meta.content.size());
      CHECK(read_bytes(p) == meta.content);
      if (x.type == NodeType::hardlink && hardlinks_share_inode) {
        struct stat ts {};
        REQUIRE(::lstat((root + "/" + x.content).c_str(), &ts) == 0);
        CHECK(ts.st_ino == st.st_ino);
        CHECK(st.st_nlink == 2);
      }
      break;
    case NodeType::symlink: {
      REQUIRE(S_ISLNK(st.st_mode));
      std::vector<char> buf(4096);
      ssize_t n = ::readlink(p.c_str(), buf.data(), buf.size());
      REQUIRE(n >= 0);
      CHECK(std::string(buf.data(), static_cast<size_t>(n)) == x.content);
      break;
    }
    case NodeType::char_device:
      REQUIRE(S_ISCHR(st.st_mode));
      CHECK(major(st.st_rdev) == x.major);
      CHECK(minor(st.st_rdev) == x.minor);
      break;
    case NodeType::block_device: CHECK(S_ISBLK(st.st_mode)); break;
    case NodeType::fifo: CHECK(S_ISFIFO(st.st_mode)); break;
    }
    if (check_xattrs && x.type != NodeType::hardlink) CHECK(host_xattrs(p) == x.xattrs);
  }
}

// Mounts an erofs image read-only through a loop device for the duration of the scope (only
// for reading xattrs, which fsck.erofs 1.5 does not extract). The tests run as root (CI too), so
// the mount is REQUIREd.
class LoopMount {
public:
  LoopMount(const std::string &image, const std::string &dir) : m_dir(dir) {
    REQUIRE(::mkdir(dir.c_str(), 0700) == 0);
    auto r = run_shell("timeout 60 mount -t erofs -o loop,ro " + shell_quote(image) + " " + shell_quote(dir));
    INFO("mount -o loop of " << image << ": " << r.err);
    REQUIRE(r.exit_code == 0);
    m_mounted = true;
  }
  ~LoopMount() {
    if (m_mounted) run_shell("umount " + shell_quote(m_dir));
  }
  LoopMount(const LoopMount &) = delete;
  LoopMount &operator=(const LoopMount &) = delete;

private:
  std::string m_dir;
  bool m_mounted = false;
};

// veritysetup verify/dump with the values computed from the file system's own size.
void check_verity(const Built &b, RootfsFormat format) {
  const VerityInfo &v = b.result.verity;
  const uint64_t blocks = fs_blocks_from_tool(format, b.image);
  CHECK(v.data_blocks == blocks);
  CHECK(v.data_size == blocks * 4096);
  CHECK(v.hash_start_block == blocks + 1);
  struct stat st {};
  REQUIRE(::stat(b.image.c_str(), &st) == 0);
  CHECK(v.image_size == static_cast<uint64_t>(st.st_size));
  CHECK(v.hash_algorithm == "sha256");
  CHECK(v.data_block_size == 4096);
  CHECK(v.hash_block_size == 4096);
  const std::string img = shell_quote(b.image);
  const std::string offset = std::to_string(blocks * 4096);

  sh("veritysetup verify " + img + " " + img + " " + v.root_hash + " --hash-offset=" + offset);
  std::string dump = sh("veritysetup dump " + img + " --hash-offset=" + offset);
  CHECK(dump.find("UUID:") != std::string::npos);
  CHECK(std::regex_search(dump, std::regex("UUID:\\s+" + v.uuid + "\\n")));
  CHECK(std::regex_search(dump, std::regex("Salt:\\s+" + v.salt + "\\n")));
  CHECK(std::regex_search(dump, std::regex("Data blocks:\\s+" + std::to_string(blocks) + "\\n")));
  CHECK(std::regex_search(dump, std::regex("Hash algorithm:\\s+sha256\\n")));
  CHECK(std::regex_search(dump, std::regex("Data block size:\\s+4096\\n")));
  CHECK(std::regex_search(dump, std::regex("Hash block size:\\s+4096\\n")));
  // The hash tree itself starts at block blocks+1 (what the dm table's hash start says): verify
  // it there without the superblock.
  sh("veritysetup verify --no-superblock --hash=sha256 --data-block-size=4096 --hash-block-size=4096"
     " --data-blocks=" +
     std::to_string(blocks) + " --salt=" + v.salt + " --hash-offset=" + std::to_string((blocks + 1) * 4096) + " " +
     img + " " + img + " " + v.root_hash);

  // The table line in the documented form with these numbers.
  CHECK(v.dm_table("/dev/vda") == "0 " + std::to_string(blocks * 8) + " verity 1 /dev/vda /dev/vda 4096 4096 " +
                                      std::to_string(blocks) + " " + std::to_string(blocks + 1) + " sha256 " +
                                      v.root_hash + " " + v.salt);

  // One byte flipped inside the file system: verify fails.
  const std::string bad = b.image + ".corrupt";
  sh("cp " + img + " " + shell_quote(bad));
  std::string bytes = read_bytes(bad);
  const size_t at = static_cast<size_t>(v.data_size / 2 + 17);
  bytes[at] = static_cast<char>(bytes[at] ^ 0x01);
  write_bytes(bad, bytes);
  auto r = run_shell("veritysetup verify " + shell_quote(bad) + " " + shell_quote(bad) + " " + v.root_hash +
                     " --hash-offset=" + offset);
  CHECK(r.exit_code != 0);
  ::unlink(bad.c_str());
}

} // namespace

TEST_CASE("rootfs formats have names and parse strictly", "[rootfs_image]") {
  CHECK(std::string(rootfs_format_name(RootfsFormat::erofs)) == "erofs");
  CHECK(std::string(rootfs_format_name(RootfsFormat::squashfs)) == "squashfs");
  CHECK(parse_rootfs_format("erofs", "rootfs.format") == RootfsFormat::erofs);
  CHECK(parse_rootfs_format("squashfs", "rootfs.format") == RootfsFormat::squashfs);
  CHECK_THROWS_AS(parse_rootfs_format("ext4", "rootfs.format"), InputError);
  CHECK_THROWS_WITH(parse_rootfs_format("EROFS", "recipe.yaml: rootfs.format"),
                    Catch::Contains("recipe.yaml: rootfs.format") && Catch::Contains("EROFS"));
}

TEST_CASE("salts and UUIDs derive from the seed by SHA-256 as documented", "[rootfs_image]") {
  for (const std::string seed : {"seed-1", "another seed", ""}) {
    INFO("seed '" << seed << "'");
    // Independently: sha256 of "mrforge-seed\0verity-salt\0<seed>" by the shell.
    std::string full =
        trim(sh("printf 'mrforge-seed\\000verity-salt\\000%s' " + shell_quote(seed) + " | sha256sum | cut -d' ' -f1"));
    CHECK(derive_hex(seed, "verity-salt", 32) == full);
    CHECK(derive_hex(seed, "verity-salt", 8) == full.substr(0, 16));
    std::string u =
        trim(sh("printf 'mrforge-seed\\000rootfs-uuid\\000%s' " + shell_quote(seed) + " | sha256sum | cut -d' ' -f1"));
    std::string uuid = derive_uuid(seed, "rootfs-uuid");
    REQUIRE(std::regex_match(uuid, std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")));
    std::string hex = uuid.substr(0, 8) + uuid.substr(9, 4) + uuid.substr(14, 4) + uuid.substr(19, 4) + uuid.substr(24);
    CHECK(hex.substr(0, 12) == u.substr(0, 12));
    CHECK(hex[12] == '4');
    CHECK(hex.substr(13, 3) == u.substr(13, 3));
    const std::string variant = "89ab";
    CHECK(hex[16] == variant[static_cast<size_t>(std::stoi(u.substr(16, 1), nullptr, 16) & 3)]);
    CHECK(hex.substr(17) == u.substr(17, 15));
  }
  CHECK(derive_uuid("s", "verity-uuid") != derive_uuid("s", "rootfs-uuid"));
  CHECK(derive_hex("s", "verity-salt", 32) != derive_hex("t", "verity-salt", 32));
  CHECK_THROWS_AS(derive_hex("s", "x", 33), InputError);
}

TEST_CASE("rootfs tool versions are the installed tools' own", "[rootfs_image]") {
  std::string verity = trim(sh("veritysetup --version | cut -d' ' -f1,2"));
  std::string squash = trim(sh("mksquashfs -version | head -1 | cut -d' ' -f1,3"));
  std::string erofs = trim(sh("fsck.erofs -V | sed 's/fsck/mkfs/'")); // same erofs-utils package
  CHECK(rootfs_tool_versions(RootfsFormat::erofs) == erofs + "; " + verity);
  CHECK(rootfs_tool_versions(RootfsFormat::squashfs) == squash + "; " + verity);
}

TEST_CASE("erofs rootfs: same bytes from trees staged differently on tmpfs and on disk, content read back",
          "[rootfs_image]") {
  REQUIRE(::geteuid() == 0); // owners, a device node and security.capability need root
  const auto expected = expected_tree();
  TempDir disk("h1-rootfs-disk");
  ScratchDir shm = shm_dir("h1-rootfs-shm");
  for (const auto &d : {disk / "content", disk / "scratch", shm.file("content"), shm.file("scratch")})
    REQUIRE(::mkdir(d.c_str(), 0700) == 0);
  FsTree a = stage(expected, shm.file("content"), false, 1000000000);
  FsTree b = stage(expected, disk / "content", true, 1600000000);
  Built one = build(a, RootfsFormat::erofs, "seed-1", shm.file("scratch"), disk / "one.img");
  Built two = [&] {
    UmaskGuard strict(077); // the writer sets every mode itself
    return build(b, RootfsFormat::erofs, "seed-1", disk / "scratch", disk / "two.img");
  }();

  CHECK(read_bytes(one.image) == read_bytes(two.image));
  CHECK(one.result.verity.root_hash == two.result.verity.root_hash);
  CHECK(one.result.verity.dm_table("/dev/vda") == two.result.verity.dm_table("/dev/vda"));
  CHECK(one.result.verity.image_size == two.result.verity.image_size);
  CHECK(one.result.fs_uuid == derive_uuid("seed-1", "rootfs-uuid"));
  CHECK(one.result.verity.salt == derive_hex("seed-1", "verity-salt", 32));
  CHECK(one.result.verity.uuid == derive_uuid("seed-1", "verity-uuid"));
  CHECK(one.result.tools == rootfs_tool_versions(RootfsFormat::erofs));
  CHECK(!exists(disk / "one.img.tmp"));
  CHECK(one.progress == std::vector<std::string>{"rootfs: writing " + std::to_string(expected.size()) + " entries",
                                                 "rootfs: mkfs.erofs", "rootfs: verity"});

  // The superblock as dump.erofs reads it: UUID and creation time.
  std::string super = sh("dump.erofs -s " + shell_quote(one.image));
  CHECK(super.find(one.result.fs_uuid) != std::string::npos);
  CHECK(std::regex_search(super, std::regex("Filesystem created:\\s+Tue Nov 14 22:13:20 2023")));

  // Content through fsck.erofs's extractor (which also checks the encoding).
  sh("fsck.erofs --extract=" + shell_quote(disk / "x") + " " + shell_quote(one.image));
  check_extracted(disk / "x", expected, false, false, true);
  // fsck.erofs 1.5 extracts hard links as copies: the shared inode and link count from dump.erofs.
  std::string tool = sh("dump.erofs --path=/usr/bin/tool " + shell_quote(one.image));
  std::string tool2 = sh("dump.erofs --path=/usr/bin/tool2 " + shell_quote(one.image));
  std::smatch m1, m2;
  REQUIRE(std::regex_search(tool, m1, std::regex("NID: ([0-9]+)\\s+Links: ([0-9]+)")));
  REQUIRE(std::regex_search(tool2, m2, std::regex("NID: ([0-9]+)\\s+Links: ([0-9]+)")));
  CHECK(m1[1] == m2[1]);
  CHECK(m1[2] == "2");
  // dump.erofs 1.5 prints only mode & 0777 too: read i_mode of the raw inode (le16 at byte 4 of
  // both inode forms, at meta_blkaddr * 4096 + nid * 32; erofs_fs.h) to see the setuid bit.
  std::smatch meta;
  REQUIRE(std::regex_search(super, meta, std::regex("inode metadata start block:\\s+([0-9]+)")));
  const std::string raw = read_bytes(one.image);
  const size_t inode_at = std::stoul(meta[1]) * 4096 + std::stoul(m1[1]) * 32;
  REQUIRE(inode_at + 6 <= raw.size());
  const unsigned i_mode =
      static_cast<uint8_t>(raw[inode_at + 4]) | static_cast<unsigned>(static_cast<uint8_t>(raw[inode_at + 5])) << 8;
  CHECK(i_mode == (S_IFREG | 04755));

  // Xattrs (and everything else once more) through the kernel's erofs driver.
  LoopMount mnt(one.image, disk / "mnt");
  check_extracted(disk / "mnt", expected, true, true);

  check_verity(one, RootfsFormat::erofs);
}

TEST_CASE("squashfs rootfs: reproducible across tmpfs and disk, content read back, verity verified", "[rootfs_image]") {
  REQUIRE(::geteuid() == 0);
  const auto expected = expected_tree();
  TempDir disk("h1-rootfs-sq");
  ScratchDir shm = shm_dir("h1-rootfs-sqshm");
  for (const auto &d : {disk / "content", disk / "scratch", shm.file("content"), shm.file("scratch")})
    REQUIRE(::mkdir(d.c_str(), 0700) == 0);
  FsTree a = stage(expected, disk / "content", true, 1000000000);
  FsTree b = stage(expected, shm.file("content"), false, 1600000000);
  Built one = build(a, RootfsFormat::squashfs, "seed-1", disk / "scratch", disk / "one.img");
  Built two = build(b, RootfsFormat::squashfs, "seed-1", shm.file("scratch"), disk / "two.img");

  CHECK(read_bytes(one.image) == read_bytes(two.image));
  CHECK(one.result.verity.root_hash == two.result.verity.root_hash);
  CHECK(one.result.fs_uuid.empty());
  CHECK(one.result.tools == rootfs_tool_versions(RootfsFormat::squashfs));
  CHECK(one.progress == std::vector<std::string>{"rootfs: writing " + std::to_string(expected.size()) + " entries",
                                                 "rootfs: mksquashfs", "rootfs: verity"});
  CHECK(one.result.verity.data_size % 4096 == 0);

  std::string super = sh("unsquashfs -s " + shell_quote(one.image));
  CHECK(super.find("Compression gzip") != std::string::npos);
  CHECK(std::regex_search(super, std::regex("Creation or last append time Tue Nov 14 22:13:20 2023")));
  sh("unsquashfs -d " + shell_quote(disk / "x") + " " + shell_quote(one.image));
  check_extracted(disk / "x", expected, true, true);

  check_verity(one, RootfsFormat::squashfs);
}

TEST_CASE("rootfs seeds: another seed gives another salt, UUIDs and root hash, the same seed the same",
          "[rootfs_image]") {
  const auto expected = expected_tree();
  TempDir dir("h1-rootfs-seed");
  for (const auto &d : {"content", "s1", "s2", "s3"}) REQUIRE(::mkdir((dir / d).c_str(), 0700) == 0);
  FsTree tree = stage(expected, dir / "content", false, k_epoch);
  Built a = build(tree, RootfsFormat::erofs, "alpha", dir / "s1", dir / "a.img");
  Built a2 = build(tree, RootfsFormat::erofs, "alpha", dir / "s2", dir / "a2.img");
  Built b = build(tree, RootfsFormat::erofs, "beta", dir / "s3", dir / "b.img");
  CHECK(read_bytes(a.image) == read_bytes(a2.image));
  CHECK(a.result.verity.salt == a2.result.verity.salt);
  CHECK(a.result.verity.root_hash == a2.result.verity.root_hash);
  CHECK(a.result.verity.salt != b.result.verity.salt);
  CHECK(a.result.verity.uuid != b.result.verity.uuid);
  CHECK(a.result.fs_uuid != b.result.fs_uuid);
  CHECK(a.result.verity.root_hash != b.result.verity.root_hash);
  // Only the superblock (UUID, checksum) differs in the file system itself.
  CHECK(a.result.verity.data_size == b.result.verity.data_size);
}

TEST_CASE("rootfs errors name the problem and leave neither the image nor its .tmp behind", "[rootfs_image]") {
  const auto expected = expected_tree();
  TempDir dir("h1-rootfs-err");
  REQUIRE(::mkdir((dir / "content").c_str(), 0700) == 0);
  FsTree tree = stage(expected, dir / "content", false, k_epoch);
  RootfsImageSettings s;
  s.seed = "seed";
  s.source_date_epoch = k_epoch;

  SECTION("an unwritable output path") {
    REQUIRE(::mkdir((dir / "scratch").c_str(), 0700) == 0);
    s.scratch_dir = dir / "scratch";
    const std::string out = dir / "missing-dir/root.img";
    CHECK_THROWS_WITH(write_rootfs_image(tree, s, out),
                      Catch::Contains("missing-dir/root.img.tmp") && Catch::Contains("cannot create"));
    CHECK(!exists(out));
    CHECK(!exists(out + ".tmp"));
  }
  SECTION("a content file that vanished; an existing image stays as it was") {
    REQUIRE(::mkdir((dir / "scratch").c_str(), 0700) == 0);
    s.scratch_dir = dir / "scratch";
    const std::string out = dir / "root.img";
    write_bytes(out, "old image");
    Node n;
    n.type = NodeType::regular;
    n.content_path = dir / "content/does-not-exist";
    n.size = 3;
    n.origin = "test";
    tree.add("etc/gone", n);
    for (RootfsFormat f : {RootfsFormat::erofs, RootfsFormat::squashfs}) {
      s.format = f;
      sh("rm -rf " + shell_quote(dir / "scratch") + " && mkdir " + shell_quote(dir / "scratch"));
      CHECK_THROWS_WITH(write_rootfs_image(tree, s, out),
                        Catch::Contains("does-not-exist") && Catch::Contains("etc/gone"));
      CHECK(read_bytes(out) == "old image");
      CHECK(!exists(out + ".tmp"));
    }
  }
  SECTION("a scratch directory that is not empty") {
    REQUIRE(::mkdir((dir / "scratch").c_str(), 0700) == 0);
    REQUIRE(::mkdir((dir / "scratch/tree").c_str(), 0700) == 0);
    s.scratch_dir = dir / "scratch";
    CHECK_THROWS_WITH(write_rootfs_image(tree, s, dir / "r.img"), Catch::Contains("must be empty"));
    CHECK(!exists(dir / "r.img.tmp"));
  }
  SECTION("names mkfs.erofs 1.5 would drop, user xattrs on symlinks, timestamps squashfs cannot hold") {
    REQUIRE(::mkdir((dir / "scratch").c_str(), 0700) == 0);
    s.scratch_dir = dir / "scratch";
    FsTree lf = tree;
    Node d;
    d.type = NodeType::directory;
    d.mode = 0700;
    lf.add("lost+found", d);
    CHECK_THROWS_AS(write_rootfs_image(lf, s, dir / "r.img"), InputError);
    CHECK_THROWS_WITH(write_rootfs_image(lf, s, dir / "r.img"), Catch::Contains("lost+found"));
    FsTree sx = tree;
    sx.find_mutable("usr/bin/alias")->xattrs["user.note"] = "x"; // Linux refuses user.* on symlinks
    CHECK_THROWS_WITH(write_rootfs_image(sx, s, dir / "r.img"),
                      Catch::Contains("usr/bin/alias") && Catch::Contains("user.note"));
    s.source_date_epoch = int64_t{1} << 32;
    CHECK_THROWS_AS(write_rootfs_image(tree, s, dir / "r.img"), InputError);
    s.source_date_epoch = -1;
    CHECK_THROWS_WITH(write_rootfs_image(tree, s, dir / "r.img"), Catch::Contains("source_date_epoch"));
    CHECK(!exists(dir / "r.img"));
    CHECK(!exists(dir / "r.img.tmp"));
  }
  SECTION("a scratch file system that adds xattrs of its own (a default ACL) is refused") {
    REQUIRE(::mkdir((dir / "scratch").c_str(), 0700) == 0);
    // system.posix_acl_default in the kernel's binary form (version 2; user::rwx group::r-x other::r-x).
    const uint16_t acl[] = {2, 0, 0x01, 07, 0xffff, 0xffff, 0x04, 05, 0xffff, 0xffff, 0x20, 05, 0xffff, 0xffff};
    INFO("POSIX ACLs on " << dir.path() << " (tmpfs and ext4 have them)");
    REQUIRE(::setxattr((dir / "scratch").c_str(), "system.posix_acl_default", acl, sizeof acl, 0) == 0);
    s.scratch_dir = dir / "scratch";
    CHECK_THROWS_WITH(write_rootfs_image(tree, s, dir / "r.img"),
                      Catch::Contains("lists the xattrs") && Catch::Contains("system.posix_acl_default"));
    CHECK(!exists(dir / "r.img"));
    CHECK(!exists(dir / "r.img.tmp"));
  }
}

TEST_CASE("rootfs: a one-block file system gets a verity superblock and no hash block, and verifies",
          "[rootfs_image]") {
  TempDir dir("h1-rootfs-tiny");
  REQUIRE(::mkdir((dir / "scratch").c_str(), 0700) == 0);
  write_bytes(dir / "c", "hello\n");
  FsTree tree;
  Node f;
  f.type = NodeType::regular;
  f.content_path = dir / "c";
  f.size = 6;
  tree.add("hello", f);
  Built b = build(tree, RootfsFormat::erofs, "tiny", dir / "scratch", dir / "tiny.img");
  CHECK(b.result.verity.data_blocks == 1);
  CHECK(b.result.verity.image_size == 2 * 4096);
  check_verity(b, RootfsFormat::erofs);
}

TEST_CASE("rootfs: contents of a consumable staging directory are hard-linked, not copied, and give the same image",
          "[rootfs_image]") {
  REQUIRE(::geteuid() == 0); // an owner of 1000
  TempDir work("rootfs-consume");
  // One content per entry, one shared by two entries, one in a subdirectory of the staging
  // directory and one outside it: only the first kind may be consumed.
  auto stage_into = [&](const std::string &dir) {
    fs::create_directories(dir + "/sub");
    fs::create_directories(dir + "-outside");
    write_bytes(dir + "/single", pattern(70000, 1));
    write_bytes(dir + "/shared", pattern(5000, 2));
    write_bytes(dir + "/sub/nested", pattern(300, 3));
    write_bytes(dir + "-outside/kept", pattern(9000, 4));
    for (const std::string f : {"/single", "/shared", "/sub/nested"}) REQUIRE(::chmod((dir + f).c_str(), 0600) == 0);
    REQUIRE(::chmod((dir + "-outside/kept").c_str(), 0600) == 0);
    FsTree tree;
    Node d;
    d.type = NodeType::directory;
    d.mode = 0755;
    tree.add("srv", d);
    auto file = [&](const std::string &path, const std::string &content, uint32_t mode, uint32_t uid) {
      Node n;
      n.type = NodeType::regular;
      n.mode = mode;
      n.uid = uid;
      n.gid = uid;
      n.content_path = content;
      n.size = fs::file_size(content);
      tree.add(path, n);
    };
    file("srv/one", dir + "/single", 0750, 1000);
    file("srv/two", dir + "/shared", 0644, 0);
    file("srv/three", dir + "/shared", 0644, 0);
    file("srv/four", dir + "/sub/nested", 0644, 0);
    file("srv/five", dir + "-outside/kept", 0644, 0);
    return tree;
  };
  const std::string consumed = work / "consumed", copied = work / "copied";
  FsTree a = stage_into(consumed);
  FsTree b = stage_into(copied);
  fs::create_directories(work / "scratch-a");
  fs::create_directories(work / "scratch-b");
  RootfsImageSettings s;
  s.format = RootfsFormat::erofs;
  s.seed = "consume";
  s.source_date_epoch = k_epoch;
  s.scratch_dir = work / "scratch-a";
  s.consumable_content_dir = consumed;
  write_rootfs_image(a, s, work / "a.img");
  s.scratch_dir = work / "scratch-b";
  s.consumable_content_dir.clear();
  write_rootfs_image(b, s, work / "b.img");
  CHECK(read_bytes(work / "a.img") == read_bytes(work / "b.img"));

  auto links_and_mode = [](const std::string &path) {
    struct stat st {};
    REQUIRE(::lstat(path.c_str(), &st) == 0);
    return std::make_pair(static_cast<unsigned>(st.st_nlink), static_cast<unsigned>(st.st_mode & 07777));
  };
  // Consumed: the materialized entry is the staged file itself, with the entry's owner and mode.
  CHECK(links_and_mode(consumed + "/single") == std::make_pair(2u, 0750u));
  struct stat staged {
  }, placed{};
  REQUIRE(::stat((consumed + "/single").c_str(), &staged) == 0);
  REQUIRE(::stat((work / "scratch-a/tree/srv/one").c_str(), &placed) == 0);
  CHECK(staged.st_ino == placed.st_ino);
  CHECK(placed.st_uid == 1000);
  // Shared, nested and outside contents were copied and are as they were.
  CHECK(links_and_mode(consumed + "/shared") == std::make_pair(1u, 0600u));
  CHECK(links_and_mode(consumed + "/sub/nested") == std::make_pair(1u, 0600u));
  CHECK(links_and_mode(consumed + "-outside/kept") == std::make_pair(1u, 0600u));
  // Without a consumable directory nothing is linked.
  CHECK(links_and_mode(copied + "/single") == std::make_pair(1u, 0600u));
  // The two entries of the shared content are two files in the image, not a hard link.
  for (const std::string p : {"/srv/two", "/srv/three", "/srv/one"})
    CHECK(sh("dump.erofs --path=" + p + " " + shell_quote(work / "a.img")).find("Links: 1") != std::string::npos);
}

// .deb unpacking: the ar container (deb(5)), control.tar and data.tar read with libarchive and
// checked entry by entry before anything reaches the FsTree. See deb_unpack.hpp for the format
// and DPKG_NOTES.md for what differs from `dpkg --install`.
#include <builder/debian/deb_unpack.hpp>
#include <builder/debian/relations.hpp>
#include <builder/system/utf8_locale.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/mapped_file.hpp>

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <set>

#include <fcntl.h>
#include <unistd.h>

namespace mrforge::builder {

namespace {

// Caps on hostile inputs. A large Debian package (linux-image, texlive) has some 10^4 entries
// and control.tar members of a few hundred KiB; Linux's PATH_MAX is 4096.
constexpr size_t k_max_data_entries = 1'000'000;
constexpr size_t k_max_control_entries = 1'000;
constexpr size_t k_max_path_bytes = 4096;
constexpr int64_t k_max_control_member_bytes = 16 * 1024 * 1024;
constexpr int64_t k_max_debian_binary_bytes = 64;
constexpr size_t k_read_block = 64 * 1024;
constexpr uint64_t k_ar_header_bytes = 60; // deb(5), ar(5): fixed member header
constexpr int64_t k_max_id = 0xfffffffe;   // (uint32_t)-1 means "no id"

constexpr const char *k_hostile_advice = "the package is malformed or hostile; do not install it";

struct ReadDeleter {
  void operator()(archive *a) const noexcept { archive_read_free(a); }
};
using ReadArchive = std::unique_ptr<archive, ReadDeleter>;

std::string la_error(archive *a) {
  const char *text = archive_error_string(a);
  return text != nullptr ? text : "unknown libarchive error";
}

ReadArchive new_reader(const std::string &source) {
  archive *a = archive_read_new();
  if (a == nullptr) throw SystemError(source, "libarchive: cannot allocate a reader");
  return ReadArchive(a);
}

// Untrusted names in messages: control characters and non-ASCII bytes as \xNN.
std::string printable(std::string_view raw) {
  std::string out;
  for (char c : raw) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", u);
      out += buf;
    } else {
      out += c;
    }
  }
  return out;
}

std::string octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04" PRIo32, mode);
  return buf;
}

// The ar member being read, for messages.
struct Member {
  std::string name;
  uint64_t offset = 0; // of its ar header in the .deb
};

// Feeds an ar member's bytes to a nested libarchive reader without buffering the member.
struct MemberSource {
  archive *outer = nullptr;
  std::vector<char> buffer = std::vector<char>(k_read_block);
};

la_ssize_t read_member(archive *inner, void *client, const void **out) {
  auto *source = static_cast<MemberSource *>(client);
  la_ssize_t n = archive_read_data(source->outer, source->buffer.data(), source->buffer.size());
  if (n < 0) {
    // No exceptions through libarchive: pass the outer reader's message on.
    archive_set_error(inner, EIO, "%s", la_error(source->outer).c_str());
    return ARCHIVE_FATAL;
  }
  *out = source->buffer.data();
  return n;
}

// Opens the tar inside the current ar member. Only the compression its name announces is enabled,
// and only libarchive's built-in decoders (ARCHIVE_WARN would mean an external program).
ReadArchive open_member_tar(MemberSource &source, const std::string &deb, const Member &member,
                            std::string_view compression) {
  ReadArchive inner = new_reader(deb);
  int r = ARCHIVE_OK;
  if (compression == ".gz")
    r = archive_read_support_filter_gzip(inner.get());
  else if (compression == ".xz")
    r = archive_read_support_filter_xz(inner.get());
  else if (compression == ".zst")
    r = archive_read_support_filter_zstd(inner.get());
  else if (compression == ".bz2")
    r = archive_read_support_filter_bzip2(inner.get());
  if (r != ARCHIVE_OK)
    throw SystemError(deb, member.name + ": this libarchive has no built-in decoder for '" + std::string(compression) +
                               "' (" + la_error(inner.get()) + ")");
  if (archive_read_support_format_tar(inner.get()) != ARCHIVE_OK)
    throw SystemError(deb, "libarchive: " + la_error(inner.get()));
  if (archive_read_open(inner.get(), &source, nullptr, read_member, nullptr) != ARCHIVE_OK)
    throw FormatError(deb, member.offset, member.name + ": " + la_error(inner.get()));
  return inner;
}

// Reads what is left of the current ar member after its tar ended (end-of-archive blocks, the
// compressor's trailer) so that a member cut short is an error even when the tar reader stopped
// before reaching the cut.
void drain_member(MemberSource &source, const std::string &deb, const Member &member) {
  while (true) {
    la_ssize_t n = archive_read_data(source.outer, source.buffer.data(), source.buffer.size());
    if (n < 0) throw FormatError(deb, member.offset, member.name + ": " + la_error(source.outer));
    if (n == 0) return;
  }
}

// The member's compression suffix if `name` is `base` + one of `suffixes`.
bool match_member(const std::string &name, std::string_view base, std::initializer_list<std::string_view> suffixes,
                  std::string_view &compression) {
  if (name.compare(0, base.size(), base) != 0) return false;
  std::string_view rest = std::string_view(name).substr(base.size());
  for (std::string_view s : suffixes)
    if (rest == s) {
      compression = s;
      return true;
    }
  return false;
}

// True for "", ".", "./", ".//." : the archive's root directory entry.
bool names_root(std::string_view raw) {
  if (!raw.empty() && raw.front() == '/') return false;
  size_t pos = 0;
  while (pos <= raw.size()) {
    size_t slash = std::min(raw.find('/', pos), raw.size());
    std::string_view part = raw.substr(pos, slash - pos);
    if (!part.empty() && part != ".") return false;
    pos = slash + 1;
  }
  return true;
}

// `label` says where the path comes from: "data.tar.gz", "data.tar.gz entry './y' hard link target".
std::string normalize_member_path(std::string_view raw, const std::string &deb, const std::string &label) {
  if (raw.size() > k_max_path_bytes)
    throw InputError(deb, label + ": path of " + std::to_string(raw.size()) + " bytes (limit " +
                              std::to_string(k_max_path_bytes) + "); " + k_hostile_advice);
  try {
    return FsTree::normalize_path(raw, label);
  } catch (const InputError &e) {
    throw InputError(deb, std::string(e.what()) + "; " + k_hostile_advice);
  }
}

// Reads the current entry's data fully (control.tar members, debian-binary), refusing more than
// `limit` bytes.
std::string read_small(archive *a, int64_t declared, int64_t limit, const std::string &deb, const Member &member,
                       const std::string &what) {
  if (declared < 0 || declared > limit)
    throw FormatError(deb, member.offset,
                      what + " is " + std::to_string(declared) + " bytes (limit " + std::to_string(limit) + ")");
  std::string out;
  out.reserve(static_cast<size_t>(declared));
  std::vector<char> buf(k_read_block);
  while (true) {
    la_ssize_t n = archive_read_data(a, buf.data(), buf.size());
    if (n < 0) throw FormatError(deb, member.offset, what + ": " + la_error(a));
    if (n == 0) break;
    if (static_cast<int64_t>(out.size()) + n > limit)
      throw FormatError(deb, member.offset, what + " is longer than " + std::to_string(limit) + " bytes");
    out.append(buf.data(), static_cast<size_t>(n));
  }
  return out;
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Policy 5.6.12: [epoch:]upstream[-revision] from alphanumerics and . + - ~ :
bool valid_version(std::string_view s) {
  if (s.empty() || s.front() < '0' || s.front() > '9') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '.' || c == '+' || c == '-' || c == '~' || c == ':';
  });
}

bool valid_architecture(std::string_view s) {
  return !s.empty() && is_lower_alnum(s.front()) &&
         std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

// Control member names become info file names ("NAME.postinst").
bool valid_control_member_name(std::string_view s) {
  if (s.empty() || s.front() == '.') return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return is_lower_alnum(c) || (c >= 'A' && c <= 'Z') || c == '_' || c == '.' || c == '+' || c == '-';
  });
}

bool is_maintainer_script(std::string_view name) {
  return name == "preinst" || name == "postinst" || name == "prerm" || name == "postrm" || name == "config";
}

// Everything read from control.tar.
struct ControlMembers {
  bool have_control = false;
  std::string control, md5sums, conffiles;
  bool have_md5sums = false, have_conffiles = false;
  std::map<std::string, std::string> scripts, others;
};

ControlMembers read_control_tar(archive *outer, const std::string &deb, const Member &member,
                                std::string_view compression) {
  MemberSource source;
  source.outer = outer;
  ReadArchive tar = open_member_tar(source, deb, member, compression);
  ControlMembers out;
  std::set<std::string> seen;
  for (size_t count = 0;; ++count) {
    archive_entry *entry = nullptr;
    int r = archive_read_next_header(tar.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK)
      throw FormatError(deb, member.offset,
                        member.name + ": entry " + std::to_string(count) + ": " + la_error(tar.get()));
    if (count >= k_max_control_entries)
      throw InputError(deb, member.name + ": more than " + std::to_string(k_max_control_entries) + " entries; " +
                                k_hostile_advice);
    const char *raw_c = archive_entry_pathname(entry);
    if (raw_c == nullptr)
      throw FormatError(deb, member.offset, member.name + ": entry " + std::to_string(count) + " has no name");
    std::string_view raw(raw_c);
    std::string where = member.name + " entry '" + printable(raw) + "'";
    bool is_dir = archive_entry_filetype(entry) == AE_IFDIR && archive_entry_hardlink(entry) == nullptr;
    if (names_root(raw) && is_dir) continue;
    std::string name = normalize_member_path(raw, deb, member.name);
    if (archive_entry_hardlink(entry) != nullptr || archive_entry_filetype(entry) != AE_IFREG)
      throw InputError(deb,
                       where + ": control members must be regular files in the top directory; " + k_hostile_advice);
    if (name.find('/') != std::string::npos || !valid_control_member_name(name))
      throw InputError(deb, where + ": control member name '" + printable(name) +
                                "' is not a plain file name (letters, digits, _ . + -); " + k_hostile_advice);
    if (name == "list")
      throw InputError(deb, where + ": a control member named 'list' would replace dpkg's own file list; " +
                                k_hostile_advice);
    if (!seen.insert(name).second)
      throw InputError(deb, where + ": control member '" + name + "' appears twice; " + k_hostile_advice);
    std::string text = read_small(tar.get(), archive_entry_size(entry), k_max_control_member_bytes, deb, member, where);
    if (name == "control") {
      out.have_control = true;
      out.control = std::move(text);
    } else if (name == "md5sums") {
      out.have_md5sums = true;
      out.md5sums = std::move(text);
    } else if (name == "conffiles") {
      out.have_conffiles = true;
      out.conffiles = std::move(text);
    } else if (is_maintainer_script(name)) {
      out.scripts.emplace(name, std::move(text));
    } else {
      out.others.emplace(name, std::move(text));
    }
  }
  drain_member(source, deb, member);
  if (!out.have_control)
    throw FormatError(deb, member.offset, member.name + " has no 'control' file; " + k_hostile_advice);
  return out;
}

void fill_identity(DebPackage &pkg, const std::string &deb) {
  debian::Paragraph control = parse_control_paragraph(pkg.control, deb + ": control");
  for (const char *forbidden : {"Status", "Conffiles", "Config-Version", "Triggers-Pending", "Triggers-Awaited"})
    if (control.has(forbidden))
      throw InputError(deb, std::string("control: field '") + forbidden +
                                "' belongs in dpkg's status file, not in a package; " + k_hostile_advice);
  auto required = [&](const char *name) {
    const debian::Field *f = control.find(name);
    if (f == nullptr || f->value.empty())
      throw InputError(deb, std::string("control: required field '") + name + "' is missing or empty");
    return f->value;
  };
  pkg.name = required("Package");
  pkg.version = required("Version");
  pkg.architecture = required("Architecture");
  // The name becomes a file name in /var/lib/dpkg/info, so this check also keeps it inside.
  if (!debian::is_package_name(pkg.name))
    throw InputError(deb, "control: Package '" + printable(pkg.name) +
                              "' is not a valid package name (Debian Policy 5.6.1: a-z 0-9 + - .)");
  if (!valid_version(pkg.version))
    throw InputError(deb,
                     "control: Version '" + printable(pkg.version) + "' is not a valid version (Debian Policy 5.6.12)");
  if (!valid_architecture(pkg.architecture))
    throw InputError(deb, "control: Architecture '" + printable(pkg.architecture) + "' is not a valid architecture");
  if (const debian::Field *ma = control.find("Multi-Arch")) {
    if (ma->value != "same" && ma->value != "foreign" && ma->value != "allowed" && ma->value != "no")
      throw InputError(deb,
                       "control: Multi-Arch '" + printable(ma->value) + "' is not one of same, foreign, allowed, no");
    pkg.multi_arch = ma->value;
  }
}

// Undoes a failed unpack: removes the nodes this package added (directories that were already
// there were not changed by FsTree::add).
class TreeRollback {
public:
  explicit TreeRollback(FsTree &tree) : m_tree(tree) {}
  ~TreeRollback() {
    if (m_committed) return;
    for (auto it = m_added.rbegin(); it != m_added.rend(); ++it) m_tree.remove(*it);
  }
  TreeRollback(const TreeRollback &) = delete;
  TreeRollback &operator=(const TreeRollback &) = delete;
  void added(const std::string &path) { m_added.push_back(path); }
  void commit() { m_committed = true; }

private:
  FsTree &m_tree;
  std::vector<std::string> m_added;
  bool m_committed = false;
};

struct DataContext {
  const std::string &deb;
  const Member &member;
  FsTree &tree;
  ContentStaging &staging;
  const UnpackPolicy &policy;
  DebPackage &pkg;
  TreeRollback &rollback;
  std::string origin;
  std::set<std::string> listed;                              // paths already in pkg.paths
  std::set<std::string> package_files;                       // regular files of this package (hard link targets)
  std::map<std::string, std::vector<std::string>> hardlinks; // regular file -> its hard links
};

uint32_t checked_id(int64_t id, const DataContext &ctx, const std::string &where, const char *what) {
  if (id < 0 || id > k_max_id)
    throw InputError(ctx.deb, where + ": " + what + " " + std::to_string(id) + " is out of range; " + k_hostile_advice);
  return static_cast<uint32_t>(id);
}

void add_node(DataContext &ctx, const std::string &path, const std::string &where, Node node) {
  const Node *existing = ctx.tree.find(path);
  bool both_dirs = existing != nullptr && existing->type == NodeType::directory && node.type == NodeType::directory;
  if (existing != nullptr && !both_dirs) {
    if (ctx.listed.count(path) != 0)
      throw InputError(ctx.deb, where + ": '" + printable(path) + "' appears twice in " + ctx.member.name + "; " +
                                    k_hostile_advice);
    throw InputError(ctx.deb, where + ": '" + printable(path) + "' is already in the image as a " +
                                  node_type_name(existing->type) + " from " + existing->origin + ", and " + ctx.origin +
                                  " ships a " + node_type_name(node.type) +
                                  " there; dpkg would need Replaces: or a diversion, which mrforge does not emulate: "
                                  "remove one of the two packages from the recipe");
  }
  try {
    ctx.tree.add(path, std::move(node), OnExisting::error);
  } catch (const InputError &e) {
    throw InputError(ctx.deb, where + ": " + e.what() +
                                  "; the package cannot be unpacked into this image (mrforge never writes through a "
                                  "symlink and needs every parent directory in place)");
  }
  if (existing == nullptr) ctx.rollback.added(path);
  if (ctx.listed.insert(path).second) ctx.pkg.paths.push_back(path);
}

void unpack_data_entry(DataContext &ctx, archive *tar, archive_entry *entry, size_t index) {
  const char *raw_c = archive_entry_pathname(entry);
  if (raw_c == nullptr)
    throw FormatError(ctx.deb, ctx.member.offset,
                      ctx.member.name + ": entry " + std::to_string(index) + " has no name");
  std::string_view raw(raw_c);
  std::string where = ctx.member.name + " entry '" + printable(raw) + "'";
  const char *hardlink = archive_entry_hardlink(entry);
  mode_t type = archive_entry_filetype(entry);

  if (names_root(raw)) {
    if (type == AE_IFDIR && hardlink == nullptr) return; // "./": the image root, which always exists
    throw InputError(ctx.deb, where + ": names the image root but is not a directory; " + k_hostile_advice);
  }
  std::string path = normalize_member_path(raw, ctx.deb, ctx.member.name);

  Node node;
  node.origin = ctx.origin;
  node.mode = static_cast<uint32_t>(archive_entry_perm(entry)) & 07777;
  node.uid = checked_id(archive_entry_uid(entry), ctx, where, "uid");
  node.gid = checked_id(archive_entry_gid(entry), ctx, where, "gid");

  if (hardlink != nullptr) {
    std::string target_raw(hardlink);
    if (target_raw.size() > k_max_path_bytes)
      throw InputError(ctx.deb, where + ": hard link target too long; " + k_hostile_advice);
    std::string target = normalize_member_path(target_raw, ctx.deb, where + " hard link target");
    if (ctx.package_files.count(target) == 0)
      throw InputError(ctx.deb, where + ": hard link to '" + printable(target_raw) +
                                    "', which is not a regular file earlier in this package; " + k_hostile_advice);
    const Node *target_node = ctx.tree.find(target);
    node.type = NodeType::hardlink;
    node.link_target = target;
    if (target_node != nullptr) { // a hard link shares its target's inode and so its metadata
      node.mode = target_node->mode;
      node.uid = target_node->uid;
      node.gid = target_node->gid;
    }
    add_node(ctx, path, where, std::move(node));
    ctx.hardlinks[target].push_back(path);
    return;
  }

  bool privileged_bits = (node.mode & 06000) != 0;
  if (privileged_bits && type != AE_IFDIR && !ctx.policy.allow_setuid)
    throw InputError(ctx.deb, where + ": setuid/setgid " + (type == AE_IFREG ? "file" : "entry") + " (mode " +
                                  octal(node.mode) +
                                  ") refused; if the image needs it, add \"allow: [setuid]\" to the recipe");

  switch (type) {
  case AE_IFDIR:
    node.type = NodeType::directory;
    add_node(ctx, path, where, std::move(node));
    return;
  case AE_IFREG: {
    node.type = NodeType::regular;
    StagedContent staged = ctx.staging.put_stream([&](uint8_t *buffer, size_t capacity) -> size_t {
      la_ssize_t n = archive_read_data(tar, buffer, capacity);
      if (n < 0) throw FormatError(ctx.deb, ctx.member.offset, where + ": " + la_error(tar));
      return static_cast<size_t>(n);
    });
    if (archive_entry_size_is_set(entry) && archive_entry_size(entry) >= 0 &&
        static_cast<uint64_t>(archive_entry_size(entry)) != staged.size)
      throw FormatError(ctx.deb, ctx.member.offset,
                        where + ": header says " + std::to_string(archive_entry_size(entry)) + " bytes, read " +
                            std::to_string(staged.size));
    node.size = staged.size;
    node.content_path = staged.path;
    add_node(ctx, path, where, std::move(node));
    ctx.package_files.insert(path);
    return;
  }
  case AE_IFLNK: {
    const char *target = archive_entry_symlink(entry);
    if (target == nullptr || *target == '\0')
      throw InputError(ctx.deb, where + ": symlink without a target; " + k_hostile_advice);
    node.type = NodeType::symlink;
    node.link_target = target; // verbatim: "/etc/alternatives/x" and "../lib/y" are legal targets
    if (node.link_target.size() > k_max_path_bytes)
      throw InputError(ctx.deb, where + ": symlink target too long; " + k_hostile_advice);
    node.mode = 0777;
    add_node(ctx, path, where, std::move(node));
    return;
  }
  case AE_IFCHR:
  case AE_IFBLK:
  case AE_IFIFO: {
    const char *kind = type == AE_IFCHR ? "character device" : type == AE_IFBLK ? "block device" : "fifo";
    if (!ctx.policy.allow_device_nodes)
      throw InputError(ctx.deb, where + ": " + kind +
                                    " refused (Debian packages do not ship device nodes); if the image needs it, add "
                                    "\"allow: [device_nodes]\" to the recipe");
    node.type = type == AE_IFCHR ? NodeType::char_device : type == AE_IFBLK ? NodeType::block_device : NodeType::fifo;
    if (type != AE_IFIFO) {
      node.dev_major = static_cast<uint32_t>(archive_entry_rdevmajor(entry));
      node.dev_minor = static_cast<uint32_t>(archive_entry_rdevminor(entry));
    }
    add_node(ctx, path, where, std::move(node));
    return;
  }
  case AE_IFSOCK:
    throw InputError(ctx.deb, where + ": sockets cannot be installed from a package; " + k_hostile_advice);
  default:
    throw InputError(ctx.deb, where + ": unknown tar entry type 0" + octal(static_cast<uint32_t>(type)) + "; " +
                                  k_hostile_advice);
  }
}

// In the tree, the first path of a hard-link group in byte order is the regular file and the others
// link to it (what the deterministic writers emit; docs/determinism.md), whatever order the
// package's tar used.
void canonicalize_hardlinks(DataContext &ctx) {
  for (const auto &[target, links] : ctx.hardlinks) {
    std::string first = *std::min_element(links.begin(), links.end());
    if (target < first) continue;
    Node *file = ctx.tree.find_mutable(target);
    Node *new_file = ctx.tree.find_mutable(first);
    if (file == nullptr || new_file == nullptr || file->type != NodeType::regular)
      throw InputError(ctx.deb, ctx.member.name + ": hard link group of '" + printable(target) + "' is inconsistent");
    Node regular = *file;
    *new_file = regular;
    for (const std::string &path : links) {
      if (path == first) continue;
      Node *link = ctx.tree.find_mutable(path);
      if (link == nullptr)
        throw InputError(ctx.deb, ctx.member.name + ": hard link '" + printable(path) + "' vanished");
      link->link_target = first;
    }
    regular.type = NodeType::hardlink;
    regular.link_target = first;
    regular.size = 0;
    regular.content_path.clear();
    *file = regular;
    ctx.package_files.insert(first);
  }
}

void read_data_tar(archive *outer, DataContext &ctx, std::string_view compression) {
  MemberSource source;
  source.outer = outer;
  ReadArchive tar = open_member_tar(source, ctx.deb, ctx.member, compression);
  for (size_t count = 0;; ++count) {
    archive_entry *entry = nullptr;
    int r = archive_read_next_header(tar.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK)
      throw FormatError(ctx.deb, ctx.member.offset,
                        ctx.member.name + ": entry " + std::to_string(count) + ": " + la_error(tar.get()));
    if (count >= k_max_data_entries)
      throw InputError(ctx.deb, ctx.member.name + ": more than " + std::to_string(k_max_data_entries) + " entries; " +
                                    k_hostile_advice);
    unpack_data_entry(ctx, tar.get(), entry, count);
  }
  drain_member(source, ctx.deb, ctx.member);
  canonicalize_hardlinks(ctx);
}

// conffiles lines are "/path" or "remove-on-upgrade /path" (dpkg >= 1.20.1); every shipped
// conffile must be a regular file of the package (dpkg refuses the package otherwise).
void check_conffiles(const std::string &conffiles, const DataContext &ctx) {
  size_t pos = 0;
  size_t line_no = 0;
  while (pos < conffiles.size()) {
    size_t nl = conffiles.find('\n', pos);
    std::string line = conffiles.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? conffiles.size() : nl + 1;
    ++line_no;
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.pop_back();
    if (line.empty()) continue;
    std::string where = "conffiles line " + std::to_string(line_no);
    if (line.compare(0, 18, "remove-on-upgrade ") == 0) continue; // not shipped: nothing to check
    if (line.front() != '/')
      throw InputError(ctx.deb, where + ": '" + printable(line) + "' is not an absolute path; " + k_hostile_advice);
    std::string path = FsTree::normalize_path(line, ctx.deb + ": " + where, FsTree::Absolute::strip);
    if (ctx.package_files.count(path) == 0)
      throw InputError(ctx.deb, where + ": conffile '" + printable(line) +
                                    "' is not a regular file of this package (dpkg refuses such packages)");
  }
}

} // namespace

debian::Paragraph parse_control_paragraph(std::string_view text, const std::string &source) {
  std::vector<debian::Paragraph> paragraphs = debian::parse_deb822(text, source);
  if (paragraphs.empty()) throw InputError(source, "empty control paragraph");
  if (paragraphs.size() > 1)
    throw InputError(source, "line " + std::to_string(paragraphs[1].line) +
                                 ": a second paragraph; a control file has exactly one");
  return std::move(paragraphs.front());
}

namespace {

// Reads the members of the .deb at `deb_path` in deb(5)'s order. The control member fills the
// package's identity; `on_data` (when set) reads the data member, and without it reading stops
// after control.tar (the data member is neither read nor checked).
using DataReader = std::function<void(archive *outer, const Member &member, std::string_view compression,
                                      DebPackage &pkg, const ControlMembers &control)>;

DebPackage read_deb_members(const std::string &deb_path, const std::string &source_name, const DataReader &on_data) {
  Utf8Locale utf8; // member names are read as UTF-8 whatever the caller's locale
  const std::string &deb = source_name;
  // Opened (and checked to be a regular file) first: "cannot read the file" is the host's
  // problem, "not a .deb" the input's.
  InputFile file = InputFile::open(deb_path, limits::k_package);
  ReadArchive outer = new_reader(deb);
  if (archive_read_support_format_ar(outer.get()) != ARCHIVE_OK)
    throw SystemError(deb, "libarchive: " + la_error(outer.get()));
  if (archive_read_open_fd(outer.get(), file.fd(), k_read_block) != ARCHIVE_OK)
    throw FormatError(deb, 0, "not a valid .deb (ar archive): " + la_error(outer.get()));

  enum class Next { debian_binary, control, data, end };
  Next next = Next::debian_binary;
  DebPackage pkg;
  ControlMembers control;
  uint64_t next_offset = 0; // where the next ar header should start, for messages
  while (true) {
    archive_entry *entry = nullptr;
    int r = archive_read_next_header(outer.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK) throw FormatError(deb, next_offset, "not a valid .deb (ar archive): " + la_error(outer.get()));
    Member member;
    const char *name_c = archive_entry_pathname(entry);
    member.name = name_c != nullptr ? name_c : "";
    int64_t header_pos = archive_read_header_position(outer.get());
    member.offset = header_pos >= 0 ? static_cast<uint64_t>(header_pos) : next_offset;
    int64_t size = archive_entry_size(entry);
    if (size >= 0)
      next_offset = member.offset + k_ar_header_bytes + static_cast<uint64_t>(size) + (static_cast<uint64_t>(size) & 1);

    std::string_view compression;
    if (next == Next::debian_binary) {
      if (member.name != "debian-binary")
        throw FormatError(deb, member.offset,
                          "first ar member is '" + printable(member.name) +
                              "', expected 'debian-binary'; not a Debian binary package");
      std::string version = read_small(outer.get(), size, k_max_debian_binary_bytes, deb, member, "debian-binary");
      // deb(5): "2.0\n"; dpkg accepts any 2.x and refuses other major versions.
      bool ok = version.size() >= 4 && version.compare(0, 2, "2.") == 0 && version.back() == '\n' &&
                std::all_of(version.begin() + 2, version.end() - 1, [](char c) { return c >= '0' && c <= '9'; }) &&
                version.size() > 3;
      if (!ok)
        throw FormatError(deb, member.offset,
                          "debian-binary is '" + printable(version) + "', expected \"2.0\\n\" (format 2.x)");
      next = Next::control;
    } else if (!member.name.empty() && member.name.front() == '_') {
      continue; // deb(5): reserved for extensions, ignored by dpkg (debsigs' _gpgorigin)
    } else if (next == Next::control &&
               match_member(member.name, "control.tar", {"", ".gz", ".xz", ".zst"}, compression)) {
      control = read_control_tar(outer.get(), deb, member, compression);
      pkg.control = control.control;
      pkg.md5sums = control.md5sums;
      pkg.conffiles = control.conffiles;
      pkg.maintainer_scripts = control.scripts;
      pkg.control_files = control.others;
      fill_identity(pkg, deb);
      next = Next::data;
      if (!on_data) return pkg;
    } else if (next == Next::data &&
               match_member(member.name, "data.tar", {"", ".gz", ".xz", ".zst", ".bz2"}, compression)) {
      on_data(outer.get(), member, compression, pkg, control);
      next = Next::end;
    } else {
      std::string expected = next == Next::control ? "control.tar[.gz|.xz|.zst]"
                             : next == Next::data  ? "data.tar[.gz|.xz|.zst|.bz2]"
                                                   : "nothing after data.tar";
      throw FormatError(deb, member.offset,
                        "unexpected ar member '" + printable(member.name) + "', expected " + expected +
                            " (deb(5) fixes the members and their order)");
    }
  }
  if (next != Next::end) {
    const char *missing = next == Next::debian_binary ? "debian-binary"
                          : next == Next::control     ? "control.tar"
                                                      : "data.tar";
    throw FormatError(deb, next_offset, std::string("truncated .deb: no ") + missing + " member");
  }
  return pkg;
}

} // namespace

DebPackage unpack_deb(const std::string &deb_path, const std::string &source_name, FsTree &tree,
                      ContentStaging &staging, const UnpackPolicy &policy) {
  TreeRollback rollback(tree);
  DebPackage pkg = read_deb_members(
      deb_path, source_name,
      [&](archive *outer, const Member &member, std::string_view compression, DebPackage &read,
          const ControlMembers &control) {
        DataContext ctx{source_name, member, tree, staging, policy, read, rollback, "package " + read.name, {}, {}, {}};
        read_data_tar(outer, ctx, compression);
        if (control.have_conffiles) check_conffiles(read.conffiles, ctx);
      });
  rollback.commit();
  return pkg;
}

DebPackage read_deb_control(const std::string &deb_path, const std::string &source_name) {
  return read_deb_members(deb_path, source_name, DataReader());
}

} // namespace mrforge::builder

#include <builder/audit/artifact_diff.hpp>
#include <builder/audit/guestfs_tree.hpp>

#include <measure/documents/json_text.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/strings.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>
#include <sys/stat.h>
#include <sys/sysmacros.h>

namespace mrforge::builder {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// ---- formatting ---------------------------------------------------------------------------------

std::string hex_offset(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

bool printable(const std::string &s) {
  for (char ch : s) {
    auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) return false;
  }
  return true;
}

// A value for a line: printable text as it is, anything else as hex (at most 64 bytes shown).
std::string show_bytes(const std::string &v) {
  if (printable(v)) return v;
  static const char digits[] = "0123456789abcdef";
  std::string out = "0x";
  for (size_t i = 0; i < v.size() && i < 64; ++i) {
    out += digits[static_cast<unsigned char>(v[i]) >> 4];
    out += digits[static_cast<unsigned char>(v[i]) & 15];
  }
  if (v.size() > 64) out += "... (" + std::to_string(v.size()) + " bytes)";
  return out;
}

// Two long strings shown around their first difference.
constexpr size_t k_long_value = 120;
constexpr size_t k_context_before = 24;
constexpr size_t k_context_after = 72;

std::pair<std::string, std::string> around_difference(const std::string &a, const std::string &b) {
  if (a.size() <= k_long_value && b.size() <= k_long_value) return {a, b};
  size_t i = 0;
  while (i < a.size() && i < b.size() && a[i] == b[i]) ++i;
  size_t start = i > k_context_before ? i - k_context_before : 0;
  auto cut = [&](const std::string &s) {
    std::string out = start > 0 ? "..." : "";
    out += s.substr(std::min(start, s.size()), k_context_before + k_context_after);
    if (start + k_context_before + k_context_after < s.size()) out += "...";
    return out;
  };
  return {cut(a), cut(b)};
}

const char *type_name(char t) {
  switch (t) {
  case 'f': return "file";
  case 'd': return "directory";
  case 'l': return "symlink";
  case 'c': return "char device";
  case 'b': return "block device";
  case 'p': return "fifo";
  case 's': return "socket";
  default: return "unknown";
  }
}

Difference presence(const std::string &artifact, const std::string &entry, bool in_a) {
  return {artifact, entry, "presence", in_a ? "present" : "absent", in_a ? "absent" : "present", {}, {}};
}

// ---- whole files ----------------------------------------------------------------------------

enum class Kind { image, archive, binary, json_document, text };

int rank(Kind k) { return static_cast<int>(k); } // the order of the report: root causes first

const char *kind_name(Kind k) {
  switch (k) {
  case Kind::image: return "file-system or disk image";
  case Kind::archive: return "archive";
  case Kind::binary: return "binary file";
  case Kind::json_document: return "JSON document";
  case Kind::text: return "text file";
  }
  return "file";
}

uint32_t le32(const std::string &h, size_t at) {
  if (h.size() < at + 4) return 0;
  return static_cast<uint32_t>(static_cast<unsigned char>(h[at])) |
         static_cast<uint32_t>(static_cast<unsigned char>(h[at + 1])) << 8 |
         static_cast<uint32_t>(static_cast<unsigned char>(h[at + 2])) << 16 |
         static_cast<uint32_t>(static_cast<unsigned char>(h[at + 3])) << 24;
}

bool has(const std::string &h, size_t at, const std::string &magic) {
  return h.size() >= magic.size() && at <= h.size() - magic.size() && h.compare(at, magic.size(), magic) == 0;
}

// An MBR: 0x55AA at 510 and four plausible partition entries (boot flag 0 or 0x80), at least one
// used. A Linux bzImage has 0x55AA at 510 too (boot_flag) but "HdrS" at 0x202 (boot protocol).
bool is_mbr(const std::string &h) {
  if (h.size() < 512 || static_cast<unsigned char>(h[510]) != 0x55 || static_cast<unsigned char>(h[511]) != 0xAA)
    return false;
  if (has(h, 0x202, "HdrS")) return false;
  bool used = false;
  for (size_t e = 0; e < 4; ++e) {
    unsigned char boot = static_cast<unsigned char>(h[446 + 16 * e]);
    unsigned char type = static_cast<unsigned char>(h[446 + 16 * e + 4]);
    if (boot != 0 && boot != 0x80) return false;
    used |= type != 0;
  }
  return used;
}

// JSON documents compared field by field; larger ones are compared as text or bytes.
constexpr FileLimit k_max_document = limits::k_json_document;
// Text files compared line by line.
constexpr FileLimit k_max_text{"text file compared line by line", 1ull << 20};

// A file to compare: one the user named (`root` empty: `rel` is the path, links followed), or a
// file inside a directory being compared (`root`/`rel`, opened without following any link, so a
// symbolic link in an OCI layout or an output directory never leads out of it).
struct Side {
  std::string root, rel;
  std::string path() const { return root.empty() ? rel : root + "/" + rel; }
  InputFile open(FileLimit limit) const {
    return root.empty() ? InputFile::open(rel, limit) : InputFile::open_in(root, rel, limit);
  }
};

std::string read_all(const Side &side, FileLimit limit) {
  Bytes b = side.open(limit).read_all();
  return std::string(b.begin(), b.end());
}

Kind classify(const Side &side) {
  InputFile file = side.open(limits::k_artifact);
  Bytes head = file.read_some(4096);
  std::string h(head.begin(), head.end());
  const uint64_t size = file.size();
  // File-system magics: erofs superblock at 1024 (EROFS_SUPER_MAGIC_V1), squashfs "hsqs",
  // ext2/3/4 s_magic 0xEF53 at 1024 + 56, GPT header at LBA 1, MBR.
  if (le32(h, 1024) == 0xE0F5E1E2u || has(h, 0, "hsqs") ||
      (h.size() >= 1082 && h[1080] == '\x53' && h[1081] == '\xef') || has(h, 512, "EFI PART") || is_mbr(h))
    return Kind::image;
  // Compressed streams (gzip, zstd, xz, bzip2) and tar ("ustar" at 257) / cpio (newc, odc).
  if (has(h, 0, "\x1f\x8b") || has(h, 0, "\x28\xb5\x2f\xfd") ||
      has(h, 0,
          std::string("\xfd"
                      "7zXZ\0",
                      6)) ||
      has(h, 0, "BZh") || has(h, 257, "ustar") || has(h, 0, "07070"))
    return Kind::archive;
  size_t first = h.find_first_not_of(" \t\r\n");
  if (first != std::string::npos && (h[first] == '{' || h[first] == '[') && size <= k_max_document.max_size) {
    std::string all = read_all(side, k_max_document);
    if (json::accept(all)) return Kind::json_document;
  }
  if (size <= k_max_text.max_size) {
    std::string all = read_all(side, k_max_text);
    bool text = true;
    for (char ch : all) {
      auto c = static_cast<unsigned char>(ch);
      if ((c < 0x20 && c != '\n' && c != '\t' && c != '\r') || c == 0x7f) text = false;
    }
    if (text) return Kind::text;
  }
  return Kind::binary;
}

struct ByteComparison {
  bool equal = true;
  uint64_t size_a = 0, size_b = 0;
  uint64_t first_difference = 0;
};

ByteComparison compare_bytes(const Side &a, const Side &b) {
  MappedFile fa(a.open(limits::k_artifact)), fb(b.open(limits::k_artifact));
  ByteView x = fa.bytes(), y = fb.bytes();
  ByteComparison r;
  r.size_a = x.size();
  r.size_b = y.size();
  size_t n = std::min(x.size(), y.size());
  size_t i = 0;
  constexpr size_t k_chunk = 1 << 16;
  while (i < n) {
    size_t len = std::min(k_chunk, n - i);
    if (std::memcmp(x.data() + i, y.data() + i, len) != 0) {
      while (x[i] == y[i]) ++i;
      break;
    }
    i += len;
  }
  r.first_difference = i;
  r.equal = i == n && x.size() == y.size();
  return r;
}

void byte_differences(const std::string &artifact, const ByteComparison &c, const std::string &note,
                      std::vector<Difference> &out) {
  if (c.size_a != c.size_b)
    out.push_back({artifact, "", "size", std::to_string(c.size_a), std::to_string(c.size_b), {}, {}});
  out.push_back({artifact, "", "content", "", "", c.first_difference, note});
}

// ---- entries (archive members, files in images) ------------------------------------------------

void compare_entry(const std::string &artifact, const ImageEntry &x, const ImageEntry &y,
                   std::vector<Difference> &out) {
  auto add = [&](const std::string &attribute, const std::string &a, const std::string &b) {
    out.push_back({artifact, x.path, attribute, a, b, {}, {}});
  };
  if (x.type != y.type) add("type", type_name(x.type), type_name(y.type));
  if (x.mode != y.mode) add("mode", octal(x.mode), octal(y.mode));
  if (x.uid != y.uid || x.gid != y.gid)
    add("owner", std::to_string(x.uid) + ":" + std::to_string(x.gid),
        std::to_string(y.uid) + ":" + std::to_string(y.gid));
  if (x.type == y.type) {
    if (x.size != y.size) add("size", std::to_string(x.size), std::to_string(y.size));
    if (x.sha256 != y.sha256) add("content", "sha256:" + x.sha256, "sha256:" + y.sha256);
    if (x.link_target != y.link_target) add("link target", x.link_target, y.link_target);
    if (x.dev_major != y.dev_major || x.dev_minor != y.dev_minor)
      add("device", std::to_string(x.dev_major) + ":" + std::to_string(x.dev_minor),
          std::to_string(y.dev_major) + ":" + std::to_string(y.dev_minor));
  }
  std::set<std::string> names;
  for (const auto &kv : x.xattrs) names.insert(kv.first);
  for (const auto &kv : y.xattrs) names.insert(kv.first);
  for (const auto &name : names) {
    auto ia = x.xattrs.find(name), ib = y.xattrs.find(name);
    if (ia != x.xattrs.end() && ib != y.xattrs.end() && ia->second == ib->second) continue;
    add("xattr " + name, ia == x.xattrs.end() ? "(absent)" : show_bytes(ia->second),
        ib == y.xattrs.end() ? "(absent)" : show_bytes(ib->second));
  }
  if (x.links != y.links) add("links", std::to_string(x.links), std::to_string(y.links));
  if (x.mtime != y.mtime) add("mtime", std::to_string(x.mtime), std::to_string(y.mtime));
}

// Both lists sorted by path. An entry on one side only is reported once, with the number of
// entries below it that are missing along with it.
void compare_entries(const std::string &artifact, const std::vector<ImageEntry> &a, const std::vector<ImageEntry> &b,
                     std::vector<Difference> &out) {
  size_t i = 0, j = 0;
  std::string hidden_root; // a directory reported as present on one side only
  size_t hidden_index = 0, hidden_count = 0;
  auto flush = [&] {
    if (hidden_count > 0) out[hidden_index].note = "and " + std::to_string(hidden_count) + " entries below it";
    hidden_root.clear();
    hidden_count = 0;
  };
  auto one_side = [&](const ImageEntry &e, bool in_a) {
    if (!hidden_root.empty() && e.path.rfind(hidden_root + "/", 0) == 0 &&
        out[hidden_index].a == (in_a ? "present" : "absent")) {
      ++hidden_count;
      return;
    }
    flush();
    out.push_back(presence(artifact, e.path, in_a));
    if (e.type == 'd') {
      hidden_root = e.path;
      hidden_index = out.size() - 1;
    }
  };
  while (i < a.size() || j < b.size()) {
    if (j == b.size() || (i < a.size() && a[i].path < b[j].path)) {
      one_side(a[i++], true);
    } else if (i == a.size() || b[j].path < a[i].path) {
      one_side(b[j++], false);
    } else {
      compare_entry(artifact, a[i++], b[j++], out);
    }
  }
  flush();
}

// ---- JSON -------------------------------------------------------------------------------------

json parse_json(const Side &side) { return parse_json_text(read_all(side, k_max_document), side.path()); }

std::string render(const json &v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

constexpr size_t k_max_alignment = 1u << 20; // array items x items aligned by LCS; beyond: by index
constexpr size_t k_note_value = 100;         // a value shown next to "only in the first"

std::string abbreviate(const std::string &s) {
  return s.size() <= k_note_value ? s : s.substr(0, k_note_value) + "...";
}

// `where` is the path of a and b ("shapes[0].events"): extended for each field and item and cut
// back afterwards, so that the paths cost linear, not quadratic, time and memory in the depth
// (which parse_json_text bounds).
void compare_json(const std::string &artifact, const json &a, const json &b, std::string &where,
                  std::vector<Difference> &out) {
  const size_t here = where.size();
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys.insert(it.key());
    for (auto it = b.begin(); it != b.end(); ++it) keys.insert(it.key());
    for (const auto &k : keys) {
      where.append(here == 0 ? "" : ".").append(k);
      if (!a.contains(k))
        out.push_back(presence(artifact, where, false));
      else if (!b.contains(k))
        out.push_back(presence(artifact, where, true));
      else
        compare_json(artifact, a[k], b[k], where, out);
      where.resize(here);
    }
    return;
  }
  if (a.is_array() && b.is_array()) {
    auto item = [&](size_t i) -> std::string & { return where.append("[").append(std::to_string(i)).append("]"); };
    auto compare_items = [&](const json &x, const json &y, size_t i) {
      compare_json(artifact, x, y, item(i), out);
      where.resize(here);
    };
    auto only = [&](const json &v, size_t i, bool in_a) {
      Difference d = presence(artifact, item(i), in_a);
      where.resize(here);
      d.note = abbreviate(v.dump());
      out.push_back(std::move(d));
    };
    if (a.size() == b.size() || a.size() * b.size() > k_max_alignment) {
      for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
        if (i >= a.size())
          only(b[i], i, false);
        else if (i >= b.size())
          only(a[i], i, true);
        else
          compare_items(a[i], b[i], i);
      }
      return;
    }
    // Items inserted or removed: align equal items (longest common subsequence), then compare
    // the items between them pairwise and report the rest as present on one side only.
    size_t n = a.size(), m = b.size();
    std::vector<uint32_t> lcs((n + 1) * (m + 1), 0);
    for (size_t i = n; i-- > 0;)
      for (size_t j = m; j-- > 0;)
        lcs[i * (m + 1) + j] = a[i] == b[j] ? lcs[(i + 1) * (m + 1) + j + 1] + 1
                                            : std::max(lcs[(i + 1) * (m + 1) + j], lcs[i * (m + 1) + j + 1]);
    size_t i = 0, j = 0;
    while (i < n || j < m) {
      if (i < n && j < m && a[i] == b[j]) {
        ++i, ++j;
        continue;
      }
      size_t gi = i, gj = j; // the gap: a[gi, i) and b[gj, j) are unmatched
      while ((i < n || j < m) && !(i < n && j < m && a[i] == b[j])) {
        if (j == m || (i < n && lcs[(i + 1) * (m + 1) + j] >= lcs[i * (m + 1) + j + 1]))
          ++i;
        else
          ++j;
      }
      size_t paired = std::min(i - gi, j - gj);
      for (size_t k = 0; k < paired; ++k) compare_items(a[gi + k], b[gj + k], gj + k);
      for (size_t k = gi + paired; k < i; ++k) only(a[k], k, true);
      for (size_t k = gj + paired; k < j; ++k) only(b[k], k, false);
    }
    return;
  }
  if (a == b) return;
  auto [x, y] = around_difference(render(a), render(b));
  out.push_back({artifact, where, "value", x, y, {}, {}});
}

// ---- text -------------------------------------------------------------------------------------

constexpr size_t k_max_text_lines = 20;

std::vector<std::string> split_lines(const std::string &text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

void compare_text(const std::string &artifact, const Side &pa, const Side &pb, std::vector<Difference> &out) {
  std::vector<std::string> a = split_lines(read_all(pa, k_max_text)), b = split_lines(read_all(pb, k_max_text));
  size_t shown = 0, more = 0;
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    if (i < a.size() && i < b.size() && a[i] == b[i]) continue;
    if (shown == k_max_text_lines) {
      ++more;
      continue;
    }
    ++shown;
    std::string entry = "line " + std::to_string(i + 1);
    if (i >= a.size())
      out.push_back(presence(artifact, entry, false));
    else if (i >= b.size())
      out.push_back(presence(artifact, entry, true));
    else {
      auto [x, y] = around_difference(a[i], b[i]);
      out.push_back({artifact, entry, "value", x, y, {}, {}});
    }
  }
  if (more > 0)
    out.push_back({artifact, "", "content", "", "", {}, std::to_string(more) + " more differing lines not shown"});
  if (shown == 0) byte_differences(artifact, compare_bytes(pa, pb), "same lines; line endings differ", out);
}

// ---- planning ---------------------------------------------------------------------------------

// Two regular files whose bytes differ.
struct Pair {
  std::string artifact;
  Side a, b;
  bool content = false; // an OCI layer: the image's contents, reported with the file-system images
};

struct Plan {
  std::vector<Pair> pairs;
  std::vector<std::pair<int, Difference>> found; // rank, difference
};

// An entry of a plain directory as lstat() sees it: what a file system would hold of it besides
// its bytes (mtimes are left out: they say when, not what, was built).
struct NodeInfo {
  char type = 'f';   // 'f', 'd', 'l', 'c', 'b', 'p', 's' (as ImageEntry::type)
  uint32_t mode = 0; // permission bits with setuid, setgid and sticky (07777)
  uint32_t uid = 0, gid = 0;
  uint64_t rdev = 0; // character and block devices
};

char file_type(mode_t mode) {
  if (S_ISREG(mode)) return 'f';
  if (S_ISDIR(mode)) return 'd';
  if (S_ISLNK(mode)) return 'l';
  if (S_ISCHR(mode)) return 'c';
  if (S_ISBLK(mode)) return 'b';
  if (S_ISFIFO(mode)) return 'p';
  if (S_ISSOCK(mode)) return 's';
  return '?';
}

NodeInfo node_info(const fs::path &path) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0)
    throw SystemError(path.string(), std::string("cannot examine: ") + std::strerror(errno));
  return {file_type(st.st_mode), static_cast<uint32_t>(st.st_mode & 07777), st.st_uid, st.st_gid,
          static_cast<uint64_t>(st.st_rdev)};
}

std::map<std::string, NodeInfo> list_tree(const std::string &root) {
  std::map<std::string, NodeInfo> out;
  std::error_code ec;
  fs::recursive_directory_iterator it(root, fs::directory_options::none, ec), end;
  if (ec) throw SystemError(root, "cannot list: " + ec.message());
  for (; it != end; it.increment(ec)) {
    if (ec) throw SystemError(root, "cannot list: " + ec.message());
    out[it->path().lexically_relative(root).generic_string()] = node_info(it->path());
  }
  if (ec) throw SystemError(root, "cannot list: " + ec.message());
  return out;
}

// Type, mode, owner and device numbers of an entry on both sides (the content is compared apart).
void compare_node(const std::string &name, const NodeInfo &x, const NodeInfo &y, Plan &plan) {
  auto add = [&](const char *attribute, const std::string &a, const std::string &b) {
    plan.found.emplace_back(rank(Kind::binary), Difference{name, "", attribute, a, b, {}, {}});
  };
  if (x.type != y.type) add("type", type_name(x.type), type_name(y.type));
  if (x.mode != y.mode) add("mode", octal(x.mode), octal(y.mode));
  if (x.uid != y.uid || x.gid != y.gid)
    add("owner", std::to_string(x.uid) + ":" + std::to_string(x.gid),
        std::to_string(y.uid) + ":" + std::to_string(y.gid));
  if (x.type == y.type && (x.type == 'c' || x.type == 'b') && x.rdev != y.rdev)
    add("device", std::to_string(major(x.rdev)) + ":" + std::to_string(minor(x.rdev)),
        std::to_string(major(y.rdev)) + ":" + std::to_string(minor(y.rdev)));
}

void add_file_pair(Plan &plan, const std::string &artifact, const Side &a, const Side &b, bool content = false) {
  if (!compare_bytes(a, b).equal) plan.pairs.push_back({artifact, a, b, content});
}

bool is_oci_layout(const std::string &dir) {
  return fs::is_regular_file(dir + "/oci-layout") && fs::is_regular_file(dir + "/index.json");
}

// The blob a descriptor names, inside the layout (read without following links).
Side blob_path(const std::string &dir, const json &descriptor, const std::string &where) {
  std::string digest = descriptor.is_object() && descriptor.contains("digest") && descriptor["digest"].is_string()
                           ? descriptor["digest"].get<std::string>()
                           : "";
  bool ok = digest.size() == 71 && digest.rfind("sha256:", 0) == 0 &&
            digest.find_first_not_of("0123456789abcdef", 7) == std::string::npos;
  if (!ok) throw FormatError(dir, 0, where + ": not a sha256 digest: '" + digest + "'");
  return Side{dir, "blobs/sha256/" + digest.substr(7)};
}

// An OCI image layout: index, manifest and config field by field, layers as archives.
void plan_oci(Plan &plan, const std::string &a, const std::string &b) {
  json ia = parse_json(Side{a, "index.json"}), ib = parse_json(Side{b, "index.json"});
  std::vector<Difference> docs;
  std::string where;
  compare_json("index.json", ia, ib, where, docs);
  auto first_manifest = [](const json &index, const std::string &dir) -> const json & {
    if (!index.contains("manifests") || !index["manifests"].is_array() || index["manifests"].empty())
      throw FormatError(dir + "/index.json", 0, "manifests: missing or empty");
    return index["manifests"][0];
  };
  Side ma = blob_path(a, first_manifest(ia, a), "index.json manifests[0]");
  Side mb = blob_path(b, first_manifest(ib, b), "index.json manifests[0]");
  json man_a = parse_json(ma), man_b = parse_json(mb);
  compare_json("manifest", man_a, man_b, where, docs);
  json cfg_a = parse_json(blob_path(a, man_a.value("config", json()), "manifest config"));
  json cfg_b = parse_json(blob_path(b, man_b.value("config", json()), "manifest config"));
  compare_json("config", cfg_a, cfg_b, where, docs);
  for (auto &d : docs) plan.found.emplace_back(rank(Kind::json_document), std::move(d));
  json la = man_a.value("layers", json::array()), lb = man_b.value("layers", json::array());
  json history = cfg_a.value("history", json::array());
  for (size_t i = 0; i < la.size() && i < lb.size(); ++i) {
    Side pa = blob_path(a, la[i], "manifest layers[" + std::to_string(i) + "]");
    Side pb = blob_path(b, lb[i], "manifest layers[" + std::to_string(i) + "]");
    std::string name = "layer " + std::to_string(i);
    if (history.is_array() && i < history.size() && history[i].is_object() && history[i].contains("created_by") &&
        history[i]["created_by"].is_string())
      name += " (" + history[i]["created_by"].get<std::string>() + ")";
    add_file_pair(plan, name, pa, pb, true);
  }
}

void plan_directories(Plan &plan, const std::string &a, const std::string &b) {
  bool oci = is_oci_layout(a) && is_oci_layout(b);
  if (oci) plan_oci(plan, a, b);
  std::map<std::string, NodeInfo> ta = list_tree(a), tb = list_tree(b);
  std::set<std::string> names;
  for (const auto &kv : ta) names.insert(kv.first);
  for (const auto &kv : tb) names.insert(kv.first);
  std::string skipped; // a directory reported as a whole
  for (const auto &name : names) {
    if (!skipped.empty() && name.rfind(skipped + "/", 0) == 0) continue;
    if (oci && (name == "index.json" || name == "blobs" || name.rfind("blobs/", 0) == 0)) continue;
    auto ia = ta.find(name), ib = tb.find(name);
    if (ia == ta.end() || ib == tb.end()) {
      bool in_a = ia != ta.end();
      char t = in_a ? ia->second.type : ib->second.type;
      int r = t == 'f' ? rank(classify(Side{in_a ? a : b, name})) : rank(Kind::binary);
      plan.found.emplace_back(r, presence(name, "", in_a));
      if (t == 'd') skipped = name;
      continue;
    }
    compare_node(name, ia->second, ib->second, plan);
    if (ia->second.type != ib->second.type) {
      if (ia->second.type == 'd' || ib->second.type == 'd') skipped = name;
      continue;
    }
    if (ia->second.type == 'l') {
      std::string x = fs::read_symlink(a + "/" + name).string(), y = fs::read_symlink(b + "/" + name).string();
      if (x != y) plan.found.emplace_back(rank(Kind::binary), Difference{name, "", "link target", x, y, {}, {}});
    } else if (ia->second.type == 'f') {
      add_file_pair(plan, name, Side{a, name}, Side{b, name});
    }
  }
}

struct ImageJob {
  Pair pair;
  size_t index_a = 0, index_b = 0; // into the read_image_trees call
};

} // namespace

std::string Difference::line() const {
  std::string s = artifact;
  if (!entry.empty()) s += ": " + entry;
  s += ": ";
  if (attribute == "presence") {
    s += a == "present" ? "only in the first" : "only in the second";
  } else if (a.empty() && b.empty()) {
    s += attribute + " differs";
    if (offset) s += " at offset " + hex_offset(*offset);
  } else {
    s += attribute + " " + (a.empty() ? "(none)" : a) + " -> " + (b.empty() ? "(none)" : b);
    if (attribute == "size") s += " bytes";
  }
  if (!note.empty()) s += " (" + note + ")";
  return s;
}

std::vector<Difference> diff_paths(const std::string &a, const std::string &b, const DiffOptions &options) {
  std::error_code ec;
  for (const auto &p : {a, b})
    if (!fs::exists(p, ec)) throw InputError(p, "does not exist");
  bool dir_a = fs::is_directory(a), dir_b = fs::is_directory(b);
  Plan plan;
  if (dir_a && dir_b) {
    plan_directories(plan, a, b);
  } else if (dir_a || dir_b) {
    throw InputError(dir_a ? b : a, std::string("is not a directory, but ") + (dir_a ? a : b) +
                                        " is: compare two directories or two files");
  } else {
    for (const auto &p : {a, b})
      if (!fs::is_regular_file(p)) throw InputError(p, "is not a regular file or a directory");
    std::string na = fs::path(a).filename().string(), nb = fs::path(b).filename().string();
    add_file_pair(plan, na == nb ? na : na + " vs " + nb, Side{"", a}, Side{"", b});
  }

  std::vector<ImageJob> images;
  std::vector<std::string> image_paths;
  for (const Pair &p : plan.pairs) {
    Kind ka = classify(p.a), kb = classify(p.b);
    std::vector<Difference> found;
    if (ka != kb) {
      found.push_back({p.artifact, "", "type", kind_name(ka), kind_name(kb), {}, {}});
      byte_differences(p.artifact, compare_bytes(p.a, p.b), "", found);
    } else if (ka == Kind::image && options.use_guestfs) {
      // libguestfs opens images by path: checked here to be regular files inside their directory.
      p.a.open(limits::k_artifact);
      p.b.open(limits::k_artifact);
      ImageJob job{p, image_paths.size(), image_paths.size() + 1};
      image_paths.push_back(p.a.path());
      image_paths.push_back(p.b.path());
      images.push_back(std::move(job));
      continue;
    } else if (ka == Kind::image) {
      byte_differences(p.artifact, compare_bytes(p.a, p.b), "compared as bytes only: libguestfs not used", found);
    } else if (ka == Kind::archive) {
      InputFile fa = p.a.open(limits::k_artifact), fb = p.b.open(limits::k_artifact);
      compare_entries(p.artifact, read_archive_entries(fa, p.a.path()), read_archive_entries(fb, p.b.path()), found);
      if (found.empty())
        byte_differences(p.artifact, compare_bytes(p.a, p.b),
                         "same members and attributes; member order, header encoding or compression differs", found);
    } else if (ka == Kind::json_document) {
      std::string where;
      compare_json(p.artifact, parse_json(p.a), parse_json(p.b), where, found);
      if (found.empty())
        byte_differences(p.artifact, compare_bytes(p.a, p.b), "same JSON values; formatting differs", found);
    } else if (ka == Kind::text) {
      compare_text(p.artifact, p.a, p.b, found);
    } else {
      byte_differences(p.artifact, compare_bytes(p.a, p.b), "", found);
    }
    int r = p.content ? rank(Kind::image) : ka == kb ? rank(ka) : rank(Kind::binary);
    for (auto &d : found) plan.found.emplace_back(r, std::move(d));
  }

  if (!images.empty()) {
    std::vector<ImageTree> trees = read_image_trees(image_paths, options.progress);
    for (const ImageJob &job : images) {
      const ImageTree &ta = trees[job.index_a], &tb = trees[job.index_b];
      std::vector<Difference> found;
      if (ta.filesystems != tb.filesystems) {
        found.push_back(
            {job.pair.artifact, "", "file systems", join(ta.filesystems, ", "), join(tb.filesystems, ", "), {}, {}});
      }
      compare_entries(job.pair.artifact, ta.entries, tb.entries, found);
      if (found.empty())
        byte_differences(job.pair.artifact, compare_bytes(job.pair.a, job.pair.b),
                         "file system trees equal; the image bytes differ (file-system metadata or layout, or the "
                         "dm-verity hash tree)",
                         found);
      for (auto &d : found) plan.found.emplace_back(rank(Kind::image), std::move(d));
    }
  }

  // Root causes first; within a rank, by artifact (stable: entries keep their order).
  std::stable_sort(plan.found.begin(), plan.found.end(), [](const auto &x, const auto &y) {
    if (x.first != y.first) return x.first < y.first;
    return x.second.artifact < y.second.artifact;
  });
  std::vector<Difference> out;
  out.reserve(plan.found.size());
  for (auto &f : plan.found) out.push_back(std::move(f.second));
  return out;
}

} // namespace mrforge::builder

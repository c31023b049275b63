#include <builder/oci_diff.hpp>
#include <builder/store.hpp>
#include <builder/utf8_locale.hpp>

#include <measure/errors.hpp>
#include <measure/hash.hpp>
#include <measure/mapped_file.hpp>

#include <archive.h>
#include <archive_entry.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <set>

namespace mrforge::builder {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

struct EntryInfo {
  std::string type;
  uint32_t mode = 0;
  int64_t uid = 0, gid = 0;
  int64_t mtime = 0;
  int64_t size = 0;
  std::string content_sha256;
  std::string link;
  std::map<std::string, std::string> xattrs;
};

struct ArchiveDeleter {
  void operator()(archive *a) const { archive_read_free(a); }
};

std::string octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

std::map<std::string, EntryInfo> read_entries(const std::string &path) {
  Utf8Locale utf8;
  std::unique_ptr<archive, ArchiveDeleter> a(archive_read_new());
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  if (archive_read_open_filename(a.get(), path.c_str(), 1 << 16) != ARCHIVE_OK)
    throw SystemError(path, std::string("cannot read as tar: ") + archive_error_string(a.get()));
  std::map<std::string, EntryInfo> out;
  archive_entry *e = nullptr;
  int r;
  while ((r = archive_read_next_header(a.get(), &e)) == ARCHIVE_OK) {
    EntryInfo info;
    mode_t type = archive_entry_filetype(e);
    info.type = type == AE_IFDIR   ? "directory"
                : type == AE_IFLNK ? "symlink"
                : type == AE_IFCHR ? "char device"
                : type == AE_IFBLK ? "block device"
                : type == AE_IFIFO ? "fifo"
                                   : "file";
    if (archive_entry_hardlink(e) != nullptr) {
      info.type = "hard link";
      info.link = archive_entry_hardlink(e);
    }
    if (archive_entry_symlink(e) != nullptr) info.link = archive_entry_symlink(e);
    info.mode = static_cast<uint32_t>(archive_entry_perm(e));
    info.uid = archive_entry_uid(e);
    info.gid = archive_entry_gid(e);
    info.mtime = archive_entry_mtime(e);
    info.size = archive_entry_size(e);
    archive_entry_xattr_reset(e);
    const char *name = nullptr;
    const void *value = nullptr;
    size_t size = 0;
    while (archive_entry_xattr_next(e, &name, &value, &size) == ARCHIVE_OK)
      info.xattrs[name] = std::string(static_cast<const char *>(value), size);
    Hasher h(HashAlgorithm::sha256);
    const void *block = nullptr;
    size_t len = 0;
    la_int64_t offset = 0;
    int d;
    while ((d = archive_read_data_block(a.get(), &block, &len, &offset)) == ARCHIVE_OK)
      h.update(static_cast<const uint8_t *>(block), len);
    if (d != ARCHIVE_EOF)
      throw SystemError(path, std::string("cannot read entry data: ") + archive_error_string(a.get()));
    info.content_sha256 = to_hex(h.finish());
    std::string entry_path = archive_entry_pathname(e);
    if (entry_path.rfind("./", 0) == 0) entry_path = entry_path.substr(2);
    while (entry_path.size() > 1 && entry_path.back() == '/') entry_path.pop_back();
    out[entry_path] = std::move(info);
  }
  if (r != ARCHIVE_EOF) throw SystemError(path, std::string("cannot read as tar: ") + archive_error_string(a.get()));
  return out;
}

json read_json(const std::string &path) {
  Bytes b = read_file(path);
  try {
    return json::parse(b.begin(), b.end());
  } catch (const json::exception &e) {
    throw FormatError(path, 0, std::string("not JSON: ") + e.what());
  }
}

std::string blob_path(const std::string &dir, const std::string &digest) {
  if (digest.rfind("sha256:", 0) != 0 || digest.size() != 71)
    throw FormatError(dir, 0, "unexpected digest '" + digest + "'");
  return dir + "/blobs/sha256/" + digest.substr(7);
}

void compare_json(const json &a, const json &b, const std::string &where, std::vector<std::string> &out) {
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (auto it = a.begin(); it != a.end(); ++it) keys.insert(it.key());
    for (auto it = b.begin(); it != b.end(); ++it) keys.insert(it.key());
    for (const auto &k : keys) {
      std::string w = where.empty() ? k : where + "." + k;
      if (!a.contains(k))
        out.push_back(w + ": only in the second");
      else if (!b.contains(k))
        out.push_back(w + ": only in the first");
      else
        compare_json(a[k], b[k], w, out);
    }
    return;
  }
  if (a != b) out.push_back(where + ": " + a.dump() + " -> " + b.dump());
}

bool same_file(const std::string &a, const std::string &b) {
  return digest_file(a).sha256_hex == digest_file(b).sha256_hex;
}

} // namespace

std::vector<std::string> explain_tar_differences(const std::string &tar_a, const std::string &tar_b,
                                                 const std::string &label) {
  std::vector<std::string> out;
  auto a = read_entries(tar_a), b = read_entries(tar_b);
  std::set<std::string> paths;
  for (const auto &kv : a) paths.insert(kv.first);
  for (const auto &kv : b) paths.insert(kv.first);
  for (const auto &p : paths) {
    auto ia = a.find(p), ib = b.find(p);
    if (ia == a.end()) {
      out.push_back(label + p + ": only in the second");
      continue;
    }
    if (ib == b.end()) {
      out.push_back(label + p + ": only in the first");
      continue;
    }
    const EntryInfo &x = ia->second, &y = ib->second;
    std::string prefix = label + p + ": ";
    if (x.type != y.type) out.push_back(prefix + "type " + x.type + " -> " + y.type);
    if (x.mode != y.mode) out.push_back(prefix + "mode " + octal(x.mode) + " -> " + octal(y.mode));
    if (x.uid != y.uid || x.gid != y.gid)
      out.push_back(prefix + "owner " + std::to_string(x.uid) + ":" + std::to_string(x.gid) + " -> " +
                    std::to_string(y.uid) + ":" + std::to_string(y.gid));
    if (x.mtime != y.mtime)
      out.push_back(prefix + "mtime " + std::to_string(x.mtime) + " -> " + std::to_string(y.mtime));
    if (x.link != y.link) out.push_back(prefix + "link target '" + x.link + "' -> '" + y.link + "'");
    if (x.size != y.size)
      out.push_back(prefix + "content size " + std::to_string(x.size) + " -> " + std::to_string(y.size) + " bytes");
    else if (x.content_sha256 != y.content_sha256)
      out.push_back(prefix + "content (sha256 " + x.content_sha256 + " -> " + y.content_sha256 + ")");
    if (x.xattrs != y.xattrs) out.push_back(prefix + "xattrs differ");
  }
  // Same entries, same attributes, yet different bytes: the order or the header encoding.
  if (out.empty() && !same_file(tar_a, tar_b))
    out.push_back(label + "same entries and attributes, different bytes (entry order, header format or compression)");
  return out;
}

std::vector<std::string> explain_oci_differences(const std::string &dir_a, const std::string &dir_b) {
  std::vector<std::string> out;
  json index_a = read_json(dir_a + "/index.json"), index_b = read_json(dir_b + "/index.json");
  std::string man_a = index_a.at("manifests").at(0).at("digest"), man_b = index_b.at("manifests").at(0).at("digest");
  if (man_a == man_b && same_file(dir_a + "/index.json", dir_b + "/index.json")) return out;
  compare_json(index_a, index_b, "index.json", out);
  json ma = read_json(blob_path(dir_a, man_a)), mb = read_json(blob_path(dir_b, man_b));
  std::string cfg_a = ma.at("config").at("digest"), cfg_b = mb.at("config").at("digest");
  json cfg_json_a = read_json(blob_path(dir_a, cfg_a));
  if (cfg_a != cfg_b) compare_json(cfg_json_a, read_json(blob_path(dir_b, cfg_b)), "config", out);
  const json &la = ma.at("layers"), &lb = mb.at("layers");
  if (la.size() != lb.size())
    out.push_back("manifest: " + std::to_string(la.size()) + " layers -> " + std::to_string(lb.size()));
  for (size_t i = 0; i < la.size() && i < lb.size(); ++i) {
    std::string da = la[i].at("digest"), db = lb[i].at("digest");
    if (da == db) continue;
    std::string name = "layer " + std::to_string(i);
    const json &history = cfg_json_a.value("history", json::array());
    if (i < history.size() && history[i].contains("created_by"))
      name += " (" + history[i]["created_by"].get<std::string>() + ")";
    std::vector<std::string> entries = explain_tar_differences(blob_path(dir_a, da), blob_path(dir_b, db), name + ": ");
    out.insert(out.end(), entries.begin(), entries.end());
  }
  return out;
}

} // namespace mrforge::builder

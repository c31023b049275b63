#include <builder/audit/guestfs_library.hpp>
#include <builder/audit/guestfs_tree.hpp>
#include <builder/system/utf8_locale.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/strings.hpp>
#include <measure/util/unique_fd.hpp>

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fcntl.h>
#include <filesystem>
#include <memory>
#include <set>
#include <sys/stat.h>
#include <unistd.h>

namespace mrforge::builder {

namespace fs = std::filesystem;

namespace {

// ---- archives ---------------------------------------------------------------------------------

struct ArchiveReadDeleter {
  void operator()(archive *a) const { archive_read_free(a); }
};

std::string archive_message(archive *a) {
  const char *m = archive_error_string(a);
  return m != nullptr ? m : "unknown libarchive error";
}

uint64_t archive_position(archive *a) {
  la_int64_t n = archive_filter_bytes(a, -1);
  return n > 0 ? static_cast<uint64_t>(n) : 0;
}

std::string normalize_member_path(std::string p) {
  while (p.rfind("./", 0) == 0) p.erase(0, 2);
  while (!p.empty() && p.front() == '/') p.erase(0, 1);
  while (!p.empty() && p.back() == '/') p.pop_back();
  if (p.empty() || p == ".") return "/";
  return p;
}

char member_type(mode_t type) {
  switch (type) {
  case AE_IFREG: return 'f';
  case AE_IFDIR: return 'd';
  case AE_IFLNK: return 'l';
  case AE_IFCHR: return 'c';
  case AE_IFBLK: return 'b';
  case AE_IFIFO: return 'p';
  case AE_IFSOCK: return 's';
  default: return '?';
  }
}

} // namespace

std::vector<ImageEntry> read_archive_entries(const std::string &path, const std::string &source) {
  InputFile file = InputFile::open(path, limits::k_artifact);
  return read_archive_entries(file, source);
}

std::vector<ImageEntry> read_archive_entries(InputFile &file, const std::string &source) {
  const std::string &path = file.path();
  Utf8Locale utf8;
  std::unique_ptr<archive, ArchiveReadDeleter> a(archive_read_new());
  if (!a) throw SystemError(path, "libarchive: out of memory");
  archive_read_support_filter_all(a.get());
  archive_read_support_format_tar(a.get());
  archive_read_support_format_cpio(a.get());
  if (archive_read_open_fd(a.get(), file.fd(), 1 << 16) != ARCHIVE_OK)
    throw FormatError(source, 0, "not a tar or cpio archive libarchive can read: " + archive_message(a.get()));

  std::vector<ImageEntry> entries;
  std::map<std::string, std::string> hardlinks; // path -> path it names, as stored
  std::map<std::string, size_t> seen;           // path -> times seen
  archive_entry *e = nullptr;
  for (;;) {
    int r = archive_read_next_header(a.get(), &e);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      throw FormatError(source, archive_position(a.get()),
                        "damaged archive after " + std::to_string(entries.size()) +
                            " members: " + archive_message(a.get()));
    const char *raw_name = archive_entry_pathname(e);
    if (raw_name == nullptr)
      throw FormatError(source, archive_position(a.get()),
                        "member " + std::to_string(entries.size()) + " has a name that is not valid UTF-8");
    ImageEntry info;
    info.path = normalize_member_path(raw_name);
    if (size_t n = ++seen[info.path]; n > 1) info.path += " (#" + std::to_string(n) + ")";
    info.type = member_type(archive_entry_filetype(e));
    info.mode = static_cast<uint32_t>(archive_entry_perm(e));
    info.uid = static_cast<uint64_t>(archive_entry_uid(e));
    info.gid = static_cast<uint64_t>(archive_entry_gid(e));
    info.mtime = archive_entry_mtime(e);
    if (info.type == 'c' || info.type == 'b') {
      info.dev_major = static_cast<uint32_t>(archive_entry_rdevmajor(e));
      info.dev_minor = static_cast<uint32_t>(archive_entry_rdevminor(e));
    }
    if (const char *link = archive_entry_symlink(e)) info.link_target = link;
    if (const char *hard = archive_entry_hardlink(e)) hardlinks[info.path] = normalize_member_path(hard);
    archive_entry_xattr_reset(e);
    const char *name = nullptr;
    const void *value = nullptr;
    size_t value_size = 0;
    while (archive_entry_xattr_next(e, &name, &value, &value_size) == ARCHIVE_OK)
      info.xattrs[name] = std::string(static_cast<const char *>(value), value_size);

    Hasher h(HashAlgorithm::sha256);
    uint64_t size = 0;
    const void *block = nullptr;
    size_t len = 0;
    la_int64_t offset = 0;
    int d;
    while ((d = archive_read_data_block(a.get(), &block, &len, &offset)) == ARCHIVE_OK) {
      h.update(static_cast<const uint8_t *>(block), len);
      size += len;
    }
    if (d != ARCHIVE_EOF)
      throw FormatError(source, archive_position(a.get()),
                        "member " + info.path + ": cannot read its data: " + archive_message(a.get()));
    if (info.type == 'f') {
      info.size = size;
      info.sha256 = to_hex(h.finish());
    }
    entries.push_back(std::move(info));
  }

  // Hard links: every name of an inode gets the inode's attributes. The data sits with one of the
  // names (tar: the first; cpio newc: the last), so take the member that carried bytes.
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < entries.size(); ++i) index[entries[i].path] = i;
  std::map<std::string, std::vector<size_t>> groups; // root name -> members
  for (size_t i = 0; i < entries.size(); ++i) {
    std::string root = entries[i].path;
    for (size_t hops = 0; hardlinks.count(root) != 0 && hops <= entries.size(); ++hops) root = hardlinks[root];
    if (index.count(root) == 0)
      throw FormatError(source, 0,
                        "member " + entries[i].path + " is a hard link to " + root + ", which is not in the archive");
    groups[root].push_back(i);
  }
  for (const auto &kv : groups) {
    if (kv.second.size() < 2) continue;
    size_t data = kv.second.front();
    for (size_t i : kv.second)
      if (entries[i].size > entries[data].size) data = i;
    ImageEntry proto = entries[data];
    for (size_t i : kv.second) {
      ImageEntry &m = entries[i];
      m.type = proto.type;
      m.size = proto.size;
      m.sha256 = proto.sha256;
      if (m.xattrs.empty()) m.xattrs = proto.xattrs;
      m.links = static_cast<uint32_t>(kv.second.size());
    }
  }
  std::sort(entries.begin(), entries.end(), [](const ImageEntry &x, const ImageEntry &y) { return x.path < y.path; });
  return entries;
}

// ---- libguestfs -------------------------------------------------------------------------------

namespace {

using Progress = std::function<void(const std::string &)>;

struct GuestfsCloser {
  void operator()(guestfs_h *g) const { guestfs_library().close(g); }
};
using Handle = std::unique_ptr<guestfs_h, GuestfsCloser>;

// Lists libguestfs returns (NULL-terminated, caller frees each string and the array).
struct StringList {
  char **items = nullptr;
  explicit StringList(char **p) : items(p) {}
  ~StringList() {
    if (items == nullptr) return;
    for (char **p = items; *p != nullptr; ++p) std::free(*p);
    std::free(items);
  }
  StringList(const StringList &) = delete;
  StringList &operator=(const StringList &) = delete;
  std::vector<std::string> strings() const {
    std::vector<std::string> out;
    for (char **p = items; p != nullptr && *p != nullptr; ++p) out.emplace_back(*p);
    return out;
  }
};

// libguestfs's last error on one line (its launch errors carry a paragraph of advice about
// LIBGUESTFS_DEBUG after the first line; mount errors carry the tool's multi-line output).
std::string last_error(guestfs_h *g) {
  const char *m = guestfs_library().last_error(g);
  std::string text = m != nullptr ? m : "unknown libguestfs error";
  if (text.rfind("guestfs_launch failed", 0) == 0) text = text.substr(0, text.find('\n'));
  std::string out;
  for (char c : text) {
    bool space = c == '\n' || c == ' ' || c == '\t';
    if (space && (out.empty() || out.back() == ' ')) continue;
    out += space ? ' ' : c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool kvm_openable() {
  UniqueFd fd(::open("/dev/kvm", O_RDWR | O_CLOEXEC));
  return static_cast<bool>(fd);
}

class TempDir {
public:
  TempDir() {
    const char *tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/mrforge-guestfs-XXXXXX";
    std::vector<char> buf(pattern.begin(), pattern.end());
    buf.push_back('\0');
    if (::mkdtemp(buf.data()) == nullptr) throw SystemError(pattern, "cannot create a temporary directory");
    m_path = buf.data();
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(m_path, ec);
  }
  TempDir(const TempDir &) = delete;
  TempDir &operator=(const TempDir &) = delete;
  const std::string &path() const { return m_path; }

private:
  std::string m_path;
};

std::string images_label(const std::vector<std::string> &images) { return join(images, ", "); }

// Creates a handle with the drives attached and launches the appliance.
Handle launch(const std::vector<std::string> &images, bool force_tcg, const Progress &progress) {
  Handle g(guestfs_library().create_flags(0));
  if (!g)
    throw SystemError(images_label(images),
                      "libguestfs: cannot create a handle (is libguestfs installed? Debian: apt install libguestfs0 "
                      "linux-image-amd64 for its appliance)");
  guestfs_library().set_error_handler(g.get(), nullptr, nullptr);
  if (force_tcg) {
    const char *settings[] = {"force_tcg", nullptr};
    if (guestfs_library().set_backend_settings(g.get(), const_cast<char *const *>(settings)) == -1)
      throw SystemError(images_label(images), "libguestfs: cannot select TCG: " + last_error(g.get()));
  }
  for (const auto &image : images)
    if (guestfs_library().add_drive_opts(g.get(), image.c_str(), GUESTFS_ADD_DRIVE_OPTS_READONLY, 1,
                                         GUESTFS_ADD_DRIVE_OPTS_FORMAT, "raw", -1) == -1)
      throw InputError(image, "libguestfs cannot attach it: " + last_error(g.get()));
  if (progress)
    progress("libguestfs: launching the appliance for " + std::to_string(images.size()) + " image(s)" +
             (force_tcg ? " with TCG (no KVM; this takes up to a minute)" : ""));
  auto start = std::chrono::steady_clock::now();
  if (guestfs_library().launch(g.get()) == -1)
    throw SystemError(
        images_label(images),
        "libguestfs: the appliance did not start: " + last_error(g.get()) +
            " (run libguestfs-test-tool to see why; without KVM set LIBGUESTFS_BACKEND_SETTINGS=force_tcg)");
  if (progress) {
    auto s = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - start).count();
    progress("libguestfs: appliance up after " + std::to_string(s) + " s");
  }
  return g;
}

// "/dev/sdc2" on drive "/dev/sdc" -> "sda2": the name the device would have with its image alone,
// so that the same partition of two images compared together gets the same name.
std::string relative_device(const std::string &device, const std::string &disk) {
  std::string rest = device.substr(disk.size()); // partition number, "" for the whole disk
  return "sda" + rest;
}

// The drive (as listed by list_devices) that holds `device`: itself, the disk of a partition, or
// for an LVM logical volume the disk of its volume group's physical volumes (all on one drive,
// else InputError).
std::string owning_disk(guestfs_h *g, const std::string &device, const std::vector<std::string> &disks) {
  if (std::find(disks.begin(), disks.end(), device) != disks.end()) return device;
  if (guestfs_library().is_lv(g, device.c_str()) == 1) {
    char *vg_name = guestfs_library().lvm_canonical_lv_name(g, device.c_str()); // "/dev/VG/LV"
    if (vg_name == nullptr) throw InputError(device, "libguestfs: " + last_error(g));
    std::string canonical = vg_name;
    std::free(vg_name);
    std::string vg = canonical.substr(5, canonical.find('/', 5) - 5);
    StringList uuids(guestfs_library().vgpvuuids(g, vg.c_str()));
    StringList pvs(guestfs_library().pvs(g));
    if (uuids.items == nullptr || pvs.items == nullptr) throw InputError(device, "libguestfs: " + last_error(g));
    std::set<std::string> wanted;
    for (const auto &u : uuids.strings()) wanted.insert(u);
    std::set<std::string> owners;
    for (const auto &pv : pvs.strings()) {
      char *uuid = guestfs_library().pvuuid(g, pv.c_str());
      if (uuid == nullptr) throw InputError(pv, "libguestfs: " + last_error(g));
      bool member = wanted.count(uuid) != 0;
      std::free(uuid);
      if (member) owners.insert(owning_disk(g, pv, disks));
    }
    if (owners.size() != 1)
      throw InputError(device,
                       "volume group " + vg + " spans several images or none; compare the images one at a time");
    return *owners.begin();
  }
  char *disk = guestfs_library().part_to_dev(g, device.c_str());
  if (disk == nullptr) throw InputError(device, "cannot tell which image holds this file system: " + last_error(g));
  std::string out = disk;
  std::free(disk);
  return out;
}

std::string device_label(const std::string &device, const std::string &disk) {
  if (device.rfind(disk, 0) == 0) return relative_device(device, disk);
  return device.rfind("/dev/", 0) == 0 ? device.substr(5) : device; // "VG/LV"
}

} // namespace

std::vector<ImageTree> read_image_trees(const std::vector<std::string> &images, const Progress &progress) {
  if (images.empty()) return {};
  std::vector<std::string> unique;
  for (const auto &image : images) {
    std::error_code ec;
    auto status = fs::status(image, ec);
    if (ec || !fs::exists(status)) throw InputError(image, "does not exist");
    if (!fs::is_regular_file(status))
      throw InputError(image, "is not a regular file (give a disk or file-system image)");
    if (std::find(unique.begin(), unique.end(), image) == unique.end()) unique.push_back(image);
  }

  guestfs_library(); // loaded here (MissingLibraryError), so that the retry below is about KVM only

  // TCG unless KVM is usable; an explicit LIBGUESTFS_BACKEND_SETTINGS is left alone.
  bool user_settings = std::getenv("LIBGUESTFS_BACKEND_SETTINGS") != nullptr;
  bool force_tcg = !user_settings && !kvm_openable();
  Handle g;
  try {
    g = launch(unique, force_tcg, progress);
  } catch (const SystemError &e) {
    if (user_settings || force_tcg) throw;
    if (progress) progress("libguestfs: the appliance did not start with KVM; retrying with TCG");
    g = launch(unique, true, progress);
  }

  StringList device_list(guestfs_library().list_devices(g.get()));
  if (device_list.items == nullptr) throw SystemError(images_label(unique), "libguestfs: " + last_error(g.get()));
  std::vector<std::string> disks = device_list.strings();
  if (disks.size() != unique.size())
    throw SystemError(images_label(unique), "libguestfs lists " + std::to_string(disks.size()) + " disks for " +
                                                std::to_string(unique.size()) + " images");

  // list_filesystems: pairs (device, type), sorted by device by libguestfs.
  StringList fs_list(guestfs_library().list_filesystems(g.get()));
  if (fs_list.items == nullptr) throw SystemError(images_label(unique), "libguestfs: " + last_error(g.get()));
  std::vector<std::string> pairs = fs_list.strings();
  std::vector<std::vector<std::pair<std::string, std::string>>> per_disk(disks.size());
  for (size_t i = 0; i + 1 < pairs.size(); i += 2) {
    const std::string &device = pairs[i], &type = pairs[i + 1];
    if (type == "unknown" || type == "swap" || type.empty()) continue;
    std::string disk = owning_disk(g.get(), device, disks);
    size_t d = static_cast<size_t>(std::find(disks.begin(), disks.end(), disk) - disks.begin());
    if (d >= disks.size()) throw SystemError(device, "libguestfs names a disk it did not list: " + disk);
    per_disk[d].emplace_back(device, type);
  }

  TempDir tmp;
  std::vector<ImageTree> trees;
  for (size_t d = 0; d < disks.size(); ++d) {
    const std::string &image = unique[d];
    ImageTree tree;
    tree.image = image;
    if (per_disk[d].empty())
      throw InputError(image, "libguestfs finds no file system in it (not a file-system or disk image, or damaged)");
    bool prefix = per_disk[d].size() > 1;
    for (const auto &[device, type] : per_disk[d]) {
      std::string label = device_label(device, disks[d]);
      tree.filesystems.push_back(type + " on /dev/" + label);
      if (progress) progress("libguestfs: " + image + ": reading " + type + " on /dev/" + label);
      if (guestfs_library().mount_ro(g.get(), device.c_str(), "/") == -1)
        throw InputError(image, type + " on /dev/" + label + " does not mount: " + last_error(g.get()));
      std::string local = tmp.path() + "/tree.tar";
      int r = guestfs_library().tar_out_opts(g.get(), "/", local.c_str(), GUESTFS_TAR_OUT_OPTS_NUMERICOWNER, 1,
                                             GUESTFS_TAR_OUT_OPTS_XATTRS, 1, -1);
      std::string error = r == -1 ? last_error(g.get()) : "";
      if (guestfs_library().umount_all(g.get()) == -1)
        throw SystemError(image, "libguestfs: cannot unmount: " + last_error(g.get()));
      if (r == -1) throw InputError(image, type + " on /dev/" + label + ": cannot read the tree: " + error);
      std::vector<ImageEntry> entries = read_archive_entries(local, image + " (" + label + " via tar-out)");
      fs::remove(local);
      for (auto &e : entries) {
        if (prefix) e.path = label + ":" + e.path;
        tree.entries.push_back(std::move(e));
      }
    }
    std::sort(tree.entries.begin(), tree.entries.end(),
              [](const ImageEntry &x, const ImageEntry &y) { return x.path < y.path; });
    trees.push_back(std::move(tree));
  }
  if (guestfs_library().shutdown(g.get()) == -1)
    throw SystemError(images_label(unique), "libguestfs: appliance shutdown: " + last_error(g.get()));

  // One tree per requested image, in the order given (duplicates share the result).
  std::vector<ImageTree> out;
  for (const auto &image : images)
    out.push_back(trees[static_cast<size_t>(std::find(unique.begin(), unique.end(), image) - unique.begin())]);
  return out;
}

} // namespace mrforge::builder

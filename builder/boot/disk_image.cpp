#include <builder/boot/disk_image.hpp>
#include <builder/guest/rootfs_image.hpp>
#include <builder/system/subprocess.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/unique_fd.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <set>
#include <sstream>
#include <sys/stat.h>
#include <unistd.h>

namespace mrforge::builder {

namespace {

constexpr uint64_t k_mib = 1ull << 20;
constexpr uint64_t k_sector = 512;
constexpr uint64_t k_min_esp_size = 64 * k_mib; // FAT32 with 512-byte clusters needs 65525 of them
constexpr const char *k_esp_type = "C12A7328-F81F-11D2-BA4B-00A0C93EC93B";
constexpr const char *k_root_type = "4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709";

uint64_t round_up(uint64_t v, uint64_t a) { return (v + a - 1) / a * a; }

void say(const DiskImageSettings &s, const std::string &text) {
  if (s.progress) s.progress(text);
}

uint64_t size_of(const std::string &path, const std::string &what) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw InputError(what, path + ": " + std::strerror(errno));
  if (!S_ISREG(st.st_mode)) throw InputError(what, path + " is not a regular file");
  return static_cast<uint64_t>(st.st_size);
}

// A path inside the ESP: components of letters, digits, '.', '_' and '-' (what FAT keeps as
// written and every firmware reads), no empty, "." or ".." component.
void check_esp_path(const std::string &path) {
  std::istringstream parts(path);
  std::string part;
  bool any = false;
  while (std::getline(parts, part, '/')) {
    any = true;
    bool ok = !part.empty() && part != "." && part != ".." && part.size() <= 64 &&
              std::all_of(part.begin(), part.end(), [](char c) {
                return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
                       c == '_' || c == '-';
              });
    if (!ok)
      throw InputError("ESP file '" + path + "'",
                       "each part of an ESP path is 1-64 letters, digits, '.', '_' or '-' (no '..')");
  }
  if (!any || path.back() == '/') throw InputError("ESP file '" + path + "'", "not a file path");
}

ProcessOptions mtools_options(const DiskImageSettings &s) {
  ProcessOptions o;
  // MTOOLS_SKIP_CHECK: the image is ours; SOURCE_DATE_EPOCH: the time of every entry mtools writes.
  o.environment = {{"MTOOLS_SKIP_CHECK", "1"}, {"SOURCE_DATE_EPOCH", std::to_string(s.source_date_epoch)}};
  return o;
}

// Copies `from` into `fd` at `offset`.
void copy_into(int fd, uint64_t offset, const std::string &from, const std::string &to) {
  UniqueFd in(::open(from.c_str(), O_RDONLY | O_CLOEXEC));
  if (!in) throw SystemError(from, std::string("cannot open: ") + std::strerror(errno));
  loff_t in_off = 0;
  loff_t out_off = static_cast<loff_t>(offset);
  const uint64_t size = size_of(from, from);
  while (static_cast<uint64_t>(in_off) < size) {
    ssize_t n = ::copy_file_range(in.get(), &in_off, fd, &out_off, size - static_cast<uint64_t>(in_off), 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0)
      throw SystemError(to, "copying " + from + " into the disk image: " + std::strerror(n < 0 ? errno : EIO));
  }
}

std::string version_from(const std::string &text, const std::string &prefix) {
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);)
    if (line.rfind(prefix, 0) == 0) {
      std::istringstream words(line.substr(prefix.size()));
      std::string v;
      words >> v;
      if (!v.empty()) return v;
    }
  throw SystemError(prefix, "no version line starting with '" + prefix + "' in: " + tool_output_tail(text));
}

} // namespace

std::string disk_tool_versions() {
  ProcessResult g = run_tool({"sgdisk", "--version"}, "sgdisk", "version probe");
  ProcessResult f = run_process({"mkfs.fat", "--help"}); // exits 1 after the usage and its version line
  ProcessResult m = run_tool({"mtools", "--version"}, "mtools", "version probe");
  return "sgdisk " + version_from(g.stdout_data, "GPT fdisk (sgdisk) version ") + ", mkfs.fat " +
         version_from(f.stdout_data + f.stderr_data, "mkfs.fat ") + ", mtools " +
         version_from(m.stdout_data, "mtools (GNU mtools) ");
}

DiskImageResult write_disk_image(const DiskImageSettings &s, const std::string &out_path) {
  DiskImageResult r;
  r.tools = disk_tool_versions();
  r.disk_guid = derive_uuid(s.seed, "disk-guid");
  r.esp_guid = derive_uuid(s.seed, "esp-partition-guid");
  r.esp_volume_id = derive_hex(s.seed, "esp-volume-id", 4);

  // The FAT file system: sorted files, their folders made first (parents before children).
  std::vector<EspFile> files = s.esp_files;
  std::sort(files.begin(), files.end(), [](const EspFile &a, const EspFile &b) { return a.path < b.path; });
  uint64_t content = 0;
  std::set<std::string> dirs;
  for (size_t i = 0; i < files.size(); ++i) {
    check_esp_path(files[i].path);
    if (i && files[i].path == files[i - 1].path) throw InputError("ESP file '" + files[i].path + "'", "given twice");
    content += round_up(size_of(files[i].source, "ESP file " + files[i].path), 4096);
    for (size_t slash = files[i].path.find('/'); slash != std::string::npos; slash = files[i].path.find('/', slash + 1))
      dirs.insert(files[i].path.substr(0, slash));
  }
  r.esp_size = std::max(k_min_esp_size, round_up(content + content / 16 + 4 * k_mib, k_mib));
  const std::string fat = s.scratch_dir + "/esp.img";
  ::unlink(fat.c_str());
  say(s,
      "disk: FAT32 ESP of " + std::to_string(r.esp_size / k_mib) + " MiB, " + std::to_string(files.size()) + " files");
  run_tool({"mkfs.fat", "--invariant", "-i", r.esp_volume_id, "-n", "ESP", "-F", "32", "-C", fat,
            std::to_string(r.esp_size / 1024)},
           fat, "making the ESP's FAT file system");
  ProcessOptions mtools = mtools_options(s);
  for (const std::string &d : dirs) run_tool({"mmd", "-i", fat, "::/" + d}, fat, "making ESP folder /" + d, mtools);
  for (const EspFile &f : files)
    run_tool({"mcopy", "-i", fat, f.source, "::/" + f.path}, fat, "copying /" + f.path + " into the ESP", mtools);

  // The disk: partition table first, then the partitions' bytes at their offsets.
  r.esp_offset = k_mib;
  uint64_t end = r.esp_offset + r.esp_size;
  if (!s.root_image.empty()) {
    r.root_guid = derive_uuid(s.seed, "root-partition-guid");
    r.root_offset = end;
    r.root_size = round_up(size_of(s.root_image, "root image"), k_sector);
    end = round_up(r.root_offset + r.root_size, k_mib);
  }
  r.disk_size = end + k_mib; // the backup GPT (33 sectors) in the last MiB
  const std::string tmp = out_path + ".tmp";
  ::unlink(tmp.c_str());
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644));
    if (!fd) throw SystemError(tmp, std::string("cannot create: ") + std::strerror(errno));
    if (::ftruncate(fd.get(), static_cast<off_t>(r.disk_size)) != 0)
      throw SystemError(tmp, std::string("cannot size the disk image: ") + std::strerror(errno));
  }
  say(s, "disk: GPT, " + std::to_string(r.disk_size / k_mib) + " MiB");
  std::vector<std::string> sgdisk = {"sgdisk",
                                     "--disk-guid=" + r.disk_guid,
                                     "--new=1:" + std::to_string(r.esp_offset / k_sector) + ":" +
                                         std::to_string((r.esp_offset + r.esp_size) / k_sector - 1),
                                     "--typecode=1:" + std::string(k_esp_type),
                                     "--partition-guid=1:" + r.esp_guid,
                                     "--change-name=1:ESP"};
  if (!s.root_image.empty())
    for (const std::string &a : {"--new=2:" + std::to_string(r.root_offset / k_sector) + ":" +
                                     std::to_string((r.root_offset + r.root_size) / k_sector - 1),
                                 "--typecode=2:" + std::string(k_root_type), "--partition-guid=2:" + r.root_guid,
                                 std::string("--change-name=2:root")})
      sgdisk.push_back(a);
  sgdisk.push_back(tmp);
  try {
    run_tool(sgdisk, tmp, "writing the GPT");
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CLOEXEC));
    if (!fd) throw SystemError(tmp, std::string("cannot open: ") + std::strerror(errno));
    copy_into(fd.get(), r.esp_offset, fat, tmp);
    if (!s.root_image.empty()) copy_into(fd.get(), r.root_offset, s.root_image, tmp);
    if (::fsync(fd.get()) != 0) throw SystemError(tmp, std::string("fsync: ") + std::strerror(errno));
    if (::rename(tmp.c_str(), out_path.c_str()) != 0)
      throw SystemError(out_path, std::string("cannot rename the disk image into place: ") + std::strerror(errno));
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  ::unlink(fat.c_str());
  return r;
}

} // namespace mrforge::builder

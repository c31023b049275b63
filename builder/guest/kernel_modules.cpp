// Kernel module index, dependency order from .modinfo and decompression. See kernel_modules.hpp.
#include <builder/guest/kernel_modules.hpp>

#include <builder/guest/elf_file.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/strings.hpp>

#include <archive.h>
#include <archive_entry.h>

#include <algorithm>
#include <memory>
#include <set>
#include <string_view>

namespace mrforge::builder {

namespace {

// An uncompressed module larger than this is refused (Debian's largest, amdgpu, is about 20 MiB).
constexpr uint64_t k_max_module_size = 256ull << 20;
// Dependency chains deeper than this are refused (real ones are a handful of modules deep).
constexpr size_t k_max_dependency_depth = 64;
// How many close names an "unknown module" message suggests.
constexpr size_t k_max_suggestions = 5;
constexpr size_t k_read_block = 64 * 1024;

enum class ModuleCompression { none, xz, zstd };

struct Suffix {
  std::string_view text;
  ModuleCompression compression;
};
constexpr Suffix k_suffixes[] = {
    {".ko", ModuleCompression::none}, {".ko.xz", ModuleCompression::xz}, {".ko.zst", ModuleCompression::zstd}};

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// The module name of a file name ("dm-verity.ko.xz" -> "dm-verity"), or "" if it is not a module.
std::string module_file_name(std::string_view file, ModuleCompression *compression = nullptr) {
  for (const Suffix &s : k_suffixes) {
    if (file.size() > s.text.size() && ends_with(file, s.text)) {
      if (compression != nullptr) *compression = s.compression;
      return std::string(file.substr(0, file.size() - s.text.size()));
    }
  }
  return "";
}

std::string base_name(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

struct ReadDeleter {
  void operator()(archive *a) const noexcept { archive_read_free(a); }
};

std::string la_error(archive *a) {
  const char *msg = archive_error_string(a);
  return msg != nullptr ? msg : "unknown libarchive error";
}

// Streams the uncompressed bytes of a module file: libarchive's "raw" format with only the
// decoder the file name announces (so a .ko.xz that is not xz, or is xz twice, is refused).
class ModuleReader {
public:
  ModuleReader(const std::string &host_path, const std::string &tree_path, std::string source)
      : m_source(std::move(source)) {
    ModuleCompression compression = ModuleCompression::none;
    module_file_name(base_name(tree_path), &compression);
    m_archive.reset(archive_read_new());
    if (!m_archive) throw SystemError(host_path, "libarchive: out of memory");
    int r = ARCHIVE_OK;
    int expected_filter = ARCHIVE_FILTER_NONE;
    if (compression == ModuleCompression::xz) {
      r = archive_read_support_filter_xz(m_archive.get());
      expected_filter = ARCHIVE_FILTER_XZ;
    } else if (compression == ModuleCompression::zstd) {
      r = archive_read_support_filter_zstd(m_archive.get());
      expected_filter = ARCHIVE_FILTER_ZSTD;
    }
    if (r != ARCHIVE_OK)
      throw SystemError(host_path, "this libarchive has no built-in decoder for " + tree_path + " (" +
                                       la_error(m_archive.get()) + ")");
    if (archive_read_support_format_raw(m_archive.get()) != ARCHIVE_OK)
      throw SystemError(host_path, "libarchive: " + la_error(m_archive.get()));
    if (archive_read_open_filename(m_archive.get(), host_path.c_str(), k_read_block) != ARCHIVE_OK)
      throw FormatError(m_source, 0, la_error(m_archive.get()));
    archive_entry *entry = nullptr;
    r = archive_read_next_header(m_archive.get(), &entry);
    if (r == ARCHIVE_EOF) throw FormatError(m_source, 0, "empty module file");
    if (r != ARCHIVE_OK) throw FormatError(m_source, 0, la_error(m_archive.get()));
    int filters = archive_filter_count(m_archive.get());
    int code = archive_filter_code(m_archive.get(), 0);
    if (code != expected_filter || filters != (expected_filter == ARCHIVE_FILTER_NONE ? 1 : 2))
      throw FormatError(
          m_source, 0,
          std::string("the file is not ") +
              (expected_filter == ARCHIVE_FILTER_NONE ? "an uncompressed module" : "a single compressed stream") +
              " as its name says (libarchive sees '" +
              (archive_filter_name(m_archive.get(), 0) ? archive_filter_name(m_archive.get(), 0) : "?") + "')");
  }

  // Up to `capacity` bytes; 0 at the end.
  size_t read(uint8_t *buffer, size_t capacity) {
    la_ssize_t n = archive_read_data(m_archive.get(), buffer, capacity);
    if (n < 0) throw FormatError(m_source, m_total, "cannot decompress: " + la_error(m_archive.get()));
    m_total += static_cast<uint64_t>(n);
    if (m_total > k_max_module_size)
      throw FormatError(m_source, m_total,
                        "uncompressed module is larger than " + std::to_string(k_max_module_size) + " bytes");
    return static_cast<size_t>(n);
  }

  std::string read_all() {
    std::string bytes;
    std::string buffer(k_read_block, '\0');
    while (size_t n = read(reinterpret_cast<uint8_t *>(buffer.data()), buffer.size())) bytes.append(buffer.data(), n);
    return bytes;
  }

private:
  std::string m_source;
  std::unique_ptr<archive, ReadDeleter> m_archive;
  uint64_t m_total = 0;
};

// .modinfo: NUL-terminated "key=value" strings, possibly with NUL padding between them.
struct ModInfo {
  bool has_name = false;
  std::string name;
  bool has_depends = false;
  std::vector<std::string> depends;
};

ModInfo parse_modinfo(std::string_view section, const std::string &source) {
  if (section.empty()) throw FormatError(source, 0, "no .modinfo section: not a kernel module");
  if (section.back() != '\0') throw FormatError(source, 0, ".modinfo does not end with a NUL");
  ModInfo info;
  size_t pos = 0;
  while (pos < section.size()) {
    size_t end = section.find('\0', pos);
    std::string_view item = section.substr(pos, end - pos);
    size_t at = pos;
    pos = end + 1;
    if (item.empty()) continue;
    size_t eq = item.find('=');
    if (eq == std::string_view::npos)
      throw FormatError(source, at, ".modinfo entry '" + std::string(item) + "' has no '='");
    std::string_view key = item.substr(0, eq);
    std::string_view value = item.substr(eq + 1);
    if (key == "name") {
      if (info.has_name) throw FormatError(source, at, ".modinfo has more than one name=");
      info.has_name = true;
      info.name = std::string(value);
    } else if (key == "depends") {
      if (info.has_depends) throw FormatError(source, at, ".modinfo has more than one depends=");
      info.has_depends = true;
      size_t start = 0;
      while (start <= value.size() && !value.empty()) {
        size_t comma = value.find(',', start);
        if (comma == std::string_view::npos) comma = value.size();
        std::string_view dep = value.substr(start, comma - start);
        if (dep.empty())
          throw FormatError(source, at, ".modinfo depends='" + std::string(value) + "' has an empty name");
        info.depends.emplace_back(dep);
        start = comma + 1;
      }
    }
  }
  return info;
}

size_t edit_distance(const std::string &a, const std::string &b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

} // namespace

std::string normalize_module_name(const std::string &name) {
  std::string out = name;
  std::replace(out.begin(), out.end(), '-', '_');
  return out;
}

KernelModules::KernelModules(const FsTree &kernel_tree, const std::string &release, const std::string &source)
    : m_release(release), m_source(source) {
  if (release.empty() || release.find('/') != std::string::npos || release == "." || release == "..")
    throw InputError(source, "kernel release '" + release + "' is not a directory name");
  const auto &nodes = kernel_tree.nodes();
  std::set<std::string> releases;
  for (const std::string root : {"lib/modules/", "usr/lib/modules/"}) {
    for (auto it = nodes.lower_bound(root); it != nodes.end() && it->first.compare(0, root.size(), root) == 0; ++it) {
      std::string rest = it->first.substr(root.size());
      releases.insert(rest.substr(0, rest.find('/')));
    }
    std::string prefix = root + release + "/kernel/";
    for (auto it = nodes.lower_bound(prefix); it != nodes.end() && it->first.compare(0, prefix.size(), prefix) == 0;
         ++it) {
      const Node *node = &it->second;
      if (node->type == NodeType::hardlink) node = kernel_tree.find(node->link_target);
      if (node == nullptr || node->type != NodeType::regular) continue;
      std::string name = module_file_name(base_name(it->first));
      if (name.empty()) continue;
      m_files.emplace(normalize_module_name(name), File{name, it->first, node->content_path});
    }
  }
  if (m_files.empty()) {
    std::string known = join(releases, ", ");
    throw InputError(source, "no kernel modules under lib/modules/" + release + "/kernel/ (releases in the package: " +
                                 (known.empty() ? std::string("none") : known) + ")");
  }
}

std::string KernelModules::describe(const File &file) const { return m_source + ": " + file.tree_path; }

const KernelModules::File &KernelModules::find(const std::string &name, const std::string &where) const {
  std::string key = normalize_module_name(name);
  auto [first, last] = m_files.equal_range(key);
  if (first == last) {
    std::vector<std::pair<size_t, std::string>> close;
    for (const auto &[other, file] : m_files) {
      size_t d = edit_distance(key, other);
      bool related = key.size() >= 3 && (other.find(key) != std::string::npos || key.find(other) != std::string::npos);
      if (d <= 2 || related) close.emplace_back(d, file.name);
    }
    std::sort(close.begin(), close.end());
    std::string hint;
    for (size_t i = 0; i < close.size() && i < k_max_suggestions; ++i) hint += (i == 0 ? "" : ", ") + close[i].second;
    throw InputError(where,
                     "kernel module '" + name + "' is not in " + m_source + " (release " + m_release + ")" +
                         (hint.empty() ? std::string(": check the name with `modinfo`") : "; close names: " + hint));
  }
  if (std::next(first) != last)
    throw InputError(where, "kernel module '" + name + "' is ambiguous in " + m_source + ": " +
                                first->second.tree_path + " and " + std::next(first)->second.tree_path);
  return first->second;
}

std::vector<KernelModule> KernelModules::resolve(const std::vector<std::string> &names,
                                                 const std::string &where) const {
  std::vector<KernelModule> order;
  std::set<std::string> listed;   // normalized names already in `order`
  std::vector<std::string> stack; // normalized names being visited (for cycles)

  // Depth-first, dependencies first. `requested_by` is "" for a requested name.
  auto visit = [&](auto &self, const std::string &name, const File *requested_by) -> void {
    std::string key = normalize_module_name(name);
    if (listed.count(key) != 0) return;
    if (std::find(stack.begin(), stack.end(), key) != stack.end()) {
      std::string cycle;
      for (const std::string &s : stack) cycle += s + " -> ";
      throw FormatError(describe(*requested_by), 0, "module dependencies form a cycle: " + cycle + key);
    }
    if (stack.size() >= k_max_dependency_depth)
      throw FormatError(describe(*requested_by), 0,
                        "module dependencies are nested deeper than " + std::to_string(k_max_dependency_depth) +
                            " levels");
    const File *file = nullptr;
    if (requested_by == nullptr) {
      file = &find(name, where);
    } else {
      auto [first, last] = m_files.equal_range(key);
      if (first == last)
        throw FormatError(describe(*requested_by), 0,
                          "depends on module '" + name + "', which " + m_source + " does not ship");
      if (std::next(first) != last)
        throw FormatError(describe(*requested_by), 0,
                          "depends on module '" + name + "', which is ambiguous: " + first->second.tree_path + " and " +
                              std::next(first)->second.tree_path);
      file = &first->second;
    }
    std::string source = describe(*file);
    std::string bytes = ModuleReader(file->host_path, file->tree_path, source).read_all();
    ModInfo info = parse_modinfo(elf_section(bytes, ".modinfo", source), source);
    if (info.has_name && normalize_module_name(info.name) != key)
      throw FormatError(source, 0, ".modinfo name=" + info.name + " does not match the file name '" + file->name + "'");
    stack.push_back(key);
    for (const std::string &dep : info.depends) self(self, dep, file);
    stack.pop_back();
    listed.insert(key);
    order.push_back(KernelModule{file->name, file->tree_path, info.depends});
  };
  for (const std::string &name : names) visit(visit, name, nullptr);
  return order;
}

StagedContent KernelModules::uncompressed(const KernelModule &m, ContentStaging &staging) const {
  const File &file = find(m.name, m_source);
  if (file.tree_path != m.tree_path)
    throw InputError(m_source, "kernel module '" + m.name + "' is at " + file.tree_path + ", not " + m.tree_path);
  ModuleReader reader(file.host_path, file.tree_path, describe(file));
  return staging.put_stream([&](uint8_t *buffer, size_t capacity) { return reader.read(buffer, capacity); });
}

} // namespace mrforge::builder

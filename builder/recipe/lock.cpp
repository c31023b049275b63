#include <builder/debian/snapshot.hpp>
#include <builder/recipe/lock.hpp>
#include <builder/system/store.hpp>

#include <measure/documents/json_text.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/mapped_file.hpp>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

namespace mrforge::builder {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int k_lock_version = 1;

bool is_set_name(const std::string &s) { return s == k_set_firmware || s == k_set_initramfs || s == k_set_rootfs; }

json debian_json(const DebianSourceSpec &d) {
  json j = {{"suite", d.suite}, {"architecture", d.architecture}};
  if (d.sources.empty()) throw InputError("lock", "the debian section has no source");
  if (!d.listed) {
    // The one-source form, as lock version 1 always wrote it.
    const DebianSource &s = d.sources.front();
    j["components"] = s.components;
    if (!s.mirror.empty()) j["mirror"] = s.mirror;
    return j;
  }
  json sources = json::array();
  for (const DebianSource &s : d.sources) {
    json e = {{"suite", s.suite}, {"components", s.components}, {"priority", s.priority}};
    if (!s.mirror.empty()) e["mirror"] = s.mirror;
    if (!s.snapshot_archive.empty()) e["snapshot_archive"] = s.snapshot_archive;
    sources.push_back(std::move(e));
  }
  j["sources"] = std::move(sources);
  return j;
}

// Locates a byte offset of the text as line:column for messages.
std::pair<int, int> line_column(const std::string &text, size_t offset) {
  int line = 1, column = 1;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return {line, column};
}

class LockReader {
public:
  LockReader(const std::string &file) : m_file(file) {}
  [[noreturn]] void fail(const std::string &where, const std::string &message) const {
    throw DocumentError(m_file, 0, 0, where + ": " + message + " (regenerate the lock with `mrforge lock`)");
  }
  const json &field(const json &obj, const std::string &key, const std::string &where) const {
    if (!obj.is_object()) fail(where, "expected an object");
    auto it = obj.find(key);
    if (it == obj.end()) fail(where, "missing field '" + key + "'");
    return *it;
  }
  std::string str(const json &obj, const std::string &key, const std::string &where) const {
    const json &v = field(obj, key, where);
    if (!v.is_string()) fail(where + "." + key, "expected a string");
    return v.get<std::string>();
  }
  uint64_t u64(const json &obj, const std::string &key, const std::string &where) const {
    const json &v = field(obj, key, where);
    if (!v.is_number_unsigned()) fail(where + "." + key, "expected an unsigned integer");
    return v.get<uint64_t>();
  }
  std::string digest(const json &obj, const std::string &key, const std::string &where) const {
    std::string s = str(obj, key, where);
    if (s.size() != 64 || s.find_first_not_of("0123456789abcdef") != std::string::npos)
      fail(where + "." + key, "expected a lowercase sha256 digest");
    return s;
  }
  std::vector<std::string> strings(const json &obj, const std::string &key, const std::string &where) const {
    const json &v = field(obj, key, where);
    if (!v.is_array()) fail(where + "." + key, "expected a list of strings");
    std::vector<std::string> out;
    for (const json &e : v) {
      if (!e.is_string()) fail(where + "." + key, "expected a list of strings");
      out.push_back(e.get<std::string>());
    }
    return out;
  }
  const json &array(const json &obj, const std::string &key, const std::string &where) const {
    const json &v = field(obj, key, where);
    if (!v.is_array()) fail(where + "." + key, "expected a list");
    return v;
  }

private:
  std::string m_file;
};

void add_directory_files(const fs::path &base, const std::string &rel, std::vector<LockedFile> &out) {
  std::vector<std::string> names;
  for (const auto &entry : fs::directory_iterator(base / rel)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  for (const auto &name : names) {
    std::string child = rel + "/" + name;
    auto st = fs::symlink_status(base / child);
    if (fs::is_directory(st))
      add_directory_files(base, child, out);
    else if (fs::is_regular_file(st)) {
      FileDigest d = digest_file((base / child).string(), limits::k_recipe_file);
      out.push_back({child, d.sha256_hex, d.size});
    }
  }
}

} // namespace

std::string lock_to_json(const Lock &lock) {
  json recipe = {{"name", lock.recipe_name}, {"packages", lock.requested}};
  if (lock.has_debian) recipe["debian"] = debian_json(lock.debian);
  if (!lock.requested_sets.empty()) recipe["sets"] = lock.requested_sets;
  if (lock.firmware) {
    const LockedFirmware &f = *lock.firmware;
    recipe["firmware"] = f.package.empty() ? json{{"file", f.file}, {"sha256", f.sha256}}
                                           : json{{"package", f.package}, {"path", f.path}};
  }
  json sources = json::array();
  for (const auto &s : lock.sources) {
    json indexes = json::array();
    for (const auto &i : s.indexes) indexes.push_back({{"path", i.path}, {"sha256", i.sha256}, {"size", i.size}});
    json entry = {{"suite", s.suite},
                  {"components", s.components},
                  {"architecture", s.architecture},
                  {"inrelease_sha256", s.inrelease_sha256},
                  {"indexes", indexes}};
    if (s.inrelease_size != 0) entry["inrelease_size"] = s.inrelease_size;
    if (!s.date.empty()) entry["date"] = s.date;
    if (!s.archive.empty()) entry["archive"] = s.archive;
    sources.push_back(std::move(entry));
  }
  json packages = json::array();
  for (const auto &p : lock.packages) {
    json entry = {{"name", p.name},     {"version", p.version}, {"architecture", p.architecture},
                  {"size", p.size},     {"sha256", p.sha256},   {"filename", p.filename},
                  {"source", p.source}, {"reason", p.reason}};
    if (!p.sets.empty()) entry["sets"] = p.sets;
    packages.push_back(entry);
  }
  json files = json::array();
  for (const auto &f : lock.files) files.push_back({{"path", f.path}, {"sha256", f.sha256}, {"size", f.size}});
  json doc = {{"lockVersion", k_lock_version},
              {"recipe", recipe},
              {"sources", sources},
              {"packages", packages},
              {"files", files}};
  if (lock.kernel) {
    const LockedKernel &k = *lock.kernel;
    doc["kernel"] = {{"pin", k.pin},
                     {"name", k.name},
                     {"package", k.package},
                     {"version", k.version},
                     {"architecture", k.architecture},
                     {"filename", k.filename},
                     {"size", k.size},
                     {"sha256", k.sha256},
                     {"mirror", k.mirror},
                     {"release", k.release}};
  }
  return doc.dump(2) + "\n";
}

Lock parse_lock(const std::string &text, const std::string &file) {
  json doc;
  try {
    doc = parse_json_text(text, file);
  } catch (const FormatError &e) {
    auto [line, column] = line_column(text, e.offset());
    throw DocumentError(file, line, column, e.detail());
  }
  LockReader r(file);
  if (!doc.is_object()) r.fail("lock", "expected a JSON object");
  const json &version = r.field(doc, "lockVersion", "lock");
  if (!version.is_number_integer() || version.get<int64_t>() != k_lock_version)
    r.fail("lockVersion", "this mrforge reads lock version " + std::to_string(k_lock_version));
  Lock lock;
  const json &recipe = r.field(doc, "recipe", "lock");
  lock.recipe_name = r.str(recipe, "name", "recipe");
  lock.requested = r.strings(recipe, "packages", "recipe");
  if (recipe.contains("debian")) {
    const json &d = recipe["debian"];
    lock.has_debian = true;
    lock.debian.suite = r.str(d, "suite", "recipe.debian");
    lock.debian.architecture = r.str(d, "architecture", "recipe.debian");
    if (!d.contains("sources")) {
      DebianSource source;
      source.suite = lock.debian.suite;
      source.components = r.strings(d, "components", "recipe.debian");
      if (d.contains("mirror")) source.mirror = r.str(d, "mirror", "recipe.debian");
      lock.debian.sources.push_back(std::move(source));
    } else {
      lock.debian.listed = true;
      size_t n = 0;
      for (const json &e : r.array(d, "sources", "recipe.debian")) {
        std::string where = "recipe.debian.sources[" + std::to_string(n++) + "]";
        DebianSource source;
        source.suite = r.str(e, "suite", where);
        source.components = r.strings(e, "components", where);
        uint64_t priority = r.u64(e, "priority", where);
        if (priority < 1 || priority > DebianSource::k_max_priority) r.fail(where + ".priority", "out of range");
        source.priority = static_cast<int>(priority);
        if (e.contains("mirror")) source.mirror = r.str(e, "mirror", where);
        if (e.contains("snapshot_archive")) source.snapshot_archive = r.str(e, "snapshot_archive", where);
        lock.debian.sources.push_back(std::move(source));
      }
    }
  }
  if (recipe.contains("sets")) {
    const json &sets = recipe["sets"];
    if (!sets.is_object()) r.fail("recipe.sets", "expected an object");
    for (const auto &[name, names] : sets.items()) {
      if (!is_set_name(name)) r.fail("recipe.sets." + name, "unknown package set (firmware, initramfs, rootfs)");
      lock.requested_sets[name] = r.strings(sets, name, "recipe.sets");
    }
    for (const char *name : {k_set_firmware, k_set_initramfs, k_set_rootfs})
      if (lock.requested_sets.count(name) == 0) r.fail("recipe.sets", std::string("missing set '") + name + "'");
    if (lock.requested_sets[k_set_rootfs] != lock.requested)
      r.fail("recipe.sets.rootfs", "differs from recipe.packages");
  }
  if (recipe.contains("firmware")) {
    const json &f = recipe["firmware"];
    LockedFirmware fw;
    if (f.is_object() && f.contains("package")) {
      fw.package = r.str(f, "package", "recipe.firmware");
      fw.path = r.str(f, "path", "recipe.firmware");
    } else {
      fw.file = r.str(f, "file", "recipe.firmware");
      fw.sha256 = r.digest(f, "sha256", "recipe.firmware");
    }
    lock.firmware = fw;
  }
  size_t i = 0;
  for (const json &s : r.array(doc, "sources", "lock")) {
    std::string where = "sources[" + std::to_string(i++) + "]";
    LockedSource src;
    src.suite = r.str(s, "suite", where);
    src.components = r.strings(s, "components", where);
    src.architecture = r.str(s, "architecture", where);
    src.inrelease_sha256 = r.digest(s, "inrelease_sha256", where);
    // Recorded since issue 19 (locks made before it lack them: no snapshot fallback then).
    if (s.contains("inrelease_size")) src.inrelease_size = r.u64(s, "inrelease_size", where);
    if (s.contains("date")) {
      src.date = r.str(s, "date", where);
      if (!debian::is_snapshot_time(src.date)) r.fail(where + ".date", "expected a time as YYYYMMDDTHHMMSSZ");
    }
    if (s.contains("archive")) {
      src.archive = r.str(s, "archive", where);
      if (src.archive.empty() || src.archive.find_first_of("/?#%. ") != std::string::npos)
        r.fail(where + ".archive", "expected an archive name such as debian");
    }
    size_t k = 0;
    for (const json &ix : r.array(s, "indexes", where)) {
      std::string w = where + ".indexes[" + std::to_string(k++) + "]";
      src.indexes.push_back({r.str(ix, "path", w), r.digest(ix, "sha256", w), r.u64(ix, "size", w)});
    }
    lock.sources.push_back(std::move(src));
  }
  i = 0;
  std::set<std::string> names;
  for (const json &p : r.array(doc, "packages", "lock")) {
    std::string where = "packages[" + std::to_string(i++) + "]";
    LockedPackage pkg;
    pkg.name = r.str(p, "name", where);
    pkg.version = r.str(p, "version", where);
    pkg.architecture = r.str(p, "architecture", where);
    pkg.size = r.u64(p, "size", where);
    pkg.sha256 = r.digest(p, "sha256", where);
    pkg.filename = r.str(p, "filename", where);
    pkg.source = r.str(p, "source", where);
    pkg.reason = r.str(p, "reason", where);
    if (p.contains("sets")) {
      pkg.sets = r.strings(p, "sets", where);
      for (const auto &set : pkg.sets)
        if (!is_set_name(set) || lock.requested_sets.count(set) == 0)
          r.fail(where + ".sets", "unknown package set '" + set + "' (the lock's recipe.sets name its sets)");
      if (!std::is_sorted(pkg.sets.begin(), pkg.sets.end()) ||
          std::adjacent_find(pkg.sets.begin(), pkg.sets.end()) != pkg.sets.end())
        r.fail(where + ".sets", "expected sorted set names, each once");
    }
    if (lock.requested_sets.empty() != pkg.sets.empty())
      r.fail(where, lock.requested_sets.empty() ? "has sets but the lock's recipe has none"
                                                : "names no set (every package of a GuestImage lock is in one)");
    if (pkg.filename.empty() || pkg.filename[0] == '/' || pkg.filename.find("..") != std::string::npos)
      r.fail(where + ".filename", "expected a pool path relative to the mirror");
    if (!names.insert(pkg.name).second) r.fail(where, "package '" + pkg.name + "' is locked twice");
    lock.packages.push_back(std::move(pkg));
  }
  i = 0;
  for (const json &f : r.array(doc, "files", "lock")) {
    std::string where = "files[" + std::to_string(i++) + "]";
    lock.files.push_back({r.str(f, "path", where), r.digest(f, "sha256", where), r.u64(f, "size", where)});
  }
  if (doc.contains("kernel")) {
    const json &k = doc["kernel"];
    LockedKernel kernel;
    kernel.pin = r.str(k, "pin", "kernel");
    kernel.name = r.str(k, "name", "kernel");
    kernel.package = r.str(k, "package", "kernel");
    kernel.version = r.str(k, "version", "kernel");
    kernel.architecture = r.str(k, "architecture", "kernel");
    kernel.filename = r.str(k, "filename", "kernel");
    kernel.size = r.u64(k, "size", "kernel");
    kernel.sha256 = r.digest(k, "sha256", "kernel");
    kernel.mirror = r.str(k, "mirror", "kernel");
    kernel.release = r.str(k, "release", "kernel");
    if (kernel.filename.empty() || kernel.filename[0] == '/' || kernel.filename.find("..") != std::string::npos)
      r.fail("kernel.filename", "expected a pool path relative to the mirror");
    lock.kernel = kernel;
  }
  return lock;
}

Lock read_lock(const std::string &path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw SystemError(path, "no lock file; run `mrforge lock RECIPE` to create it");
  Bytes bytes = read_file(path, limits::k_json_document);
  return parse_lock(std::string(bytes.begin(), bytes.end()), path);
}

std::vector<LockedFile> digest_recipe_files(const Recipe &recipe) {
  std::vector<LockedFile> out;
  fs::path base(recipe.dir);
  for (const FileSpec &f : recipe.files) {
    if (fs::is_directory(fs::symlink_status(f.source_path))) {
      add_directory_files(base, f.source, out);
    } else {
      FileDigest d = digest_file(f.source_path, limits::k_recipe_file);
      out.push_back({f.source, d.sha256_hex, d.size});
    }
  }
  if (recipe.guest && !recipe.guest->firmware.file.empty()) {
    const FirmwareSpec &fw = recipe.guest->firmware;
    FileDigest d = digest_file(fw.file_path, limits::k_firmware);
    if (d.sha256_hex != fw.sha256)
      throw InputError(fw.where.describe(), "firmware " + fw.file + " has sha256 " + d.sha256_hex +
                                                ", the recipe pins " + fw.sha256 +
                                                "; put the intended file there or, if this one is, its digest "
                                                "in firmware.sha256");
    out.push_back({fw.file, d.sha256_hex, d.size});
  }
  std::sort(out.begin(), out.end(), [](const LockedFile &a, const LockedFile &b) { return a.path < b.path; });
  out.erase(
      std::unique(out.begin(), out.end(), [](const LockedFile &a, const LockedFile &b) { return a.path == b.path; }),
      out.end());
  return out;
}

bool lock_has_sets(const Lock &lock) {
  return !lock.requested_sets.empty() || std::any_of(lock.packages.begin(), lock.packages.end(),
                                                     [](const LockedPackage &p) { return !p.sets.empty(); });
}

std::vector<const LockedPackage *> packages_in_set(const Lock &lock, const std::string &set) {
  bool all = !lock_has_sets(lock);
  std::vector<const LockedPackage *> out;
  for (const auto &p : lock.packages)
    if (all || std::find(p.sets.begin(), p.sets.end(), set) != p.sets.end()) out.push_back(&p);
  return out;
}

namespace {

std::vector<std::string> requested_names(const Recipe &recipe) {
  std::vector<std::string> names;
  for (const auto &p : recipe.packages) names.push_back(p.name);
  std::sort(names.begin(), names.end());
  return names;
}

// What each set of a GuestImage recipe requests, with where (for messages).
std::map<std::string, std::vector<const PackageRequest *>> set_requests(const Recipe &recipe) {
  std::map<std::string, std::vector<const PackageRequest *>> out;
  if (!recipe.guest) return out;
  out[k_set_firmware];
  for (const auto &p : recipe.guest->initramfs.packages) out[k_set_initramfs].push_back(&p);
  for (const auto &p : recipe.packages) out[k_set_rootfs].push_back(&p);
  return out;
}

std::string relative_to(const std::string &path, const std::string &dir) {
  return fs::path(path).lexically_normal().lexically_relative(fs::path(dir).lexically_normal()).generic_string();
}

LockedKernel kernel_of(const Recipe &recipe) {
  const KernelPin &k = recipe.guest->kernel;
  return LockedKernel{relative_to(recipe.guest->kernel_pin_path, recipe.dir),
                      k.name,
                      k.package,
                      k.version,
                      k.architecture,
                      k.filename,
                      k.size,
                      k.sha256,
                      k.mirror,
                      k.release};
}

// The firmware set: the packages of the boot chain, each with where the recipe names it. OVMF's
// package (unless the firmware is a local file), for boot: uki the stub's, for boot: shim-grub
// shim's and GRUB's. (Files are taken out of them; nothing is installed, so their dependencies are
// not part of the set: see lock_recipe.)
std::vector<std::pair<std::string, std::string>> boot_chain_packages(const Recipe &recipe) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!recipe.guest) return out;
  const GuestSpec &g = *recipe.guest;
  if (!g.firmware.package.empty()) out.emplace_back(g.firmware.package, g.firmware.where.describe());
  if (g.boot.path == BootPath::uki) out.emplace_back(g.boot.stub.package, g.boot.stub.where.describe());
  if (g.boot.path == BootPath::shim_grub)
    for (const PackageFile *f : {&g.boot.shim, &g.boot.grub}) out.emplace_back(f->package, f->where.describe());
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end(), [](const auto &a, const auto &b) { return a.first == b.first; }),
            out.end());
  return out;
}

LockedFirmware firmware_of(const Recipe &recipe) {
  const FirmwareSpec &f = recipe.guest->firmware;
  return LockedFirmware{f.package, f.path, f.file, f.sha256};
}

std::string describe_firmware(const LockedFirmware &f) {
  return f.package.empty() ? "file " + f.file + " sha256 " + f.sha256 : "package " + f.package + " path /" + f.path;
}

} // namespace

Lock lock_recipe_side(const Recipe &recipe) {
  Lock lock;
  lock.recipe_name = recipe.name;
  lock.requested = requested_names(recipe);
  lock.has_debian = recipe.has_debian;
  if (recipe.has_debian) {
    lock.debian = recipe.debian;
    for (DebianSource &source : lock.debian.sources) {
      source.keyring.clear(); // a host path: not part of what the lock pins (the InRelease digest is)
      source.where = {};
    }
  }
  if (recipe.guest) {
    for (const auto &[set, requests] : set_requests(recipe)) {
      std::vector<std::string> &names = lock.requested_sets[set];
      for (const PackageRequest *p : requests) names.push_back(p->name);
      std::sort(names.begin(), names.end());
    }
    for (const auto &[name, where] : boot_chain_packages(recipe)) lock.requested_sets[k_set_firmware].push_back(name);
    lock.firmware = firmware_of(recipe);
    lock.kernel = kernel_of(recipe);
  }
  lock.files = digest_recipe_files(recipe);
  return lock;
}

namespace {

void compare_sets(const Recipe &recipe, const Lock &lock, std::vector<std::string> &out) {
  std::map<std::string, std::vector<std::pair<std::string, std::string>>> want; // set -> (name, where)
  for (const auto &[set, requests] : set_requests(recipe))
    for (const PackageRequest *p : requests) want[set].emplace_back(p->name, p->where.describe());
  for (const auto &[name, where] : boot_chain_packages(recipe)) want[k_set_firmware].emplace_back(name, where);
  for (const char *set : {k_set_firmware, k_set_initramfs, k_set_rootfs}) {
    auto it = lock.requested_sets.find(set);
    std::set<std::string> have;
    if (it != lock.requested_sets.end()) have.insert(it->second.begin(), it->second.end());
    std::set<std::string> wanted;
    for (const auto &[name, where] : want[set]) {
      wanted.insert(name);
      if (!have.count(name))
        out.push_back("package " + name + ": requested for " + set + " in the recipe (" + where +
                      "), not in the lock's " + set + " set");
    }
    for (const auto &name : have)
      if (!wanted.count(name))
        out.push_back("package " + name + ": in the lock's " + set + " set, no longer requested there by the recipe");
  }
}

void compare_package_side(const Recipe &recipe, const Lock &lock, std::vector<std::string> &out) {
  bool lock_guest = !lock.requested_sets.empty();
  if (recipe.guest.has_value() != lock_guest) {
    out.push_back(std::string("kind: the recipe is ") + (recipe.guest ? "a GuestImage" : "an OciImage") +
                  ", the lock was made for " + (lock_guest ? "a GuestImage" : "an OciImage"));
    return;
  }
  if (recipe.guest) {
    compare_sets(recipe, lock, out);
  } else {
    std::vector<std::string> want = requested_names(recipe);
    std::set<std::string> have(lock.requested.begin(), lock.requested.end());
    for (const auto &p : recipe.packages)
      if (!have.count(p.name))
        out.push_back("package " + p.name + ": in the recipe (" + p.where.describe() + "), not in the lock");
    std::set<std::string> wanted(want.begin(), want.end());
    for (const auto &name : lock.requested)
      if (!wanted.count(name)) out.push_back("package " + name + ": in the lock, no longer in the recipe");
  }

  if (recipe.has_debian != lock.has_debian) {
    out.push_back(std::string("debian: ") +
                  (recipe.has_debian ? "in the recipe, not in the lock" : "in the lock, not in the recipe"));
  } else if (recipe.has_debian) {
    const DebianSourceSpec &a = recipe.debian, &b = lock.debian;
    if (a.suite != b.suite) out.push_back("debian.suite: the recipe says " + a.suite + ", the lock " + b.suite);
    if (a.architecture != b.architecture)
      out.push_back("debian.architecture: the recipe says " + a.architecture + ", the lock " + b.architecture);
    if (a.listed != b.listed || a.sources.size() != b.sources.size()) {
      out.push_back("debian.sources: the recipe lists " + std::to_string(a.sources.size()) + ", the lock " +
                    std::to_string(b.sources.size()));
      return;
    }
    for (size_t i = 0; i < a.sources.size(); ++i) {
      const DebianSource &x = a.sources[i], &y = b.sources[i];
      std::string name = a.listed ? "debian.sources[" + std::to_string(i) + "]." : "debian.";
      if (x.suite != y.suite) out.push_back(name + "suite: the recipe says " + x.suite + ", the lock " + y.suite);
      if (x.components != y.components) out.push_back(name + "components: the recipe and the lock differ");
      if (x.mirror != y.mirror)
        out.push_back(name + "mirror: the recipe says '" + x.mirror + "', the lock '" + y.mirror + "'");
      if (x.priority != y.priority)
        out.push_back(name + "priority: the recipe says " + std::to_string(x.priority) + ", the lock " +
                      std::to_string(y.priority));
      if (x.snapshot_archive != y.snapshot_archive)
        out.push_back(name + "snapshot_archive: the recipe says '" + x.snapshot_archive + "', the lock '" +
                      y.snapshot_archive + "'");
    }
  }
}

} // namespace

bool packages_differ(const Recipe &recipe, const Lock &lock) {
  std::vector<std::string> out;
  compare_package_side(recipe, lock, out);
  return !out.empty();
}

std::vector<std::string> lock_differences(const Recipe &recipe, const Lock &lock) {
  std::vector<std::string> out;
  if (recipe.name != lock.recipe_name)
    out.push_back("name: the recipe says " + recipe.name + ", the lock " + lock.recipe_name);
  compare_package_side(recipe, lock, out);
  if (recipe.guest) {
    LockedFirmware fw = firmware_of(recipe);
    if (!lock.firmware)
      out.push_back("firmware: in the recipe (" + recipe.guest->firmware.where.describe() + "), not in the lock");
    else if (describe_firmware(fw) != describe_firmware(*lock.firmware))
      out.push_back("firmware: the recipe says " + describe_firmware(fw) + ", the lock " +
                    describe_firmware(*lock.firmware));
    LockedKernel k = kernel_of(recipe);
    if (!lock.kernel) {
      out.push_back("kernel: the recipe names pin " + k.pin + ", the lock has no kernel");
    } else {
      const LockedKernel &l = *lock.kernel;
      auto field = [&](const char *name, const std::string &now, const std::string &locked) {
        if (now != locked)
          out.push_back(std::string("kernel.") + name + ": the pin " + k.pin + " says " + now + ", the lock " + locked);
      };
      if (k.pin != l.pin) out.push_back("kernel.pin: the recipe names " + k.pin + ", the lock " + l.pin);
      field("name", k.name, l.name);
      field("package", k.package, l.package);
      field("version", k.version, l.version);
      field("architecture", k.architecture, l.architecture);
      field("filename", k.filename, l.filename);
      field("size", std::to_string(k.size), std::to_string(l.size));
      field("sha256", k.sha256, l.sha256);
      field("mirror", k.mirror, l.mirror);
      field("release", k.release, l.release);
    }
  } else if (lock.kernel || lock.firmware) {
    out.push_back("kernel/firmware: in the lock, but the recipe is not a GuestImage");
  }
  std::map<std::string, const LockedFile *> locked;
  for (const auto &f : lock.files) locked[f.path] = &f;
  std::set<std::string> seen;
  for (const LockedFile &f : digest_recipe_files(recipe)) {
    seen.insert(f.path);
    auto it = locked.find(f.path);
    if (it == locked.end())
      out.push_back("file " + f.path + ": used by the recipe, not in the lock");
    else if (it->second->sha256 != f.sha256)
      out.push_back("file " + f.path + ": content changed (lock sha256 " + it->second->sha256 + ", now " + f.sha256 +
                    ")");
  }
  for (const auto &f : lock.files)
    if (!seen.count(f.path)) out.push_back("file " + f.path + ": in the lock, no longer used by the recipe");
  return out;
}

} // namespace mrforge::builder

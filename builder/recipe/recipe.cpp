#include <builder/boot/grub_config.hpp>
#include <builder/debian/relations.hpp>
#include <builder/fs/fs_tree.hpp>
#include <builder/recipe/recipe.hpp>

#include <measure/acpi/acpi_digests.hpp>
#include <measure/documents/profile_yaml.hpp>
#include <measure/documents/vm_shape_file.hpp>
#include <measure/documents/yaml_field.hpp>
#include <measure/engine/engine.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/size_text.hpp>
#include <measure/util/strings.hpp>
#include <measure/util/terminal_text.hpp>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <set>
#include <tuple>
#include <unistd.h>

namespace mrforge::builder {

namespace fs = std::filesystem;

std::string Location::describe() const { return file + ":" + std::to_string(line) + ":" + std::to_string(column); }

namespace {

Location location_of(const YamlField &f) { return Location{f.file(), f.line(), f.column()}; }

// Names: Debian package names, user and group names, layer names, image names.
bool is_simple_name(const std::string &s, const char *extra) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || std::string(extra).find(c) != std::string::npos;
  });
}

// User and group names as Debian's useradd (shadow is_valid_user_name) and adduser (NAME_REGEX)
// take them: a lower-case letter or '_' first, then lower-case letters, digits, '_' and '-', at
// most 32 characters (utmp's ut_user). A leading digit is refused too: an all-digit name would
// read as a uid or gid in `owner:` and `group:` fields.
std::string account_name(const YamlField &f, const char *what) {
  std::string s = f.str();
  bool ok = !s.empty() && s.size() <= 32 && ((s[0] >= 'a' && s[0] <= 'z') || s[0] == '_') &&
            std::all_of(s.begin(), s.end(), [](char c) {
              return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
            });
  if (!ok)
    f.fail("'" + echoed(s) + "' is not a " + what +
           " name: a lower-case letter or '_', then lower-case letters, digits, '_', '-' (at most 32)");
  return s;
}

// A uid or gid: Debian Policy 9.2.2 reserves 65535 and 4294967295 ((uid_t)-1, the error and
// "no change" value of chown); 0 belongs to root, which every image has already.
uint32_t account_id(const YamlField &f, const char *what) {
  uint32_t id = f.u32();
  if (id == 0) f.fail(std::string(what) + " 0 is root's; declare another account instead of a second root");
  if (id == 65535 || id == 4294967295u)
    f.fail(std::string(what) + " " + std::to_string(id) + " is reserved (Debian Policy 9.2.2: never assigned)");
  return id;
}

// home and shell of a user: absolute paths that can be /etc/passwd fields (no ':', no newline or
// other control character), without '..'.
std::string account_path(const YamlField &f, const std::string &s, const char *what) {
  if (s.empty() || s[0] != '/') f.fail("expected an absolute " + std::string(what) + ", got '" + echoed(s) + "'");
  if (!is_passwd_field(s))
    f.fail(std::string(what) + " '" + echoed(s) + "' cannot hold ':', a newline or another control character " +
           "(it is a field of /etc/passwd)");
  if (s != "/") {
    try {
      FsTree::normalize_path(s, f.path(), FsTree::Absolute::strip);
    } catch (const InputError &e) {
      f.fail(std::string(e.what()));
    }
  }
  return s;
}

enum class CompressionOf { layers, initramfs };

// `compression: {algorithm, level}` of the image's layers or of the initramfs. An initramfs
// compressed with zstd defaults to level 19; an uncompressed initramfs has no level (0).
void parse_compression_field(const YamlField &c, CompressionOf of, Compression &out) {
  c.expect_map({"algorithm", "level"});
  if (auto a = c.optional("algorithm")) {
    try {
      out.kind = parse_compression(a->str(), a->path());
    } catch (const InputError &e) {
      a->fail(e.what());
    }
  }
  bool initramfs = of == CompressionOf::initramfs;
  if (initramfs && out.kind == CompressionKind::zstd) out.level = 19;
  if (auto lv = c.optional("level")) {
    if (initramfs && out.kind == CompressionKind::none) lv->fail("an uncompressed initramfs has no level");
    uint32_t level = lv->u32();
    // Layers stored uncompressed keep accepting a gzip level, as they always did (it is unused).
    CompressionKind kind = out.kind == CompressionKind::none ? CompressionKind::gzip : out.kind;
    if (level > static_cast<uint32_t>(max_compression_level(kind)) ||
        !is_compression_level(kind, static_cast<int>(level)))
      lv->fail("expected a level from 1 to " + std::to_string(max_compression_level(kind)));
    out.level = static_cast<int>(level);
  }
  if (initramfs && out.kind == CompressionKind::none) out.level = 0;
}

std::string package_name(const YamlField &f) {
  std::string s = f.str();
  // Debian policy 5.6.1, with its two characters at least.
  if (s.size() < 2 || s.size() > 128 || !debian::is_package_name(s))
    f.fail("'" + echoed(s) + "' is not a Debian package name (lower case letters, digits, '+', '-', '.')");
  return s;
}

std::string layer_name(const YamlField &f, const std::vector<std::string> &layers) {
  std::string s = f.str();
  if (std::find(layers.begin(), layers.end(), s) == layers.end())
    f.fail("unknown layer '" + echoed(s) + "' (the recipe's layers: " + join(layers, ", ") + ")");
  return s;
}

std::string target_path(const YamlField &f) {
  std::string s = f.str();
  if (s.empty() || s[0] != '/') f.fail("expected an absolute path in the image, such as /usr/local/bin/hello");
  std::string norm;
  try {
    norm = FsTree::normalize_path(s, f.path(), FsTree::Absolute::strip);
  } catch (const InputError &e) {
    f.fail(std::string(e.what()));
  }
  std::string base = norm.substr(norm.rfind('/') == std::string::npos ? 0 : norm.rfind('/') + 1);
  if (base.rfind(".wh.", 0) == 0) f.fail("names starting with '.wh.' are OCI whiteouts and cannot be image files");
  return norm;
}

// A file source: relative to the recipe folder, never leaving it (also not through symlinks).
std::pair<std::string, std::string> source_path(const YamlField &f, const std::string &recipe_dir) {
  std::string s = f.str();
  if (s.empty() || s[0] == '/') f.fail("expected a path relative to the recipe's folder, got '" + echoed(s) + "'");
  std::string norm;
  try {
    norm = FsTree::normalize_path(s, f.path());
  } catch (const InputError &e) {
    f.fail(std::string(e.what()) + " (a recipe can only use files from its own folder)");
  }
  fs::path full = fs::path(recipe_dir) / norm;
  std::error_code ec;
  fs::path real = fs::canonical(full, ec);
  if (ec) f.fail("cannot use '" + echoed(s) + "': " + ec.message() + " (looked for " + full.string() + ")");
  fs::path real_dir = fs::canonical(recipe_dir);
  std::string r = real.string(), d = real_dir.string();
  if (!(r == d || (r.size() > d.size() && r.compare(0, d.size(), d) == 0 && r[d.size()] == '/')))
    f.fail("'" + echoed(s) + "' resolves to " + r + ", outside the recipe's folder " + d);
  return {norm, r};
}

struct Owners {
  std::map<std::string, uint32_t> group_ids;
  std::map<std::string, std::pair<uint32_t, uint32_t>> users; // name -> uid, primary gid
};

uint32_t numeric_or(const YamlField &f, const std::map<std::string, uint32_t> &names, const char *what) {
  std::string s = f.str();
  if (!s.empty() && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) return f.u32();
  auto it = names.find(s);
  if (it == names.end())
    f.fail(std::string("unknown ") + what + " '" + echoed(s) + "' (declare it under " + what + "s: or give a number)");
  return it->second;
}

// owner: NAME or UID; group: NAME or GID (default: the owner's primary group, or 0).
std::pair<uint32_t, uint32_t> owner_of(const YamlField &entry, const Owners &owners) {
  uint32_t uid = 0, gid = 0;
  if (auto o = entry.optional("owner")) {
    std::map<std::string, uint32_t> user_ids;
    for (const auto &[name, ids] : owners.users) user_ids[name] = ids.first;
    uid = numeric_or(*o, user_ids, "user");
    auto it = owners.users.find(o->str());
    if (it != owners.users.end()) gid = it->second.second;
  }
  if (auto g = entry.optional("group")) gid = numeric_or(*g, owners.group_ids, "group");
  return {uid, gid};
}

// components, mirror, keyring, of the one-source form or of an entry of `sources:`.
void parse_source_location(const YamlField &f, const Recipe &r, DebianSource &source) {
  if (auto c = f.optional("components")) {
    source.components.clear();
    for (const YamlField &e : c->list()) {
      // They become paths of the archive's URLs (dists/SUITE/COMPONENT/...).
      std::string s = e.str();
      if (!is_simple_name(s, "-_./") || s.find("..") != std::string::npos || s[0] == '/' || s.back() == '/')
        e.fail("'" + echoed(s) + "' is not an archive component such as main or non-free-firmware");
      source.components.push_back(s);
    }
    if (source.components.empty()) c->fail("expected at least one component, such as main");
  }
  if (auto m = f.optional("mirror")) {
    source.mirror = m->str();
    if (source.mirror.rfind("http://", 0) != 0 && source.mirror.rfind("https://", 0) != 0 &&
        source.mirror.rfind("file://", 0) != 0)
      m->fail("expected an http://, https:// or file:// URL");
    while (!source.mirror.empty() && source.mirror.back() == '/') source.mirror.pop_back();
  }
  if (auto k = f.optional("keyring")) {
    std::string s = k->str();
    if (s.empty()) k->fail("expected a keyring file");
    if (s[0] == '/') {
      source.keyring = s;
      if (!fs::exists(s)) k->fail("keyring " + s + " does not exist");
    } else {
      source.keyring = source_path(*k, r.dir).second;
    }
  }
}

std::string source_suite(const YamlField &f) {
  std::string suite = f.str();
  if (!is_simple_name(suite, "-_.")) f.fail("expected a suite or codename such as bookworm");
  return suite;
}

void parse_debian(const YamlField &f, Recipe &r) {
  r.has_debian = true;
  DebianSourceSpec &d = r.debian;
  d.suite = source_suite(f.required("suite"));
  if (auto a = f.optional("architecture")) d.architecture = a->str();
  if (!is_simple_name(d.architecture, "-"))
    f.required("architecture").fail("expected a Debian architecture such as amd64");
  auto list = f.optional("sources");
  if (!list) {
    f.expect_map({"suite", "components", "architecture", "mirror", "keyring"});
    DebianSource source;
    source.suite = d.suite;
    source.where = location_of(f);
    parse_source_location(f, r, source);
    d.sources.push_back(std::move(source));
    return;
  }
  // Several sources: `suite` names the release, each source one of its suites.
  f.expect_map({"suite", "architecture", "sources"});
  d.listed = true;
  for (const YamlField &e : list->list()) {
    e.expect_map({"suite", "components", "mirror", "keyring", "priority", "snapshot_archive"});
    DebianSource source;
    const YamlField suite = e.required("suite");
    source.suite = source_suite(suite);
    if (source.suite != d.suite && source.suite.rfind(d.suite + "-", 0) != 0)
      suite.fail("'" + source.suite + "' is not a suite of the release " + d.suite + " (expected " + d.suite + " or " +
                 d.suite + "-security, -updates, ...; debian.suite names the release)");
    for (const DebianSource &other : d.sources)
      if (other.suite == source.suite) suite.fail("suite " + source.suite + " is listed twice");
    source.where = location_of(e);
    parse_source_location(e, r, source);
    if (auto p = e.optional("priority")) {
      int64_t v = p->i64();
      if (v < 1 || v > DebianSource::k_max_priority)
        p->fail("expected an apt pin priority from 1 to " + std::to_string(DebianSource::k_max_priority));
      source.priority = static_cast<int>(v);
    }
    if (auto a = e.optional("snapshot_archive")) {
      source.snapshot_archive = a->str();
      if (!is_simple_name(source.snapshot_archive, "-_."))
        a->fail("expected an archive name of snapshot.debian.org such as debian or debian-security");
    }
    d.sources.push_back(std::move(source));
  }
  if (d.sources.empty()) list->fail("expected at least one source");
}

void parse_config(const YamlField &f, Recipe &r) {
  f.expect_map({"entrypoint", "cmd", "env", "workdir", "user", "labels", "exposed_ports"});
  ImageConfig &c = r.config;
  if (auto e = f.optional("entrypoint")) c.entrypoint = e->str_list();
  if (auto e = f.optional("cmd")) c.cmd = e->str_list();
  if (auto e = f.optional("env")) {
    for (const auto &[key, value] : e->entries()) {
      if (key.empty() || key.find('=') != std::string::npos)
        value.fail("environment variable names cannot be empty or contain '='");
      c.env.push_back(key + "=" + value.str());
    }
  }
  if (auto e = f.optional("workdir")) {
    c.working_dir = e->str();
    if (c.working_dir.empty() || c.working_dir[0] != '/') e->fail("expected an absolute path");
  }
  if (auto e = f.optional("user")) c.user = e->str();
  if (auto e = f.optional("labels"))
    for (const auto &[key, value] : e->entries()) c.labels[key] = value.str();
  if (auto e = f.optional("exposed_ports")) {
    for (const YamlField &p : e->list()) {
      std::string s = p.str();
      size_t slash = s.find('/');
      std::string port = s.substr(0, slash), proto = slash == std::string::npos ? "tcp" : s.substr(slash + 1);
      uint64_t number = port.size() <= 5 ? parse_unsigned(port).value_or(0) : 0;
      if (number == 0 || number > 65535 || (proto != "tcp" && proto != "udp" && proto != "sctp"))
        p.fail("expected PORT or PORT/tcp|udp|sctp, got '" + echoed(s) + "'");
      c.exposed_ports.push_back(port + "/" + proto);
    }
    std::sort(c.exposed_ports.begin(), c.exposed_ports.end());
  }
}

// --- GuestImage ---

constexpr const char *k_no_layer =
    "is not accepted in a GuestImage recipe (its root file system is one image, without layers)";

// Keys that the recipe's kind does not take, refused at the key with a reason (before the generic
// unknown-key check, whose message would not say why).
void reject_keys(const YamlField &map, std::initializer_list<const char *> keys, const std::string &why) {
  if (!map.node().IsMap()) return;
  for (const auto &kv : map.node()) {
    if (!kv.first.IsScalar()) continue;
    std::string key = kv.first.Scalar();
    for (const char *k : keys)
      if (key == k)
        YamlField(kv.first, map.file(), map.path().empty() ? key : map.path() + "." + key).fail("'" + key + "' " + why);
  }
}

// A digest in hex (either case in the recipe, lower case in the result).
std::string hex_digest(const YamlField &f, size_t digits, const std::string &what) {
  std::string s = f.str();
  std::string lower = s;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](char c) { return static_cast<char>(std::tolower(static_cast<unsigned char>(c))); });
  if (lower.size() != digits || lower.find_first_not_of("0123456789abcdef") != std::string::npos)
    f.fail("expected " + what + ": " + std::to_string(digits) + " hex digits, got '" + echoed(s) + "'");
  return lower;
}

// An absolute path in the image, kept absolute ("/bin/busybox").
std::string image_path(const YamlField &f) {
  std::string s = f.str();
  if (s.empty() || s[0] != '/') f.fail("expected an absolute path in the image, such as /bin/busybox");
  try {
    return "/" + FsTree::normalize_path(s, f.path(), FsTree::Absolute::strip);
  } catch (const InputError &e) {
    f.fail(std::string(e.what()));
  }
}

// Kernel module names as modprobe takes them ("dm-verity", "crc32c_generic"); the kernel's
// MODULE_NAME_LEN is 56 including the terminating NUL.
std::string module_name(const YamlField &f) {
  std::string s = f.str();
  bool ok = !s.empty() && s.size() <= 55 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
  if (!ok)
    f.fail("expected a kernel module name (letters, digits, '_', '-'), such as virtio_blk, got '" + echoed(s) + "'");
  return s;
}

// Outside the recipe's folder is allowed here (kernels/ and profiles live beside recipes/), but the
// path stays relative so that the recipe means the same in every checkout.
std::string relative_document(const YamlField &f, const std::string &recipe_dir, const std::string &what) {
  std::string s = f.str();
  if (s.empty() || s[0] == '/')
    f.fail("expected a path relative to the recipe's folder (" + what + "), got '" + echoed(s) + "'");
  fs::path full = (fs::path(recipe_dir) / s).lexically_normal();
  std::error_code ec;
  if (!fs::is_regular_file(full, ec)) f.fail("no " + what + " file " + full.string());
  if (::access(full.c_str(), R_OK) != 0)
    f.fail("cannot read " + what + " " + full.string() + ": " + std::strerror(errno));
  return full.string();
}

// A platform profile or OVMF variant: a shipped name, or a path (containing '/' or ending .yaml).
std::string profile_reference(const YamlField &f, const std::string &recipe_dir, const std::vector<std::string> &names,
                              const std::string &what) {
  std::string s = f.str();
  bool is_path = s.find('/') != std::string::npos || (s.size() > 5 && s.compare(s.size() - 5, 5, ".yaml") == 0);
  if (is_path) return relative_document(f, recipe_dir, what);
  if (std::find(names.begin(), names.end(), s) == names.end())
    f.fail("unknown " + what + " '" + echoed(s) + "' (known: " + join(names, ", ") +
           "; or give a path ending in .yaml)");
  return s;
}

void parse_firmware(const YamlField &f, const Recipe &r, FirmwareSpec &fw) {
  f.expect_map({"package", "path", "file", "sha256"});
  fw.where = location_of(f);
  bool from_package = f.optional("package") || f.optional("path");
  bool from_file = f.optional("file") || f.optional("sha256");
  if (from_package && from_file)
    f.fail("give either package and path (a file of a pinned Debian package) or file and sha256 (a local file "
           "pinned by digest), not both");
  if (from_package) {
    YamlField package = f.required("package");
    fw.package = package_name(package);
    fw.path = target_path(f.required("path"));
    if (!r.has_debian) package.fail("a firmware package needs a 'debian:' section saying where it comes from");
  } else if (from_file) {
    YamlField file = f.required("file");
    std::tie(fw.file, fw.file_path) = source_path(file, r.dir);
    if (!fs::is_regular_file(fw.file_path)) file.fail("expected a firmware file, " + fw.file_path + " is not one");
    fw.sha256 = hex_digest(f.required("sha256"), 64, "the file's sha256");
  } else {
    f.fail("expected package and path (such as ovmf and /usr/share/ovmf/OVMF.fd), or file and sha256");
  }
}

PackageFile package_file(const YamlField &f, const Recipe &r, const std::string &what) {
  f.expect_map({"package", "path"});
  PackageFile pf;
  pf.where = location_of(f);
  YamlField package = f.required("package");
  pf.package = package_name(package);
  pf.path = target_path(f.required("path"));
  if (!r.has_debian) package.fail(what + " needs a 'debian:' section saying where its package comes from");
  return pf;
}

void parse_boot(const YamlField &f, const Recipe &r, BootSpec &boot) {
  const std::string known = "(direct, uki, shim-grub)";
  boot.where = location_of(f);
  if (f.node().IsScalar()) {
    std::string p = f.str();
    if (p == "direct") return;
    if (p == "uki") f.fail("boot: uki needs its stub: {path: uki, stub: {package: PACKAGE, path: FILE}}");
    if (p == "shim-grub")
      f.fail("boot: shim-grub needs its shim and GRUB: {path: shim-grub, shim: {package: PACKAGE, path: FILE}, "
             "grub: {package: PACKAGE, path: FILE}}");
    f.fail("unknown boot path '" + echoed(p) + "' " + known);
  }
  f.expect_map({"path", "stub", "shim", "grub"});
  YamlField path = f.required("path");
  std::string p = path.str();
  if (p == "direct")
    boot.path = BootPath::direct;
  else if (p == "uki")
    boot.path = BootPath::uki;
  else if (p == "shim-grub")
    boot.path = BootPath::shim_grub;
  else
    path.fail("unknown boot path '" + echoed(p) + "' " + known);
  if (boot.path != BootPath::uki)
    if (auto stub = f.optional("stub")) stub->fail("only boot: uki takes a stub");
  if (boot.path != BootPath::shim_grub)
    for (const char *key : {"shim", "grub"})
      if (auto field = f.optional(key)) field->fail(std::string("only boot: shim-grub takes a ") + key);
  if (boot.path == BootPath::uki) boot.stub = package_file(f.required("stub"), r, "the UKI stub");
  if (boot.path == BootPath::shim_grub) {
    boot.shim = package_file(f.required("shim"), r, "shim");
    boot.grub = package_file(f.required("grub"), r, "GRUB");
  }
}

void parse_initramfs(const YamlField &f, const Recipe &r, InitramfsSpec &in) {
  f.expect_map({"packages", "programs", "modules", "optional_modules", "compression"});
  in.where = location_of(f);
  if (auto p = f.optional("packages")) {
    std::set<std::string> seen;
    for (const YamlField &e : p->list()) {
      PackageRequest req;
      req.where = location_of(e);
      req.name = package_name(e);
      if (!seen.insert(req.name).second) e.fail("package '" + req.name + "' is listed twice");
      in.packages.push_back(req);
    }
    if (!in.packages.empty() && !r.has_debian)
      p->fail("initramfs packages need a 'debian:' section saying where they come from (suite at least)");
  }
  if (auto p = f.optional("programs")) {
    std::set<std::string> seen;
    for (const YamlField &e : p->list()) {
      std::string s = image_path(e);
      if (!seen.insert(s).second) e.fail("program " + s + " is listed twice");
      in.programs.push_back(s);
    }
  }
  std::set<std::string> modules;
  YamlField m = f.required("modules");
  for (const YamlField &e : m.list()) {
    std::string s = module_name(e);
    if (!modules.insert(s).second) e.fail("module '" + s + "' is listed twice");
    in.modules.push_back(s);
  }
  if (in.modules.empty()) m.fail("expected at least one module (the boot needs virtio_blk, dm-verity, ...)");
  if (auto o = f.optional("optional_modules")) {
    for (const YamlField &e : o->list()) {
      std::string s = module_name(e);
      if (!modules.insert(s).second) e.fail("module '" + s + "' is listed twice (in modules or optional_modules)");
      in.optional_modules.push_back(s);
    }
  }
  if (auto c = f.optional("compression")) parse_compression_field(*c, CompressionOf::initramfs, in.compression);
}

void parse_acpi(const YamlField &f, const Recipe &r, AcpiSpec &a) {
  if (f.node().IsScalar()) {
    if (f.str() != "generate")
      f.fail("expected generate, tables: DIR (QEMU's ACPI blobs) or digests: {acpi-loader, acpi-rsdp, acpi-tables}");
    a.generate = true;
    return;
  }
  f.expect_map({"tables", "digests", "origin"});
  auto tables = f.optional("tables");
  auto digests = f.optional("digests");
  if (tables && digests) f.fail("give either tables (a directory of QEMU's ACPI blobs) or digests, not both");
  if (tables) {
    if (auto o = f.optional("origin")) o->fail("origin goes with digests (a tables directory is its own origin)");
    a.tables_dir = source_path(*tables, r.dir).second;
    if (!fs::is_directory(a.tables_dir))
      tables->fail("expected a directory of ACPI blobs, " + a.tables_dir + " is not one");
    try {
      locate_acpi_blobs(a.tables_dir);
    } catch (const InputError &e) {
      tables->fail(e.what());
    }
  } else if (digests) {
    digests->expect_map({"acpi-loader", "acpi-rsdp", "acpi-tables"});
    for (const char *key : {"acpi-loader", "acpi-rsdp", "acpi-tables"})
      a.digests[key] = hex_digest(digests->required(key), 96, "a SHA-384 digest");
    if (auto o = f.optional("origin")) a.origin = o->str();
  } else {
    f.fail("expected generate, tables: DIR (QEMU's ACPI blobs) or digests: {acpi-loader, acpi-rsdp, acpi-tables}");
  }
}

void parse_measure(const YamlField &f, const Recipe &r, std::vector<MeasureShape> &out) {
  std::vector<std::string> profiles = profile_names(ProfileKind::platform);
  std::vector<std::string> variants = profile_names(ProfileKind::ovmf);
  for (const YamlField &e : f.list()) {
    e.expect_map({"profile", "ovmf_variant", "shape", "cpus", "memory", "acpi"});
    MeasureShape m;
    m.where = location_of(e);
    m.profile = profile_reference(e.required("profile"), r.dir, profiles, "platform profile");
    if (auto v = e.optional("ovmf_variant")) m.ovmf_variant = profile_reference(*v, r.dir, variants, "OVMF variant");
    if (auto shape = e.optional("shape")) {
      m.shape_file = relative_document(*shape, r.dir, "VM shape");
      try {
        load_vm_shape(m.shape_file);
      } catch (const Error &err) {
        shape->fail(err.what());
      }
    }
    if (auto cpus = e.optional("cpus")) {
      m.cpus = cpus->u32();
      if (*m.cpus < 1 || *m.cpus > 4096) cpus->fail("expected 1 to 4096 virtual CPUs");
    } else if (m.shape_file.empty()) {
      e.required("cpus");
    }
    if (auto memory = e.optional("memory")) {
      try {
        m.memory = parse_memory_size(memory->str(), memory->path());
      } catch (const InputError &err) {
        memory->fail(err.what());
      }
    } else if (m.shape_file.empty()) {
      e.required("memory");
    }
    if (auto acpi = e.optional("acpi"))
      parse_acpi(*acpi, r, m.acpi);
    else
      m.acpi.generate = true; // the platform's ACPI generator; an error at build time if it has none
    out.push_back(std::move(m));
  }
  if (out.empty()) f.fail("expected at least one VM shape to measure (profile, cpus, memory, acpi)");
}

void parse_guest(const YamlField &root, Recipe &r) {
  GuestSpec g;
  if (auto v = root.optional("version")) {
    g.version = v->str();
    if (g.version.empty() || g.version.size() > 128 || !std::all_of(g.version.begin(), g.version.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || std::string("._+~:-").find(c) != std::string::npos;
        }))
      v->fail("expected a version of letters, digits, '.', '_', '+', '~', ':', '-'");
  }
  g.seed = r.name + "/" + g.version;
  if (auto s = root.optional("seed")) {
    g.seed = s->str();
    if (g.seed.empty() || g.seed.size() > 256 ||
        std::any_of(g.seed.begin(), g.seed.end(), [](char c) { return static_cast<unsigned char>(c) < 0x20; }))
      s->fail("expected a non-empty seed of printable characters (up to 256)");
  }
  parse_firmware(root.required("firmware"), r, g.firmware);

  YamlField kernel = root.required("kernel");
  g.kernel_pin_path = relative_document(kernel, r.dir, "kernel pin, like ../kernels/debian-bookworm-6.12-amd64.yaml");
  g.kernel = load_kernel_pin(g.kernel_pin_path);
  if (r.has_debian && g.kernel.architecture != r.debian.architecture)
    kernel.fail("the kernel pin is for " + g.kernel.architecture + ", the recipe's debian.architecture is " +
                r.debian.architecture);

  parse_initramfs(root.required("initramfs"), r, g.initramfs);
  if (auto rf = root.optional("rootfs")) {
    rf->expect_map({"format"});
    if (auto fmt = rf->optional("format")) {
      g.rootfs_format = fmt->str();
      if (g.rootfs_format != "erofs" && g.rootfs_format != "squashfs")
        fmt->fail("expected erofs or squashfs, got '" + echoed(g.rootfs_format) + "'");
    }
  }
  if (auto c = root.optional("cmdline")) {
    g.cmdline = c->str();
    if (std::any_of(g.cmdline.begin(), g.cmdline.end(),
                    [](char ch) { return static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f; }))
      c->fail("the kernel command line cannot contain newlines, NUL or other control characters");
    size_t pos = 0;
    while (pos < g.cmdline.size()) {
      size_t start = g.cmdline.find_first_not_of(' ', pos);
      if (start == std::string::npos) break;
      size_t end = g.cmdline.find(' ', start);
      std::string word = g.cmdline.substr(start, end == std::string::npos ? std::string::npos : end - start);
      if (word.rfind("mrforge.", 0) == 0 || word.rfind("\"mrforge.", 0) == 0)
        c->fail("'" + echoed(word) +
                "': mrforge.* parameters are added by the build (root hash, salt, sizes); remove it");
      pos = end == std::string::npos ? g.cmdline.size() : end;
    }
  }
  if (auto b = root.optional("boot")) parse_boot(*b, r, g.boot);
  // GRUB measures its commands as it reads them back: the recipe's part of the command line must
  // be text GRUB keeps as it is (the build's mrforge.* parameters are).
  if (auto c = root.optional("cmdline"); c && g.boot.path == BootPath::shim_grub && !g.cmdline.empty()) {
    std::string problem = grub_cmdline_problem(g.cmdline);
    if (!problem.empty()) c->fail("boot: shim-grub puts the command line into grub.cfg: " + problem);
  }
  parse_measure(root.required("measure"), r, g.measure);
  r.guest = std::move(g);
}

} // namespace

const char *boot_path_name(BootPath p) {
  switch (p) {
  case BootPath::direct: return "direct";
  case BootPath::uki: return "uki";
  case BootPath::shim_grub: return "shim-grub";
  }
  return "?";
}

Recipe load_recipe(const std::string &path) {
  Bytes bytes = read_file(path, limits::k_yaml_document);
  std::string text(bytes.begin(), bytes.end());
  auto [root, kind] = load_yaml_document_any(text, path, {"OciImage", "GuestImage"});
  bool guest = kind == "GuestImage";
  if (guest)
    reject_keys(root, {"tag", "layers", "config", "compression"},
                "is for OciImage recipes; a GuestImage has one root file system and no container config");
  else
    reject_keys(root, {"version", "seed", "firmware", "kernel", "initramfs", "rootfs", "cmdline", "boot", "measure"},
                "is for GuestImage recipes (kind: GuestImage)");
  root.expect_map({"apiVersion", "kind",     "name",    "tag",         "source_date_epoch",
                   "debian",     "packages", "files",   "directories", "symlinks",
                   "users",      "groups",   "config",  "layers",      "compression",
                   "allow",      "version",  "seed",    "firmware",    "kernel",
                   "initramfs",  "rootfs",   "cmdline", "boot",        "measure"});
  Recipe r;
  r.path = path;
  r.sha256 = to_hex(sha256(ByteView(bytes.data(), bytes.size())));
  r.dir = fs::absolute(fs::path(path)).parent_path().lexically_normal().string();
  r.kind = kind;
  YamlField name = root.required("name");
  r.name = name.str();
  if (!is_simple_name(r.name, "-_./"))
    name.fail("expected an image name of lower case letters, digits, '-', '_', '.', '/'");
  if (auto t = root.optional("tag")) {
    r.tag = t->str();
    if (r.tag.empty() || r.tag.size() > 128 || !std::all_of(r.tag.begin(), r.tag.end(), [](char c) {
          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
        }))
      t->fail("expected a tag of letters, digits, '_', '.', '-'");
  }
  if (auto s = root.optional("source_date_epoch")) {
    int64_t t = s->i64();
    if (t < 0 || t > 253402300799) s->fail("expected seconds since 1970 between 0 and 253402300799");
    r.source_date_epoch = t;
  }
  if (auto l = root.optional("layers")) {
    r.layers.clear();
    std::set<std::string> seen;
    for (const YamlField &f : l->list()) {
      std::string s = f.str();
      if (!is_simple_name(s, "-_")) f.fail("expected a layer name of lower case letters, digits, '-', '_'");
      if (!seen.insert(s).second) f.fail("layer '" + s + "' is listed twice");
      r.layers.push_back(s);
    }
    if (r.layers.empty()) l->fail("expected at least one layer");
  }
  if (auto c = root.optional("compression")) parse_compression_field(*c, CompressionOf::layers, r.compression);
  if (auto a = root.optional("allow")) {
    for (const YamlField &f : a->list()) {
      std::string s = f.str();
      if (s == "setuid")
        r.allow.setuid = true;
      else if (s == "device_nodes")
        r.allow.device_nodes = true;
      else
        f.fail("expected setuid or device_nodes, got '" + echoed(s) + "'");
    }
  }

  Owners owners;
  owners.group_ids["root"] = 0;
  owners.users["root"] = {0, 0};
  if (auto g = root.optional("groups")) {
    for (const YamlField &f : g->list()) {
      f.expect_map({"name", "gid"});
      GroupSpec group{account_name(f.required("name"), "group"), account_id(f.required("gid"), "gid")};
      for (const auto &[other, gid] : owners.group_ids)
        if (gid == group.gid)
          f.required("gid").fail("gid " + std::to_string(gid) + " is group " + other + "'s already");
      if (!owners.group_ids.emplace(group.name, group.gid).second)
        f.required("name").fail("group '" + group.name + "' is declared twice (root exists already)");
      r.groups.push_back(group);
    }
  }
  if (auto u = root.optional("users")) {
    for (const YamlField &f : u->list()) {
      f.expect_map({"name", "uid", "group", "home", "shell"});
      UserSpec user;
      user.name = account_name(f.required("name"), "user");
      user.uid = account_id(f.required("uid"), "uid");
      for (const auto &[other, ids] : owners.users)
        if (ids.first == user.uid)
          f.required("uid").fail("uid " + std::to_string(user.uid) + " is user " + other + "'s already");
      if (auto g = f.optional("group"))
        user.gid = numeric_or(*g, owners.group_ids, "group");
      else
        f.fail("missing required field 'group' (a declared group name or a gid)");
      user.home = "/home/" + user.name;
      if (auto h = f.optional("home")) user.home = account_path(*h, h->str(), "home directory");
      if (auto s = f.optional("shell")) user.shell = account_path(*s, s->str(), "shell");
      if (!owners.users.emplace(user.name, std::make_pair(user.uid, user.gid)).second)
        f.required("name").fail("user '" + user.name + "' is declared twice (root exists already)");
      r.users.push_back(user);
    }
  }

  if (auto d = root.optional("debian")) parse_debian(*d, r);
  if (auto p = root.optional("packages")) {
    std::set<std::string> seen;
    for (const YamlField &f : p->list()) {
      PackageRequest req;
      req.where = location_of(f);
      req.layer = r.layers.front();
      if (f.node().IsMap()) {
        if (guest) reject_keys(f, {"layer"}, k_no_layer);
        f.expect_map({"name", "layer"});
        req.name = package_name(f.required("name"));
        if (auto l = f.optional("layer")) req.layer = layer_name(*l, r.layers);
      } else {
        req.name = package_name(f);
      }
      if (!seen.insert(req.name).second) f.fail("package '" + req.name + "' is listed twice");
      r.packages.push_back(req);
    }
    if (!r.packages.empty() && !r.has_debian)
      p->fail("packages need a 'debian:' section saying where they come from (suite at least)");
  }
  // What a file and a directory entry share: where, target (each once), mode, owner and layer.
  std::set<std::string> targets;
  auto place = [&](const YamlField &f, auto &spec) {
    if (guest) reject_keys(f, {"layer"}, k_no_layer);
    spec.where = location_of(f);
    spec.target = target_path(f.required("target"));
    if (auto m = f.optional("mode")) spec.mode = m->mode();
    std::tie(spec.uid, spec.gid) = owner_of(f, owners);
    spec.layer = f.optional("layer") ? layer_name(f.required("layer"), r.layers) : r.layers.back();
    if (!targets.insert(spec.target).second) f.required("target").fail("target /" + spec.target + " is given twice");
  };
  if (auto fl = root.optional("files")) {
    for (const YamlField &f : fl->list()) {
      f.expect_map({"source", "target", "mode", "owner", "group", "layer"});
      FileSpec spec;
      place(f, spec);
      std::tie(spec.source, spec.source_path) = source_path(f.required("source"), r.dir);
      r.files.push_back(spec);
    }
  }
  if (auto dl = root.optional("directories")) {
    for (const YamlField &f : dl->list()) {
      f.expect_map({"target", "mode", "owner", "group", "layer"});
      DirectorySpec spec;
      place(f, spec);
      r.directories.push_back(spec);
    }
  }
  if (auto sl = root.optional("symlinks")) {
    for (const YamlField &f : sl->list()) {
      if (guest) reject_keys(f, {"layer"}, k_no_layer);
      f.expect_map({"target", "points_to", "layer"});
      SymlinkSpec spec;
      spec.where = location_of(f);
      spec.target = target_path(f.required("target"));
      spec.layer = f.optional("layer") ? layer_name(f.required("layer"), r.layers) : r.layers.back();
      if (!targets.insert(spec.target).second) f.required("target").fail("target /" + spec.target + " is given twice");
      YamlField to = f.required("points_to");
      spec.points_to = to.str();
      bool control = std::any_of(spec.points_to.begin(), spec.points_to.end(), [](char c) {
        auto b = static_cast<unsigned char>(c);
        return b < 0x20 || b == 0x7f;
      });
      // PATH_MAX (4096, with its NUL) bounds what readlink(2) returns on Linux.
      if (spec.points_to.empty() || spec.points_to.size() > 4095 || control)
        to.fail("a symlink target must be 1-4095 bytes without control characters");
      r.symlinks.push_back(spec);
    }
  }
  if (auto c = root.optional("config")) {
    parse_config(*c, r);
    if (!r.config.user.empty()) {
      std::string u = r.config.user.substr(0, r.config.user.find(':'));
      bool numeric = std::all_of(u.begin(), u.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
      if (!numeric && owners.users.find(u) == owners.users.end())
        c->required("user").fail("unknown user '" + echoed(u) + "' (declare it under users: or give a uid)");
    }
  }
  if (guest) parse_guest(root, r);
  return r;
}

int64_t resolve_source_date_epoch(const Recipe &recipe, const char *env_value) {
  if (env_value != nullptr) {
    std::string s(env_value);
    bool digits =
        !s.empty() && s.size() <= 12 && std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!digits)
      throw InputError("SOURCE_DATE_EPOCH",
                       "'" + echoed(s) + "' is not a number of seconds since 1970 (unset it or fix it)");
    return std::stoll(s);
  }
  if (recipe.source_date_epoch) return *recipe.source_date_epoch;
  throw InputError(recipe.path, "no timestamp: set source_date_epoch in the recipe or SOURCE_DATE_EPOCH in the "
                                "environment (mrforge never uses the clock)");
}

std::string lock_path_for(const std::string &recipe_path) { return recipe_path + ".lock"; }

bool is_passwd_field(std::string_view s) {
  return std::none_of(s.begin(), s.end(), [](char c) {
    auto b = static_cast<unsigned char>(c);
    return c == ':' || b < 0x20 || b == 0x7f;
  });
}

} // namespace mrforge::builder

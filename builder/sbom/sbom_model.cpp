#include <builder/sbom/sbom_model.hpp>

#include <builder/debian/deb_unpack.hpp>
#include <builder/debian/relations.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/file_io.hpp>
#include <measure/util/input_limits.hpp>
#include <measure/util/version.hpp>

#include <algorithm>
#include <filesystem>
#include <map>
#include <set>

namespace mrforge::builder {

namespace fs = std::filesystem;

namespace {

// Debian's release numbers by codename (https://www.debian.org/releases/): the purl distro
// qualifier names a release as "debian-N".
struct DebianRelease {
  const char *codename;
  int number;
};
constexpr DebianRelease k_debian_releases[] = {{"buster", 10}, {"bullseye", 11}, {"bookworm", 12},
                                               {"trixie", 13}, {"forky", 14},    {"duke", 15}};

bool purl_keeps(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '-' ||
         c == '_' || c == '~' || c == ':';
}

std::string purl_encode(const std::string &s) { return escape_bytes(s, purl_keeps, '%'); }

// The lock's reason ("requested", "dependency of X", or "SET: reason; SET: reason") split into
// its parts without the set names.
std::vector<std::string> reason_parts(const std::string &reason) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (start <= reason.size()) {
    size_t end = reason.find("; ", start);
    if (end == std::string::npos) end = reason.size();
    std::string part = reason.substr(start, end - start);
    size_t colon = part.find(": ");
    if (colon != std::string::npos && part.rfind("dependency of ", 0) != 0) part = part.substr(colon + 2);
    parts.push_back(part);
    start = end + 2;
  }
  return parts;
}

std::string base_name(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// The control file of a stored .deb, read from the package (an xz stream to open per package:
// most of a no-op build's time otherwise) once, then from STORE/deb-control/SHA256, where it is
// kept as a fact of those content-addressed bytes, trusted as the step cache's entries are.
std::string stored_control_text(const Store &store, const std::string &sha256, uint64_t size, const std::string &what,
                                const std::string &deb_name) {
  const std::string deb = store.require(sha256, size, what);
  const std::string kept = store.root() + "/deb-control/" + sha256;
  std::error_code ec;
  if (fs::is_regular_file(kept, ec)) {
    try {
      return read_text_file(kept, limits::k_text_record);
    } catch (const std::exception &) {
      // unreadable: read the package again
    }
  }
  std::string control = read_deb_control(deb, deb_name).control;
  try {
    fs::create_directories(store.root() + "/deb-control");
    write_file_atomically(kept, control);
  } catch (const std::exception &) {
    // A read-only store still works: the package is read every time.
  }
  return control;
}

// A locked .deb from the store (its control file only) in the model's form.
SbomPackage sbom_package(const std::string &name, const std::string &version, const std::string &architecture,
                         const std::string &sha256, uint64_t size, const std::string &filename,
                         const std::string &distro, const Store &store) {
  const std::string what = "package " + name + " " + version;
  const std::string deb_name = name + "_" + version + "_" + architecture + ".deb";
  const std::string text = stored_control_text(store, sha256, size, what, deb_name);
  const debian::Paragraph control = parse_control_paragraph(text, deb_name + ": control");
  const std::string says_name = control.get("Package"), says_version = control.get("Version"),
                    says_architecture = control.get("Architecture");
  if (says_name != name || says_version != version || says_architecture != architecture)
    throw InputError(deb_name, "its control file says " + says_name + " " + says_version + " " + says_architecture +
                                   ", the lock " + name + " " + version + " " + architecture +
                                   " (run `mrforge fetch` again)");
  SbomPackage p;
  p.name = name;
  p.version = version;
  p.architecture = architecture;
  std::tie(p.source_name, p.source_version) = deb_source(text, name, version, deb_name + ": control");
  p.sha256 = sha256;
  p.size = size;
  p.file_name = base_name(filename);
  p.distro = distro;
  p.purl = deb_purl(name, version, architecture, distro);
  return p;
}

// The suite of a locked package's source ("bookworm/main" -> "bookworm").
std::string suite_of(const LockedPackage &p, const Lock &lock) {
  size_t slash = p.source.find('/');
  std::string suite = slash == std::string::npos ? p.source : p.source.substr(0, slash);
  return suite.empty() ? lock.debian.suite : suite;
}

} // namespace

std::string escape_bytes(const std::string &text, bool (*keep)(char), char marker) {
  static const char k_hex[] = "0123456789ABCDEF";
  std::string out;
  for (char c : text) {
    if (keep(c)) {
      out += c;
      continue;
    }
    const auto byte = static_cast<unsigned char>(c);
    out += marker;
    out += k_hex[byte >> 4];
    out += k_hex[byte & 0x0f];
  }
  return out;
}

std::string debian_distro(const std::string &suite) {
  std::string codename = suite.substr(0, suite.find('-'));
  for (const DebianRelease &r : k_debian_releases)
    if (codename == r.codename) return "debian-" + std::to_string(r.number);
  return "debian-" + codename;
}

std::string deb_purl(const std::string &name, const std::string &version, const std::string &architecture,
                     const std::string &distro) {
  return "pkg:deb/debian/" + purl_encode(name) + "@" + purl_encode(version) + "?arch=" + purl_encode(architecture) +
         "&distro=" + purl_encode(distro);
}

std::string oci_purl(const std::string &image_name, const std::string &digest, const std::string &tag) {
  return "pkg:oci/" + purl_encode(base_name(image_name)) + "@" + purl_encode(digest) + "?tag=" + purl_encode(tag);
}

std::pair<std::string, std::string> deb_source(const std::string &control_text, const std::string &name,
                                               const std::string &version, const std::string &what) {
  debian::Paragraph control = parse_control_paragraph(control_text, what);
  const debian::Field *source = control.find("Source");
  if (source == nullptr) return {name, version};
  const std::string &value = source->value;
  size_t open = value.find(" (");
  std::string source_name = value.substr(0, open);
  std::string source_version = version;
  if (open != std::string::npos) {
    if (value.back() != ')' || value.size() < open + 4)
      throw InputError(what, "Source '" + value + "' is not 'NAME' or 'NAME (VERSION)'");
    source_version = value.substr(open + 2, value.size() - open - 3);
  }
  if (!debian::is_package_name(source_name))
    throw InputError(what, "Source '" + value + "' does not start with a valid package name");
  if (source_version.empty() || source_version.find_first_of(" ()") != std::string::npos)
    throw InputError(what, "Source '" + value + "' has no valid version in parentheses");
  return {source_name, source_version};
}

SbomModel make_sbom_model(const Recipe &recipe, const Lock &lock, const Store &store, const std::string &digest,
                          const std::map<std::string, FileDigest> &artifacts, int64_t source_date_epoch) {
  SbomModel m;
  m.kind = recipe.guest ? "GuestImage" : "OciImage";
  m.name = recipe.name;
  m.version = recipe.guest ? recipe.guest->version : recipe.tag;
  m.tool = k_tool_name;
  m.created = source_date_epoch;
  m.digest = digest;
  std::set<SbomRelation> relations;
  auto relate = [&](const std::string &from, const char *type, const std::string &to) {
    relations.insert({from, type, to});
  };

  std::set<std::string> locked;
  for (const LockedPackage &p : lock.packages) locked.insert(p.name);
  for (const LockedPackage &lp : lock.packages) {
    SbomPackage p = sbom_package(lp.name, lp.version, lp.architecture, lp.sha256, lp.size, lp.filename,
                                 debian_distro(suite_of(lp, lock)), store);
    p.ref = "deb:" + lp.name;
    p.sets = lp.sets;
    for (const std::string &part : reason_parts(lp.reason)) {
      const std::string prefix = "dependency of ";
      if (part.rfind(prefix, 0) == 0 && locked.count(part.substr(prefix.size())))
        relate("deb:" + part.substr(prefix.size()), "DEPENDS_ON", p.ref);
    }
    m.packages.push_back(std::move(p));
  }
  std::sort(m.packages.begin(), m.packages.end(),
            [](const SbomPackage &a, const SbomPackage &b) { return a.name < b.name; });
  for (const LockedFile &f : lock.files) m.local_files.push_back({"file:" + f.path, f.path, f.sha256, f.size});

  if (!recipe.guest) {
    m.purl = oci_purl(recipe.name, digest, recipe.tag);
    // An OCI image holds every locked package and every local file.
    for (const SbomPackage &p : m.packages) relate(k_sbom_image_ref, "CONTAINS", p.ref);
    for (const SbomFile &f : m.local_files) relate(k_sbom_image_ref, "CONTAINS", f.ref);
    m.relations.assign(relations.begin(), relations.end());
    return m;
  }

  // A guest image is its artifacts: the firmware (from a package or a local file), the kernel
  // (from the pinned package), the initramfs (its set's packages and the kernel's modules) and the
  // root file system (its set's packages and the recipe's files).
  if (lock.kernel) {
    const LockedKernel &k = *lock.kernel;
    m.kernel = sbom_package(k.package, k.version, k.architecture, k.sha256, k.size, k.filename,
                            debian_distro(lock.debian.suite), store);
    m.kernel->ref = "kernel:" + k.package;
  }
  for (const auto &[name, d] : artifacts) {
    const std::string ref = "artifact:" + name;
    m.artifacts.push_back({ref, name, d.sha256_hex, d.size});
    relate(k_sbom_image_ref, "CONTAINS", ref);
  }
  std::string local_firmware;
  if (lock.firmware && !lock.firmware->package.empty())
    relate("artifact:OVMF.fd", "GENERATED_FROM", "deb:" + lock.firmware->package);
  else if (lock.firmware) {
    local_firmware = "file:" + lock.firmware->file;
    relate("artifact:OVMF.fd", "GENERATED_FROM", local_firmware);
  }
  if (m.kernel) {
    relate("artifact:vmlinuz", "GENERATED_FROM", m.kernel->ref);
    relate("artifact:initrd.img", "CONTAINS", m.kernel->ref);
  }
  for (const SbomPackage &p : m.packages) {
    if (std::count(p.sets.begin(), p.sets.end(), k_set_initramfs)) relate("artifact:initrd.img", "CONTAINS", p.ref);
    if (std::count(p.sets.begin(), p.sets.end(), k_set_rootfs)) relate("artifact:rootfs.img", "CONTAINS", p.ref);
  }
  for (const SbomFile &f : m.local_files)
    if (f.ref != local_firmware) relate("artifact:rootfs.img", "CONTAINS", f.ref);
  // Only relations between elements of the model.
  std::set<std::string> refs{k_sbom_image_ref};
  for (const SbomPackage &p : m.packages) refs.insert(p.ref);
  if (m.kernel) refs.insert(m.kernel->ref);
  for (const SbomFile &f : m.local_files) refs.insert(f.ref);
  for (const SbomFile &f : m.artifacts) refs.insert(f.ref);
  for (const SbomRelation &r : relations)
    if (refs.count(r.from) && refs.count(r.to)) m.relations.push_back(r);
  return m;
}

} // namespace mrforge::builder

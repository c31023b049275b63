// Kernel pins (kernels/*.yaml, kind KernelPin): one Debian kernel package fixed by name, version,
// pool path, size and sha256, with the mirror it comes from. The format is described in
// builder/recipe/recipe.hpp. Loading is strict like recipes: every error names file, line, column and
// field.
#include <builder/debian/relations.hpp>
#include <builder/recipe/recipe.hpp>

#include <measure/documents/yaml_field.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/terminal_text.hpp>

#include <algorithm>
#include <filesystem>

namespace mrforge::builder {

namespace fs = std::filesystem;

namespace {

bool only_chars(const std::string &s, const char *allowed_extra) {
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string(allowed_extra).find(c) != std::string::npos;
  });
}

std::string nonempty(const YamlField &f, size_t max, const char *what) {
  std::string s = f.str();
  if (s.empty() || s.size() > max) f.fail(std::string("expected ") + what);
  return s;
}

} // namespace

KernelPin load_kernel_pin(const std::string &path) {
  Bytes bytes = read_file(path, limits::k_yaml_document);
  std::string text(bytes.begin(), bytes.end());
  YamlField root = load_yaml_document(text, path, "KernelPin");
  root.expect_map({"apiVersion", "kind", "name", "description", "package", "version", "architecture", "filename",
                   "size", "sha256", "mirror", "release", "require_config", "provenance"});
  KernelPin pin;
  pin.file = fs::absolute(fs::path(path)).lexically_normal().string();

  YamlField name = root.required("name");
  pin.name = nonempty(name, 128, "a pin name");
  if (!only_chars(pin.name, "-_.")) name.fail("expected a pin name of letters, digits, '-', '_', '.'");
  if (auto d = root.optional("description")) pin.description = d->str();

  // Debian policy 5.6.1 (package names) and 5.6.12 (versions).
  YamlField package = root.required("package");
  pin.package = nonempty(package, 128, "a Debian package name");
  if (pin.package.size() < 2 || !debian::is_package_name(pin.package))
    package.fail("'" + echoed(pin.package) +
                 "' is not a Debian package name (lower case letters, digits, '+', '-', '.')");
  YamlField version = root.required("version");
  pin.version = nonempty(version, 128, "a Debian version");
  if (!only_chars(pin.version, ".+-~:") || !(pin.version[0] >= '0' && pin.version[0] <= '9'))
    version.fail("'" + pin.version +
                 "' is not a Debian version (digits first; letters, digits, '.', '+', '-', '~', ':')");
  YamlField arch = root.required("architecture");
  pin.architecture = nonempty(arch, 32, "a Debian architecture such as amd64");
  if (!only_chars(pin.architecture, "-")) arch.fail("expected a Debian architecture such as amd64");

  YamlField filename = root.required("filename");
  pin.filename = nonempty(filename, 1024, "a pool path relative to the mirror");
  fs::path fp(pin.filename);
  bool climbs = std::any_of(fp.begin(), fp.end(), [](const fs::path &part) { return part == ".." || part == "."; });
  if (pin.filename[0] == '/' || climbs || pin.filename.find("//") != std::string::npos || pin.filename.size() < 5 ||
      pin.filename.compare(pin.filename.size() - 4, 4, ".deb") != 0 || !only_chars(pin.filename, "/.+-~_:%"))
    filename.fail("expected a pool path relative to the mirror, ending in .deb (like pool/main/l/linux/NAME.deb)");

  YamlField size = root.required("size");
  pin.size = size.u64();
  if (pin.size == 0) size.fail("expected the package's size in bytes (the Size field of the index)");
  YamlField sha = root.required("sha256");
  pin.sha256 = sha.str();
  if (!is_lower_hex(pin.sha256, 64)) sha.fail("expected 64 lowercase hex digits (the SHA256 field of the index)");

  YamlField mirror = root.required("mirror");
  pin.mirror = mirror.str();
  if (pin.mirror.rfind("http://", 0) != 0 && pin.mirror.rfind("https://", 0) != 0 &&
      pin.mirror.rfind("file://", 0) != 0)
    mirror.fail("expected an http://, https:// or file:// URL of the archive holding the pool path");
  while (!pin.mirror.empty() && pin.mirror.back() == '/') pin.mirror.pop_back();

  // The release names boot/vmlinuz-RELEASE and lib/modules/RELEASE: one path component.
  YamlField release = root.required("release");
  pin.release = nonempty(release, 128, "the kernel release, such as 6.12.117+deb12-amd64");
  if (!only_chars(pin.release, ".+-_~") || pin.release == "." || pin.release == "..")
    release.fail("expected the kernel release (uname -r), such as 6.12.117+deb12-amd64");

  if (auto rc = root.optional("require_config")) {
    for (const YamlField &f : rc->list()) {
      std::string s = f.str();
      size_t eq = s.find('=');
      std::string key = s.substr(0, eq);
      if (eq == std::string::npos || eq + 1 == s.size() || key.rfind("CONFIG_", 0) != 0 || key.size() == 7 ||
          !only_chars(key, "_") || s.find_first_of(" \t\n") != std::string::npos)
        f.fail("expected CONFIG_NAME=VALUE (such as CONFIG_INTEL_TDX_GUEST=y), got '" + echoed(s) + "'");
      if (std::find(pin.require_config.begin(), pin.require_config.end(), s) != pin.require_config.end())
        f.fail("'" + echoed(s) + "' is listed twice");
      pin.require_config.push_back(s);
    }
  }
  if (auto p = root.optional("provenance")) pin.provenance = p->str();
  return pin;
}

} // namespace mrforge::builder

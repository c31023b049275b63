// Writes dpkg's administrative directory into the staging tree. Formats follow dpkg 1.21
// (Debian bookworm): status is deb822 with one paragraph per package followed by a blank line
// (dpkg(1), deb-status(5)); info/PKG.list lists "/." and then each installed path (dpkg's
// src/main/filesdb.c write_filelist_except); conffiles in status are " PATH MD5HEX" lines.
#include <builder/debian/dpkg_database.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/hash.hpp>

#include <openssl/evp.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>

namespace mrforge::builder {

namespace {

constexpr const char *k_admindir = "var/lib/dpkg";
constexpr const char *k_status_line = "Status: install ok installed\n";

struct FileCloser {
  void operator()(std::FILE *f) const noexcept { std::fclose(f); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX *c) const noexcept { EVP_MD_CTX_free(c); }
};

// md5 of a staged file: dpkg records conffile hashes as md5 (deb-conffiles(5)).
std::string md5_file(const std::string &path) {
  std::unique_ptr<std::FILE, FileCloser> file(std::fopen(path.c_str(), "rb"));
  if (!file) throw SystemError(path, std::string("cannot open staged content: ") + std::strerror(errno));
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx(EVP_MD_CTX_new());
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_md5(), nullptr) != 1)
    throw SystemError(path, "OpenSSL: cannot initialise md5");
  std::vector<uint8_t> buffer(64 * 1024);
  while (true) {
    size_t n = std::fread(buffer.data(), 1, buffer.size(), file.get());
    if (n > 0 && EVP_DigestUpdate(ctx.get(), buffer.data(), n) != 1)
      throw SystemError(path, "OpenSSL: md5 update failed");
    if (n < buffer.size()) {
      if (std::ferror(file.get())) throw SystemError(path, "read failed");
      break;
    }
  }
  uint8_t digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) throw SystemError(path, "OpenSSL: md5 final failed");
  return to_hex(ByteView(digest, len));
}

// "NAME" or "NAME:ARCH" (Multi-Arch: same packages are co-installable, so dpkg qualifies them).
std::string info_prefix(const DebPackage &pkg) {
  return pkg.multi_arch == "same" ? pkg.name + ":" + pkg.architecture : pkg.name;
}

// Conffile paths of a package ("/etc/x"), in the order of its conffiles member; entries flagged
// remove-on-upgrade are not shipped and have no hash (DPKG_NOTES.md).
std::vector<std::string> shipped_conffiles(const DebPackage &pkg) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos < pkg.conffiles.size()) {
    size_t nl = pkg.conffiles.find('\n', pos);
    std::string line = pkg.conffiles.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos);
    pos = nl == std::string::npos ? pkg.conffiles.size() : nl + 1;
    while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.pop_back();
    if (line.empty() || line.compare(0, 18, "remove-on-upgrade ") == 0) continue;
    out.push_back(line);
  }
  return out;
}

void add_file(FsTree &tree, ContentStaging &staging, const std::string &path, std::string_view bytes, uint32_t mode,
              const std::string &origin) {
  tree.add(path, staged_file_node(staging.put(bytes), mode, origin), OnExisting::error);
}

} // namespace

std::string dpkg_status_text(const std::vector<const DebPackage *> &sorted_packages,
                             const std::map<std::string, std::map<std::string, std::string>> &conffile_md5) {
  std::string out;
  for (const DebPackage *pkg : sorted_packages) {
    // The control file was validated by unpack_deb; parsing it again cannot fail for its output.
    debian::Paragraph control = parse_control_paragraph(pkg->control, pkg->name + ": control");
    std::string conffiles_field;
    auto md5s = conffile_md5.find(info_prefix(*pkg));
    for (const std::string &path : shipped_conffiles(*pkg)) {
      std::string md5;
      if (md5s != conffile_md5.end()) {
        auto it = md5s->second.find(path);
        if (it != md5s->second.end()) md5 = it->second;
      }
      if (md5.empty()) throw InputError(pkg->name, "conffile '" + path + "' has no recorded md5");
      conffiles_field += " " + path + " " + md5 + "\n";
    }
    if (!conffiles_field.empty()) conffiles_field = "Conffiles:\n" + conffiles_field;
    for (const debian::Field &field : control.fields) {
      if (debian::iequals(field.name, "description") && !conffiles_field.empty()) {
        out += conffiles_field;
        conffiles_field.clear();
      }
      out += field.name + ":" + field.raw + "\n"; // the field exactly as the package wrote it
      if (debian::iequals(field.name, "package")) out += k_status_line;
    }
    out += conffiles_field; // no Description: at the end
    out += '\n';
  }
  return out;
}

void add_dpkg_database(FsTree &tree, ContentStaging &staging, const std::vector<DebPackage> &packages,
                       const std::string &origin) {
  std::vector<const DebPackage *> sorted;
  sorted.reserve(packages.size());
  for (const DebPackage &pkg : packages) sorted.push_back(&pkg);
  std::sort(sorted.begin(), sorted.end(), [](const DebPackage *a, const DebPackage *b) {
    return a->name != b->name ? a->name < b->name : a->architecture < b->architecture;
  });
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i]->name == sorted[i - 1]->name &&
        (sorted[i]->architecture == sorted[i - 1]->architecture || sorted[i]->multi_arch != "same" ||
         sorted[i - 1]->multi_arch != "same"))
      throw InputError(origin, "package '" + sorted[i]->name + "' is given twice (" + sorted[i - 1]->architecture +
                                   " and " + sorted[i]->architecture +
                                   "); only Multi-Arch: same packages may be installed for several architectures");

  // md5 of every shipped conffile, from the bytes in the tree.
  std::map<std::string, std::map<std::string, std::string>> conffile_md5;
  for (const DebPackage *pkg : sorted) {
    for (const std::string &path : shipped_conffiles(*pkg)) {
      std::string tree_path = FsTree::normalize_path(path, origin, FsTree::Absolute::strip);
      const Node *node = tree.find(tree_path);
      if (node != nullptr && node->type == NodeType::hardlink) node = tree.find(node->link_target);
      if (node == nullptr || node->type != NodeType::regular)
        throw InputError(origin,
                         "package " + pkg->name + ": conffile '" + path + "' is not a regular file in the image");
      conffile_md5[info_prefix(*pkg)][path] = md5_file(node->content_path);
    }
  }

  const std::string admin = k_admindir;
  for (const char *dir : {"info", "updates", "triggers", "alternatives", "parts"})
    tree.ensure_directory(admin + "/" + dir, origin);

  // info/format 1: file names of Multi-Arch: same packages carry ":ARCH" (dpkg >= 1.16.2).
  add_file(tree, staging, admin + "/info/format", "1\n", 0644, origin);
  add_file(tree, staging, admin + "/status", dpkg_status_text(sorted, conffile_md5), 0644, origin);
  for (const char *empty : {"available", "diversions", "statoverride"})
    add_file(tree, staging, admin + "/" + empty, "", 0644, origin);

  for (const DebPackage *pkg : sorted) {
    std::string info = admin + "/info/" + info_prefix(*pkg) + ".";
    std::string list = "/.\n";
    for (const std::string &path : pkg->paths) list += "/" + path + "\n";
    add_file(tree, staging, info + "list", list, 0644, origin);
    if (!pkg->md5sums.empty()) add_file(tree, staging, info + "md5sums", pkg->md5sums, 0644, origin);
    if (!pkg->conffiles.empty()) add_file(tree, staging, info + "conffiles", pkg->conffiles, 0644, origin);
    for (const auto &[name, text] : pkg->control_files) add_file(tree, staging, info + name, text, 0644, origin);
    for (const auto &[name, text] : pkg->maintainer_scripts) add_file(tree, staging, info + name, text, 0755, origin);
  }
}

} // namespace mrforge::builder

// Kernel modules of an unpacked Debian kernel package, and their load order.
//
// Debian's linux-image packages ship modules as lib/modules/RELEASE/kernel/**/NAME.ko.xz (or .ko,
// .ko.zst) and no modules.dep: depmod writes that at install time from each module's ".modinfo"
// section, a sequence of NUL-terminated "key=value" strings. The two keys used here are
// "name=" (the module's name, with '_' where the file name may have '-') and "depends=" (a
// comma-separated list of module names the module needs loaded first). Softdeps ("softdep=pre: x")
// are not followed, as modprobe alone does: a recipe lists them itself (e.g. crc32c_generic before
// libcrc32c, which needs "crc32c" at init).
//
// Module names treat '-' and '_' as the same character (the kernel does): "dm-verity" and
// "dm_verity" name one module. The file's own spelling is kept for paths and load lists.
#pragma once

#include <builder/fs/content_staging.hpp>
#include <builder/fs/fs_tree.hpp>

#include <map>
#include <string>
#include <vector>

namespace mrforge::builder {

struct KernelModule {
  std::string name;                 // as the file is named, without .ko[.xz|.zst]: "dm-verity"
  std::string tree_path;            // in the kernel tree: "lib/modules/REL/kernel/drivers/md/dm-verity.ko.xz"
  std::vector<std::string> depends; // from .modinfo depends=, as written there ("dm-bufio", "dm-mod", "reed_solomon")
};

// "dm-verity" -> "dm_verity".
std::string normalize_module_name(const std::string &name);

class KernelModules {
public:
  // Indexes lib/modules/RELEASE/kernel/**.ko{,.xz,.zst} (or usr/lib/modules/...) of an unpacked
  // kernel package tree. Only paths are read here; module files are opened by resolve() and
  // uncompressed(). `source` names the kernel package in messages. Throws InputError {source} if
  // the release has no modules (naming the releases the tree has).
  KernelModules(const FsTree &kernel_tree, const std::string &release, const std::string &source);

  // Requested names in load order, each preceded by its not-yet-listed dependencies (from
  // .modinfo depends=, recursively, in the order written there), duplicates dropped. Throws
  // InputError {where} for an unknown or ambiguous (two files, one name) module, naming close
  // names if any; FormatError {module file} for a module that is not ELF, whose .modinfo is
  // missing or malformed, whose name= differs from its file name, or whose depends= names a
  // module the package does not ship or forms a cycle; SystemError if a file cannot be read.
  std::vector<KernelModule> resolve(const std::vector<std::string> &names, const std::string &where) const;

  // The uncompressed .ko bytes into staging (busybox insmod takes uncompressed modules only).
  // Throws FormatError {module file} for a broken or oversized compressed stream.
  StagedContent uncompressed(const KernelModule &m, ContentStaging &staging) const;

  const std::string &release() const { return m_release; }
  size_t size() const { return m_files.size(); }

private:
  struct File {
    std::string name;      // file name without suffix
    std::string tree_path; // as in the tree
    std::string host_path; // the node's content file
  };
  const File &find(const std::string &name, const std::string &where) const;
  std::string describe(const File &file) const; // "linux-image...deb: lib/modules/.../x.ko.xz"

  std::string m_release;
  std::string m_source;
  std::multimap<std::string, File> m_files; // by normalized name
};

} // namespace mrforge::builder

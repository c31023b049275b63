// Initramfs assembly and writing. See initramfs.hpp.
#include <builder/guest/initramfs.hpp>

#include <builder/archive/archive_writers.hpp>
#include <builder/guest/elf_file.hpp>
#include <builder/guest/initramfs_init.hpp>
#include <builder/guest/kernel_modules.hpp>

#include <measure/util/errors.hpp>
#include <measure/util/strings.hpp>

#include <deque>
#include <map>
#include <optional>
#include <set>

namespace mrforge::builder {

namespace {

// glibc's ld.so search path on Debian amd64 when there is no /etc/ld.so.cache (`ld.so --help`,
// "system search path"). The initramfs has no cache, so libraries go where ld.so looks.
const char *const k_library_dirs[] = {"lib/x86_64-linux-gnu", "usr/lib/x86_64-linux-gnu", "lib", "usr/lib"};
// Where busybox is looked for in the packages (Debian bookworm: bin/busybox; usr-merged: usr/bin).
const char *const k_busybox_paths[] = {"bin/busybox", "usr/bin/busybox"};
// Where /init's PATH finds dmsetup.
const char *const k_dmsetup_paths[] = {"sbin/dmsetup", "usr/sbin/dmsetup", "bin/dmsetup", "usr/bin/dmsetup"};
// The empty directories /init mounts on or writes to.
const char *const k_empty_dirs[] = {"dev", "newroot", "proc", "run", "sys", "tmp"};
std::string base_name(const std::string &path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Builds the initramfs tree; remembers which packaged file each installed path came from, so that
// installing the same file twice is a no-op and two different files for one path are an error.
class Assembler {
public:
  Assembler(const InitramfsInputs &in, FsTree &out) : m_in(in), m_packages(*in.packages), m_out(out) {}

  void directory(const std::string &path, uint32_t mode) {
    m_out.ensure_directory(path, "initramfs");
    m_out.find_mutable(path)->mode = mode;
  }

  // Installs the packaged regular file `source` (a resolved tree path) at `dest`.
  void install(const std::string &dest, const std::string &source, const std::string &what) {
    auto it = m_installed.find(dest);
    if (it != m_installed.end()) {
      if (it->second == source) return;
      throw InputError(m_in.where, "initramfs path /" + dest + " would hold both /" + it->second + " and /" + source +
                                       " (" + what + ")");
    }
    const Node *from = m_packages.find(source);
    Node node;
    node.type = NodeType::regular;
    node.mode = from->mode & 0777; // no setuid/setgid/sticky in the initramfs
    node.size = from->size;
    node.content_path = from->content_path;
    node.origin = "initramfs " + what + " (/" + source + (from->origin.empty() ? "" : " from " + from->origin) + ")";
    m_out.ensure_directory(parent_path(dest), "initramfs");
    m_out.add(dest, std::move(node));
    m_installed.emplace(dest, source);
  }

  // A program at `dest` from packaged path `path`, with its interpreter and libraries.
  void program(const std::string &path, const std::string &dest) {
    std::optional<std::string> source = resolve_regular_file(m_packages, path, m_in.where);
    if (!source)
      throw InputError(m_in.where,
                       "program /" + path + " is not a file in the initramfs packages: add the package that ships it");
    install(dest, *source, "program /" + path);
    ElfDependencies deps = read_elf_dependencies(m_packages.find(*source)->content_path, "/" + *source);
    std::string interpreter_name;
    if (!deps.interpreter.empty()) {
      std::string interp =
          FsTree::normalize_path(deps.interpreter, "/" + path + ": PT_INTERP", FsTree::Absolute::strip);
      std::optional<std::string> interp_source = resolve_regular_file(m_packages, interp, m_in.where);
      if (!interp_source)
        throw InputError(m_in.where, "program /" + path + " needs the interpreter " + deps.interpreter +
                                         ", which is not in the initramfs packages: add libc6");
      install(interp, *interp_source, "interpreter of /" + path);
      interpreter_name = base_name(interp);
    } else if (!deps.needed.empty()) {
      throw InputError(m_in.where, "program /" + path + " needs shared libraries but has no interpreter (PT_INTERP)");
    }
    // Breadth-first over DT_NEEDED names. The interpreter satisfies a library's DT_NEEDED entry
    // for itself (ld.so matches its own soname), as ldd shows.
    std::deque<std::pair<std::string, std::string>> queue; // library name, who needs it
    std::set<std::string> seen{interpreter_name};
    for (const std::string &n : deps.needed) queue.emplace_back(n, "/" + path);
    while (!queue.empty()) {
      auto [name, needed_by] = queue.front();
      queue.pop_front();
      if (!seen.insert(name).second) continue;
      if (name.find('/') != std::string::npos || name == "." || name == "..")
        throw InputError(m_in.where,
                         needed_by + " needs '" + name + "': a DT_NEEDED path is not supported in the initramfs");
      std::string dest_lib;
      std::optional<std::string> lib_source;
      for (const char *dir : k_library_dirs) {
        lib_source = resolve_regular_file(m_packages, std::string(dir) + "/" + name, m_in.where);
        if (lib_source) {
          dest_lib = std::string(dir) + "/" + name;
          break;
        }
      }
      if (!lib_source)
        throw InputError(m_in.where,
                         needed_by + " needs the shared library " + name +
                             ", which is in none of /lib/x86_64-linux-gnu, /usr/lib/x86_64-linux-gnu, /lib, /usr/lib "
                             "of the initramfs packages: add the package that ships it");
      install(dest_lib, *lib_source, "library " + name);
      ElfDependencies lib_deps = read_elf_dependencies(m_packages.find(*lib_source)->content_path, "/" + *lib_source);
      for (const std::string &n : lib_deps.needed) queue.emplace_back(n, "/" + dest_lib);
    }
  }

  // An applet symlink bin/NAME -> busybox.
  void applet(const std::string &name) {
    std::string dest = "bin/" + name;
    if (const Node *existing = m_out.find(dest))
      throw InputError(m_in.where,
                       "initramfs path /" + dest + " is both a busybox applet used by /init and " + existing->origin);
    Node link;
    link.type = NodeType::symlink;
    link.mode = 0777;
    link.link_target = "busybox";
    link.origin = "initramfs busybox applet";
    m_out.add(dest, std::move(link));
  }

  void staged(const std::string &dest, const StagedContent &content, uint32_t mode, const std::string &what) {
    if (m_out.find(dest) != nullptr)
      throw InputError(m_in.where, "initramfs path /" + dest + " is used twice (" + what + ")");
    m_out.ensure_directory(parent_path(dest), "initramfs");
    m_out.add(dest, staged_file_node(content, mode, "initramfs " + what));
  }

private:
  const InitramfsInputs &m_in;
  const FsTree &m_packages;
  FsTree &m_out;
  std::map<std::string, std::string> m_installed; // initramfs path -> packaged source path
};

bool plain_module_name(const std::string &name) {
  if (name.empty()) return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
      return false;
  return true;
}

} // namespace

InitramfsResult assemble_initramfs(const InitramfsInputs &in, ContentStaging &staging) {
  if (in.packages == nullptr) throw InputError(in.where, "no initramfs packages were unpacked");
  if (in.kernel == nullptr) throw InputError(in.where, "no kernel package was unpacked");
  InitramfsResult result;
  Assembler a(in, result.tree);

  for (const char *dir : k_empty_dirs) a.directory(dir, 0755);
  a.directory("tmp", 01777);
  a.staged("init", staging.put(initramfs_init_script()), 0755, "/init script");

  // Busybox (always) and the listed programs.
  std::optional<std::string> busybox;
  for (const char *p : k_busybox_paths)
    if (!busybox && resolve_regular_file(*in.packages, p, in.where)) busybox = p;
  if (!busybox)
    throw InputError(
        in.where,
        "no busybox in the initramfs packages (looked for /bin/busybox and /usr/bin/busybox): add busybox-static");
  a.program(*busybox, "bin/busybox");
  for (const std::string &raw : in.programs) {
    if (raw.empty() || raw[0] != '/') throw InputError(in.where, "program '" + raw + "' is not an absolute path");
    std::string path = FsTree::normalize_path(raw, in.where, FsTree::Absolute::strip);
    a.program(path, path);
  }
  bool has_dmsetup = false;
  for (const char *p : k_dmsetup_paths) has_dmsetup = has_dmsetup || result.tree.find(p) != nullptr;
  if (!has_dmsetup)
    throw InputError(in.where,
                     "/init runs dmsetup to set up dm-verity: list /sbin/dmsetup in the programs (package dmsetup)");
  for (const std::string &applet : initramfs_busybox_applets()) a.applet(applet);

  // Kernel modules: the required ones, then the optional ones with their remaining dependencies.
  KernelModules modules(*in.kernel, in.kernel_release, in.kernel_source);
  std::vector<KernelModule> required = modules.resolve(in.modules, in.where);
  std::vector<std::string> all_names = in.modules;
  all_names.insert(all_names.end(), in.optional_modules.begin(), in.optional_modules.end());
  // Resolution is depth-first in list order, so `all` starts with exactly `required`.
  std::vector<KernelModule> all = modules.resolve(all_names, in.where);
  a.directory(k_initramfs_module_dir, 0755);
  std::string list;
  for (size_t i = 0; i < all.size(); ++i) {
    const KernelModule &m = all[i];
    if (!plain_module_name(m.name))
      throw InputError(in.where, "kernel module file " + m.tree_path + ": the name '" + m.name +
                                     "' has characters other than [A-Za-z0-9_-]");
    a.staged(std::string(k_initramfs_module_dir) + "/" + m.name + ".ko", modules.uncompressed(m, staging), 0644,
             "kernel module " + m.name + " (" + in.kernel_source + ": " + m.tree_path + ")");
    bool optional = i >= required.size();
    result.module_order.push_back(m.name + (optional ? "?" : ""));
    list += result.module_order.back() + "\n";
  }
  a.staged(k_initramfs_module_list, staging.put(list), 0644, "module load order");

  for (auto &entry : result.tree.nodes()) {
    Node *node = result.tree.find_mutable(entry.first);
    node->uid = 0;
    node->gid = 0;
  }
  return result;
}

void write_initramfs(const FsTree &tree, int64_t source_date_epoch, const Compression &compression, ByteSink &out) {
  std::unique_ptr<ByteSink> compressor = make_compressor(compression, out);
  ArchiveOptions options;
  options.mtime = source_date_epoch;
  write_cpio_newc(tree, options, *compressor);
  compressor->finish();
}

} // namespace mrforge::builder

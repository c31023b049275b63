#include <builder/boot/disk_image.hpp>
#include <builder/boot/grub_config.hpp>
#include <builder/boot/uki_image.hpp>
#include <builder/build/guest_build.hpp>
#include <builder/debian/deb_unpack.hpp>
#include <builder/fs/content_staging.hpp>
#include <builder/guest/initramfs.hpp>
#include <builder/guest/initramfs_init.hpp>
#include <builder/guest/kernel_modules.hpp>
#include <builder/guest/program_check.hpp>
#include <builder/guest/verity_json.hpp>
#include <builder/recipe/rootfs_assembly.hpp>
#include <builder/recipe/step_cache.hpp>
#include <builder/rootfs/merged_usr.hpp>
#include <builder/sbom/sbom_writers.hpp>
#include <builder/system/output_dir.hpp>

#include <measure/documents/json_text.hpp>
#include <measure/util/errors.hpp>
#include <measure/util/file_io.hpp>
#include <measure/util/hash.hpp>
#include <measure/util/mapped_file.hpp>
#include <measure/util/size_text.hpp>
#include <measure/util/strings.hpp>
#include <measure/util/version.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

namespace mrforge::builder {

namespace fs = std::filesystem;

namespace {

// Bumped whenever a step's output format changes for the same inputs, so old cache entries are
// not reused.
// 2: a merged-/usr suite's root file system gains the links (builder/rootfs) and its initramfs
// packages are resolved through them.
// 3: every root file system gains /tmp, /root and, with ca-certificates, /etc/ssl/certs.
constexpr const char *k_step_format = "3";
// The uki-disk step's own output format (bumped like k_step_format, for that step alone).
// 2: the stub's COFF symbol table is dropped and its pointer cleared.
constexpr const char *k_uki_disk_format = "2";
// The shim-grub-disk step's own output format (bumped like k_step_format, for that step alone).
constexpr const char *k_shim_grub_disk_format = "1";

void copy_file_to(const std::string &from, const std::string &to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) throw SystemError(to, "cannot copy " + from + ": " + ec.message());
  fs::permissions(to, fs::perms(0644), ec);
}

// A node of an unpacked package, following symlinks inside the tree (never the host's).
const Node &file_in_tree(const FsTree &tree, std::string path, const std::string &what) {
  for (int hops = 0; hops < 16; ++hops) {
    const Node *n = tree.find(path);
    if (!n) throw InputError(what, "'/" + path + "' is not in the package");
    if (n->type == NodeType::hardlink) {
      path = n->link_target;
      continue;
    }
    if (n->type == NodeType::regular) return *n;
    if (n->type != NodeType::symlink) throw InputError(what, "'/" + path + "' is a " + node_type_name(n->type));
    std::string target = n->link_target;
    std::string base = target.size() && target[0] == '/' ? "" : parent_path(path);
    path = FsTree::normalize_path(base.empty() ? target : base + "/" + target, what, FsTree::Absolute::strip);
  }
  throw InputError(what, "too many symlinks at '/" + path + "'");
}

const LockedPackage &locked_package(const Lock &lock, const std::string &name, const std::string &set) {
  for (const LockedPackage *p : packages_in_set(lock, set))
    if (p->name == name) return *p;
  throw InputError("lock", "package " + name + " (" + set + ") is not in the lock; run `mrforge lock`");
}

std::string deb_path(const Store &store, const LockedPackage &p) {
  return store.require(p.sha256, p.size, "package " + p.name + " " + p.version);
}

std::string deb_name(const LockedPackage &p) { return p.name + "_" + p.version + "_" + p.architecture + ".deb"; }

// Unpacks the packages of one set into a fresh tree (no dpkg database: nothing runs them).
FsTree unpack_set(const Lock &lock, const std::string &set, const Store &store, ContentStaging &staging,
                  const UnpackPolicy &policy) {
  FsTree tree;
  for (const LockedPackage *p : packages_in_set(lock, set))
    unpack_deb(deb_path(store, *p), deb_name(*p), tree, staging, policy);
  return tree;
}

std::string packages_key(const Lock &lock, const std::string &set) {
  std::string text;
  for (const LockedPackage *p : packages_in_set(lock, set)) text += p->name + "=" + p->sha256 + " ";
  return text;
}

std::string octal(uint32_t mode) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04o", mode);
  return buf;
}

// Everything of the recipe that shapes the root file system besides packages.
std::string rootfs_recipe_key(const Recipe &r, const Lock &lock) {
  std::ostringstream k;
  for (const FileSpec &f : r.files)
    k << "file " << f.source << " -> " << f.target << " " << (f.mode ? octal(*f.mode) : "-") << " " << f.uid << ":"
      << f.gid << "\n";
  for (const LockedFile &f : lock.files) k << "digest " << f.path << " " << f.sha256 << " " << f.size << "\n";
  for (const DirectorySpec &d : r.directories)
    k << "dir " << d.target << " " << octal(d.mode) << " " << d.uid << ":" << d.gid << "\n";
  for (const SymlinkSpec &l : r.symlinks) k << "symlink " << l.target << " -> " << l.points_to << "\n";
  k << "suite " << r.debian.suite << " " << r.debian.architecture << "\n"; // merged-/usr or not
  for (const GroupSpec &g : r.groups) k << "group " << g.name << " " << g.gid << "\n";
  for (const UserSpec &u : r.users)
    k << "user " << u.name << " " << u.uid << ":" << u.gid << " " << u.home << " " << u.shell << "\n";
  k << "allow " << r.allow.setuid << r.allow.device_nodes << "\n";
  return k.str();
}

class GuestBuilder {
public:
  GuestBuilder(const Recipe &recipe, const Lock &lock, Store &store, const BuildSettings &settings)
      : m_recipe(recipe), m_guest(*recipe.guest), m_lock(lock), m_store(store), m_settings(settings),
        m_cache(store, settings.use_cache), m_scratch(store.make_scratch_dir("guest-" + recipe.name)),
        m_staging(m_scratch.path() + "/contents"), m_kernel_staging(m_scratch.path() + "/kernel-contents") {
    m_policy.allow_setuid = recipe.allow.setuid;
    m_policy.allow_device_nodes = recipe.allow.device_nodes;
    if (settings.progress)
      m_progress = [this](const std::string &text) {
        std::lock_guard<std::mutex> one_line_at_a_time(m_progress_mutex);
        m_settings.progress(text);
      };
  }

  GuestBuildResult run() {
    if (!m_lock.kernel) throw InputError(m_recipe.path, "the lock has no kernel; run `mrforge lock`");
    CachedEntry firmware = firmware_step();
    // The kernel package (over 100 MB of xz, the longest single unpack) is unpacked on a second
    // thread while the root file system is built, if the kernel or initramfs step needs it.
    // Each step's cache is looked up once, here.
    std::optional<CachedEntry> kernel_hit = m_cache.lookup(kernel_key());
    std::optional<CachedEntry> initrd_hit = m_cache.lookup(initramfs_key());
    if (!kernel_hit || !initrd_hit)
      m_kernel_unpack = std::async(std::launch::async, [this] { return unpack_kernel(); });
    CachedEntry rootfs = rootfs_step();
    CachedEntry kernel = kernel_step(kernel_hit);
    CachedEntry initrd = initramfs_step(initrd_hit);
    read_verity(rootfs);
    std::optional<CachedEntry> disk;
    if (m_guest.boot.path == BootPath::uki) disk = uki_disk_step(kernel, initrd, rootfs);
    if (m_guest.boot.path == BootPath::shim_grub) disk = shim_grub_disk_step(kernel, initrd, rootfs);
    return finish(firmware, kernel, initrd, rootfs, disk);
  }

private:
  void say(const std::string &text) {
    if (m_progress) m_progress(text);
  }

  // --- steps ---------------------------------------------------------------------------------

  CachedEntry firmware_step() {
    const FirmwareSpec &fw = m_guest.firmware;
    StepKey key("firmware");
    key.add("format", k_step_format);
    if (!fw.file.empty()) {
      FileDigest d = digest_file(fw.file_path, limits::k_firmware);
      if (d.sha256_hex != fw.sha256)
        throw InputError(fw.where.describe() + ": firmware",
                         fw.file + " has sha256 " + d.sha256_hex + ", the recipe pins " + fw.sha256);
      key.add("file", fw.sha256);
    } else {
      const LockedPackage &p = locked_package(m_lock, fw.package, "firmware");
      key.add("package", p.name + "=" + p.sha256).add("path", fw.path);
    }
    return cached(key, "firmware", [&](const std::string &dir) {
      if (!fw.file.empty()) {
        copy_file_to(fw.file_path, dir + "/OVMF.fd");
      } else {
        say("firmware: unpacking " + fw.package);
        const LockedPackage &p = locked_package(m_lock, fw.package, "firmware");
        FsTree tree;
        unpack_deb(deb_path(m_store, p), deb_name(p), tree, m_staging, m_policy);
        const Node &n = file_in_tree(tree, fw.path, fw.where.describe() + ": firmware: package " + fw.package);
        copy_file_to(n.content_path, dir + "/OVMF.fd");
      }
      return std::vector<std::string>{"OVMF.fd"};
    });
  }

  // Runs on its own thread, with its own staging directory.
  std::unique_ptr<FsTree> unpack_kernel() {
    const LockedKernel &k = *m_lock.kernel;
    std::string deb = m_store.require(k.sha256, k.size, "kernel " + k.package + " " + k.version);
    say("kernel: unpacking " + k.package + " " + k.version);
    auto tree = std::make_unique<FsTree>();
    UnpackPolicy policy; // a kernel package has no devices or setuid files
    unpack_deb(deb, k.package + "_" + k.version + "_" + k.architecture + ".deb", *tree, m_kernel_staging, policy);
    return tree;
  }

  const FsTree &kernel_tree() {
    if (!m_kernel_tree) m_kernel_tree = m_kernel_unpack.get(); // started by run() for a step that missed
    return *m_kernel_tree;
  }

  StepKey kernel_key() const {
    const LockedKernel &k = *m_lock.kernel;
    StepKey key("kernel");
    key.add("format", k_step_format).add("deb", k.sha256).add("release", k.release);
    key.add("require_config", join(m_guest.kernel.require_config, " "));
    return key;
  }

  CachedEntry kernel_step(const std::optional<CachedEntry> &hit) {
    const LockedKernel &k = *m_lock.kernel;
    return cached(kernel_key(), hit, "kernel", [&](const std::string &dir) {
      const FsTree &tree = kernel_tree();
      std::string what = m_guest.kernel.file + ": kernel " + k.package;
      check_config(tree, k.release, what);
      const Node &n = file_in_tree(tree, "boot/vmlinuz-" + k.release, what);
      copy_file_to(n.content_path, dir + "/vmlinuz");
      return std::vector<std::string>{"vmlinuz"};
    });
  }

  void check_config(const FsTree &tree, const std::string &release, const std::string &what) {
    if (m_guest.kernel.require_config.empty()) return;
    const Node &n = file_in_tree(tree, "boot/config-" + release, what);
    std::string config = read_text_file(n.content_path, limits::k_text_record);
    std::istringstream lines(config);
    std::set<std::string> have;
    for (std::string line; std::getline(lines, line);) have.insert(line);
    for (const std::string &req : m_guest.kernel.require_config) {
      if (have.count(req)) continue;
      std::string name = req.substr(0, req.find('='));
      std::string actual = "not set";
      for (const std::string &line : have)
        if (line.rfind(name + "=", 0) == 0) actual = line;
      throw InputError(what, "the kernel pin requires " + req + " but boot/config-" + release + " has " + actual +
                                 " (pick a kernel built with it)");
    }
  }

  StepKey initramfs_key() const {
    const InitramfsSpec &spec = m_guest.initramfs;
    const LockedKernel &k = *m_lock.kernel;
    StepKey key("initramfs");
    key.add("format", k_step_format)
        .add("packages", packages_key(m_lock, "initramfs"))
        .add("kernel", k.sha256)
        .add("release", k.release)
        .add("programs", join(spec.programs, " "))
        .add("modules", join(spec.modules, " "))
        .add("optional_modules", join(spec.optional_modules, " "))
        .add("compression", std::string(compression_name(spec.compression.kind)) + " " +
                                std::to_string(spec.compression.level) + " " +
                                compressor_version(spec.compression.kind))
        .add("epoch", std::to_string(m_settings.source_date_epoch))
        .add("init", to_hex(sha256(ByteView::of(std::string(initramfs_init_script())))));
    return key;
  }

  CachedEntry initramfs_step(const std::optional<CachedEntry> &hit) {
    const InitramfsSpec &spec = m_guest.initramfs;
    const LockedKernel &k = *m_lock.kernel;
    return cached(initramfs_key(), hit, "initramfs", [&](const std::string &dir) {
      say("initramfs: unpacking " + std::to_string(packages_in_set(m_lock, "initramfs").size()) + " packages");
      FsTree packages = unpack_set(m_lock, "initramfs", m_store, m_staging, m_policy);
      // Programs are named as the root file system has them (/bin/busybox), so a merged-/usr
      // suite's packages (usr/bin/busybox) are read through its links.
      if (suite_facts(m_recipe.debian.suite, m_recipe.path).merged_usr)
        apply_merged_usr(packages, merged_usr_aliases(m_recipe.debian.architecture, m_recipe.path),
                         m_recipe.debian.suite);
      InitramfsInputs in;
      in.packages = &packages;
      in.kernel = &kernel_tree();
      in.kernel_source = k.package + "_" + k.version + "_" + k.architecture + ".deb";
      in.kernel_release = k.release;
      in.programs = spec.programs;
      in.modules = spec.modules;
      in.optional_modules = spec.optional_modules;
      in.where = spec.where.describe() + ": initramfs";
      InitramfsResult r = assemble_initramfs(in, m_staging);
      write_file_atomically(dir + "/modules.txt", join(r.module_order, "\n") + "\n");
      say("initramfs: writing " + std::to_string(r.tree.size()) + " entries");
      Compression c = spec.compression;
      c.threads = std::max(1, m_settings.threads);
      FileSink sink(dir + "/initrd.img");
      write_initramfs(r.tree, m_settings.source_date_epoch, c, sink);
      return std::vector<std::string>{"initrd.img", "modules.txt"};
    });
  }

  CachedEntry rootfs_step() {
    RootfsFormat format = parse_rootfs_format(m_guest.rootfs_format, m_recipe.path + ": rootfs.format");
    StepKey key("rootfs");
    key.add("format", k_step_format)
        .add("fs", rootfs_format_name(format))
        .add("tools", rootfs_tool_versions(format))
        .add("packages", packages_key(m_lock, "rootfs"))
        .add("recipe", rootfs_recipe_key(m_recipe, m_lock))
        .add("seed", m_guest.seed)
        .add("epoch", std::to_string(m_settings.source_date_epoch));
    return cached(key, "rootfs", [&](const std::string &dir) {
      AssemblyOptions assembly;
      assembly.progress = m_progress;
      LayeredTree tree = assemble_rootfs(m_recipe, m_lock, m_store, m_staging, assembly);
      // The initramfs ends in `exec switch_root /newroot /sbin/init` (initramfs_init.cpp).
      check_program_runs(tree.full(), "/sbin/init", "", "init", m_recipe.path);
      RootfsImageSettings s;
      s.format = format;
      s.seed = m_guest.seed;
      s.source_date_epoch = m_settings.source_date_epoch;
      s.scratch_dir = m_scratch.path() + "/rootfs-tree";
      s.consumable_content_dir = m_staging.dir(); // this build's own staging: linked, not copied
      fs::create_directories(s.scratch_dir);
      s.progress = m_progress;
      RootfsImageResult r = write_rootfs_image(tree.full(), s, dir + "/rootfs.img");
      fs::remove_all(s.scratch_dir);
      nlohmann::ordered_json v = r;
      write_file_atomically(dir + "/verity.json", v.dump(2) + "\n");
      return std::vector<std::string>{"rootfs.img", "verity.json"};
    });
  }

  // The verity parameters of the root file system step, and the command line that pins them (with
  // the root partition of disk.img as the root device on disk-booted paths).
  void read_verity(const CachedEntry &rootfs) {
    const std::string verity = rootfs.file("verity.json");
    m_verity_json = parse_json_text(read_text_file(verity, limits::k_text_record), verity);
    try {
      m_verity = m_verity_json.get<VerityInfo>();
    } catch (const nlohmann::json::exception &e) { // a record of another mrforge version, or tampered with
      throw FormatError(verity, 0,
                        std::string("not a verity record this mrforge writes (") + e.what() +
                            "); remove the step cache entry " + rootfs.dir + " or build with --no-cache");
    }
    std::string params = verity_cmdline(m_verity, m_guest.rootfs_format);
    if (m_guest.boot.path != BootPath::direct)
      params += " mrforge.rootdev=/dev/vda" + std::to_string(k_root_partition_number);
    m_cmdline = m_guest.cmdline.empty() ? params : m_guest.cmdline + " " + params;
  }

  // The os-release text of the UKI's .osrel section: who the image is (the recipe), not Debian.
  std::string uki_os_release() const {
    return "ID=" + m_recipe.name + "\nVERSION_ID=" + m_guest.version + "\nPRETTY_NAME=\"" + m_recipe.name + " " +
           m_guest.version + "\"\n";
  }

  // boot: uki. The UKI (stub + .osrel, .cmdline, .initrd, .linux) and disk.img: a GPT disk
  // whose ESP holds it as the removable-media boot loader, with the verity root as partition 2.
  CachedEntry uki_disk_step(const CachedEntry &kernel, const CachedEntry &initrd, const CachedEntry &rootfs) {
    const PackageFile &stub = m_guest.boot.stub;
    const LockedPackage &p = locked_package(m_lock, stub.package, "firmware");
    StepKey key("uki-disk");
    key.add("format", k_step_format)
        .add("uki_format", k_uki_disk_format)
        .add("stub", p.name + "=" + p.sha256)
        .add("stub_path", stub.path)
        .add("kernel", kernel.files.at("vmlinuz").sha256_hex)
        .add("release", m_lock.kernel->release)
        .add("initrd", initrd.files.at("initrd.img").sha256_hex)
        .add("rootfs", rootfs.files.at("rootfs.img").sha256_hex)
        .add("cmdline", m_cmdline)
        .add("osrel", uki_os_release())
        .add("seed", m_guest.seed)
        .add("epoch", std::to_string(m_settings.source_date_epoch))
        .add("tools", disk_tool_versions());
    return cached(key, "uki-disk", [&](const std::string &dir) {
      say("uki: unpacking " + stub.package);
      FsTree tree;
      unpack_deb(deb_path(m_store, p), deb_name(p), tree, m_staging, m_policy);
      const Node &n = file_in_tree(tree, stub.path, stub.where.describe() + ": stub: package " + stub.package);
      MappedFile stub_file(n.content_path, limits::k_artifact);
      MappedFile kernel_file(kernel.file("vmlinuz"), limits::k_artifact);
      MappedFile initrd_file(initrd.file("initrd.img"), limits::k_artifact);
      const std::string osrel = uki_os_release();
      say("uki: assembling");
      Bytes uki = assemble_uki(stub_file.bytes(), stub.package + ":/" + stub.path,
                               {{".osrel", ByteView::of(osrel)},
                                {".cmdline", ByteView::of(m_cmdline)},
                                {".initrd", initrd_file.bytes()},
                                {".linux", kernel_file.bytes()}});
      write_file_atomically(dir + "/uki.efi", ByteView(uki.data(), uki.size()));
      write_boot_disk(dir, "uki", {{"EFI/BOOT/BOOTX64.EFI", dir + "/uki.efi"}}, rootfs);
      return std::vector<std::string>{"uki.efi", "disk.img", "disk.json"};
    });
  }

  // boot: shim-grub. The grub.cfg that boots the kernel and initrd from the ESP, and disk.img
  // with, on its ESP: shim as the removable-media boot loader, GRUB next to it (shim starts
  // grubx64.efi from its own folder), grub.cfg where GRUB's built-in prefix /EFI/debian finds it,
  // the kernel and initrd at the root; and NO fbx64.efi (shim would run its fallback and reset, see
  // BOOT_NOTES.md). The verity root is partition 2.
  CachedEntry shim_grub_disk_step(const CachedEntry &kernel, const CachedEntry &initrd, const CachedEntry &rootfs) {
    const BootSpec &boot = m_guest.boot;
    const LockedPackage &shim = locked_package(m_lock, boot.shim.package, "firmware");
    const LockedPackage &grub = locked_package(m_lock, boot.grub.package, "firmware");
    StepKey key("shim-grub-disk");
    key.add("format", k_step_format)
        .add("shim_grub_format", k_shim_grub_disk_format)
        .add("shim", shim.name + "=" + shim.sha256)
        .add("shim_path", boot.shim.path)
        .add("grub", grub.name + "=" + grub.sha256)
        .add("grub_path", boot.grub.path)
        .add("kernel", kernel.files.at("vmlinuz").sha256_hex)
        .add("release", m_lock.kernel->release)
        .add("initrd", initrd.files.at("initrd.img").sha256_hex)
        .add("rootfs", rootfs.files.at("rootfs.img").sha256_hex)
        .add("cmdline", m_cmdline)
        .add("seed", m_guest.seed)
        .add("epoch", std::to_string(m_settings.source_date_epoch))
        .add("tools", disk_tool_versions());
    return cached(key, "shim-grub-disk", [&](const std::string &dir) {
      std::string cfg;
      try {
        cfg = grub_config_text("/vmlinuz", "/initrd.img", m_cmdline);
      } catch (const InputError &e) { // the recipe's part was checked when it loaded; this is the whole line
        throw InputError(m_recipe.path + ": cmdline", e.what());
      }
      struct ChainFile {
        const LockedPackage &package;
        const PackageFile &file;
        const char *name;
      };
      for (const ChainFile &c :
           {ChainFile{shim, boot.shim, "shimx64.efi"}, ChainFile{grub, boot.grub, "grubx64.efi"}}) {
        say("shim-grub: unpacking " + c.package.name);
        FsTree tree;
        unpack_deb(deb_path(m_store, c.package), deb_name(c.package), tree, m_staging, m_policy);
        const Node &n = file_in_tree(tree, c.file.path, c.file.where.describe() + ": package " + c.package.name);
        copy_file_to(n.content_path, dir + "/" + c.name);
      }
      write_file_atomically(dir + "/grub.cfg", cfg);
      write_boot_disk(dir, "shim-grub",
                      {{"EFI/BOOT/BOOTX64.EFI", dir + "/shimx64.efi"},
                       {"EFI/BOOT/grubx64.efi", dir + "/grubx64.efi"},
                       {"EFI/debian/grub.cfg", dir + "/grub.cfg"},
                       {"initrd.img", initrd.file("initrd.img")},
                       {"vmlinuz", kernel.file("vmlinuz")}},
                      rootfs);
      return std::vector<std::string>{"shimx64.efi", "grubx64.efi", "grub.cfg", "disk.img", "disk.json"};
    });
  }

  // A disk boot's disk.img in `dir`: an ESP holding `esp_files` and the verity root as partition 2;
  // and disk.json, its layout (GUIDs, offsets, volume ID, the ESP's files, the tools).
  void write_boot_disk(const std::string &dir, const char *boot, std::vector<EspFile> esp_files,
                       const CachedEntry &rootfs) {
    DiskImageSettings d;
    d.seed = m_guest.seed;
    d.source_date_epoch = m_settings.source_date_epoch;
    d.esp_files = std::move(esp_files);
    d.root_image = rootfs.file("rootfs.img");
    d.scratch_dir = m_scratch.path();
    d.progress = m_progress;
    DiskImageResult r = write_disk_image(d, dir + "/disk.img");
    nlohmann::ordered_json files = nlohmann::ordered_json::array();
    for (const EspFile &f : d.esp_files) files.push_back(f.path);
    nlohmann::ordered_json j{{"boot", boot},
                             {"disk_guid", r.disk_guid},
                             {"esp",
                              {{"guid", r.esp_guid},
                               {"offset", r.esp_offset},
                               {"size", r.esp_size},
                               {"volume_id", r.esp_volume_id},
                               {"files", files}}},
                             {"root", {{"guid", r.root_guid}, {"offset", r.root_offset}, {"size", r.root_size}}},
                             {"size", r.disk_size},
                             {"tools", r.tools}};
    write_file_atomically(dir + "/disk.json", j.dump(2) + "\n");
  }

  template <typename Fn> CachedEntry cached(const StepKey &key, const std::string &name, Fn &&produce) {
    return cached(key, m_cache.lookup(key), name, std::forward<Fn>(produce));
  }

  // The step with its cache already looked up (`hit`).
  template <typename Fn>
  CachedEntry cached(const StepKey &key, const std::optional<CachedEntry> &hit, const std::string &name, Fn &&produce) {
    if (hit) {
      say(name + ": unchanged (step cache " + key.digest().substr(0, 12) + ")");
      m_steps.emplace_back(name, true);
      return *hit;
    }
    std::string dir = m_cache.begin(key);
    try {
      std::vector<std::string> outputs = produce(dir);
      m_steps.emplace_back(name, false);
      CachedEntry e = m_cache.commit(key, dir, outputs);
      if (!m_settings.use_cache) m_uncached.push_back(e.dir);
      return e;
    } catch (...) {
      std::error_code ec;
      fs::remove_all(dir, ec);
      throw;
    }
  }

  // --- output --------------------------------------------------------------------------------

  GuestBuildResult finish(const CachedEntry &firmware, const CachedEntry &kernel, const CachedEntry &initrd,
                          const CachedEntry &rootfs, const std::optional<CachedEntry> &disk) {
    GuestBuildResult result;
    result.verity = m_verity;
    const nlohmann::json &v = m_verity_json;
    {
      std::istringstream mods(read_text_file(initrd.file("modules.txt"), limits::k_text_record));
      for (std::string line; std::getline(mods, line);)
        if (!line.empty()) result.module_order.push_back(line);
    }
    result.cmdline = m_cmdline;
    result.boot = boot_path_name(m_guest.boot.path);

    OutputDir out(m_settings.out_dir, OutputKind::guest_image);
    const std::string &t = out.temp_path();
    copy_file_to(firmware.file("OVMF.fd"), t + "/OVMF.fd");
    copy_file_to(kernel.file("vmlinuz"), t + "/vmlinuz");
    copy_file_to(initrd.file("initrd.img"), t + "/initrd.img");
    copy_file_to(rootfs.file("rootfs.img"), t + "/rootfs.img");
    // A disk-booted image's boot chain files (role, name), besides disk.img.
    std::vector<std::pair<std::string, std::string>> chain;
    if (m_guest.boot.path == BootPath::uki) chain = {{"uki", "uki.efi"}};
    if (m_guest.boot.path == BootPath::shim_grub)
      chain = {{"shim", "shimx64.efi"}, {"grub", "grubx64.efi"}, {"grub_cfg", "grub.cfg"}};
    if (disk) {
      copy_file_to(disk->file("disk.img"), t + "/disk.img");
      for (const auto &[role, name] : chain) copy_file_to(disk->file(name), t + "/" + name);
    }

    // dstack's names, and for a disk-booted image how it boots (the kernel, initrd and command
    // line are then inside the boot disk; they stay listed as its parts).
    nlohmann::ordered_json meta{{"bios", "OVMF.fd"},         {"kernel", "vmlinuz"},    {"initrd", "initrd.img"},
                                {"cmdline", result.cmdline}, {"rootfs", "rootfs.img"}, {"version", m_guest.version}};
    if (disk) {
      meta["boot"] = result.boot;
      meta["disk"] = "disk.img";
      for (const auto &[role, name] : chain) meta[role] = name;
    }
    write_file_atomically(t + "/metadata.json", meta.dump(2) + "\n");

    GuestFiles files;
    files.firmware = t + "/OVMF.fd";
    files.kernel = t + "/vmlinuz";
    files.initrd = t + "/initrd.img";
    files.cmdline = result.cmdline;
    if (disk) {
      files.disk = t + "/disk.img";
      if (m_guest.boot.path == BootPath::uki) files.uki = t + "/uki.efi";
      if (m_guest.boot.path == BootPath::shim_grub) {
        files.shim = t + "/shimx64.efi";
        files.grub = t + "/grubx64.efi";
        files.grub_cfg = t + "/grub.cfg";
      }
    }
    for (const MeasureShape &shape : m_guest.measure) {
      result.shapes.push_back(measure_guest_shape(shape, files));
      const ShapeMeasurement &m = result.shapes.back();
      say("measured: " + m.profile + ", " + std::to_string(m.cpus) + " vCPU, " + format_memory_size(m.memory) +
          ", OVMF variant " + m.ovmf_variant + " (" + m.ovmf_basis + ")");
    }
    write_file_atomically(t + "/measurements.json", measurements_json(result.shapes).dump(2) + "\n");
    // dstack's measurement file, so that dstack's tooling can verify a TD of this image from its
    // attestation document (its line in sha256sum.txt binds it to the image's digest).
    // (A disk-booted image has none: dstack boots its images directly.)
    if (!disk) {
      const Bytes dstack = dstack_measurement_file(result.shapes);
      write_file_atomically(t + "/" + k_tdx_measurement_file_name, ByteView(dstack.data(), dstack.size()));
    }
    write_file_atomically(t + "/recipe.lock", lock_to_json(m_lock));

    // sha256sum.txt lists them by name. The artifacts copied from the step cache keep the digests
    // the cache verified; only the files written here are hashed.
    std::map<std::string, FileDigest> cached_digests = {{"OVMF.fd", firmware.files.at("OVMF.fd")},
                                                        {"initrd.img", initrd.files.at("initrd.img")},
                                                        {"rootfs.img", rootfs.files.at("rootfs.img")},
                                                        {"vmlinuz", kernel.files.at("vmlinuz")}};
    std::vector<std::pair<std::string, std::string>> listed = {{"bios", "OVMF.fd"},
                                                               {"initrd", "initrd.img"},
                                                               {"dstack_measurement", k_tdx_measurement_file_name},
                                                               {"measurements", "measurements.json"},
                                                               {"metadata", "metadata.json"},
                                                               {"rootfs", "rootfs.img"},
                                                               {"kernel", "vmlinuz"}};
    if (disk) {
      cached_digests["disk.img"] = disk->files.at("disk.img");
      listed.erase(listed.begin() + 2); // no dstack measurement file
      listed.push_back({"disk", "disk.img"});
      for (const auto &[role, name] : chain) {
        cached_digests[name] = disk->files.at(name);
        listed.push_back({role, name});
      }
    }
    std::sort(listed.begin(), listed.end(), [](const auto &a, const auto &b) { return a.second < b.second; });
    std::string sums;
    for (const auto &[role, name] : listed) {
      auto known = cached_digests.find(name);
      FileDigest d = known != cached_digests.end() ? known->second : digest_file(t + "/" + name, limits::k_artifact);
      result.artifacts.push_back({role, name, d});
      sums += d.sha256_hex + "  " + name + "\n";
    }
    write_file_atomically(t + "/sha256sum.txt", sums);
    result.digest = to_hex(sha256(ByteView::of(sums)));
    write_file_atomically(t + "/digest.txt", result.digest + "\n");
    // The SBOMs are not in sha256sum.txt: its digest is dstack's os_image_hash, which an SBOM has
    // no part in. The statement lists them as subjects (by the digests the record holds).
    SbomModel sbom =
        make_sbom_model(m_recipe, m_lock, m_store, result.digest, cached_digests, m_settings.source_date_epoch);
    const std::map<std::string, std::string> sbom_digests = write_sboms(sbom, t);

    // In the order of the image (the root file system was built while the kernel unpacked).
    const std::vector<std::string> order = {"firmware", "kernel", "initramfs", "rootfs", "uki-disk", "shim-grub-disk"};
    auto rank = [&](const std::pair<std::string, bool> &s) { return std::find(order.begin(), order.end(), s.first); };
    std::stable_sort(m_steps.begin(), m_steps.end(), [&](const auto &a, const auto &b) { return rank(a) < rank(b); });
    result.steps = m_steps;
    // The record depends only on the inputs (not on the cache or the output path), so that two
    // builds of the same recipe give identical directories.
    nlohmann::ordered_json record;
    record["recipe"] = m_recipe.name;
    record["recipe_sha256"] = m_recipe.sha256;
    record["version"] = m_guest.version;
    record["digest"] = result.digest;
    record["cmdline"] = result.cmdline;
    record["boot"] = result.boot;
    record["artifacts"] = guest_build_json(result)["artifacts"];
    record["verity"] = v;
    record["initramfs_modules"] = result.module_order;
    record["initramfs_compressor"] = compression_description(m_guest.initramfs.compression);
    record["kernel"] = {
        {"package", m_lock.kernel->package}, {"version", m_lock.kernel->version}, {"sha256", m_lock.kernel->sha256}};
    record["source_date_epoch"] = m_settings.source_date_epoch;
    record["lock_sha256"] = to_hex(sha256(ByteView::of(lock_to_json(m_lock))));
    record[k_sbom_record_field] = sbom_digests;
    record["tool"] = k_tool_name;
    out.write_record(record);
    out.commit();
    result.out_dir = out.final_path();
    for (const std::string &d : m_uncached) {
      std::error_code ec;
      fs::remove_all(d, ec);
    }
    return result;
  }

  const Recipe &m_recipe;
  const GuestSpec &m_guest;
  const Lock &m_lock;
  Store &m_store;
  const BuildSettings &m_settings;
  StepCache m_cache;
  ScratchDir m_scratch;
  ContentStaging m_staging;
  ContentStaging m_kernel_staging; // written by the kernel's unpacking thread only
  UnpackPolicy m_policy;
  std::function<void(const std::string &)> m_progress; // m_settings.progress, one call at a time
  std::mutex m_progress_mutex;
  std::future<std::unique_ptr<FsTree>> m_kernel_unpack;
  std::unique_ptr<FsTree> m_kernel_tree;
  std::vector<std::pair<std::string, bool>> m_steps;
  std::vector<std::string> m_uncached;
  VerityInfo m_verity;          // read_verity()
  nlohmann::json m_verity_json; // verity.json as the rootfs step wrote it
  std::string m_cmdline;        // the kernel command line with the verity parameters
};

} // namespace

std::string verity_cmdline(const VerityInfo &v, const std::string &format) {
  return "mrforge.roothash=" + v.root_hash + " mrforge.salt=" + v.salt +
         " mrforge.datablocks=" + std::to_string(v.data_blocks) +
         " mrforge.hashstart=" + std::to_string(v.hash_start_block) + " mrforge.rootfs=" + format;
}

GuestBuildResult build_guest(const Recipe &recipe, const Lock &lock, Store &store, const BuildSettings &settings) {
  if (!recipe.guest) throw InputError(recipe.path, "not a GuestImage recipe");
  // Refused now rather than after a long build; checked again when the output is swapped in.
  check_output_replaceable(settings.out_dir, OutputKind::guest_image);
  GuestBuilder builder(recipe, lock, store, settings);
  return builder.run();
}

nlohmann::ordered_json guest_build_json(const GuestBuildResult &r) {
  nlohmann::ordered_json j;
  j["out"] = r.out_dir;
  j["digest"] = r.digest;
  j["cmdline"] = r.cmdline;
  j["artifacts"] = nlohmann::ordered_json::array();
  for (const GuestArtifact &a : r.artifacts)
    j["artifacts"].push_back(
        {{"role", a.role}, {"name", a.name}, {"sha256", a.digest.sha256_hex}, {"size", a.digest.size}});
  j["root_hash"] = r.verity.root_hash;
  j["modules"] = r.module_order;
  j["steps"] = nlohmann::ordered_json::array();
  for (const auto &[name, hit] : r.steps) j["steps"].push_back({{"step", name}, {"cached", hit}});
  j["measurements"] = measurements_json(r.shapes)["shapes"];
  return j;
}

} // namespace mrforge::builder

// The initramfs: assembled from the host's installed busybox-static, dmsetup and its libraries and
// the modules of Debian's kernel package (the one the shipped kernel pin names, unpacked with
// unpack_deb as the guest build does), written twice under different conditions to identical
// bytes, read back with GNU cpio, checked against ldd, xz, busybox and kmod's modinfo on the same
// package as dpkg unpacks it, and (tagged [qemu]) booted with that package's kernel onto a
// dm-verity erofs root made with mkfs.erofs and veritysetup.
#include "support/kernel_package.hpp"
#include "test_support.hpp"

#include <builder/archive/compress.hpp>
#include <builder/fs/content_staging.hpp>
#include <builder/fs/fs_tree.hpp>
#include <builder/guest/initramfs.hpp>
#include <builder/guest/initramfs_init.hpp>
#include <builder/system/byte_sink.hpp>
#include <builder/system/subprocess.hpp>

#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using namespace mrforge;
using namespace mrforge::builder;
using namespace mrforge::test;
namespace fs = std::filesystem;

namespace {

constexpr int64_t k_epoch = 1700000000; // 2023-11-14 22:13:20 UTC
// The host packages whose installed files stand in for unpacked .debs (dmsetup's ldd closure).
const char *const k_packages[] = {"busybox-static", "dmsetup",  "libdevmapper1.02.1", "libc6",
                                  "libselinux1",    "libudev1", "libpcre2-8-0"};
// The modules the issue 5 prototype booted with (notes section 1), required and optional.
const std::vector<std::string> k_modules = {"virtio_blk", "dm-verity", "crc32c_generic", "erofs", "qemu_fw_cfg"};
const std::vector<std::string> k_optional = {"tdx-guest"};

// Where a kernel printk "[    2.113722] " starts inside `line`, after position 0; npos if none.
size_t printk_inside(const std::string &line) {
  for (size_t at = line.find('[', 1); at != std::string::npos; at = line.find('[', at + 1)) {
    size_t i = at + 1;
    while (i < line.size() && line[i] == ' ') ++i;
    const size_t int_start = i;
    while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
    if (i == int_start || i >= line.size() || line[i] != '.') continue;
    const size_t frac_start = ++i;
    while (i < line.size() && std::isdigit(static_cast<unsigned char>(line[i]))) ++i;
    if (i - frac_start == 6 && line.compare(i, 2, "] ") == 0) return at;
  }
  return std::string::npos;
}

// The serial console's lines. The kernel's printk can land in the middle of a line the init is
// writing ("MRFORGE-INIT: start[    2.113722] tsc: Refined TSC ...", its newline comes later): such a
// kernel message is cut off, so the init's own line reads whole (seen under load in CI).
std::vector<std::string> lines(const std::string &text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (size_t at = printk_inside(line); at != std::string::npos) line.erase(at);
    out.push_back(line);
  }
  return out;
}

std::vector<std::string> words(const std::string &line) {
  std::vector<std::string> out;
  std::istringstream in(line);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

bool contains(const std::string &haystack, const std::string &needle) {
  return haystack.find(needle) != std::string::npos;
}

// What these tests read from the host: the packages are REQUIREd (.ci/packages.txt lists them).
void require_host() {
  for (const char *p : k_packages) {
    INFO("package " << p << " (.ci/packages.txt lists it)");
    REQUIRE(run_shell(std::string("dpkg -s ") + p + " >/dev/null 2>&1").exit_code == 0);
  }
}

// The installed files of the host packages as a tree with the paths dpkg lists (as an unpacked
// bookworm .deb has them: lib/x86_64-linux-gnu/..., lib64/ld-linux-x86-64.so.2 -> /lib/...).
FsTree host_packages_tree() {
  std::string names;
  for (const char *p : k_packages) names += std::string(" ") + p;
  FsTree tree;
  for (const std::string &line : lines(sh("dpkg -L" + names + " | LC_ALL=C sort -u"))) {
    if (line.empty() || line[0] != '/' || line == "/.") continue; // "diverted by ..." notes
    std::string path = line.substr(1);
    std::error_code ec;
    if (fs::is_directory(fs::status(line, ec))) { // /lib64 is a directory to dpkg, a symlink on a merged-/usr host
      tree.ensure_directory(path, "host");
      continue;
    }
    fs::file_status st = fs::symlink_status(line, ec);
    if (ec || !fs::exists(st) && !fs::is_symlink(st)) continue; // removed conffiles and the like
    tree.ensure_directory(parent_path(path), "host");
    Node node;
    node.origin = "host " + line;
    if (fs::is_symlink(st)) {
      node.type = NodeType::symlink;
      node.mode = 0777;
      node.link_target = fs::read_symlink(line).string();
    } else {
      node.type = NodeType::regular;
      node.mode = static_cast<uint32_t>(st.permissions()) & 07777;
      node.content_path = line;
      node.size = fs::file_size(line);
    }
    tree.add(path, node, OnExisting::replace);
  }
  return tree;
}

// The kernel package as dpkg unpacks it (dpkg-deb -x), with the module index depmod makes when
// the package is installed: what `modinfo -b ROOT -k RELEASE` reads, independently of unpack_deb.
// Made once per test process.
const std::string &dpkg_kernel_root() {
  static std::unique_ptr<TempDir> root;
  if (root) return root->path();
  const KernelPackage &k = unpacked_kernel().package;
  auto made = std::make_unique<TempDir>("dpkg-kernel");
  sh("dpkg-deb -x " + shell_quote(k.deb) + " " + shell_quote(made->path()) + " && depmod -b " +
     shell_quote(made->path()) + " " + shell_quote(k.release));
  root = std::move(made);
  return root->path();
}

// `modinfo -k RELEASE` of the package as dpkg unpacks it (dpkg_kernel_root).
std::string modinfo(const std::string &args) {
  return sh("modinfo -b " + shell_quote(dpkg_kernel_root()) + " -k " + shell_quote(unpacked_kernel().package.release) +
            " " + args);
}

struct Fixture {
  FsTree packages = host_packages_tree();
  const UnpackedKernel &kernel = unpacked_kernel();
  InitramfsInputs inputs() const {
    InitramfsInputs in;
    in.packages = &packages;
    in.kernel = &kernel.tree;
    in.kernel_source = kernel.package.file_name();
    in.kernel_release = kernel.package.release;
    in.programs = {"/sbin/dmsetup"};
    in.modules = k_modules;
    in.optional_modules = k_optional;
    in.where = "recipe.yaml:12:3: initramfs";
    return in;
  }
};

std::string write_file(const FsTree &tree, const std::string &path, const Compression &compression) {
  FileSink sink(path);
  write_initramfs(tree, k_epoch, compression, sink);
  return read_text(path);
}

// `modinfo -F depends` of the package's modules, followed to the closure of `names`.
std::set<std::string> modinfo_closure(const std::vector<std::string> &names) {
  std::set<std::string> out;
  std::vector<std::string> todo = names;
  while (!todo.empty()) {
    std::string n = todo.back();
    todo.pop_back();
    std::string key = n;
    std::replace(key.begin(), key.end(), '-', '_');
    if (!out.insert(key).second) continue;
    std::string deps = modinfo("-F depends " + shell_quote(n));
    std::istringstream in(deps);
    for (std::string d; std::getline(in, d, ',');) {
      while (!d.empty() && d.back() == '\n') d.pop_back();
      if (!d.empty()) todo.push_back(d);
    }
  }
  return out;
}

} // namespace

TEST_CASE("the initramfs is byte-identical across staging directories, thread counts and assemblies", "[initramfs]") {
  require_host();
  Fixture f;
  TempDir tmp("h2-initramfs");
  ContentStaging staging_a(tmp / "staging-a");
  ContentStaging staging_b(tmp / "nested/other-staging");
  InitramfsResult a = assemble_initramfs(f.inputs(), staging_a);
  InitramfsInputs listed_busybox = f.inputs(); // busybox is always installed; listing it changes nothing
  listed_busybox.programs.insert(listed_busybox.programs.begin(), "/bin/busybox");
  InitramfsResult b = assemble_initramfs(listed_busybox, staging_b);
  std::string gz1 = write_file(a.tree, tmp / "a.gz", {CompressionKind::gzip, 9, 1});
  std::string gz2 = write_file(b.tree, tmp / "b.gz", {CompressionKind::gzip, 9, 3});
  CHECK(gz1.size() > 1000000);
  CHECK(gz1 == gz2);
  std::string zst1 = write_file(a.tree, tmp / "a.zst", {CompressionKind::zstd, 19, 1});
  std::string zst2 = write_file(b.tree, tmp / "b.zst", {CompressionKind::zstd, 19, 2});
  CHECK(zst1 == zst2);
  // Both decompress to the same cpio.
  CHECK(sh("gzip -dc " + tmp / "a.gz" + " | sha256sum") == sh("zstd -qdc " + tmp / "b.zst" + " | sha256sum"));
  CHECK(a.module_order == b.module_order);
}

TEST_CASE("the initramfs holds /init, busybox applets, dmsetup with the libraries ldd lists, and the modules",
          "[initramfs]") {
  require_host();
  Fixture f;
  TempDir tmp("h2-initramfs");
  ContentStaging staging(tmp / "staging");
  InitramfsResult r = assemble_initramfs(f.inputs(), staging);
  write_file(r.tree, tmp / "initrd.gz", {CompressionKind::gzip, 6, 2});
  sh("gzip -dc " + shell_quote(tmp / "initrd.gz") + " > " + shell_quote(tmp / "initrd.cpio"));

  // GNU cpio's verbose listing: every entry root-owned, dated at the epoch; names as in the tree.
  std::vector<std::string> date = words(sh("LC_ALL=C date -u -d @" + std::to_string(k_epoch) + " '+%b %-d %Y'"));
  std::map<std::string, std::vector<std::string>> listed; // name -> fields
  for (const std::string &line : lines(sh("cd " + shell_quote(tmp.path()) +
                                          " && TZ=UTC LC_ALL=C cpio -itv --quiet --numeric-uid-gid < initrd.cpio"))) {
    std::vector<std::string> w = words(line);
    REQUIRE(w.size() >= 9);
    CAPTURE(line);
    CHECK(w[2] == "0");
    CHECK(w[3] == "0");
    CHECK(std::vector<std::string>(w.begin() + 5, w.begin() + 8) == date);
    CHECK(listed.emplace(w[8], w).second);
    if (w[0][0] == 'l') {
      REQUIRE(w.size() == 11);
      CHECK(w[10] == "busybox"); // only applet links, never a host path
      CHECK(r.tree.find("bin/" + fs::path(w[8]).filename().string()) != nullptr);
    }
  }
  std::set<std::string> tree_paths;
  for (const auto &[path, node] : r.tree.nodes()) tree_paths.insert(path);
  std::set<std::string> listed_paths;
  for (const auto &[name, w] : listed) listed_paths.insert(name);
  CHECK(listed_paths == tree_paths);

  auto kind = [&](const std::string &name) {
    return listed.count(name) ? listed[name][0].substr(0, 1) : std::string("?");
  };
  auto perms = [&](const std::string &name) { return listed.count(name) ? listed[name][0] : std::string("?"); };
  CHECK(perms("init") == "-rwxr-xr-x");
  CHECK(perms("bin/busybox") == "-rwxr-xr-x");
  CHECK(perms("sbin/dmsetup") == "-rwxr-xr-x");
  CHECK(kind("lib64/ld-linux-x86-64.so.2") == "-");
  CHECK(perms("tmp") == "drwxrwxrwt");
  for (const char *dir : {"dev", "proc", "sys", "newroot", "run", "tmp", "lib/modules", "etc/mrforge"})
    CHECK(kind(dir) == "d");
  for (const std::string &applet : initramfs_busybox_applets()) CHECK(kind("bin/" + applet) == "l");
  for (const char *applet : {"sh", "mount", "umount", "insmod", "switch_root", "poweroff", "base64", "sleep", "cat"})
    CHECK(kind(std::string("bin/") + applet) == "l");

  // The shared libraries: exactly ldd's list for dmsetup, as regular files where ld.so looks.
  std::set<std::string> ldd_names;
  for (const std::string &line : lines(sh("ldd /sbin/dmsetup"))) {
    std::vector<std::string> w = words(line);
    if (w.size() >= 3 && w[1] == "=>") ldd_names.insert(w[0]);
  }
  CHECK(ldd_names.count("libdevmapper.so.1.02.1") == 1);
  std::set<std::string> lib_names;
  for (const auto &[name, w] : listed) {
    for (const std::string dir : {"lib/x86_64-linux-gnu/", "usr/lib/x86_64-linux-gnu/"}) {
      if (name.compare(0, dir.size(), dir) != 0) continue;
      CAPTURE(name);
      CHECK(w[0][0] == '-');
      lib_names.insert(name.substr(dir.size()));
    }
  }
  CHECK(lib_names == ldd_names);

  // Extract and compare bytes with the host's files and with xz -dc.
  sh("mkdir " + shell_quote(tmp / "x") + " && cd " + shell_quote(tmp / "x") + " && cpio -idm --quiet < ../initrd.cpio");
  for (const std::string &lib : lib_names) {
    std::string inside =
        fs::exists(tmp / ("x/lib/x86_64-linux-gnu/" + lib)) ? "lib/x86_64-linux-gnu/" : "usr/lib/x86_64-linux-gnu/";
    CAPTURE(lib);
    CHECK(run_shell("cmp " + shell_quote(tmp / ("x/" + inside + lib)) + " /lib/x86_64-linux-gnu/" + lib).exit_code ==
          0);
  }
  CHECK(run_shell("cmp " + shell_quote(tmp / "x/lib64/ld-linux-x86-64.so.2") + " /lib64/ld-linux-x86-64.so.2")
            .exit_code == 0);
  CHECK(run_shell("cmp " + shell_quote(tmp / "x/sbin/dmsetup") + " /sbin/dmsetup").exit_code == 0);
  CHECK(run_shell("cmp " + shell_quote(tmp / "x/bin/busybox") + " /bin/busybox").exit_code == 0);
  std::string module = modinfo("-n dm-verity");
  module.pop_back();
  CHECK(sh("xz -dc " + shell_quote(module) + " | sha256sum") ==
        sh("sha256sum < " + shell_quote(tmp / "x/lib/modules/dm-verity.ko")));
  std::string order;
  for (const std::string &m : r.module_order) order += m + "\n";
  CHECK(read_text(tmp / "x/etc/mrforge/modules") == order);
  for (const std::string &m : r.module_order) {
    std::string name = m.back() == '?' ? m.substr(0, m.size() - 1) : m;
    CHECK(kind("lib/modules/" + name + ".ko") == "-");
  }
  CHECK(read_text(tmp / "x/init") == initramfs_init_script());
  // The script parses (busybox sh -n) and the extracted dmsetup runs with only the initramfs's
  // libraries (its own loader, no host library path).
  auto syntax = run_shell("busybox sh -n " + shell_quote(tmp / "x/init"));
  CHECK(syntax.err == "");
  CHECK(syntax.exit_code == 0);
  auto version =
      run_shell(shell_quote(tmp / "x/lib64/ld-linux-x86-64.so.2") + " --inhibit-cache --library-path " +
                shell_quote(tmp / "x/lib/x86_64-linux-gnu") + ":" + shell_quote(tmp / "x/usr/lib/x86_64-linux-gnu") +
                " " + shell_quote(tmp / "x/sbin/dmsetup") + " version");
  CHECK(contains(version.out, "Library version:"));
}

TEST_CASE("module load order puts dependencies first and marks optional-only ones", "[initramfs]") {
  require_host();
  Fixture f;
  TempDir tmp("h2-initramfs");
  ContentStaging staging(tmp / "staging");
  InitramfsResult r = assemble_initramfs(f.inputs(), staging);
  // The order the prototype booted with (notes section 1, from modules.dep and modules.softdep).
  CHECK(r.module_order == std::vector<std::string>{"virtio_blk", "dm-mod", "dm-bufio", "reed_solomon", "dm-verity",
                                                   "crc32c_generic", "libcrc32c", "erofs", "qemu_fw_cfg", "configfs?",
                                                   "tsm?", "tdx-guest?"});
  // Independently: required = closure of the required names; optional = the rest of the closure.
  std::set<std::string> required = modinfo_closure(k_modules);
  std::vector<std::string> all = k_modules;
  all.insert(all.end(), k_optional.begin(), k_optional.end());
  std::set<std::string> everything = modinfo_closure(all);
  for (const std::string &m : r.module_order) {
    bool optional = m.back() == '?';
    std::string key = optional ? m.substr(0, m.size() - 1) : m;
    std::replace(key.begin(), key.end(), '-', '_');
    CAPTURE(m);
    CHECK(everything.count(key) == 1);
    CHECK(optional == (required.count(key) == 0));
  }
  CHECK(r.module_order.size() == everything.size());
}

TEST_CASE("missing initramfs inputs are InputErrors naming the recipe location", "[initramfs]") {
  require_host();
  Fixture f;
  TempDir tmp("h2-initramfs");
  ContentStaging staging(tmp / "staging");
  const std::string where = "recipe.yaml:12:3: initramfs";
  {
    InitramfsInputs in = f.inputs();
    in.programs.clear();
    CHECK_THROWS_WITH(assemble_initramfs(in, staging), Catch::Contains(where) && Catch::Contains("dmsetup"));
  }
  {
    InitramfsInputs in = f.inputs();
    in.programs.push_back("/sbin/cryptsetup");
    CHECK_THROWS_WITH(assemble_initramfs(in, staging), Catch::Contains(where) && Catch::Contains("/sbin/cryptsetup"));
    in.programs.back() = "sbin/dmsetup";
    CHECK_THROWS_WITH(assemble_initramfs(in, staging), Catch::Contains("not an absolute path"));
  }
  {
    InitramfsInputs in = f.inputs();
    in.modules.push_back("no_such_module");
    CHECK_THROWS_WITH(assemble_initramfs(in, staging), Catch::Contains(where) && Catch::Contains("no_such_module"));
  }
  {
    FsTree packages = f.packages;
    packages.remove("bin/busybox");
    InitramfsInputs in = f.inputs();
    in.packages = &packages;
    CHECK_THROWS_WITH(assemble_initramfs(in, staging), Catch::Contains(where) && Catch::Contains("busybox-static"));
  }
  {
    FsTree packages = f.packages;
    REQUIRE(packages.remove("lib/x86_64-linux-gnu/libdevmapper.so.1.02.1") == 1);
    InitramfsInputs in = f.inputs();
    in.packages = &packages;
    CHECK_THROWS_WITH(assemble_initramfs(in, staging), Catch::Contains(where) &&
                                                           Catch::Contains("libdevmapper.so.1.02.1") &&
                                                           Catch::Contains("/sbin/dmsetup"));
  }
  {
    InitramfsInputs in = f.inputs();
    in.kernel_release = "6.1.0-99-amd64";
    CHECK_THROWS_WITH(assemble_initramfs(in, staging),
                      Catch::Contains(f.kernel.package.file_name()) && Catch::Contains(f.kernel.package.release));
  }
}

namespace {

struct BootResult {
  std::string log;
  std::string roothash;
};

// Builds a verity-protected erofs root (a static busybox whose /sbin/init prints MRFORGE-READY
// and powers off), boots the kernel package's vmlinuz with `initrd` under QEMU TCG + OVMF, and
// returns the serial log. `corrupt_hash` flips the root hash's first digit on the command line.
BootResult boot(const TempDir &tmp, const std::string &initrd, bool corrupt_hash) {
  std::string root = tmp / "rootfs";
  sh("mkdir -p " + root + "/bin " + root + "/sbin " + root + "/dev " + root + "/proc " + root +
     "/sys && cp /bin/busybox " + root + "/bin/busybox && ln -sf busybox " + root + "/bin/sh");
  write_text(root + "/sbin/init",
             "#!/bin/sh\n/bin/busybox echo 'MRFORGE-READY test' > /dev/console\n/bin/busybox poweroff -f\n");
  fs::permissions(root + "/sbin/init", fs::perms(0755));
  std::string img = tmp / "root.img";
  fs::remove(img);
  const std::string salt = "aa1a396a21e187ac63f9d0ab2bb2962e0c7e0412444cab0337be112873f49a98";
  sh("env -u SOURCE_DATE_EPOCH mkfs.erofs --quiet -T" + std::to_string(k_epoch) +
     " -U 6b1c9f3e-2a44-4c8e-9d55-0e6f2a7b1c01 --all-root " + img + " " + root);
  uint64_t data_size = fs::file_size(img);
  REQUIRE(data_size % 4096 == 0);
  uint64_t blocks = data_size / 4096;
  std::string format = sh("veritysetup format " + img + " " + img + " --hash-offset=" + std::to_string(data_size) +
                          " --data-blocks=" + std::to_string(blocks) +
                          " --data-block-size=4096 --hash-block-size=4096 --hash=sha256 --salt=" + salt +
                          " --uuid=0f4a3c2b-1d5e-4f60-8a71-92b3c4d5e6f7");
  BootResult result;
  for (const std::string &line : lines(format))
    if (line.rfind("Root hash:", 0) == 0) result.roothash = words(line).back();
  REQUIRE(result.roothash.size() == 64);
  std::string hash = result.roothash;
  if (corrupt_hash) hash[0] = hash[0] == '0' ? '1' : '0';
  std::string append = "console=ttyS0 panic=-1 mrforge.roothash=" + hash + " mrforge.salt=" + salt +
                       " mrforge.datablocks=" + std::to_string(blocks) +
                       " mrforge.hashstart=" + std::to_string(blocks + 1) + " mrforge.rootfs=erofs mrforge.check=1";
  std::string log = tmp / (corrupt_hash ? "bad.log" : "boot.log");
  const UnpackedKernel &k = unpacked_kernel();
  const Node *vmlinuz = k.tree.find("boot/vmlinuz-" + k.package.release);
  REQUIRE(vmlinuz != nullptr); // the modules in the initrd must come from the same kernel build
  ProcessOptions options;
  options.timeout = std::chrono::seconds(240);
  ProcessResult qemu = run_process({"qemu-system-x86_64",
                                    "-machine",
                                    "q35",
                                    "-accel",
                                    "tcg",
                                    "-cpu",
                                    "max",
                                    "-smp",
                                    "1",
                                    "-m",
                                    "1024",
                                    "-nodefaults",
                                    "-no-reboot",
                                    "-display",
                                    "none",
                                    "-serial",
                                    "file:" + log,
                                    "-bios",
                                    test::debian_ovmf(),
                                    "-kernel",
                                    vmlinuz->content_path,
                                    "-initrd",
                                    initrd,
                                    "-append",
                                    append,
                                    "-drive",
                                    "file=" + img + ",if=virtio,format=raw,readonly=on"},
                                   options);
  INFO(qemu.stderr_data);
  REQUIRE(qemu.success());
  result.log = read_text(log);
  return result;
}

bool has_line(const std::vector<std::string> &log, const std::string &line) {
  return std::find(log.begin(), log.end(), line) != log.end();
}

// The base64 between MRFORGE-CHECK-BEGIN/END NAME, decoded by the host's base64.
std::string dumped(const std::vector<std::string> &log, const std::string &name, const TempDir &tmp) {
  auto begin = std::find(log.begin(), log.end(), "MRFORGE-CHECK-BEGIN " + name);
  auto end = std::find(log.begin(), log.end(), "MRFORGE-CHECK-END " + name);
  REQUIRE(begin != log.end());
  REQUIRE(end != log.end());
  REQUIRE(begin < end);
  std::string text;
  for (auto it = begin + 1; it != end; ++it) text += *it + "\n";
  write_text(tmp / "dump.b64", text);
  return sh("base64 -d " + shell_quote(tmp / "dump.b64"));
}

} // namespace

TEST_CASE("the initramfs boots the Debian kernel onto a dm-verity erofs root and dumps the check inputs",
          "[initramfs][qemu]") {
  require_host();
  Fixture f;
  TempDir tmp("h2-boot");
  ContentStaging staging(tmp / "staging");
  InitramfsResult r = assemble_initramfs(f.inputs(), staging);
  write_file(r.tree, tmp / "initrd.gz", {CompressionKind::gzip, 9, 2});

  BootResult good = boot(tmp, tmp / "initrd.gz", false);
  std::vector<std::string> log = lines(good.log);
  INFO(good.log);
  CHECK(has_line(log, "MRFORGE-INIT: start"));
  CHECK(has_line(log, "MRFORGE-INIT: optional module tdx-guest not loaded"));
  CHECK(has_line(log, "MRFORGE-INIT: verity root mounted: " + good.roothash));
  CHECK(has_line(log, "MRFORGE-CHECK: missing tpm-event-log")); // no TPM device in this boot
  CHECK(has_line(log, "MRFORGE-CHECK: missing ccel"));          // not a TDX guest
  // Sizes seen in the prototype with -m 1024 (notes section 4).
  CHECK(dumped(log, "fw_cfg/etc/table-loader", tmp).size() == 4096);
  CHECK(dumped(log, "fw_cfg/etc/acpi/rsdp", tmp).size() == 20);
  CHECK(dumped(log, "fw_cfg/etc/acpi/tables", tmp).size() == 131072);
  CHECK(has_line(log, "MRFORGE-CHECK: done"));
  CHECK(has_line(log, "MRFORGE-INIT: switch_root"));
  CHECK(has_line(log, "MRFORGE-READY test"));
  CHECK(!contains(good.log, "FATAL"));

  BootResult bad = boot(tmp, tmp / "initrd.gz", true);
  std::vector<std::string> bad_log = lines(bad.log);
  INFO(bad.log);
  CHECK(has_line(bad_log, "MRFORGE-INIT: start"));
  CHECK(contains(bad.log, "MRFORGE-INIT: FATAL: mount erofs from /dev/mapper/root"));
  CHECK(!contains(bad.log, "verity root mounted"));
  CHECK(!contains(bad.log, "MRFORGE-READY"));
}

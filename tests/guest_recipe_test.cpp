// GuestImage recipes and kernel pins: strict loading (every bad field named by file, line, column
// and field), the shipped pin checked against the host's apt index and its package's kernel
// config, and locking and fetching against a real signed repository made by the fixture (three
// package sets resolved apart and merged, stale locks named entry by entry, the kernel .deb
// fetched and verified).
#include "support/apt_repo.hpp"
#include "support/kernel_package.hpp"
#include "test_support.hpp"

#include <builder/recipe/inputs.hpp>
#include <builder/recipe/lock.hpp>
#include <builder/recipe/recipe.hpp>
#include <builder/recipe/rootfs_assembly.hpp>
#include <builder/system/http_fetch.hpp>
#include <builder/system/store.hpp>

#include <measure/util/errors.hpp>

#include <catch2/catch.hpp>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace mrforge;
using namespace mrforge::builder;
using namespace mrforge::test;

namespace {

const std::string k_digest_a(96, 'a');

// A kernel pin document; `mirror` and the .deb's facts are parameters for the fetch tests.
std::string pin_text(const std::string &sha256 = std::string(64, '1'), uint64_t size = 1000,
                     const std::string &mirror = "http://deb.debian.org/debian-security",
                     const std::string &filename = "pool/updates/main/l/linux/linux-image-test_1.0_amd64.deb",
                     const std::string &version = "1.0") {
  return "apiVersion: mrforge/v1\n"
         "kind: KernelPin\n"
         "name: test-kernel\n"
         "package: linux-image-test\n"
         "version: \"" +
         version +
         "\"\n"
         "architecture: amd64\n"
         "filename: " +
         filename +
         "\n"
         "size: " +
         std::to_string(size) +
         "\n"
         "sha256: " +
         sha256 +
         "\n"
         "mirror: " +
         mirror +
         "\n"
         "release: 1.0-test\n"
         "require_config: [CONFIG_INTEL_TDX_GUEST=y]\n";
}

// A valid GuestImage recipe body (the pin lives in ../kernels/k.yaml relative to the recipe).
// Line numbers matter to the tests below: keep them in step with the comments.
std::string guest_text(const std::string &debian = "debian: {suite: bookworm}") {
  return "apiVersion: mrforge/v1\n"        // 1
         "kind: GuestImage\n"              // 2
         "name: guest\n"                   // 3
         "version: \"1.0\"\n"              // 4
         "source_date_epoch: 1700000000\n" // 5
         + debian +
         "\n"                                                         // 6
         "firmware: {package: ovmf, path: /usr/share/ovmf/OVMF.fd}\n" // 7
         "kernel: ../kernels/k.yaml\n"                                // 8
         "initramfs:\n"                                               // 9
         "  packages: [busybox-static, dmsetup]\n"                    // 10
         "  programs: [/bin/busybox, /sbin/dmsetup]\n"                // 11
         "  modules: [virtio_blk, dm-verity]\n"                       // 12
         "  optional_modules: [tdx-guest]\n"                          // 13
         "packages: [hello]\n"                                        // 14
         "files: [{source: hello.sh, target: /hello}]\n"              // 15
         "cmdline: \"console=ttyS0 panic=-1\"\n"                      // 16
         "measure:\n"                                                 // 17
         "  - profile: qemu-8.2-tdx\n"                                // 18
         "    cpus: 2\n"                                              // 19
         "    memory: 2G\n"                                           // 20
         "    acpi: {digests: {acpi-loader: " +
         k_digest_a + ", acpi-rsdp: " + k_digest_a + ", acpi-tables: " + k_digest_a +
         "}, origin: test}\n"                    // 21
         "  - profile: qemu-9.2-tdx\n"           // 22
         "    ovmf_variant: edk2-stable202411\n" // 23
         "    cpus: 1\n"                         // 24
         "    memory: 512M\n"                    // 25
         "    acpi: {tables: acpi}\n";           // 26
}

// A folder DIR/recipe/ with the recipe, its files and ACPI blobs, and DIR/kernels/k.yaml.
struct GuestFolder {
  TempDir dir{"guest"};
  std::string recipe = dir / "recipe/r.yaml";

  explicit GuestFolder(const std::string &body = guest_text(), const std::string &pin = pin_text()) {
    write_text(dir / "recipe/hello.sh", "#!/bin/sh\necho hi\n");
    for (const char *blob : {"table-loader", "rsdp", "tables"})
      write_text(dir / ("recipe/acpi/" + std::string(blob)), "x");
    write_text(dir / "kernels/k.yaml", pin);
    write_text(recipe, body);
  }
};

std::string replaced(std::string text, const std::string &from, const std::string &to) {
  size_t at = text.find(from);
  REQUIRE(at != std::string::npos);
  return text.replace(at, from.size(), to);
}

std::string recipe_error(const std::string &body, const std::string &pin = pin_text()) {
  GuestFolder folder(body, pin);
  try {
    load_recipe(folder.recipe);
  } catch (const Error &e) {
    std::string what = e.what();
    // Names relative to the folder, so the expectations do not depend on the temporary path.
    for (size_t at; (at = what.find(folder.dir.path() + "/")) != std::string::npos;)
      what.erase(at, folder.dir.path().size() + 1);
    return what;
  }
  return "(no error)";
}

std::string sha256_of(const std::string &path) {
  ShellResult r = run_shell("sha256sum " + shell_quote(path));
  REQUIRE(r.exit_code == 0);
  return r.out.substr(0, 64);
}

uint64_t size_of(const std::string &path) {
  ShellResult r = run_shell("stat -c %s " + shell_quote(path));
  REQUIRE(r.exit_code == 0);
  return std::stoull(r.out);
}

std::vector<std::string> names(const std::vector<const LockedPackage *> &packages) {
  std::vector<std::string> out;
  for (const auto *p : packages) out.push_back(p->name);
  return out;
}

bool has_line(const std::vector<std::string> &lines, const std::string &text) {
  for (const auto &l : lines)
    if (l.find(text) != std::string::npos) return true;
  return false;
}

} // namespace

TEST_CASE("A GuestImage recipe loads its firmware, kernel pin, initramfs, root file system and VM shapes",
          "[guest_recipe]") {
  GuestFolder folder;
  Recipe r = load_recipe(folder.recipe);
  CHECK(r.kind == "GuestImage");
  CHECK(r.layers == std::vector<std::string>{"rootfs"});
  REQUIRE(r.packages.size() == 1);
  CHECK(r.packages[0].layer == "rootfs");
  REQUIRE(r.files.size() == 1);
  CHECK(r.files[0].layer == "rootfs");
  REQUIRE(r.guest);
  const GuestSpec &g = *r.guest;
  CHECK(g.version == "1.0");
  CHECK(g.seed == "guest/1.0");
  CHECK(g.firmware.package == "ovmf");
  CHECK(g.firmware.path == "usr/share/ovmf/OVMF.fd");
  CHECK(g.firmware.where.line == 7);
  CHECK(g.kernel_pin_path == folder.dir / "kernels/k.yaml");
  CHECK(g.kernel.package == "linux-image-test");
  CHECK(g.kernel.release == "1.0-test");
  CHECK(g.kernel.require_config == std::vector<std::string>{"CONFIG_INTEL_TDX_GUEST=y"});
  REQUIRE(g.initramfs.packages.size() == 2);
  CHECK(g.initramfs.packages[1].name == "dmsetup");
  CHECK(g.initramfs.packages[1].where.line == 10);
  CHECK(g.initramfs.programs == std::vector<std::string>{"/bin/busybox", "/sbin/dmsetup"});
  CHECK(g.initramfs.modules == std::vector<std::string>{"virtio_blk", "dm-verity"});
  CHECK(g.initramfs.optional_modules == std::vector<std::string>{"tdx-guest"});
  CHECK(g.initramfs.compression.kind == CompressionKind::gzip);
  CHECK(g.initramfs.compression.level == 9);
  CHECK(g.rootfs_format == "erofs");
  CHECK(g.cmdline == "console=ttyS0 panic=-1");
  CHECK(g.boot.path == BootPath::direct);
  REQUIRE(g.measure.size() == 2);
  CHECK(g.measure[0].profile == "qemu-8.2-tdx");
  CHECK(g.measure[0].ovmf_variant.empty());
  CHECK(g.measure[0].cpus == 2);
  CHECK(g.measure[0].memory == (2ull << 30));
  CHECK(g.measure[0].acpi.digests.at("acpi-rsdp") == k_digest_a);
  CHECK(g.measure[0].acpi.origin == "test");
  CHECK(g.measure[1].ovmf_variant == "edk2-stable202411");
  CHECK(g.measure[1].memory == (512ull << 20));
  CHECK(g.measure[1].acpi.tables_dir == folder.dir / "recipe/acpi");
  CHECK_FALSE(g.measure[0].acpi.generate);

  // acpi: generate (and no acpi at all, which means the same), and a VM shape file giving CPUs and
  // memory.
  {
    write_text(folder.dir / "recipe/vm.yaml",
               "apiVersion: mrforge/v1\nkind: VmShape\nprofile: qemu-9.2-tdx\ncpus: 4\nmemory: 3G\n");
    std::string body = replaced(guest_text(), "    acpi: {tables: acpi}\n", "    acpi: generate\n");
    body = replaced(body, "    cpus: 1\n    memory: 512M\n", "    shape: vm.yaml\n");
    write_text(folder.recipe, body);
    GuestSpec gen = *load_recipe(folder.recipe).guest;
    CHECK(gen.measure[1].acpi.generate);
    CHECK(gen.measure[1].shape_file == folder.dir / "recipe/vm.yaml");
    CHECK_FALSE(gen.measure[1].cpus);
    CHECK_FALSE(gen.measure[1].memory);
    write_text(folder.recipe, replaced(body, "    acpi: generate\n", ""));
    CHECK(load_recipe(folder.recipe).guest->measure[1].acpi.generate);
  }

  // boot: uki names its stub, whose package joins the lock's firmware set (sorted, once).
  {
    write_text(folder.recipe, guest_text() + "boot: {path: uki, stub: {package: systemd-boot-efi, path: "
                                             "/usr/lib/systemd/boot/efi/linuxx64.efi.stub}}\n");
    Recipe uki = load_recipe(folder.recipe);
    CHECK(uki.guest->boot.path == BootPath::uki);
    CHECK(uki.guest->boot.stub.package == "systemd-boot-efi");
    CHECK(uki.guest->boot.stub.path == "usr/lib/systemd/boot/efi/linuxx64.efi.stub");
    CHECK(uki.guest->boot.stub.where.line == 27);
    CHECK(lock_recipe_side(uki).requested_sets.at("firmware") == std::vector<std::string>{"ovmf", "systemd-boot-efi"});
    write_text(folder.recipe, guest_text() + "boot: direct\n");
    CHECK(load_recipe(folder.recipe).guest->boot.path == BootPath::direct);
    CHECK(lock_recipe_side(load_recipe(folder.recipe)).requested_sets.at("firmware") ==
          std::vector<std::string>{"ovmf"});
  }

  // boot: shim-grub names shim and GRUB; both packages join the firmware set (sorted by name).
  {
    write_text(folder.recipe,
               guest_text() + "boot:\n"                                                                  // 27
                              "  path: shim-grub\n"                                                      // 28
                              "  shim: {package: shim-signed, path: /usr/lib/shim/shimx64.efi.signed}\n" // 29
                              "  grub: {package: grub-efi-amd64-signed, path: "                          // 30
                              "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed}\n");
    Recipe sg = load_recipe(folder.recipe);
    CHECK(sg.guest->boot.path == BootPath::shim_grub);
    CHECK(std::string(boot_path_name(sg.guest->boot.path)) == "shim-grub");
    CHECK(sg.guest->boot.shim.package == "shim-signed");
    CHECK(sg.guest->boot.shim.path == "usr/lib/shim/shimx64.efi.signed");
    CHECK(sg.guest->boot.shim.where.line == 29);
    CHECK(sg.guest->boot.grub.package == "grub-efi-amd64-signed");
    CHECK(sg.guest->boot.grub.path == "usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed");
    CHECK(sg.guest->boot.grub.where.line == 30);
    CHECK(sg.guest->boot.stub.package.empty());
    CHECK(lock_recipe_side(sg).requested_sets.at("firmware") ==
          std::vector<std::string>{"grub-efi-amd64-signed", "ovmf", "shim-signed"});
    // The recipe's command line goes into grub.cfg as it is: an empty one is fine (the build's
    // parameters follow), so is one of GRUB's plain word characters.
    write_text(folder.recipe, replaced(read_text(folder.recipe), "cmdline: \"console=ttyS0 panic=-1\"\n", ""));
    CHECK(load_recipe(folder.recipe).guest->cmdline.empty());
    write_text(folder.recipe, replaced(read_text(folder.recipe), "measure:\n",
                                       "cmdline: \"console=ttyS0,115200n8 ip=10.0.2.15::10.0.2.2:255.255.255.0 "
                                       "loglevel=4 a_b+c@d%e\"\nmeasure:\n"));
    CHECK(load_recipe(folder.recipe).guest->cmdline ==
          "console=ttyS0,115200n8 ip=10.0.2.15::10.0.2.2:255.255.255.0 loglevel=4 a_b+c@d%e");
  }

  // The other firmware form, a profile given as a path, squashfs, zstd, an explicit seed.
  std::string body = replaced(guest_text(), "firmware: {package: ovmf, path: /usr/share/ovmf/OVMF.fd}",
                              "firmware: {file: OVMF.fd, sha256: " + std::string(64, 'A') + "}");
  body = replaced(body, "profile: qemu-9.2-tdx", "profile: ../profiles/mine.yaml");
  body += "rootfs: {format: squashfs}\nseed: fixed\n";
  body = replaced(body, "  optional_modules", "  compression: {algorithm: zstd}\n  optional_modules");
  GuestFolder other(body);
  write_text(other.dir / "recipe/OVMF.fd", "firmware");
  write_text(other.dir / "profiles/mine.yaml", "not read while loading the recipe");
  Recipe o = load_recipe(other.recipe);
  CHECK(o.guest->firmware.file == "OVMF.fd");
  CHECK(o.guest->firmware.file_path == fs::canonical(other.dir / "recipe/OVMF.fd").string());
  CHECK(o.guest->firmware.sha256 == std::string(64, 'a'));
  CHECK(o.guest->measure[1].profile == other.dir / "profiles/mine.yaml");
  CHECK(o.guest->rootfs_format == "squashfs");
  CHECK(o.guest->seed == "fixed");
  CHECK(o.guest->initramfs.compression.kind == CompressionKind::zstd);
  CHECK(o.guest->initramfs.compression.level == 19);
}

TEST_CASE("Each bad GuestImage field is named with file, line, column and what was expected", "[guest_recipe]") {
  const std::string base = guest_text();
  struct Case {
    std::string from, to, expected;
  };
  const std::vector<Case> cases = {
      {"version: \"1.0\"", "tag: \"1.0\"", "recipe/r.yaml:4:1: tag: 'tag' is for OciImage recipes"},
      {"version: \"1.0\"", "layers: [a]", "recipe/r.yaml:4:1: layers: 'layers' is for OciImage recipes"},
      {"version: \"1.0\"", "config: {cmd: [x]}", "recipe/r.yaml:4:1: config: 'config' is for OciImage"},
      {"version: \"1.0\"", "compression: {level: 1}", "recipe/r.yaml:4:1: compression: 'compression' is for OciImage"},
      {"packages: [hello]", "packages: [{name: hello, layer: rootfs}]",
       "recipe/r.yaml:14:26: packages[0].layer: 'layer' is not accepted in a GuestImage recipe"},
      {"target: /hello}", "target: /hello, layer: rootfs}",
       "recipe/r.yaml:15:44: files[0].layer: 'layer' is not accepted"},
      {"version: \"1.0\"", "version: \"1 0\"", "recipe/r.yaml:4:10: version: expected a version"},
      {"path: /usr/share/ovmf/OVMF.fd}", "path: /usr/share/ovmf/OVMF.fd, sha256: " + std::string(64, 'a') + "}",
       "recipe/r.yaml:7:11: firmware: give either package and path"},
      {"firmware: {package: ovmf, path: /usr/share/ovmf/OVMF.fd}", "firmware: {package: ovmf}",
       "recipe/r.yaml:7:11: firmware: missing required field 'path'"},
      {"firmware: {package: ovmf, path: /usr/share/ovmf/OVMF.fd}", "firmware: {file: hello.sh, sha256: abc}",
       "recipe/r.yaml:7:36: firmware.sha256: expected the file's sha256: 64 hex digits, got 'abc'"},
      {"firmware: {package: ovmf, path: /usr/share/ovmf/OVMF.fd}",
       "firmware: {file: ../kernels/k.yaml, sha256: " + std::string(64, 'a') + "}",
       "recipe/r.yaml:7:18: firmware.file: "},
      {"firmware: {package: ovmf, path: /usr/share/ovmf/OVMF.fd}", "firmware: {}",
       "recipe/r.yaml:7:11: firmware: expected package and path"},
      {"kernel: ../kernels/k.yaml", "kernel: ../kernels/missing.yaml",
       "recipe/r.yaml:8:9: kernel: no kernel pin, like ../kernels/debian-bookworm-6.12-amd64.yaml file"},
      {"kernel: ../kernels/k.yaml", "kernel: /etc/passwd", "recipe/r.yaml:8:9: kernel: expected a path relative"},
      {"debian: {suite: bookworm}", "debian: {suite: bookworm, architecture: arm64}",
       "recipe/r.yaml:8:9: kernel: the kernel pin is for amd64, the recipe's debian.architecture is arm64"},
      {"  modules: [virtio_blk, dm-verity]", "  modules: []",
       "recipe/r.yaml:12:12: initramfs.modules: expected at least one module"},
      {"  modules: [virtio_blk, dm-verity]", "  modules: [virtio_blk, \"dm verity\"]",
       "recipe/r.yaml:12:25: initramfs.modules[1]: expected a kernel module name"},
      {"optional_modules: [tdx-guest]", "optional_modules: [virtio_blk]",
       "recipe/r.yaml:13:22: initramfs.optional_modules[0]: module 'virtio_blk' is listed twice"},
      {"programs: [/bin/busybox, /sbin/dmsetup]", "programs: [bin/busybox]",
       "recipe/r.yaml:11:14: initramfs.programs[0]: expected an absolute path in the image"},
      {"packages: [busybox-static, dmsetup]", "packages: [busybox-static, Dmsetup]",
       "recipe/r.yaml:10:30: initramfs.packages[1]: 'Dmsetup' is not a Debian package name"},
      {"  optional_modules", "  compression: {algorithm: gzip, level: 10}\n  optional_modules",
       "recipe/r.yaml:13:41: initramfs.compression.level: expected a level from 1 to 9"},
      {"  optional_modules", "  compression: {algorithm: none, level: 1}\n  optional_modules",
       "recipe/r.yaml:13:41: initramfs.compression.level: an uncompressed initramfs has no level"},
      {"  optional_modules", "  compression: {algorithm: lz4}\n  optional_modules",
       "recipe/r.yaml:13:28: initramfs.compression.algorithm: "},
      {"initramfs:\n", "initramfs:\n  init: /x\n", "recipe/r.yaml:10:3: initramfs.init: unknown key"},
      {"cmdline: \"console=ttyS0 panic=-1\"", "cmdline: \"console=ttyS0 mrforge.roothash=00\"",
       "recipe/r.yaml:16:10: cmdline: 'mrforge.roothash=00': mrforge.* parameters are added by the build"},
      {"cmdline: \"console=ttyS0 panic=-1\"", "cmdline: \"console=ttyS0\\ninit=/bin/sh\"",
       "recipe/r.yaml:16:10: cmdline: the kernel command line cannot contain newlines"},
      {"cmdline: \"console=ttyS0 panic=-1\"", "cmdline: \"a\\0b\"", "recipe/r.yaml:16:10: cmdline: the kernel command"},
      {"cmdline: \"console=ttyS0 panic=-1\"", "boot: grub",
       "recipe/r.yaml:16:7: boot: unknown boot path 'grub' (direct, uki, shim-grub)"},
      {"cmdline: \"console=ttyS0 panic=-1\"", "boot: uki", "recipe/r.yaml:16:7: boot: boot: uki needs its stub"},
      {"cmdline: \"console=ttyS0 panic=-1\"", "boot: {path: uki}",
       "recipe/r.yaml:16:7: boot: missing required field 'stub'"},
      {"cmdline: \"console=ttyS0 panic=-1\"", "boot: {path: uki, stub: {package: systemd-boot-efi}}",
       "recipe/r.yaml:16:25: boot.stub: missing required field 'path'"},
      {"cmdline: \"console=ttyS0 panic=-1\"", "boot: {path: direct, stub: {package: a, path: /b}}",
       "recipe/r.yaml:16:28: boot.stub: only boot: uki takes a stub"},
      {"cmdline: \"console=ttyS0 panic=-1\"", "boot: {path: shim}",
       "recipe/r.yaml:16:14: boot.path: unknown boot path 'shim' (direct, uki, shim-grub)"},
      {"cmdline: \"console=ttyS0 panic=-1\"", "boot: shim-grub",
       "recipe/r.yaml:16:7: boot: boot: shim-grub needs its shim and GRUB"},
      {"cmdline: \"console=ttyS0 panic=-1\"", "boot: {path: shim-grub, shim: {package: shim-signed, path: /a}}",
       "recipe/r.yaml:16:7: boot: missing required field 'grub'"},
      {"cmdline: \"console=ttyS0 panic=-1\"",
       "boot: {path: shim-grub, grub: {package: grub-efi-amd64-signed, path: /b}}",
       "recipe/r.yaml:16:7: boot: missing required field 'shim'"},
      {"cmdline: \"console=ttyS0 panic=-1\"", "boot: {path: shim-grub, shim: {package: shim-signed}, grub: {}}",
       "recipe/r.yaml:16:31: boot.shim: missing required field 'path'"},
      {"cmdline: \"console=ttyS0 panic=-1\"",
       "boot: {path: shim-grub, shim: {package: sa, path: /a}, grub: {path: /b}}",
       "recipe/r.yaml:16:62: boot.grub: missing required field 'package'"},
      {"cmdline: \"console=ttyS0 panic=-1\"", "boot: {path: shim-grub, stub: {package: a, path: /b}}",
       "recipe/r.yaml:16:31: boot.stub: only boot: uki takes a stub"},
      {"cmdline: \"console=ttyS0 panic=-1\"",
       "boot: {path: uki, stub: {package: a, path: /b}, shim: {package: a, path: /b}}",
       "recipe/r.yaml:16:55: boot.shim: only boot: shim-grub takes a shim"},
      {"cmdline: \"console=ttyS0 panic=-1\"", "boot: {path: direct, grub: {package: a, path: /b}}",
       "recipe/r.yaml:16:28: boot.grub: only boot: shim-grub takes a grub"},
      {"cmdline: \"console=ttyS0 panic=-1\"",
       "boot: {path: shim-grub, shim: {package: sa, path: /a}, grub: {package: gb, path: /b}, tpm: x}",
       "recipe/r.yaml:16:87: boot.tpm: unknown key"},
      {"cmdline: \"console=ttyS0 panic=-1\"",
       "cmdline: \"console=ttyS0 init=$x\"\nboot: {path: shim-grub, shim: {package: sa, path: /a}, grub: {package: gb, "
       "path: /b}}",
       "recipe/r.yaml:16:10: cmdline: boot: shim-grub puts the command line into grub.cfg: character '$' (offset 19) "
       "is "
       "special to GRUB's script parser"},
      {"cmdline: \"console=ttyS0 panic=-1\"",
       "cmdline: \"console=ttyS0  quiet\"\nboot: {path: shim-grub, shim: {package: sa, path: /a}, grub: {package: gb, "
       "path: /b}}",
       "recipe/r.yaml:16:10: cmdline: boot: shim-grub puts the command line into grub.cfg: two spaces at offset 13"},
      {"cmdline: \"console=ttyS0 panic=-1\"",
       "cmdline: \"a=\\\"b c\\\"\"\nboot: {path: shim-grub, shim: {package: sa, path: /a}, grub: {package: gb, path: "
       "/b}}",
       "recipe/r.yaml:16:10: cmdline: boot: shim-grub puts the command line into grub.cfg: character '\"' (offset 2)"},
      {"cmdline: \"console=ttyS0 panic=-1\"", "rootfs: {format: ext4}",
       "recipe/r.yaml:16:18: rootfs.format: expected erofs or squashfs, got 'ext4'"},
      {"  - profile: qemu-8.2-tdx", "  - profile: qemu-1.0-tdx",
       "recipe/r.yaml:18:14: measure[0].profile: unknown platform profile 'qemu-1.0-tdx' (known: "},
      {"  - profile: qemu-8.2-tdx", "  - profile: ../nowhere.yaml",
       "recipe/r.yaml:18:14: measure[0].profile: no platform profile file "},
      {"ovmf_variant: edk2-stable202411", "ovmf_variant: edk2-2099",
       "recipe/r.yaml:23:19: measure[1].ovmf_variant: unknown OVMF variant 'edk2-2099'"},
      {"    cpus: 2", "    cpus: 0", "recipe/r.yaml:19:11: measure[0].cpus: expected 1 to 4096"},
      {"    cpus: 2", "    cpus: 4097", "recipe/r.yaml:19:11: measure[0].cpus: expected 1 to 4096"},
      {"    memory: 2G", "    memory: 2Q", "recipe/r.yaml:20:13: measure[0].memory: "},
      {"acpi: {tables: acpi}", "acpi: {tables: nowhere}", "recipe/r.yaml:26:20: measure[1].acpi.tables: cannot use"},
      {"acpi: {tables: acpi}", "acpi: {tables: hello.sh}",
       "recipe/r.yaml:26:20: measure[1].acpi.tables: expected a directory of ACPI blobs"},
      {"acpi: {tables: acpi}", "acpi: {tables: acpi, origin: x}",
       "recipe/r.yaml:26:34: measure[1].acpi.origin: origin goes with digests"},
      {"acpi: {tables: acpi}", "acpi: {}", "recipe/r.yaml:26:11: measure[1].acpi: expected generate, tables: DIR"},
      {"acpi: {tables: acpi}", "acpi: generated",
       "recipe/r.yaml:26:11: measure[1].acpi: expected generate, tables: DIR"},
      {"    cpus: 1\n", "", "recipe/r.yaml:22:5: measure[1]: missing required field 'cpus'"},
      {"    cpus: 1\n", "    shape: nowhere.yaml\n", "recipe/r.yaml:24:12: measure[1].shape: no VM shape file "},
      {"    cpus: 1\n", "    shape: hello.sh\n", "recipe/r.yaml:24:12: measure[1].shape: "},
      {"acpi-rsdp: " + k_digest_a, "acpi-rsdp: " + k_digest_a.substr(1),
       "measure[0].acpi.digests.acpi-rsdp: expected a SHA-384 digest: 96 hex digits"},
      {"measure:\n  - profile: qemu-8.2-tdx", "measure: []\nx:\n  - profile: qemu-8.2-tdx",
       "recipe/r.yaml:17:10: measure: expected at least one VM shape"},
  };
  for (const Case &c : cases) {
    INFO(c.to);
    std::string body = replaced(base, c.from, c.to);
    if (c.to.rfind("measure: []", 0) == 0) body = body.substr(0, body.find("x:\n"));
    CHECK_THAT(recipe_error(body), Catch::Contains(c.expected));
  }

  // Required GuestImage fields.
  CHECK_THAT(recipe_error(replaced(base, "kernel: ../kernels/k.yaml\n", "")),
             Catch::Contains("recipe/r.yaml:1:1: missing required field 'kernel'"));
  CHECK_THAT(recipe_error(replaced(base, "firmware: {package: ovmf, path: /usr/share/ovmf/OVMF.fd}\n", "")),
             Catch::Contains("missing required field 'firmware'"));
  CHECK_THAT(recipe_error(replaced(base, "  modules: [virtio_blk, dm-verity]\n", "")),
             Catch::Contains("recipe/r.yaml:10:3: initramfs: missing required field 'modules'"));
  // Packages anywhere need a Debian source.
  CHECK_THAT(recipe_error(replaced(replaced(base, "debian: {suite: bookworm}\n", ""), "packages: [hello]\n", "")),
             Catch::Contains("recipe/r.yaml:6:21: firmware.package: a firmware package needs a 'debian:' section"));
}

TEST_CASE("An OciImage recipe refuses the GuestImage fields", "[guest_recipe][recipe]") {
  TempDir dir("oci");
  for (const char *key : {"firmware: {file: x, sha256: y}", "kernel: k.yaml", "measure: []", "cmdline: x", "seed: s",
                          "version: \"1\"", "initramfs: {}", "rootfs: {format: erofs}"}) {
    write_text(dir / "r.yaml", std::string("apiVersion: mrforge/v1\nkind: OciImage\nname: demo\n") + key + "\n");
    std::string name = std::string(key).substr(0, std::string(key).find(':'));
    CHECK_THROWS_WITH(load_recipe(dir / "r.yaml"), Catch::Contains("r.yaml:4:1: " + name + ": '" + name +
                                                                   "' is for GuestImage recipes (kind: GuestImage)"));
  }
}

TEST_CASE("Kernel pins are read strictly", "[guest_recipe]") {
  TempDir dir("pin");
  write_text(dir / "k.yaml", pin_text());
  KernelPin pin = load_kernel_pin(dir / "k.yaml");
  CHECK(pin.file == dir / "k.yaml");
  CHECK(pin.size == 1000);
  CHECK(pin.mirror == "http://deb.debian.org/debian-security");

  struct Case {
    std::string from, to, expected;
  };
  const std::vector<Case> cases = {
      {"kind: KernelPin", "kind: OciImage", "k.yaml:2:7: kind: expected kind KernelPin, got 'OciImage'"},
      {"name: test-kernel\n", "", "k.yaml:1:1: missing required field 'name'"},
      {"release: 1.0-test\n", "", "k.yaml:1:1: missing required field 'release'"},
      {"name: test-kernel", "name: test-kernel\nflavour: x", "k.yaml:4:1: flavour: unknown key"},
      {"sha256: 1111", "sha256: 111", "k.yaml:9:9: sha256: expected 64 lowercase hex digits"},
      {"size: 1000", "size: 0", "k.yaml:8:7: size: expected the package's size in bytes"},
      {"size: 1000", "size: -5", "k.yaml:8:7: size: expected an unsigned integer"},
      {"filename: pool", "filename: /pool", "k.yaml:7:11: filename: expected a pool path relative to the mirror"},
      {"filename: pool/updates", "filename: pool/../../updates", "k.yaml:7:11: filename: expected a pool path"},
      {"_amd64.deb", "_amd64.tar", "k.yaml:7:11: filename: expected a pool path"},
      {"mirror: http://", "mirror: ftp://", "k.yaml:10:9: mirror: expected an http://, https:// or file:// URL"},
      {"release: 1.0-test", "release: ../x", "k.yaml:11:10: release: expected the kernel release"},
      {"package: linux-image-test", "package: Linux", "k.yaml:4:10: package: 'Linux' is not a Debian package name"},
      {"version: \"1.0\"", "version: \"x1\"", "k.yaml:5:10: version: 'x1' is not a Debian version"},
      {"[CONFIG_INTEL_TDX_GUEST=y]", "[CONFIG_INTEL_TDX_GUEST]",
       "k.yaml:12:18: require_config[0]: expected CONFIG_NAME=VALUE"},
      {"[CONFIG_INTEL_TDX_GUEST=y]", "[CONFIG_A=y, CONFIG_A=y]",
       "k.yaml:12:30: require_config[1]: 'CONFIG_A=y' is listed twice"},
  };
  for (const Case &c : cases) {
    INFO(c.to);
    write_text(dir / "k.yaml", replaced(pin_text(), c.from, c.to));
    try {
      load_kernel_pin(dir / "k.yaml");
      FAIL("no error");
    } catch (const DocumentError &e) {
      CHECK_THAT(std::string(e.what()), Catch::Contains(dir / c.expected));
    }
  }
  CHECK_THROWS_AS(load_kernel_pin(dir / "missing.yaml"), SystemError);

  // A bad pin named by a recipe is reported in the pin file.
  std::string bad = replaced(pin_text(), "sha256: 1111", "sha256: 111");
  CHECK_THAT(recipe_error(guest_text(), bad), Catch::Contains("kernels/k.yaml:9:9: sha256: expected 64 lowercase"));
}

namespace {
KernelPin shipped_kernel_pin() { return load_kernel_pin(test::source_path("kernels/debian-bookworm-6.12-amd64.yaml")); }
} // namespace

TEST_CASE("The shipped kernel pin names Debian's signed kernel and the shipped recipe uses it", "[guest_recipe]") {
  KernelPin pin = shipped_kernel_pin();
  CHECK(pin.package == "linux-image-" + pin.release);
  CHECK(pin.mirror == "http://deb.debian.org/debian-security");
  CHECK(pin.filename.rfind("pool/updates/main/l/linux-signed-6.12-amd64/" + pin.package + "_", 0) == 0);
  // The shipped recipe names it.
  Recipe r = load_recipe(test::source_path("recipes/debian-bookworm-tdx.yaml"));
  REQUIRE(r.guest);
  CHECK(r.guest->kernel.sha256 == pin.sha256);
}

TEST_CASE("The shipped kernel pin matches the host's signed apt index", "[guest_recipe][skippable]") {
  KernelPin pin = shipped_kernel_pin();
  ShellResult show = run_shell("apt-cache show " + shell_quote(pin.package + "=" + pin.version) + " 2>/dev/null");
  // Debian's security suite lists only its newest kernel: once it moves on, the index cannot
  // confirm the pin (README, "Limits").
  if (show.exit_code != 0 || show.out.empty())
    test::skip_test("apt-cache knows no " + pin.package + " " + pin.version + " (Debian has moved on)");
  CHECK(show.out.find("\nFilename: " + pin.filename + "\n") != std::string::npos);
  CHECK(show.out.find("\nSize: " + std::to_string(pin.size) + "\n") != std::string::npos);
  CHECK(show.out.find("\nSHA256: " + pin.sha256 + "\n") != std::string::npos);
}

TEST_CASE("The pinned kernel's config has what the pin requires", "[guest_recipe]") {
  KernelPin pin = shipped_kernel_pin();
  TempDir tmp("kernel-config");
  // The pinned package, or once Debian has moved on the current 6.12 package (with a WARN). Its
  // config as dpkg unpacks it.
  test::KernelPackage k = test::pinned_or_current_kernel_package(pin.file, tmp / "debs");
  std::string text = "\n" + test::sh("dpkg-deb --fsys-tarfile " + shell_quote(k.deb) + " | tar -xO " +
                                     shell_quote("./boot/config-" + k.release));
  REQUIRE(!pin.require_config.empty());
  for (const auto &line : pin.require_config) CHECK(text.find("\n" + line + "\n") != std::string::npos);
}

namespace {

// A signed repository with the packages of the three sets: hello (rootfs) and dmsetup
// (initramfs) share libc6; busybox-static is in both; ovmf is the firmware.
struct GuestRepo {
  TempDir dir{"guest-repo"};
  std::unique_ptr<AptRepo> repo;
  std::string url;
  std::string kernel_deb;

  GuestRepo() {
    repo = std::make_unique<AptRepo>(dir / "repo");
    DebSpec libc{"libc6", "2.36-9", "amd64"};
    libc.files = {{"usr/lib/libc.so.6", "libc\n"}};
    DebSpec hello{"hello", "2.10-3", "amd64", "libc6 (>= 2.34)"};
    hello.files = {{"usr/bin/hello", "#!/bin/sh\necho hello\n", 0755}};
    DebSpec dmsetup{"dmsetup", "2:1.02.185-2", "amd64", "libc6"};
    dmsetup.files = {{"sbin/dmsetup", "dmsetup\n", 0755}};
    DebSpec busybox{"busybox-static", "1:1.35.0-4", "amd64"};
    busybox.files = {{"bin/busybox", "busybox\n", 0755}};
    DebSpec ovmf{"ovmf", "2022.11-6", "all"};
    ovmf.files = {{"usr/share/ovmf/OVMF.fd", "firmware\n"}};
    for (const DebSpec &s : {libc, hello, dmsetup, busybox, ovmf}) repo->build_deb(s);
    repo->publish();
    url = repo->serve();
    // A small stand-in for the kernel package, served by the same HTTP server but not indexed.
    DebSpec kernel{"linux-image-test", "1.0", "amd64"};
    kernel.files = {{"boot/vmlinuz-1.0-test", "not a kernel\n"}};
    std::string built = repo->build_deb(kernel);
    fs::create_directories(dir / "repo/pool/kernel");
    kernel_deb = dir / "repo/pool/kernel/linux-image-test_1.0_amd64.deb";
    fs::rename(built, kernel_deb);
  }

  std::string debian() const {
    return "debian: {suite: bookworm, mirror: \"" + url + "\", keyring: " + repo->keyring() + "}";
  }
  std::string pin(const std::string &version = "1.0") const {
    return pin_text(sha256_of(kernel_deb), size_of(kernel_deb), url, "pool/kernel/linux-image-test_1.0_amd64.deb",
                    version);
  }
};

} // namespace

TEST_CASE("A GuestImage lock resolves three package sets apart and merges them", "[guest_recipe][repo]") {
  GuestRepo repo;
  std::string body = replaced(guest_text(repo.debian()), "packages: [hello]", "packages: [hello, busybox-static]");
  GuestFolder folder(body, repo.pin());
  Recipe recipe = load_recipe(folder.recipe);
  Fetcher fetcher;
  Lock lock = lock_recipe(recipe, fetcher, {}, {});

  REQUIRE(lock.packages.size() == 5);
  std::vector<std::string> all;
  for (const auto &p : lock.packages) all.push_back(p.name);
  CHECK(all == std::vector<std::string>{"busybox-static", "dmsetup", "hello", "libc6", "ovmf"});
  CHECK(lock.packages[0].sets == std::vector<std::string>{"initramfs", "rootfs"});
  CHECK(lock.packages[0].reason == "requested");
  CHECK(lock.packages[1].sets == std::vector<std::string>{"initramfs"});
  CHECK(lock.packages[2].sets == std::vector<std::string>{"rootfs"});
  // The shared dependency is locked once, for both sets, with both reasons.
  CHECK(lock.packages[3].sets == std::vector<std::string>{"initramfs", "rootfs"});
  CHECK(lock.packages[3].reason == "initramfs: dependency of dmsetup; rootfs: dependency of hello");
  CHECK(lock.packages[3].sha256 == sha256_of(repo.dir / "repo/pool/main/libc6_2.36-9_amd64.deb"));
  CHECK(lock.packages[4].sets == std::vector<std::string>{"firmware"});
  CHECK(lock.packages[4].filename == "pool/main/ovmf_2022.11-6_all.deb");

  CHECK(names(packages_in_set(lock, "rootfs")) == std::vector<std::string>{"busybox-static", "hello", "libc6"});
  CHECK(names(packages_in_set(lock, "initramfs")) == std::vector<std::string>{"busybox-static", "dmsetup", "libc6"});
  CHECK(names(packages_in_set(lock, "firmware")) == std::vector<std::string>{"ovmf"});
  // Only the rootfs set is unpacked into the root file system.
  std::vector<size_t> layers = package_layers(recipe, lock);
  CHECK(layers == std::vector<size_t>{0, k_not_in_rootfs, 0, 0, k_not_in_rootfs});

  REQUIRE(lock.kernel);
  CHECK(lock.kernel->pin == "../kernels/k.yaml");
  CHECK(lock.kernel->sha256 == sha256_of(repo.kernel_deb));
  CHECK(lock.kernel->release == "1.0-test");
  REQUIRE(lock.firmware);
  CHECK(lock.firmware->package == "ovmf");
  CHECK(lock.requested_sets.at("initramfs") == std::vector<std::string>{"busybox-static", "dmsetup"});
  CHECK(lock.requested_sets.at("firmware") == std::vector<std::string>{"ovmf"});

  // Same bytes twice, and through a round trip; current against its recipe.
  std::string text = lock_to_json(lock);
  CHECK(lock_to_json(lock_recipe(recipe, fetcher, {}, {})) == text);
  CHECK(lock_to_json(parse_lock(text, "x.lock")) == text);
  CHECK(lock_differences(recipe, parse_lock(text, "x.lock")).empty());
  CHECK(text.find("\"sets\": [\n        \"initramfs\",\n        \"rootfs\"\n      ]") != std::string::npos);

  // A package set in a lock that has none, or an unknown set, is refused.
  std::string bad = replaced(text, "\"firmware\"\n      ]", "\"bootloader\"\n      ]");
  CHECK_THROWS_WITH(parse_lock(bad, "x.lock"), Catch::Contains("sets: unknown package set 'bootloader'"));
}

TEST_CASE("A GuestImage lock is stale when a package moves between sets or the kernel pin or firmware changes",
          "[guest_recipe][repo]") {
  GuestRepo repo;
  GuestFolder folder(guest_text(repo.debian()), repo.pin());
  Recipe recipe = load_recipe(folder.recipe);
  Fetcher fetcher;
  CurrentLock made = current_lock(recipe, LockMode::update, fetcher, {}, {});
  CHECK(made.written);
  Lock lock = made.lock;
  std::string first = read_text(folder.recipe + ".lock");
  CHECK(current_lock(recipe, LockMode::frozen, fetcher, {}, {}).changes.empty());

  // dmsetup moves from the initramfs to the root file system.
  std::string moved = replaced(replaced(guest_text(repo.debian()), "[busybox-static, dmsetup]", "[busybox-static]"),
                               "packages: [hello]", "packages: [hello, dmsetup]");
  write_text(folder.recipe, moved);
  Recipe r2 = load_recipe(folder.recipe);
  std::vector<std::string> diff = lock_differences(r2, lock);
  INFO(diff.size());
  REQUIRE(diff.size() == 2);
  CHECK(has_line(diff, "package dmsetup: in the lock's initramfs set, no longer requested there by the recipe"));
  CHECK(has_line(diff, "package dmsetup: requested for rootfs in the recipe"));
  CHECK(has_line(diff, "r.yaml:14:19), not in the lock's rootfs set"));
  CHECK(packages_differ(r2, lock));
  Lock relocked = lock_recipe(r2, fetcher, {}, {});
  for (const auto &p : relocked.packages)
    if (p.name == "dmsetup") CHECK(p.sets == std::vector<std::string>{"rootfs"});

  // The pin changes: named field by field, and re-locked without touching the packages.
  write_text(folder.recipe, guest_text(repo.debian()));
  write_text(folder.dir / "kernels/k.yaml", repo.pin("1.1"));
  Recipe r3 = load_recipe(folder.recipe);
  diff = lock_differences(r3, lock);
  REQUIRE(diff.size() == 1);
  CHECK(diff[0] == "kernel.version: the pin ../kernels/k.yaml says 1.1, the lock 1.0");
  CHECK_FALSE(packages_differ(r3, lock));
  CHECK_THROWS_WITH(current_lock(r3, LockMode::frozen, fetcher, {}, {}),
                    Catch::Contains("kernel.version: the pin ../kernels/k.yaml says 1.1"));
  CurrentLock updated = current_lock(r3, LockMode::update, fetcher, {}, {});
  CHECK(updated.written);
  CHECK(updated.lock.kernel->version == "1.1");
  std::string second = read_text(folder.recipe + ".lock");
  CHECK(replaced(second, "\"version\": \"1.1\"", "\"version\": \"1.0\"") == first);

  // The firmware changes from the package to a local file: the set and the firmware entry differ.
  write_text(folder.dir / "recipe/OVMF.fd", "local firmware\n");
  std::string digest = sha256_of(folder.dir / "recipe/OVMF.fd");
  write_text(folder.recipe, replaced(guest_text(repo.debian()), "{package: ovmf, path: /usr/share/ovmf/OVMF.fd}",
                                     "{file: OVMF.fd, sha256: " + digest + "}"));
  Recipe r4 = load_recipe(folder.recipe);
  diff = lock_differences(r4, updated.lock);
  CHECK(has_line(diff, "package ovmf: in the lock's firmware set, no longer requested there by the recipe"));
  CHECK(has_line(diff, "firmware: the recipe says file OVMF.fd sha256 " + digest +
                           ", the lock package ovmf path /usr/share/ovmf/OVMF.fd"));
  CHECK(has_line(diff, "file OVMF.fd: used by the recipe, not in the lock"));
  Lock local = lock_recipe(r4, fetcher, {}, {});
  CHECK(names(packages_in_set(local, "firmware")).empty());
  bool listed = false;
  for (const auto &f : local.files)
    if (f.path == "OVMF.fd") listed = f.sha256 == digest && f.size == size_of(folder.dir / "recipe/OVMF.fd");
  CHECK(listed);
  CHECK(lock_differences(r4, local).empty());

  // A local firmware whose bytes are not the pinned ones is refused by lock and by the build's
  // lock step, naming the recipe location and both digests.
  write_text(folder.dir / "recipe/OVMF.fd", "other firmware\n");
  std::string now = sha256_of(folder.dir / "recipe/OVMF.fd");
  try {
    lock_recipe(r4, fetcher, {}, {});
    FAIL("no error");
  } catch (const InputError &e) {
    CHECK_THAT(std::string(e.what()),
               Catch::Contains("r.yaml:7:11: firmware OVMF.fd has sha256 " + now + ", the recipe pins " + digest));
  }
  CHECK_THROWS_AS(current_lock(r4, LockMode::update, fetcher, {}, {}), InputError);
}

TEST_CASE("fetch puts the pinned kernel .deb into the store, verified, from a mirror, --debs or the store",
          "[guest_recipe][repo]") {
  GuestRepo repo;
  GuestFolder folder(guest_text(repo.debian()), repo.pin());
  Recipe recipe = load_recipe(folder.recipe);
  Fetcher fetcher;
  Lock lock = lock_recipe(recipe, fetcher, {}, {});
  TempDir work("guest-fetch");
  std::string sha = sha256_of(repo.kernel_deb);

  {
    Store store(work / "store");
    FetchOptions options;
    options.mirrors = {repo.url + "/no-such-mirror"}; // tried first, 404, then the pin's mirror
    std::vector<std::string> lines;
    FetchReport report =
        fetch_inputs(lock, recipe, store, fetcher, options, [&](const std::string &line) { lines.push_back(line); });
    CHECK(report.downloaded == 5);
    CHECK(report.kernel_fetch == "downloaded");
    CHECK(report.kernel_deb == store.path_of(sha));
    CHECK(sha256_of(report.kernel_deb) == sha);
    CHECK(has_line(lines, "[6/6] download " + repo.url + "/pool/kernel/linux-image-test_1.0_amd64.deb"));
    report = fetch_inputs(lock, recipe, store, fetcher, options, {});
    CHECK(report.kernel_fetch == "in store");
    CHECK(report.in_store == 5);
  }
  {
    // Offline with an empty store: a clear error naming the kernel.
    Store store(work / "empty");
    FetchOptions options;
    options.offline = true;
    options.debs_dir = repo.dir / "repo/pool/main"; // has the packages, not the kernel
    CHECK_THROWS_WITH(
        fetch_inputs(lock, recipe, store, fetcher, options, {}),
        Catch::Contains("kernel linux-image-test 1.0 (amd64, pin ../kernels/k.yaml): is not in the store"));
    CHECK_FALSE(store.contains(sha));
    // From a directory of .debs, also offline.
    options.debs_dir = repo.dir / "repo/pool/kernel";
    Lock kernel_only = lock;
    kernel_only.packages.clear();
    FetchReport report = fetch_inputs(kernel_only, recipe, store, fetcher, options, {});
    CHECK(report.kernel_fetch == "from directory");
    CHECK(store.contains(sha));
  }
  {
    // A pin whose digest is not the served file's: refused, nothing stored.
    Store store(work / "bad");
    Lock wrong = lock;
    wrong.packages.clear();
    wrong.kernel->sha256 = std::string(64, '0');
    CHECK_THROWS_WITH(fetch_inputs(wrong, recipe, store, fetcher, {}, {}), Catch::Contains(sha));
    CHECK_FALSE(store.contains(std::string(64, '0')));
    CHECK_FALSE(store.contains(sha));
    // A pin the mirror no longer serves says how to supply it.
    wrong.kernel->sha256 = sha;
    wrong.kernel->filename = "pool/kernel/gone_1.0_amd64.deb";
    CHECK_THROWS_WITH(fetch_inputs(wrong, recipe, store, fetcher, {}, {}),
                      Catch::Contains("no longer served") && Catch::Contains("--debs DIR"));
  }
}

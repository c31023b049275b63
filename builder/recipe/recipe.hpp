// Recipes: the YAML documents (apiVersion mrforge/v1) that say what an image contains. Loading
// is strict: unknown keys, wrong types, missing fields, paths that leave the recipe's folder and
// names that do not resolve are DocumentErrors naming file, line, column and field.
//
//   apiVersion: mrforge/v1
//   kind: OciImage
//   name: hello                     # image name; the reference is NAME:TAG
//   tag: "1.0"                      # default "latest"
//   source_date_epoch: 1700000000   # the build's one timestamp (SOURCE_DATE_EPOCH overrides it)
//   debian:                         # where packages come from
//     suite: bookworm
//     components: [main]            # default [main]
//     architecture: amd64           # default amd64
//     mirror: http://deb.debian.org/debian   # default: the host's apt configuration for the suite
//     keyring: /usr/share/keyrings/debian-archive-keyring.gpg  # default: that entry's Signed-By
//   or, for several sources resolved together as apt does (suite is then the release, and each
//   source's suite is the release or RELEASE-something, each at most once):
//   debian:
//     suite: bookworm
//     architecture: amd64
//     sources:
//       - {suite: bookworm, mirror: http://deb.debian.org/debian, keyring: ...}
//       - suite: bookworm-security
//         components: [main]        # default [main]
//         mirror: http://deb.debian.org/debian-security
//         keyring: /usr/share/keyrings/debian-archive-keyring.gpg
//         priority: 500             # apt pin priority, 1-1000, default 500 (highest wins, then
//                                   # the highest version)
//         snapshot_archive: debian-security   # its archive on snapshot.debian.org; default: the
//                                   # mirror URL's last path segment
//   packages: [busybox-static, {name: ca-certificates, layer: base}]
//   files:                          # from the recipe's folder
//     - {source: hello.sh, target: /usr/local/bin/hello, mode: "0755", owner: app, layer: app}
//   directories: [{target: /srv/data, mode: "0750", owner: app}]   # empty directories
//   symlinks: [{target: /etc/localtime, points_to: /usr/share/zoneinfo/UTC, layer: app}]
//                                   # points_to: as stored in the link (1-4095 bytes, no control
//                                   # characters); a package path already there is an error
//   groups: [{name: app, gid: 1000}]      # name: [a-z_][a-z0-9_-]*, at most 32; gid not 0, 65535
//   users: [{name: app, uid: 1000, group: app, home: /home/app, shell: /bin/sh}]  # home, shell:
//                                   # absolute, no ':' or control characters; uids and gids unique
//   config: {entrypoint: [...], cmd: [...], env: {K: V}, workdir: /, user: app,
//            labels: {k: v}, exposed_ports: ["8080/tcp"]}
//   layers: [base, app]             # ordered layer names; default one layer "rootfs"
//   compression: {algorithm: gzip, level: 6}
//   allow: [setuid, device_nodes]   # what packages may contain; default none
//
// A GuestImage recipe (a bootable TDX guest) has the same name, source_date_epoch, debian,
// packages, files, directories, symlinks, users, groups and allow fields (they make the root file system;
// `layer`, `layers`, `tag`, `config` and `compression` are not accepted), and:
//
//   kind: GuestImage
//   version: "1.0"                  # written to metadata.json; default "0"
//   seed: debian-bookworm-tdx/1     # verity salt and UUIDs derive from it; default NAME/VERSION
//   firmware:                       # either a file in a pinned Debian package ...
//     package: ovmf
//     path: /usr/share/ovmf/OVMF.fd
//   # firmware: {file: OVMF.fd, sha256: HEX}   ... or a local file pinned by digest
//   kernel: ../kernels/debian-bookworm-6.12-amd64.yaml   # a kernel pin (KernelPin document)
//   initramfs:
//     packages: [busybox-static, dmsetup]                # resolved with their dependencies
//     programs: [/bin/busybox, /sbin/dmsetup]            # copied with the libraries they need
//     modules: [virtio_blk, dm-verity, crc32c_generic, erofs, qemu_fw_cfg]  # + modinfo depends
//     optional_modules: [tdx-guest]                      # loaded when the kernel accepts them
//     compression: {algorithm: gzip, level: 9}
//   rootfs: {format: erofs}         # or squashfs
//   cmdline: "console=ttyS0 panic=-1"   # the build appends the verity parameters
//   boot: direct                    # the default; or a disk image with a Unified Kernel Image:
//   # boot: {path: uki, stub: {package: systemd-boot-efi, path: /usr/lib/systemd/boot/efi/linuxx64.efi.stub}}
//   # or a disk image with shim and GRUB (Debian's signed builds):
//   # boot:
//   #   path: shim-grub
//   #   shim: {package: shim-signed, path: /usr/lib/shim/shimx64.efi.signed}
//   #   grub: {package: grub-efi-amd64-signed, path: /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed}
//   measure:                        # VM shapes to precompute (at least one)
//     - profile: qemu-8.2-tdx       # shipped name or a path relative to the recipe folder
//       ovmf_variant: debian-bookworm-2022.11   # optional: identified by the firmware's
//                                   # fingerprint, else the profile's default (an assumption)
//       shape: vm.yaml              # optional VM shape file (devices, PIC, ...; gives cpus/memory)
//       cpus: 2                     # required without a shape file; overrides the shape's
//       memory: 2G
//       acpi: generate              # the default: QEMU's tables generated from the VM shape, or
//       # acpi: {tables: acpi/q35-2cpu}   a directory of the three blobs (relative), or
//       # acpi: {digests: {acpi-loader: HEX, acpi-rsdp: HEX, acpi-tables: HEX}, origin: "text"}
//
// Required: firmware, kernel, initramfs (with modules), measure. The kernel pin path may leave the
// recipe's folder (kernels/ lives beside recipes/) but must be relative, like a profile path; file
// sources, the local firmware and ACPI table directories stay inside it. initramfs.compression:
// gzip 1-9 (default 9), zstd 1-19 (default 19), none (no level). cmdline (default empty) cannot
// hold control characters or mrforge.* parameters; with boot: shim-grub it is also a text GRUB reads
// back as itself (grub_config.hpp: letters, digits, `.,:=/+-_@%`, single spaces). Digests are hex in either case
// (stored lower).
#pragma once

#include <builder/archive/compress.hpp>
#include <builder/oci/oci_image.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace mrforge::builder {

struct Location {
  std::string file;
  int line = 0;
  int column = 0;
  std::string describe() const; // "hello.yaml:12:5"
};

// One Debian repository (suite) a recipe takes packages from.
struct DebianSource {
  std::string suite; // "bookworm", "bookworm-security"
  std::vector<std::string> components{"main"};
  std::string mirror;  // empty: from the host's apt configuration
  std::string keyring; // empty: from the host's apt configuration; else an absolute path
  // apt's pin priority of every package of the source: the candidate of a name is its version
  // with the highest priority, then the highest version (apt_preferences(5)).
  int priority = k_default_priority;
  // The archive's name on Debian's snapshot service ("debian", "debian-security"); empty: the
  // last path segment of the mirror URL.
  std::string snapshot_archive;
  Location where;

  static constexpr int k_default_priority = 500;
  static constexpr int k_max_priority = 1000;
};

// The recipe's `debian:` section: the release, the architecture and the sources (at least one).
struct DebianSourceSpec {
  std::string suite; // the release (codename): its merged-/usr facts, the SBOM's distro
  std::string architecture = "amd64";
  std::vector<DebianSource> sources;
  bool listed = false; // the recipe lists `sources:` (else one source from suite/components/mirror/keyring)
};

struct PackageRequest {
  std::string name;
  std::string layer;
  Location where;
};

struct FileSpec {
  std::string source;      // relative to the recipe folder, normalized
  std::string source_path; // absolute host path
  std::string target;      // tree path (normalized, relative)
  std::optional<uint32_t> mode;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string layer;
  Location where;
};

struct DirectorySpec {
  std::string target;
  uint32_t mode = 0755;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string layer;
  Location where;
};

// A symbolic link the recipe adds: /target -> points_to (stored as given: relative to the link's
// folder, or absolute from the image's root).
struct SymlinkSpec {
  std::string target; // tree path (normalized, relative)
  std::string points_to;
  std::string layer;
  Location where;
};

struct GroupSpec {
  std::string name;
  uint32_t gid = 0;
};

struct UserSpec {
  std::string name;
  uint32_t uid = 0;
  uint32_t gid = 0;
  std::string home;
  std::string shell = "/bin/sh";
};

struct AllowSpec {
  bool setuid = false;
  bool device_nodes = false;
};

// A kernel pin (kernels/*.yaml): one Debian kernel package fixed by digest, with where to get it.
//   apiVersion: mrforge/v1
//   kind: KernelPin
//   name: debian-bookworm-6.12-amd64
//   description: ...
//   package: linux-image-6.12.117+deb12-amd64
//   version: 6.12.117-1~deb12u1
//   architecture: amd64
//   filename: pool/updates/main/l/linux-signed-6.12-amd64/linux-image-..._amd64.deb
//   size: 107179464
//   sha256: 803d36a7...
//   mirror: http://deb.debian.org/debian-security
//   release: 6.12.117+deb12-amd64     # boot/vmlinuz-RELEASE, lib/modules/RELEASE
//   require_config: [CONFIG_INTEL_TDX_GUEST=y, CONFIG_EFI_STUB=y]   # checked against boot/config-RELEASE
//   provenance: "where the digest was taken from"
struct KernelPin {
  std::string file; // the pin file (absolute)
  std::string name;
  std::string description;
  std::string package;
  std::string version;
  std::string architecture = "amd64";
  std::string filename;
  uint64_t size = 0;
  std::string sha256;
  std::string mirror;
  std::string release;
  std::vector<std::string> require_config;
  std::string provenance;
};

struct FirmwareSpec {
  std::string package;   // Debian package holding the firmware (or empty)
  std::string path;      // tree path inside the package, normalized ("usr/share/ovmf/OVMF.fd")
  std::string file;      // or: a local file relative to the recipe folder (normalized)
  std::string file_path; // its absolute host path
  std::string sha256;    // the local file's pinned digest (hex)
  Location where;
};

struct InitramfsSpec {
  std::vector<PackageRequest> packages;
  std::vector<std::string> programs; // absolute image paths ("/bin/busybox")
  std::vector<std::string> modules;
  std::vector<std::string> optional_modules;
  Compression compression{CompressionKind::gzip, 9, 1};
  Location where;
};

// Where a measured shape's ACPI digests come from: generated from the VM shape by the platform's
// ACPI generator (the default), a folder of QEMU's blobs, or published digests.
struct AcpiSpec {
  bool generate = false;                      // `acpi: generate` (or no acpi: with a profile that has a generator)
  std::string tables_dir;                     // absolute host path of a blob directory, or empty
  std::map<std::string, std::string> digests; // "acpi-loader"/"acpi-rsdp"/"acpi-tables" -> hex
  std::string origin;                         // where the digests came from (free text)
};

struct MeasureShape {
  std::string profile;            // shipped name or absolute path
  std::string ovmf_variant;       // empty: identified by the firmware, else the profile's default
  std::string shape_file;         // absolute path of a VM shape file (the machine's devices), or empty
  std::optional<uint32_t> cpus;   // required unless the shape file gives them
  std::optional<uint64_t> memory; // bytes; likewise
  AcpiSpec acpi;
  Location where;
};

// How the guest boots (recipe `boot:`; see docs in README "Boot paths"):
//   direct: QEMU loads the kernel, initrd and command line itself (-kernel/-initrd/-append); the
//           build's outputs are OVMF.fd, vmlinuz, initrd.img and rootfs.img.
//   uki:    OVMF boots disk.img: a GPT disk whose EFI system partition holds a Unified Kernel
//           Image (systemd's EFI stub `stub` with the kernel, initrd and command line) as
//           /EFI/BOOT/BOOTX64.EFI, and whose second partition is the verity root.
//   shim-grub: OVMF boots disk.img whose ESP holds shim (`shim`) as /EFI/BOOT/BOOTX64.EFI, GRUB
//           (`grub`) next to it as grubx64.efi, the grub.cfg the build writes (linuxefi/initrdefi
//           with the command line) as /EFI/debian/grub.cfg, and the kernel and initrd as /vmlinuz
//           and /initrd.img; the second partition is the verity root.
enum class BootPath { direct, uki, shim_grub };
const char *boot_path_name(BootPath p); // "direct", "uki", "shim-grub"

// A file of a pinned Debian package (its package joins the lock's firmware set).
struct PackageFile {
  std::string package;
  std::string path; // tree path inside the package, normalized ("usr/lib/systemd/boot/efi/linuxx64.efi.stub")
  Location where;
};

struct BootSpec {
  BootPath path = BootPath::direct;
  PackageFile stub;       // uki
  PackageFile shim, grub; // shim-grub
  Location where;
};

struct GuestSpec {
  std::string version = "0";
  std::string seed;
  FirmwareSpec firmware;
  std::string kernel_pin_path; // absolute
  KernelPin kernel;
  InitramfsSpec initramfs;
  std::string rootfs_format = "erofs"; // "erofs" or "squashfs"
  std::string cmdline;
  BootSpec boot;
  std::vector<MeasureShape> measure;
};

struct Recipe {
  std::string path;   // the recipe file as given
  std::string sha256; // of the recipe file's bytes (recorded in mrforge-build.json and signed statements)
  std::string dir;    // its folder (absolute)
  std::string kind;   // "OciImage" or "GuestImage"
  std::string name;
  std::string tag = "latest";
  std::optional<int64_t> source_date_epoch;
  DebianSourceSpec debian;
  bool has_debian = false;
  std::vector<PackageRequest> packages;
  std::vector<FileSpec> files;
  std::vector<DirectorySpec> directories;
  std::vector<SymlinkSpec> symlinks;
  std::vector<GroupSpec> groups;
  std::vector<UserSpec> users;
  ImageConfig config;
  std::vector<std::string> layers{"rootfs"};
  Compression compression;
  AllowSpec allow;
  std::optional<GuestSpec> guest; // kind GuestImage
};

// Reads and validates a recipe. Throws SystemError if it cannot be read, DocumentError otherwise.
Recipe load_recipe(const std::string &path);

// The build's timestamp: SOURCE_DATE_EPOCH from `env_value` if non-null (strictly a decimal
// integer, else InputError), else the recipe's source_date_epoch, else InputError asking for one.
int64_t resolve_source_date_epoch(const Recipe &recipe, const char *env_value);

// Reads a kernel pin file. Throws SystemError if unreadable, DocumentError (file:line:column:
// field) if malformed.
KernelPin load_kernel_pin(const std::string &path);

// Where the lock of a recipe lives: RECIPE.lock.
std::string lock_path_for(const std::string &recipe_path);

// Whether s can be a field of /etc/passwd or /etc/group (passwd(5), group(5)): no ':' (the field
// separator), no newline (the record separator) or other control character.
bool is_passwd_field(std::string_view s);

} // namespace mrforge::builder

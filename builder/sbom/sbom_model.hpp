// What an output's software bill of materials says, independent of its format: the image (the
// root), every locked Debian package with its source package and the sha256 of its .deb, the
// kernel, the firmware, the recipe's local files, the output's artifacts, and who needs whom. Built
// from the lock, the recipe, the .debs' control data (the lock does not record the source
// package) and the output's own digests; written as SPDX 2.3 (spdx_writer.hpp) and CycloneDX 1.6
// (cyclonedx_writer.hpp). Everything is sorted and nothing depends on the host or the clock: the
// only time is SOURCE_DATE_EPOCH.
#pragma once

#include <builder/recipe/lock.hpp>
#include <builder/recipe/recipe.hpp>
#include <builder/system/store.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

namespace mrforge::builder {

// Every element of the model has a reference, its kind and its name: "image" (the output
// itself), "deb:NAME" (a locked package), "kernel:NAME" (the kernel package), "file:PATH" (a local
// file of the recipe), "artifact:NAME" (a file of the output). The writers derive their
// identifiers (SPDXID, bom-ref) from it.
struct SbomPackage {
  std::string ref; // "deb:NAME" or "kernel:NAME"
  std::string name;
  std::string version;
  std::string architecture;
  std::string source_name;    // the control file's Source (its name), or the package's own name
  std::string source_version; // the version Source gives in parentheses, or the package's version
  std::string sha256;         // of the .deb, as the lock records it
  uint64_t size = 0;
  std::string file_name;         // the .deb's file name in the archive's pool (the lock's filename, without its folder)
  std::string distro;            // purl's distro qualifier, "debian-12"
  std::string purl;              // deb_purl(...)
  std::vector<std::string> sets; // GuestImage: the sets that use it ("firmware", "initramfs", "rootfs")
};

struct SbomFile {
  std::string ref;  // "file:PATH" or "artifact:NAME"
  std::string name; // artifact: file name in the output; local file: path relative to the recipe folder
  std::string sha256;
  uint64_t size = 0;
};

// "A CONTAINS B" (B is inside A), "A DEPENDS_ON B" (the lock pulled B in for A), "A GENERATED_FROM
// B" (A was taken or made from B): SPDX 2.3's relationship types of the same names.
struct SbomRelation {
  std::string from;
  std::string type;
  std::string to;
  bool operator<(const SbomRelation &o) const { return std::tie(from, type, to) < std::tie(o.from, o.type, o.to); }
};

struct SbomModel {
  std::string kind;                    // "OciImage" or "GuestImage"
  std::string name;                    // the recipe's name
  std::string version;                 // the OCI tag, or the guest's version
  std::string tool;                    // "mrforge 0.1.0"
  int64_t created = 0;                 // SOURCE_DATE_EPOCH
  std::string digest;                  // OciImage: the manifest digest "sha256:HEX"; GuestImage: digest.txt's HEX
  std::string purl;                    // OciImage: oci_purl(...); GuestImage: none ("")
  std::vector<SbomPackage> packages;   // the locked .debs, sorted by name
  std::optional<SbomPackage> kernel;   // GuestImage: the pinned kernel package
  std::vector<SbomFile> local_files;   // the lock's local files (the recipe's files, a local firmware), sorted
  std::vector<SbomFile> artifacts;     // GuestImage: OVMF.fd, initrd.img, rootfs.img, vmlinuz, sorted
  std::vector<SbomRelation> relations; // sorted, each once
};

constexpr const char *k_sbom_image_ref = "image";

// "debian-N" for a Debian suite whose codename has a release number (bookworm -> debian-12,
// bookworm-security and bookworm-updates too); other suites (sid, unstable, testing, ...) keep
// their codename ("debian-sid"). The numbers are Debian's release table (debian.org/releases).
std::string debian_distro(const std::string &suite);

// `text` with every byte `keep` refuses written as `marker` and two upper-case hex digits (purl's
// "%2B", an SPDX identifier's "-2B").
std::string escape_bytes(const std::string &text, bool (*keep)(char), char marker);

// pkg:deb/debian/NAME@VERSION?arch=ARCH&distro=DISTRO (purl-spec's deb type). In name and version
// the unreserved characters (letters, digits, '.', '-', '_', '~') and ':' (an epoch; purl-spec
// does not require it encoded) stay, everything else ('+' in "libstdc++6" or "1.2+b1") becomes %XX.
std::string deb_purl(const std::string &name, const std::string &version, const std::string &architecture,
                     const std::string &distro);

// pkg:oci/NAME@sha256:HEX?tag=TAG (purl-spec's oci type): NAME is the last component of the
// image's name.
std::string oci_purl(const std::string &image_name, const std::string &digest, const std::string &tag);

// The source package a control paragraph names: "Source: NAME" or "Source: NAME (VERSION)"; the
// package's own name and version when absent. Throws InputError naming `what` when the field is
// malformed.
std::pair<std::string, std::string> deb_source(const std::string &control_text, const std::string &name,
                                               const std::string &version, const std::string &what);

// The model of an output of `recipe` built from `lock`: every locked package read from the store
// (control data only), the kernel and firmware of a GuestImage lock, the lock's local files.
// `artifacts` (GuestImage: name -> digest of OVMF.fd, vmlinuz, initrd.img, rootfs.img) and
// `digest` come from the output. Throws InputError/FormatError for a .deb that is missing from the
// store or whose control data is invalid, SystemError for the host.
SbomModel make_sbom_model(const Recipe &recipe, const Lock &lock, const Store &store, const std::string &digest,
                          const std::map<std::string, FileDigest> &artifacts, int64_t source_date_epoch);

} // namespace mrforge::builder

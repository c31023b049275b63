// Building a GuestImage recipe: from the locked inputs in the store (offline), the firmware,
// the kernel, a deterministic initramfs, the root file system with its dm-verity tree, the
// kernel command line that pins the root hash, and the expected measurements per VM shape, in
// an output directory that appears whole or not at all:
//
//   OVMF.fd  vmlinuz  initrd.img  rootfs.img   the artifacts (rootfs.img = file system + verity)
//   disk.img           a disk-booted image's GPT disk (ESP + verity root), with its boot chain:
//                      uki.efi (boot: uki), or shimx64.efi, grubx64.efi, grub.cfg (boot: shim-grub)
//   metadata.json      dstack's names: bios, kernel, initrd, cmdline, rootfs, version
//   measurements.json  per VM shape: MRTD, RTMR0-2 and the expected events (guest_measure.hpp)
//   sha256sum.txt      "HEX  NAME" for each of the above, sorted by name
//   digest.txt         sha256 of sha256sum.txt
//   recipe.lock        the lock the image was built from
//   sbom.spdx.json     the image's software bill of materials, SPDX 2.3 (builder/sbom/)
//   sbom.cdx.json      the same as CycloneDX 1.6; neither is in sha256sum.txt (whose digest is
//                      dstack's os_image_hash), the build record holds their digests
//   mrforge-build.json how it was made: verity parameters, tool versions, step cache use
//
// Each expensive step (firmware, kernel, initramfs, rootfs) is cached in the store by the
// digests of exactly its inputs (step_cache.hpp), so an unchanged rebuild takes seconds and a
// change to one rootfs file rebuilds only the root file system and what depends on it (the
// command line and the measurements).
#pragma once

#include <builder/build/build_settings.hpp>
#include <builder/build/guest_measure.hpp>
#include <builder/guest/rootfs_image.hpp>
#include <builder/recipe/inputs.hpp>
#include <builder/recipe/lock.hpp>
#include <builder/recipe/recipe.hpp>
#include <builder/system/store.hpp>

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace mrforge::builder {

struct GuestArtifact {
  std::string role; // "bios", "kernel", "initrd", "rootfs", ...
  std::string name; // file name in the output directory
  FileDigest digest;
};

struct GuestBuildResult {
  std::string out_dir;
  std::vector<GuestArtifact> artifacts; // firmware, kernel, initrd, rootfs, metadata, measurements
  std::string cmdline;
  std::string boot = "direct"; // the boot path (boot_path_name)
  VerityInfo verity;
  std::vector<std::string> module_order;
  std::vector<ShapeMeasurement> shapes;
  std::vector<std::pair<std::string, bool>> steps; // step name, true when taken from the cache
  std::string digest;                              // digest.txt's content (without newline)
};

// Throws InputError for recipe/lock/package problems (naming them), SystemError for the host.
GuestBuildResult build_guest(const Recipe &recipe, const Lock &lock, Store &store, const BuildSettings &settings);

// What `build --json` prints for a guest image.
nlohmann::ordered_json guest_build_json(const GuestBuildResult &result);

// The command line parameters that tell the initramfs how to open the verity root.
std::string verity_cmdline(const VerityInfo &verity, const std::string &format);

} // namespace mrforge::builder

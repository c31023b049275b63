// A bootable GPT disk image: an EFI system partition (FAT32) holding the boot chain's files
// (a UKI, or shim, GRUB and its grub.cfg, a kernel and an initrd) and, optionally, the verity root
// file system image as a second partition.
//
// Layout (512-byte sectors): protective MBR and primary GPT in the first MiB; partition 1, the
// ESP, from 1 MiB (type C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name "ESP"); partition 2, the root
// (type 4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709, "Root Partition (x86-64)" of the UAPI Discoverable
// Partitions Specification, name "root"), from the next MiB, exactly the root image's size; the
// backup GPT in the last MiB.
//
// Reproducible by construction: the disk and partition GUIDs and the FAT volume ID derive from the
// recipe seed (derive_uuid / derive_hex), `mkfs.fat --invariant` fixes its other variable fields,
// mtools stamps every directory entry with SOURCE_DATE_EPOCH, files are copied in sorted order
// and sgdisk writes nothing time-dependent (checked by the double builds in tests/).
//
// Tools: sgdisk (gdisk), mkfs.fat (dosfstools), mmd and mcopy (mtools). Their versions go into
// the step key (disk_tool_versions).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace mrforge::builder {

struct EspFile {
  std::string path;   // in the ESP, '/'-separated without a leading '/': "EFI/BOOT/BOOTX64.EFI"
  std::string source; // host file with its bytes
};

struct DiskImageSettings {
  std::string seed;
  int64_t source_date_epoch = 0;
  std::vector<EspFile> esp_files;
  std::string root_image;  // the root file system image for partition 2; empty: no partition 2
  std::string scratch_dir; // for the FAT image while it is made; caller-owned, must exist
  std::function<void(const std::string &)> progress;
};

struct DiskImageResult {
  std::string disk_guid, esp_guid, root_guid; // lower-case 8-4-4-4-12
  std::string esp_volume_id;                  // 8 hex digits (FAT serial number)
  uint64_t esp_offset = 0, esp_size = 0;      // bytes
  uint64_t root_offset = 0, root_size = 0;    // bytes; 0 without a root partition
  uint64_t disk_size = 0;
  std::string tools; // "sgdisk 1.0.9, mkfs.fat 4.2, mtools 4.0.32"
};

// Writes the disk image to `out_path` (replaced atomically). Throws InputError for a bad ESP path
// or a missing source, SystemError when a tool fails or a file cannot be written.
DiskImageResult write_disk_image(const DiskImageSettings &settings, const std::string &out_path);

// The versions of the tools write_disk_image runs, as in DiskImageResult::tools.
std::string disk_tool_versions();

// The partition number of the root file system in the image, for the kernel command line
// (mrforge.rootdev=/dev/vda2 with the disk as the first virtio disk).
constexpr int k_root_partition_number = 2;

} // namespace mrforge::builder

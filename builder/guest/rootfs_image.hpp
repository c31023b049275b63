// The root file system image of a guest: an FsTree written out as erofs (default) or squashfs,
// followed in the same file by a dm-verity hash tree, so that one read-only disk carries both and
// the root hash on the kernel command line covers every byte of the file system.
//
// Layout of the image file (4096-byte blocks; verified in /work/issue5-notes.md section 3):
//   [file system: data_blocks blocks][verity superblock: 1 block][hash tree]
// so the dm-verity table's hash start block is data_blocks + 1.
//
// The tree is materialized in a scratch directory (the file-system tools read only directories;
// staged contents are hard-linked rather than copied where the caller allows it), with every time
// set to the build's timestamp, and the tools run with a scrubbed environment (no
// SOURCE_DATE_EPOCH, which would make mkfs.erofs 1.5 clamp instead of set times). Salt and
// UUIDs derive from the recipe seed. Both mkfs.erofs 1.5 and mksquashfs 4.5.1 store each file's
// xattrs in the order llistxattr() returns them, and that order depends on the host file system;
// the writer therefore sets xattrs in descending name order (the order tmpfs lists them in, and
// ext4's in-inode order) and checks the listed order of every entry before running the tool, so
// a scratch file system that lists them differently is an error, never a different image.
#pragma once

#include <builder/fs/fs_tree.hpp>

#include <cstdint>
#include <functional>
#include <string>

namespace mrforge::builder {

enum class RootfsFormat { erofs, squashfs };

const char *rootfs_format_name(RootfsFormat f); // "erofs", "squashfs"
// Throws InputError naming `where` for anything but "erofs" and "squashfs".
RootfsFormat parse_rootfs_format(const std::string &name, const std::string &where);

// Values derived from the recipe seed, so that salts and UUIDs are reproducible yet differ per
// image: SHA-256 over "mrforge-seed\0" + purpose + "\0" + seed.
// derive_hex: the first `bytes` bytes (at most 32; more is an InputError) in lower-case hex.
std::string derive_hex(const std::string &seed, const std::string &purpose, size_t bytes);
// derive_uuid: the first 16 bytes with the version-4 and RFC 4122 variant bits set, as
// lower-case 8-4-4-4-12 text.
std::string derive_uuid(const std::string &seed, const std::string &purpose);

struct VerityInfo {
  std::string root_hash; // hex
  std::string salt;      // hex
  std::string uuid;      // verity superblock UUID
  std::string hash_algorithm = "sha256";
  uint32_t data_block_size = 4096;
  uint32_t hash_block_size = 4096;
  uint64_t data_blocks = 0;      // the file system: data_blocks * data_block_size bytes at offset 0
  uint64_t hash_start_block = 0; // in hash blocks from the start of the image (after the verity superblock)
  uint64_t data_size = 0;        // bytes of file system
  uint64_t image_size = 0;       // bytes of the whole image (file system + verity superblock + tree)
  // The device-mapper table line:
  // "0 SECTORS verity 1 DEV DEV 4096 4096 DATA_BLOCKS HASH_START sha256 ROOT SALT"
  // (SECTORS = data_size / 512; DEV is `device` for both the data and the hash device).
  std::string dm_table(const std::string &device) const;
};

struct RootfsImageSettings {
  RootfsFormat format = RootfsFormat::erofs;
  std::string seed;              // salt, verity UUID and file-system UUID derive from it
  int64_t source_date_epoch = 0; // every inode time and the superblock time (0 ... 2^32-1)
  std::string scratch_dir;       // an existing empty directory for the materialized tree (caller removes it)
  // A staging directory whose files this writer may consume: a regular file of the tree whose
  // content is a file directly in it, used by no other entry, is hard-linked into the tree rather
  // than copied (so its bytes are written once), and its owner, mode and xattrs become the entry's.
  // Empty: every content is copied (the default; never give a directory of files you keep).
  std::string consumable_content_dir;
  std::function<void(const std::string &)> progress; // may be empty
};

struct RootfsImageResult {
  VerityInfo verity;
  std::string fs_uuid; // empty for squashfs (it has none)
  std::string tools;   // "mkfs.erofs 1.5; veritysetup 2.6.1" (versions of the tools that made the bytes)
};

// Writes `tree` as a file-system image followed by a dm-verity hash tree at out_path (written to
// out_path + ".tmp" and renamed only on success; on failure neither is left behind).
// Fixed choices (part of the digest contract, with the tool versions):
//  - erofs: `mkfs.erofs -T<T> -U <derive_uuid(seed, "rootfs-uuid")> --quiet [--all-root]`,
//    uncompressed, 4096-byte blocks; names starting with "lost+found" are refused (mkfs.erofs 1.5
//    silently skips them);
//  - squashfs: `mksquashfs -noappend -reproducible -comp gzip -b 131072 -mkfs-time T -all-time T
//    -xattrs [-all-root]`, padded to 4096 bytes;
//  - `--all-root` / `-all-root` when every node is owned by 0:0 (so such trees also build without
//    root privileges);
//  - verity: format 1, sha256, 4096/4096, salt derive_hex(seed, "verity-salt", 32), UUID
//    derive_uuid(seed, "verity-uuid"), superblock at the end of the file system.
// Throws InputError for trees the format cannot hold or a bad timestamp, SystemError naming the
// step and the tool's output when materializing or a tool fails, and SystemError when the tree
// has non-root owners, device nodes or non-user xattrs and the process is not running as root.
RootfsImageResult write_rootfs_image(const FsTree &tree, const RootfsImageSettings &settings,
                                     const std::string &out_path);

// Versions of the tools used for `format` (for build records and cache keys), e.g.
// "mkfs.erofs 1.5; veritysetup 2.6.1". Runs the tools; throws SystemError if one is missing or
// does not report a version.
std::string rootfs_tool_versions(RootfsFormat format);

} // namespace mrforge::builder
